package ext4j.ondisk;

import ext4j.testutil.Seeds;
import ext4j.base.Crc32c;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertEquals;

class Crc32cTest {
    @Test
    void knownVector() {
        // CRC-32C check value of "123456789" is 0xE3069283 (with the standard init/final inversion)
        byte[] b = "123456789".getBytes(StandardCharsets.US_ASCII);
        assertEquals(0xE3069283, ~Crc32c.update(0xFFFFFFFF, b));
    }

    /** Starting from any seed must equal feeding the bytes that lead to that seed: chaining is exact. */
    @Test
    void arbitrarySeedsChain() {
        long seed = Seeds.seed("Crc32cTest arbitrarySeedsChain");
        Random r = new Random(seed);
        for (int i = 0; i < 2000; i++) {
            byte[] all = new byte[r.nextInt(300)];
            r.nextBytes(all);
            int cut = all.length == 0 ? 0 : r.nextInt(all.length + 1);
            int s = r.nextInt();
            int whole = Crc32c.update(s, all);
            int chained = Crc32c.update(Crc32c.update(s, Arrays.copyOf(all, cut)), Arrays.copyOfRange(all, cut, all.length));
            assertEquals(whole, chained, "seed " + seed + " iteration " + i);
            assertEquals(bitwise(s, all), whole, "seed " + seed + " iteration " + i);
        }
    }

    @Test
    void matchesJdkFromAllOnes() {
        byte[] b = new byte[1000];
        new Random(1).nextBytes(b);
        CRC32C c = new CRC32C();
        c.update(b);
        assertEquals((int) c.getValue(), ~Crc32c.update(0xFFFFFFFF, b));
    }

    /** Read-only heap views (what the buffer cache hands out), direct and array buffers give the array's CRC, at any offset and length. */
    @Test
    void everyKindOfBufferGivesTheSameCrc() {
        Random r = new Random(7);
        for (int len : new int[] {0, 5, 17, 4096, 16 << 10, (16 << 10) + 3, 100_000}) {
            byte[] b = new byte[len + 11];
            r.nextBytes(b);
            int want = Crc32c.update(0x1234, b, 11, len);
            java.nio.ByteBuffer heap = java.nio.ByteBuffer.wrap(b), direct = java.nio.ByteBuffer.allocateDirect(b.length).put(b.clone()).clear();
            for (java.nio.ByteBuffer v : new java.nio.ByteBuffer[] {heap, heap.asReadOnlyBuffer(), direct, direct.asReadOnlyBuffer()}) {
                assertEquals(want, Crc32c.update(0x1234, v, 11, len), len + " bytes, " + v);
                assertEquals(want, Crc32c.update(0x1234, v.duplicate().position(11).limit(11 + len)), len + " bytes from position, " + v);
            }
        }
    }

    /** Reference: the textbook bit-at-a-time reflected CRC-32C with no inversions. */
    private static int bitwise(int crc, byte[] b) {
        for (byte x : b) {
            crc ^= x & 0xFF;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >>> 1) ^ 0x82F63B78 : crc >>> 1;
        }
        return crc;
    }
}
