package ext4j.fuse;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The libc calls a FUSE server needs and the JDK does not offer, through the FFM API: /dev/fuse
 * opened, read and written directly (no libfuse), mount(2) and umount2(2), and the
 * socketpair/posix_spawn/recvmsg dance that gets a /dev/fuse descriptor from fusermount3 for a
 * user who may not call mount(2). Each call returns its result or throws {@link NativeException}
 * carrying errno.
 */
final class Native {
    static final int O_RDWR = 2, O_CLOEXEC = 02000000;
    static final int EINTR = 4, ENOENT = 2, EAGAIN = 11, ENODEV = 19, EINVAL = 22, EPERM = 1, EBUSY = 16;
    static final long MS_NOSUID = 2, MS_NODEV = 4, MS_RDONLY = 1;
    static final int MNT_DETACH = 2;
    /** FUSE_DEV_IOC_CLONE: _IOR(229, 0, uint32_t). */
    static final long FUSE_DEV_IOC_CLONE = 0x8004E500L;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private static MethodHandle fn(String name, FunctionDescriptor d) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), d, Linker.Option.captureCallState("errno"));
    }

    private static final MethodHandle OPEN = fn("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    private static final MethodHandle CLOSE = fn("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle READ = fn("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = fn("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle IOCTL = fn("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS));
    private static final MethodHandle MOUNT = fn("mount", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    private static final MethodHandle UMOUNT2 = fn("umount2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle SOCKETPAIR = fn("socketpair", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    private static final MethodHandle RECVMSG = fn("recvmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle POSIX_SPAWNP = fn("posix_spawnp", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    private static final MethodHandle WAITPID = fn("waitpid", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    private static final MethodHandle GETUID = fn("getuid", FunctionDescriptor.of(JAVA_INT));
    private static final MethodHandle GETGID = fn("getgid", FunctionDescriptor.of(JAVA_INT));

    private Native() {}

    /** A failed system call: errno and what was called. */
    static final class NativeException extends IOException {
        final int errno;
        NativeException(String what, int errno) { super(what + ": " + strerror(errno) + " (errno " + errno + ")"); this.errno = errno; }
    }

    static String strerror(int errno) {
        return switch (errno) {
            case EPERM -> "Operation not permitted";
            case ENOENT -> "No such file or directory";
            case EINTR -> "Interrupted system call";
            case EAGAIN -> "Resource temporarily unavailable";
            case EBUSY -> "Device or resource busy";
            case ENODEV -> "No such device";
            case EINVAL -> "Invalid argument";
            case 13 -> "Permission denied";
            case 20 -> "Not a directory";
            default -> "error";
        };
    }

    private static int errno(MemorySegment state) { return (int) ERRNO.get(state, 0L); }

    private static MemorySegment cstr(Arena a, String s) { return a.allocateFrom(s); }

    static int open(String path, int flags) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(STATE);
            int fd = (int) OPEN.invokeExact(st, cstr(a, path), flags, 0);
            if (fd < 0) throw new NativeException("open " + path, errno(st));
            return fd;
        } catch (IOException e) { throw e; } catch (Throwable t) { throw new IllegalStateException(t); }
    }

    static void close(int fd) {
        try (Arena a = Arena.ofConfined()) {
            int r = (int) CLOSE.invokeExact(a.allocate(STATE), fd);
        } catch (Throwable ignored) { }
    }

    /** read(2) into buf; returns the count or -errno (the caller decides what EINTR, ENOENT, ENODEV mean). */
    static long read(int fd, MemorySegment buf, MemorySegment state) {
        try {
            long n = (long) READ.invokeExact(state, fd, buf, buf.byteSize());
            return n >= 0 ? n : -errno(state);
        } catch (Throwable t) { throw new IllegalStateException(t); }
    }

    /** write(2) of len bytes of buf; returns the count or -errno. */
    static long write(int fd, MemorySegment buf, long len, MemorySegment state) {
        try {
            long n = (long) WRITE.invokeExact(state, fd, buf, len);
            return n >= 0 ? n : -errno(state);
        } catch (Throwable t) { throw new IllegalStateException(t); }
    }

    static MemorySegment callState(Arena a) { return a.allocate(STATE); }

    /** A new /dev/fuse descriptor attached to the session of fd (FUSE_DEV_IOC_CLONE): one per server thread. */
    static int cloneFuseFd(int fd) throws IOException {
        int clone = open("/dev/fuse", O_RDWR | O_CLOEXEC);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(STATE);
            MemorySegment arg = a.allocate(JAVA_INT);
            arg.set(JAVA_INT, 0, fd);
            int r = (int) IOCTL.invokeExact(st, clone, FUSE_DEV_IOC_CLONE, arg);
            if (r < 0) { int e = errno(st); close(clone); throw new NativeException("ioctl FUSE_DEV_IOC_CLONE", e); }
            return clone;
        } catch (IOException e) { throw e; } catch (Throwable t) { throw new IllegalStateException(t); }
    }

    static void mount(String source, String target, String type, long flags, String data) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(STATE);
            int r = (int) MOUNT.invokeExact(st, cstr(a, source), cstr(a, target), cstr(a, type), flags, cstr(a, data));
            if (r < 0) throw new NativeException("mount " + target, errno(st));
        } catch (IOException e) { throw e; } catch (Throwable t) { throw new IllegalStateException(t); }
    }

    static void umount2(String target, int flags) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(STATE);
            int r = (int) UMOUNT2.invokeExact(st, cstr(a, target), flags);
            if (r < 0) throw new NativeException("umount " + target, errno(st));
        } catch (IOException e) { throw e; } catch (Throwable t) { throw new IllegalStateException(t); }
    }

    static int getuid() {
        try (Arena a = Arena.ofConfined()) { return (int) GETUID.invokeExact(a.allocate(STATE)); } catch (Throwable t) { throw new IllegalStateException(t); }
    }

    static int getgid() {
        try (Arena a = Arena.ofConfined()) { return (int) GETGID.invokeExact(a.allocate(STATE)); } catch (Throwable t) { throw new IllegalStateException(t); }
    }

    /**
     * Runs fusermount3 with args, handing it one end of a socketpair in _FUSE_COMMFD (posix_spawn
     * keeps inherited descriptors, where ProcessBuilder closes them), and returns the /dev/fuse
     * descriptor it sends back with SCM_RIGHTS.
     */
    static int fusermount(List<String> args) throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment st = a.allocate(STATE);
            MemorySegment sv = a.allocate(JAVA_INT, 2);
            int r = (int) SOCKETPAIR.invokeExact(st, 1 /* AF_UNIX */, 1 /* SOCK_STREAM */, 0, sv);
            if (r < 0) throw new NativeException("socketpair", errno(st));
            int ours = sv.getAtIndex(JAVA_INT, 0), theirs = sv.getAtIndex(JAVA_INT, 1);
            try {
                MemorySegment argv = a.allocate(ADDRESS, args.size() + 2);
                argv.setAtIndex(ADDRESS, 0, cstr(a, "fusermount3"));
                for (int i = 0; i < args.size(); i++) argv.setAtIndex(ADDRESS, i + 1, cstr(a, args.get(i)));
                argv.setAtIndex(ADDRESS, args.size() + 1, MemorySegment.NULL);
                List<String> env = new java.util.ArrayList<>();
                System.getenv().forEach((k, v) -> { if (!k.equals("_FUSE_COMMFD")) env.add(k + "=" + v); });
                env.add("_FUSE_COMMFD=" + theirs);
                MemorySegment envp = a.allocate(ADDRESS, env.size() + 1);
                for (int i = 0; i < env.size(); i++) envp.setAtIndex(ADDRESS, i, cstr(a, env.get(i)));
                envp.setAtIndex(ADDRESS, env.size(), MemorySegment.NULL);
                MemorySegment pid = a.allocate(JAVA_INT);
                r = (int) POSIX_SPAWNP.invokeExact(st, pid, cstr(a, "fusermount3"), MemorySegment.NULL, MemorySegment.NULL, argv, envp);
                if (r != 0) throw new NativeException("posix_spawnp fusermount3", r);
                close(theirs);
                theirs = -1;
                int fd = receiveFd(a, ours);
                MemorySegment status = a.allocate(JAVA_INT);
                int w = (int) WAITPID.invokeExact(st, pid.get(JAVA_INT, 0), status, 0);
                int code = w < 0 ? -1 : (status.get(JAVA_INT, 0) >> 8) & 0xFF;
                if (fd < 0) throw new IOException("fusermount3 " + String.join(" ", args) + " failed (exit " + code + ")");
                return fd;
            } finally {
                close(ours);
                if (theirs >= 0) close(theirs);
            }
        } catch (IOException e) { throw e; } catch (Throwable t) { throw new IllegalStateException(t); }
    }

    /** One descriptor from an SCM_RIGHTS message on sock, or -1 if the peer closed without sending one. */
    private static int receiveFd(Arena a, int sock) throws Throwable {
        MemorySegment st = a.allocate(STATE);
        MemorySegment data = a.allocate(1);
        MemorySegment iov = a.allocate(16, 8);
        iov.set(ADDRESS, 0, data);
        iov.set(JAVA_LONG, 8, 1);
        MemorySegment control = a.allocate(64, 8);
        MemorySegment msg = a.allocate(56, 8);        // struct msghdr on 64-bit Linux
        msg.set(ADDRESS, 16, iov);
        msg.set(JAVA_LONG, 24, 1);
        msg.set(ADDRESS, 32, control);
        msg.set(JAVA_LONG, 40, control.byteSize());
        long n;
        do { n = (long) RECVMSG.invokeExact(st, sock, msg, 0); } while (n < 0 && errno(st) == EINTR);
        if (n <= 0) return -1;
        long clen = msg.get(JAVA_LONG, 40);
        if (clen < 20) return -1;
        // struct cmsghdr: size_t len; int level; int type; then the data
        int level = control.get(JAVA_INT, 8), type = control.get(JAVA_INT, 12);
        if (level != 1 /* SOL_SOCKET */ || type != 1 /* SCM_RIGHTS */) return -1;
        return control.get(JAVA_INT, 16);
    }
}
