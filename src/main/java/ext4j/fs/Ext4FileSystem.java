package ext4j.fs;

import ext4j.base.Errno;
import ext4j.base.FsException;

import ext4j.block.BlockDevice;
import ext4j.base.LockOrder;
import ext4j.block.FileBlockDevice;
import ext4j.dir.DirEntry;
import ext4j.dir.Directory;
import ext4j.extent.FileMap;
import ext4j.extent.Run;
import ext4j.journal.JournalRecovery;
import ext4j.journal.JournalSuperblock;
import ext4j.block.OverlayBlockDevice;
import java.util.HashMap;
import java.util.Map;
import ext4j.base.CorruptException;
import ext4j.ondisk.Features;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Superblock;
import ext4j.ondisk.Volume;
import ext4j.xattr.Xattr;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import ext4j.iomap.BufferedIo;
import ext4j.iomap.CachedFile;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The filesystem-operations layer: opens an image with the feature policy, resolves absolute
 * paths, and reads directories, files, symlinks and xattrs. The one place that speaks POSIX
 * (errno) rather than on-disk structures.
 */
// public for the module's own layers and tests, not API: front ends use Ext4Vfs, so the internal types its
// methods name (Inode, BlockDevice, Volume...) stay unexported
@SuppressWarnings("exports")
public final class Ext4FileSystem implements Closeable {
    private static final int MAX_SYMLINK_FOLLOWS = 40;
    private static final int MAX_PATH_COMPONENTS = 4096;

    private final Volume vol;
    private volatile FsWriter writer; // null when read-only
    private final FileIo files;  // file data through the buffered I/O engine
    private final List<String> warnings;

    private final InodeReader reader;

    private Ext4FileSystem(Volume vol, List<String> warnings) {
        this.vol = vol;
        this.warnings = warnings;
        this.reader = new InodeReader(this, vol);
        this.files = new FileIo(this, vol, reader);
    }

    /** How an opened device becomes a filesystem; the device is closed if this fails. */
    private interface Opener { Ext4FileSystem open(BlockDevice dev) throws IOException; }

    private static Ext4FileSystem openPath(Path image, boolean readOnly, Opener how) throws IOException {
        BlockDevice dev = FileBlockDevice.open(image, readOnly);
        try {
            return how.open(dev);
        } catch (IOException | RuntimeException e) {
            dev.close();
            throw e;
        }
    }

    /** Opens an image or device read-only, applying the feature policy (a dirty journal is replayed in memory). */
    public static Ext4FileSystem openReadOnly(Path image) throws IOException {
        return openPath(image, true, dev -> {
            Ext4FileSystem fs = open(dev);
            fs.vol.cacheInodeViews();   // nothing writes inodes from here on (a dirty journal was replayed in memory by open)
            return fs;
        });
    }

    /** Opens read-only exactly as on disk: a journal that needs recovery is reported, not replayed (`ext4j info`). */
    public static Ext4FileSystem openReadOnlyAsIs(Path image) throws IOException {
        return openPath(image, true, dev -> {
            Ext4FileSystem fs = openAsIs(dev, false);
            if (new Recovery(fs).needsRecovery())
                fs.warnings.add("needs_recovery is set and the journal holds transactions: shown as on disk, not replayed (`ext4j recover` replays them; other commands show the replayed state)");
            return fs;
        });
    }

    /**
     * Opens an image or device for writing, replaying a dirty journal first. Refused (EROFS, with
     * the reason) when the filesystem uses a feature ext4j cannot write, was marked with errors, or
     * has metadata that fails a checksum, unless force is set.
     */
    public static Ext4FileSystem openReadWrite(Path image, boolean force) throws IOException {
        return openPath(image, false, dev -> openReadWrite(dev, force));
    }

    /** Opens an image or device for writing with these options (commit interval, cache, delalloc). */
    public static Ext4FileSystem openReadWrite(Path image, Options options) throws IOException {
        return openPath(image, false, dev -> openReadWrite(dev, options));
    }

    /**
     * Opens a filesystem that mkfs has just made, to fill it (mkfs -d): writes go home in batches
     * without the journal, as mke2fs -d writes; a crash means making it again.
     */
    public static Ext4FileSystem openForPopulating(Path image) throws IOException {
        return openPath(image, false, dev -> {
            Ext4FileSystem fs = open(dev, true);
            fs.populating = true;
            fs.vol.cacheInodeViews();
            fs.enableWrites(false, false);
            fs.writer.copier = new DataCopier(fs.vol.device());
            return fs;
        });
    }

    /** Opens any device (a memory image, a recording device) for writing; see {@link #openReadWrite(Path, boolean)}. */
    public static Ext4FileSystem openReadWrite(BlockDevice dev, boolean force) throws IOException {
        return openReadWrite(dev, Options.defaults().withForce(force));
    }

    /** Opens any device for writing with these options (its readOnly flag is ignored: see {@link #open(BlockDevice)}). */
    public static Ext4FileSystem openReadWrite(BlockDevice dev, Options options) throws IOException {
        Ext4FileSystem fs = open(dev, true);
        fs.options = options;
        fs.enableWrites(options.force(), options.journal());
        return fs;
    }

    /** Settings of this open (commit interval, cache, delalloc). */
    private Options options = Options.defaults();

    private void enableWrites(boolean force, boolean journaled) throws IOException {
        Superblock s = sb();
        FeaturePolicy.checkWritable(vol, s.hasIncompat(Features.INCOMPAT_RECOVER) ? journalSuperblock() : null, force);
        // Like a Linux mount, the filesystem is marked in use on disk (needs_recovery with a journal, not
        // clean without one), but only when the first transaction starts: a command that fails or changes
        // nothing leaves the image bytes exactly as they were.
        if (s.hasCompat(Features.COMPAT_HAS_JOURNAL) && s.journalInode() != 0 && journaled) {
            long[] jmap = new Recovery(this).journalBlockMap();
            var journal = new ext4j.journal.JbdJournal(vol.cache(), l -> jmap[(int) l], s.is64bit(), s.hasMetadataCsum(), options.commitMillis());
            writer = new FsWriter(this, vol, journal);
            writer.beforeFirstTxn(() -> { vol.updateSuperblockDirect(e -> orphansMayBePresent(e.setIncompat(Features.INCOMPAT_RECOVER))); inUse = true; });
            // needs_recovery over an empty log (a writer killed before its first commit): in use from now
            // on, so close clears it, as a Linux mount does; else e2fsck -n would call for a recovery forever
            if (s.hasIncompat(Features.INCOMPAT_RECOVER)) inUse = true;
        } else {
            writer = new FsWriter(this, vol, new ext4j.journal.WriteThroughJournal(vol.cache(), 2048, !populating));
            writer.beforeFirstTxn(() -> { vol.updateSuperblockDirect(e -> orphansMayBePresent(e.clearState(Superblock.STATE_VALID))); inUse = true; });
        }
        // orphan_present left by a crash: close clears it once the orphans are processed, as a Linux unmount does
        if (s.hasRoCompat(Features.RO_ORPHAN_PRESENT)) inUse = true;
        if (!replayingFastCommits) writer.processOrphans();   // a mount processes orphans after the whole replay
        Ext4MappingOps iops = new Ext4MappingOps(this, writer, writer.balloc(), options.delalloc());
        files.attach(writer, iops, new BufferedIo(vol.device(), iops, options.cacheBytes(), Math.max(FOLIO_SIZE, vol.blockSize())));
    }

    private static final int FOLIO_SIZE = 64 << 10;

    /**
     * With the orphan_file feature, a filesystem in use carries orphan_present (Linux sets it at a
     * read-write mount and clears it at unmount): a crash then tells the next mount or e2fsck to read
     * the orphan file.
     */
    private void orphansMayBePresent(Superblock.Editor e) {
        if (sb().hasCompat(Features.COMPAT_ORPHAN_FILE)) e.setRoCompat(Features.RO_ORPHAN_PRESENT);
    }


    public boolean isWritable() { return writer != null; }

    /** Filling a new filesystem (mkfs -d): no undo images; a failure fails the whole mkfs. */
    private boolean populating;

    boolean populating() { return populating; }
    /** A scratch open that applies fast commits (see FastCommitReplay): orphans wait for the real open. */
    private boolean replayingFastCommits;

    /** Opens a journal-replayed view for writing without a journal, orphans untouched: FastCommitReplay's scratch filesystem. */
    static Ext4FileSystem openForFastCommitReplay(BlockDevice dev) throws IOException {
        Ext4FileSystem fs = openAsIs(dev, true);
        fs.replayingFastCommits = true;
        fs.enableWrites(true, false);
        return fs;
    }

    FsWriter writer() { return writer; }

    /** Set once the on-disk superblock says "in use" (see enableWrites). */
    private boolean inUse;

    /** The journal behind the writer (tests only); null when read-only. */
    ext4j.journal.Journal journalForTest() { return writer == null ? null : writer.journal(); }

    FsWriter writerForTest() { return writer; }

    void abandonForTest() throws IOException { writer = null; if (files.engine() != null) files.engine().close(); vol.close(); }

    /** Why the filesystem turned read-only while open (a failed journal commit), or null. */
    private volatile IOException readOnlyCause;

    /**
     * A failed commit aborts the journal; like ext4's errors=remount-ro the filesystem then turns
     * read-only: no new handles, writeback starts nothing, dirty data stays readable in the cache
     * and fsync, sync and close report EROFS with the cause.
     */
    private boolean turnedReadOnly() {
        if (readOnlyCause == null && writer != null && writer.journal().failure() != null) {
            readOnlyCause = writer.journal().failure();
            if (files.engine() != null) files.engine().setReadOnly();
        }
        return readOnlyCause != null;
    }

    /**
     * Damage found while open (errors=remount-ro): what was written so far is committed if it can
     * be, then the filesystem turns read-only with the damage as the cause. Reads go on.
     */
    public synchronized void reportCorruption(ext4j.base.CorruptException damage) { turnReadOnly(damage); }

    /** errors=remount-ro for a cause found while open (damage, an operation the cache and the disk can no longer agree on). */
    synchronized void turnReadOnly(IOException damage) {
        if (writer == null || readOnlyCause != null) return;
        try {
            sync();                                   // the damage is old: what callers wrote is not, keep it
        } catch (IOException | RuntimeException e) {
            damage.addSuppressed(e);
        }
        readOnlyCause = damage;
        if (files.engine() != null) files.engine().setReadOnly();
    }

    /** Why the filesystem turned read-only while open, or null. */
    public synchronized IOException readOnlyCause() { turnedReadOnly(); return readOnlyCause; }

    FsWriter w() throws IOException {
        if (writer == null) throw new FsException(Errno.EROFS, vol.device().name());
        if (turnedReadOnly()) throw new FsException(Errno.EROFS, vol.device().name() + ": read-only after an error: " + readOnlyCause.getMessage());
        dropReleased(); // before an inode number can be reused, its old cached state is gone
        return writer;
    }

    // ---- writing (each call is one atomic handle; failures change nothing) ----

    public synchronized Inode mkdir(String path, int perm, long uid, long gid) throws IOException {
        return w().create(path, new Namespace.NewInode(Inode.S_IFDIR | (perm & 07777), uid, gid, 0, null));
    }

    public synchronized Inode createFile(String path, int perm, long uid, long gid) throws IOException {
        return w().create(path, new Namespace.NewInode(Inode.S_IFREG | (perm & 07777), uid, gid, 0, null));
    }

    /** createFile with given access and modification times (bulk copies: one handle instead of two). */
    public synchronized Inode createFile(String path, int perm, long uid, long gid, Inode.Timestamp atime, Inode.Timestamp mtime) throws IOException {
        return w().create(path, new Namespace.NewInode(Inode.S_IFREG | (perm & 07777), uid, gid, 0, null, atime, mtime));
    }

    /** Creates a device, fifo or socket node; mode carries the type bits. */
    public synchronized Inode mknod(String path, int mode, long rdev, long uid, long gid) throws IOException {
        int type = mode & Inode.S_IFMT;
        if (type != Inode.S_IFCHR && type != Inode.S_IFBLK && type != Inode.S_IFIFO && type != Inode.S_IFSOCK && type != Inode.S_IFREG)
            throw new FsException(Errno.EINVAL, path);
        return w().create(path, new Namespace.NewInode(mode, uid, gid, rdev, null));
    }

    public synchronized Inode symlink(String path, byte[] target, long uid, long gid) throws IOException {
        return w().create(path, new Namespace.NewInode(Inode.S_IFLNK | 0777, uid, gid, 0, target));
    }

    public synchronized void link(String existing, String newPath) throws IOException { w().link(existing, newPath); }
    public synchronized void unlink(String path) throws IOException { try { w().unlink(path); } finally { dropReleased(); } }
    public synchronized void rmdir(String path) throws IOException { w().rmdir(path); }
    public synchronized void rename(String from, String to) throws IOException { try { w().rename(from, to); } finally { dropReleased(); } }

    public synchronized void chmod(String path, int perm) throws IOException {
        w().setattr(path, true, e -> e.mode((e.mode() & Inode.S_IFMT) | (perm & 07777)).ctime(FsWriter.now()));
    }

    public synchronized void chown(String path, long uid, long gid, boolean follow) throws IOException {
        w().setattr(path, follow, e -> { if (uid >= 0) e.uid(uid); if (gid >= 0) e.gid(gid); e.ctime(FsWriter.now()); });
    }

    /** Sets atime and mtime (null leaves one unchanged); ctime becomes now. */
    public synchronized void utimens(String path, Inode.Timestamp atime, Inode.Timestamp mtime, boolean follow) throws IOException {
        if (mtime != null) clearPendingMtime(resolve(path, follow).number());
        w().setattr(path, follow, e -> { if (atime != null) e.atime(atime); if (mtime != null) e.mtime(mtime); e.ctime(FsWriter.now()); });
    }

    /** Fills an empty file with the first len bytes of src (a host file without holes): a device-side copy; times unchanged. */
    public synchronized void writeFrom(Inode file, java.nio.channels.FileChannel src, long len) throws IOException { w().writeFrom(file, src, len); }

    /** writeFrom, src then this call's to close: while populating, the bytes may move later on another thread (see DataCopier). */
    public synchronized void writeFromTaking(Inode file, java.nio.channels.FileChannel src, long len) throws IOException { w().writeFromTaking(file, src, len); }

    /** utimens on an inode already looked up (bulk copies: no second path walk). */
    public synchronized void utimens(Inode inode, Inode.Timestamp atime, Inode.Timestamp mtime) throws IOException {
        if (mtime != null) clearPendingMtime(inode.number());
        w().setattr(inode, e -> { if (atime != null) e.atime(atime); if (mtime != null) e.mtime(mtime); e.ctime(FsWriter.now()); });
    }

    /** Writes src at pos; returns the bytes written (all of them). */
    public synchronized int write(String path, long pos, ByteBuffer src) throws IOException {
        LockOrder.enter(LockOrder.Level.WRITER);
        try {
            int n = src.remaining();
            write(resolve(path, true), pos, src);
            return n;
        } finally {
            LockOrder.exit(LockOrder.Level.WRITER);
        }
    }

    /**
     * Buffered write through the engine: the bytes land in the page cache (delayed allocation) and
     * reach the disk at writeback (fsync, sync, memory pressure, close).
     */
    public synchronized void write(Inode file, long pos, ByteBuffer src) throws IOException { files.write(file, pos, src); }
    /** truncate(2): the cache first (dropped past the new EOF, or the old EOF block's tail zeroed), then the inode. */
    public synchronized void truncate(String path, long size) throws IOException { truncate(resolve(path, true), size); }

    public synchronized void truncate(Inode file, long size) throws IOException { files.truncate(file, size); }
    /** fallocate(2): the file's dirty data is written back first, so the new unwritten extents never meet delayed ranges. */
    public synchronized void fallocate(String path, long off, long len, boolean keepSize) throws IOException {
        fallocate(resolve(path, true), off, len, keepSize);
    }

    synchronized void fallocate(Inode file, long off, long len, boolean keepSize) throws IOException { files.fallocate(file, off, len, keepSize); }

    /** Hole punch: dirty data written back, the blocks of the range dropped from the cache, then deallocated. */
    public synchronized void punchHole(String path, long off, long len) throws IOException { punchHole(resolve(path, true), off, len); }

    synchronized void punchHole(Inode file, long off, long len) throws IOException { files.punchHole(file, off, len); }

    /** FALLOC_FL_COLLAPSE_RANGE (collapse) or FALLOC_FL_INSERT_RANGE (see FileIo.shiftRange). */
    synchronized void shiftRange(Inode file, long off, long len, boolean collapse) throws IOException { files.shiftRange(file, off, len, collapse); }

    /** FALLOC_FL_ZERO_RANGE as ext4 does it (see FileIo.zeroRange); returns whether edge data had to be zeroed. */
    public synchronized boolean zeroRange(String path, long off, long len, boolean keepSize) throws IOException {
        return zeroRange(resolve(path, true), off, len, keepSize);
    }

    synchronized boolean zeroRange(Inode file, long off, long len, boolean keepSize) throws IOException { return files.zeroRange(file, off, len, keepSize); }
    /** fsync(2): the file's data written back and converted, then the journal committed and the device flushed. */
    public void fsync(String path) throws IOException { fsync(path, false); }

    /**
     * fdatasync(2): the file's data is written back and durable, and the journal commits only if
     * the file's size or mapping changed since the last commit (a new mtime alone does not force one).
     */
    public void fdatasync(String path) throws IOException { fsync(path, true); }

    private void fsync(String path, boolean dataOnly) throws IOException { fsync(resolve(path, true).number(), dataOnly); }

    /** fsync(2) or fdatasync(2) of an inode (a directory's commits the journal). */
    void fsync(long ino, boolean dataOnly) throws IOException {
        FsWriter wr;
        synchronized (this) {
            LockOrder.enter(LockOrder.Level.WRITER);
            try {
                Inode file = inode(ino);
                wr = w();
                files.writtenBack(file);
            } finally {
                LockOrder.exit(LockOrder.Level.WRITER);
            }
        }
        // The commit runs outside the filesystem lock, so other threads go on changing files meanwhile;
        // fsyncs that queue behind a commit find their changes in the next one and share it (group commit).
        if (dataOnly) wr.commitForData(ino); else wr.sync();
    }

    /** Inodes freed by the last operation lose their cached data and delayed-allocation reservations. */
    private void dropReleased() throws IOException { files.dropReleased(); }

    /** An explicit mtime (setattr) wins over the one a buffered write left pending. */
    void clearPendingMtime(long ino) { files.clearPendingMtime(ino); }

    /**
     * Blocks of fixed metadata and the journal, which Linux's statfs leaves out of f_blocks: the
     * superblock's s_overhead_clusters when mke2fs stored it, else counted group by group.
     */
    long metadataOverhead() throws IOException {
        Superblock s = sb();
        long stored = s.overheadClusters();
        if (stored != 0) return stored;
        int bs = vol.blockSize();
        long descBlocks = ext4j.alloc.GroupLayout.descBlocks(s);
        long itBlocks = ((long) s.inodesPerGroup() * s.inodeSize() + bs - 1) / bs;
        long n = s.firstDataBlock();
        for (long g = 0; g < vol.groupCount(); g++) n += (s.groupHasSuper(g) ? 1 + descBlocks + s.reservedGdtBlocks() : 0) + 2 + itBlocks;
        if (s.hasCompat(Features.COMPAT_HAS_JOURNAL) && s.journalInode() != 0) n += inode(Integer.toUnsignedLong(s.journalInode())).blocks512(vol.blockSize()) / (vol.blockSize() / 512);
        return n;
    }


    /** Writes all cached data back and drops the page cache (like echo 3 > drop_caches after sync). */
    public synchronized void dropCaches() throws IOException { files.dropCaches(); }

    /** Engine and cache statistics (benchmarks, debugging). */
    public synchronized String ioStats() { return files.stats(); }

    /** setxattr(2): value null removes (removexattr); flags 0, 1 = XATTR_CREATE, 2 = XATTR_REPLACE. ACL values are in the Linux xattr format. */
    public synchronized void setXattr(String path, String name, byte[] value, int flags, boolean follow) throws IOException {
        w().setXattr(resolve(path, follow), name, value, flags);
    }

    public synchronized void removeXattr(String path, String name, boolean follow) throws IOException {
        w().setXattr(resolve(path, follow), name, null, 0);
    }

    /** setxattr/removexattr (value null) on an inode. */
    synchronized void setXattr(Inode inode, String name, byte[] value, int flags) throws IOException {
        w().setXattr(inode, name, value, flags);
    }

    // ---- the inode API's namespace calls (Ext4Vfs takes the inode locks; each is one handle) ----

    /*
     * Shared changes: creates and unlinks that qualify (Namespace.mayShare, unlinkShared) run
     * without the writer lock, in shared journal handles, so two of them in different directories
     * (each locked by Ext4Vfs) overlap; they hold sharedChanges' read side, which close takes
     * exclusively. Everything else still runs under the writer lock and in exclusive handles.
     */
    private final java.util.concurrent.locks.ReentrantReadWriteLock sharedChanges = new java.util.concurrent.locks.ReentrantReadWriteLock();

    /** The writer for a shared change: w()'s checks without the writer lock (the cached state of freed inodes is dropped by the next w()). */
    private FsWriter sharedWriter() throws IOException {
        FsWriter wr = writer;
        if (wr == null) throw new FsException(Errno.EROFS, vol.device().name());
        IOException cause = readOnlyCause != null ? readOnlyCause : wr.journal().failure();
        if (cause != null) throw new FsException(Errno.EROFS, vol.device().name() + ": read-only after an error: " + cause.getMessage());
        return wr;
    }

    Inode create(Inode parent, byte[] name, Namespace.NewInode what) throws IOException { return create(parent, name, what, false); }

    /** absent: the caller knows name is not in parent (see Namespace.Target). */
    Inode create(Inode parent, byte[] name, Namespace.NewInode what, boolean absent) throws IOException {
        if (Namespace.mayShare(what) && !populating) {       // a fill has one thread, and its handles edit published blocks in place
            sharedChanges.readLock().lock();
            try {
                FsWriter wr = sharedWriter();
                Namespace.Target t = wr.target(parent, name, shown(parent, name));
                return wr.ns.create(absent ? t.knownAbsent() : t, what, null, true);
            } catch (Transactions.ExclusiveNeeded e) {
                // undone: run under the writer lock below
            } finally {
                sharedChanges.readLock().unlock();
            }
        }
        synchronized (this) {
            FsWriter wr = w();
            Namespace.Target t = wr.target(parent, name, shown(parent, name));
            return wr.create(absent ? t.knownAbsent() : t, what);
        }
    }

    /** create of a regular file with the first len bytes of src as its data (see FileSpace.createFilled); src is this call's to close. */
    synchronized Inode createFilled(Inode parent, byte[] name, Namespace.NewInode what, FileChannel src, long len, boolean absent) throws IOException {
        FsWriter wr;
        try { wr = w(); } catch (IOException | RuntimeException e) { src.close(); throw e; }
        Namespace.Target t;
        try { t = wr.target(parent, name, shown(parent, name)); } catch (IOException | RuntimeException e) { src.close(); throw e; }
        return wr.createFilled(absent ? t.knownAbsent() : t, what, src, len);
    }

    synchronized void link(Inode src, Inode parent, byte[] name) throws IOException {
        FsWriter wr = w();
        wr.link(src, wr.target(parent, name, shown(parent, name)), "inode " + src.number());
    }

    void unlink(Inode parent, byte[] name) throws IOException {
        Inode victim = null;
        FsWriter shared = null;
        sharedChanges.readLock().lock();
        try {
            FsWriter wr = shared = sharedWriter();
            victim = wr.ns.unlinkShared(wr.target(parent, name, shown(parent, name)), files::holds);
        } catch (Transactions.ExclusiveNeeded e) {
            // undone: run under the writer lock below
        } finally {
            sharedChanges.readLock().unlock();
        }
        if (victim != null && !shared.orphans.mayHaveOrphans()) return;      // it cannot have been an orphan already
        synchronized (this) {
            FsWriter wr = w();
            if (victim != null) { wr.orphans.finishOrphan(victim.number()); return; } // it was one already: finished as unlink does
            try { wr.unlink(wr.target(parent, name, shown(parent, name))); } finally { dropReleased(); }
        }
    }

    synchronized void rmdir(Inode parent, byte[] name) throws IOException {
        FsWriter wr = w();
        wr.rmdir(wr.target(parent, name, shown(parent, name)));
    }

    synchronized void rename(Inode from, byte[] name, Inode to, byte[] newName, int flags) throws IOException {
        FsWriter wr = w();
        try { wr.rename(wr.target(from, name, shown(from, name)), wr.target(to, newName, shown(to, newName)), flags); }
        finally { dropReleased(); }
    }

    synchronized void setattr(Inode inode, java.util.function.Consumer<Inode.Editor> change) throws IOException {
        w().setattr(inode, change);
    }

    /** How an (directory, name) pair is named in messages: the inode, then the name (bytes that are not UTF-8 escaped). */
    static String shown(Inode dir, byte[] name) {
        StringBuilder b = new StringBuilder("directory inode ").append(dir.number()).append(", name '");
        for (byte c : name) {
            if (c >= 0x20 && c < 0x7F && c != '\\') b.append((char) c);
            else b.append(String.format("\\x%02x", c & 0xFF));
        }
        return b.append('\'').toString();
    }

    /**
     * Whether dir is node or one of its ancestors, walking ".." up to the root (bounded; a
     * non-directory has no descendants). rename's checks and the core's parent lock order use it;
     * stable while the rename lock is held.
     */
    boolean isAncestorOrSelf(long dir, long node) throws IOException {
        long cur = node;
        for (int i = 0; i < 65536; i++) {
            if (cur == dir) return true;
            if (cur == Inode.ROOT) return false;
            Inode c = diskInode(cur);
            if (!c.isDir()) return false;
            DirEntry up = directory(c).lookup(new byte[] {'.', '.'});
            if (up == null || up.inode() == cur) return false;
            cur = up.inode();
        }
        throw new FsException(Errno.ELOOP, "inode " + node + ": '..' chain does not reach the root");
    }

    /** Whether an unlinked inode is still open (pinned), so it is alive until its last close. */
    synchronized boolean isPinned(long ino) { return writer != null && writer.isPinned(ino); }

    /** Whether the engine holds data of bytes [from, to) of the inode that the disk does not have yet. */
    boolean hasUnwrittenCache(long ino, long from, long to) { return nextUnwrittenCache(ino, from) < to; }

    /** The offset of the first byte at or past from whose block the engine holds unwritten (Long.MAX_VALUE: none). */
    long nextUnwrittenCache(long ino, long from) { return files.nextUnwrittenCache(ino, from); }

    /** A regular file's cached data written back and its size settled (null when nothing is cached or it is not regular). */
    synchronized CachedFile writtenBack(Inode file) throws IOException { return files.writtenBack(file); }

    /** Blocks reserved for delayed allocation (counted as used by statfs, as Linux counts them). */
    synchronized long delayedBlocks() { return writer == null ? 0 : writer.balloc().reserved(); }

    /**
     * Marks an inode open (NIO channels, FUSE): if its last link is removed while pinned, it stays
     * on the orphan list with its blocks until {@link #unpin}.
     */
    public synchronized void pin(long ino) throws IOException { w().pin(ino); }
    public synchronized void unpin(long ino) throws IOException { try { w().unpin(ino); } finally { dropReleased(); } }

    /** Makes everything written so far durable. */
    public synchronized void sync() throws IOException {
        LockOrder.enter(LockOrder.Level.WRITER);
        try {
            if (writer == null) return;
            w();
            // a data write error does not stop the sync: the metadata is committed all the same and the error thrown after
            IOException dataError = files.writeBackAll();
            try {
                writer.sync();
            } catch (IOException | RuntimeException e) {
                if (dataError == null) throw e;
                dataError.addSuppressed(e);              // the write error first: the commit may have failed because of it
            }
            if (dataError != null) throw dataError;
        } finally {
            LockOrder.exit(LockOrder.Level.WRITER);
        }
    }

    public static Ext4FileSystem open(BlockDevice dev) throws IOException { return open(dev, false); }

    /**
     * Opens the filesystem on dev. A journal that needs recovery is replayed first, like a mount:
     * onto the device when it is writable, else in memory only (the image stays untouched).
     */
    private static Ext4FileSystem open(BlockDevice dev, boolean lenient) throws IOException {
        Ext4FileSystem fs = openAsIs(dev, lenient);
        Recovery rec = new Recovery(fs);
        if (!rec.needsRecovery()) return fs;
        JournalRecovery.Result r;
        try {
            r = FastCommitReplay.apply(rec, rec.scan());
        } catch (CorruptException e) {
            if (!dev.isReadOnly()) throw new CorruptException(dev.name() + ": journal recovery failed: " + e.getMessage());
            fs.warnings.add("the journal needs recovery but cannot be replayed (" + e.getMessage() + "): showing the last checkpointed state");
            return fs;
        }
        if (dev.isReadOnly()) {
            Map<Long, byte[]> view = new HashMap<>(r.blocks());
            view.put(rec.sbBlock(), rec.superblockBlockWithoutRecover(view.get(rec.sbBlock())));
            Ext4FileSystem replayed = openAsIs(new OverlayBlockDevice(dev, view, fs.vol.blockSize()), lenient);
            replayed.warnings.add("journal replayed in memory (" + r.transactions() + " transactions, " + fastCommitsShown(r) + r.blocks().size()
                    + " blocks); the image is unchanged: `ext4j recover` writes them");
            r.warnings().forEach(w -> replayed.warnings.add("journal: " + w));
            return replayed;
        }
        rec.replay(r);
        Ext4FileSystem recovered = openAsIs(dev, lenient);
        recovered.warnings.add("journal recovered: " + r.transactions() + " transactions, " + fastCommitsShown(r) + r.blocks().size() + " blocks written home");
        r.warnings().forEach(w -> recovered.warnings.add("journal: " + w));
        return recovered;
    }

    private static String fastCommitsShown(JournalRecovery.Result r) {
        return r.fastCommits().isEmpty() ? "" : r.fastCommits().commits() + " fast commits (" + r.fastCommits().tags().size() + " tags), ";
    }

    static Ext4FileSystem openAsIs(BlockDevice dev, boolean lenient) throws IOException {
        Volume vol = Volume.open(dev, lenient);
        Superblock sb = vol.superblock();
        List<String> warnings = new ArrayList<>();
        FeaturePolicy.checkReadable(sb, dev.name(), warnings);
        warnings.addAll(vol.problems());
        Ext4FileSystem fs = new Ext4FileSystem(vol, warnings);
        fs.protectJournal();
        return fs;
    }

    /** The internal journal's blocks join the system zones: no other inode may map them. */
    private void protectJournal() throws IOException {
        Superblock sb = vol.superblock();
        if (!sb.hasCompat(Features.COMPAT_HAS_JOURNAL) || sb.journalInode() == 0) return;
        long jino = Integer.toUnsignedLong(sb.journalInode());
        try {
            for (ext4j.extent.Run r : fileMap(inode(jino)).runs())
                if (r.kind() != ext4j.extent.Run.Kind.HOLE) vol.systemZones().addOwned(r.physical(), r.length(), jino, "the journal (inode " + jino + ")");
        } catch (CorruptException e) {
            // a damaged journal inode is reported where the journal is used (recovery, the first write)
        }
    }

    /**
     * `ext4j recover`: replays a journal that needs it onto the image, then finishes its orphans
     * (the orphan list and the orphan file, as a Linux mount). Returns what was replayed, or null if the journal was clean.
     */
    public static JournalRecovery.Result recover(Path image) throws IOException { return Recovery.recover(image); }

    /** The internal journal's superblock, or null when the filesystem has no internal journal. */
    public JournalSuperblock journalSuperblock() throws IOException { return new Recovery(this).journalSuperblock(); }


    public Superblock superblock() { return vol.superblock(); }
    private Superblock sb() { return vol.superblock(); }
    public Volume volume() { return vol; }
    /** Messages the caller should show: why the filesystem is read-only or may look stale. */
    public List<String> warnings() { return Collections.unmodifiableList(warnings); }

    /** An inode as callers see it (a cached file's size and pending mtime included). */
    public Inode inode(long ino) throws IOException { return live(vol.readInode(ino)); }

    /** The largest size this file may have (its mapping's limit, as s_maxbytes). */
    long maxFileSize(Inode file) { return FileSpace.maxFileSize(file, vol.blockSize()); }   // a pure function: no writer lock on the write path

    /** An inode exactly as stored (what metadata changes start from). */
    Inode diskInode(long ino) throws IOException { return vol.readInode(ino); }

    /** The value an EA inode holds, read from the device (EaInodes: is an equal value already stored?). */
    byte[] eaInodeValue(long ino, int size) throws IOException { return reader.eaInodeValue(ino, size); }

    // ---- paths ----

    /** Resolves an absolute path; symlinks in the middle are followed, the last one only if followLast. */
    public Inode resolve(String path, boolean followLast) throws IOException {
        if (!path.startsWith("/")) throw new FsException(Errno.EINVAL, path);
        return live(walk(path, path, inode(Inode.ROOT), followLast, new int[]{0}));
    }

    /** The inode as callers see it: a regular file's size is the in-memory one while its data is cached. */
    private Inode live(Inode i) throws IOException {
        // an EA inode holds an xattr value (ea_inode): like Linux's iget, never serve it as a file
        if (i.hasFlag(Inode.FL_EA_INODE) && i.linksCount() > 0)
            throw new CorruptException("inode " + i.number() + " is an EA inode (it holds an xattr value) but was reached as a file");
        return files.live(i);
    }

    private Inode walk(String path, String shown, Inode start, boolean followLast, int[] follows) throws IOException {
        Inode cur = path.startsWith("/") ? inode(Inode.ROOT) : start;
        String[] parts = path.split("/+");
        if (parts.length > MAX_PATH_COMPONENTS) throw new FsException(Errno.ENAMETOOLONG, shown);
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i];
            if (p.isEmpty() || p.equals(".")) continue;
            if (!cur.isDir()) throw new FsException(Errno.ENOTDIR, shown);
            byte[] name = p.getBytes(StandardCharsets.UTF_8);
            if (name.length > 255) throw new FsException(Errno.ENAMETOOLONG, shown);
            DirEntry e = directory(cur).lookup(name);
            if (e == null) throw new FsException(Errno.ENOENT, shown);
            Inode next = inode(e.inode());
            boolean last = isLastComponent(parts, i);
            if (next.isSymlink() && (!last || followLast)) {
                if (++follows[0] > MAX_SYMLINK_FOLLOWS) throw new FsException(Errno.ELOOP, shown);
                String target = new String(readlink(next), StandardCharsets.UTF_8);
                next = walk(target, shown, cur, true, follows);
            }
            cur = next;
        }
        return cur;
    }

    private static boolean isLastComponent(String[] parts, int i) {
        for (int k = i + 1; k < parts.length; k++) if (!parts[k].isEmpty() && !parts[k].equals(".")) return false;
        return true;
    }

    // ---- directories ----

    // ---- reading from the device (InodeReader) ----

    public Directory directory(Inode dir) throws IOException { return reader.directory(dir); }
    public List<DirEntry> list(Inode dir) throws IOException { return reader.list(dir); }
    /** The block mapping of an inode: extent tree or ext2/3 block map. */
    public FileMap fileMap(Inode inode) throws IOException { return reader.fileMap(inode); }
    /** Inline file or directory bytes. */
    public byte[] inlineData(Inode inode) throws IOException { return reader.inlineData(inode); }
    private long checkedSize(Inode inode) throws CorruptException { return reader.checkedSize(inode); }
    /** Copies a regular file's contents into out at the same offsets, holes kept. */
    public void copyTo(Inode inode, FileChannel out, Progress progress) throws IOException { reader.copyTo(inode, out, progress); }
    /** The target of a symlink: fast (in i_block), inline, or in data blocks. */
    public byte[] readlink(Inode inode) throws IOException { return reader.readlink(inode); }
    /** Every extended attribute of the inode: in-inode first, then the xattr block (system.data left out). */
    public List<Xattr> xattrs(Inode inode) throws IOException { return reader.xattrs(inode); }

    /**
     * Reads up to dst.remaining() bytes at pos; returns the count, or -1 at end of file.
     * Holes and unwritten extents read as zeros without device I/O.
     */
    public int read(Inode inode, long pos, ByteBuffer dst) throws IOException { return files.read(inode, pos, dst); }

    /** Bytes the Merkle tree builder read through the filesystem's read rather than the device (tests: holes and written-back ranges are not). */
    long treeBytesThroughCache;

    /** Data blocks of verity files hashed by cached reads (tests: a cached block is hashed once). */
    long verityBlocksChecked() { return files.verityBlocksChecked; }

    // ---- fs-verity ----

    /**
     * FS_IOC_ENABLE_VERITY: the file's data is written back, its Merkle tree (SHA-256, the
     * filesystem's block size, the salt) built and stored past EOF with the descriptor, and the
     * verity flag set, in one transaction. Returns the descriptor (its digest is what `fsverity
     * measure` prints). Needs the verity feature; the file must be regular and extent-mapped.
     */
    public synchronized ext4j.verity.VerityDescriptor enableVerity(String path, byte[] salt) throws IOException {
        return enableVerity(resolve(path, true), path, salt);
    }

    /** enableVerity of an inode already looked up; shown names it in errors. */
    synchronized ext4j.verity.VerityDescriptor enableVerity(Inode file, String path, byte[] salt) throws IOException {
        LockOrder.enter(LockOrder.Level.WRITER);
        try {
            FsWriter wr = w();
            file = files.writeBackForVerity(file);           // the tree is built from the data on disk
            ext4j.verity.VerityDescriptor d = new VerityFiles(this).enable(wr, path, file, salt);
            files.mappingChangedBehindCache(file.number());   // blocks were mapped past EOF behind the cache
            return d;
        } finally {
            LockOrder.exit(LockOrder.Level.WRITER);
        }
    }

    /** FS_IOC_MEASURE_VERITY: a verity file's descriptor, read back and checked (ENODATA if not verity). */
    public synchronized ext4j.verity.VerityDescriptor verityDescriptor(String path) throws IOException {
        return verityDescriptor(resolve(path, true), path);
    }

    synchronized ext4j.verity.VerityDescriptor verityDescriptor(Inode file, String path) throws IOException {
        return new VerityFiles(this).descriptor(path, file);
    }

    /** The descriptor fs-verity would give a file's current bytes (`fsverity digest`), without enabling it. */
    public synchronized ext4j.verity.VerityDescriptor computeVerity(String path, byte[] salt) throws IOException {
        Inode file = resolve(path, true);
        if (!file.isRegular()) throw new FsException(Errno.EINVAL, path + ": not a regular file");
        return new VerityFiles(this).compute(inode(file.number()), salt);
    }

    /** Listener for long copies: bytes done so far. */
    public interface Progress { void advance(long bytes); }

    @Override
    public synchronized void close() throws IOException {
        LockOrder.enter(LockOrder.Level.WRITER);
        sharedChanges.writeLock().lock();             // no shared change runs from here on
        IOException dataError = null;
        try {
            try {
                if (writer != null) {
                    if (turnedReadOnly()) {
                        files.engine().close();
                        try { writer.journal().close(); } catch (IOException ignored) { } // stops its timer; it reports the same failure
                        throw new FsException(Errno.EROFS, vol.device().name() + ": closed read-only after an error ("
                            + readOnlyCause.getMessage() + "); what was not committed is lost, the journal replays what was");
                    }
                    try {
                        writer.closeCopier();                 // mkfs -d's data copies finish (or fail the close) first
                    } catch (IOException | RuntimeException e) {
                        files.engine().close();
                        throw e;
                    }
                    dataError = files.writeBackForClose();   // data lost without an fsync hearing of it: reported after the close
                    writer.unpinAll();
                    dropReleased();
                    boolean logged = writer.journal() instanceof ext4j.journal.JbdJournal;
                    if (writer.changed()) {
                        long now = ext4j.ondisk.WallClock.seconds();
                        writer.txn("close", 4, h -> vol.updateSuperblock(h, e -> e.setState(Superblock.STATE_VALID).writeTime(now)));
                    }
                    writer.journal().close(); // commits and checkpoints: the log is empty now
                    // orphan_present goes with the last orphan (close finished the pinned ones, unless one failed)
                    boolean clearOrphans = inUse && sb().hasRoCompat(Features.RO_ORPHAN_PRESENT) && writer.noOrphans();
                    if (inUse && logged) vol.updateSuperblockDirect(e -> {
                        e.clearIncompat(Features.INCOMPAT_RECOVER);
                        if (clearOrphans) e.clearRoCompat(Features.RO_ORPHAN_PRESENT);
                    });
                    else if (inUse && !writer.changed()) vol.updateSuperblockDirect(e -> {
                        e.setState(Superblock.STATE_VALID);
                        if (clearOrphans) e.clearRoCompat(Features.RO_ORPHAN_PRESENT);
                    });
                    else if (clearOrphans) vol.updateSuperblockDirect(e -> e.clearRoCompat(Features.RO_ORPHAN_PRESENT));
                    writer = null;
                }
            } catch (IOException | RuntimeException e) {
                if (dataError != null) e.addSuppressed(dataError);
                throw e;
            } finally {
                vol.close();
            }
            if (dataError != null) throw dataError;
        } finally {
            sharedChanges.writeLock().unlock();
            LockOrder.exit(LockOrder.Level.WRITER);
        }
    }
}
