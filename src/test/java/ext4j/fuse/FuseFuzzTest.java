package ext4j.fuse;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.List;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

/**
 * FUSE request decoding: fuzzed requests through FuseRequest and FuseDispatcher into a filesystem
 * that answers every call without failing, replies recorded by a fake sink. Every request must get
 * at most one well-formed reply, and never EIO: the dispatcher answers a bug (a RuntimeException in
 * decoding or encoding) with EIO, which here can only come from the protocol code.
 */
public class FuseFuzzTest {
    private static final int BUFFER = (1 << 20) + 4096;

    /** Answers everything with small fixed results. */
    static final class Quiet implements FuseFilesystem {
        static FuseAttr attr(long ino) { return new FuseAttr(ino, 5000, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0100644, 1, 0, 0, 0, 4096, 0); }
        static FuseEntry entry(long ino) { return new FuseEntry(ino, 1, attr(ino)); }
        @Override public FuseEntry lookup(FuseContext c, long parent, byte[] name) { return name.length % 2 == 0 ? entry(5) : new FuseEntry(0, 0, null); }
        @Override public FuseAttr getattr(FuseContext c, long node, long fh) { return attr(node); }
        @Override public FuseAttr setattr(FuseContext c, long node, SetattrIn in) { return attr(node); }
        @Override public byte[] readlink(FuseContext c, long node) { return "target".getBytes(); }
        @Override public FuseEntry mknod(FuseContext c, long parent, byte[] name, int mode, int rdev, int umask) { return entry(6); }
        @Override public FuseEntry mkdir(FuseContext c, long parent, byte[] name, int mode, int umask) { return entry(7); }
        @Override public FuseEntry symlink(FuseContext c, long parent, byte[] name, byte[] target) { return entry(8); }
        @Override public void unlink(FuseContext c, long parent, byte[] name) { }
        @Override public void rmdir(FuseContext c, long parent, byte[] name) { }
        @Override public void rename(FuseContext c, long parent, byte[] name, long newParent, byte[] newName, int flags) { }
        @Override public FuseEntry link(FuseContext c, long node, long newParent, byte[] newName) { return entry(node); }
        @Override public long open(FuseContext c, long node, int flags) { return 3; }
        @Override public int read(FuseContext c, long node, long fh, long offset, ByteBuffer dst) {
            int n = Math.min(dst.remaining(), 10_000);
            for (int i = 0; i < n; i++) dst.put((byte) i);
            return n;
        }
        @Override public int write(FuseContext c, long node, long fh, long offset, ByteBuffer src, int writeFlags) { int n = src.remaining(); src.position(src.limit()); return n; }
        @Override public void flush(FuseContext c, long node, long fh) { }
        @Override public void fsync(FuseContext c, long node, long fh, boolean datasync) { }
        @Override public void setxattr(FuseContext c, long node, String name, byte[] value, int flags, int setxattrFlags) { }
        @Override public byte[] getxattr(FuseContext c, long node, String name) { return new byte[name.length()]; }
        @Override public List<String> listxattr(FuseContext c, long node) { return List.of("user.a", "user.bb", "trusted.c"); }
        @Override public void removexattr(FuseContext c, long node, String name) { }
        @Override public void readdir(FuseContext c, long node, long fh, long offset, boolean plus, DirFiller out) {
            for (long i = Math.max(0, offset); i < offset + 50 && i >= 0; i++) {
                byte[] name = ("e" + i).getBytes();
                if (!(plus ? out.addPlus(name, 100 + i, entry(100 + i), 8, i + 1) : out.add(name, 100 + i, 8, i + 1))) return;
            }
        }
        @Override public void fsyncdir(FuseContext c, long node, long fh, boolean datasync) { }
        @Override public void access(FuseContext c, long node, int mask) { }
        @Override public void fallocate(FuseContext c, long node, long fh, int mode, long offset, long length) { }
        @Override public long lseek(FuseContext c, long node, long fh, long offset, int whence) { return offset; }
        @Override public void syncfs(FuseContext c) { }
    }

    private static final Arena ARENA = Arena.ofShared();
    private static final MemorySegment IN = ARENA.allocate(BUFFER, 8), OUT = ARENA.allocate(BUFFER, 8);

    @FuzzTest(maxDuration = "10s")
    void requests(FuzzedDataProvider d) {
        FuseDispatcher disp = new FuseDispatcher(new Quiet(), 1, 1);
        int[] replies = new int[1];
        int[] error = new int[1];
        FuseReply r = new FuseReply(OUT, (buf, len) -> {
            replies[0]++;
            if (len < FuseProto.OUT_HEADER || buf.get(JAVA_INT_UNALIGNED, 0) != len) throw new AssertionError("malformed reply of " + len + " bytes");
            error[0] = buf.get(JAVA_INT_UNALIGNED, 4);
            return len;
        });
        FuseRequest q = new FuseRequest();
        int n = d.consumeInt(1, 4);
        for (int k = 0; k < n && d.remainingBytes() > 0; k++) {
            int opcode = d.consumeBoolean() ? d.consumeInt(1, 52) : d.consumeInt();
            long nodeid = d.consumeLong(0, 200);
            boolean honest = d.consumeBoolean();
            byte[] body = d.consumeBytes(d.consumeInt(0, 8192));
            int len = FuseProto.IN_HEADER + body.length;
            IN.set(JAVA_INT_UNALIGNED, 0, honest ? len : d.consumeInt());
            IN.set(JAVA_INT_UNALIGNED, 4, opcode);
            IN.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, 1000 + k);
            IN.set(ValueLayout.JAVA_LONG_UNALIGNED, 16, nodeid);
            IN.set(JAVA_INT_UNALIGNED, 24, 0);
            IN.set(JAVA_INT_UNALIGNED, 28, 0);
            IN.set(JAVA_INT_UNALIGNED, 32, 42);
            IN.set(JAVA_INT_UNALIGNED, 36, honest ? 0 : d.consumeInt(0, 3));
            MemorySegment.copy(body, 0, IN, ValueLayout.JAVA_BYTE, FuseProto.IN_HEADER, body.length);
            if (!q.decode(IN, len)) continue;
            replies[0] = 0;
            error[0] = 0;
            disp.handle(q, r);
            if (replies[0] > 1) throw new AssertionError("opcode " + opcode + ": " + replies[0] + " replies to one request");
            if (error[0] == -FuseException.EIO) throw new AssertionError("opcode " + opcode + ": EIO, a bug in the protocol code (body " + body.length + " bytes)");
        }
    }

}
