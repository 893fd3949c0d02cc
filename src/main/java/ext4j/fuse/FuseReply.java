package ext4j.fuse;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * A reply being built in a server thread's off-heap buffer: the payload after the out header
 * (struct fuse_out_header), then {@link #send} writes header and payload to /dev/fuse in one write.
 */
public final class FuseReply {
    /** Where a finished reply goes: /dev/fuse in a server, a recorder in protocol tests. */
    interface Sink {
        /** Writes len bytes of buf as one reply; returns the count or -errno. */
        long write(MemorySegment buf, int len);
    }

    final MemorySegment buf;
    private final Sink sink;
    private long unique;
    private boolean sent;

    FuseReply(MemorySegment buf, Sink sink) {
        this.buf = buf;
        this.sink = sink;
    }

    /** A reply written to a /dev/fuse descriptor. */
    static Sink toDevice(int fd, MemorySegment callState) { return (b, len) -> Native.write(fd, b, len, callState); }

    void reset(long unique) { this.unique = unique; sent = false; }

    boolean sent() { return sent; }

    /** The payload capacity. */
    int capacity() { return (int) buf.byteSize() - FuseProto.OUT_HEADER; }

    // payload writers: offsets are relative to the payload
    void u16(int off, int v) { buf.set(JAVA_SHORT_UNALIGNED, FuseProto.OUT_HEADER + off, (short) v); }
    void u32(int off, int v) { buf.set(JAVA_INT_UNALIGNED, FuseProto.OUT_HEADER + off, v); }
    void u64(int off, long v) { buf.set(JAVA_LONG_UNALIGNED, FuseProto.OUT_HEADER + off, v); }
    void bytes(int off, byte[] b) { MemorySegment.copy(b, 0, buf, JAVA_BYTE, FuseProto.OUT_HEADER + off, b.length); }
    void zero(int off, int n) { buf.asSlice(FuseProto.OUT_HEADER + off, n).fill((byte) 0); }

    /** A view of the payload from off for n bytes (READ copies file data straight into it). */
    ByteBuffer view(int off, int n) { return buf.asSlice(FuseProto.OUT_HEADER + off, n).asByteBuffer(); }

    /** Sends a success reply with payloadLength bytes of payload. */
    void send(int payloadLength) { write(0, payloadLength); }

    /** Sends an error reply (errno positive). */
    void error(int errno) { write(-errno, 0); }

    private void write(int error, int payloadLength) {
        int total = FuseProto.OUT_HEADER + payloadLength;
        buf.set(JAVA_INT_UNALIGNED, 0, total);
        buf.set(JAVA_INT_UNALIGNED, 4, error);
        buf.set(JAVA_LONG_UNALIGNED, 8, unique);
        sent = true;
        long n = sink.write(buf, total);
        // ENOENT: the request was interrupted and is gone; ENODEV: unmounted meanwhile. Neither is ours to fix.
        if (n < 0 && n != -Native.ENOENT && n != -Native.ENODEV)
            System.err.println("ext4j fuse: reply to request " + unique + " failed: errno " + (-n));
    }

    /** Writes fuse_attr at off. */
    void attr(int off, FuseAttr a) {
        u64(off, a.ino());
        u64(off + 8, a.size());
        u64(off + 16, a.blocks());
        u64(off + 24, a.atime());
        u64(off + 32, a.mtime());
        u64(off + 40, a.ctime());
        u32(off + 48, a.atimeNs());
        u32(off + 52, a.mtimeNs());
        u32(off + 56, a.ctimeNs());
        u32(off + 60, a.mode());
        u32(off + 64, a.nlink());
        u32(off + 68, a.uid());
        u32(off + 72, a.gid());
        u32(off + 76, (int) oldRdev(a.rdev()));
        u32(off + 80, a.blksize());
        u32(off + 84, 0);
    }

    /** FUSE's 32-bit rdev is the kernel's new_encode_dev of the device (major 12 bits, minor 20). */
    static long oldRdev(long dev) {
        long major = ((dev >>> 8) & 0xFFF) | ((dev >>> 32) & ~0xFFFL);
        long minor = (dev & 0xFF) | ((dev >>> 12) & ~0xFFL);
        return (minor & 0xFF) | (major << 8) | ((minor & ~0xFFL) << 12);
    }

    /** Writes fuse_entry_out at off (an entry null or with node id 0: a negative entry). */
    void entry(int off, FuseEntry e, long entryValid, long attrValid) {
        if (e == null || e.nodeid() == 0) {
            zero(off, FuseProto.ENTRY_OUT);
            if (e != null) u64(off + 16, entryValid);
            return;
        }
        u64(off, e.nodeid());
        u64(off + 8, e.generation());
        u64(off + 16, entryValid);
        u64(off + 24, attrValid);
        u32(off + 32, 0);
        u32(off + 36, 0);
        attr(off + 40, e.attr());
    }
}
