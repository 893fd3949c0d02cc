package ext4j.journal;

import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.base.LockOrder;
import ext4j.block.BlockDevice;
import ext4j.block.BufferCache;
import ext4j.base.Crc32c;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongUnaryOperator;

/**
 * A jbd2 journal in the internal journal inode (Documentation/filesystems/ext4/journal.rst).
 * Handles join the running transaction. {@link #commit} writes the transaction to the log —
 * descriptor blocks with one tag per block (csum v3 tags when the journal has checksums), the
 * block copies (escaped when they start with the jbd2 magic), revoke blocks for freed metadata —
 * flushes, then writes the commit block and flushes again. Committed blocks go home only at a
 * checkpoint, from the copy that was committed, so home locations never see a half transaction.
 * A checkpoint writes everything home, flushes and marks the log empty; it happens when the log
 * is half full and at close, so the log never wraps. A timer commits every few seconds.
 *
 * Durability order: file data (written by callers before their handle stops) and log blocks are
 * flushed before the commit block is written; the commit block is flushed before commit returns.
 */
public final class JbdJournal implements Journal, Handle.HandleOwner {
    public static final int MAGIC = 0xC03B3998;
    private static final int DESCRIPTOR = 1, COMMIT = 2, REVOKE = 5;
    private static final int TAG_ESCAPE = 1, TAG_SAME_UUID = 2, TAG_LAST = 8;
    private static final int CSUM_TYPE_CRC32C = 4;

    private final BufferCache cache;
    private final BlockDevice dev;
    private final int bs;
    private final LongUnaryOperator map;       // journal block -> filesystem block
    private final long jsbBlock;               // physical block of the journal superblock
    private final byte[] jsbRaw;               // that whole block (the superblock is its first 1024 bytes)
    private final ByteBuffer jsb;              // the journal superblock's 1024 bytes, big-endian
    private final long first, maxLen;          // maxLen: one past the log's last block (the fast-commit area follows)
    private long fcFirst;                      // the fast-commit area's first block while it may hold a stale HEAD, else -1
    private final boolean csumV3, is64;
    private final int seed;
    private final int tagSize, tagsPerDescriptor;

    private long nextTid;
    private long head;                         // next free journal block; == first when the log is empty
    private boolean logEmpty = true;
    private final Set<Long> running = new LinkedHashSet<>();
    private final Set<Long> runningRevokes = new LinkedHashSet<>();
    private final Map<Long, byte[]> checkpoint = new HashMap<>();   // committed copies not yet home
    /** The running handles, by thread: shared ones together, or one exclusive one alone. */
    private final Map<Thread, Handle> handles = new HashMap<>();
    private boolean exclusiveRunning;
    private int exclusiveWaiting, closeWaiting;   // starts waiting for an exclusive turn; commits waiting for the handles to stop
    private final List<Runnable> abortListeners = new java.util.concurrent.CopyOnWriteArrayList<>();
    private ScheduledExecutorService timer;
    private IOException failed;                // a failed commit turns the journal read-only

    // statistics, for info and benchmarks
    private long commits, loggedBlocks, checkpoints;

    /**
     * Opens a clean journal for writing. Turns on 64bit and checksum v3 in the journal superblock
     * when the filesystem has 64bit and metadata_csum (as Linux does at mount).
     */
    public JbdJournal(BufferCache cache, LongUnaryOperator map, boolean fs64bit, boolean fsCsum, long commitIntervalMs) throws IOException {
        this.cache = cache;
        this.dev = cache.device();
        this.bs = cache.blockSize();
        this.map = map;
        this.jsbBlock = map.applyAsLong(0);
        ByteBuffer raw = ByteBuffer.allocate(bs);
        dev.read(jsbBlock * bs, raw);
        this.jsbRaw = raw.array();
        this.jsb = ByteBuffer.allocate(1024).order(ByteOrder.BIG_ENDIAN);
        jsb.put(0, raw.array(), 0, 1024);
        JournalSuperblock view = JournalSuperblock.parse(jsb.duplicate(), "journal block " + jsbBlock);
        if (!view.isClean()) throw new IllegalStateException("journal needs recovery before it can be written");
        if (view.blockSize() != bs) throw new IOException("journal block size " + view.blockSize() + " differs from the filesystem's " + bs);
        if (view.blockType() != JournalSuperblock.BLOCKTYPE_SB_V2) jsb.putInt(0x4, JournalSuperblock.BLOCKTYPE_SB_V2);
        int incompat = view.featureIncompat() & ~(JournalSuperblock.INCOMPAT_ASYNC_COMMIT | JournalSuperblock.INCOMPAT_CSUM_V2);
        if (fs64bit) incompat |= JournalSuperblock.INCOMPAT_64BIT;
        if (fsCsum) incompat |= JournalSuperblock.INCOMPAT_CSUM_V3;
        incompat |= JournalSuperblock.INCOMPAT_REVOKE & view.featureIncompat();
        jsb.putInt(0x28, incompat);
        if (fsCsum) jsb.put(0x50, (byte) CSUM_TYPE_CRC32C);
        this.first = view.first();
        // with fast_commit the log ends where the fast-commit area begins (jbd2's j_last); ext4j writes
        // full commits only. The area's old blocks name an older transaction than any ext4j commits
        // (s_sequence only grows), so Linux's replay ignores them; e2fsck 1.47 instead fails ("Invalid
        // argument while recovering journal") on a stale HEAD, so the area's first block is zeroed
        // with ext4j's first commit (see write): a replay then finds no fast commit at all
        long fc = FastCommitArea.blocks(jsb);
        this.maxLen = view.maxLen() - fc;
        this.fcFirst = fc == 0 ? -1 : maxLen + 1;
        this.csumV3 = (incompat & JournalSuperblock.INCOMPAT_CSUM_V3) != 0;
        this.is64 = (incompat & JournalSuperblock.INCOMPAT_64BIT) != 0;
        byte[] uuid = new byte[16];
        jsb.get(0x30, uuid);
        this.seed = Crc32c.update(0xFFFFFFFF, uuid);
        this.tagSize = csumV3 ? 16 : (is64 ? 12 : 8);
        this.tagsPerDescriptor = (bs - 12 - (csumV3 ? 4 : 0) - 16) / tagSize;
        this.nextTid = view.sequence();
        this.head = first;
        if (maxLen <= first + 64) throw new IOException("journal of " + maxLen + " blocks is too small");
        writeJsb(0, nextTid);
        dev.flush();
        if (commitIntervalMs > 0) {
            timer = Executors.newSingleThreadScheduledExecutor(r -> { Thread t = new Thread(r, "ext4j-journal-commit"); t.setDaemon(true); return t; });
            timer.scheduleWithFixedDelay(this::timedCommit, commitIntervalMs, commitIntervalMs, TimeUnit.MILLISECONDS);
        }
    }

    /** Log blocks a transaction may use: a quarter of the journal, as jbd2 limits it. */
    private long maxTransaction() { return (maxLen - first) / 4; }

    // ---- handles ----

    @Override
    public Handle start(String what, int credits) throws IOException { return start(what, credits, true); }

    @Override
    public Handle startShared(String what, int credits) throws IOException { return start(what, credits, false); }

    /**
     * A nested start joins the thread's running handle. Otherwise the new handle waits for its turn:
     * an exclusive one until no handle runs (shared starts then wait behind it), a shared one while
     * an exclusive one runs or waits, and any while a commit waits for the running handles to stop
     * (but not a thread holding commits back: the commit waits for it). The running and the
     * reserved credits together are what a transaction may grow to.
     */
    private synchronized Handle start(String what, int credits, boolean exclusive) throws IOException {
        if (failed != null) throw abortedError();
        Thread me = Thread.currentThread();
        Handle mine = handles.get(me);
        if (mine != null) {
            mine.nest(credits);
            return mine;
        }
        boolean counted = false;
        try {
            for (;;) {
                if (failed != null) throw abortedError();
                boolean turn = !exclusiveRunning && (exclusive ? handles.isEmpty() : exclusiveWaiting == 0)
                        && (closeWaiting == 0 || commitHolds.containsKey(me));
                if (!turn) {
                    if (exclusive && !counted) { exclusiveWaiting++; counted = true; }
                    LockOrder.beforeWait("another thread's journal handle");
                    await();
                    continue;
                }
                long reserved = reservedCredits() + credits;
                boolean full = running.size() + reserved > maxTransaction();
                boolean logFull = logUsed() + reserved + overhead(reserved) > (maxLen - first) / 2;
                if (full || logFull) {
                    if (committing || !handles.isEmpty()) { await(); continue; } // the handles stop, the commit in flight ends
                    if (full) commitLocked();
                    if (logFull) { commitLocked(); checkpointLocked(); }
                }
                break;                            // a handle bigger than a transaction still runs, alone in its own
            }
        } finally {
            if (counted) { exclusiveWaiting--; notifyAll(); }
        }
        Handle h = new Handle(this, cache, what, credits);
        handles.put(me, h);
        if (exclusive) { exclusiveRunning = true; exclusiveStarted++; } else sharedStarted++;
        peakHandles = Math.max(peakHandles, handles.size());
        return h;
    }

    /** Credits the running handles reserved. */
    private long reservedCredits() {
        long n = 0;
        for (Handle h : handles.values()) n += h.credits();
        return n;
    }

    @Override
    public synchronized void awaitHandleOf(Thread t) throws IOException {
        Handle h = handles.get(t);
        if (h == null || t == Thread.currentThread()) return;
        LockOrder.beforeWait("another thread's journal handle");
        while (handles.get(t) == h) await();
    }

    private long logUsed() { return head - first + running.size() + overhead(running.size()); }
    private long overhead(long blocks) { return blocks / tagsPerDescriptor + 3 + runningRevokes.size() / 100; }

    @Override
    public synchronized void stopped(Handle h) {
        running.addAll(h.touched());
        ended(h);
    }

    @Override
    public synchronized void aborted(Handle h) {
        // restored to their previous bytes (logging them again is harmless); blocks the handle created are gone
        for (long b : h.touched()) if (cache.contains(b)) running.add(b);
        ended(h);
        for (Runnable r : abortListeners) r.run();
    }

    private void ended(Handle h) {
        if (handles.remove(h.thread, h) && exclusiveRunning) exclusiveRunning = false;
        notifyAll();
    }

    @Override
    public synchronized void revoke(long block) {
        running.remove(block);
        if (checkpoint.remove(block) != null) runningRevokes.add(block);
        if (committingBlocks.contains(block)) {       // logged by the commit in flight: revoked too, and never checkpointed
            runningRevokes.add(block);
            revokedWhileCommitting.add(block);
        }
    }

    @Override public void onAbort(Runnable r) { abortListeners.add(r); }

    private final List<CloseWork> closeWork = new java.util.concurrent.CopyOnWriteArrayList<>();
    @Override public void onClose(CloseWork work) { closeWork.add(work); }

    /** The close work's handles join the closing transaction and nothing else. */
    private final Handle.HandleOwner closing = new Handle.HandleOwner() {
        @Override public void stopped(Handle h) { running.addAll(h.touched()); }
        @Override public void aborted(Handle h) { for (long b : h.touched()) if (cache.contains(b)) running.add(b); }
    };

    /** Runs the close work (under the lock, no handle running) in handles of its own that join the running transaction. */
    private void runCloseWork() throws IOException {
        CloseWork.runAll(closeWork, () -> new Handle(closing, cache, "transaction close", Integer.MAX_VALUE));
    }

    private final List<java.util.function.Supplier<Runnable>> commitListeners = new java.util.concurrent.CopyOnWriteArrayList<>();
    @Override public void onCommit(java.util.function.Supplier<Runnable> sealer) { commitListeners.add(sealer); }

    // ---- commit ----

    /** Threads holding commits back (ordered data on its way to blocks mapped as written), with counts. */
    private final Map<Thread, Integer> commitHolds = new HashMap<>();

    @Override public synchronized void holdCommits() { commitHolds.merge(Thread.currentThread(), 1, Integer::sum); }

    @Override
    public synchronized void releaseCommits() {
        if (commitHolds.computeIfPresent(Thread.currentThread(), (t, n) -> n > 1 ? n - 1 : null) == null) notifyAll();
    }

    /** Whether a thread other than the caller holds commits back (the caller's own hold never blocks it). */
    private boolean heldByOthers() {
        return commitHolds.size() > (commitHolds.containsKey(Thread.currentThread()) ? 1 : 0);
    }

    /** A transaction closed for commit: copies of its blocks, its revokes, its place in the log. */
    private record Closed(long tid, long seq, List<Long> blocks, Map<Long, byte[]> copies, List<Long> revokes,
                          long start, long end, boolean firstInLog, List<Runnable> afterCommit) {}

    private long runningSeq = 1, committedSeq;     // transaction numbers that never wrap (tids do)
    private boolean committing;                    // a commit's I/O is in flight, outside the lock
    private final Set<Long> committingBlocks = new java.util.HashSet<>(), revokedWhileCommitting = new java.util.HashSet<>();

    private void await() throws IOException {
        try { wait(); } catch (InterruptedException e) { Thread.currentThread().interrupt(); throw new java.io.InterruptedIOException(); }
    }

    /**
     * Makes every stopped handle's changes durable. The running transaction is closed under the
     * lock, but its log blocks are written outside it: new handles start meanwhile, and callers
     * that queue behind a commit in flight find their changes in the next one, which one of them
     * writes for all (group commit).
     */
    @Override
    public void commit() throws IOException {
        LockOrder.beforeWait("a journal commit");
        Closed c = null;
        synchronized (this) {
            long want = running.isEmpty() && runningRevokes.isEmpty() ? runningSeq - 1 : runningSeq;
            boolean draining = false;                     // new handles wait while this commit waits for the running ones to stop
            try {
                while (committedSeq < want) {
                    if (failed != null) throw abortedError();
                    boolean drain = !committing && !heldByOthers() && !handles.isEmpty();
                    if (drain != draining) { closeWaiting += drain ? 1 : -1; draining = drain; notifyAll(); }
                    if (committing || !handles.isEmpty() || heldByOthers()) { await(); continue; }
                    c = closeRunning();
                    break;
                }
            } finally {
                if (draining) { closeWaiting--; notifyAll(); }
            }
        }
        if (c == null) { dev.flush(); return; }           // a commit that finished meanwhile carried our changes; data still needs the flush
        try {
            write(c);
        } catch (IOException | RuntimeException e) {
            synchronized (this) { aborted(e); }
            throw e;
        }
        synchronized (this) { finished(c); }
        for (Runnable r : c.afterCommit()) r.run();       // outside the lock: a handle may be running now
    }

    private void timedCommit() {
        synchronized (this) {
            if (!handles.isEmpty() || failed != null || committing || !commitHolds.isEmpty() || (running.isEmpty() && runningRevokes.isEmpty())) return;
        }
        try { commit(); } catch (IOException e) { /* the journal is aborted: the next start or commit reports it */ }
    }

    /** A commit all under the lock, for callers that hold it with no handle running and no commit in flight. */
    private void commitLocked() throws IOException {
        if (running.isEmpty() && runningRevokes.isEmpty()) return;
        Closed c = closeRunning();
        try {
            write(c);
        } catch (IOException | RuntimeException e) {
            aborted(e);
            throw e;
        }
        finished(c);
        for (Runnable r : c.afterCommit()) r.run();
    }

    /** What callers get once the journal is aborted: EROFS, as jbd2 answers a start on an aborted journal, with the cause. */
    private IOException abortedError() {
        FsException e = new FsException(Errno.EROFS, "journal aborted after a failed write (" + failed.getMessage() + ")");
        e.initCause(failed);
        return e;
    }

    private void aborted(Exception e) {
        failed = e instanceof IOException io ? io : new IOException(e);
        committing = false;
        notifyAll();
    }

    /** Closes the running transaction (no handle running): the close work, then copies of its blocks, its log space reserved. */
    private Closed closeRunning() throws IOException {
        runCloseWork();
        List<Long> blocks = new ArrayList<>(running);
        Map<Long, byte[]> copies = new HashMap<>();
        for (long blk : blocks) {
            byte[] data = cache.copyOf(blk);
            if (data == null) throw new IllegalStateException("journaled block " + blk + " is not in the cache");
            copies.put(blk, data);
        }
        List<Long> revokes = new ArrayList<>(runningRevokes);
        boolean firstInLog = logEmpty;
        if (logEmpty) { head = first; logEmpty = false; }
        long start = head;
        head = start + (blocks.size() + tagsPerDescriptor - 1) / tagsPerDescriptor + blocks.size() + revokeBlocks(revokes.size()) + 1;
        List<Runnable> after = new ArrayList<>();
        for (var sealer : commitListeners) after.add(sealer.get());
        Closed c = new Closed(nextTid, runningSeq, blocks, copies, revokes, start, head, firstInLog, after);
        nextTid = (nextTid + 1) & 0xFFFFFFFFL;
        runningSeq++;
        running.clear();
        runningRevokes.clear();
        committing = true;
        committingBlocks.addAll(blocks);
        return c;
    }

    /** Writes a closed transaction to the log: descriptors and blocks, revokes, a flush, the commit block, a flush. */
    private void write(Closed c) throws IOException {
        if (fcFirst >= 0) {                    // flushed with the log blocks, before the commit block
            dev.write(map.applyAsLong(fcFirst) * bs, ByteBuffer.allocate(bs));
            fcFirst = -1;
        }
        if (c.firstInLog()) writeJsb(c.start(), c.tid());
        long tid = c.tid(), pos = c.start();
        List<Long> blocks = c.blocks();
        for (int i = 0; i < blocks.size(); i += tagsPerDescriptor) {
            List<Long> group = blocks.subList(i, Math.min(blocks.size(), i + tagsPerDescriptor));
            ByteBuffer desc = header(DESCRIPTOR, tid);
            int off = 12;
            long descPos = pos++;
            for (int k = 0; k < group.size(); k++) {
                long blk = group.get(k);
                byte[] data = c.copies().get(blk);
                byte[] logged = data;
                int flags = k == 0 ? 0 : TAG_SAME_UUID;
                if (ByteBuffer.wrap(data).getInt(0) == MAGIC) { logged = data.clone(); logged[0] = logged[1] = logged[2] = logged[3] = 0; flags |= TAG_ESCAPE; }
                if (k == group.size() - 1) flags |= TAG_LAST;
                off = putTag(desc, off, blk, flags, tid, logged);
                if (k == 0) { desc.put(off, jsbUuid()); off += 16; }
                writeLog(pos++, ByteBuffer.wrap(logged));
            }
            sealTail(desc);
            writeLog(descPos, desc);
        }
        pos = writeRevokes(pos, tid, c.revokes());
        dev.flush();                                  // data, log blocks and descriptors before the commit block
        writeLog(pos++, commitBlock(tid));
        dev.flush();
        if (pos != c.end()) throw new IllegalStateException("commit of transaction " + tid + " ended at log block " + pos + ", not " + c.end());
    }

    /** The closed transaction is on disk: its blocks wait for the checkpoint (unless revoked meanwhile). */
    private void finished(Closed c) {
        for (long blk : c.blocks()) if (!revokedWhileCommitting.contains(blk)) checkpoint.put(blk, c.copies().get(blk));
        revokedWhileCommitting.clear();
        committingBlocks.clear();
        committing = false;
        committedSeq = c.seq();
        loggedBlocks += c.blocks().size();
        commits++;
        notifyAll();
    }

    private byte[] jsbUuid() { byte[] u = new byte[16]; jsb.get(0x30, u); return u; }

    private ByteBuffer header(int type, long tid) {
        ByteBuffer b = ByteBuffer.allocate(bs).order(ByteOrder.BIG_ENDIAN);
        b.putInt(0, MAGIC).putInt(4, type).putInt(8, (int) tid);
        return b;
    }

    /** One block tag: csum v3 (16 bytes) or classic (8, 12 with 64bit). Returns the next offset. */
    private int putTag(ByteBuffer d, int off, long blk, int flags, long tid, byte[] logged) {
        int csum = 0;
        if (csumV3) {
            int c = Crc32c.update(seed, new byte[]{(byte) (tid >>> 24), (byte) (tid >>> 16), (byte) (tid >>> 8), (byte) tid});
            csum = Crc32c.update(c, logged);
        }
        if (csumV3) {
            d.putInt(off, (int) blk).putInt(off + 4, flags).putInt(off + 8, (int) (blk >>> 32)).putInt(off + 12, csum);
            return off + 16;
        }
        d.putInt(off, (int) blk).putShort(off + 4, (short) 0).putShort(off + 6, (short) flags);
        if (is64) { d.putInt(off + 8, (int) (blk >>> 32)); return off + 12; }
        return off + 8;
    }

    /** Descriptor and revoke blocks end with a 4-byte checksum of the block when the journal has checksums. */
    private void sealTail(ByteBuffer b) {
        if (!csumV3) return;
        b.putInt(bs - 4, 0);
        b.putInt(bs - 4, Crc32c.update(seed, b.array()));
    }

    private int revokeRecord() { return is64 ? 8 : 4; }
    private int revokeRoom() { return bs - 16 - (csumV3 ? 4 : 0); }
    /** Log blocks that n revoked block numbers take. */
    private long revokeBlocks(int n) { int per = revokeRoom() / revokeRecord(); return (n + per - 1) / per; }

    private long writeRevokes(long pos, long tid, List<Long> all) throws IOException {
        if (all.isEmpty()) return pos;
        int rec = revokeRecord();
        int room = revokeRoom();
        for (int i = 0; i < all.size(); ) {
            ByteBuffer r = header(REVOKE, tid);
            int off = 16;
            while (i < all.size() && off + rec <= 16 + room) {
                if (is64) r.putLong(off, all.get(i)); else r.putInt(off, (int) (long) all.get(i));
                off += rec;
                i++;
            }
            r.putInt(12, off);
            sealTail(r);
            writeLog(pos++, r);
        }
        return pos;
    }

    private ByteBuffer commitBlock(long tid) {
        ByteBuffer c = header(COMMIT, tid);
        java.time.Instant now = java.time.Instant.now();
        c.putLong(0x30, now.getEpochSecond()).putInt(0x38, now.getNano());
        if (csumV3) c.putInt(0x10, Crc32c.update(seed, c.array())); // type and size stay 0: they belong to the old v1 checksums
        return c;
    }

    private void writeLog(long jblock, ByteBuffer b) throws IOException {
        if (jblock >= maxLen) throw new IllegalStateException("journal overflow at block " + jblock + " of " + maxLen);
        dev.write(map.applyAsLong(jblock) * bs, b.duplicate().clear());
    }

    // ---- checkpoint ----

    /** A checkpoint that cannot write home aborts the journal as a failed commit does: the log still holds everything. */
    private void checkpointLocked() throws IOException {
        try {
            writeCheckpoint();
        } catch (IOException | RuntimeException e) {
            aborted(e);
            throw e;
        }
    }

    private void writeCheckpoint() throws IOException {
        if (checkpoint.isEmpty() && logEmpty) return;
        List<Long> blocks = new ArrayList<>(checkpoint.keySet());
        blocks.sort(null);
        for (long blk : blocks) dev.write(blk * bs, ByteBuffer.wrap(checkpoint.get(blk)));
        dev.flush();
        for (long blk : blocks) if (!running.contains(blk)) cache.markClean(blk);
        checkpoint.clear();
        head = first;
        logEmpty = true;
        writeJsb(0, nextTid);
        dev.flush();
        checkpoints++;
    }

    /** Writes the journal superblock with s_start (0 = empty) and s_sequence = the next transaction. */
    private void writeJsb(long start, long sequence) throws IOException {
        jsb.putInt(0x18, (int) sequence).putInt(0x1C, (int) start);
        if (csumV3) { jsb.putInt(0xFC, 0); jsb.putInt(0xFC, Crc32c.update(0xFFFFFFFF, jsb.array(), 0, 1024)); }
        // the block as read at open, not read again: a read error must not abort a commit that needs no read
        System.arraycopy(jsb.array(), 0, jsbRaw, 0, 1024);
        dev.write(jsbBlock * bs, ByteBuffer.wrap(jsbRaw.clone()));
    }

    /** Commits, writes everything home and leaves the log empty. */
    public synchronized void checkpointAll() throws IOException {
        commit();
        while (committing) await();
        checkpointLocked();
    }

    @Override public synchronized IOException failure() { return failed; }
    @Override public synchronized void abort(IOException cause) { if (failed == null) aborted(cause); }
    @Override public synchronized long runningTransaction() { return runningSeq; }
    @Override public synchronized boolean isCommitted(long t) { return committedSeq >= t; }
    @Override public void flush() throws IOException { dev.flush(); }

    @Override
    public synchronized void close() throws IOException {
        // no interrupt: a timed commit in its I/O would close the FileChannel (interruptible I/O); it finishes and close waits for it
        if (timer != null) timer.shutdown();
        if (failed != null) throw abortedError();
        checkpointAll();
    }

    /** Handles started, shared and exclusive, and the most that ran at once: how much metadata work overlapped. */
    public record Stats(long shared, long exclusive, int peakHandles) {
        @Override public String toString() { return shared + " shared and " + exclusive + " exclusive handles, at most " + peakHandles + " at once"; }
    }

    private long sharedStarted, exclusiveStarted;
    private int peakHandles;

    public synchronized Stats handleStats() { return new Stats(sharedStarted, exclusiveStarted, peakHandles); }

    /** Commits written so far. */
    public synchronized long commits() { return commits; }

    public synchronized String stats() {
        return commits + " commits, " + loggedBlocks + " blocks logged, " + checkpoints + " checkpoints";
    }
}
