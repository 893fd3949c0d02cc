package ext4j.iomap;

import java.util.BitSet;

/**
 * A cached piece of a file: size bytes (a power of two from one block up to the engine's largest
 * folio) at an offset aligned to its size, with one uptodate, one dirty and one writeback bit per
 * filesystem block. Folios of one file never overlap; sequential I/O makes large ones, a random
 * 4 KiB write a 4 KiB one (as Linux sizes folios by the write). Its memory covers only the part the
 * file uses (a small file's folio is as small as a block): blocks beyond it are never uptodate,
 * and the engine grows it before filling them. The bit rules are the seeds' (iomap fixes): setting a
 * byte range dirty rounds out to whole blocks, clearing rounds in, and an empty range changes
 * nothing. Guarded by the engine's lock.
 */
final class Folio {
    final CachedFile file;
    private final long offset;
    /** The cached bytes from the folio's start: as long as the file needs (a power of two), up to the folio size. */
    byte[] data;
    private final int size;
    private final int blockShift;
    final BitSet uptodate = new BitSet(), dirty = new BitSet(), writeback = new BitSet();
    /** Blocks a read's check passed since they were read in (fs-verity: hashed once per trip into the cache). */
    final BitSet checked = new BitSet();
    int pins; // > 0 while an operation copies in or out: not evictable
    /** Read under the engine's shared lock since the last eviction pass: skipped once by eviction. */
    volatile boolean referenced;

    /** A folio of size bytes (a power of two) at offset (a multiple of size) over data (all zeros; may be shorter, and grows on demand). */
    Folio(CachedFile file, long offset, int size, byte[] data, int blockSize) {
        if (Integer.bitCount(size) != 1 || offset % size != 0) throw new IllegalArgumentException("folio of " + size + " bytes at " + offset);
        this.file = file;
        this.offset = offset;
        this.size = size;
        this.data = data;
        this.blockShift = Integer.numberOfTrailingZeros(blockSize);
    }

    long offset() { return offset; }
    /** Bytes of the file the folio covers (its memory may be less). */
    int size() { return size; }
    long end() { return offset + size; }
    /** Blocks that have memory now. */
    int blocks() { return data.length >> blockShift; }
    int blockSize() { return 1 << blockShift; }

    /** Marks the blocks touched by bytes [from, to) of the folio dirty (rounded out to blocks). */
    void setDirty(int from, int to) {
        if (to <= from) return;
        dirty.set(from >> blockShift, ((to - 1) >> blockShift) + 1);
        checked.clear(from >> blockShift, ((to - 1) >> blockShift) + 1);
        if (file != null) file.dirtied++;
        notePending();
    }

    /** Clears the dirty bits of the blocks wholly inside bytes [from, to) (rounded in). */
    void clearDirty(int from, int to) {
        int first = (from + blockSize() - 1) >> blockShift, end = to >> blockShift;
        if (end > first) dirty.clear(first, end);
        notePending();
    }

    /** Marks the blocks wholly inside [from, to) uptodate. */
    void setUptodate(int from, int to) {
        int first = (from + blockSize() - 1) >> blockShift, end = to >> blockShift;
        if (end > first) uptodate.set(first, end);
    }

    /** Drops the cached contents of the blocks wholly inside [from, to): no longer uptodate nor dirty. */
    void invalidate(int from, int to) {
        int first = (from + blockSize() - 1) >> blockShift, end = to >> blockShift;
        if (end <= first) return;
        uptodate.clear(first, end);
        dirty.clear(first, end);
        checked.clear(first, end);
        notePending();
    }

    /** Blocks [first, end) go from dirty to under writeback. */
    void startWriteback(int first, int end) {
        dirty.clear(first, end);
        writeback.set(first, end);
        notePending();
    }

    /** Blocks [first, end) are no longer under writeback. */
    void endWriteback(int first, int end) {
        writeback.clear(first, end);
        notePending();
    }

    /** Keeps the file's index of folios with dirty or in-flight blocks true (writeback and fsync walk only those). */
    private void notePending() {
        if (file == null) return;
        if (dirty.isEmpty() && writeback.isEmpty()) file.pending.remove(offset);
        else file.pending.add(offset);
    }

    boolean isUptodate(int block) { return uptodate.get(block); }
    boolean isDirty(int block) { return dirty.get(block); }
    boolean hasDirty() { return !dirty.isEmpty(); }
    /** Clean and not in flight: may be dropped from the cache. */
    boolean isEvictable() { return dirty.isEmpty() && writeback.isEmpty() && pins == 0; }
}
