package ext4j.fs;

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
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The write half of the filesystem-operations layer, a small façade over one class per concept:
 * {@link Transactions} (one handle per change, undo on failure), {@link Namespace} (names, links,
 * rename, attributes), {@link FileSpace} (a file's blocks), {@link Orphans} (unlinked-open and
 * truncating inodes, freeing), {@link XattrWrites} and {@link WritebackAllocation} (the engine's
 * metadata work). Every change runs in one journal handle; a failure aborts the handle, which undoes
 * every block it touched, so a failed operation changes nothing. One writer at a time (the
 * filesystem's writer lock).
 */
final class FsWriter {
    static final int LINK_MAX = 65000;
    /** Credits for one namespace operation: inodes, bitmaps, descriptors, superblock, a few directory and tree blocks. */
    static final int OP_CREDITS = 64;

    final Ext4FileSystem fs;
    final Volume vol;
    final BlockAllocator balloc;
    final InodeAllocator ialloc;
    /**
     * i_generation for a new inode. Not from a SecureRandom: its nextInt mixed a SHA-1 round into
     * every create (2% of mkfs -d's samples); a generation only has to differ when an inode number
     * is reused (NFS handles, FUSE's node ids), as Linux's get_random_u32 ones do.
     */
    static int newGeneration() { return java.util.concurrent.ThreadLocalRandom.current().nextInt(); }
    /** Extent trees as last stored, reused by the next edit of the same inode (see ExtentTreeCache). */
    final ExtentTreeCache trees = new ExtentTreeCache(256);
    final Transactions tx;
    final Namespace ns;
    final FileSpace space;
    /** File data copied on its own thread while a new filesystem is filled (mkfs -d); null otherwise. */
    DataCopier copier;
    final Orphans orphans;
    final XattrWrites xattrs;
    final WritebackAllocation writeback;
    /**
     * Regular files created since this filesystem was opened and not written yet: the ones whose
     * first write may store them inline (Linux's in-memory EXT4_STATE_MAY_INLINE_DATA; a file
     * created empty in an earlier mount gets blocks).
     */
    final java.util.Set<Long> mayInline = java.util.concurrent.ConcurrentHashMap.newKeySet(); // shared creates add to it
    /**
     * Files a buffered write moved out of the inode that have not been written back since. With
     * delalloc Linux keeps such a file inline on disk until writeback, so a truncate to 0 before
     * then leaves it inline (and empty); ext4j moves it at the write and puts it back then.
     * Concurrent: writeback removes entries without the writer lock.
     */
    final java.util.Set<Long> conversionPending = java.util.concurrent.ConcurrentHashMap.newKeySet();

    FsWriter(Ext4FileSystem fs, Volume vol, Journal journal) {
        this.fs = fs;
        this.vol = vol;
        this.balloc = new BlockAllocator(vol);
        this.ialloc = new InodeAllocator(vol);
        this.tx = new Transactions(this, journal);
        this.ns = new Namespace(this);
        this.space = new FileSpace(this);
        this.orphans = new Orphans(this);
        this.xattrs = new XattrWrites(this);
        this.writeback = new WritebackAllocation(this);
        journal.onAbort(balloc::aborted);
        journal.onAbort(ialloc::aborted);
        journal.onAbort(orphans::aborted);
        journal.onCommit(balloc::sealFrees);
        journal.onClose(vol::writeCounts);
    }

    /** The cached extent tree of an inode (tests: its cost counters), or null. */
    ext4j.extent.ExtentTree cachedTree(long ino) { return trees.get(ino); }

    InodeUpdate update(Inode inode) { return new InodeUpdate(vol, trees, inode); }
    InodeUpdate update(Inode.Editor fresh) throws IOException { return new InodeUpdate(vol, trees, fresh); }

    Journal journal() { return tx.journal(); }
    BlockAllocator balloc() { return balloc; }

    static long goalForInode(Volume vol, long ino) {
        Superblock sb = vol.superblock();
        long g = (ino - 1) / sb.inodesPerGroup();
        if (sb.hasIncompat(Features.INCOMPAT_FLEX_BG)) g &= ~((1L << sb.logGroupsPerFlex()) - 1);
        return sb.firstDataBlock() + g * Integer.toUnsignedLong(sb.blocksPerGroup());
    }

    static Inode.Timestamp now() {
        Instant t = Instant.now();
        return new Inode.Timestamp(t.getEpochSecond(), t.getNano());
    }

    // ---- transactions ----
    <T> T txn(String what, int credits, Transactions.Body<T> body) throws IOException { return tx.txn(what, credits, body); }
    void beforeFirstTxn(Transactions.FirstChange f) { tx.beforeFirstTxn(f); }
    boolean changed() { return tx.changed(); }
    void noteData(long ino) { tx.noteData(ino); }
    void commitForData(long ino) throws IOException { tx.commitForData(ino); }
    /** Flushes metadata and data to the device. */
    void sync() throws IOException {
        if (copier != null) copier.drain();
        tx.journal().commit();
    }

    /** The data copies still queued reach the device (before the filesystem is closed or read back). */
    void drainCopies() throws IOException { if (copier != null) copier.drain(); }

    void closeCopier() throws IOException {
        DataCopier c = copier;
        copier = null;
        if (c != null) c.close();
    }

    // ---- namespace ----
    Namespace.Target target(Inode parent, byte[] name, String shown) throws FsException { return ns.target(parent, name, shown); }
    Inode create(String path, Namespace.NewInode what) throws IOException { return ns.create(path, what); }
    Inode create(Namespace.Target t, Namespace.NewInode what) throws IOException { return ns.create(t, what); }
    Inode createFilled(Namespace.Target t, Namespace.NewInode what, java.nio.channels.FileChannel src, long len) throws IOException { return space.createFilled(t, what, src, len); }
    void link(String existing, String newPath) throws IOException { ns.link(existing, newPath); }
    void link(Inode src, Namespace.Target t, String existing) throws IOException { ns.link(src, t, existing); }
    void unlink(String path) throws IOException { ns.unlink(path); }
    void unlink(Namespace.Target t) throws IOException { ns.unlink(t); }
    void rmdir(String path) throws IOException { ns.rmdir(path); }
    void rmdir(Namespace.Target t) throws IOException { ns.rmdir(t); }
    void rename(String from, String to) throws IOException { ns.rename(from, to); }
    void rename(Namespace.Target src, Namespace.Target dst, int flags) throws IOException { ns.rename(src, dst, flags); }
    void setattr(String path, boolean follow, java.util.function.Consumer<Inode.Editor> change) throws IOException { ns.setattr(path, follow, change); }
    void setattr(Inode ino, java.util.function.Consumer<Inode.Editor> change) throws IOException { ns.setattr(ino, change); }

    // ---- orphans and open pins ----
    boolean isPinned(long ino) { return orphans.isPinned(ino); }
    void pin(long ino) { orphans.pin(ino); }
    void unpin(long ino) throws IOException { orphans.unpin(ino); }
    void unpinAll() throws IOException { orphans.unpinAll(); }
    void processOrphans() throws IOException { orphans.processOrphans(); }
    boolean noOrphans() throws IOException { return orphans.noOrphans(); }
    /** Inodes freed whose cached state must go (the caller drops it, then calls {@link #releasedDropped}). */
    List<Long> released() {
        List<Long> gone = orphans.releasedSoFar();
        mayInline.removeAll(gone);
        conversionPending.removeAll(gone);
        return gone;
    }

    void releasedDropped(List<Long> gone) { orphans.dropped(gone); }

    // ---- file space ----
    void writeFrom(Inode file, java.nio.channels.FileChannel src, long len) throws IOException { space.writeFrom(file, src, len); }
    void writeFromTaking(Inode file, java.nio.channels.FileChannel src, long len) throws IOException { space.writeFrom(file, src, len, true); }
    void prepareForIo(Inode file) throws IOException { space.prepareForIo(file); }
    void prepareForWrite(Inode file) throws IOException { space.prepareForWrite(file); }
    void prepareForTruncate(Inode file) throws IOException { space.prepareForTruncate(file); }
    boolean writeInline(Inode file, long pos, ByteBuffer src) throws IOException { return space.writeInline(file, pos, src, true); }
    boolean truncateInline(Inode file, long size) throws IOException { return space.truncateInline(file, size); }
    void reinlineEmpty(Inode file) throws IOException { space.reinlineEmpty(file); }
    void truncate(Inode file, long size, long cut) throws IOException { space.truncate(file, size, cut); }
    void checkTruncate(Inode file, long size) throws FsException { space.checkTruncate(file, size); }
    void checkWrite(Inode file, long pos, long len) throws FsException { space.checkWrite(file, pos, len); }
    static void checkNotVerity(Inode file) throws FsException { FileSpace.checkNotVerity(file); }
    void fallocate(Inode file, long off, long len, boolean keepSize) throws IOException { space.fallocate(file, off, len, keepSize); }
    void zeroToUnwritten(Inode file, long off, long len) throws IOException { space.zeroToUnwritten(file, off, len); }
    void punch(Inode file, long off, long len) throws IOException { space.punch(file, off, len); }
    void shiftRange(Inode file, long off, long len, boolean collapse) throws IOException { space.shiftRange(file, off, len, collapse); }
    void enableVerity(Inode file, long pos, ByteBuffer metadata) throws IOException { space.enableVerity(file, pos, metadata); }
    long maxFileSize(Inode f) { return space.maxFileSize(f); }

    // ---- xattrs ----
    void setXattr(Inode file, String name, byte[] value, int flags) throws IOException { xattrs.setXattr(file, name, value, flags); }

    // ---- writeback ----
    Extent allocateForWriteback(long ino, long lblk, long n, boolean fromReservation) throws IOException { return writeback.allocateForWriteback(ino, lblk, n, fromReservation); }
    void unmapFailedWrite(long ino, long from, long to) throws IOException { writeback.unmapFailedWrite(ino, from, to); }
    Extent allocateWritten(long ino, long lblk, long n, long newSize) throws IOException { return writeback.allocateWritten(ino, lblk, n, newSize); }
    List<Extent> allocateDelayedForWriteback(long ino, List<long[]> ranges) throws IOException { return writeback.allocateDelayedForWriteback(ino, ranges); }
    void completeWriteback(ext4j.iomap.CachedFile f, List<long[]> ranges, boolean convert, Inode.Timestamp mtime) throws IOException { writeback.completeWriteback(f, ranges, convert, mtime); }
}
