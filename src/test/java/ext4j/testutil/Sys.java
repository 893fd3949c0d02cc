package ext4j.testutil;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The Linux system calls a kernel cross-check needs and Java lacks (renameat2, fallocate, lseek
 * with SEEK_DATA/SEEK_HOLE), through FFM, each returning its result or the negated errno.
 */
public final class Sys {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = STATE.varHandle(java.lang.foreign.MemoryLayout.PathElement.groupElement("errno"));
    private static final int AT_FDCWD = -100;

    private static MethodHandle fn(String name, FunctionDescriptor d) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), d, Linker.Option.captureCallState("errno"));
    }

    private static final MethodHandle RENAMEAT2 = fn("renameat2", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle OPEN = fn("open", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle CLOSE = fn("close", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle FALLOCATE = fn("fallocate", FunctionDescriptor.of(ValueLayout.JAVA_INT,
            ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
    private static final MethodHandle LSEEK = fn("lseek", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));

    private static final MethodHandle MKDIR = fn("mkdir", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle CHMOD = fn("chmod", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    private static final MethodHandle LCHOWN = fn("lchown", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle TRUNCATE = fn("truncate", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
    private static final MethodHandle UNLINK = fn("unlink", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final MethodHandle RMDIR = fn("rmdir", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
    private static final MethodHandle LINK = fn("link", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    private static final MethodHandle SYMLINK = fn("symlink", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
    private static final MethodHandle PWRITE = fn("pwrite", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));

    private Sys() {}

    public static int mkdir(String path, int mode) { return (int) call(MKDIR, path, mode); }
    public static int chmod(String path, int mode) { return (int) call(CHMOD, path, mode); }
    public static int lchown(String path, int uid, int gid) { return (int) call(LCHOWN, path, uid, gid); }
    public static int truncate(String path, long len) { return (int) call(TRUNCATE, path, len); }
    public static int unlink(String path) { return (int) call(UNLINK, path); }
    public static int rmdir(String path) { return (int) call(RMDIR, path); }
    public static int link(String from, String to) { return (int) call(LINK, from, to); }
    public static int symlink(String target, String path) { return (int) call(SYMLINK, target, path); }

    /** pwrite of all of data at off: the count or -errno. */
    public static long pwrite(int fd, byte[] data, long off) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(Math.max(1, data.length));
            buf.copyFrom(MemorySegment.ofArray(data));
            return call(PWRITE, fd, buf, (long) data.length, off);
        }
    }

    private static long call(MethodHandle h, Object... args) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment state = a.allocate(STATE);
            Object[] full = new Object[args.length + 1];
            full[0] = state;
            for (int i = 0; i < args.length; i++) full[i + 1] = args[i] instanceof String s ? a.allocateFrom(s) : args[i];
            Object r = h.invokeWithArguments(full);
            long v = r instanceof Integer i ? i : (Long) r;
            return v < 0 ? -(int) ERRNO.get(state, 0L) : v;
        } catch (Throwable t) {
            throw new RuntimeException(t);
        }
    }

    /** 0 or -errno. */
    public static int renameat2(String from, String to, int flags) { return (int) call(RENAMEAT2, AT_FDCWD, from, AT_FDCWD, to, flags); }
    /** fd or -errno. */
    public static int open(String path, int flags, int mode) { return (int) call(OPEN, path, flags, mode); }
    public static int close(int fd) { return (int) call(CLOSE, fd); }
    /** 0 or -errno. */
    public static int fallocate(int fd, int mode, long off, long len) { return (int) call(FALLOCATE, fd, mode, off, len); }
    /** The offset or -errno. */
    public static long lseek(int fd, long off, int whence) { return call(LSEEK, fd, off, whence); }
}
