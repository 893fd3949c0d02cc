package ext4j.fs;

import ext4j.base.Errno;
import ext4j.base.FsException;

import ext4j.base.LockOrder;
import ext4j.block.BlockDevice;
import ext4j.dir.DirEntry;
import ext4j.dir.Directory;
import ext4j.extent.FileMap;
import ext4j.extent.Run;
import ext4j.iomap.CachedFile;
import ext4j.base.CorruptException;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Superblock;
import ext4j.xattr.PosixAcl;
import ext4j.xattr.Xattr;
import ext4j.xattr.XattrCodec;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The core API every front end stands on (the VFS analog): operations by inode number, names as
 * bytes, open handles, listings that resume from a cookie, xattrs, statfs and access checks, with
 * Linux's errno for every failure ({@link FsException#errno()}). It hands out only its own value
 * types ({@link Attr}, {@link Entry}, {@link Dirent}, {@link StatFs}, {@link OpenFile}).
 *
 * <p>Concurrency: any number of threads. Per-inode read-write locks ({@link InodeLocks}): reads,
 * lookups and listings share them; writes, truncates and directory changes take them
 * exclusively, directories first (an ancestor before its descendants, else by number), then the
 * other inodes by number; cross-directory renames take the rename lock first. Metadata changes
 * then run one handle at a time under the filesystem's writer lock, and readers on other threads
 * see metadata blocks only as whole handles left them (BufferCache's copy-on-write). fsync's
 * journal commit runs outside every inode lock.
 */
public final class Ext4Vfs implements Closeable {
    public static final long ROOT = 2;
    public static final int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_ACCMODE = 3, O_TRUNC = 01000, O_APPEND = 02000;
    public static final int FALLOC_FL_KEEP_SIZE = 0x01, FALLOC_FL_PUNCH_HOLE = 0x02, FALLOC_FL_NO_HIDE_STALE = 0x04,
            FALLOC_FL_COLLAPSE_RANGE = 0x08, FALLOC_FL_ZERO_RANGE = 0x10, FALLOC_FL_INSERT_RANGE = 0x20, FALLOC_FL_UNSHARE_RANGE = 0x40, FALLOC_FL_WRITE_ZEROES = 0x80;
    public static final int SEEK_DATA = 3, SEEK_HOLE = 4;
    public static final int RENAME_NOREPLACE = Namespace.RENAME_NOREPLACE, RENAME_EXCHANGE = Namespace.RENAME_EXCHANGE, RENAME_WHITEOUT = Namespace.RENAME_WHITEOUT;
    public static final int XATTR_CREATE = 1, XATTR_REPLACE = 2;
    public static final int R_OK = Access.R_OK, W_OK = Access.W_OK, X_OK = Access.X_OK, F_OK = 0;
    private static final String ACL_ACCESS = "system.posix_acl_access", ACL_DEFAULT = "system.posix_acl_default";

    private final Ext4FileSystem fs;
    private final InodeLocks locks = new InodeLocks();
    /** Linux's s_vfs_rename_mutex: cross-directory renames one at a time, so ancestry cannot change under one. */
    private final ReentrantLock renameLock = new ReentrantLock();
    private final AtomicLong handleIds = new AtomicLong();

    private Ext4Vfs(Ext4FileSystem fs) { this.fs = fs; }

    /** Opens an image or block device; a dirty journal is replayed first (in memory when read-only). */
    public static Ext4Vfs open(Path image, Options options) throws IOException {
        if (options.readOnly() && options.faults() == null) return new Ext4Vfs(Ext4FileSystem.openReadOnly(image));
        BlockDevice dev = ext4j.block.FileBlockDevice.open(image, options.readOnly());
        if (options.faults() != null) dev = new ext4j.block.FaultyBlockDevice(dev, options.faults());
        try {
            return open(dev, options);
        } catch (IOException | RuntimeException e) {
            dev.close();
            throw e;
        }
    }

    /** Opens a device (memory images, the power-cut harness) with these options. */
    @SuppressWarnings("exports") // BlockDevice is internal: callers are in the module (tests, benchmarks)
    public static Ext4Vfs open(BlockDevice dev, Options options) throws IOException {
        return new Ext4Vfs(options.readOnly() ? Ext4FileSystem.open(dev) : Ext4FileSystem.openReadWrite(dev, options));
    }

    /** The core API over a filesystem opened by path (tests; one Ext4Vfs per open filesystem). */
    static Ext4Vfs over(Ext4FileSystem fs) { return new Ext4Vfs(fs); }

    /** The path-based filesystem under this API (the CLI's and tests' view of the same open). */
    public Ext4FileSystem pathView() { return fs; }

    public boolean isReadOnly() { return !fs.isWritable() || fs.readOnlyCause() != null; }

    /** Why the open is read-only or may look stale (a journal replayed in memory, an unknown feature). */
    public List<String> warnings() { return fs.warnings(); }

    // ---- inodes and attributes ----

    /**
     * The inode if it is in use: a number outside the inode table, a reserved inode other than the
     * root, or an inode freed (no links and not open) gets ESTALE, never another file's state.
     */
    private Inode live(long ino) throws IOException {
        Superblock sb = fs.superblock();
        if (ino != ROOT && (ino < sb.firstInode() || ino > Integer.toUnsignedLong(sb.inodesCount())))
            throw new FsException(Errno.ESTALE, "inode " + ino);
        Inode i = fs.inode(ino);
        if (i.mode() == 0 || (i.linksCount() == 0 && !fs.isPinned(ino))) throw new FsException(Errno.ESTALE, "inode " + ino);
        return i;
    }

    private Inode liveDir(long ino) throws IOException {
        Inode d = live(ino);
        if (!d.isDir()) throw new FsException(Errno.ENOTDIR, "inode " + ino);
        return d;
    }

    public Attr getattr(long ino) throws IOException { return attr(live(ino)); }

    /** getattr of a (number, generation) handle: ESTALE when the number now names another file. */
    public Attr getattr(long ino, long generation) throws IOException {
        Inode i = live(ino);
        if (Integer.toUnsignedLong(i.generation()) != generation) throw new FsException(Errno.ESTALE, "inode " + ino + " generation " + generation);
        return attr(i);
    }

    private Attr attr(Inode i) {
        int bs = fs.volume().blockSize();
        return new Attr(i.number(), Integer.toUnsignedLong(i.generation()), i.mode(), i.linksCount(), i.uid(), i.gid(), rdev(i), i.size(),
                i.blocks512(bs), bs, Time.of(i.atime()), Time.of(i.mtime()), Time.of(i.ctime()), Time.of(i.crtime()), i.flags());
    }

    /** A device inode's number in glibc's dev_t encoding: the old form in i_block[0], else the new one in i_block[1]. */
    private static long rdev(Inode i) {
        if (i.type() != Inode.S_IFCHR && i.type() != Inode.S_IFBLK) return 0;
        long[] mm = i.deviceNumbers();
        long major = mm[0], minor = mm[1];
        return ((major & 0xFFFFF000L) << 32) | ((major & 0xFFFL) << 8) | ((minor & 0xFFFFFF00L) << 12) | (minor & 0xFFL);
    }

    /**
     * setattr: the fields in the mask, as chmod, chown, truncate and utimensat would set them, ctime
     * now unless given. Linux's mode rules: a chmod by a caller who is not in the file's group and
     * not privileged drops S_ISGID; a chown of a non-directory (even to the same owner, KILL_SUIDGID) drops S_ISUID, and S_ISGID when the
     * group may execute (or the caller is neither in the file's group before the change nor privileged); a truncate by an
     * unprivileged caller drops them as a write does. A size change runs first (its own handles,
     * through the page cache), then every other field in one handle.
     */
    public Attr setattr(long ino, SetAttr a, Caller who) throws IOException {
        try (var _ = locks.write(ino)) {
            Inode i = live(ino);
            if (a.mask() == 0) return attr(i);
            if (a.has(SetAttr.SIZE)) {
                if (i.isDir()) throw new FsException(Errno.EISDIR, "inode " + ino);
                if (!i.isRegular()) throw new FsException(Errno.EINVAL, "inode " + ino);
                dropPrivileges(i, who);
                fs.truncate(fs.inode(ino), a.size());
                if (a.mask() == SetAttr.SIZE) return attr(live(ino));
            }
            int mask = a.mask();
            Time now = Time.now();
            // before the handle, as utimens does: a writeback completing meanwhile must not store a pending mtime over this one
            if ((mask & (SetAttr.MTIME | SetAttr.MTIME_NOW)) != 0) fs.clearPendingMtime(ino);
            fs.setattr(fs.inode(ino), e -> {
                int mode = e.mode();
                long gid = (mask & SetAttr.GID) != 0 ? a.gid() : i.gid();
                if ((mask & SetAttr.MODE) != 0) {
                    mode = (mode & Inode.S_IFMT) | (a.mode() & 07777);
                    if (!who.privileged() && !who.inGroup(gid)) mode &= ~Attr.S_ISGID;
                }
                if ((mask & (SetAttr.UID | SetAttr.GID | SetAttr.KILL_SUIDGID)) != 0) {
                    if ((mask & SetAttr.UID) != 0) e.uid(a.uid());
                    if ((mask & SetAttr.GID) != 0) e.gid(a.gid());
                    if ((mode & Inode.S_IFMT) != Inode.S_IFDIR) {
                        mode &= ~Attr.S_ISUID;
                        // setattr_should_drop_sgid: judged on the group the file has before the change
                        if ((mode & 0010) != 0 || (!who.privileged() && !who.inGroup(i.gid()))) mode &= ~Attr.S_ISGID;
                    }
                }
                e.mode(mode);
                if ((mask & SetAttr.ATIME) != 0) e.atime(inRange(a.atime()).toTimestamp());
                if ((mask & SetAttr.ATIME_NOW) != 0) e.atime(now.toTimestamp());
                if ((mask & SetAttr.MTIME) != 0) e.mtime(inRange(a.mtime()).toTimestamp());
                if ((mask & SetAttr.MTIME_NOW) != 0) e.mtime(now.toTimestamp());
                e.ctime((mask & SetAttr.CTIME) != 0 ? inRange(a.ctime()).toTimestamp() : now.toTimestamp());
            });
            if ((mask & SetAttr.MODE) != 0) {
                // posix_acl_chmod: an access ACL follows the new permission bits (owner, mask or group, other)
                Inode changed = fs.inode(ino);
                PosixAcl acl = aclOf(changed, ACL_ACCESS);
                if (acl != null) fs.setXattr(changed, ACL_ACCESS, InheritedAcl.chmod(acl, changed.mode()).toXattr(), XATTR_REPLACE);
            }
            return attr(live(ino));
        }
    }

    /**
     * A time as ext4 can store it (Linux's timestamp_truncate): clamped to the filesystem's range,
     * 1901-12-13 to 2446-05-10 with the extra time fields of large inodes, else to 2038-01-19; a
     * clamped time loses its nanoseconds.
     */
    private Time inRange(Time t) {
        long min = Integer.MIN_VALUE, max = fs.superblock().inodeSize() > 128 ? (1L << 34) - 1 + Integer.MIN_VALUE : Integer.MAX_VALUE;
        if (t.seconds() <= min) return new Time(min, 0);
        if (t.seconds() >= max) return new Time(max, 0);
        return t;
    }

    /** A write or truncate by a caller without CAP_FSETID drops S_ISUID, and S_ISGID if the group may execute (file_remove_privs); returns whether the inode changed. */
    private boolean dropPrivileges(Inode i, Caller who) throws IOException {
        if (who.privileged() || !i.isRegular()) return false;
        int mode = i.mode(), keep = mode;
        if ((mode & Attr.S_ISUID) != 0) mode &= ~Attr.S_ISUID;
        if ((mode & Attr.S_ISGID) != 0 && ((mode & 0010) != 0 || !who.inGroup(i.gid()))) mode &= ~Attr.S_ISGID;
        if (mode == keep) return false;
        int m = mode;
        fs.setattr(i, e -> e.mode(m).ctime(FsWriter.now()));
        return true;
    }

    // ---- names ----

    public Entry lookup(long dir, byte[] name) throws IOException {
        try (var _ = locks.read(dir)) {
            Inode d = liveDir(dir);
            DirEntry e = find(d, name);
            if (e == null) throw new FsException(Errno.ENOENT, Ext4FileSystem.shown(d, name));
            return entry(live(e.inode()));
        }
    }

    private DirEntry find(Inode dir, byte[] name) throws IOException {
        if (name.length > 255) throw new FsException(Errno.ENAMETOOLONG, Ext4FileSystem.shown(dir, name));
        if (name.length == 0) throw new FsException(Errno.ENOENT, Ext4FileSystem.shown(dir, name));
        return fs.directory(dir).lookup(name);
    }

    private Entry entry(Inode i) { return new Entry(i.number(), Integer.toUnsignedLong(i.generation()), attr(i)); }

    /** Creates a regular file (mode: permission bits; the type is added). umask applies unless the directory has a default ACL. */
    public Entry create(long dir, byte[] name, int mode, int umask, Caller who) throws IOException {
        return make(dir, name, Inode.S_IFREG | (mode & 07777), umask, 0, null, who);
    }

    public Entry mkdir(long dir, byte[] name, int mode, int umask, Caller who) throws IOException {
        return make(dir, name, Inode.S_IFDIR | (mode & 07777), umask, 0, null, who);
    }

    /** mknod(2): mode carries the type (regular, character or block device, fifo, socket). */
    public Entry mknod(long dir, byte[] name, int mode, long rdev, int umask, Caller who) throws IOException {
        int type = mode & Inode.S_IFMT;
        if (type == 0) mode |= Inode.S_IFREG;
        else if (type != Inode.S_IFCHR && type != Inode.S_IFBLK && type != Inode.S_IFIFO && type != Inode.S_IFSOCK && type != Inode.S_IFREG)
            throw new FsException(Errno.EINVAL, "mknod type 0" + Integer.toOctalString(type));
        return make(dir, name, mode, umask, rdev, null, who);
    }

    public Entry symlink(long dir, byte[] name, byte[] target, Caller who) throws IOException {
        return make(dir, name, Inode.S_IFLNK | 0777, 0, 0, target, who);
    }

    private Entry make(long dir, byte[] name, int mode, int umask, long rdev, byte[] target, Caller who) throws IOException {
        try (var _ = locks.write(dir)) {
            Inode d = liveDir(dir);
            boolean isDir = (mode & Inode.S_IFMT) == Inode.S_IFDIR, sgidDir = (d.mode() & Attr.S_ISGID) != 0;
            if (isDir) mode &= Inode.S_IFMT | 01777;       // vfs_mkdir keeps only the permission bits and S_ISVTX
            long gid = sgidDir ? d.gid() : who.gid();      // BSD group semantics in a setgid directory
            // mode_strip_sgid: judged on the mode asked for, before the umask or a default ACL takes group execute away
            if (sgidDir && !isDir && (mode & (Attr.S_ISGID | 0010)) == (Attr.S_ISGID | 0010) && !who.privileged() && !who.inGroup(gid))
                mode &= ~Attr.S_ISGID;
            PosixAcl dflt = aclOf(d, ACL_DEFAULT);
            InheritedAcl inherit = InheritedAcl.of(dflt, mode, umask);
            int m = inherit.mode();
            if (sgidDir && isDir) m |= Attr.S_ISGID;       // a new directory always inherits S_ISGID
            List<XattrCodec.Entry> xattrs = new ArrayList<>(2);
            if (inherit.access() != null) xattrs.add(XattrCodec.split(ACL_ACCESS, inherit.access().toExt4()));
            if (inherit.defaultAcl() != null) xattrs.add(XattrCodec.split(ACL_DEFAULT, inherit.defaultAcl().toExt4()));
            Inode made = fs.create(d, name, new Namespace.NewInode(m, who.uid(), gid, rdev, target, null, null, xattrs));
            return entry(fs.inode(made.number()));
        }
    }

    /** link(2): EPERM for directories, ENOENT for a file whose last link is gone, EMLINK at the link limit. */
    public Entry link(long ino, long newDir, byte[] newName) throws IOException {
        try (var _ = locks.write(newDir).andWrite(ino)) {
            Inode d = liveDir(newDir);
            Inode src = live(ino);
            if (!src.isDir() && src.linksCount() == 0 && find(d, newName) == null) throw new FsException(Errno.ENOENT, "inode " + ino + " has no links left");
            fs.link(src, d, newName);
            return entry(fs.inode(ino));
        }
    }

    public void unlink(long dir, byte[] name) throws IOException { remove(dir, name, false); }

    public void rmdir(long dir, byte[] name) throws IOException { remove(dir, name, true); }

    private void remove(long dir, byte[] name, boolean isDir) throws IOException {
        try (var held = locks.write(dir)) {
            Inode d = liveDir(dir);
            DirEntry e = isDot(name) ? null : find(d, name);
            if (e != null) held.andWrite(e.inode());    // the victim after its directory
            if (isDir) fs.rmdir(d, name); else fs.unlink(d, name);
        }
    }

    private static boolean isDot(byte[] n) { return (n.length == 1 && n[0] == '.') || (n.length == 2 && n[0] == '.' && n[1] == '.'); }

    /** renameat2(2) with RENAME_NOREPLACE or RENAME_EXCHANGE (RENAME_WHITEOUT: EINVAL). */
    public void rename(long dir, byte[] name, long newDir, byte[] newName, int flags) throws IOException {
        checkRenameFlags(flags);
        boolean cross = dir != newDir;
        if (cross) { LockOrder.enter(LockOrder.Level.RENAME); renameLock.lock(); }
        try (var held = locks.writeInOrder(parentsInOrder(dir, newDir))) {
            Inode from = liveDir(dir), to = liveDir(newDir);
            DirEntry src = isDot(name) ? null : find(from, name);
            DirEntry dst = isDot(newName) || newName.length > 255 || newName.length == 0 ? null : fs.directory(to).lookup(newName);
            // the inodes named, after their directories; a directory that is an ancestor of the other
            // parent is an error rename reports (EINVAL, ENOTEMPTY) before it touches anything: not locked
            long[] victims = new long[2];
            int n = 0;
            for (DirEntry e : new DirEntry[] {src, dst})
                if (e != null && (fs.inode(e.inode()).isDir() ? !fs.isAncestorOrSelf(e.inode(), dir) && !fs.isAncestorOrSelf(e.inode(), newDir) : true))
                    victims[n++] = e.inode();
            held.andWrite(java.util.Arrays.copyOf(victims, n));  // both at once, by number
            fs.rename(from, name, to, newName, flags);
        } finally {
            if (cross) { renameLock.unlock(); LockOrder.exit(LockOrder.Level.RENAME); }
        }
    }

    /** renameat2's first check, before any name is looked up: EINVAL for unknown or conflicting flags, and for RENAME_WHITEOUT. */
    public static void checkRenameFlags(int flags) throws FsException {
        if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) != 0
                || (flags & (RENAME_NOREPLACE | RENAME_EXCHANGE)) == (RENAME_NOREPLACE | RENAME_EXCHANGE)
                || (flags & RENAME_WHITEOUT) != 0)
            throw new FsException(Errno.EINVAL, "rename flags 0x" + Integer.toHexString(flags) + (flags == RENAME_WHITEOUT ? " (whiteouts are for overlayfs; ext4j does not make them)" : ""));
    }

    /** The two parents of a rename, an ancestor first (else by number), as Linux's lock_rename orders them. */
    private long[] parentsInOrder(long a, long b) throws IOException {
        if (a == b) return new long[] {a};
        if (fs.isAncestorOrSelf(b, a)) return new long[] {b, a};
        if (fs.isAncestorOrSelf(a, b)) return new long[] {a, b};
        return a < b ? new long[] {a, b} : new long[] {b, a};
    }


    public byte[] readlink(long ino) throws IOException {
        Inode i = live(ino);
        if (!i.isSymlink()) throw new FsException(Errno.EINVAL, "inode " + ino + " is not a symlink");
        return fs.readlink(i);
    }

    // ---- listings ----

    /** Receives a listing's entries; returns false when full (that entry is not consumed). */
    public interface DirSink { boolean accept(Dirent e) throws IOException; }

    /**
     * Lists dir from cookie (0: the start, "." and ".." included) into sink until it is full or
     * the listing ends; resume with the last accepted entry's {@link Dirent#nextCookie()}. An entry
     * present for the whole listing comes back exactly once, however the directory changes.
     */
    public void readdir(long dir, long cookie, DirSink sink) throws IOException {
        try (var _ = locks.read(dir)) {
            Inode d = liveDir(dir);
            fs.directory(d).readdir(cookie, (e, next) -> sink.accept(new Dirent(e.nameBytes(), e.inode(), dtype(e.fileType()), next)));
        }
    }

    private static int dtype(int ft) {
        return switch (ft) {
            case DirEntry.FT_REG -> Dirent.DT_REG;
            case DirEntry.FT_DIR -> Dirent.DT_DIR;
            case DirEntry.FT_CHR -> Dirent.DT_CHR;
            case DirEntry.FT_BLK -> Dirent.DT_BLK;
            case DirEntry.FT_FIFO -> Dirent.DT_FIFO;
            case DirEntry.FT_SOCK -> Dirent.DT_SOCK;
            case DirEntry.FT_SYMLINK -> Dirent.DT_LNK;
            default -> Dirent.DT_UNKNOWN;
        };
    }

    // ---- open files ----

    /**
     * open(2) of an existing inode: EISDIR for a directory opened for writing, ELOOP for a symlink,
     * EPERM for writing a verity file; O_TRUNC empties a regular file opened for writing. An
     * unlinked file stays until its last handle is released.
     */
    public OpenFile open(long ino, int flags, Caller who) throws IOException {
        boolean writes = (flags & O_ACCMODE) != O_RDONLY;
        Inode i = live(ino);
        if (i.isSymlink()) throw new FsException(Errno.ELOOP, "inode " + ino + " is a symlink");
        if (i.isDir() && writes) throw new FsException(Errno.EISDIR, "inode " + ino);
        if (writes && isReadOnly()) throw new FsException(Errno.EROFS, "inode " + ino);
        if (writes && i.hasFlag(Inode.FL_VERITY)) throw new FsException(Errno.EPERM, "inode " + ino + " is a verity file");
        // Linux truncates on O_TRUNC whatever the access mode (the caller's write permission was checked)
        if ((flags & O_TRUNC) != 0 && i.isRegular() && !isReadOnly()) setattr(ino, SetAttr.NONE.size(0), who);
        if (!isReadOnly()) fs.pin(ino);
        return new OpenFile(handleIds.incrementAndGet(), ino, flags, i.isDir());
    }

    /**
     * A front end's reference to an inode that is not an open file (a FUSE lookup count): an
     * inode unlinked meanwhile lives, on the orphan list, until its last reference is dropped.
     */
    public void retain(long ino) throws IOException { if (!isReadOnly()) fs.pin(ino); }

    /** Drops one {@link #retain}; the last one of an unlinked inode frees it. */
    public void drop(long ino) throws IOException { if (!isReadOnly()) fs.unpin(ino); }

    /** The last release of an unlinked file frees it. */
    public void release(OpenFile f) throws IOException {
        if (!f.close()) return;
        if (!isReadOnly()) fs.unpin(f.ino());
    }

    private static void checkOpen(OpenFile f, boolean write) throws FsException {
        if (f.isClosed()) throw new FsException(Errno.EBADF, "handle " + f.id() + " is released");
        int acc = f.flags() & O_ACCMODE;
        if (write ? acc == O_RDONLY : acc == O_WRONLY) throw new FsException(Errno.EBADF, "handle " + f.id() + " is not open for " + (write ? "writing" : "reading"));
    }

    /** pread: up to dst.remaining() bytes at pos; the count, or -1 at end of file. */
    public int read(OpenFile f, long pos, ByteBuffer dst) throws IOException {
        checkOpen(f, false);
        if (f.isDirectory()) throw new FsException(Errno.EISDIR, "inode " + f.ino());
        if (pos < 0) throw new FsException(Errno.EINVAL, "inode " + f.ino() + ": offset " + pos);
        try (var _ = locks.read(f.ino())) {
            return fs.read(fs.inode(f.ino()), pos, dst);
        }
    }

    /** pwrite (at the end of file for O_APPEND handles): all of src; returns the count. */
    public int write(OpenFile f, long pos, ByteBuffer src, Caller who) throws IOException {
        checkOpen(f, true);
        if (pos < 0) throw new FsException(Errno.EINVAL, "inode " + f.ino() + ": offset " + pos);
        try (var _ = locks.write(f.ino())) {
            Inode i = fs.inode(f.ino());
            if ((f.flags() & O_APPEND) != 0) pos = i.size();
            int n = src.remaining();
            if (n == 0) return 0;
            long max = i.isRegular() ? fs.maxFileSize(i) : Long.MAX_VALUE;
            if (pos >= max) throw new FsException(Errno.EFBIG, "inode " + f.ino() + ": offset " + pos + " at or past the largest size " + max);
            if (dropPrivileges(i, who)) i = fs.inode(f.ino());
            if (pos + n > max) {                      // a short write up to the limit, as Linux's generic_write_check_limits
                int fits = (int) (max - pos);
                ByteBuffer part = src.duplicate().limit(src.position() + fits);
                fs.write(i, pos, part);
                src.position(src.position() + fits);
                return fits;
            }
            fs.write(i, pos, src);
            return n;
        }
    }

    /** fsync or fdatasync: the file's data and (for fsync, or a size or mapping change) its metadata are durable; a directory's entries likewise. */
    public void fsync(OpenFile f, boolean dataOnly) throws IOException {
        if (f.isClosed()) throw new FsException(Errno.EBADF, "handle " + f.id() + " is released");
        if (!fs.isWritable()) return;                 // opened read-only: nothing to make durable
        fs.fsync(f.ino(), dataOnly);                  // turned read-only by an error: EROFS, never a silent success
    }

    /**
     * fallocate(2), every mode ext4 has: preallocate (unwritten extents, the size raised unless
     * KEEP_SIZE), PUNCH_HOLE (which needs KEEP_SIZE), ZERO_RANGE, COLLAPSE_RANGE and INSERT_RANGE
     * (block-aligned, extent files); UNSHARE_RANGE and WRITE_ZEROES are not ext4's (EOPNOTSUPP). Checks in the order of Linux 6.x's
     * vfs_fallocate: the range, unknown bits, the mode combination, the handle, the file type, the size.
     */
    public void fallocate(OpenFile f, int mode, long off, long len) throws IOException {
        String at = "inode " + f.ino();
        if (off < 0 || len <= 0) throw new FsException(Errno.EINVAL, at + ": offset " + off + " length " + len);
        int known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_ZERO_RANGE | FALLOC_FL_INSERT_RANGE
                | FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_WRITE_ZEROES;
        if ((mode & ~known) != 0) throw new FsException(Errno.EOPNOTSUPP, at + ": fallocate mode 0x" + Integer.toHexString(mode));
        boolean keep = (mode & FALLOC_FL_KEEP_SIZE) != 0;
        int op = mode & ~FALLOC_FL_KEEP_SIZE;
        boolean valid = switch (op) {
            case 0, FALLOC_FL_UNSHARE_RANGE, FALLOC_FL_ZERO_RANGE -> true;
            case FALLOC_FL_PUNCH_HOLE -> keep;
            case FALLOC_FL_COLLAPSE_RANGE, FALLOC_FL_INSERT_RANGE, FALLOC_FL_WRITE_ZEROES -> !keep;
            default -> false;
        };
        if (!valid) throw new FsException(Errno.EOPNOTSUPP, at + ": fallocate mode 0x" + Integer.toHexString(mode) + " is not a valid combination");
        checkOpen(f, true);
        if (f.isDirectory()) throw new FsException(Errno.EISDIR, at);
        try (var _ = locks.write(f.ino())) {
            Inode i = fs.inode(f.ino());
            if (i.type() == Inode.S_IFIFO) throw new FsException(Errno.ESPIPE, at);
            if (!i.isRegular()) throw new FsException(Errno.ENODEV, at);
            if (off + len < 0) throw new FsException(Errno.EFBIG, at);
            if (op == FALLOC_FL_UNSHARE_RANGE || op == FALLOC_FL_WRITE_ZEROES)
                throw new FsException(Errno.EOPNOTSUPP, at + ": fallocate mode 0x" + Integer.toHexString(mode) + " is not ext4's");
            if (op == FALLOC_FL_COLLAPSE_RANGE || op == FALLOC_FL_INSERT_RANGE) fs.shiftRange(i, off, len, op == FALLOC_FL_COLLAPSE_RANGE);
            else if (op == FALLOC_FL_PUNCH_HOLE) fs.punchHole(i, off, len);
            else if (op == FALLOC_FL_ZERO_RANGE) fs.zeroRange(i, off, len, keep);
            else fs.fallocate(i, off, len, keep);
        }
    }

    /**
     * lseek with SEEK_DATA or SEEK_HOLE, as ext4 answers: written extents are data; holes are holes;
     * unwritten extents are holes except where the page cache holds their blocks; dirty data is
     * written back first, so delayed and dirty ranges count as data. ENXIO at or past the end.
     */
    public long lseek(OpenFile f, long off, int whence) throws IOException {
        if (whence != SEEK_DATA && whence != SEEK_HOLE) throw new FsException(Errno.EINVAL, "lseek whence " + whence);
        if (f.isClosed()) throw new FsException(Errno.EBADF, "handle " + f.id() + " is released");
        if (f.isDirectory()) {
            // a directory's offsets are listing cookies: ext4 gives hash-order directories an end at 2^63-1, others their size
            Inode d = fs.inode(f.ino());
            Superblock sb = fs.superblock();
            boolean hashed = sb.hasCompat(ext4j.ondisk.Features.COMPAT_DIR_INDEX)
                    && (d.hasFlag(Inode.FL_INDEX) || d.hasFlag(Inode.FL_INLINE_DATA) || d.size() == fs.volume().blockSize());
            long eof = hashed ? Long.MAX_VALUE : d.size();
            if (off < 0 || off >= eof) throw new FsException(Errno.ENXIO, "inode " + f.ino() + ": offset " + off);
            return whence == SEEK_DATA ? off : eof;
        }
        try (var _ = locks.write(f.ino())) {       // exclusive: its dirty data is written back
            Inode i = fs.inode(f.ino());
            CachedFile c = fs.writtenBack(i);
            i = fs.inode(f.ino());
            long size = i.size();
            if (off < 0 || off >= size) throw new FsException(Errno.ENXIO, "inode " + f.ino() + ": offset " + off + " of " + size);
            if (!i.isRegular() || i.hasFlag(Inode.FL_INLINE_DATA)) return whence == SEEK_DATA ? off : size;
            int bs = fs.volume().blockSize();
            FileMap map = fs.fileMap(i);
            long blocks = (size + bs - 1) / bs;
            for (long l = off / bs; l < blocks; ) {
                Run r = map.find(l);
                long end = Math.min(r.end(), blocks);
                long from = Math.max(off, l * bs), to = Math.min(size, end * bs);
                long found;
                if (r.kind() == Run.Kind.MAPPED) found = whence == SEEK_DATA ? from : -1;
                else {
                    boolean cacheable = r.kind() == Run.Kind.UNWRITTEN && c != null;   // read-in blocks of unwritten extents are data
                    if (whence == SEEK_DATA) found = cacheable ? c.firstCached(from, to) : -1;
                    else found = cacheable ? c.firstUncached(from, to) : from;
                }
                if (found >= 0) return Math.max(found, off);
                l = end;
            }
            if (whence == SEEK_DATA) throw new FsException(Errno.ENXIO, "inode " + f.ino() + ": no data at or after " + off);
            return size;
        }
    }

    /** copy_file_range(2): up to len bytes, fewer at the end of in; EINVAL for overlapping ranges of one file. */
    public long copyFileRange(OpenFile in, long inPos, OpenFile out, long outPos, long len, Caller who) throws IOException {
        checkOpen(in, false);
        checkOpen(out, true);
        if (in.isDirectory() || out.isDirectory()) throw new FsException(Errno.EISDIR, "copy_file_range of a directory");
        if (inPos < 0 || outPos < 0 || len < 0) throw new FsException(Errno.EINVAL, "copy_file_range offsets");
        if (in.ino() == out.ino() && inPos < outPos + len && outPos < inPos + len) throw new FsException(Errno.EINVAL, "copy_file_range within one file overlaps");
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(len, 1 << 20));
        long done = 0;
        try (var _ = in.ino() == out.ino() ? locks.write(in.ino())
                : in.ino() < out.ino() ? locks.read(in.ino()).andWrite(out.ino()) : locks.write(out.ino()).andRead(in.ino())) {
            Inode src = fs.inode(in.ino());
            if (!src.isRegular() || !fs.inode(out.ino()).isRegular()) throw new FsException(Errno.EINVAL, "copy_file_range of a non-regular file");
            dropPrivileges(fs.inode(out.ino()), who);
            while (done < len) {
                buf.clear().limit((int) Math.min(buf.capacity(), len - done));
                int n = fs.read(fs.inode(in.ino()), inPos + done, buf);
                if (n <= 0) break;
                buf.flip();
                fs.write(fs.inode(out.ino()), outPos + done, buf);
                done += n;
            }
        }
        return done;
    }

    // ---- xattrs ----

    private PosixAcl aclOf(Inode i, String name) throws IOException {
        for (Xattr x : fs.xattrs(i))
            if (x.name().equals(name)) {
                try { return PosixAcl.fromExt4(x.value(), "inode " + i.number() + " " + name); }
                catch (CorruptException e) { throw new FsException(Errno.EIO, e.getMessage()); }
            }
        return null;
    }

    /** Linux's xattr_permission: user.* only on regular files and directories; trusted.* only for the privileged; unknown namespaces EOPNOTSUPP. */
    private static Errno forbidden(Inode i, String name, boolean write, Caller who) {
        if (XattrCodec.split(name, new byte[0]) == null) return Errno.EOPNOTSUPP;
        if (name.startsWith("user.") && !i.isRegular() && !i.isDir()) return write ? Errno.EPERM : Errno.ENODATA;
        if (name.startsWith("trusted.") && !who.privileged()) return write ? Errno.EPERM : Errno.ENODATA;
        return null;
    }

    /** getxattr: the value (ACLs in the Linux xattr format), or ENODATA. */
    public byte[] getxattr(long ino, String name, Caller who) throws IOException {
        Inode i = live(ino);
        Errno no = forbidden(i, name, false, who);
        if (no != null) throw new FsException(no, "inode " + ino + " " + name);
        for (Xattr x : fs.xattrs(i)) {
            if (!x.name().equals(name)) continue;
            if (!name.startsWith("system.posix_acl_")) return x.value();
            try { return PosixAcl.fromExt4(x.value(), "inode " + ino + " " + name).toXattr(); }   // ext4 stores the compact form
            catch (CorruptException e) { throw new FsException(Errno.EIO, e.getMessage()); }
        }
        throw new FsException(Errno.ENODATA, "inode " + ino + " " + name);
    }

    /** listxattr: every name the caller may see (trusted.* only for the privileged). */
    public List<String> listxattr(long ino, Caller who) throws IOException {
        List<String> out = new ArrayList<>();
        for (Xattr x : fs.xattrs(live(ino))) if (who.privileged() || !x.name().startsWith("trusted.")) out.add(x.name());
        return out;
    }

    /**
     * setxattr with XATTR_CREATE (EEXIST) or XATTR_REPLACE (ENODATA). Setting an access ACL sets
     * the mode bits from it, and one the mode can say is not stored, as Linux does.
     */
    public void setxattr(long ino, String name, byte[] value, int flags, Caller who) throws IOException {
        if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) != 0) throw new FsException(Errno.EINVAL, "setxattr flags " + flags);
        try (var _ = locks.write(ino)) {
            Inode i = live(ino);
            Errno no = forbidden(i, name, true, who);
            if (no != null) throw new FsException(no, "inode " + ino + " " + name);
            if (name.equals(ACL_ACCESS)) {
                PosixAcl acl;
                try { acl = PosixAcl.fromXattr(value, "inode " + ino + " " + name); }
                catch (CorruptException e) { throw new FsException(Errno.EINVAL, e.getMessage()); }
                int acled = InheritedAcl.modeOf(acl, i.mode());
                // posix_acl_update_mode: a caller outside the file's group (and not privileged) loses S_ISGID
                int mode = !who.privileged() && !who.inGroup(i.gid()) ? acled & ~Attr.S_ISGID : acled;
                if (InheritedAcl.equivalentToMode(acl)) {
                    if ((flags & XATTR_CREATE) != 0 && aclOf(i, ACL_ACCESS) != null) throw new FsException(Errno.EEXIST, "inode " + ino + " " + name);
                    if ((flags & XATTR_REPLACE) != 0 && aclOf(i, ACL_ACCESS) == null) throw new FsException(Errno.ENODATA, "inode " + ino + " " + name);
                    if (aclOf(i, ACL_ACCESS) != null) fs.setXattr(i, name, null, 0);
                } else {
                    fs.setXattr(i, name, value, flags);
                }
                fs.setattr(fs.inode(ino), e -> e.mode(mode).ctime(FsWriter.now()));
                return;
            }
            fs.setXattr(i, name, value, flags);
        }
    }

    /** removexattr; removing an ACL that is not stored succeeds, as Linux's set_acl(NULL) does (the mode says it all). */
    public void removexattr(long ino, String name, Caller who) throws IOException {
        try (var _ = locks.write(ino)) {
            Inode i = live(ino);
            Errno no = forbidden(i, name, true, who);
            if (no != null) throw new FsException(no, "inode " + ino + " " + name);
            if ((name.equals(ACL_ACCESS) || name.equals(ACL_DEFAULT)) && aclOf(i, name) == null) {
                fs.setattr(fs.inode(ino), e -> e.ctime(FsWriter.now()));
                return;
            }
            fs.setXattr(i, name, null, 0);
        }
    }

    // ---- fs-verity ----

    /**
     * FS_IOC_ENABLE_VERITY on an open file: ETXTBSY while a handle has it open for writing (the
     * caller's own included, as Linux refuses), EOPNOTSUPP without the verity feature, EEXIST if it
     * is one already. Returns the file digest `fsverity measure` prints (SHA-256 of the descriptor).
     */
    public byte[] enableVerity(OpenFile f, byte[] salt, java.util.function.LongPredicate openForWriting) throws IOException {
        if (f.isClosed()) throw new FsException(Errno.EBADF, "handle " + f.id() + " is released");
        if (isReadOnly()) throw new FsException(Errno.EROFS, "inode " + f.ino());
        if (salt.length > 32) throw new FsException(Errno.EINVAL, "inode " + f.ino() + ": salt of " + salt.length + " bytes (at most 32)");
        try (var _ = locks.write(f.ino())) {
            if (openForWriting.test(f.ino())) throw new FsException(Errno.ETXTBSY, "inode " + f.ino() + " is open for writing");
            return fs.enableVerity(live(f.ino()), "inode " + f.ino(), salt).digest();
        }
    }

    /** FS_IOC_MEASURE_VERITY: the SHA-256 file digest of a verity file; ENODATA for any other file. */
    public byte[] measureVerity(long ino) throws IOException {
        try (var _ = locks.read(ino)) {
            return fs.verityDescriptor(live(ino), "inode " + ino).digest();
        }
    }

    // ---- the filesystem ----

    public StatFs statfs() throws IOException {
        Superblock sb = fs.superblock();
        long free = Math.max(0, fs.volume().freeBlocks() - fs.delayedBlocks());
        long pool = ext4j.alloc.BlockAllocator.pool(sb);
        long avail = Math.max(0, free - sb.reservedBlocksCount() - pool);
        long overhead = fs.metadataOverhead(); // Linux (without minixdf) leaves the fixed metadata out of f_blocks
        byte[] u = sb.uuidBytes();
        ByteBuffer ub = ByteBuffer.wrap(u).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        long fsid = ub.getLong(0) ^ ub.getLong(8);
        return new StatFs(fs.volume().blockSize(), sb.blocksCount() - overhead, free, avail,
                Integer.toUnsignedLong(sb.inodesCount()), fs.volume().freeInodes(), 255, fsid);
    }

    /** access(2): EACCES unless the caller may do mask (R_OK, W_OK, X_OK; F_OK: exists); EROFS for W_OK on a read-only open. */
    public void access(long ino, Caller who, int mask) throws IOException {
        Inode i = live(ino);
        if ((mask & W_OK) != 0 && isReadOnly() && (i.isRegular() || i.isDir() || i.isSymlink()))
            throw new FsException(Errno.EROFS, "inode " + ino);
        if (mask == F_OK) return;
        if (!Access.allowed(i.mode(), i.uid(), i.gid(), who.privileged() ? null : aclOf(i, ACL_ACCESS), who, mask))
            throw new FsException(Errno.EACCES, "inode " + ino);
    }

    /** Damage a front end met (errors=remount-ro): commits what can be, then the filesystem turns read-only. */
    public void reportCorruption(CorruptException damage) { fs.reportCorruption(damage); }

    /** Why a writable open turned read-only (damage found, a failed commit), or null. */
    public IOException readOnlyCause() { return fs.readOnlyCause(); }

    /** The volume label (empty if none). */
    public String label() { return fs.superblock().volumeName(); }

    /** ext4, ext3 or ext2, by the features the filesystem has. */
    public String kind() { return fs.superblock().kind(); }

    /** Everything written so far made durable. */
    public void sync() throws IOException { fs.sync(); }

    /** Writes back, commits, checkpoints and marks the filesystem clean. */
    @Override public void close() throws IOException { fs.close(); }

    /** Locks alive now (tests: bounded by the operations in flight). */
    int liveLocks() { return locks.live(); }

    static String utf8(byte[] name) { return new String(name, StandardCharsets.UTF_8); }

    // ==== The CLI's calls (issue 14: the CLI stands on this API). Opening as the CLI needs it, the ====
    // ==== bulk copies of put -r / mkfs -d / get -r, and read-only inspection for the commands    ====
    // ==== that show on-disk structures (info, stat, recover), in this API's own value types.       ====

    /** Opens read-only exactly as on disk: a journal that needs recovery is reported in {@link #warnings()}, not replayed (`ext4j info`). */
    public static Ext4Vfs openAsOnDisk(Path image) throws IOException { return new Ext4Vfs(Ext4FileSystem.openReadOnlyAsIs(image)); }

    /**
     * Opens a filesystem that mkfs has just made, to fill it (mkfs -d): blocks go home in batches
     * without the journal, as mke2fs -d writes; a crash means making it again.
     */
    public static Ext4Vfs openForPopulating(Path image) throws IOException { return new Ext4Vfs(Ext4FileSystem.openForPopulating(image)); }

    /**
     * `ext4j recover`: replays a journal that needs it onto the image, then finishes its orphans
     * (the orphan list and the orphan file, as a Linux mount). What was replayed, or null if the journal was clean.
     */
    public static Replay recover(Path image) throws IOException {
        var r = Ext4FileSystem.recover(image);
        return r == null ? null : new Replay(r.transactions(), r.firstTid(), r.endTid() - 1, r.fastCommits().commits(),
                r.fastCommits().tags().size(), r.blocks().size(), r.revoked(), List.copyOf(r.warnings()));
    }

    /**
     * Creates an inode exactly as described (mke2fs -d's way, for bulk copies of a host tree):
     * mode, owner, device and times as given, in one handle; no umask, inherited ACL or setgid
     * directory rule applies. The errnos of create, mknod and symlink.
     */
    public Entry createAsIs(long dir, byte[] name, NodeSpec n) throws IOException { return createAsIs(dir, name, n, false); }

    /**
     * {@link #createAsIs}; newName: the caller guarantees dir has no entry called name (a bulk copy
     * filling a directory it made, each name once), so it is not looked up first. A wrong
     * guarantee makes a duplicate entry: only for names the caller has checked itself.
     */
    public Entry createAsIs(long dir, byte[] name, NodeSpec n, boolean newName) throws IOException {
        int type = n.mode() & Inode.S_IFMT;
        if (type != Inode.S_IFREG && type != Inode.S_IFDIR && type != Inode.S_IFLNK && type != Inode.S_IFCHR && type != Inode.S_IFBLK
                && type != Inode.S_IFIFO && type != Inode.S_IFSOCK)
            throw new FsException(Errno.EINVAL, "mknod type 0" + Integer.toOctalString(type));
        if ((type == Inode.S_IFLNK) != (n.symlinkTarget() != null)) throw new FsException(Errno.EINVAL, "a symlink target for a symlink only");
        try (var _ = locks.write(dir)) {
            Inode d = liveDir(dir);
            Inode made = fs.create(d, name, new Namespace.NewInode(n.mode(), n.uid(), n.gid(), n.rdev(), n.symlinkTarget(),
                    n.atime() == null ? null : n.atime().toTimestamp(), n.mtime() == null ? null : n.mtime().toTimestamp()), newName);
            return entry(fs.inode(made.number()));
        }
    }

    /**
     * {@link #createAsIs} of a regular file holding the first len bytes of src (a host file without
     * holes, copied device-side as {@link #writeFrom} does): the inode, its name and its first run
     * of blocks in one handle. src is this call's to close, whatever happens; on a filesystem opened
     * for populating the bytes may move after this returns (see {@link #writeFromTaking}).
     * newName as in {@link #createAsIs(long, byte[], NodeSpec, boolean)}.
     */
    public Entry createAsIsTaking(long dir, byte[] name, NodeSpec n, java.nio.channels.FileChannel src, long len, boolean newName) throws IOException {
        boolean passed = false;
        try {
            if ((n.mode() & Inode.S_IFMT) != Inode.S_IFREG) throw new FsException(Errno.EINVAL, "data for a regular file only");
            try (var _ = locks.write(dir)) {
                Inode d = liveDir(dir);
                passed = true;
                Inode made = fs.createFilled(d, name, new Namespace.NewInode(n.mode(), n.uid(), n.gid(), 0, null,
                        n.atime() == null ? null : n.atime().toTimestamp(), n.mtime() == null ? null : n.mtime().toTimestamp()), src, len, newName);
                return entry(made);
            }
        } finally {
            if (!passed) src.close();
        }
    }

    /**
     * Fills an empty regular file, open for writing, with the first len bytes of src (a host file
     * without holes) by a device-side copy: blocks allocated in long runs and the bytes moved by
     * the device (transferTo from an image file), not through the page cache. Times unchanged, as
     * a copy keeps its source's.
     */
    public void writeFrom(OpenFile f, java.nio.channels.FileChannel src, long len) throws IOException {
        checkOpen(f, true);
        if (f.isDirectory()) throw new FsException(Errno.EISDIR, "inode " + f.ino());
        try (var _ = locks.write(f.ino())) {
            fs.writeFrom(fs.inode(f.ino()), src, len);
        }
    }

    /**
     * {@link #writeFrom}, and src is this call's to close, whatever happens. On a filesystem opened
     * for populating the bytes may move after this returns, on another thread (the host file is
     * read while the next files are created); a failure of that copy then fails a later call or
     * the close. Elsewhere the copy is done before this returns.
     */
    public void writeFromTaking(OpenFile f, java.nio.channels.FileChannel src, long len) throws IOException {
        boolean passed = false;
        try {
            checkOpen(f, true);
            if (f.isDirectory()) throw new FsException(Errno.EISDIR, "inode " + f.ino());
            try (var _ = locks.write(f.ino())) {
                passed = true;
                fs.writeFromTaking(fs.inode(f.ino()), src, len);
            }
        } finally {
            if (!passed) src.close();
        }
    }

    /**
     * Copies a regular file's bytes into out at the same offsets, holes kept (skipped, the size
     * set at the end), straight from the device (transferTo into a host file); verity files are
     * checked on the way. progress receives the bytes done. A writable open writes the file's
     * cached data back first, so the device holds what a read would return.
     */
    public void copyTo(long ino, java.nio.channels.FileChannel out, java.util.function.LongConsumer progress) throws IOException {
        try (var _ = locks.read(ino)) {
            Inode i = live(ino);
            if (!i.isRegular()) throw new FsException(i.isDir() ? Errno.EISDIR : Errno.EINVAL, "inode " + ino);
            if (fs.isWritable()) {
                fs.writtenBack(i);
                i = live(ino);
            }
            fs.copyTo(i, out, progress::accept);
        }
    }

    /** `fsverity digest`: the file digest fs-verity would give the file's current bytes with this salt, without enabling it. */
    public byte[] computeVerity(long ino, byte[] salt) throws IOException {
        if (salt.length > 32) throw new FsException(Errno.EINVAL, "inode " + ino + ": salt of " + salt.length + " bytes (at most 32)");
        try (var _ = locks.read(ino)) {
            Inode i = live(ino);
            if (!i.isRegular()) throw new FsException(Errno.EINVAL, "inode " + ino + ": not a regular file");
            return new VerityFiles(fs).compute(i, salt).digest();
        }
    }

    /** The superblock and journal superblock as `ext4j info` shows them. */
    public FsSummary summary() throws IOException {
        Superblock sb = fs.superblock();
        var j = fs.journalSuperblock();
        FsSummary.Journal journal;
        if (j != null)
            journal = new FsSummary.Journal("internal", Integer.toUnsignedLong(sb.journalInode()), 0, j.maxLen(), j.blockSize(), j.isClean(),
                    j.sequence(), j.start(), j.incompatNames(), j.errno());
        else if (sb.hasCompat(ext4j.ondisk.Features.COMPAT_HAS_JOURNAL))
            journal = new FsSummary.Journal("external", 0, Integer.toUnsignedLong(sb.journalDev()), 0, 0, false, 0, 0, "", 0);
        else journal = new FsSummary.Journal("none", 0, 0, 0, 0, false, 0, 0, "", 0);
        List<String> features = new ArrayList<>(ext4j.ondisk.Features.compatNames(sb.featureCompat()));
        features.addAll(ext4j.ondisk.Features.incompatNames(sb.featureIncompat()));
        features.addAll(ext4j.ondisk.Features.roCompatNames(sb.featureRoCompat()));
        int state = sb.state();
        return new FsSummary(sb.kind(), sb.volumeName(), sb.uuid().toString(), (state & Superblock.STATE_VALID) != 0,
                (state & Superblock.STATE_ERROR) != 0, (state & Superblock.STATE_ORPHANS) != 0,
                sb.blockSize(), sb.clusterSize(), sb.blocksCount(), fs.volume().freeBlocks(), sb.reservedBlocksCount(),
                Integer.toUnsignedLong(sb.inodesCount()), fs.volume().freeInodes(), Integer.toUnsignedLong(sb.firstInode()), sb.inodeSize(),
                sb.groupCount(), Integer.toUnsignedLong(sb.blocksPerGroup()), Integer.toUnsignedLong(sb.inodesPerGroup()),
                sb.hasIncompat(ext4j.ondisk.Features.INCOMPAT_FLEX_BG) ? 1 << sb.logGroupsPerFlex() : 0, sb.descSize(),
                List.copyOf(features), hashName(sb.defHashVersion(), (sb.flags() & Superblock.FLAG_UNSIGNED_HASH) != 0),
                sb.hasMetadataCsum(), sb.hasMetadataCsum() ? Integer.toUnsignedLong(sb.checksumSeed()) : 0,
                sb.mkfsTime(), sb.mountTime(), sb.lastMounted(), sb.writeTime(), sb.mountCount(), sb.maxMountCount(), journal);
    }

    /** The directory hash as dumpe2fs names it, with its signedness for the hashes that have one. */
    private static String hashName(int v, boolean unsigned) {
        String n = switch (v) {
            case ext4j.dir.DxHash.LEGACY -> "legacy";
            case ext4j.dir.DxHash.HALF_MD4 -> "half_md4";
            case ext4j.dir.DxHash.TEA -> "tea";
            case ext4j.dir.DxHash.SIPHASH -> "siphash";
            default -> "unknown (" + v + ")";
        };
        return v <= ext4j.dir.DxHash.TEA ? n + (unsigned ? " (unsigned)" : " (signed)") : n;
    }

    /** Checks every block and inode bitmap against its checksum (metadata_csum); one line per bad one. */
    public List<String> verifyBitmaps() throws IOException { return fs.volume().verifyBitmaps(); }

    /** Where an inode's data lives on disk (`ext4j stat`). */
    public InodeLayout layout(long ino) throws IOException {
        try (var _ = locks.read(ino)) {
            Inode i = live(ino);
            int bs = fs.volume().blockSize();
            if (i.hasFlag(Inode.FL_INLINE_DATA)) {
                int n = fs.inlineData(i).length;
                return new InodeLayout(i.fileAcl(), i.projectId(), InodeLayout.Kind.INLINE, n, List.of(), List.of());
            }
            // a fast symlink keeps its target in i_block: no map; a slow one has a block (its xattr block not counted)
            boolean mapped = i.isRegular() || i.isDir() || (i.isSymlink()
                    && (i.hasFlag(Inode.FL_EXTENTS) || i.blocks512(bs) > (i.fileAcl() != 0 ? bs / 512 : 0)));
            if (!mapped) return new InodeLayout(i.fileAcl(), i.projectId(), InodeLayout.Kind.NONE, 0, List.of(), List.of());
            FileMap map = fs.fileMap(i);
            List<InodeLayout.Piece> pieces = new ArrayList<>();
            for (Run r : map.runs()) pieces.add(new InodeLayout.Piece(r.logical(), r.physical(), r.length(), r.kind() == Run.Kind.UNWRITTEN));
            boolean extents = map instanceof ext4j.extent.ExtentMap;
            List<Long> nodes = map instanceof ext4j.extent.ExtentMap em ? List.copyOf(em.nodeBlocks()) : List.of();
            return new InodeLayout(i.fileAcl(), i.projectId(), extents ? InodeLayout.Kind.EXTENTS : InodeLayout.Kind.BLOCKS, 0, nodes, List.copyOf(pieces));
        }
    }
}
