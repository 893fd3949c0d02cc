package ext4j.fs;

import ext4j.alloc.BlockAllocator;
import ext4j.extent.BlockMapping;
import ext4j.extent.Extent;
import ext4j.iomap.CachedFile;
import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.base.LockOrder;
import ext4j.iomap.Mapping;
import ext4j.iomap.MappingOps;
import ext4j.iomap.MappingType;
import ext4j.ondisk.Inode;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * ext4's side of the buffered I/O engine (ext4_iomap_ops and the writeback ops): maps file ranges
 * from the inode's extents plus an extent status cache of delayed (reserved, unallocated) ranges,
 * reserves blocks at write time so ENOSPC is reported then, allocates UNWRITTEN at writeback,
 * converts at completion and raises the on-disk size only then.
 *
 * <p>The extent status of a file carries a sequence number bumped by every change of its mapping;
 * each {@link Mapping} carries it as its cookie, so a mapping made stale by writeback, truncate or
 * punch is noticed and remapped. Lock order: the engine lock is held when begin and
 * mapForWriteback run (they may start a handle); completions run without it; each status is
 * guarded by itself (the extent lock, innermost).
 */
final class Ext4MappingOps implements MappingOps {
    /** Per-file extent status: the on-disk extents (loaded lazily) and the delayed ranges, with a sequence number. */
    static final class Status {
        long seq;
        TreeMap<Long, Extent> extents;                       // lblk -> extent, null until loaded (again after a change)
        final TreeMap<Long, Long> delayed = new TreeMap<>(); // lblk -> length in blocks
        Inode.Timestamp pendingMtime;
    }

    private final Ext4FileSystem fs;
    private final FsWriter w;
    private final BlockAllocator balloc;
    private final boolean delalloc;

    /** Whether writes are delayed-allocated (the open's option). */
    boolean delalloc() { return delalloc; }
    /** Counters for tests and benchmarks. */
    long delayedBlocks, writebackAllocations, conversions, stale;

    Ext4MappingOps(Ext4FileSystem fs, FsWriter w, BlockAllocator balloc, boolean delalloc) {
        this.fs = fs;
        this.w = w;
        this.balloc = balloc;
        this.delalloc = delalloc;
    }

    static Status status(CachedFile f) {
        Object s = f.fsState;
        if (s == null) synchronized (f) { if (f.fsState == null) f.fsState = new Status(); s = f.fsState; }
        return (Status) s;
    }

    /** A block-mapped file's extents by first logical block. */
    private TreeMap<Long, Extent> loadExtents(Inode ino) throws IOException {
        TreeMap<Long, Extent> m = new TreeMap<>();
        for (Extent e : new InodeUpdate(fs.volume(), ino).tree().extents()) m.put(e.lblk(), e);
        return m;
    }

    static Inode.Timestamp pendingMtime(CachedFile f) {
        if (f.fsState == null) return null;
        Status st = status(f);
        synchronized (st) { return st.pendingMtime; }
    }

    static void clearPendingMtime(CachedFile f) {
        Status st = status(f);
        synchronized (st) { st.pendingMtime = null; }
    }

    /** The mapping changed: cookies handed out so far are stale, the extents are re-read on next use. */
    static void changed(CachedFile f) {
        Status st = status(f);
        synchronized (st) { st.seq++; st.extents = null; }
    }

    /**
     * A new extent was allocated where nothing was mapped: added to the status as it is, instead of
     * re-reading every extent (random writes into a sparse file would make that quadratic).
     */
    static void inserted(CachedFile f, Extent x) {
        Status st = status(f);
        synchronized (st) { st.seq++; if (st.extents != null) st.extents.put(x.lblk(), x); }
    }

    /** Blocks [from, to) were converted from unwritten to written on disk: the status splits its unwritten entries likewise. */
    static void converted(CachedFile f, long from, long to) {
        Status st = status(f);
        synchronized (st) {
            st.seq++;
            if (st.extents == null) return;
            Long k = st.extents.floorKey(from);
            if (k == null) k = from;
            for (Extent e : new java.util.ArrayList<>(st.extents.subMap(k, true, to, false).values())) {
                if (!e.unwritten() || e.end() <= from) continue;
                long a = Math.max(from, e.lblk()), b = Math.min(to, e.end());
                st.extents.remove(e.lblk());
                if (e.lblk() < a) st.extents.put(e.lblk(), new Extent(e.lblk(), (int) (a - e.lblk()), e.pblk(), true));
                st.extents.put(a, new Extent(a, (int) (b - a), e.pblk() + a - e.lblk(), false));
                if (b < e.end()) st.extents.put(b, new Extent(b, (int) (e.end() - b), e.pblk() + b - e.lblk(), true));
            }
        }
    }

    /** What [pos, pos+len) starts with, block-aligned, from the status (delayed first) and the extents. */
    private Mapping lookup(CachedFile f, long pos, long len) throws IOException {
        int bs = f.blockSize();
        long lblk = pos / bs, lend = Math.max(lblk + 1, (pos + len + bs - 1) / bs);
        Status st = status(f);
        synchronized (st) {
            LockOrder.enter(LockOrder.Level.EXTENT);
            try {
                return lookupLocked(f, st, lblk, lend);
            } finally {
                LockOrder.exit(LockOrder.Level.EXTENT);
            }
        }
    }

    private Mapping lookupLocked(CachedFile f, Status st, long lblk, long lend) throws IOException {
        int bs = f.blockSize();
        {
            if (st.extents == null) {                         // first use since the mapping changed: read the inode once
                Inode ino = fs.diskInode(f.id());
                if (ino.hasFlag(Inode.FL_INLINE_DATA))
                    return new Mapping(MappingType.INLINE, 0, Math.max(lend * bs, bs), -1, st.seq, fs.inlineData(ino));
                st.extents = loadExtents(ino);
            }
            Map.Entry<Long, Long> d = st.delayed.floorEntry(lblk);
            if (d != null && d.getKey() + d.getValue() > lblk)
                return Mapping.of(MappingType.DELALLOC, lblk * bs, (Math.min(d.getKey() + d.getValue(), lend) - lblk) * bs, -1, st.seq);
            TreeMap<Long, Extent> ex = st.extents;
            Map.Entry<Long, Extent> e = ex.floorEntry(lblk);
            if (e != null && e.getValue().end() > lblk) {
                Extent x = e.getValue();
                long n = Math.min(x.end(), lend) - lblk;
                Long nd = st.delayed.higherKey(lblk);
                if (nd != null) n = Math.min(n, nd - lblk);
                return Mapping.of(x.unwritten() ? MappingType.UNWRITTEN : MappingType.MAPPED, lblk * bs, n * bs, (x.pblk() + lblk - x.lblk()) * bs, st.seq);
            }
            long holeEnd = lend;
            Long nx = ex.higherKey(lblk), nd = st.delayed.higherKey(lblk);
            if (nx != null) holeEnd = Math.min(holeEnd, nx);
            if (nd != null) holeEnd = Math.min(holeEnd, nd);
            return Mapping.of(MappingType.HOLE, lblk * bs, (holeEnd - lblk) * bs, -1, st.seq);
        }
    }

    @Override
    public Mapping begin(CachedFile f, long pos, long len, int flags) throws IOException {
        Mapping m = lookup(f, pos, len);
        if (flags != WRITE || m.type() != MappingType.HOLE) return m;
        int bs = f.blockSize();
        long lblk = m.offset() / bs, n = Math.min(m.length() / bs, 1L << 20);
        // indirect-mapped files have no unwritten state: blocks allocated now would be committed, mapped as written past
        // the on-disk size, before their data is written; so they always reserve and allocate at writeback (ordered there)
        boolean reserve = delalloc || !fs.diskInode(f.id()).hasFlag(Inode.FL_EXTENTS);
        if (reserve && balloc.reserve(n)) {
            Status st = status(f);
            synchronized (st) { addDelayed(st, lblk, n); st.seq++; }
            delayedBlocks += n;
            return Mapping.of(MappingType.DELALLOC, lblk * bs, n * bs, -1, st.seq);
        }
        // no delalloc (or too little free space to promise): unwritten blocks now, in a short handle (written ones, fresh, without extents)
        Extent x = w.allocateForWriteback(f.id(), lblk, n, false);
        inserted(f, x);
        if (x.unwritten()) return Mapping.of(MappingType.UNWRITTEN, lblk * bs, (long) x.len() * bs, x.pblk() * bs, status(f).seq);
        return Mapping.fresh(lblk * bs, (long) x.len() * bs, x.pblk() * bs, status(f).seq); // written blocks holding stale bytes: the engine zeroes around the write
    }

    @Override
    public void end(CachedFile f, long pos, long len, long written, int flags, Mapping m) throws IOException {
        if (flags != WRITE) return;
        Status st = status(f);
        if (written > 0) synchronized (st) { st.pendingMtime = FsWriter.now(); }
        if (written >= len || m.type() != MappingType.DELALLOC) return;
        // a short copy: reservations for blocks that got no data (and hold none from before) go back
        int bs = f.blockSize();
        long from = (pos + written + bs - 1) / bs, to = Math.min((pos + len + bs - 1) / bs, m.end() / bs);
        long released = 0;
        for (long b = from; b < to; b++) {
            if (f.isDirty(b * bs)) continue;
            synchronized (st) { released += removeDelayed(st, b, b + 1); }
        }
        if (released > 0) { balloc.release(released); synchronized (st) { st.seq++; } }
    }

    /** Adds [lblk, lblk+n) to the delayed ranges, merged with neighbours so writeback maps long runs. */
    private static void addDelayed(Status st, long lblk, long n) {
        Map.Entry<Long, Long> before = st.delayed.floorEntry(lblk);
        if (before != null && before.getKey() + before.getValue() == lblk) { lblk = before.getKey(); n += before.getValue(); }
        Long after = st.delayed.get(lblk + n);
        if (after != null) { st.delayed.remove(lblk + n); n += after; }
        st.delayed.put(lblk, n);
    }

    /** Removes [from, to) from the delayed ranges; returns the blocks removed. */
    private static long removeDelayed(Status st, long from, long to) {
        Long first = st.delayed.floorKey(from);
        if (first == null || first + st.delayed.get(first) <= from) first = from;
        long removed = 0;
        for (Map.Entry<Long, Long> e : new java.util.ArrayList<>(st.delayed.subMap(first, true, to, false).entrySet())) {
            long s = e.getKey(), end = s + e.getValue();
            if (end <= from) continue;
            st.delayed.remove(s);
            if (s < from) st.delayed.put(s, from - s);
            if (end > to) st.delayed.put(to, end - to);
            removed += Math.min(end, to) - Math.max(s, from);
        }
        return removed;
    }

    /** Drops the delayed ranges at or past block from (truncate, punch, delete) and gives their reservations back. */
    void dropDelayed(CachedFile f, long from, long to) {
        Status st = status(f);
        long n;
        synchronized (st) { n = removeDelayed(st, from, to); st.seq++; }
        if (n > 0) balloc.release(n);
    }

    @Override
    public boolean isValid(CachedFile f, Mapping m) {
        Status st = status(f);
        synchronized (st) {
            if (st.seq == m.cookie()) return true;
        }
        stale++;
        return false;
    }

    /**
     * Written-state allocations whose data is not submitted yet, each holding commits back (guarded
     * by the engine lock). By mapping, not a count: the journal's holds are per thread, and two
     * threads' writebacks may be between allocation and submission at once; each lets go of its own.
     */
    private final java.util.Set<Mapping> orderedHolds = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());

    @Override
    public void submitted(CachedFile f, Mapping m) {
        if (orderedHolds.remove(m)) w.journal().releaseCommits();
    }

    /**
     * Allocates [lblk, lblk+n) (or a first part), from the delayed reservation or not: as written
     * blocks when asked (written >= 0: the on-disk size rises to cover them, up to written if that
     * is more than 0) or when the file has no unwritten state, with commits held back until the
     * data is submitted; else (written -1) as unwritten ones.
     */
    private Mapping allocateOrdered(CachedFile f, long lblk, long n, boolean delayed, long written) throws IOException {
        int bs = f.blockSize();
        w.journal().holdCommits();
        Extent x;
        try {
            x = written >= 0 ? w.allocateWritten(f.id(), lblk, n, written) : w.allocateForWriteback(f.id(), lblk, n, delayed);
        } catch (IOException | RuntimeException e) {
            w.journal().releaseCommits();
            throw e;
        }
        writebackAllocations++;
        if (delayed) {
            Status st = status(f);
            synchronized (st) { removeDelayed(st, lblk, lblk + x.len()); }
            balloc.release(x.len());
        }
        inserted(f, x);
        if (x.unwritten()) {                                // unwritten extents read as zeros until converted: no ordering needed
            w.journal().releaseCommits();
            return Mapping.of(MappingType.UNWRITTEN, lblk * bs, (long) x.len() * bs, x.pblk() * bs, status(f).seq);
        }
        Mapping m = Mapping.fresh(lblk * bs, (long) x.len() * bs, x.pblk() * bs, status(f).seq);
        orderedHolds.add(m);
        if (written > 0) settled.add(m);
        return m;
    }

    /** Streaming-write allocations whose handle stored the new on-disk size and the mtime (guarded by the engine lock). */
    private final java.util.Set<Mapping> settled = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());

    @Override
    public boolean directWriteNeedsCompletion(CachedFile f, Mapping m) { return !settled.remove(m); }

    /**
     * Streaming writes: written blocks are overwritten in place; a hole gets written blocks now,
     * commits held until the data is submitted (as an indirect-mapped file's writeback does), so
     * the write needs no conversion afterwards. Blocks past the on-disk size are allocated only
     * with newSize, which the on-disk size takes in the same handle (written blocks past i_size are
     * an error to e2fsck). Delayed, unwritten and inline ranges are buffered.
     */
    @Override
    public Mapping mapForDirectWrite(CachedFile f, long pos, long len, long newSize) throws IOException {
        Mapping m = lookup(f, pos, len);
        if (m.type() == MappingType.MAPPED) return m;
        if (m.type() != MappingType.HOLE) return null;
        int bs = f.blockSize();
        long lblk = m.offset() / bs, n = Math.min(m.length() / bs, 1L << 20);
        if (newSize < 0) {
            long inside = (fs.diskInode(f.id()).size() + bs - 1) / bs - lblk;
            if (inside <= 0) return null;
            n = Math.min(n, inside);
        }
        return allocateOrdered(f, lblk, n, false, newSize < 0 ? 0 : newSize);
    }

    @Override
    public Mapping mapForWriteback(CachedFile f, long pos, long len) throws IOException {
        w.conversionPending.remove(f.id());                   // written back: Linux's conversion would be on disk now
        Mapping m = lookup(f, pos, len);
        if (m.type() == MappingType.MAPPED || m.type() == MappingType.UNWRITTEN) return m;
        if (m.type() == MappingType.INLINE) throw new IllegalStateException(f + " is inline: buffered writes convert it first");
        int bs = f.blockSize();
        long lblk = pos / bs, n = m.length() / bs;
        boolean delayed = m.type() == MappingType.DELALLOC;
        if (delayed && fs.diskInode(f.id()).hasFlag(Inode.FL_EXTENTS)) return allocateDelayed(f, lblk, n);
        // Blocks mapped as written (indirect-mapped files have no unwritten state) must not be
        // committed before their data is written: commits wait until submitted() (ordered data).
        return allocateOrdered(f, lblk, n, delayed, -1);
    }

    /**
     * Blocks just mapped as written whose data could not be written hold someone's old bytes, and
     * the commit this writeback holds back would publish them: the journal is aborted first (ext4's
     * data_err=abort; extent files get unwritten extents and lose only their data).
     */
    @Override
    public void writeFailed(CachedFile f, Mapping m, IOException e) {
        if (!m.fresh()) return;
        FsException stop = new FsException(Errno.EIO, f + ": data of newly mapped blocks not written (" + e.getMessage() + ")");
        stop.initCause(e);
        w.journal().abort(stop);
    }

    /** Blocks just allocated for a streaming write that failed: unmapped in a handle of their own before the held commit goes. */
    @Override
    public void directWriteFailed(CachedFile f, Mapping m, IOException e) throws IOException {
        settled.remove(m);
        if (!m.fresh()) return;                            // an overwrite in place: the old bytes stay, as after a failed writeback
        int bs = f.blockSize();
        try {
            w.unmapFailedWrite(f.id(), m.offset() / bs, m.end() / bs);
        } catch (IOException | RuntimeException x) {
            // the commit would map someone's old bytes into the file: stop the journal first (data_err=abort)
            FsException stop = new FsException(Errno.EIO, f + ": blocks of a failed write could not be unmapped (" + x.getMessage() + ")");
            stop.initCause(e);
            w.journal().abort(stop);
            throw x;
        } finally {
            changed(f);
        }
    }

    /** Most delayed ranges one writeback allocation takes on (one handle, one extent tree store). */
    static final int ALLOCATION_BATCH = 64;

    /**
     * Allocates the delayed range at lblk and the delayed ranges after it (up to ALLOCATION_BATCH in
     * all) in one handle, as UNWRITTEN extents: writeback of a file dirtied at scattered places then
     * stores its extent tree once per batch instead of once per range. Ranges allocated ahead keep
     * their dirty data in the cache and are written when writeback reaches them; until then they
     * read as zeros on disk, like any unwritten extent, so no ordering with the data is needed.
     */
    private Mapping allocateDelayed(CachedFile f, long lblk, long n) throws IOException {
        Status st = status(f);
        List<long[]> ranges = new ArrayList<>();
        ranges.add(new long[] {lblk, n});
        synchronized (st) {
            for (Map.Entry<Long, Long> e : st.delayed.tailMap(lblk + n, true).entrySet()) {
                if (ranges.size() >= ALLOCATION_BATCH) break;
                ranges.add(new long[] {e.getKey(), e.getValue()});
            }
        }
        List<Extent> xs = w.allocateDelayedForWriteback(f.id(), ranges);
        for (Extent x : xs) {
            writebackAllocations++;
            synchronized (st) { removeDelayed(st, x.lblk(), x.end()); }
            balloc.release(x.len());
            inserted(f, x);
        }
        Extent x = xs.get(0);
        int bs = f.blockSize();
        return Mapping.of(x.unwritten() ? MappingType.UNWRITTEN : MappingType.MAPPED, lblk * bs, (long) x.len() * bs, x.pblk() * bs, status(f).seq);
    }

    @Override
    public void ioCompleted(CachedFile f, long pos, long len, MappingType type) throws IOException {
        ioCompleted(f, List.of(new long[] {pos, len}), type);
    }

    @Override
    public void ioCompleted(CachedFile f, List<long[]> ranges, MappingType type) throws IOException {
        Status st = status(f);
        Inode.Timestamp mt;
        synchronized (st) { mt = st.pendingMtime; st.pendingMtime = null; }
        int bs = f.blockSize();
        boolean convert = type == MappingType.UNWRITTEN;
        List<long[]> blocks = new ArrayList<>(ranges.size());
        for (long[] r : ranges) blocks.add(new long[] {r[0] / bs, (r[0] + r[1] + bs - 1) / bs});
        w.completeWriteback(f, blocks, convert, mt);
        if (convert) for (long[] b : blocks) { conversions++; converted(f, b[0], b[1]); }
    }

    String stats() {
        return delayedBlocks + " blocks delayed, " + writebackAllocations + " writeback allocations, " + conversions + " conversions, " + stale + " stale mappings";
    }
}
