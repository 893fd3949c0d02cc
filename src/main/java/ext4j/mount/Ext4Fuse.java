package ext4j.mount;

import ext4j.base.FsException;
import ext4j.fs.Attr;
import ext4j.fs.Caller;
import ext4j.fs.Dirent;
import ext4j.fs.Entry;
import ext4j.fs.Ext4Vfs;
import ext4j.fs.OpenFile;
import ext4j.fs.SetAttr;
import ext4j.fs.StatFs;
import ext4j.fs.Time;
import ext4j.fuse.FuseAttr;
import ext4j.fuse.FuseContext;
import ext4j.fuse.FuseEntry;
import ext4j.fuse.FuseException;
import ext4j.fuse.FuseFilesystem;
import ext4j.fuse.FuseProto;
import ext4j.fuse.FuseStatfs;
import ext4j.fuse.SetattrIn;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The ext4 adapter: FUSE requests mapped onto the core API ({@link Ext4Vfs}). Node ids are inode
 * numbers, except that FUSE's root (1) is ext4's root inode (2); generations are i_generation.
 * Each node's lookup count (LOOKUP, CREATE, MKNOD, MKDIR, SYMLINK, LINK, READDIRPLUS entries, less
 * FORGET) pins its inode, so a file unlinked while the kernel still knows it lives until its last
 * FORGET, as an open file lives until its last RELEASE. Permission checks are the kernel's
 * (default_permissions with POSIX ACLs); the core applies what is left to the filesystem: umask or
 * the parent's default ACL, set-id clearing, errno for errno what Linux's ext4 returns.
 */
final class Ext4Fuse implements FuseFilesystem {
    private static final int EXT4_ROOT = 2;
    /** The inode flags lsattr may see (ext4's EXT4_FL_USER_VISIBLE). */
    private static final int USER_VISIBLE_FLAGS = 0x705BDFFF;
    private static final int FS_IOC_GETFLAGS = 0x80086601, FS_IOC_SETFLAGS = 0x40086602, FS_IOC_GETFLAGS32 = 0x80046601,
            FS_IOC_SETFLAGS32 = 0x40046602, FS_IOC_FSGETXATTR = 0x801C581F, FS_IOC_ENABLE_VERITY = 0x40806685,
            FS_IOC_MEASURE_VERITY = 0xC0046686, FS_IOC_READ_VERITY_METADATA = 0xC0286687;
    private static final int FS_VERITY_HASH_SHA256 = 1, EOVERFLOW = 75;

    private final Ext4Vfs vfs;
    private final Map<Long, OpenFile> handles = new ConcurrentHashMap<>();
    private final Map<Long, Long> lookups = new ConcurrentHashMap<>();

    Ext4Fuse(Ext4Vfs vfs) { this.vfs = vfs; }

    static long ino(long node) { return node == FuseProto.ROOT_ID ? EXT4_ROOT : node; }
    static long node(long ino) { return ino == EXT4_ROOT ? FuseProto.ROOT_ID : ino; }

    /**
     * An IOException of the core as the kernel gets it: its errno, or EIO for damage and I/O
     * errors. Damage also turns the filesystem read-only (ext4's errors=remount-ro), after what
     * was written is committed.
     */
    private FuseException fail(IOException e) {
        if (e instanceof FsException f) return new FuseException(f.errno().code, f.getMessage());
        if (e instanceof ext4j.base.CorruptException damage && !vfs.isReadOnly()) {
            System.err.println("ext4j mount: " + damage.getMessage() + ": the filesystem is now read-only");
            vfs.reportCorruption(damage);
        }
        return new FuseException(FuseException.EIO, e.getMessage());
    }

    interface Op<T> { T run() throws IOException; }

    private <T> T call(Op<T> op) throws FuseException {
        try {
            return op.run();
        } catch (IOException e) {
            throw fail(e);
        }
    }

    // ---- lookup counts ----

    private FuseEntry counted(Entry e) throws IOException {
        long ino = e.ino();
        if (ino != EXT4_ROOT) {
            IOException[] err = new IOException[1];
            lookups.compute(ino, (k, n) -> {
                if (n == null) {
                    try { vfs.retain(ino); } catch (IOException x) { err[0] = x; return null; }
                    return 1L;
                }
                return n + 1;
            });
            if (err[0] != null) throw err[0];
        }
        return entry(e);
    }

    @Override public void forget(long node, long nlookup) {
        long ino = ino(node);
        if (ino == EXT4_ROOT) return;
        lookups.computeIfPresent(ino, (k, n) -> {
            if (n > nlookup) return n - nlookup;
            try { vfs.drop(ino); } catch (IOException x) { System.err.println("ext4j mount: forget of inode " + ino + ": " + x.getMessage()); }
            return null;
        });
    }

    /** At unmount: the kernel's references are gone. */
    void forgetAll() {
        for (Long ino : List.copyOf(lookups.keySet())) forget(ino, Long.MAX_VALUE);
    }

    // ---- attributes ----

    static FuseAttr attr(Attr a) {
        Time cr = a.crtime() == null ? new Time(0, 0) : a.crtime();
        long sx = 0;
        if ((a.flags() & 0x10) != 0) sx |= 0x10;              // immutable
        if ((a.flags() & 0x20) != 0) sx |= 0x20;              // append only
        if ((a.flags() & 0x40) != 0) sx |= 0x40;              // nodump
        if ((a.flags() & 0x100000) != 0) sx |= 0x100000;      // verity
        return new FuseAttr(node(a.ino()), a.size(), a.blocks(), a.atime().seconds(), a.atime().nanos(), a.mtime().seconds(), a.mtime().nanos(),
                a.ctime().seconds(), a.ctime().nanos(), cr.seconds(), cr.nanos(), a.mode(), a.nlink(), (int) a.uid(), (int) a.gid(), a.rdev(),
                a.blockSize(), sx);
    }

    private static FuseEntry entry(Entry e) { return new FuseEntry(node(e.ino()), e.generation(), attr(e.attr())); }

    /** The caller as the core needs it; groups (read from /proc) only where a set-id decision needs them. */
    static Caller caller(FuseContext c, boolean withGroups) {
        if (c.uid() == 0) return new Caller(0, Integer.toUnsignedLong(c.gid()), new long[0]);
        return new Caller(Integer.toUnsignedLong(c.uid()), Integer.toUnsignedLong(c.gid()), withGroups ? groups(c.pid()) : new long[0]);
    }

    private static long[] groups(int pid) {
        if (pid <= 0) return new long[0];
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/" + pid + "/status"))) {
                if (!line.startsWith("Groups:")) continue;
                String rest = line.substring(7).trim();
                if (rest.isEmpty()) return new long[0];
                return java.util.Arrays.stream(rest.split("\\s+")).mapToLong(Long::parseLong).toArray();
            }
        } catch (IOException | RuntimeException ignored) { }
        return new long[0];
    }

    @Override public FuseEntry lookup(FuseContext c, long parent, byte[] name) throws FuseException {
        try {
            return counted(vfs.lookup(ino(parent), name));
        } catch (FsException e) {
            if (e.errno() == ext4j.base.Errno.ENOENT) return new FuseEntry(0, 0, null);    // cached as a negative entry
            throw fail(e);
        } catch (IOException e) {
            throw fail(e);
        }
    }

    @Override public FuseAttr getattr(FuseContext c, long node, long fh) throws FuseException {
        return call(() -> attr(vfs.getattr(ino(node))));
    }

    @Override public FuseAttr setattr(FuseContext c, long node, SetattrIn in) throws FuseException {
        SetAttr a = SetAttr.NONE;
        if (in.has(FuseProto.FATTR_MODE)) a = a.mode(in.mode());
        if (in.has(FuseProto.FATTR_UID)) a = a.uid(Integer.toUnsignedLong(in.uid()));
        if (in.has(FuseProto.FATTR_GID)) a = a.gid(Integer.toUnsignedLong(in.gid()));
        if (in.has(FuseProto.FATTR_SIZE)) a = a.size(in.size());
        if (in.has(FuseProto.FATTR_ATIME_NOW)) a = a.atimeNow();
        else if (in.has(FuseProto.FATTR_ATIME)) a = a.atime(new Time(in.atime(), in.atimeNs()));
        if (in.has(FuseProto.FATTR_MTIME_NOW)) a = a.mtimeNow();
        else if (in.has(FuseProto.FATTR_MTIME)) a = a.mtime(new Time(in.mtime(), in.mtimeNs()));
        if (in.has(FuseProto.FATTR_CTIME)) a = a.ctime(new Time(in.ctime(), in.ctimeNs()));
        if (in.has(FuseProto.FATTR_KILL_SUIDGID)) a = a.killSuidgid();
        SetAttr set = a;
        boolean setid = in.has(FuseProto.FATTR_UID) || in.has(FuseProto.FATTR_GID) || in.has(FuseProto.FATTR_KILL_SUIDGID)
                || in.has(FuseProto.FATTR_MODE) || in.has(FuseProto.FATTR_SIZE);
        // the kernel's writeback flushes times as root: that must not count as a privileged chown
        Caller who = caller(c, setid);
        return call(() -> attr(vfs.setattr(ino(node), set, who)));
    }

    @Override public byte[] readlink(FuseContext c, long node) throws FuseException { return call(() -> vfs.readlink(ino(node))); }

    @Override public FuseEntry mknod(FuseContext c, long parent, byte[] name, int mode, int rdev, int umask) throws FuseException {
        long major = (rdev & 0xFFF00L) >>> 8, minor = (rdev & 0xFFL) | ((rdev >>> 12) & 0xFFF00L);
        long dev = ((major & 0xFFFFF000L) << 32) | ((major & 0xFFFL) << 8) | ((minor & 0xFFFFFF00L) << 12) | (minor & 0xFFL);
        return call(() -> counted(vfs.mknod(ino(parent), name, mode, dev, umask, caller(c, (mode & Attr.S_ISGID) != 0))));
    }

    @Override public FuseEntry mkdir(FuseContext c, long parent, byte[] name, int mode, int umask) throws FuseException {
        return call(() -> counted(vfs.mkdir(ino(parent), name, mode, umask, caller(c, false))));
    }

    @Override public FuseEntry symlink(FuseContext c, long parent, byte[] name, byte[] target) throws FuseException {
        return call(() -> counted(vfs.symlink(ino(parent), name, target, caller(c, false))));
    }

    @Override public void unlink(FuseContext c, long parent, byte[] name) throws FuseException {
        call(() -> { vfs.unlink(ino(parent), name); return null; });
    }

    @Override public void rmdir(FuseContext c, long parent, byte[] name) throws FuseException {
        call(() -> { vfs.rmdir(ino(parent), name); return null; });
    }

    @Override public void rename(FuseContext c, long parent, byte[] name, long newParent, byte[] newName, int flags) throws FuseException {
        call(() -> { vfs.rename(ino(parent), name, ino(newParent), newName, flags); return null; });
    }

    @Override public FuseEntry link(FuseContext c, long node, long newParent, byte[] newName) throws FuseException {
        return call(() -> counted(vfs.link(ino(node), ino(newParent), newName)));
    }

    // ---- files ----

    /** Whether the kernel's writeback cache is on: it then reads pages of files opened write-only (partial-page writes). */
    private volatile boolean writebackCache;

    private volatile ext4j.fuse.FuseNotifier notifier = ext4j.fuse.FuseNotifier.NONE;

    @Override public void init(long kernelFlags, ext4j.fuse.FuseNotifier notifier) {
        writebackCache = (kernelFlags & FuseProto.WRITEBACK_CACHE) != 0;
        this.notifier = notifier;
    }

    /**
     * The kernel positions appends itself (it knows the size), so the core never sees O_APPEND;
     * with the writeback cache a write-only open is served read-write, since the kernel fills
     * partly written pages by reading them through that handle.
     */
    private long opened(long ino, int flags, Caller who) throws IOException {
        if (writebackCache && (flags & Ext4Vfs.O_ACCMODE) == Ext4Vfs.O_WRONLY) flags = (flags & ~Ext4Vfs.O_ACCMODE) | Ext4Vfs.O_RDWR;
        OpenFile f = vfs.open(ino, flags & ~Ext4Vfs.O_APPEND, who);
        handles.put(f.id(), f);
        return f.id();
    }

    private OpenFile handle(long fh) throws FuseException {
        OpenFile f = handles.get(fh);
        if (f == null) throw new FuseException(FuseException.EBADF, "no open handle " + fh);
        return f;
    }

    @Override public long open(FuseContext c, long node, int flags) throws FuseException {
        return call(() -> opened(ino(node), flags, caller(c, (flags & Ext4Vfs.O_TRUNC) != 0)));
    }

    @Override public Created create(FuseContext c, long parent, byte[] name, int mode, int umask, int flags) throws FuseException {
        return call(() -> {
            Entry e = vfs.create(ino(parent), name, mode, umask, caller(c, (mode & Attr.S_ISGID) != 0));
            FuseEntry fe = counted(e);
            // a new file is opened as asked, but never truncated again and never refused for the mode it was just given
            long fh = opened(e.ino(), (flags & ~Ext4Vfs.O_TRUNC & ~Ext4Vfs.O_ACCMODE) | Ext4Vfs.O_RDWR, Caller.ROOT);
            return new Created(fe, fh);
        });
    }

    @Override public int read(FuseContext c, long node, long fh, long offset, ByteBuffer dst) throws FuseException {
        OpenFile f = handle(fh);
        return call(() -> {
            int total = 0;
            while (dst.hasRemaining()) {
                int n = vfs.read(f, offset + total, dst);
                if (n <= 0) break;
                total += n;
            }
            return total;
        });
    }

    @Override public int write(FuseContext c, long node, long fh, long offset, ByteBuffer src, int writeFlags) throws FuseException {
        OpenFile f = handle(fh);
        Caller who = (writeFlags & FuseProto.WRITE_KILL_SUIDGID) != 0 ? caller(c, true) : Caller.ROOT;
        return call(() -> vfs.write(f, offset, src, who));
    }

    @Override public void release(FuseContext c, long node, long fh, int flags) throws FuseException {
        OpenFile f = handles.remove(fh);
        if (f != null) call(() -> { vfs.release(f); return null; });
    }

    /**
     * After an fsync the blocks the kernel's writeback sent are allocated, and st_blocks changed
     * behind the kernel's cached attributes (it caches them for an hour): it is told to drop them.
     */
    @Override public void fsync(FuseContext c, long node, long fh, boolean datasync) throws FuseException {
        OpenFile f = handle(fh);
        call(() -> { vfs.fsync(f, datasync); return null; });
        if (!f.isDirectory()) notifier.invalidateInode(node, -1, 0);
    }

    @Override public long opendir(FuseContext c, long node, int flags) throws FuseException {
        return call(() -> opened(ino(node), Ext4Vfs.O_RDONLY, Caller.ROOT));
    }

    @Override public void releasedir(FuseContext c, long node, long fh) throws FuseException { release(c, node, fh, 0); }

    @Override public void fsyncdir(FuseContext c, long node, long fh, boolean datasync) throws FuseException { fsync(c, node, fh, datasync); }

    @Override public void readdir(FuseContext c, long node, long fh, long offset, boolean plus, DirFiller out) throws FuseException {
        call(() -> {
            vfs.readdir(ino(node), offset, (Dirent d) -> {
                byte[] n = d.name();
                boolean dots = (n.length == 1 && n[0] == '.') || (n.length == 2 && n[0] == '.' && n[1] == '.');
                if (!plus) return out.add(n, node(d.ino()), d.type(), d.nextCookie());
                if (dots) return out.addPlus(n, node(d.ino()), null, d.type(), d.nextCookie());
                Attr a;
                try { a = vfs.getattr(d.ino()); } catch (FsException gone) { return true; }   // removed meanwhile: skip it
                FuseEntry e = entry(new Entry(a.ino(), a.generation(), a));
                if (!out.addPlus(n, e.nodeid(), e, d.type(), d.nextCookie())) return false;
                counted(new Entry(a.ino(), a.generation(), a));
                return true;
            });
            return null;
        });
    }

    @Override public FuseStatfs statfs(FuseContext c, long node) throws FuseException {
        StatFs s = call(vfs::statfs);
        return new FuseStatfs(s.blocks(), s.freeBlocks(), s.availableBlocks(), s.inodes(), s.freeInodes(), s.blockSize(), s.nameMax(), s.blockSize());
    }

    @Override public void access(FuseContext c, long node, int mask) throws FuseException {
        call(() -> { vfs.access(ino(node), caller(c, true), mask); return null; });
    }

    // ---- xattrs ----

    @Override public void setxattr(FuseContext c, long node, String name, byte[] value, int flags, int setxattrFlags) throws FuseException {
        call(() -> { vfs.setxattr(ino(node), name, value, flags, caller(c, name.startsWith("system.posix_acl"))); return null; });
    }

    @Override public byte[] getxattr(FuseContext c, long node, String name) throws FuseException {
        return call(() -> vfs.getxattr(ino(node), name, caller(c, false)));
    }

    @Override public List<String> listxattr(FuseContext c, long node) throws FuseException {
        return call(() -> vfs.listxattr(ino(node), caller(c, false)));
    }

    @Override public void removexattr(FuseContext c, long node, String name) throws FuseException {
        call(() -> { vfs.removexattr(ino(node), name, caller(c, false)); return null; });
    }

    // ---- space ----

    @Override public void fallocate(FuseContext c, long node, long fh, int mode, long offset, long length) throws FuseException {
        OpenFile f = handle(fh);
        call(() -> { vfs.fallocate(f, mode, offset, length); return null; });
    }

    @Override public long lseek(FuseContext c, long node, long fh, long offset, int whence) throws FuseException {
        OpenFile f = handle(fh);
        return call(() -> vfs.lseek(f, offset, whence));
    }

    @Override public long copyFileRange(FuseContext c, long nodeIn, long fhIn, long offIn, long nodeOut, long fhOut, long offOut, long len, long flags)
            throws FuseException {
        if (flags != 0) throw new FuseException(FuseException.EINVAL, "copy_file_range flags " + flags);
        OpenFile in = handle(fhIn), out = handle(fhOut);
        long n = Math.min(len, 1L << 30);
        return call(() -> vfs.copyFileRange(in, offIn, out, offOut, n, caller(c, true)));
    }

    @Override public void syncfs(FuseContext c) throws FuseException { call(() -> { vfs.sync(); return null; }); }

    // ---- ioctl ----

    @Override public IoctlResult ioctl(FuseContext c, long node, long fh, int flags, int cmd, byte[] in, int outSize) throws FuseException {
        long ino = ino(node);
        switch (cmd) {
            case FS_IOC_GETFLAGS, FS_IOC_GETFLAGS32 -> {
                int fl = call(() -> vfs.getattr(ino)).flags() & USER_VISIBLE_FLAGS;
                return new IoctlResult(0, le(fl, Math.max(4, Math.min(outSize, 8))));
            }
            case FS_IOC_SETFLAGS, FS_IOC_SETFLAGS32 -> {
                if (in.length < 4) throw new FuseException(FuseException.EINVAL, "SETFLAGS argument");
                int want = ByteBuffer.wrap(in).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(0);
                int have = call(() -> vfs.getattr(ino)).flags() & USER_VISIBLE_FLAGS;
                if (want == have) return new IoctlResult(0, new byte[0]);
                throw new FuseException(FuseException.EOPNOTSUPP, "changing inode flags (chattr) is not supported");
            }
            case FS_IOC_FSGETXATTR -> {
                int fl = call(() -> vfs.getattr(ino)).flags();
                int x = 0;
                if ((fl & 0x8) != 0) x |= 0x20;       // sync
                if ((fl & 0x10) != 0) x |= 0x8;       // immutable
                if ((fl & 0x20) != 0) x |= 0x10;      // append
                if ((fl & 0x40) != 0) x |= 0x80;      // nodump
                if ((fl & 0x80) != 0) x |= 0x40;      // noatime
                byte[] out = new byte[28];
                ByteBuffer.wrap(out).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(0, x);
                return new IoctlResult(0, out);
            }
            case FS_IOC_ENABLE_VERITY -> { return enableVerity(fh, in); }
            case FS_IOC_MEASURE_VERITY -> {
                // struct fsverity_digest: u16 algorithm, u16 size (in: the room the caller has), then the digest
                if (in.length < 4) throw new FuseException(FuseException.EINVAL, "MEASURE_VERITY argument");
                int room = Short.toUnsignedInt(ByteBuffer.wrap(in).order(java.nio.ByteOrder.LITTLE_ENDIAN).getShort(2));
                byte[] digest = call(() -> vfs.measureVerity(ino));
                if (room < digest.length) throw new FuseException(EOVERFLOW, "digest of " + digest.length + " bytes for " + room);
                ByteBuffer out = ByteBuffer.allocate(4 + digest.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                out.putShort((short) FS_VERITY_HASH_SHA256).putShort((short) digest.length).put(digest);
                return new IoctlResult(0, out.array());
            }
            // its argument points to a buffer, which a restricted FUSE ioctl cannot reach
            case FS_IOC_READ_VERITY_METADATA -> throw new FuseException(FuseException.EOPNOTSUPP, "FS_IOC_READ_VERITY_METADATA through FUSE");
            default -> throw new FuseException(FuseException.ENOTTY, "ioctl 0x" + Integer.toHexString(cmd));
        }
    }

    /**
     * struct fsverity_enable_arg (128 bytes: version, hash algorithm, block size, salt size, salt
     * pointer, signature size, ...), followed by the salt and signature bytes the kernel copied in.
     */
    private IoctlResult enableVerity(long fh, byte[] in) throws FuseException {
        if (in.length < 128) throw new FuseException(FuseException.EINVAL, "ENABLE_VERITY argument of " + in.length + " bytes");
        ByteBuffer b = ByteBuffer.wrap(in).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int version = b.getInt(0), alg = b.getInt(4), blockSize = b.getInt(8), saltSize = b.getInt(12), sigSize = b.getInt(24);
        if (version != 1) throw new FuseException(FuseException.EINVAL, "fs-verity version " + version);
        if (alg != FS_VERITY_HASH_SHA256) throw new FuseException(FuseException.EOPNOTSUPP, "fs-verity hash algorithm " + alg + " (SHA-256 only)");
        int bs = call(vfs::statfs).blockSize();
        if (blockSize != bs) throw new FuseException(FuseException.EINVAL, "fs-verity block size " + blockSize + " (this filesystem: " + bs + ")");
        if (sigSize != 0) throw new FuseException(FuseException.EOPNOTSUPP, "fs-verity built-in signatures");
        if (saltSize < 0 || saltSize > 32 || 128 + saltSize > in.length) throw new FuseException(FuseException.EINVAL, "fs-verity salt of " + saltSize + " bytes");
        byte[] salt = java.util.Arrays.copyOfRange(in, 128, 128 + saltSize);
        OpenFile f = handle(fh);
        call(() -> vfs.enableVerity(f, salt, this::openForWriting));
        return new IoctlResult(0, new byte[0]);
    }

    private boolean openForWriting(long ino) {
        for (OpenFile f : handles.values()) if (f.ino() == ino && (f.flags() & Ext4Vfs.O_ACCMODE) != Ext4Vfs.O_RDONLY) return true;
        return false;
    }

    private static byte[] le(int v, int size) {
        byte[] b = new byte[size];
        ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(0, v);
        return b;
    }

    @Override public FuseAttr statx(FuseContext c, long node, long fh, int flags, int mask) throws FuseException { return getattr(c, node, fh); }

    /** Handles still open (tests: every RELEASE arrived). */
    int openHandles() { return handles.size(); }

    /** At unmount: handles the kernel never released. */
    void releaseAll() {
        for (Long fh : List.copyOf(handles.keySet())) {
            OpenFile f = handles.remove(fh);
            if (f != null) try { vfs.release(f); } catch (IOException ignored) { }
        }
    }
}
