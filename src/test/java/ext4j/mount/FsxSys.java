package ext4j.mount;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

/**
 * The descriptor calls {@link FuseFsxTest} needs beyond {@link ext4j.testutil.Sys} (pread,
 * ftruncate, fsync, fdatasync), through FFM, each returning its result or the negated errno.
 */
final class FsxSys {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private static MethodHandle fn(String name, FunctionDescriptor d) {
        return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), d, Linker.Option.captureCallState("errno"));
    }

    private static final MethodHandle PREAD = fn("pread", FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG));
    private static final MethodHandle FTRUNCATE = fn("ftruncate", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
    private static final MethodHandle FSYNC = fn("fsync", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
    private static final MethodHandle FDATASYNC = fn("fdatasync", FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));

    private FsxSys() {}

    private static long call(MethodHandle h, Object... args) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment state = a.allocate(STATE);
            Object[] full = new Object[args.length + 1];
            full[0] = state;
            System.arraycopy(args, 0, full, 1, args.length);
            Object r = h.invokeWithArguments(full);
            long v = r instanceof Integer i ? i : (Long) r;
            return v < 0 ? -(int) ERRNO.get(state, 0L) : v;
        } catch (Throwable t) {
            throw new RuntimeException(t);
        }
    }

    /**
     * One pread(2) of up to len bytes at off into dst[0..): the count (short only at the end of the
     * file) or -errno. Repeats after a short count until len bytes, end of file or an error.
     */
    static long pread(int fd, byte[] dst, int len, long off) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(Math.max(1, len));
            long total = 0;
            while (total < len) {
                long n = call(PREAD, fd, buf.asSlice(total), len - total, off + total);
                if (n < 0) return n;
                if (n == 0) break;
                total += n;
            }
            MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, 0, dst, 0, (int) total);
            return total;
        }
    }

    /** 0 or -errno. */
    static int ftruncate(int fd, long size) { return (int) call(FTRUNCATE, fd, size); }
    static int fsync(int fd) { return (int) call(FSYNC, fd); }
    static int fdatasync(int fd) { return (int) call(FDATASYNC, fd); }
}
