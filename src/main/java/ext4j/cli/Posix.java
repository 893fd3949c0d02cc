package ext4j.cli;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The few libc calls the JDK does not offer, through the FFM API: metadata that extraction must
 * restore exactly (any xattr namespace, owner and times of symlinks, full mode bits, device nodes).
 * Every call works on the path itself and never follows a final symlink.
 */
public final class Posix {
    private static final int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100;
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MemoryLayout CAPTURE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    // Each downcall handle is made on first use, in a holder class of its own: making one spins
    // method-handle classes (several ms each, which the AOT cache does not keep), and a command
    // uses only a few of these (get -r: chown, chmod, utimensat; put -r and mkfs -d: lstat and xattrs).
    private static final class Lsetxattr { static final MethodHandle H = fn("lsetxattr", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT)); }
    private static final class Lchown { static final MethodHandle H = fn("lchown", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT)); }
    private static final class Chmod { static final MethodHandle H = fn("chmod", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT)); }
    private static final class Utimensat { static final MethodHandle H = fn("utimensat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT)); }
    private static final class Mknod { static final MethodHandle H = fn("mknod", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG)); }
    private static final class Llistxattr { static final MethodHandle H = fn("llistxattr", FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG)); }
    private static final class Lgetxattr { static final MethodHandle H = fn("lgetxattr", FunctionDescriptor.of(JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG)); }
    private static final class Lstat { static final MethodHandle H = fn("lstat", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS)); }
    private static final class Geteuid { static final MethodHandle H = plain("geteuid", FunctionDescriptor.of(JAVA_INT)); }
    private static final class Getegid { static final MethodHandle H = plain("getegid", FunctionDescriptor.of(JAVA_INT)); }
    private static final class Isatty { static final MethodHandle H = plain("isatty", FunctionDescriptor.of(JAVA_INT, JAVA_INT)); }

    /** Whether the file descriptor is a terminal. */
    public static boolean isatty(int fd) {
        try { return (int) Isatty.H.invokeExact(fd) == 1; } catch (Throwable t) { return false; }
    }

    private Posix() {}

    /**
     * Bytes the host filesystem allocated to the file (st_blocks * 512), or -1 if unknown. st_blocks
     * sits at byte 64 of struct stat on both x86_64 and aarch64 Linux.
     */
    public static long allocatedBytes(Path p) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(256, 8);
            MemorySegment state = a.allocate(CAPTURE);
            int r = (int) Lstat.H.invokeExact(state, str(a, p), st);
            return r == 0 ? st.get(JAVA_LONG, 64) * 512 : -1;
        } catch (Throwable t) {
            return -1;
        }
    }

    /** What lstat(2) says of a path: the fields a bulk copy keeps. */
    public record Stat(long dev, long ino, long nlink, int mode, long uid, long gid, long rdev, long size, long blocks,
                       long atimeSec, int atimeNsec, long mtimeSec, int mtimeNsec) {
        /** Bytes the host filesystem allocated (st_blocks * 512). */
        public long allocated() { return blocks * 512; }
    }

    private static final boolean X86_64 = System.getProperty("os.arch").equals("amd64") || System.getProperty("os.arch").equals("x86_64");

    /**
     * lstat(2) in one call (the JDK's attribute views take several and build maps). struct stat
     * of x86_64 and of the generic layout (aarch64, riscv64) differ only in where nlink, mode,
     * uid, gid and rdev sit.
     */
    public static Stat lstat(Path p) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(256, 8);
            MemorySegment state = a.allocate(CAPTURE);
            int r = (int) Lstat.H.invokeExact(state, str(a, p), st);
            if (r != 0) {
                int errno = (int) ERRNO.get(state, 0L);
                if (errno == 2) throw new java.nio.file.NoSuchFileException(p.toString());
                throw new IOException(p + ": lstat failed: errno " + errno);
            }
            long nlink; int mode; long uid, gid, rdev;
            if (X86_64) {
                nlink = st.get(JAVA_LONG, 16); mode = st.get(JAVA_INT, 24); uid = st.get(JAVA_INT, 28); gid = st.get(JAVA_INT, 32); rdev = st.get(JAVA_LONG, 40);
            } else {
                mode = st.get(JAVA_INT, 16); nlink = Integer.toUnsignedLong(st.get(JAVA_INT, 20)); uid = st.get(JAVA_INT, 24); gid = st.get(JAVA_INT, 28); rdev = st.get(JAVA_LONG, 32);
            }
            return new Stat(st.get(JAVA_LONG, 0), st.get(JAVA_LONG, 8), nlink, mode, uid & 0xFFFFFFFFL, gid & 0xFFFFFFFFL, rdev,
                    st.get(JAVA_LONG, 48), st.get(JAVA_LONG, 64), st.get(JAVA_LONG, 72), (int) st.get(JAVA_LONG, 80), st.get(JAVA_LONG, 88), (int) st.get(JAVA_LONG, 96));
        } catch (IOException e) { throw e; } catch (Throwable t) { throw new IOException(t); }
    }

    /** The effective uid and gid of this process: the owner of files the CLI creates, as the kernel would make them. */
    public static long euid() {
        try { return Integer.toUnsignedLong((int) Geteuid.H.invokeExact()); } catch (Throwable t) { return 0; }
    }

    public static long egid() {
        try { return Integer.toUnsignedLong((int) Getegid.H.invokeExact()); } catch (Throwable t) { return 0; }
    }

    private static MethodHandle fn(String name, FunctionDescriptor d) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), d, Linker.Option.captureCallState("errno"));
    }

    private static MethodHandle plain(String name, FunctionDescriptor d) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), d);
    }

    /**
     * The process's umask, from /proc/self/status (Linux 4.7 and later: read without changing it,
     * as umask(2) cannot), or -1 if unknown.
     */
    public static int umask() {
        try {
            for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("Umask:")) return Integer.parseInt(line.substring(6).trim(), 8);
        } catch (IOException | RuntimeException e) {
            // unknown
        }
        return -1;
    }

    /** The caller the CLI's changes are made as: the effective uid and gid (uid 0 has every privilege, as root). */
    public static ext4j.fs.Caller caller() { return new ext4j.fs.Caller(euid(), egid(), new long[0]); }

    public static boolean isRoot() {
        try { return (int) Geteuid.H.invokeExact() == 0; } catch (Throwable t) { return false; }
    }

    public static void lsetxattr(Path p, String name, byte[] value) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(Math.max(1, value.length));
            MemorySegment.copy(value, 0, v, ValueLayout.JAVA_BYTE, 0, value.length);
            MemorySegment st = a.allocate(CAPTURE);
            int rc = (int) Lsetxattr.H.invokeExact(st, str(a, p), a.allocateFrom(name), v, (long) value.length, 0);
            check(rc, st, "setxattr " + name, p);
        } catch (IOException e) { throw e; } catch (Throwable t) { throw new IOException(t); }
    }

    /** Names of every extended attribute of p (the link itself for symlinks); empty when unsupported. */
    public static java.util.List<String> llistxattr(Path p) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            long n = (long) Llistxattr.H.invokeExact(st, str(a, p), MemorySegment.NULL, 0L);
            if (n <= 0) return java.util.List.of();
            MemorySegment buf = a.allocate(n);
            n = (long) Llistxattr.H.invokeExact(st, str(a, p), buf, n);
            if (n < 0) throw new IOException(p + ": llistxattr failed: errno " + (int) ERRNO.get(st, 0L));
            byte[] raw = buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
            java.util.List<String> out = new java.util.ArrayList<>();
            int start = 0;
            for (int i = 0; i < raw.length; i++) if (raw[i] == 0) { if (i > start) out.add(new String(raw, start, i - start, java.nio.charset.StandardCharsets.UTF_8)); start = i + 1; }
            return out;
        } catch (IOException e) { throw e; } catch (Throwable t) { throw new IOException(t); }
    }

    /** The value of one extended attribute of p (not following symlinks). */
    public static byte[] lgetxattr(Path p, String name) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            MemorySegment nm = a.allocateFrom(name);
            long n = (long) Lgetxattr.H.invokeExact(st, str(a, p), nm, MemorySegment.NULL, 0L);
            if (n < 0) throw new IOException(p + ": getxattr " + name + " failed: errno " + (int) ERRNO.get(st, 0L));
            MemorySegment buf = a.allocate(Math.max(1, n));
            n = (long) Lgetxattr.H.invokeExact(st, str(a, p), nm, buf, n);
            if (n < 0) throw new IOException(p + ": getxattr " + name + " failed: errno " + (int) ERRNO.get(st, 0L));
            return buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
        } catch (IOException e) { throw e; } catch (Throwable t) { throw new IOException(t); }
    }

    public static void lchown(Path p, long uid, long gid) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            check((int) Lchown.H.invokeExact(st, str(a, p), (int) uid, (int) gid), st, "chown", p);
        } catch (IOException e) { throw e; } catch (Throwable t) { throw new IOException(t); }
    }

    /** chmod with all 12 permission bits (setuid, setgid, sticky included); not for symlinks. */
    public static void chmod(Path p, int mode) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            check((int) Chmod.H.invokeExact(st, str(a, p), mode & 07777), st, "chmod", p);
        } catch (IOException e) { throw e; } catch (Throwable t) { throw new IOException(t); }
    }

    /** Sets atime and mtime with nanoseconds, on the link itself for symlinks. */
    public static void utimes(Path p, long aSec, int aNsec, long mSec, int mNsec) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ts = a.allocate(JAVA_LONG, 4);
            ts.setAtIndex(JAVA_LONG, 0, aSec);
            ts.setAtIndex(JAVA_LONG, 1, aNsec);
            ts.setAtIndex(JAVA_LONG, 2, mSec);
            ts.setAtIndex(JAVA_LONG, 3, mNsec);
            MemorySegment st = a.allocate(CAPTURE);
            check((int) Utimensat.H.invokeExact(st, AT_FDCWD, str(a, p), ts, AT_SYMLINK_NOFOLLOW), st, "utimensat", p);
        } catch (IOException e) { throw e; } catch (Throwable t) { throw new IOException(t); }
    }

    /** Creates a device node, fifo or socket file (mode includes the S_IF type bits). */
    public static void mknod(Path p, int mode, long major, long minor) throws IOException {
        long dev = ((major & 0xFFFFF000L) << 32) | ((major & 0xFFFL) << 8) | ((minor & 0xFFFFFF00L) << 12) | (minor & 0xFFL);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(CAPTURE);
            check((int) Mknod.H.invokeExact(st, str(a, p), mode, dev), st, "mknod", p);
        } catch (IOException e) { throw e; } catch (Throwable t) { throw new IOException(t); }
    }

    private static MemorySegment str(Arena a, Path p) { return a.allocateFrom(p.toString()); }

    private static void check(int rc, MemorySegment st, String op, Path p) throws IOException {
        if (rc == 0) return;
        int errno = (int) ERRNO.get(st, 0L);
        if (errno == 17) throw new java.nio.file.FileAlreadyExistsException(p.toString());
        throw new IOException(p + ": " + op + " failed: errno " + errno);
    }
}
