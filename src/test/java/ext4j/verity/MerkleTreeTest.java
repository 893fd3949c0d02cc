package ext4j.verity;

import ext4j.base.CorruptException;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The Merkle tree, descriptor and digest against fsverity-utils: for files of many sizes (empty,
 * one byte, block boundaries, several tree levels, sparse), salts and block sizes, `fsverity digest`
 * with --out-merkle-tree and --out-descriptor must give the same digest, tree bytes and descriptor.
 */
class MerkleTreeTest {
    @TempDir Path tmp;

    static MerkleTree treeOf(Path file, int blockSize, byte[] salt) throws IOException {
        try (FileChannel ch = FileChannel.open(file)) {
            long size = ch.size();
            return MerkleTree.build(size, blockSize, salt, (i, dst) -> { while (dst.hasRemaining() && ch.read(dst, i * blockSize + dst.position()) > 0) { } });
        }
    }

    @Test
    void treeDescriptorAndDigestMatchFsverityUtils() throws Exception {
        Random r = new Random(11);
        long[] sizes = {0, 1, 100, 4095, 4096, 4097, 128 * 4096, 128 * 4096 + 1, 3 * 128 * 4096 + 7, 128 * 128 * 4096 + 4096 * 3, 1024 * 129 + 5};
        List<byte[]> salts = List.of(new byte[0], new byte[] {(byte) 0xab, 0x12}, HexFormat.of().parseHex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"));
        int cases = 0;
        for (long size : sizes) {
            Path f = tmp.resolve("f" + size);
            try (FileChannel ch = FileChannel.open(f, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE)) {
                // random data with zero runs and a hole, so the all-zero shortcut is exercised
                for (long at = 0; at < size; ) {
                    int n = (int) Math.min(size - at, 1 + r.nextInt(200_000));
                    int kind = r.nextInt(3);
                    if (kind == 2 && at + n < size) { at += n; continue; }  // a hole
                    byte[] d = new byte[n];
                    if (kind == 0) r.nextBytes(d);
                    ch.write(ByteBuffer.wrap(d), at);
                    at += n;
                }
                ch.truncate(size);
                if (ch.size() < size) ch.write(ByteBuffer.allocate(1), size - 1);
            }
            assertEquals(size, Files.size(f));
            for (int bs : new int[] {4096, 1024}) {
                for (byte[] salt : salts) {
                    if (bs == 1024 && salt.length == 32 && size > 600_000) continue; // enough coverage, less time
                    check(f, bs, salt);
                    cases++;
                }
            }
        }
        System.out.println(cases + " files/block sizes/salts: digest, tree and descriptor equal fsverity-utils'");
    }

    private void check(Path f, int bs, byte[] salt) throws Exception {
        Path tree = tmp.resolve("tree"), desc = tmp.resolve("desc");
        List<String> cmd = new ArrayList<>(List.of("fsverity", "digest", f.toString(), "--hash-alg=sha256", "--block-size=" + bs,
                "--out-merkle-tree=" + tree, "--out-descriptor=" + desc));
        if (salt.length > 0) cmd.add("--salt=" + HexFormat.of().formatHex(salt));
        Tools.Result res = Tools.run(cmd);
        assertEquals(0, res.exit(), res.out());
        MerkleTree t = treeOf(f, bs, salt);
        VerityDescriptor d = new VerityDescriptor(Integer.numberOfTrailingZeros(bs), salt, Files.size(f), t.rootHash());
        String where = f.getFileName() + " bs=" + bs + " salt=" + salt.length;
        assertEquals(res.out().trim().split(" ")[0], d.digestString(), where + ": digest");
        assertArrayEquals(Files.readAllBytes(desc), d.encode(), where + ": descriptor");
        assertArrayEquals(Files.readAllBytes(tree), t.bytes(), where + ": Merkle tree bytes");
    }

    @Test
    void zeroBlocksAreHashedOnce() throws Exception {
        long size = 64L << 20;                               // 64 MiB of hole: 16,384 data blocks
        MerkleTree t = MerkleTree.build(size, 4096, new byte[0], (i, dst) -> dst.position(dst.limit()));
        assertEquals(16_384, t.zeroBlocksSkipped());
        Path f = tmp.resolve("hole");
        try (FileChannel ch = FileChannel.open(f, java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE)) { ch.truncate(size); ch.write(ByteBuffer.allocate(1), size - 1); }
        Tools.Result res = Tools.run("fsverity", "digest", f.toString());
        assertEquals(res.out().trim().split(" ")[0], new VerityDescriptor(12, new byte[0], size, t.rootHash()).digestString());
    }

    /**
     * Holes the source names (zeroBlocksAt) are not read, and the tree is the same as when every
     * block is read: a sparse file of data islands, holes starting mid-chunk and at chunk starts.
     */
    @Test
    void namedHolesAreNotReadAndGiveTheSameTree() throws Exception {
        int bs = 4096;
        long blocks = 3 * (MerkleTree.CHUNK / bs) + 77;
        java.util.Set<Long> data = new java.util.TreeSet<>(java.util.List.of(0L, 5L, 256L, 300L, 700L, blocks - 1));
        java.util.function.LongUnaryOperator holeRun = b -> {          // blocks from b on with no data
            long n = 0;
            while (b + n < blocks && !data.contains(b + n)) n++;
            return n;
        };
        java.util.concurrent.atomic.AtomicLong readBlocks = new java.util.concurrent.atomic.AtomicLong();
        class Src implements MerkleTree.DataSource {
            final boolean hints;
            Src(boolean hints) { this.hints = hints; }
            @Override public void read(long block, ByteBuffer dst) {
                for (long b = block; dst.hasRemaining(); b++) {
                    int n = Math.min(bs, dst.remaining());
                    byte[] blk = new byte[n];
                    if (data.contains(b)) java.util.Arrays.fill(blk, (byte) (b % 251 + 1));
                    dst.put(blk);
                    if (hints) readBlocks.incrementAndGet();
                }
            }
            @Override public long zeroBlocksAt(long block) { return hints ? holeRun.applyAsLong(block) : 0; }
            @Override public long dataBlocksAt(long block) {
                long n = 0;
                while (hints && block + n < blocks && data.contains(block + n)) n++;
                return hints ? n : Long.MAX_VALUE;
            }
        }
        MerkleTree plain = MerkleTree.build(blocks * bs, bs, new byte[] {7}, new Src(false));
        MerkleTree hinted = MerkleTree.build(blocks * bs, bs, new byte[] {7}, new Src(true));
        assertArrayEquals(plain.rootHash(), hinted.rootHash());
        assertArrayEquals(plain.bytes(), hinted.bytes());
        assertEquals(data.size(), readBlocks.get(), "only the data blocks were read");
    }

    /**
     * The leaves hashed by several threads give the tree one thread gives (chunks taken in any
     * order land in their own slots), and a read failing in one worker fails the build with that error.
     */
    @Test
    void parallelLeavesGiveTheSameTreeAndReportAFailedRead() throws Exception {
        int bs = 4096;
        byte[] d = new byte[7 * MerkleTree.CHUNK + 3 * bs + 123];
        new Random(3).nextBytes(d);
        java.util.Arrays.fill(d, MerkleTree.CHUNK + 5, 3 * MerkleTree.CHUNK, (byte) 0);   // zero blocks among the data
        MerkleTree.DataSource src = (i, dst) -> dst.put(d, (int) (i * bs), dst.remaining());
        MerkleTree one = MerkleTree.build(d.length, bs, new byte[] {1, 2}, src, 1);
        MerkleTree four = MerkleTree.build(d.length, bs, new byte[] {1, 2}, src, 4);
        assertArrayEquals(one.bytes(), four.bytes());
        assertArrayEquals(one.rootHash(), four.rootHash());
        assertEquals(one.zeroBlocksSkipped(), four.zeroBlocksSkipped());
        IOException e = assertThrows(IOException.class, () -> MerkleTree.build(d.length, bs, new byte[0], (i, dst) -> {
            if (i == 5L * MerkleTree.CHUNK / bs) throw new IOException("device error at block " + i);
            src.read(i, dst);
        }, 4));
        assertEquals("device error at block " + 5L * MerkleTree.CHUNK / bs, e.getMessage());
        IOException shortRead = assertThrows(IOException.class, () -> MerkleTree.build(d.length, bs, new byte[0], (i, dst) -> { }, 2));
        assertTrue(shortRead.getMessage().contains("read short"), shortRead.getMessage());
    }

    @Test
    void badDescriptorsAreRefusedNamingTheField() {
        byte[] good = new VerityDescriptor(12, new byte[] {1, 2}, 5000, new byte[32]).encode();
        assertEquals(new VerityDescriptor(12, new byte[] {1, 2}, 5000, new byte[32]), parse(good, 5000));
        String[][] cases = {{"0", "2", "version 2"}, {"1", "9", "algorithm 9"}, {"2", "30", "block size"}, {"3", "40", "salt size"},
                {"8", "1", "covers"}, {"60", "1", "root hash"}, {"90", "1", "salt has bytes"}, {"200", "1", "reserved byte 200"}};
        for (String[] c : cases) {
            byte[] b = good.clone();
            b[Integer.parseInt(c[0])] = (byte) Integer.parseInt(c[1]);
            CorruptException e = assertThrows(CorruptException.class, () -> VerityDescriptor.parse(ByteBuffer.wrap(b), 5000, "inode 12"));
            assertTrue(e.getMessage().contains(c[2]) && e.getMessage().startsWith("inode 12"), e.getMessage());
        }
        CorruptException e = assertThrows(CorruptException.class, () -> VerityDescriptor.parse(ByteBuffer.wrap(good, 0, 100), 5000, "inode 12"));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        assertThrows(CorruptException.class, () -> VerityDescriptor.parse(ByteBuffer.allocate(256), 0, "inode 12")); // zeroed: version 0
    }

    private static VerityDescriptor parse(byte[] b, long size) {
        try { return VerityDescriptor.parse(ByteBuffer.wrap(b), size, "test"); } catch (CorruptException e) { throw new AssertionError(e); }
    }
}
