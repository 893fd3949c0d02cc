package ext4j.ondisk;

import java.util.Map;
import java.util.TreeMap;

/**
 * The blocks no file may map (the kernel's block_validity "system zones"): every superblock
 * backup with its descriptor table and reserved GDT blocks, every block and inode bitmap and
 * inode table, and the internal journal's blocks (which only the journal inode may map). A
 * hostile extent or block pointer into them is damage, not data: read through it, a file would
 * show metadata, and written, it would overwrite it.
 */
public final class SystemZones {
    /** A zone: blocks [start, end) holding what; owner is the one inode that maps them (0: none). */
    public record Zone(long start, long end, String what, long owner) {}

    /** Replaced whole when a zone is added after the fixed ones (copy on write: lookups take no lock). */
    private volatile TreeMap<Long, Zone> zones = new TreeMap<>();

    SystemZones(Superblock sb, GroupDesc[] groups) {
        long perGroup = Integer.toUnsignedLong(sb.blocksPerGroup());
        long itBlocks = ((long) sb.inodesPerGroup() * sb.inodeSize() + sb.blockSize() - 1) / sb.blockSize();
        boolean metaBg = sb.hasIncompat(Features.INCOMPAT_META_BG);
        long descBlocks = (groups.length + sb.blockSize() / sb.descSize() - 1) / (sb.blockSize() / sb.descSize());
        long sbBlock = Superblock.OFFSET / sb.blockSize();
        for (int g = 0; g < groups.length; g++) {
            if (sb.groupHasSuper(g)) {
                long start = g == 0 ? sbBlock : sb.firstDataBlock() + g * perGroup;
                // with meta_bg the table is spread over the metagroups: only the superblock is certain here
                long len = 1 + (metaBg ? 0 : descBlocks + sb.reservedGdtBlocks());
                add(start, len, "the superblock and group descriptors of group " + g);
            }
            GroupDesc d = groups[g];
            add(d.blockBitmap(), 1, "the block bitmap of group " + g);
            add(d.inodeBitmap(), 1, "the inode bitmap of group " + g);
            add(d.inodeTable(), itBlocks, "the inode table of group " + g);
        }
    }

    private void add(long start, long len, String what) {
        Zone old = zones.get(start);
        if (old == null || old.end() < start + len) zones.put(start, new Zone(start, start + len, what, 0));
    }

    /** Adds blocks [start, start+len) that only inode owner may map (the journal's). */
    public synchronized void addOwned(long start, long len, long owner, String what) {
        TreeMap<Long, Zone> next = new TreeMap<>(zones);
        next.put(start, new Zone(start, start + len, what, owner));
        zones = next;
    }

    /** The resize inode maps the reserved GDT blocks (and their backups) by design. */
    private static final long RESIZE_INO = 7;

    /** The first zone that blocks [block, block+count) overlap and inode ino may not map, or null. */
    public Zone overlap(long block, long count, long ino) {
        if (ino == RESIZE_INO) return null;
        TreeMap<Long, Zone> z = zones;
        Map.Entry<Long, Zone> below = z.floorEntry(block);
        if (below != null && below.getValue().end() > block && below.getValue().owner() != ino) return below.getValue();
        // zones do not overlap one another, so the first one starting inside the range decides
        Map.Entry<Long, Zone> inside = z.higherEntry(block);
        return inside != null && inside.getKey() < block + count && inside.getValue().owner() != ino ? inside.getValue() : null;
    }
}
