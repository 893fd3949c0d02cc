package ext4j.fuse;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

/**
 * One request as read from /dev/fuse: the header (struct fuse_in_header) and a body whose reads are
 * bounds-checked, so a short or malformed request becomes EINVAL, never an exception that escapes.
 * Reused for every request a server thread reads.
 */
public final class FuseRequest {
    private MemorySegment buf;
    private int len;
    public int opcode;
    public long unique, nodeid;
    public int uid, gid, pid;

    /** Decodes the header of the n bytes in buf; false if they cannot be a request (n shorter than a header, or len disagreeing). */
    boolean decode(MemorySegment buf, long n) {
        this.buf = buf;
        if (n < FuseProto.IN_HEADER) return false;
        len = buf.get(JAVA_INT_UNALIGNED, 0);
        opcode = buf.get(JAVA_INT_UNALIGNED, 4);
        unique = buf.get(JAVA_LONG_UNALIGNED, 8);
        nodeid = buf.get(JAVA_LONG_UNALIGNED, 16);
        uid = buf.get(JAVA_INT_UNALIGNED, 24);
        gid = buf.get(JAVA_INT_UNALIGNED, 28);
        pid = buf.get(JAVA_INT_UNALIGNED, 32);
        int extlen = Short.toUnsignedInt(buf.get(JAVA_SHORT_UNALIGNED, 36)) * 8;
        if (len != n || len < FuseProto.IN_HEADER + extlen) return false;
        len -= extlen;                                  // extensions (security contexts) trail the body; none are asked for
        return true;
    }

    /** The body's length. */
    public int bodyLength() { return len - FuseProto.IN_HEADER; }

    public FuseContext context() { return new FuseContext(uid, gid, pid); }

    private long at(int off, int size) throws FuseException {
        if (off < 0 || off + size > bodyLength())
            throw new FuseException(FuseException.EINVAL, FuseProto.opcodeName(opcode) + ": request body of " + bodyLength() + " bytes is too short");
        return FuseProto.IN_HEADER + off;
    }

    public int u32(int off) throws FuseException { return buf.get(JAVA_INT_UNALIGNED, at(off, 4)); }
    public long u64(int off) throws FuseException { return buf.get(JAVA_LONG_UNALIGNED, at(off, 8)); }

    /** Raw bytes of the body. */
    public byte[] bytes(int off, int n) throws FuseException {
        long p = at(off, n);
        return buf.asSlice(p, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    /** A view of n body bytes at off (the payload of a WRITE, no copy). */
    public ByteBuffer view(int off, int n) throws FuseException {
        return buf.asSlice(at(off, n), n).asByteBuffer();
    }

    /** The NUL-terminated byte string at off (a name); EINVAL if the terminator is missing. */
    public byte[] cstring(int off) throws FuseException {
        int end = cstringEnd(off);
        return bytes(off, end - off);
    }

    /** Offset just past the NUL of the string at off. */
    public int after(int off) throws FuseException { return cstringEnd(off) + 1; }

    private int cstringEnd(int off) throws FuseException {
        at(off, 0);
        for (int i = off; i < bodyLength(); i++) if (buf.get(java.lang.foreign.ValueLayout.JAVA_BYTE, FuseProto.IN_HEADER + i) == 0) return i;
        throw new FuseException(FuseException.EINVAL, FuseProto.opcodeName(opcode) + ": name not terminated");
    }

    public String string(int off) throws FuseException { return new String(cstring(off), StandardCharsets.UTF_8); }
}
