package ext4j.fs;

import ext4j.base.Errno;
import ext4j.base.FsException;

import ext4j.base.LockOrder;
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

    /** Runs once, before the first transaction: marks the filesystem in use on disk (see Ext4FileSystem.enableWrites). */
    interface FirstChange { void run() throws IOException; }

    private FirstChange beforeFirstTxn;

    private boolean changed;

    void beforeFirstTxn(FirstChange f) { beforeFirstTxn = f; }

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

    /** Runs body in one handle; any failure undoes everything the handle touched. */
    <T> T txn(String what, int credits, Body<T> body) throws IOException {
        if (beforeFirstTxn != null) {
            FirstChange f = beforeFirstTxn;
            beforeFirstTxn = null;
            f.run();
        }
        for (int attempt = 0; ; attempt++) {
            Handle h = journal.start(what, credits);
            LockOrder.enter(LockOrder.Level.HANDLE);
            try {
                T r = body.run(h);
                LockOrder.exit(LockOrder.Level.HANDLE);
                h.stop();
                changed = true;
                return r;
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
