package ext4j.mount;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The POSIX calls FusePosixCompareTest makes, through FFM on Linux x86_64 glibc (the struct stat,
 * struct statfs and struct dirent offsets are that ABI's). Each returns its result or the negated
 * errno, as ext4j.testutil.Sys does; calls that return data return a {@link Res}.
 */
final class PosixSys {
    private PosixSys() {}

    static final int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100;
    static final long UTIME_NOW = (1L << 30) - 1, UTIME_OMIT = (1L << 30) - 2;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfLong J = ValueLayout.JAVA_LONG;
    private static final AddressLayout P = ValueLayout.ADDRESS;

    private static MethodHandle fn(String name, ValueLayout ret, ValueLayout... args) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), FunctionDescriptor.of(ret, args), Linker.Option.captureCallState("errno"));
    }

    private static MethodHandle variadic(String name, int fixed, ValueLayout ret, ValueLayout... args) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), FunctionDescriptor.of(ret, args),
                Linker.Option.captureCallState("errno"), Linker.Option.firstVariadicArg(fixed));
    }

    private static final MethodHandle OPEN = variadic("open", 2, I, P, I, I);
    private static final MethodHandle CLOSE = fn("close", I, I);
    private static final MethodHandle READ = fn("read", J, I, P, J);
    private static final MethodHandle WRITE = fn("write", J, I, P, J);
    private static final MethodHandle PREAD = fn("pread", J, I, P, J, J);
    private static final MethodHandle PWRITE = fn("pwrite", J, I, P, J, J);
    private static final MethodHandle FTRUNCATE = fn("ftruncate", I, I, J);
    private static final MethodHandle TRUNCATE = fn("truncate", I, P, J);
    private static final MethodHandle FALLOCATE = fn("fallocate", I, I, I, J, J);
    private static final MethodHandle LSEEK = fn("lseek", J, I, J, I);
    private static final MethodHandle FSYNC = fn("fsync", I, I);
    private static final MethodHandle FADVISE = fn("posix_fadvise", I, I, J, J, I);
    private static final MethodHandle FSTATAT = fn("fstatat", I, I, P, P, I);
    private static final MethodHandle FSTAT = fn("fstat", I, I, P);
    private static final MethodHandle STATX = fn("statx", I, I, P, I, I, P);
    private static final MethodHandle CHMOD = fn("chmod", I, P, I);
    private static final MethodHandle FCHMOD = fn("fchmod", I, I, I);
    private static final MethodHandle CHOWN = fn("chown", I, P, I, I);
    private static final MethodHandle LCHOWN = fn("lchown", I, P, I, I);
    private static final MethodHandle FCHOWN = fn("fchown", I, I, I, I);
    private static final MethodHandle UTIMENSAT = fn("utimensat", I, I, P, P, I);
    private static final MethodHandle FUTIMENS = fn("futimens", I, I, P);
    private static final MethodHandle MKDIR = fn("mkdir", I, P, I);
    private static final MethodHandle RMDIR = fn("rmdir", I, P);
    private static final MethodHandle UNLINK = fn("unlink", I, P);
    private static final MethodHandle LINK = fn("link", I, P, P);
    private static final MethodHandle SYMLINK = fn("symlink", I, P, P);
    private static final MethodHandle READLINK = fn("readlink", J, P, P, J);
    private static final MethodHandle RENAME = fn("rename", I, P, P);
    private static final MethodHandle RENAMEAT2 = fn("renameat2", I, I, P, I, P, I);
    private static final MethodHandle MKNOD = fn("mknod", I, P, I, J);
    private static final MethodHandle SETXATTR = fn("setxattr", I, P, P, P, J, I);
    private static final MethodHandle LSETXATTR = fn("lsetxattr", I, P, P, P, J, I);
    private static final MethodHandle FSETXATTR = fn("fsetxattr", I, I, P, P, J, I);
    private static final MethodHandle GETXATTR = fn("getxattr", J, P, P, P, J);
    private static final MethodHandle LGETXATTR = fn("lgetxattr", J, P, P, P, J);
    private static final MethodHandle FGETXATTR = fn("fgetxattr", J, I, P, P, J);
    private static final MethodHandle LISTXATTR = fn("listxattr", J, P, P, J);
    private static final MethodHandle LLISTXATTR = fn("llistxattr", J, P, P, J);
    private static final MethodHandle REMOVEXATTR = fn("removexattr", I, P, P);
    private static final MethodHandle LREMOVEXATTR = fn("lremovexattr", I, P, P);
    private static final MethodHandle STATFS = fn("statfs", I, P, P);
    private static final MethodHandle OPENDIR = fn("opendir", P, P);
    private static final MethodHandle READDIR = fn("readdir", P, P);
    private static final MethodHandle CLOSEDIR = fn("closedir", I, P);
    private static final MethodHandle UMASK = LINKER.downcallHandle(LINKER.defaultLookup().find("umask").orElseThrow(), FunctionDescriptor.of(I, I));

    /** A call's result (or -errno) and the bytes it returned. */
    record Res(long rc, byte[] data) {}

    /** The fields of struct stat the test reads. */
    record Stat(long dev, long ino, long nlink, int mode, int uid, int gid, long rdev, long size, long blksize, long blocks,
                long atime, long atimeNs, long mtime, long mtimeNs, long ctime, long ctimeNs) {
        int major() { return (int) (((rdev >>> 32) & 0xfffff000L) | ((rdev >>> 8) & 0xfff)); }
        int minor() { return (int) (((rdev >>> 12) & 0xffffff00L) | (rdev & 0xff)); }
    }

    /** The fields of struct statfs the test reads. */
    record StatFs(long type, long bsize, long blocks, long files, long namelen, long frsize) {}

    /** A readdir entry: its name and d_type. */
    record Dirent(String name, int type) {}

    static long makedev(long major, long minor) {
        return ((major & 0xfffff000L) << 32) | ((major & 0xfffL) << 8) | ((minor & 0xffffff00L) << 12) | (minor & 0xffL);
    }

    private static long invoke(MethodHandle h, Arena a, Object... args) {
        MemorySegment state = a.allocate(STATE);
        Object[] full = new Object[args.length + 1];
        full[0] = state;
        for (int i = 0; i < args.length; i++) full[i + 1] = args[i] instanceof String s ? a.allocateFrom(s, StandardCharsets.UTF_8) : args[i];
        try {
            Object r = h.invokeWithArguments(full);
            long v = r instanceof Integer i ? i : r instanceof MemorySegment m ? (m.address() == 0 ? -1 : 0) : (Long) r;
            return v < 0 ? -(int) ERRNO.get(state, 0L) : v;
        } catch (Throwable t) {
            throw new RuntimeException(t);
        }
    }

    private static long call(MethodHandle h, Object... args) {
        try (Arena a = Arena.ofConfined()) { return invoke(h, a, args); }
    }

    private static MemorySegment bytes(Arena a, byte[] data) {
        MemorySegment m = a.allocate(Math.max(1, data.length));
        m.copyFrom(MemorySegment.ofArray(data));
        return m;
    }

    static int umask(int mask) {
        try { return (int) UMASK.invokeExact(mask); } catch (Throwable t) { throw new RuntimeException(t); }
    }

    static int open(String path, int flags, int mode) { return (int) call(OPEN, path, flags, mode); }
    static int close(int fd) { return (int) call(CLOSE, fd); }
    static int fsync(int fd) { return (int) call(FSYNC, fd); }
    /** posix_fadvise returns the error number itself: 0 or -errno here. */
    static int fadvise(int fd, long off, long len, int advice) {
        try (Arena a = Arena.ofConfined()) { return (int) -invoke(FADVISE, a, fd, off, len, advice); }
    }
    static int ftruncate(int fd, long len) { return (int) call(FTRUNCATE, fd, len); }
    static int truncate(String path, long len) { return (int) call(TRUNCATE, path, len); }
    static int fallocate(int fd, int mode, long off, long len) { return (int) call(FALLOCATE, fd, mode, off, len); }
    static long lseek(int fd, long off, int whence) { return call(LSEEK, fd, off, whence); }

    static Res read(int fd, int n) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(Math.max(1, n));
            long r = invoke(READ, a, fd, buf, (long) n);
            return new Res(r, r > 0 ? buf.asSlice(0, r).toArray(ValueLayout.JAVA_BYTE) : new byte[0]);
        }
    }

    static Res pread(int fd, int n, long off) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(Math.max(1, n));
            long r = invoke(PREAD, a, fd, buf, (long) n, off);
            return new Res(r, r > 0 ? buf.asSlice(0, r).toArray(ValueLayout.JAVA_BYTE) : new byte[0]);
        }
    }

    static long write(int fd, byte[] data) {
        try (Arena a = Arena.ofConfined()) { return invoke(WRITE, a, fd, bytes(a, data), (long) data.length); }
    }

    static long pwrite(int fd, byte[] data, long off) {
        try (Arena a = Arena.ofConfined()) { return invoke(PWRITE, a, fd, bytes(a, data), (long) data.length, off); }
    }

    private static Stat stat(MemorySegment s) {
        return new Stat(s.get(J, 0L), s.get(J, 8L), s.get(J, 16L), s.get(I, 24L), s.get(I, 28L), s.get(I, 32L), s.get(J, 40L), s.get(J, 48L),
                s.get(J, 56L), s.get(J, 64L), s.get(J, 72L), s.get(J, 80L), s.get(J, 88L), s.get(J, 96L), s.get(J, 104L), s.get(J, 112L));
    }

    /** stat (follow) or lstat; rc 0 and the stat, or rc -errno and null. */
    static Object[] stat(String path, boolean follow) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(144, 8);
            long r = invoke(FSTATAT, a, AT_FDCWD, path, s, follow ? 0 : AT_SYMLINK_NOFOLLOW);
            return new Object[] {r, r == 0 ? stat(s) : null};
        }
    }

    static Object[] fstat(int fd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(144, 8);
            long r = invoke(FSTAT, a, fd, s);
            return new Object[] {r, r == 0 ? stat(s) : null};
        }
    }

    static final int AT_EMPTY_PATH = 0x1000, AT_STATX_FORCE_SYNC = 0x2000, STATX_BASIC_STATS = 0x7ff;

    /** The statx(2) fields the test reads (struct statx offsets: mode 28, size 40, blocks 48). */
    record Statx(int mode, long size, long blocks) {}

    /** statx of path (relative to the fd when path is empty and AT_EMPTY_PATH is set): rc and the fields, or rc -errno and null. */
    static Object[] statx(int dirfd, String path, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(256, 8);
            long r = invoke(STATX, a, dirfd, path, flags, STATX_BASIC_STATS, s);
            return new Object[] {r, r == 0 ? new Statx(Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT, 28L)), s.get(J, 40L), s.get(J, 48L)) : null};
        }
    }

    static Object[] statfs(String path) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(120, 8);
            long r = invoke(STATFS, a, path, s);
            return new Object[] {r, r == 0 ? new StatFs(s.get(J, 0L), s.get(J, 8L), s.get(J, 16L), s.get(J, 40L), s.get(J, 64L), s.get(J, 72L)) : null};
        }
    }

    static int chmod(String path, int mode) { return (int) call(CHMOD, path, mode); }
    static int fchmod(int fd, int mode) { return (int) call(FCHMOD, fd, mode); }
    static int chown(String path, int uid, int gid) { return (int) call(CHOWN, path, uid, gid); }
    static int lchown(String path, int uid, int gid) { return (int) call(LCHOWN, path, uid, gid); }
    static int fchown(int fd, int uid, int gid) { return (int) call(FCHOWN, fd, uid, gid); }

    /** utimensat with two timespecs, or times NULL when times is null. */
    static int utimensat(String path, long[] times, int flags) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment t = times == null ? MemorySegment.NULL : a.allocateFrom(ValueLayout.JAVA_LONG, times);
            return (int) invoke(UTIMENSAT, a, AT_FDCWD, path, t, flags);
        }
    }

    static int futimens(int fd, long[] times) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment t = times == null ? MemorySegment.NULL : a.allocateFrom(ValueLayout.JAVA_LONG, times);
            return (int) invoke(FUTIMENS, a, fd, t);
        }
    }

    static int mkdir(String path, int mode) { return (int) call(MKDIR, path, mode); }
    static int rmdir(String path) { return (int) call(RMDIR, path); }
    static int unlink(String path) { return (int) call(UNLINK, path); }
    static int link(String from, String to) { return (int) call(LINK, from, to); }
    static int symlink(String target, String path) { return (int) call(SYMLINK, target, path); }
    static int rename(String from, String to) { return (int) call(RENAME, from, to); }
    static int renameat2(String from, String to, int flags) { return (int) call(RENAMEAT2, AT_FDCWD, from, AT_FDCWD, to, flags); }
    static int mknod(String path, int mode, long dev) { return (int) call(MKNOD, path, mode, dev); }

    static Res readlink(String path, int size) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(Math.max(1, size));
            long r = invoke(READLINK, a, path, buf, (long) size);
            return new Res(r, r > 0 ? buf.asSlice(0, r).toArray(ValueLayout.JAVA_BYTE) : new byte[0]);
        }
    }

    /** setxattr (follow), lsetxattr (no follow). */
    static int setxattr(String path, String name, byte[] value, int flags, boolean follow) {
        try (Arena a = Arena.ofConfined()) {
            return (int) invoke(follow ? SETXATTR : LSETXATTR, a, path, name, bytes(a, value), (long) value.length, flags);
        }
    }

    static int fsetxattr(int fd, String name, byte[] value, int flags) {
        try (Arena a = Arena.ofConfined()) { return (int) invoke(FSETXATTR, a, fd, name, bytes(a, value), (long) value.length, flags); }
    }

    /** getxattr into a buffer of size bytes (0: the size query). */
    static Res getxattr(String path, String name, int size, boolean follow) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = size == 0 ? MemorySegment.NULL : a.allocate(size);
            long r = invoke(follow ? GETXATTR : LGETXATTR, a, path, name, buf, (long) size);
            return new Res(r, r > 0 && size > 0 ? buf.asSlice(0, r).toArray(ValueLayout.JAVA_BYTE) : new byte[0]);
        }
    }

    static Res fgetxattr(int fd, String name, int size) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = size == 0 ? MemorySegment.NULL : a.allocate(size);
            long r = invoke(FGETXATTR, a, fd, name, buf, (long) size);
            return new Res(r, r > 0 && size > 0 ? buf.asSlice(0, r).toArray(ValueLayout.JAVA_BYTE) : new byte[0]);
        }
    }

    static Res listxattr(String path, int size, boolean follow) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = size == 0 ? MemorySegment.NULL : a.allocate(size);
            long r = invoke(follow ? LISTXATTR : LLISTXATTR, a, path, buf, (long) size);
            return new Res(r, r > 0 && size > 0 ? buf.asSlice(0, r).toArray(ValueLayout.JAVA_BYTE) : new byte[0]);
        }
    }

    static int removexattr(String path, String name, boolean follow) { return (int) call(follow ? REMOVEXATTR : LREMOVEXATTR, path, name); }

    /** Every entry readdir returns (with . and ..), or rc -errno. */
    static Object[] readdir(String path) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment state = a.allocate(STATE);
            MemorySegment dir = (MemorySegment) OPENDIR.invokeExact(state, a.allocateFrom(path, StandardCharsets.UTF_8));
            if (dir.address() == 0) return new Object[] {(long) -(int) ERRNO.get(state, 0L), null};
            List<Dirent> out = new ArrayList<>();
            try {
                while (true) {
                    MemorySegment e = (MemorySegment) READDIR.invokeExact(state, dir);
                    if (e.address() == 0) break;
                    MemorySegment ent = e.reinterpret(19 + 256);
                    out.add(new Dirent(ent.getString(19, StandardCharsets.UTF_8), ent.get(ValueLayout.JAVA_BYTE, 18) & 0xff));
                }
            } finally {
                int ignored = (int) CLOSEDIR.invokeExact(state, dir);
            }
            return new Object[] {0L, out};
        } catch (Throwable t) {
            throw new RuntimeException(t);
        }
    }
}
