package ext4j.base;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * ext4 and jbd2 checksums: CRC32C (Castagnoli) without the final inversion, chained from a seed.
 * {@code update(seed, a)} then {@code update(result, b)} equals {@code update(seed, a||b)}.
 *
 * <p>The JDK's {@link CRC32C} always starts from ~0 and inverts at the end. To start from an
 * arbitrary seed we prepend four bytes chosen so that the CRC state after them is exactly the
 * seed: the 32 shift/xor rounds over one word are an invertible linear map, so we run them
 * backwards from the seed.
 */
public final class Crc32c {
    private static final int POLY = 0x82F63B78; // reflected Castagnoli polynomial

    private Crc32c() {}

    /** CRC state after the bytes of buf between position and limit (buf is not consumed). */
    public static int update(int seed, ByteBuffer buf) {
        CRC32C crc = start(seed);
        if (buf.isDirect() || buf.hasArray()) crc.update(buf.duplicate());
        else {
            // a read-only heap view (the buffer cache hands those out): the JDK would copy it into a new
            // array on every call; a per-thread scratch array makes the same copy without the garbage
            byte[] scratch = SCRATCH.get();
            for (int at = buf.position(), end = buf.limit(); at < end; ) {
                int n = Math.min(scratch.length, end - at);
                buf.get(at, scratch, 0, n);
                crc.update(scratch, 0, n);
                at += n;
            }
        }
        return ~(int) crc.getValue();
    }

    private static final ThreadLocal<byte[]> SCRATCH = ThreadLocal.withInitial(() -> new byte[16 << 10]);

    public static int update(int seed, byte[] b, int off, int len) {
        if (len <= 16) { // short inputs (inode numbers, block numbers): a table loop beats setting up the JDK's CRC
            int c = seed;
            for (int i = off; i < off + len; i++) c = TABLE[(c ^ b[i]) & 0xFF] ^ (c >>> 8);
            return c;
        }
        CRC32C crc = start(seed);
        crc.update(b, off, len);
        return ~(int) crc.getValue();
    }

    public static int update(int seed, byte[] b) { return update(seed, b, 0, b.length); }

    /** CRC of buf[off, off+len) (absolute indexes, buf position untouched). */
    public static int update(int seed, ByteBuffer buf, int off, int len) {
        return update(seed, buf.duplicate().limit(off + len).position(off));
    }

    public static int updateInt(int seed, int leValue) {
        byte[] b = {(byte) leValue, (byte) (leValue >>> 8), (byte) (leValue >>> 16), (byte) (leValue >>> 24)};
        return update(seed, b);
    }

    public static int updateLong(int seed, long leValue) {
        byte[] b = new byte[8];
        for (int i = 0; i < 8; i++) b[i] = (byte) (leValue >>> (8 * i));
        return update(seed, b);
    }

    private static final int[] TABLE = new int[256];
    static {
        for (int i = 0; i < 256; i++) {
            int c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >>> 1) ^ POLY : c >>> 1;
            TABLE[i] = c;
        }
    }

    /** Recent seeds and their prefix words (direct-mapped): a filesystem uses few seeds again and again. */
    private static final long[] PREFIX_CACHE = new long[1024];

    private static int prefixWord(int seed) {
        int slot = (seed ^ (seed >>> 10) ^ (seed >>> 20)) & (PREFIX_CACHE.length - 1);
        long e = PREFIX_CACHE[slot];
        if (e != 0 && (int) (e >>> 32) == seed) return (int) e;
        int w = unshift(seed) ^ 0xFFFFFFFF;
        PREFIX_CACHE[slot] = ((long) seed << 32) | (w & 0xFFFFFFFFL);
        return w;
    }

    private static CRC32C start(int seed) {
        CRC32C crc = new CRC32C();
        if (seed != 0xFFFFFFFF) {
            int w = prefixWord(seed);
            crc.update(new byte[]{(byte) w, (byte) (w >>> 8), (byte) (w >>> 16), (byte) (w >>> 24)});
        }
        return crc;
    }

    /** Inverse of 32 rounds of {@code c = (c >>> 1) ^ (c & 1 ? POLY : 0)}. */
    private static int unshift(int c) {
        for (int i = 0; i < 32; i++) {
            c = (c & 0x80000000) != 0 ? ((c ^ POLY) << 1) | 1 : c << 1;
        }
        return c;
    }
}
