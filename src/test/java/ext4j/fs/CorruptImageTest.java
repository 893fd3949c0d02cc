package ext4j.fs;

import ext4j.testutil.Seeds;
import ext4j.cli.CliRunner;
import ext4j.cli.SampleTree;
import ext4j.dir.DirEntry;
import ext4j.extent.ExtentMap;
import ext4j.extent.FileMap;
import ext4j.extent.Run;
import ext4j.ondisk.GroupDesc;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Superblock;
import ext4j.testutil.ImageWalker;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad input: real images with metadata bytes flipped, blocks zeroed, or the file cut short.
 * Each must give either a correct read or an IOException naming what is wrong, within seconds;
 * never a RuntimeException, an OutOfMemoryError, a stack overflow or a hang.
 */
class CorruptImageTest {
    private static Path work;

    @BeforeAll static void setUp() throws Exception { work = Files.createTempDirectory("ext4j-corrupt"); }
    @AfterAll static void tearDown() throws Exception { Tools.deleteTree(work); }

    private static Path base(String name, String... opts) throws Exception {
        Path img = work.resolve(name + ".img");
        if (Files.exists(img)) return img;
        Path src = work.resolve(name + "-src");
        Files.createDirectory(src);
        SampleTree.generate(src, 42, 120, 200_000);
        Path big = Files.createDirectory(src.resolve("big"));
        for (int i = 0; i < 600; i++) Files.writeString(big.resolve("name-" + i), "v" + i);
        Tools.mke2fs(img, src, "16M", opts);
        return img;
    }

    @ParameterizedTest(name = "flip metadata bytes: mke2fs {0}")
    @ValueSource(strings = {"-t ext4", "-t ext4 -O ^metadata_csum", "-t ext2 -b 1024", "-t ext4 -O inline_data,^metadata_csum -b 1024"})
    void flippedMetadataGivesCleanErrors(String opts) throws Exception {
        Tools.requireTool("mke2fs");
        Path img = base("flip" + opts.hashCode(), opts.split(" "));
        byte[] pristine = Files.readAllBytes(img);
        List<long[]> targets = metadataRanges(img);
        int rounds = Integer.getInteger("ext4j.fuzzRounds", 150);
        long seed = Seeds.seed("CorruptImageTest [" + opts + "] rounds=" + rounds + " metadata ranges=" + targets.size());
        Random r = new Random(seed);
        int clean = 0, errors = 0;
        Path bad = work.resolve("bad.img");
        for (int round = 0; round < rounds; round++) {
            byte[] b = pristine.clone();
            int flips = 1 + r.nextInt(8);
            for (int k = 0; k < flips; k++) {
                long[] t = targets.get(r.nextInt(targets.size()));
                int off = (int) (t[0] + r.nextInt((int) t[1]));
                b[off] ^= (byte) (1 << r.nextInt(8));
                if (r.nextInt(4) == 0) b[off] = (byte) r.nextInt(256);
            }
            Files.write(bad, b);
            String what = "seed " + seed + " round " + round;
            Throwable t = ImageWalker.walkWithTimeout(bad, what, 60);
            if (t == null) clean++;
            else {
                errors++;
                assertTrue(t instanceof IOException, what + ": expected IOException, got " + t);
                assertTrue(t.getMessage() != null && !t.getMessage().isBlank(), what + ": error without a message");
            }
        }
        System.out.println("  " + clean + " rounds read cleanly, " + errors + " gave errors");
        // the CLI on the last damaged image: exit 0 or 1, one clean message line, no stack trace
        var cli = CliRunner.run("get", "-r", bad.toString(), "/", work.resolve("cli-out-" + seed).toString());
        assertTrue(cli.exit() == 0 || cli.exit() == 1, cli.err());
        assertTrue(!cli.err().contains("\tat "), "stack trace printed: " + cli.err());
    }

    @Test
    void zeroedSuperblock() throws Exception {
        Tools.requireTool("mke2fs");
        Path img = copy(base("plain", "-t", "ext4"), "zero-sb.img");
        patch(img, 1024, new byte[1024]);
        var e = assertThrows(IOException.class, () -> Ext4FileSystem.openReadOnly(img).close());
        assertTrue(e.getMessage().contains("superblock magic 0x0000, expected 0xef53"), e.getMessage());
        var cli = CliRunner.run("info", img.toString());
        assertEquals(1, cli.exit());
        assertTrue(cli.err().startsWith("ext4j: " + img + ": not an ext2/3/4 filesystem"), cli.err());
    }

    /**
     * A flipped high byte of i_size (found by the fuzzer above: 2^50 bytes on a 1K-block image) made
     * `get` walk about 2^40 one-block holes past the mappable range; now reads and copies refuse it.
     */
    @Test
    void sizeBeyondAnyMappingIsRefused() throws Exception {
        Tools.requireTool("debugfs");
        Path img = copy(base("plain", "-t", "ext4"), "huge-size.img");
        String victim = null;
        for (String line : Tools.debugfs(img, "ls -p /").split("\n")) {
            String[] f = line.split("/");
            if (f.length > 6 && f[2].startsWith("100") && !f[6].isEmpty() && Long.parseLong(f[6]) > 0) { victim = "/" + f[5]; break; }
        }
        assertNotNull(victim, "a regular file at the top of the sample tree");
        Tools.Result set = Tools.run("debugfs", "-w", "-R", "sif " + victim + " size 1125899906971527", img.toString());
        assertEquals(0, set.exit(), set.out());
        long t0 = System.nanoTime();
        var get = CliRunner.run("get", "-r", img.toString(), "/", work.resolve("huge-out").toString());
        assertEquals(1, get.exit(), get.err());
        assertTrue(get.err().contains("i_size 1125899906971527 is beyond the largest file ext4 can map"), get.err());
        var cat = CliRunner.run("cat", img.toString(), victim);
        assertEquals(1, cat.exit(), cat.err());
        assertTrue((System.nanoTime() - t0) / 1e9 < 60, "must not walk the holes");
    }

    @Test
    void truncatedImage() throws Exception {
        Tools.requireTool("mke2fs");
        Path img = copy(base("plain", "-t", "ext4"), "trunc.img");
        for (long len : new long[]{0, 1000, 2048, 8192, Files.size(img) / 2}) {
            try (var ch = java.nio.channels.FileChannel.open(img, java.nio.file.StandardOpenOption.WRITE)) { ch.truncate(len); }
            var e = assertThrows(IOException.class, () -> Ext4FileSystem.openReadOnly(img).close(), "length " + len);
            assertTrue(e.getMessage().contains("too small") || e.getMessage().contains("truncated") || e.getMessage().contains("magic"), len + ": " + e.getMessage());
        }
    }

    @Test
    void zeroedGroupDescriptorsAndInodeChecksum() throws Exception {
        Tools.requireTool("mke2fs");
        Path src = base("plain", "-t", "ext4");
        Superblock sb;
        long itable;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(src)) { sb = fs.superblock(); itable = fs.volume().group(0).inodeTable(); }
        int bs = sb.blockSize();
        Path gd = copy(src, "zero-gd.img");
        patch(gd, (sb.firstDataBlock() + 1) * bs, new byte[bs]);
        var e = assertThrows(IOException.class, () -> Ext4FileSystem.openReadOnly(gd).close());
        assertTrue(e.getMessage().matches("group 0 descriptor checksum mismatch: stored 0x0000, computed 0x[0-9a-f]{4} \\(descriptor block \\d+\\)"), e.getMessage());

        Path ino = copy(src, "bad-inode.img");
        long off = itable * bs + (long) (Inode.ROOT - 1) * sb.inodeSize() + 0x10; // root inode's mtime
        byte[] one = new byte[1];
        try (var ch = java.nio.channels.FileChannel.open(ino)) { ch.read(ByteBuffer.wrap(one), off); }
        one[0] ^= 0x55;
        patch(ino, off, one);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(ino)) {
            var x = assertThrows(IOException.class, () -> fs.resolve("/", true));
            assertTrue(x.getMessage().matches("inode 2: checksum mismatch: stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8} at inode table block " + itable), x.getMessage());
        }
    }

    @Test
    void zeroedExtentHeaderNamesInodeAndBlock() throws Exception {
        Tools.requireTool("mke2fs");
        Path src = base("nocsum", "-t", "ext4", "-O", "^metadata_csum");
        Path img = copy(src, "zero-extent.img");
        long ino;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            Inode big = fs.resolve("/big", true);
            ino = big.number();
            long g = (ino - 1) / fs.superblock().inodesPerGroup(), idx = (ino - 1) % fs.superblock().inodesPerGroup();
            long off = fs.volume().group(g).inodeTable() * fs.superblock().blockSize() + idx * fs.superblock().inodeSize() + Inode.I_BLOCK;
            patch(img, off, new byte[2]);
        }
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            var x = assertThrows(IOException.class, () -> fs.list(fs.resolve("/big", true)));
            assertEquals("inode " + ino + " i_block: extent header magic 0x0000, expected 0xf30a", x.getMessage());
        }
    }

    @Test
    void directoryLoopIsDetectedNotFollowed() throws Exception {
        Tools.requireTool("mke2fs");
        Path src = work.resolve("loop-src");
        Files.createDirectories(src.resolve("a/b"));
        Files.writeString(src.resolve("a/b/f"), "x");
        Path img = work.resolve("loop.img");
        Tools.mke2fs(img, src, "8M", "-t", "ext4", "-O", "^metadata_csum");
        // make /a/b's entry point at /a's inode, so a -> b -> a -> ...
        long aIno, bBlock;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            Inode a = fs.resolve("/a", true);
            aIno = a.number();
            bBlock = fs.fileMap(a).find(0).physical();
        }
        byte[] blk = new byte[1024];
        int bs;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) { bs = fs.superblock().blockSize(); }
        blk = new byte[bs];
        try (var ch = java.nio.channels.FileChannel.open(img)) { ch.read(ByteBuffer.wrap(blk), bBlock * bs); }
        ByteBuffer bb = ByteBuffer.wrap(blk).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int off = 0;
        while (off < bs) {
            int rec = bb.getShort(off + 4) & 0xFFFF, nl = bb.get(off + 6) & 0xFF;
            if (nl == 1 && blk[off + 8] == 'b') { bb.putInt(off, (int) aIno); break; }
            off += rec;
        }
        patch(img, bBlock * bs, blk);
        Path out = work.resolve("loop-out");
        var cli = CliRunner.run("get", "-r", img.toString(), "/", out.toString());
        assertEquals(1, cli.exit(), cli.err());
        assertTrue(cli.err().contains("directory loop"), cli.err());
    }

    // ---- helpers ----

    /** Byte ranges [offset, length] of metadata: superblock, descriptors, used inode tables, directory and extent blocks. */
    private static List<long[]> metadataRanges(Path img) throws IOException {
        List<long[]> out = new ArrayList<>();
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            Superblock sb = fs.superblock();
            int bs = sb.blockSize();
            out.add(new long[]{1024, 1024});
            out.add(new long[]{(sb.firstDataBlock() + 1) * bs, bs});
            GroupDesc g0 = fs.volume().group(0);
            long usedInodes = sb.inodesPerGroup() - g0.freeInodes();
            long itBytes = Math.max(1, usedInodes + 2) * sb.inodeSize();
            for (long o = 0; o < itBytes; o += bs) out.add(new long[]{g0.inodeTable() * bs + o, Math.min(bs, itBytes - o)});
            Set<Long> blocks = new TreeSet<>();
            collect(fs, fs.inode(Inode.ROOT), blocks, new HashSet<>());
            for (long b : blocks) out.add(new long[]{b * bs, bs});
        }
        return out;
    }

    private static void collect(Ext4FileSystem fs, Inode dir, Set<Long> blocks, Set<Long> seen) throws IOException {
        if (!seen.add(dir.number())) return;
        addMapBlocks(fs, dir, blocks);
        for (DirEntry e : fs.list(dir)) {
            if (e.isDotOrDotDot()) continue;
            Inode i = fs.inode(e.inode());
            if (i.fileAcl() != 0) blocks.add(i.fileAcl());
            if (i.isDir()) collect(fs, i, blocks, seen);
            else if (i.isRegular()) addTreeBlocks(fs, i, blocks);
        }
    }

    private static void addMapBlocks(Ext4FileSystem fs, Inode dir, Set<Long> blocks) throws IOException {
        if (dir.hasFlag(Inode.FL_INLINE_DATA)) return;
        for (Run r : fs.fileMap(dir).runs()) for (long k = 0; k < r.length(); k++) blocks.add(r.physical() + k);
        addTreeBlocks(fs, dir, blocks);
    }

    private static void addTreeBlocks(Ext4FileSystem fs, Inode i, Set<Long> blocks) throws IOException {
        if (i.hasFlag(Inode.FL_INLINE_DATA)) return;
        FileMap m = fs.fileMap(i);
        if (m instanceof ExtentMap em) blocks.addAll(em.nodeBlocks());
    }

    private static Path copy(Path from, String name) throws IOException {
        Path to = work.resolve(name);
        Files.copy(from, to, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return to;
    }

    private static void patch(Path img, long off, byte[] bytes) throws IOException {
        try (var ch = java.nio.channels.FileChannel.open(img, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(bytes), off);
        }
    }
}
