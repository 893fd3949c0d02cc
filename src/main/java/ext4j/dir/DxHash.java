package ext4j.dir;

/**
 * The ext4 htree name hashes (Documentation/filesystems/ext4/directory.rst, "Hash Tree
 * Directories"): legacy, half-MD4 and TEA, each in a signed-char and an unsigned-char flavour
 * (which matters only for name bytes >= 0x80). The result is what dx entries store: the major
 * hash with bit 0 cleared (bit 0 marks hash-collision continuation in the index).
 */
public final class DxHash {
    public static final int LEGACY = 0, HALF_MD4 = 1, TEA = 2, LEGACY_UNSIGNED = 3, HALF_MD4_UNSIGNED = 4,
            TEA_UNSIGNED = 5, SIPHASH = 6;
    private static final int[] DEFAULT_SEED = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    private static final int EOF_HASH = 0x7fffffff << 1;

    private DxHash() {}

    public static int hash(byte[] name, int off, int len, int version, int[] seed) {
        return finish(compute(name, off, len, version, seed)[0]);
    }

    public static int minorHash(byte[] name, int off, int len, int version, int[] seed) {
        return compute(name, off, len, version, seed)[1];
    }

    private static int finish(int major) {
        int h = major & ~1;
        return h == EOF_HASH ? EOF_HASH - 2 : h;
    }

    /** {major, minor} before the bit-0 clearing. */
    private static int[] compute(byte[] name, int off, int len, int version, int[] seed) {
        boolean unsigned = version == LEGACY_UNSIGNED || version == HALF_MD4_UNSIGNED || version == TEA_UNSIGNED;
        int[] buf = seedOrDefault(seed);
        switch (version) {
            case LEGACY, LEGACY_UNSIGNED -> { return new int[]{legacy(name, off, len, unsigned), 0}; }
            case HALF_MD4, HALF_MD4_UNSIGNED -> {
                int[] in = new int[8];
                for (int p = off, left = len; left > 0; p += 32, left -= 32) {
                    pack(name, p, left, in, 8, unsigned);
                    halfMd4(buf, in);
                }
                return new int[]{buf[1], buf[2]};
            }
            case TEA, TEA_UNSIGNED -> {
                int[] in = new int[4];
                for (int p = off, left = len; left > 0; p += 16, left -= 16) {
                    pack(name, p, left, in, 4, unsigned);
                    tea(buf, in);
                }
                return new int[]{buf[0], buf[1]};
            }
            case SIPHASH -> throw new UnsupportedOperationException("siphash directory hashes (casefold + encryption) are not supported");
            default -> throw new IllegalArgumentException("unknown directory hash version " + version);
        }
    }

    private static int[] seedOrDefault(int[] seed) {
        if (seed != null) for (int s : seed) if (s != 0) return seed.clone();
        return DEFAULT_SEED.clone();
    }

    private static int ch(byte b, boolean unsigned) { return unsigned ? b & 0xFF : b; }

    /** The original ext3 "dx_hack" hash. */
    private static int legacy(byte[] name, int off, int len, boolean unsigned) {
        int h0 = 0x12a3fe2d, h1 = 0x37abe8f9;
        for (int i = 0; i < len; i++) {
            int h = h1 + (h0 ^ (ch(name[off + i], unsigned) * 7152373));
            if ((h & 0x80000000) != 0) h -= 0x7fffffff;
            h1 = h0;
            h0 = h;
        }
        return h0 << 1;
    }

    /**
     * Packs up to 4*words name bytes big-end-first into words; unused words and the partial
     * word are filled from a pad derived from the remaining length.
     */
    private static void pack(byte[] name, int off, int len, int[] out, int words, boolean unsigned) {
        int pad = len | (len << 8);
        pad |= pad << 16;
        int val = pad, w = 0;
        int n = Math.min(len, words * 4);
        for (int i = 0; i < n; i++) {
            val = ch(name[off + i], unsigned) + (val << 8);
            if (i % 4 == 3) {
                out[w++] = val;
                val = pad;
            }
        }
        if (w < words) out[w++] = val;
        while (w < words) out[w++] = pad;
    }

    private static void halfMd4(int[] buf, int[] in) {
        int a = buf[0], b = buf[1], c = buf[2], d = buf[3];
        final int k2 = 0x5A827999, k3 = 0x6ED9EBA1;
        a = Integer.rotateLeft(a + f(b, c, d) + in[0], 3);
        d = Integer.rotateLeft(d + f(a, b, c) + in[1], 7);
        c = Integer.rotateLeft(c + f(d, a, b) + in[2], 11);
        b = Integer.rotateLeft(b + f(c, d, a) + in[3], 19);
        a = Integer.rotateLeft(a + f(b, c, d) + in[4], 3);
        d = Integer.rotateLeft(d + f(a, b, c) + in[5], 7);
        c = Integer.rotateLeft(c + f(d, a, b) + in[6], 11);
        b = Integer.rotateLeft(b + f(c, d, a) + in[7], 19);

        a = Integer.rotateLeft(a + g(b, c, d) + in[1] + k2, 3);
        d = Integer.rotateLeft(d + g(a, b, c) + in[3] + k2, 5);
        c = Integer.rotateLeft(c + g(d, a, b) + in[5] + k2, 9);
        b = Integer.rotateLeft(b + g(c, d, a) + in[7] + k2, 13);
        a = Integer.rotateLeft(a + g(b, c, d) + in[0] + k2, 3);
        d = Integer.rotateLeft(d + g(a, b, c) + in[2] + k2, 5);
        c = Integer.rotateLeft(c + g(d, a, b) + in[4] + k2, 9);
        b = Integer.rotateLeft(b + g(c, d, a) + in[6] + k2, 13);

        a = Integer.rotateLeft(a + h(b, c, d) + in[3] + k3, 3);
        d = Integer.rotateLeft(d + h(a, b, c) + in[7] + k3, 9);
        c = Integer.rotateLeft(c + h(d, a, b) + in[2] + k3, 11);
        b = Integer.rotateLeft(b + h(c, d, a) + in[6] + k3, 15);
        a = Integer.rotateLeft(a + h(b, c, d) + in[1] + k3, 3);
        d = Integer.rotateLeft(d + h(a, b, c) + in[5] + k3, 9);
        c = Integer.rotateLeft(c + h(d, a, b) + in[0] + k3, 11);
        b = Integer.rotateLeft(b + h(c, d, a) + in[4] + k3, 15);

        buf[0] += a;
        buf[1] += b;
        buf[2] += c;
        buf[3] += d;
    }

    private static int f(int x, int y, int z) { return z ^ (x & (y ^ z)); }
    private static int g(int x, int y, int z) { return (x & y) + ((x ^ y) & z); }
    private static int h(int x, int y, int z) { return x ^ y ^ z; }

    private static void tea(int[] buf, int[] in) {
        int sum = 0, b0 = buf[0], b1 = buf[1];
        int a = in[0], b = in[1], c = in[2], d = in[3];
        for (int n = 0; n < 16; n++) {
            sum += 0x9E3779B9;
            b0 += ((b1 << 4) + a) ^ (b1 + sum) ^ ((b1 >>> 5) + b);
            b1 += ((b0 << 4) + c) ^ (b0 + sum) ^ ((b0 >>> 5) + d);
        }
        buf[0] += b0;
        buf[1] += b1;
    }
}
