package ext4j.mkfs;

import java.util.Map;
import java.util.TreeMap;

/**
 * The blocks mkfs has allocated, as sorted disjoint runs: a new filesystem's metadata is a few runs
 * per flex group, so this stays small for any size (a bitmap of a 16 TiB filesystem would be 512 MiB),
 * and every question is a lookup of the run at or before a block.
 */
final class UsedBlocks {
    private final TreeMap<Long, Long> runs = new TreeMap<>();   // start -> end (exclusive)
    private long count;

    /** Marks [from, to) used, merging with the runs it touches. */
    void set(long from, long to) {
        if (from >= to) return;
        Map.Entry<Long, Long> before = runs.floorEntry(from);
        if (before != null && before.getValue() >= from) {
            if (before.getValue() >= to) return;
            from = before.getKey();
        }
        long end = to;
        for (Map.Entry<Long, Long> r = runs.ceilingEntry(from); r != null && r.getKey() <= end; r = runs.ceilingEntry(from)) {
            end = Math.max(end, r.getValue());
            count -= r.getValue() - r.getKey();
            runs.remove(r.getKey());
        }
        runs.put(from, end);
        count += end - from;
    }

    boolean get(long b) {
        Map.Entry<Long, Long> r = runs.floorEntry(b);
        return r != null && r.getValue() > b;
    }

    /** The first used block at or after from, or -1. */
    long nextUsed(long from) {
        if (get(from)) return from;
        Long next = runs.higherKey(from);
        return next == null ? -1 : next;
    }

    /** The first free block at or after from. */
    long nextFree(long from) {
        Map.Entry<Long, Long> r = runs.floorEntry(from);
        return r != null && r.getValue() > from ? r.getValue() : from;
    }

    /** The first used block in [from, to), or -1. */
    long firstUsedIn(long from, long to) {
        long u = nextUsed(from);
        return u >= 0 && u < to ? u : -1;
    }

    long cardinality() { return count; }

    /** Used blocks in [from, to). */
    long count(long from, long to) {
        long n = 0;
        Map.Entry<Long, Long> first = runs.floorEntry(from);
        long start = first != null && first.getValue() > from ? first.getKey() : from;
        for (Map.Entry<Long, Long> r : runs.subMap(start, true, to, false).entrySet())
            n += Math.min(to, r.getValue()) - Math.max(from, r.getKey());
        return n;
    }

    /** Sets in bitmap the bits of the used blocks of [from, to), bit 0 for block from (ext4's bitmap order). */
    void fill(byte[] bitmap, long from, long to) {
        Map.Entry<Long, Long> first = runs.floorEntry(from);
        long start = first != null && first.getValue() > from ? first.getKey() : from;
        for (Map.Entry<Long, Long> r : runs.subMap(start, true, to, false).entrySet())
            Mkfs.setBits(bitmap, Math.max(from, r.getKey()) - from, Math.min(to, r.getValue()) - from);
    }
}
