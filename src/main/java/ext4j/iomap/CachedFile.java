package ext4j.iomap;

import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;

/**
 * The engine's state of one file: its folios, its in-memory size (i_size, which runs ahead of the
 * size on disk until writeback completes), the first writeback error not yet reported to fsync,
 * and a slot for the filesystem's own per-file state. Guarded by the engine's lock (changes under
 * its exclusive side; the queries here and cached reads under its shared side).
 */
public final class CachedFile {
    final long id;
    final int blockSize;
    /** Folios by file offset; they never overlap. */
    final TreeMap<Long, Folio> folios = new TreeMap<>();
    /** Offsets of the folios with dirty or in-flight blocks (kept by Folio), so writeback skips clean ones. */
    final java.util.TreeSet<Long> pending = new java.util.TreeSet<>();
    long size;
    /** Counts every time a block of the file was dirtied (a read-in done without the lock checks it did not move). */
    long dirtied;
    /** Mapping changes in progress (BufferedIo.beginMappingChange), and a count bumped at each begin and end. */
    int mappingChanges;
    long remaps;
    IOException error;
    /** Where the next sequential read starts, and the next readahead's size: cached reads under the shared lock update them too (racing readers of one file only blur the sequential guess). */
    volatile long nextReadPos = -1;
    long nextWritePos = 0;
    /** Folios the next readahead asks for (doubles while reads stay sequential). */
    volatile int readahead;
    /** Writeback I/O whose completion (written to the device, conversion queued) has not run yet. */
    int inFlight;
    /** Of those, streaming writes (their completion stores only the size and mtime). */
    int streamedInFlight;
    /** Device writes of this file in progress outside the engine lock (at most one). */
    int writing;
    /**
     * Streaming writes in progress (BufferedIo.writeStreaming: the caller's bytes on their way to
     * blocks the cache holds nothing of): until they end, nothing caches, maps or changes the file's blocks.
     */
    int streaming;
    private final BufferedIo engine;
    /** The filesystem's per-file state (ext4: extent status), opaque to the engine. */
    public volatile Object fsState;

    CachedFile(BufferedIo engine, long id, int blockSize, long size) {
        this.engine = engine;
        this.id = id;
        this.blockSize = blockSize;
        this.size = size;
    }

    /** The filesystem's number for the file (ext4: the inode number). */
    public long id() { return id; }
    public int blockSize() { return blockSize; }

    /** The in-memory size. */
    public long size() {
        EngineLock l = engine.engineLock();
        int shared = l.lockShared();
        try { return size; } finally { l.unlockShared(shared); }
    }

    /** Whether the block holding byte pos has cached data not yet written back. */
    public boolean isDirty(long pos) {
        EngineLock l = engine.engineLock();
        int shared = l.lockShared();
        try {
            Folio fo = folioAt(pos);
            return fo != null && fo.isDirty((int) (pos - fo.offset()) / blockSize);
        } finally { l.unlockShared(shared); }
    }

    /** The folio holding byte pos, or null. */
    Folio folioAt(long pos) {
        Map.Entry<Long, Folio> e = folios.floorEntry(pos);
        return e != null && pos < e.getValue().end() ? e.getValue() : null;
    }

    /** The folios that hold bytes of [from, to), in order. */
    java.util.Collection<Folio> foliosIn(long from, long to) {
        if (to <= from) return java.util.List.of();
        Folio first = folioAt(from);
        return folios.subMap(first != null ? first.offset() : from, true, to, false).values();
    }

    /** Whether any block in [from, to) is dirty or being written back. */
    public boolean hasPending(long from, long to) {
        EngineLock l = engine.engineLock();
        int shared = l.lockShared();
        try { return firstPending(from) < to; } finally { l.unlockShared(shared); }
    }

    /** File offset of the first block at or after from that is dirty or under writeback, or Long.MAX_VALUE. */
    public long nextPending(long from) {
        EngineLock l = engine.engineLock();
        int shared = l.lockShared();
        try { return firstPending(from); } finally { l.unlockShared(shared); }
    }

    /**
     * How far the on-disk size may rise now, for a file whose on-disk size is diskSize: the
     * in-memory size, or the first byte at or past diskSize that is still dirty or in flight.
     */
    public long safeSize(long diskSize) {
        EngineLock l = engine.engineLock();
        int shared = l.lockShared();
        try { return Math.min(size, firstPending(diskSize)); } finally { l.unlockShared(shared); }
    }

    /** File offset of the first block at or after from that is dirty or under writeback, or Long.MAX_VALUE. */
    long firstPending(long from) {
        Long k = pending.floor(from);
        for (long at : pending.tailSet(k == null ? from : k, true)) {
            Folio fo = folios.get(at);
            if (fo.end() <= from) continue;
            int startBlock = from > fo.offset() ? (int) (from - fo.offset()) / blockSize : 0;
            int d = fo.dirty.nextSetBit(startBlock), w = fo.writeback.nextSetBit(startBlock);
            int b = d < 0 ? w : w < 0 ? d : Math.min(d, w);
            if (b >= 0) return fo.offset() + (long) b * blockSize;
        }
        return Long.MAX_VALUE;
    }

    /** The first block-aligned offset in [from, to) whose block is cached uptodate, or -1 (SEEK_DATA over unwritten extents). */
    public long firstCached(long from, long to) { return scan(from, to, true); }

    /** The first block-aligned offset in [from, to) whose block is not cached uptodate, or -1 (SEEK_HOLE). */
    public long firstUncached(long from, long to) { return scan(from, to, false); }

    private long scan(long from, long to, boolean cached) {
        EngineLock l = engine.engineLock();
        int shared = l.lockShared();
        try {
            for (long pos = from / blockSize * blockSize; pos < to; pos += blockSize) {
                Folio fo = folioAt(pos);
                if (fo == null) {
                    if (!cached) return Math.max(pos, from);
                    Map.Entry<Long, Folio> next = folios.higherEntry(pos);
                    if (next == null || next.getKey() >= to) return -1;
                    pos = next.getKey() - blockSize;
                    continue;
                }
                int b = (int) ((pos - fo.offset()) / blockSize);
                boolean up = b < fo.blocks() && fo.uptodate.get(b);
                if (up == cached) return Math.max(pos, from);
            }
            return -1;
        } finally { l.unlockShared(shared); }
    }

    @Override public String toString() { return "file " + id; }
}
