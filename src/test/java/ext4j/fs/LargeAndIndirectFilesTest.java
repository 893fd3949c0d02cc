package ext4j.fs;

import ext4j.testutil.Seeds;
import ext4j.cli.CliRunner;
import ext4j.extent.Run;
import ext4j.ondisk.Inode;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Sparse files reaching the triple-indirect range of ext2/ext3 block maps and past 4 GiB, written
 * by mke2fs -d: data at chosen offsets must read back exactly, everything else as zeros, and the
 * extracted copy must keep the holes.
 */
class LargeAndIndirectFilesTest {
    private Path work;

    @BeforeEach void setUp() throws Exception { work = Files.createTempDirectory("ext4j-large"); }
    @AfterEach void tearDown() throws Exception { Tools.deleteTree(work); }

    @ParameterizedTest(name = "{0}: file of {1} bytes")
    @CsvSource({
            "'-t ext2 -b 1024', 200000000",      // 1 KiB blocks: triple indirect starts at ~64 MiB
            "'-t ext3 -b 4096', 5368709120",     // 4 KiB blocks: triple indirect starts at ~4 GiB
            "'-t ext4 -b 4096', 5368709120",
            "'-t ext4 -b 1024', 5368709120",
    })
    void sparseFileReadsExactly(String opts, long size) throws Exception {
        Tools.requireTool("mke2fs");
        long seed = Seeds.seed("LargeAndIndirectFilesTest [" + opts + "] size=" + size);
        Random r = new Random(seed);
        Path src = Files.createDirectory(work.resolve("src"));
        Path f = src.resolve("big");
        long[] offsets = {0, 12 * 1024 - 100, 300_000, 70L << 20, size / 2 + 12345, size - 5000};
        byte[][] data = new byte[offsets.length][];
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            for (int i = 0; i < offsets.length; i++) {
                data[i] = new byte[5000];
                r.nextBytes(data[i]);
                ch.write(ByteBuffer.wrap(data[i]), offsets[i]);
            }
        }
        Path img = work.resolve("fs.img");
        Tools.mke2fs(img, src, "64M", opts.split(" "));
        Tools.assertFsckClean(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            Inode i = fs.resolve("/big", false);
            assertEquals(size, i.size());
            for (int k = 0; k < offsets.length; k++) {
                ByteBuffer b = ByteBuffer.allocate(7000);
                long at = Math.max(0, offsets[k] - 1000);
                int n = fs.read(i, at, b);
                byte[] want = new byte[n];
                try (FileChannel ch = FileChannel.open(f)) { ch.read(ByteBuffer.wrap(want), at); }
                assertArrayEquals(want, java.util.Arrays.copyOf(b.array(), n), "seed " + seed + " offset " + at);
            }
            long mapped = fs.fileMap(i).runs().stream().filter(Run::hasData).mapToLong(Run::length).sum();
            assertTrue(mapped * fs.superblock().blockSize() < 1 << 20, "only the written blocks are mapped: " + mapped);
        }
        Path out = work.resolve("big.out");
        var res = CliRunner.run("get", img.toString(), "/big", out.toString());
        assertEquals(0, res.exit(), res.err());
        assertEquals(size, Files.size(out));
        assertEquals("", Tools.ok("cmp", f.toString(), out.toString()));
        long kib = Long.parseLong(Tools.ok("du", "-k", out.toString()).split("\\s+")[0]);
        assertTrue(kib < 1024, "holes kept: " + kib + " KiB");
    }
}
