package ext4j.fs;

import ext4j.base.Errno;
import ext4j.base.FsException;

import ext4j.base.LockOrder;
import ext4j.block.BlockBusyException;
import ext4j.alloc.BlockAllocator;
import ext4j.alloc.InodeAllocator;
import ext4j.dir.DirEntry;
import ext4j.dir.DirectoryEditor;
import ext4j.extent.BlockMapping;
import ext4j.extent.Extent;
import ext4j.extent.ExtentTree;
import ext4j.extent.IndirectMapping;
import ext4j.xattr.PosixAcl;
import ext4j.xattr.XattrCodec;
import ext4j.journal.Handle;
import ext4j.journal.Journal;
import ext4j.ondisk.Features;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Superblock;
import ext4j.ondisk.Volume;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs each metadata change as one journal handle: the first change marks the filesystem in use, a
 * failure aborts the handle (every block it touched is put back), an ENOSPC while the running
 * transaction holds freed blocks commits it and retries once. Also remembers, per inode, the last
 * transaction that changed what reading its data needs, for fdatasync.
 */
final class Transactions {
    private final Journal journal;
    private final BlockAllocator balloc;
    private final ExtentTreeCache trees;

    Transactions(FsWriter w, Journal journal) {
        this.journal = journal;
        this.balloc = w.balloc;
        this.trees = w.trees;
    }

    Journal journal() { return journal; }

    interface Body<T> { T run(Handle h) throws IOException; }

    /**
     * Thrown by a shared change's body that finds it needs what only the writer lock gives (an
     * orphan list entry, an inode number whose cached state is not dropped yet): its handle is
     * undone and the caller runs the change again under the writer lock.
     */
    static final class ExclusiveNeeded extends RuntimeException {
        ExclusiveNeeded(String why) { super(why, null, false, false); }
    }

    /** Runs once, before the first transaction: marks the filesystem in use on disk (see Ext4FileSystem.enableWrites). */
    interface FirstChange { void run() throws IOException; }

    private volatile FirstChange beforeFirstTxn;

    private volatile boolean changed;

    void beforeFirstTxn(FirstChange f) { beforeFirstTxn = f; }

    /** Runs the first-change work once, whichever thread's transaction comes first. */
    private void firstChange() throws IOException {
        if (beforeFirstTxn == null) return;
        synchronized (this) {
            FirstChange f = beforeFirstTxn;
            if (f == null) return;
            beforeFirstTxn = null;
            f.run();
        }
    }

    /** Shared handles undone because another handle edited a block they asked for, and run again. */
    final java.util.concurrent.atomic.LongAdder busyRetries = new java.util.concurrent.atomic.LongAdder();

    /** Whether any transaction completed: an open that changed nothing leaves the image bytes as they were. */
    boolean changed() { return changed; }

    /** Operations that met ENOSPC, committed the running transaction (freeing its released blocks) and retried. */
    long enospcRetries;

    /** Per inode, the journal transaction that last changed what reading its data needs (size, mapping, existence). */
    private final java.util.Map<Long, Long> dataTransaction = new java.util.concurrent.ConcurrentHashMap<>();

    /** Called inside a handle (or just after one: later is only more conservative) that changed the inode's data layout. */
    void noteData(long ino) { dataTransaction.put(ino, journal.runningTransaction()); }

    /**
     * fdatasync's metadata half: commits only if a transaction that changed the inode's size or
     * mapping is not on disk yet (a timestamp change alone waits for the next commit); else just
     * flushes the device, so the data written back is durable.
     */
    void commitForData(long ino) throws IOException {
        Long t = dataTransaction.get(ino);
        if (t == null || journal.isCommitted(t)) journal.flush();
        else journal.commit();
    }

    /** Runs body in one handle, alone (an exclusive handle); any failure undoes everything the handle touched. */
    <T> T txn(String what, int credits, Body<T> body) throws IOException { return run(what, credits, body, false); }

    /**
     * Runs body in a shared handle, beside other threads' shared handles. body must be safe to run
     * again: when it asks for a block another handle edits, its handle is undone, it waits for that
     * handle to end and runs again; after two such meetings it runs in an exclusive handle, which
     * cannot meet another, so it always ends (and two handles never wait for each other).
     */
    <T> T txnShared(String what, int credits, Body<T> body) throws IOException { return run(what, credits, body, true); }

    private <T> T run(String what, int credits, Body<T> body, boolean shared) throws IOException {
        firstChange();
        int busy = 0;
        for (int attempt = 0; ; attempt++) {
            Handle h = shared && busy < 2 ? journal.startShared(what, credits) : journal.start(what, credits);
            LockOrder.enter(LockOrder.Level.HANDLE);
            try {
                T r = body.run(h);
                LockOrder.exit(LockOrder.Level.HANDLE);
                h.stop();
                changed = true;
                return r;
            } catch (BlockBusyException e) {
                boolean nested = h.isNested();
                LockOrder.exit(LockOrder.Level.HANDLE);
                h.abort();
                trees.clear();
                if (nested) throw e;            // the outermost level runs the body again
                busy++;
                busyRetries.increment();
                journal.awaitHandleOf(e.owner());
            } catch (FsException e) {
                LockOrder.exit(LockOrder.Level.HANDLE);
                h.abort();
                trees.clear();                  // trees edited in the aborted handle are not what the blocks say now
                // blocks freed by the running transaction become usable once it commits: commit and retry once
                if (e.errno() == Errno.ENOSPC && attempt == 0 && balloc.hasPendingFrees()) { enospcRetries++; journal.commit(); continue; }
                throw e;
            } catch (IOException | RuntimeException | Error e) {
                LockOrder.exit(LockOrder.Level.HANDLE);
                h.abort();
                trees.clear();
                throw e;
            }
        }
    }
}
