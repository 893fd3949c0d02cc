package ext4j.iomap;

import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.base.LockOrder;
import ext4j.block.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * The buffered I/O engine (Linux's iomap buffered-io): a page cache of folios per file with
 * per-block uptodate and dirty bits, buffered read with readahead, buffered write, zero range,
 * truncate, invalidate, writeback and fsync, under a memory limit for the whole cache. It knows
 * nothing of any filesystem: each range is mapped by the {@link MappingOps} it is given, and
 * writeback completions run on a {@link CompletionQueue} worker.
 *
 * <p>Locking: one engine lock (this object) guards every folio and file state; it stands for the
 * folio lock in the order inode lock → folio lock → journal handle → extent lock. Waiting for
 * writeback completions releases it, so the completion worker (which takes handles) never waits
 * for a thread that holds it while waiting. Callers serialize operations on one file (the inode lock).
 */
public final class BufferedIo implements AutoCloseable {
    /** A source of bytes for a write; may copy fewer than asked (a short copy) and say so. */
    public interface Source { int copyTo(ByteBuffer dst) throws IOException; }

    /**
     * A check of one whole block of cached data before a read returns any of it (fs-verity): block
     * is the file block number, data[off, off + blockSize) its bytes, zeros past EOF. A block that
     * passed is not checked again while it stays in the cache, as Linux verifies a page once on its
     * way in; a failure throws and returns nothing.
     */
    public interface BlockCheck { void check(long block, byte[] data, int off) throws IOException; }

    private final BlockDevice dev;
    private final MappingOps ops;
    private final int folioSize;
    private final long memoryLimit;
    private final int maxIo;
    /** Files with cached state; changed under the exclusive lock, looked up without any (a read's first step). */
    private final Map<Long, CachedFile> files = new java.util.concurrent.ConcurrentHashMap<>();
    private final LinkedHashSet<Folio> lru = new LinkedHashSet<>();
    /**
     * The engine lock: exclusive for everything that changes folios, file state or the cache's
     * memory; shared (striped by thread, so readers do not contend) for reads served wholly from
     * blocks already cached uptodate and for CachedFile's queries.
     */
    private final EngineLock lock = new EngineLock();

    EngineLock engineLock() { return lock; }
    /** Memory of dropped folios, reused for new ones. */
    private final ArrayDeque<byte[]> spare = new ArrayDeque<>();
    private static final int MAX_SPARE = 256;
    private long cachedBytes;
    private final CompletionQueue completions;
    private boolean readOnly;
    /** Buffers for device I/O done outside the lock, reused (guarded by the lock). */
    private final ArrayDeque<ByteBuffer> ioBuffers = new ArrayDeque<>();
    /**
     * The first writeback error since the last sync of everything: as Linux keeps one errseq per
     * file for fsync and one per filesystem for syncfs, a sync reports it without taking it from
     * the file, whose own next fsync still gets it.
     */
    private IOException syncError;
    /** Counters for tests and benchmarks. */
    public long deviceReads, deviceWrites, evictions, writebacks;

    public BufferedIo(BlockDevice dev, MappingOps ops, long memoryLimit, int folioSize) {
        if (Integer.bitCount(folioSize) != 1) throw new IllegalArgumentException("folio size " + folioSize);
        this.dev = dev;
        this.ops = ops;
        this.folioSize = folioSize;
        this.memoryLimit = Math.max(memoryLimit, 8L * folioSize);
        this.maxIo = Math.max(folioSize, 4 << 20);
        this.completions = new CompletionQueue(this, ops);
    }

    int folioSize() { return folioSize; }

    // ---- files ----

    /** The cached state of a file, created with the given size (the size on disk) on first use. */
    public CachedFile file(long id, int blockSize, long size) {
        CachedFile known = files.get(id);
        if (known != null) return known;
        lock.lock();
        try {
            if (folioSize % blockSize != 0) throw new IllegalArgumentException("block size " + blockSize + " over folio size " + folioSize);
            return files.computeIfAbsent(id, k -> new CachedFile(this, id, blockSize, size));
        } finally {
            lock.unlock();
        }
    }

    /** The file's cached state if it has one. */
    public CachedFile lookup(long id) {
        return files.get(id);
    }

    /** Drops a file's cache without writing anything (its inode is gone); waits for its I/O in flight. */
    public void forget(CachedFile f) throws IOException {
        lock.lock();
        try {
            LockOrder.enter(LockOrder.Level.FOLIO);
            try {
                awaitCompletions(f);
                for (Folio fo : f.folios.values()) drop(fo);
                f.folios.clear();
                f.pending.clear();
                files.remove(f.id);
            } finally {
                LockOrder.exit(LockOrder.Level.FOLIO);
            }
        } finally {
            lock.unlock();
        }
    }

    /** The files with cached state. */
    public List<CachedFile> files() {
        lock.lock();
        try { return new ArrayList<>(files.values()); } finally { lock.unlock(); }
    }

    /** Bytes held by the cache now. */
    public long cachedBytes() {
        lock.lock();
        try { return cachedBytes; } finally { lock.unlock(); }
    }

    /** After an error or unmount: writeback starts nothing new (dirty data stays, fsync reports EROFS). */
    public void setReadOnly() {
        lock.lock();
        try { readOnly = true; } finally { lock.unlock(); }
    }

    // ---- read ----

    /** Copies up to dst.remaining() bytes at pos (stopping at the in-memory size); returns the count, -1 at or past EOF. */
    public int read(CachedFile f, long pos, ByteBuffer dst) throws IOException { return read(f, pos, dst, null); }

    /** A read whose blocks must pass check (when not null) before any byte of them is returned. */
    public int read(CachedFile f, long pos, ByteBuffer dst, BlockCheck check) throws IOException {
        if (check == null) {
            int n = readCached(f, pos, dst);
            if (n != MISS) { sharedReads.increment(); return n; }
            n = readStreaming(f, pos, dst);
            if (n != MISS) { streamedReads.increment(); return n; }
            n = readInUnlocked(f, pos, dst);
            if (n != MISS) { unlockedReadIns.increment(); return n; }
        }
        exclusiveReads.increment();
        lock.lock();
        try {
            LockOrder.enter(LockOrder.Level.FOLIO);
            try {
                awaitStreaming(f);
                if (pos >= f.size) return dst.hasRemaining() ? -1 : 0;
                long end = Math.min(f.size, pos + dst.remaining());
                boolean sequential = pos == f.nextReadPos || pos == 0;
                if (!sequential) f.readahead = 0;
                long p = pos;
                while (p < end) {
                    if (sequential && f.folioAt(p) == null) {
                        // readahead: a window of folios (doubling while the reads stay sequential) in one device read per extent
                        f.readahead = (int) Math.min(Math.min(maxIo, memoryLimit / 4) / folioSize, Math.max(2, f.readahead * 2));
                        readahead(f, p, Math.max((long) f.readahead * folioSize, Math.min(maxIo, end - p)));
                    }
                    Folio fo = folio(f, p, sequential ? folioSize : end - p); // a random read caches what it reads, not a whole large folio
                    int off = (int) (p - fo.offset()), n = (int) Math.min(fo.size() - off, end - p);
                    fo.pins++;
                    try {
                        if (sequential) fill(f, fo, 0, (int) Math.min(fo.size(), f.size - fo.offset()), check != null); // the rest of the folio in one go
                        else fill(f, fo, off, off + n, check != null);
                        if (check != null) checkBlocks(f, fo, off, off + n, check);
                        dst.put(fo.data, off, n);
                    } finally { fo.pins--; }
                    p += n;
                }
                f.nextReadPos = end;
                balance();
                return (int) (end - pos);
            } finally {
                LockOrder.exit(LockOrder.Level.FOLIO);
            }
        } finally {
            lock.unlock();
        }
    }

    private static final int MISS = Integer.MIN_VALUE;
    /** Reads served by the shared fast path, by a read-in done without the lock, and those that needed the exclusive path (stats). */
    private final java.util.concurrent.atomic.LongAdder sharedReads = new java.util.concurrent.atomic.LongAdder(),
            unlockedReadIns = new java.util.concurrent.atomic.LongAdder(), exclusiveReads = new java.util.concurrent.atomic.LongAdder();
    private static final int MAX_UNLOCKED_READ = 1 << 20;
    /** Reads served straight from the device into the caller's buffer (stats). */
    private final java.util.concurrent.atomic.LongAdder streamedReads = new java.util.concurrent.atomic.LongAdder();
    /** The smallest read that may bypass the cache, and the most extents one may span. */
    private static final int STREAM_MIN = 64 << 10, STREAM_MAX_EXTENTS = 256;

    /**
     * A large read of a range the cache holds nothing of: the mapped extents are read from the
     * device straight into the caller's buffer, holes and unwritten extents zero-filled, nothing
     * cached. The host's page cache is in front of the image already: a second cached copy of
     * streamed data would cost two more copies (into a folio, and out of it) and evict what is
     * worth keeping. Mapped under the exclusive lock (no folio, no dirty or in-flight block, no
     * mapping change in the range), read with no lock, and returned only if, back under the lock,
     * no block of the file was dirtied, no mapping change began or ended and every mapping is still
     * valid; else MISS (dst's position unchanged) and the cached paths read it.
     */
    private int readStreaming(CachedFile f, long pos, ByteBuffer dst) throws IOException {
        if (dst.remaining() < STREAM_MIN) return MISS;
        long end, dirtied, remaps;
        List<Mapping> maps = new ArrayList<>();
        lock.lock();
        LockOrder.enter(LockOrder.Level.FOLIO);
        try {
            if (pos >= f.size || f.mappingChanges > 0 || f.streaming > 0) return MISS;
            end = Math.min(f.size, pos + dst.remaining());
            if (end - pos < STREAM_MIN || !f.foliosIn(pos, end).isEmpty() || f.firstPending(pos) < end) return MISS;
            for (long p = pos; p < end; ) {
                Mapping m = ops.begin(f, p, end - p, MappingOps.READ);
                if (m.offset() > p || m.end() <= p || maps.size() == STREAM_MAX_EXTENTS) return MISS;
                MappingType t = m.type();
                if (t != MappingType.MAPPED && t != MappingType.HOLE && t != MappingType.UNWRITTEN) return MISS;
                maps.add(m);
                p = Math.min(m.end(), end);
            }
            dirtied = f.dirtied;
            remaps = f.remaps;
        } finally {
            LockOrder.exit(LockOrder.Level.FOLIO);
            lock.unlock();
        }
        int start = dst.position(), reads = 0;
        for (Mapping m : maps) {
            long p = Math.max(pos, m.offset()), n = Math.min(m.end(), end) - p;
            ByteBuffer part = dst.duplicate().position(start + (int) (p - pos)).limit(start + (int) (p - pos + n));
            if (m.type() == MappingType.MAPPED) { dev.read(m.addrOf(p), part); reads++; }
            else while (part.hasRemaining()) part.put(ZERO_BLOCK, 0, Math.min(ZERO_BLOCK.length, part.remaining()));
        }
        lock.lock();
        LockOrder.enter(LockOrder.Level.FOLIO);
        try {
            deviceReads += reads;
            if (f.dirtied != dirtied || f.remaps != remaps || files.get(f.id) != f || !f.foliosIn(pos, end).isEmpty()) return MISS;
            for (Mapping m : maps) if (!ops.isValid(f, m)) return MISS;
            f.nextReadPos = end;
            dst.position(start + (int) (end - pos));
            return (int) (end - pos);
        } finally {
            LockOrder.exit(LockOrder.Level.FOLIO);
            lock.unlock();
        }
    }

    private static final byte[] ZERO_BLOCK = new byte[64 << 10];

    /**
     * The filesystem is about to change the file's block mapping or write its blocks behind the
     * cache (truncate, punch, fallocate, zero, collapse or insert range): until the matching end, no
     * read-in done without the lock is installed, and one that started before is dropped (Linux's
     * invalidate_lock, held by such changes and by page-cache fills).
     */
    public void beginMappingChange(CachedFile f) {
        lock.lock();
        try { f.mappingChanges++; f.remaps++; } finally { lock.unlock(); }
    }

    public void endMappingChange(CachedFile f) {
        lock.lock();
        try { f.mappingChanges--; f.remaps++; } finally { lock.unlock(); }
    }

    /**
     * A random read that misses the cache, with its device read issued while the engine lock is
     * not held, so other files' reads, writes and writeback go on meanwhile. Under the exclusive
     * lock the range is mapped (it must be one written extent, with no dirty or in-flight block
     * cached over it); the blocks are read with no lock; back under the lock they are installed
     * only if no mapping change began or ended meanwhile (beginMappingChange), the mapping is still
     * valid (its cookie), no block of the file was dirtied meanwhile, and only into blocks still not
     * uptodate.
     * Anything else, and sequential reads (readahead), returns MISS for the exclusive path.
     */
    private int readInUnlocked(CachedFile f, long pos, ByteBuffer dst) throws IOException {
        int bs = f.blockSize;
        long from, to, dirtied, remaps;
        Mapping m;
        lock.lock();
        LockOrder.enter(LockOrder.Level.FOLIO);
        try {
            if (pos >= f.size || !dst.hasRemaining() || pos == f.nextReadPos || pos == 0) return MISS;
            long end = Math.min(f.size, pos + dst.remaining());
            from = pos / bs * bs;
            to = Math.min((end + bs - 1) / bs * bs, (f.size + bs - 1) / bs * bs);
            if (to - from > MAX_UNLOCKED_READ || f.firstPending(from) < to || f.mappingChanges > 0 || f.streaming > 0) return MISS;
            m = ops.begin(f, from, to - from, MappingOps.READ);
            if (m.type() != MappingType.MAPPED || m.offset() > from || m.end() < to) return MISS;
            dirtied = f.dirtied;
            remaps = f.remaps;
        } finally {
            LockOrder.exit(LockOrder.Level.FOLIO);
            lock.unlock();
        }
        byte[] tmp = new byte[(int) (to - from)];
        dev.read(m.addrOf(from), ByteBuffer.wrap(tmp));
        lock.lock();
        LockOrder.enter(LockOrder.Level.FOLIO);
        try {
            deviceReads++;
            if (f.dirtied != dirtied || f.remaps != remaps || !ops.isValid(f, m) || files.get(f.id) != f || pos >= f.size) return MISS;
            long end = Math.min(f.size, pos + dst.remaining());
            Folio fo = folio(f, pos, end - pos);
            if (fo.offset() > from || fo.end() < to) return MISS;          // the slow path fills what this folio lacks
            ensure(fo, (int) (to - fo.offset()));
            for (long b = from; b < to; b += bs) {
                int bi = (int) ((b - fo.offset()) / bs);
                if (fo.isUptodate(bi)) continue;
                System.arraycopy(tmp, (int) (b - from), fo.data, (int) (b - fo.offset()), bs);
                fo.uptodate.set(bi);
            }
            zeroPastEof(f, fo);
            int off = (int) (pos - fo.offset()), n = (int) (end - pos);
            dst.put(fo.data, off, n);
            f.nextReadPos = end;
            balance();
            return n;
        } finally {
            LockOrder.exit(LockOrder.Level.FOLIO);
            lock.unlock();
        }
    }

    /**
     * The fast path of read, under the shared lock: when every block of the range is cached
     * uptodate, the bytes are copied out and nothing else changes (no folio is made, no readahead
     * starts, the LRU order is left alone); otherwise MISS, and the caller takes the exclusive path.
     */
    private int readCached(CachedFile f, long pos, ByteBuffer dst) {
        int shared = lock.lockShared();
        LockOrder.enter(LockOrder.Level.FOLIO);
        try {
            if (pos >= f.size) return dst.hasRemaining() ? -1 : 0;
            long end = Math.min(f.size, pos + dst.remaining());
            int bs = f.blockSize;
            for (long p = pos; p < end; ) {
                Folio fo = f.folioAt(p);
                if (fo == null) return MISS;
                int off = (int) (p - fo.offset()), n = (int) Math.min(fo.size() - off, end - p);
                int last = (off + n - 1) / bs;
                if (last >= fo.blocks() || fo.uptodate.nextClearBit(off / bs) <= last) return MISS;
                p += n;
            }
            if (pos != f.nextReadPos && pos != 0) f.readahead = 0;
            for (long p = pos; p < end; ) {
                Folio fo = f.folioAt(p);
                int off = (int) (p - fo.offset()), n = (int) Math.min(fo.size() - off, end - p);
                dst.put(fo.data, off, n);
                if (!fo.referenced) fo.referenced = true;     // the LRU order is the exclusive side's: this marks a second chance
                p += n;
            }
            f.nextReadPos = end;
            return (int) (end - pos);
        } finally {
            LockOrder.exit(LockOrder.Level.FOLIO);
            lock.unlockShared(shared);
        }
    }

    /** Runs check over the blocks under bytes [from, to) of the folio that have not passed it since they were read in. */
    private static void checkBlocks(CachedFile f, Folio fo, int from, int to, BlockCheck check) throws IOException {
        int bs = f.blockSize;
        for (int b = from / bs; b < (to + bs - 1) / bs; b++) {
            if (fo.checked.get(b)) continue;
            check.check(fo.offset() / bs + b, fo.data, b * bs);
            fo.checked.set(b);
        }
    }

    /**
     * Makes the blocks covering bytes [from, to) of the folio uptodate: mapped blocks are read from
     * the device, holes, unwritten and delayed blocks are zeros, and bytes at or past the in-memory
     * size are zeros (never stale bytes from the device).
     */
    private void fill(CachedFile f, Folio fo, int from, int to) throws IOException { fill(f, fo, from, to, false); }

    /**
     * unlocked: the device reads may be issued with the engine lock let go (readOutsideLock). Only
     * for reads of files that never change (fs-verity): a partial-block fill inside a write, with
     * the lock let go, lost fsynced bytes under FuseCrashTest, so every other fill keeps the lock
     * (plain reads go through readInUnlocked and readahead instead).
     */
    private void fill(CachedFile f, Folio fo, int from, int to, boolean unlocked) throws IOException {
        int bs = f.blockSize;
        ensure(fo, (to + bs - 1) / bs * bs);
        int b = from / bs, last = (to + bs - 1) / bs;
        long eofBlock = (f.size + bs - 1) / bs; // blocks at or past it hold no file bytes
        while (b < last) {
            if (fo.isUptodate(b)) { b++; continue; }
            int e = b;
            while (e < last && !fo.isUptodate(e)) e++;
            long start = fo.offset() + (long) b * bs, stop = fo.offset() + (long) e * bs;
            long dataStop = Math.min(stop, eofBlock * bs);
            long p = start;
            int retries = 0;
            while (p < dataStop) {
                Mapping m = ops.begin(f, p, dataStop - p, MappingOps.READ);
                long n = Math.min(m.end(), dataStop) - p;
                int at = (int) (p - fo.offset());
                switch (m.type()) {
                    case MAPPED -> {
                        boolean read = unlocked && retries < 3 && readOutsideLock(f, fo, m, p, (int) n);
                        if (!read && unlocked && retries++ < 3) continue;       // changed meanwhile: map again
                        if (!read) dev.read(m.addrOf(p), ByteBuffer.wrap(fo.data, at, (int) n)); // kept changing: read it under the lock
                        deviceReads++;
                    }
                    case INLINE -> {
                        int have = (int) Math.max(0, Math.min(n, m.inline().length - (p - m.offset())));
                        System.arraycopy(m.inline(), (int) (p - m.offset()), fo.data, at, have);
                        Arrays.fill(fo.data, at + have, at + (int) n, (byte) 0);
                    }
                    default -> Arrays.fill(fo.data, at, at + (int) n, (byte) 0);
                }
                p += n;
            }
            if (dataStop < stop) Arrays.fill(fo.data, (int) (Math.max(start, dataStop) - fo.offset()), (int) (stop - fo.offset()), (byte) 0);
            zeroPastEof(f, fo);
            fo.uptodate.set(b, e);
            b = e;
        }
    }

    /**
     * Reads n bytes of the file at pos, under mapping m, into the (pinned) folio with the engine lock
     * let go, through a buffer: they are copied in only if, back under the lock, the folio's memory,
     * the file's dirty count, its mapping changes and m are as they were. Returns whether they were.
     */
    private boolean readOutsideLock(CachedFile f, Folio fo, Mapping m, long pos, int n) throws IOException {
        byte[] into = fo.data;
        long dirtied = f.dirtied, remaps = f.remaps;
        ByteBuffer buf = takeIoBuffer().limit(n);
        try {
            int holds = lock.releaseAll();
            try {
                dev.read(m.addrOf(pos), buf);
            } finally {
                lock.reacquire(holds);
            }
            if (fo.data != into || f.dirtied != dirtied || f.remaps != remaps || f.mappingChanges > 0 || !ops.isValid(f, m) || files.get(f.id) != f) return false;
            buf.flip().get(fo.data, (int) (pos - fo.offset()), n);
            return true;
        } finally {
            ioBuffers.push(buf);
        }
    }

    /**
     * Reads about {@code bytes} bytes from pos (not cached there) onwards into new folios, stopping
     * at the first cached byte and at EOF, with one device read per mapped extent, at most maxIo
     * bytes each, issued with the engine lock let go (the new folios are pinned meanwhile). New
     * folios are zeros, so holes, unwritten and delayed ranges need no work. The folios become
     * uptodate only if, when the reads are done, no block of the file was dirtied, no mapping change
     * began or ended and every mapping used is still valid; otherwise they stay empty and the
     * caller's fill reads what it needs.
     */
    private void readahead(CachedFile f, long pos, long bytes) throws IOException {
        int bs = f.blockSize;
        long eofBlock = (f.size + bs - 1) / bs;
        long limit = Math.max(pos + 1, Math.min(pos + bytes, eofBlock * bs));
        List<Folio> fresh = new ArrayList<>();
        for (long q = pos; q < limit && f.folioAt(q) == null; ) {
            Folio fo = folio(f, q, folioSize);
            fresh.add(fo);
            q = fo.end();
        }
        for (Folio fo : fresh) fo.pins++;
        ByteBuffer buf = null;
        try {
            long dirtied = f.dirtied, remaps = f.remaps;
            long start = fresh.getFirst().offset(), dataStop = Math.min(fresh.getLast().end(), eofBlock * bs);
            for (Folio fo : fresh) ensure(fo, (int) Math.max(bs, Math.min(fo.size(), dataStop - fo.offset())));
            for (long p = start; p < dataStop; ) {
                if (f.mappingChanges > 0) return;
                Mapping m = ops.begin(f, p, dataStop - p, MappingOps.READ);
                long n = Math.min(Math.min(m.end(), dataStop) - p, maxIo);
                if (m.type() == MappingType.MAPPED) {
                    if (buf == null) buf = takeIoBuffer();
                    buf.clear().limit((int) n);
                    int holds = lock.releaseAll();
                    try {
                        dev.read(m.addrOf(p), buf);
                    } finally {
                        lock.reacquire(holds);
                    }
                    deviceReads++;
                    if (f.dirtied != dirtied || f.remaps != remaps || !ops.isValid(f, m) || files.get(f.id) != f) return;
                    scatter(f, p, buf.flip());
                } else if (m.type() == MappingType.INLINE) {
                    int have = (int) Math.max(0, Math.min(n, m.inline().length - (p - m.offset())));
                    scatter(f, p, ByteBuffer.wrap(m.inline(), (int) (p - m.offset()), have));
                }
                p += n;
            }
            for (Folio fo : fresh) {
                zeroPastEof(f, fo);
                for (int b = 0; b < fo.blocks(); b++) if (!fo.isUptodate(b)) fo.uptodate.set(b);
            }
        } finally {
            if (buf != null) ioBuffers.push(buf);
            for (Folio fo : fresh) fo.pins--;
        }
    }

    /** Copies src's remaining bytes into the cached folios at file offset pos. */
    private void scatter(CachedFile f, long pos, ByteBuffer src) {
        for (long q = pos; src.hasRemaining(); ) {
            Folio fo = f.folioAt(q);
            int off = (int) (q - fo.offset()), c = Math.min(fo.size() - off, src.remaining());
            ensure(fo, off + c);
            src.get(fo.data, off, c);
            q += c;
        }
    }

    /** In the folio holding EOF, the bytes of the EOF block past the size are zeros in the cache. */
    private void zeroPastEof(CachedFile f, Folio fo) {
        long s = f.size;
        if (s < fo.offset() || s >= fo.end() || s % f.blockSize == 0) return;
        int at = (int) (s - fo.offset());
        if (at >= fo.data.length) return;                     // no memory there: nothing cached to zero
        int blockEnd = (at / f.blockSize + 1) * f.blockSize;
        Arrays.fill(fo.data, at, blockEnd, (byte) 0);
    }

    // ---- write ----

    /**
     * Write of src's remaining bytes at pos; returns the count (all of them). A large write streams
     * its whole blocks (writeStreaming); its partial edge blocks, and any write the device cannot
     * take straight away, go through the cache.
     */
    public long write(CachedFile f, long pos, ByteBuffer src) throws IOException {
        long total = src.remaining(), done = 0;
        int bs = f.blockSize;
        long head = (bs - pos % bs) % bs;
        if (total - head >= STREAM_MIN) {
            if (head > 0) done += buffered(f, pos, src, head);
            done += writeStreaming(f, pos + done, src, (total - done) / bs * bs);
        }
        return done + buffered(f, pos + done, src, total - done);
    }

    private long buffered(CachedFile f, long pos, ByteBuffer src, long len) throws IOException {
        return write(f, pos, len, dst -> {
            int n = Math.min(dst.remaining(), src.remaining());
            dst.put(src.slice(src.position(), n));
            src.position(src.position() + n);
            return n;
        });
    }

    /**
     * A streaming write (Linux's direct I/O path, taken for large writes): the len bytes (whole
     * blocks from a block-aligned pos) go from the caller's buffer straight to the device, with no
     * copy into the cache and none out of it at writeback. The host's page cache is in front of the
     * image already (as for readStreaming); a cached copy of bulk data costs two copies and evicts
     * what is worth keeping. Under the lock: nothing dirty or in flight in the range, no mapping
     * change, then the filesystem maps it (mapForDirectWrite: written blocks, a hole allocated as
     * written with its commit held until submitted) and clean cached copies are dropped; the
     * device write runs with the lock let go, the file marked streaming so that nothing caches or
     * maps its blocks meanwhile; the size rises when the bytes are on the device. The on-disk size
     * rises with the allocation when nothing of the file below is dirty or in flight (so it never
     * covers data still in the cache; else only holes inside it are streamed), otherwise at the
     * completion, which also stores the mtime. A device error is handled as a failed writeback's:
     * the bytes are lost, blocks allocated for them unmapped (directWriteFailed), and the error
     * reported by the next fsync, so callers see one contract whether a write streamed or not. Returns the bytes
     * written this way, from src's position (the rest, if any, is for the cache).
     */
    private long writeStreaming(CachedFile f, long pos, ByteBuffer src, long len) throws IOException {
        long done = 0;
        lock.lock();
        LockOrder.enter(LockOrder.Level.FOLIO);
        try {
            while (done < len) {
                // one device write of the file at a time (a streaming write counts in writing too)
                while (f.writing > 0) { LockOrder.beforeWait("another thread's writeback or streaming write of the file"); awaitChange(); }
                long p = pos + done, end = pos + len;
                if (readOnly || f.mappingChanges > 0 || f.firstPending(p) < end) return done;
                if (p > f.size) zeroEofTail(f);
                long want = Math.min(end - p, maxIo);       // allocates no more than one device write fills
                // nothing of the file dirty or in flight below: the on-disk size may take the new size with the allocation
                boolean quiet = f.firstPending(0) >= p && f.inFlight == f.streamedInFlight;
                Mapping m = ops.mapForDirectWrite(f, p, want, quiet ? Math.max(f.size, p + want) : -1);
                if (m == null) return done;
                if (m.type() != MappingType.MAPPED || m.offset() != p) throw new IllegalStateException("direct write mapping " + m + " for " + f + " at " + p);
                int n = (int) (Math.min(m.end(), end) - p);
                dropRange(f, p, p + n);                     // clean copies would go stale (nothing in the range is dirty)
                f.streaming++;
                f.writing++;
                f.inFlight++;
                f.streamedInFlight++;
                f.remaps++;                                 // an unlocked read that straddles the start is not returned
                IOException failed = null;
                int holds = lock.releaseAll();
                try {
                    dev.write(m.addrOf(p), src.slice(src.position(), n));
                } catch (IOException | RuntimeException e) {
                    failed = e instanceof IOException io ? io : new IOException("streaming write of " + f + " at " + p + ": " + e, e);
                } finally {
                    lock.reacquire(holds);
                    f.streaming--;
                    f.writing--;
                    f.remaps++;                             // an unlocked read-in that straddled this must not be installed
                    lock.signalAll();
                }
                if (failed != null) {
                    // lost, as a failed writeback's bytes are: the write is done, the next fsync (and sync) reports it
                    noteError(f, failed);
                    f.inFlight--;
                    f.streamedInFlight--;
                }
                try {
                    if (failed != null) ops.directWriteFailed(f, m, failed);
                } finally {
                    ops.submitted(f, m);
                }
                if (failed == null) {
                    deviceWrites++;
                    streamedWrites.increment();
                }
                src.position(src.position() + n);
                done += n;
                if (p + n > f.size) f.size = p + n;
                f.nextWritePos = p + n;
                if (failed != null) continue;
                if (ops.directWriteNeedsCompletion(f, m)) {
                    ops.end(f, p, n, n, MappingOps.WRITE, m);   // the mtime, stored with the on-disk size at the completion
                    completions.submit(List.of(new CompletionQueue.IoEnd(f, p, n, MappingType.MAPPED, true)));
                } else {                                    // the allocation's handle stored the size and the mtime
                    f.inFlight--;
                    f.streamedInFlight--;
                    lock.signalAll();
                }
            }
            return done;
        } finally {
            LockOrder.exit(LockOrder.Level.FOLIO);
            lock.unlock();
        }
    }

    /** Waits (the lock let go meanwhile) until no streaming write of the file is in progress. */
    private void awaitStreaming(CachedFile f) throws IOException {
        if (f.streaming > 0) LockOrder.beforeWait("a streaming write of the file");
        while (f.streaming > 0) awaitChange();
    }

    /** Writes that went straight from the caller's buffer to the device (stats). */
    private final java.util.concurrent.atomic.LongAdder streamedWrites = new java.util.concurrent.atomic.LongAdder();

    /**
     * Buffered write of len bytes from src at pos: each range is mapped for writing (delayed
     * allocation or unwritten blocks), copied into folios, and only the blocks written are marked
     * dirty. A short copy stops the write; what was prepared for the rest is released. Returns the
     * bytes written.
     */
    public long write(CachedFile f, long pos, long len, Source src) throws IOException {
        lock.lock();
        try {
            LockOrder.enter(LockOrder.Level.FOLIO);
            try {
                if (len <= 0) return 0;
                awaitStreaming(f);
                if (pos > f.size) zeroEofTail(f);
                // sequential writes get large folios; a random write a folio the size of the write (as Linux's write_begin)
                boolean sequential = pos == f.nextWritePos || pos == f.size;
                long done = 0;
                boolean shortCopy = false;
                while (done < len && !shortCopy) {
                    long p = pos + done;
                    Mapping m = ops.begin(f, p, len - done, MappingOps.WRITE);
                    long stop = Math.min(m.end(), pos + len);
                    long copied = 0;
                    while (p + copied < stop) {
                        long q = p + copied;
                        Folio fo = folio(f, q, sequential ? folioSize : pos + len - q);
                        if (!ops.isValid(f, m)) break;                       // the mapping changed under us: map again
                        int off = (int) (q - fo.offset()), n = (int) Math.min(fo.size() - off, stop - q);
                        fo.pins++;
                        try {
                            int got = copyIntoFolio(f, fo, off, n, src, m);
                            copied += got;
                            if (q + got > f.size) f.size = q + got;
                            if (got < n) { shortCopy = true; break; }
                        } finally { fo.pins--; }
                    }
                    ops.end(f, p, stop - p, copied, MappingOps.WRITE, m);
                    done += copied;
                    balance();
                }
                f.nextWritePos = pos + done;
                return done;
            } finally {
                LockOrder.exit(LockOrder.Level.FOLIO);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Makes the block holding byte at of the folio uptodate before a partial write into it: zeros for a fresh block, else a fill. */
    private void fillForWrite(CachedFile f, Folio fo, int at, Mapping m) throws IOException {
        int bs = f.blockSize, b = at / bs;
        if (m.fresh() && !fo.isUptodate(b)) {          // just allocated: the disk has someone else's old bytes there
            Arrays.fill(fo.data, b * bs, (b + 1) * bs, (byte) 0);
            fo.uptodate.set(b);
            return;
        }
        fill(f, fo, at, at + 1);
    }

    /** Copies n bytes into the folio at off; partial blocks are filled first. Returns the bytes that count as written. */
    private int copyIntoFolio(CachedFile f, Folio fo, int off, int n, Source src, Mapping m) throws IOException {
        int bs = f.blockSize;
        // the blocks of [off, off + n) are all written below: by the edge fills and the copy
        ensure(fo, (off + n + bs - 1) / bs * bs, off / bs * bs, (off + n + bs - 1) / bs * bs);
        if (off % bs != 0) fillForWrite(f, fo, off, m);
        if ((off + n) % bs != 0) fillForWrite(f, fo, off + n - 1, m);
        int got = 0;
        while (got < n) {
            int c = src.copyTo(ByteBuffer.wrap(fo.data, off + got, n - got));
            if (c <= 0) break;
            got += c;
        }
        if (got < n) Arrays.fill(fo.data, off + Math.max(got, 0), off + n, (byte) 0); // a short copy leaves no stale bytes of a recycled array
        if (got < n && !fo.isUptodate((off + got) / bs)) got -= (off + got) % bs; // a short copy into a block never filled counts for nothing
        if (got <= 0) return Math.max(got, 0);
        fo.setUptodate(off, off + got);
        if ((off + got) % bs != 0) fo.uptodate.set((off + got) / bs); // filled before the copy
        if (off % bs != 0) fo.uptodate.set(off / bs);
        fo.setDirty(off, off + got);
        return got;
    }

    /**
     * Before the size grows past an EOF in the middle of a block: the rest of that block is zeroed
     * in the cache and the block marked dirty, so the zeros reach the disk before (the on-disk size
     * waits for all dirty data below it) the larger size does. Seed 004's ordered EOF range.
     */
    private void zeroEofTail(CachedFile f) throws IOException {
        long s = f.size;
        int bs = f.blockSize;
        if (s % bs == 0) return;
        Folio fo = f.folioAt(s);
        // a dirty EOF block goes to disk anyway: its tail must be zeros; a clean one matters only over
        // written blocks, whose stale tail a larger size would expose (holes and unwritten blocks read as
        // zeros and stay unallocated, as iomap_zero_range skips them)
        if (fo == null || !fo.isDirty((int) (s - fo.offset()) / bs)) {
            Mapping m = ops.begin(f, s - s % bs, bs, MappingOps.READ);
            if (m.type() != MappingType.MAPPED) return;
            if (fo == null || !fo.isUptodate((int) (s - fo.offset()) / bs)) fo = folio(f, s, bs);
        }
        int at = (int) (s - fo.offset());
        fo.pins++;
        try {
            fill(f, fo, at, at + 1);
            Arrays.fill(fo.data, at, (at / bs + 1) * bs, (byte) 0);
            fo.setDirty(at, at + 1);
        } finally { fo.pins--; }
    }

    // ---- zero range, truncate, invalidate ----

    /**
     * Zeroes [pos, pos+len) through the cache (iomap_zero_range): dirty blocks are zeroed in their
     * folios whatever the disk says (a block UNWRITTEN on disk may be dirty here, seed 002); clean
     * ones, cached or not, only where the disk holds data (MAPPED), since holes and unwritten blocks
     * read as zeros already. Returns whether anything was zeroed.
     */
    public boolean zeroRange(CachedFile f, long pos, long len) throws IOException {
        lock.lock();
        try {
            LockOrder.enter(LockOrder.Level.FOLIO);
            try {
                if (len <= 0) return false;
                awaitStreaming(f);
                int bs = f.blockSize;
                long end = pos + len;
                boolean did = false;
                long p = pos;
                while (p < end) {
                    long blockEnd = Math.min(end, (p / bs + 1) * bs);
                    Folio fo = f.folioAt(p);
                    int bi = fo == null ? -1 : (int) (p - fo.offset()) / bs;
                    // a dirty block is zeroed whatever the disk says (seed 002); a clean one, cached or not,
                    // only over written blocks: over holes and unwritten extents it reads as zeros already
                    if (fo == null || !fo.isDirty(bi)) {
                        Mapping m = ops.begin(f, p, end - p, MappingOps.ZERO);
                        if (m.type() != MappingType.MAPPED) { // zeros on disk: skip to the next block dirty in the cache
                            long nb = (p / bs + 1) * bs;
                            p = nb >= end ? end : Math.max(nb, Math.min(Math.min(end, Math.max(nb, m.end())), f.firstPending(nb)));
                            continue;
                        }
                        if (fo == null || !fo.isUptodate(bi)) fo = folio(f, p, end - p);
                    }
                    int at = (int) (p - fo.offset());
                    fo.pins++;
                    try {
                        if ((p % bs) != 0 || blockEnd - p < bs) fill(f, fo, at, at + 1);
                        else { ensure(fo, at + bs); fo.uptodate.set(at / bs); }
                        Arrays.fill(fo.data, at, at + (int) (blockEnd - p), (byte) 0);
                        fo.setDirty(at, at + 1);
                        did = true;
                    } finally { fo.pins--; }
                    p = blockEnd;
                }
                balance();
                return did;
            } finally {
                LockOrder.exit(LockOrder.Level.FOLIO);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Sets the in-memory size. Growing zeroes the old EOF block's tail first (as an append does);
     * shrinking drops the cached blocks past the new EOF, dirty or not, and zeroes the rest of the
     * new EOF block in the cache. The filesystem changes its own metadata after this.
     */
    public void truncate(CachedFile f, long newSize) throws IOException {
        lock.lock();
        try {
            LockOrder.enter(LockOrder.Level.FOLIO);
            try {
                awaitStreaming(f);
                if (newSize > f.size) { zeroEofTail(f); f.size = newSize; return; }
                awaitCompletions(f);
                f.size = newSize;
                int bs = f.blockSize;
                long keepBlocksEnd = (newSize + bs - 1) / bs * bs;
                dropRange(f, keepBlocksEnd, Long.MAX_VALUE);
                Folio fo = f.folioAt(newSize);
                if (fo != null) zeroPastEof(f, fo);
            } finally {
                LockOrder.exit(LockOrder.Level.FOLIO);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Sets the in-memory size after the filesystem moved the file's blocks (collapse or insert
     * range): nothing is zeroed; the caller has written the file back and invalidated every cached
     * byte from the first one that moved.
     */
    public void resize(CachedFile f, long size) {
        lock.lock();
        try {
            f.size = size;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Drops cached data of [pos, pos+len): blocks wholly inside lose their contents and dirty bits
     * (partial invalidation clears exactly those); partly covered edge blocks are kept (callers zero
     * them). Waits for the file's I/O in flight first.
     */
    public void invalidate(CachedFile f, long pos, long len) throws IOException {
        lock.lock();
        try {
            LockOrder.enter(LockOrder.Level.FOLIO);
            try {
                if (len <= 0) return;
                awaitCompletions(f);
                dropRange(f, pos, pos + len < 0 ? Long.MAX_VALUE : pos + len);
            } finally {
                LockOrder.exit(LockOrder.Level.FOLIO);
            }
        } finally {
            lock.unlock();
        }
    }

    private void dropRange(CachedFile f, long from, long to) {
        List<Long> gone = new ArrayList<>();
        for (Folio fo : f.foliosIn(from, to)) {
            long fStart = fo.offset();
            int a = (int) Math.max(0, from - fStart), b = (int) Math.min(fo.size(), to - fStart);
            fo.invalidate(a, b);
            if (fo.uptodate.isEmpty() && fo.dirty.isEmpty() && fo.pins == 0) gone.add(fStart);
        }
        for (long k : gone) { drop(f.folios.remove(k)); f.pending.remove(k); }
    }

    // ---- writeback ----

    /**
     * Writes every dirty block of [from, to) back and waits for the completions. The dirty runs are
     * taken in batches (up to maxIo bytes, at most MAX_BATCH runs): each run is mapped, gathered
     * into one buffer and put under writeback, counted in flight (truncate, invalidate, forget and
     * fsync wait for them), then the batch's device writes are issued with no engine lock held, so
     * reads, writes and writeback of other files go on meanwhile; a batch of scattered 4 KiB runs
     * lets the lock go once, not once per run. Everything is looked at again afterwards. One batch
     * per file at a time, so two writes of one block never race.
     */
    public void writeback(CachedFile f, long from, long to) throws IOException {
        lock.lock();
        try {
            LockOrder.enter(LockOrder.Level.FOLIO);
            try {
                if (readOnly) {
                    if (f.firstPending(from) < to) throw new FsException(Errno.EROFS, "read-only filesystem: " + f + " has dirty data that cannot be written");
                    return;
                }
                writebacks++;
                long p = f.firstPending(from);
                while (p < to) {
                    if (f.writing > 0) { LockOrder.beforeWait("another thread's writeback of the file"); awaitChange(); p = f.firstPending(Math.max(from, p)); continue; }
                    p = writeBatch(f, p, to);
                }
                awaitCompletions(f);
            } finally {
                LockOrder.exit(LockOrder.Level.FOLIO);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Most dirty runs one writeback batch takes on (bounds the lock hold while it maps and gathers them). */
    private static final int MAX_BATCH = 256;

    /** A run of a writeback batch: file bytes [pos, pos+len) under mapping m, at offset at of the batch's buffer. */
    private record Run(Mapping m, long pos, int len, int at) {}

    /**
     * One writeback batch from the dirty run at or after p (below to): mapped and gathered under the
     * lock, written with it let go, completions queued. Returns where the next batch starts.
     */
    private long writeBatch(CachedFile f, long p, long to) throws IOException {
        int bs = f.blockSize;
        List<Run> runs = new ArrayList<>();
        ByteBuffer buf = takeIoBuffer();
        Exception mapFailure = null;
        try {
            try {
                while (p < to && buf.hasRemaining() && runs.size() < MAX_BATCH) {
                    // the dirty run starting at p (writeback bits were waited for by the caller or are another run's)
                    long runEnd = dirtyRunEnd(f, p, Math.min(to, p + buf.remaining()));   // no further than the batch holds
                    if (runEnd == p) { p = f.firstPending(p + bs); continue; }
                    Mapping m = ops.mapForWriteback(f, p, runEnd - p);
                    if (m.offset() != p || (m.type() != MappingType.MAPPED && m.type() != MappingType.UNWRITTEN))
                        throw new IllegalStateException("writeback mapping " + m + " for " + f + " at " + p);
                    int n = (int) Math.min(Math.min(runEnd, m.end()) - p, buf.remaining());
                    runs.add(new Run(m, p, n, buf.position()));
                    gather(f, p, n, buf);
                    p = f.firstPending(p + n);
                }
            } catch (IOException | RuntimeException e) {
                mapFailure = e;                   // what was gathered is under writeback: written anyway, then reported
            }
            if (runs.isEmpty()) {
                rethrow(mapFailure);
                return p;
            }
            f.inFlight += runs.size();
            f.writing++;
            Throwable[] failed = new Throwable[runs.size()];
            int holds = lock.releaseAll();
            try {
                for (int i = 0; i < runs.size(); i++) {
                    Run r = runs.get(i);
                    try {
                        dev.write(r.m().addrOf(r.pos()), buf.duplicate().limit(r.at() + r.len()).position(r.at()));
                    } catch (IOException | RuntimeException e) {
                        failed[i] = e;
                    }
                }
            } finally {
                lock.reacquire(holds);
                f.writing--;
                lock.signalAll();
            }
            List<CompletionQueue.IoEnd> done = new ArrayList<>(runs.size());
            for (int i = 0; i < runs.size(); i++) {
                Run r = runs.get(i);
                if (failed[i] == null) {
                    deviceWrites++;
                    done.add(new CompletionQueue.IoEnd(f, r.pos(), r.len(), r.m().type(), false));
                    continue;
                }
                IOException e = failed[i] instanceof IOException io ? io : new IOException("writeback of " + f + " at " + r.pos() + ": " + failed[i], failed[i]);
                noteError(f, e);                       // reported to the next fsync (and sync), never dropped
                ops.writeFailed(f, r.m(), e);          // before submitted() lets a held commit go
                finishWriteback(f, r.pos(), r.pos() + r.len());
                f.inFlight--;
            }
            completions.submit(done);                   // one hand-over (and one wake-up of the worker) per batch
        } finally {
            ioBuffers.push(buf);
            for (Run r : runs) ops.submitted(f, r.m());
        }
        rethrow(mapFailure);
        return p;
    }

    private static void rethrow(Exception e) throws IOException {
        if (e instanceof IOException io) throw io;
        if (e instanceof RuntimeException re) throw re;
    }

    /** A device-sized buffer for I/O done outside the engine lock (one per thread doing it; guarded by the lock). */
    private ByteBuffer takeIoBuffer() {
        ByteBuffer b = ioBuffers.poll();
        return (b != null ? b : ByteBuffer.allocateDirect(maxIo)).clear();
    }

    /** Lets go of the engine lock until something signals a change (an I/O ended), then takes it back. */
    private void awaitChange() throws IOException {
        long seen = lock.changes();
        try { lock.await(seen); } catch (InterruptedException e) { Thread.currentThread().interrupt(); throw new java.io.InterruptedIOException(); }
    }

    /**
     * End of the run of dirty blocks starting at p (bounded by to): one folio lookup and one bit
     * scan per folio, not per block (a 256 MiB dirty run is 65,536 blocks).
     */
    private long dirtyRunEnd(CachedFile f, long p, long to) {
        int bs = f.blockSize;
        long q = p;
        while (q < to) {
            Folio fo = f.folioAt(q);
            if (fo == null) break;
            int blocks = fo.size() / bs, clean = Math.min(blocks, fo.dirty.nextClearBit((int) (q - fo.offset()) / bs));
            q = fo.offset() + (long) clean * bs;
            if (clean < blocks) break;
        }
        return Math.min(q, to);
    }

    /** Copies [a, a+n) out of the folios and moves those blocks from dirty to writeback. */
    private void gather(CachedFile f, long a, long n, ByteBuffer buf) {
        int bs = f.blockSize;
        for (long q = a; q < a + n; ) {
            Folio fo = f.folioAt(q);
            int off = (int) (q - fo.offset()), c = (int) Math.min(fo.size() - off, a + n - q);
            buf.put(fo.data, off, c);
            fo.startWriteback(off / bs, (off + c) / bs);
            q += c;
        }
    }

    /** Completion side: the blocks of each range are no longer in flight. */
    void finishWriteback(CachedFile f, List<CompletionQueue.IoEnd> ranges) {
        lock.lock();
        try {
            LockOrder.enter(LockOrder.Level.FOLIO);
            try {
                for (CompletionQueue.IoEnd e : ranges) finishWriteback(f, e.pos(), e.end());
            } finally {
                LockOrder.exit(LockOrder.Level.FOLIO);
            }
        } finally {
            lock.unlock();
        }
    }

    /** The blocks of [from, to) are no longer in flight (the engine lock held). */
    private void finishWriteback(CachedFile f, long from, long to) {
        int bs = f.blockSize;
        for (Folio fo : f.foliosIn(from, to)) {
            int off = (int) Math.max(0, from - fo.offset()), stop = (int) Math.min(fo.size(), to - fo.offset());
            fo.endWriteback(off / bs, stop / bs);
        }
    }

    void completed(CachedFile f, int count, boolean streamed, IOException failure) {
        lock.lock();
        try {
            LockOrder.enter(LockOrder.Level.FOLIO);
            try {
                if (failure != null) noteError(f, failure);
                f.inFlight -= count;
                if (streamed) f.streamedInFlight -= count;
                lock.signalAll();
            } finally {
                LockOrder.exit(LockOrder.Level.FOLIO);
            }
        } finally {
            lock.unlock();
        }
    }

    private void awaitCompletions(CachedFile f) throws IOException {
        if (f.inFlight > 0) LockOrder.beforeWait("writeback completions");
        while (f.inFlight > 0) awaitChange();
    }

    /**
     * fsync's data half: writes the file's dirty data back, waits for the completions, and reports
     * (once) the first error any writeback of the file met since the last fsync.
     */
    public void fsync(CachedFile f) throws IOException {
        lock.lock();
        try {
            LockOrder.enter(LockOrder.Level.FOLIO);
            try {
                IOException stopped = null;
                try { writeback(f, 0, Long.MAX_VALUE); } catch (IOException x) { stopped = x; }
                IOException e = f.error;
                f.error = null;
                // the write error first: what it caused (a journal it aborted answering EROFS) comes second
                if (e != null) { IOException r = writebackFailed(f, e); if (stopped != null) r.addSuppressed(stopped); throw r; }
                if (stopped != null) throw stopped;
            } finally {
                LockOrder.exit(LockOrder.Level.FOLIO);
            }
        } finally {
            lock.unlock();
        }
    }

    /** A writeback error as fsync reports it: the device's errno (ENOSPC from a full thin disk), else EIO; never without one. */
    private static IOException writebackFailed(CachedFile f, IOException cause) {
        Errno errno = cause instanceof FsException fe && fe.errno() == Errno.ENOSPC ? Errno.ENOSPC : Errno.EIO;
        FsException e = new FsException(errno, "writeback" + (f == null ? "" : " of " + f) + " failed (" + cause.getMessage() + ")");
        e.initCause(cause);
        return e;
    }

    private void noteError(CachedFile f, IOException e) {
        if (f.error == null) f.error = e;
        if (syncError == null) syncError = e;
    }

    /**
     * Writes back every file (sync). Errors stay with their files for fsync; the first met since
     * the last sync is thrown, once. A failure to map (the journal aborted, ENOSPC) is thrown too,
     * after the other files were written.
     */
    public void writebackAll() throws IOException {
        lock.lock();
        try {
            LockOrder.enter(LockOrder.Level.FOLIO);
            try {
                IOException first = writeEverything();
                IOException e = syncError;
                syncError = null;
                if (e != null) { IOException r = writebackFailed(null, e); if (first != null) r.addSuppressed(first); throw r; }
                if (first != null) throw first;
            } finally {
                LockOrder.exit(LockOrder.Level.FOLIO);
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Unmount's writeback: every file written back; returns the first write error no fsync took
     * (a data loss nobody heard of yet), clearing them all. A failure to map is thrown.
     */
    public IOException writebackForClose() throws IOException {
        lock.lock();
        try {
            LockOrder.enter(LockOrder.Level.FOLIO);
            try {
                IOException first = writeEverything();
                if (first != null) throw first;
                IOException lost = null;
                for (CachedFile f : files.values()) {
                    if (f.error != null && lost == null) lost = writebackFailed(f, f.error);
                    f.error = null;
                }
                syncError = null;
                return lost;
            } finally {
                LockOrder.exit(LockOrder.Level.FOLIO);
            }
        } finally {
            lock.unlock();
        }
    }

    /** Writes every file back; the first failure that stopped a file's writeback (not a write error, which stays with the file) is returned. */
    private IOException writeEverything() throws IOException {
        IOException first = null;
        for (CachedFile f : new ArrayList<>(files.values())) {
            try { writeback(f, 0, Long.MAX_VALUE); } catch (IOException e) { if (first == null) first = e; }
        }
        return first;
    }

    /** Writes everything back and drops every folio (a cache drop; tests use it to force re-reads). */
    public void dropAll() throws IOException {
        lock.lock();
        try {
            LockOrder.enter(LockOrder.Level.FOLIO);
            try {
                if (readOnly) {                        // nothing can be written: clean folios go, dirty data stays readable
                    for (CachedFile f : files.values())
                        f.folios.values().removeIf(fo -> { if (!fo.isEvictable()) return false; drop(fo); f.pending.remove(fo.offset()); return true; });
                    return;
                }
                IOException first = writeEverything();   // write errors stay for fsync and sync: a cache drop reports nothing
                if (first != null) throw first;
                for (CachedFile f : files.values()) {
                    for (Folio fo : f.folios.values()) drop(fo);
                    f.folios.clear();
                    f.pending.clear();
                }
            } finally {
                LockOrder.exit(LockOrder.Level.FOLIO);
            }
        } finally {
            lock.unlock();
        }
    }

    // ---- folios and memory ----

    /**
     * The folio holding byte pos; a new one is the largest power of two up to want bytes (at least a
     * block, at most the folio size), aligned to its size, that overlaps no cached folio.
     */
    private Folio folio(CachedFile f, long pos, long want) {
        Folio fo = f.folioAt(pos);
        if (fo == null) {
            int size = (int) Math.min(folioSize, Math.max(f.blockSize, Long.highestOneBit(Math.max(1, want - 1)) << 1));
            while (size > f.blockSize && overlapsCached(f, pos / size * size, size)) size >>= 1;
            fo = new Folio(f, pos / size * size, size, NO_BYTES, f.blockSize);
            f.folios.put(fo.offset(), fo);
        } else {
            lru.remove(fo);
        }
        lru.add(fo);
        return fo;
    }

    private static final byte[] NO_BYTES = new byte[0];

    private static boolean overlapsCached(CachedFile f, long start, int size) {
        Map.Entry<Long, Folio> below = f.folios.floorEntry(start);
        if (below != null && below.getValue().end() > start) return true;
        Long above = f.folios.ceilingKey(start);
        return above != null && above < start + size;
    }

    /** Gives the folio memory up to byte end (rounded up to a power of two, at least a block, at most the folio). */
    private void ensure(Folio fo, int end) { ensure(fo, end, 0, 0); }

    /**
     * ensure, where the caller overwrites [keepFrom, keepTo) of the folio at once: a recycled array
     * is not zeroed there (a sequential write would otherwise clear every byte before copying it).
     */
    private void ensure(Folio fo, int end, int keepFrom, int keepTo) {
        if (end <= fo.data.length) return;
        int n = Math.min(fo.size(), Math.max(fo.blockSize(), Integer.highestOneBit(end - 1) << 1));
        byte[] d = n == folioSize ? spare.poll() : null;
        int old = fo.data.length;
        if (d == null) d = new byte[n];
        else if (keepFrom >= keepTo) Arrays.fill(d, old, n, (byte) 0);
        else {
            Arrays.fill(d, old, Math.max(old, Math.min(keepFrom, n)), (byte) 0);
            Arrays.fill(d, Math.min(n, Math.max(old, keepTo)), n, (byte) 0);
        }
        System.arraycopy(fo.data, 0, d, 0, fo.data.length);
        cachedBytes += n - fo.data.length;
        fo.data = d;
    }

    private void drop(Folio fo) {
        if (lru.remove(fo)) release(fo);
    }

    /** Accounts for a folio leaving the cache; its memory is kept for the next folio (no garbage, no GC copying of the cache). */
    private void release(Folio fo) {
        cachedBytes -= fo.data.length;
        if (fo.pins == 0 && fo.data.length == folioSize && spare.size() < MAX_SPARE) spare.push(fo.data);
    }

    /**
     * Keeps the cache under its limit: clean folios go first, least recently used first; when only
     * dirty ones are left, the file of the oldest dirty folio is written back.
     */
    private void balance() throws IOException {
        while (cachedBytes > memoryLimit) {
            boolean freed = false;
            List<Folio> secondChance = new ArrayList<>();
            for (Iterator<Folio> it = lru.iterator(); it.hasNext() && cachedBytes > memoryLimit; ) {
                Folio fo = it.next();
                if (!fo.isEvictable()) continue;
                if (fo.referenced) { fo.referenced = false; it.remove(); secondChance.add(fo); continue; } // read lately under the shared lock
                it.remove();
                fo.file.folios.remove(fo.offset());
                release(fo);
                evictions++;
                freed = true;
            }
            lru.addAll(secondChance);                     // to the most recently used end
            if (!secondChance.isEmpty() && cachedBytes > memoryLimit) continue;
            if (cachedBytes <= memoryLimit) return;
            Folio oldestDirty = null;
            for (Folio fo : lru) if (fo.hasDirty()) { oldestDirty = fo; break; }
            if (oldestDirty == null) { if (!freed) return; continue; } // everything left is pinned or in flight
            if (readOnly) return;
            writeback(oldestDirty.file, 0, Long.MAX_VALUE);
        }
    }

    @Override
    public void close() {
        completions.close();
    }

    public String stats() {
        lock.lock();
        try {
            return files.size() + " files, " + cachedBytes / 1024 + " KiB cached, " + deviceReads + " reads, " + deviceWrites
                    + " writes, " + writebacks + " writebacks, " + evictions + " evictions, " + completions.processed
                    + " completions (" + completions.merged + " merged), " + sharedReads.sum() + " cached reads shared, " + unlockedReadIns.sum() + " read in unlocked, " + streamedReads.sum() + " streamed, " + exclusiveReads.sum() + " exclusive";
        } finally {
            lock.unlock();
        }
    }
}
