package ext4j.fs;

import ext4j.cli.Main;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Issue 17, bounds: each case runs in a child JVM whose heap is capped at {@link #HEAP}
 * (-XX:+ExitOnOutOfMemoryError, so running out of memory is an exit the parent reports), with a
 * timeout the parent enforces. Big inputs: a 200,000-entry htree directory
 * (-Dext4j.bounds.entries=1000000 for a million) listed by readdir cookies and by `ext4j ls`; a
 * 1 TiB sparse file read by SEEK_DATA and extracted by `ext4j get`; a file of 100,000 extents; a
 * directory chain 4,096 deep. Hostile inputs, each answered with an error naming the damage within
 * 10 s: an extent tree pointing at itself, a 2^62 i_size, an htree pointing back at its root, an
 * xattr of 2 GiB, journals whose length or log run past the journal inode; and a FUSE server on the
 * hostile image, in the same heap, answering EIO for the bad files and serving the good one.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BoundsTest {
    static final String HEAP = "-Xmx256m";
    static final int ENTRIES = Integer.getInteger("ext4j.bounds.entries", 200_000);
    static final long TIB = 1L << 40;
    static final int DEPTH = 4096, EXTENTS = 100_000;
    static final long[] SEGMENTS = {0, 1L << 30, 512L << 30 | 4096, TIB - (1 << 20)}; // 1 MiB of data at each, the last ending at 1 TiB

    Path work, big, good, ext, hostile, journal;

    @BeforeAll
    void images() throws Exception {
        Tools.requireTool("mke2fs");
        Tools.requireMount();
        work = Files.createTempDirectory("ext4j-bounds");
        long t0 = System.nanoTime();
        big = bigDirectory();
        long t1 = System.nanoTime();
        good = goodImage();
        ext = extentImage();
        hostile = hostileImage();
        journal = work.resolve("journal.img");
        Tools.mke2fs(journal, null, "64M", "-t", "ext4", "-b", "1024", "-O", "^metadata_csum");
        System.out.printf("BoundsTest: images built: %d-entry directory %.1f s, the rest %.1f s%n", ENTRIES, (t1 - t0) / 1e9, (System.nanoTime() - t1) / 1e9);
    }

    @AfterAll
    void cleanup() throws Exception {
        if (work != null) Tools.run("rm", "-rf", work.toString());
    }

    // ---- the images ----

    /** ENTRIES names f0000000.. in /big, made by the kernel through a loop mount (mke2fs -d adds names linearly: hours). Hard links of 20 files. */
    private Path bigDirectory() throws Exception {
        Path img = work.resolve("big.img");
        Tools.mke2fs(img, null, ENTRIES > 300_000 ? "1G" : "256M", "-t", "ext4", "-N", "4096");
        Path mnt = Files.createDirectory(work.resolve("bigmnt"));
        inKernelMount(img, mnt, "import os\nos.mkdir('big')\nos.chdir('big')\nfor i in range(" + ENTRIES + "):\n"
                + "  b = 'f%07d' % (i - i % 50000)\n  if i % 50000 == 0: open(b, 'w').close()\n  else: os.link(b, 'f%07d' % i)\n");
        return img;
    }

    /** /sparse: 1 TiB with 1 MiB of data at each of SEGMENTS (mke2fs -d); /d/d/.../d/leaf DEPTH deep (the kernel); 4 KiB blocks. */
    private Path goodImage() throws Exception {
        Path src = Files.createDirectory(work.resolve("good"));
        try (FileChannel c = FileChannel.open(src.resolve("sparse"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (long s : SEGMENTS) c.write(pattern(s, 1 << 20), s);
            assertEquals(TIB, c.size());
        }
        Path img = work.resolve("good.img");
        Tools.mke2fs(img, src, "256M", "-t", "ext4", "-b", "4096", "-N", "16384");
        Tools.deleteTree(src);
        // the chain by the kernel, by relative steps (mke2fs 1.47 -d crashes on it, and a 4,096-deep absolute path is past PATH_MAX)
        Path mnt = Files.createDirectory(work.resolve("goodmnt"));
        inKernelMount(img, mnt, "import os\nfor i in range(" + DEPTH + "):\n  os.mkdir('d')\n  os.chdir('d')\nopen('leaf', 'w').write('leaf\\n')\n");
        return img;
    }

    /** Runs a python script in the root of a kernel loop mount of img (the kernel builds what mke2fs -d cannot). */
    private static void inKernelMount(Path img, Path mnt, String py) throws Exception {
        Tools.mount(img, mnt, "loop");
        try {
            Process p = new ProcessBuilder("python3", "-c", py).directory(mnt.toFile()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), out);
        } finally {
            Tools.umount(mnt);
        }
    }

    /** 4 KiB blocks holding their byte offset / 4096 + 1 as longs. */
    static ByteBuffer pattern(long at, int len) {
        ByteBuffer b = ByteBuffer.allocate(len);
        for (int i = 0; i < len; i += 8) b.putLong(i, (at + i) / 4096 + 1);   // never a zero block, which mke2fs -d would leave a hole
        return b;
    }

    /** /many: EXTENTS one-block extents on 1 KiB blocks, each even block holding its index + 1, odd blocks holes. */
    private Path extentImage() throws Exception {
        Path src = Files.createDirectory(work.resolve("ext"));
        try (FileChannel c = FileChannel.open(src.resolve("many"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1024);
            for (long k = 0; k < EXTENTS; k++) {
                for (int i = 0; i < 1024; i += 8) b.putLong(i, 2 * k + 1);
                c.write(b.clear(), 2 * k * 1024);
            }
        }
        Path img = work.resolve("ext.img");
        Tools.mke2fs(img, src, "160M", "-t", "ext4", "-b", "1024");
        Tools.deleteTree(src);
        return img;
    }

    /** No metadata_csum, so the structural checks are what finds the damage. 1 KiB blocks. */
    private Path hostileImage() throws Exception {
        Path src = Files.createDirectory(work.resolve("hostile"));
        Files.write(src.resolve("ok"), "good data\n".repeat(1000).getBytes(StandardCharsets.UTF_8));
        try (FileChannel c = FileChannel.open(src.resolve("loop"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            for (int k = 0; k < 12; k++) c.write(pattern(k * 8192L, 1024), k * 8192L);   // 12 extents: a tree of depth 1
        }
        Files.write(src.resolve("huge"), new byte[4096]);
        Path cyc = Files.createDirectory(src.resolve("cyc"));
        for (int i = 0; i < 3000; i++) Files.createFile(cyc.resolve("name-" + i));
        Path x = Files.write(src.resolve("xattrs"), new byte[10]);
        for (int i = 0; i < 3; i++) Tools.ok("setfattr", "-n", "user.big" + i, "-v", "0x" + "ab".repeat(200), x.toString());
        Path img = work.resolve("hostile.img");
        Tools.mke2fs(img, src, "64M", "-t", "ext4", "-b", "1024", "-O", "^metadata_csum");
        int rc = Tools.run("e2fsck", "-fyD", img.toString()).exit();               // index /cyc
        assertTrue(rc == 0 || rc == 1, "e2fsck -fyD exit " + rc);
        Tools.deleteTree(src);

        InodeLayout loop, cycL, xat;
        try (Ext4Vfs vfs = Ext4Vfs.open(img, Options.defaults().withReadOnly(true))) {
            Ext4Paths p = new Ext4Paths(vfs, Caller.ROOT);
            loop = vfs.layout(p.resolve("/loop", false).ino());
            cycL = vfs.layout(p.resolve("/cyc", false).ino());
            xat = vfs.layout(p.resolve("/xattrs", false).ino());
        }
        assertEquals(1, loop.treeBlocks().size(), "/loop has one leaf below its root");
        assertTrue(xat.xattrBlock() != 0, "/xattrs has an xattr block");
        try (FileChannel c = FileChannel.open(img, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            // /loop: its leaf turned into an index node whose one entry is the leaf itself
            long leaf = loop.treeBlocks().getFirst();
            ByteBuffer n = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
            n.putShort(0, (short) 0xF30A).putShort(2, (short) 1).putShort(4, (short) 84).putShort(6, (short) 1)
                    .putInt(12, 0).putInt(16, (int) leaf).putShort(20, (short) 0);
            c.write(n, leaf * 1024);
            // /cyc: the htree root's third entry points back at block 0, the root
            long root = cycL.pieces().getFirst().physical();
            ByteBuffer r = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);
            c.read(r, root * 1024);
            int count = r.getShort(0x22) & 0xFFFF;
            assertTrue(count > 3, "the /cyc root has " + count + " entries");
            c.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 0), root * 1024 + 0x20 + 8 * 2 + 4);
            // /xattrs: the first entry of its xattr block claims a 2 GiB value
            c.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, Integer.MAX_VALUE), xat.xattrBlock() * 1024 + 32 + 8);
        }
        Tools.ok("debugfs", "-w", "-R", "sif /huge size 0x4000000000000000", img.toString());
        return img;
    }

    // ---- the child JVM ----

    record Outcome(int exit, String out, double seconds) {}

    private Outcome child(int timeoutSeconds, String mainClass, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), HEAP,
                "-XX:+ExitOnOutOfMemoryError", "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), mainClass));
        cmd.addAll(List.of(args));
        Path log = Files.createTempFile(work, "child", ".log");
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            fail(String.join(" ", args) + ": no answer within " + timeoutSeconds + " s (a hang or an unbounded walk); output:\n" + Files.readString(log));
        }
        double s = (System.nanoTime() - t0) / 1e9;
        String out = Files.readString(log);
        if (out.contains("OutOfMemoryError")) fail(String.join(" ", args) + ": ran out of memory with " + HEAP + " (" + s + " s):\n" + out);
        System.out.printf("BoundsTest: %s %s: exit %d in %.2f s: %s%n", mainClass.substring(mainClass.lastIndexOf('.') + 1), String.join(" ", args), p.exitValue(), s,
                out.length() > 400 ? out.substring(0, 400) + "..." : out.strip());
        return new Outcome(p.exitValue(), out, s);
    }

    private Outcome probe(int timeout, String... args) throws Exception { return child(timeout, BoundsProbe.class.getName(), args); }

    private Outcome cli(int timeout, String... args) throws Exception { return child(timeout, Main.class.getName(), args); }

    private static void assertOk(Outcome o, String... wants) {
        assertEquals(0, o.exit, o.out);
        assertTrue(o.out.startsWith("OK "), o.out);
        for (String w : wants) assertTrue(o.out.contains(w), "wanted '" + w + "' in: " + o.out);
    }

    /** An error naming the damage, in under 10 s. */
    private static void assertDamage(Outcome o, String... wants) {
        assertTrue(o.out.contains("ERROR ") || o.exit != 0, "expected an error, got: " + o.out);
        for (String w : wants) assertTrue(o.out.contains(w), "the error should say '" + w + "': " + o.out);
        assertTrue(o.seconds < 10, "took " + o.seconds + " s");
    }

    // ---- big inputs ----

    @Test
    void millionEntryDirectoryIsListedByCookies() throws Exception {
        Outcome o = probe(ENTRIES > 300_000 ? 600 : 120, "list", big.toString(), "/big", Integer.toString(ENTRIES));
        assertOk(o, "entries=" + ENTRIES + " ", "distinct=" + ENTRIES + " ", "dots=2 ");
    }

    @Test
    void millionEntryDirectoryIsListedByTheCli() throws Exception {
        Outcome o = cli(ENTRIES > 300_000 ? 600 : 120, "ls", big.toString(), "/big");
        assertEquals(0, o.exit, o.out.length() > 2000 ? o.out.substring(0, 2000) : o.out);
        String[] lines = o.out.split("\n");
        assertEquals(ENTRIES, lines.length);
        for (int i = 0; i < ENTRIES; i++) if (!lines[i].equals(String.format("f%07d", i))) fail("line " + i + " is " + lines[i]);
    }

    @Test
    void teraByteSparseFileIsReadBySeekData() throws Exception {
        Outcome o = probe(120, "sparse", good.toString(), "/sparse", Long.toString(TIB));
        assertOk(o, "size=" + TIB + " ", "segments=" + SEGMENTS.length + " ", "dataBytes=" + SEGMENTS.length * (1L << 20) + " ");
    }

    @Test
    void teraByteSparseFileIsExtractedByGet() throws Exception {
        Path out = work.resolve("sparse.out");
        try {
            Outcome o = cli(120, "get", good.toString(), "/sparse", out.toString());
            assertEquals(0, o.exit, o.out);
            assertEquals(TIB, Files.size(out));
            try (FileChannel c = FileChannel.open(out)) {
                for (long s : SEGMENTS) {
                    ByteBuffer b = ByteBuffer.allocate(1 << 20);
                    while (b.hasRemaining()) if (c.read(b, s + b.position()) < 0) fail("EOF at " + s);
                    assertEquals(pattern(s, 1 << 20).clear(), b.flip(), "the data at " + s);
                }
                ByteBuffer z = ByteBuffer.allocate(4096);
                c.read(z, 700L << 30);
                assertEquals(ByteBuffer.allocate(4096), z.flip(), "a hole reads as zeros");
            }
            long allocated = du(out);
            assertTrue(allocated < 64L << 20, "the extracted file is sparse: " + allocated + " bytes allocated");
        } finally {
            Files.deleteIfExists(out);
        }
    }

    private static long du(Path p) throws Exception {
        return Long.parseLong(Tools.ok("stat", "-c", "%b", p.toString()).strip()) * 512;
    }

    @Test
    void fileOfHundredThousandExtentsIsRead() throws Exception {
        Outcome o = probe(120, "extents", ext.toString(), "/many");
        assertOk(o, "size=" + (2L * EXTENTS - 1) * 1024 + " ", "dataBlocks=" + EXTENTS + " ", "extents=" + EXTENTS + " ");
    }

    @Test
    void directoryChainFourThousandDeepIsWalked() throws Exception {
        assertOk(probe(120, "deep", good.toString(), Integer.toString(DEPTH)), "levels=" + DEPTH + " ", "leafSize=5 ");
        Outcome ls = cli(60, "ls", "-l", good.toString(), "/d".repeat(DEPTH));
        assertEquals(0, ls.exit, ls.out);
        assertTrue(ls.out.contains(" 5 ") && ls.out.strip().endsWith("leaf"), ls.out);
    }

    // ---- hostile inputs ----

    @Test
    void extentTreePointingAtItself() throws Exception {
        assertDamage(probe(30, "read", hostile.toString(), "/loop"), "CorruptException", "extent block", "depth");
        Path out = work.resolve("loop.out");
        Outcome get = cli(30, "get", hostile.toString(), "/loop", out.toString());
        Files.deleteIfExists(out);
        assertDamage(get, "extent block", "depth");
    }

    @Test
    void hugeSize() throws Exception {
        assertDamage(probe(30, "read", hostile.toString(), "/huge"), "i_size 4611686018427387904");
        Path out = work.resolve("huge.out");
        Outcome get = cli(30, "get", hostile.toString(), "/huge", out.toString());
        Files.deleteIfExists(out);
        assertDamage(get, "i_size 4611686018427387904");
    }

    @Test
    void htreePointingBackAtItsRoot() throws Exception {
        assertDamage(probe(30, "readdir", hostile.toString(), "/cyc"), "CorruptException", "directory inode", "block 0");
        assertDamage(cli(30, "ls", hostile.toString(), "/cyc"), "directory inode", "block 0");
    }

    @Test
    void giantXattr() throws Exception {
        assertDamage(probe(30, "xattrs", hostile.toString(), "/xattrs"), "CorruptException", "xattr block", "2147483647");
    }

    @Test
    void journalLongerThanItsInode() throws Exception {
        Path img = dirtyJournal("long", 0x7FFFFFF0L, 0x7FFFFF00L);
        // read-only: the checkpointed state, with the reason in a warning; read-write: refused
        assertOk(probe(30, "open", img.toString()), "cannot be replayed", "s_maxlen 2147483632 blocks, but the journal inode holds 4096");
        assertDamage(probe(30, "openrw", img.toString()), "CorruptException", "journal recovery failed", "s_maxlen 2147483632 blocks, but the journal inode holds 4096");
    }

    @Test
    void journalInodeOfAbsurdSize() throws Exception {
        Path img = dirtyJournal("size", -1, -1);
        Tools.ok("debugfs", "-w", "-R", "sif <8> size 0x400000000", img.toString()); // 2^24 blocks of 1 KiB
        assertOk(probe(30, "open", img.toString()), "cannot be replayed", "journal inode 8: size 17179869184 but only");
        assertDamage(probe(30, "openrw", img.toString()), "CorruptException", "journal recovery failed", "journal inode 8: size 17179869184 but only");
    }

    @Test
    void journalLogRunningAround() throws Exception {
        // every block of the log a descriptor whose tags claim the rest of the log: the scan goes round the ring
        Path img = dirtyJournal("ring", -1, -1);
        long jsb = journalBlock(img);
        try (FileChannel c = FileChannel.open(img, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer sb = ByteBuffer.allocate(1024).order(ByteOrder.BIG_ENDIAN);
            c.read(sb, jsb * 1024);
            long maxLen = Integer.toUnsignedLong(sb.getInt(0x10)), seq = Integer.toUnsignedLong(sb.getInt(0x18));
            ByteBuffer d = ByteBuffer.allocate(1024).order(ByteOrder.BIG_ENDIAN);
            // a commit block for every position, each with the sequence the scan expects there after a wrap
            for (long pos = 1; pos < maxLen; pos++) {
                d.clear();
                d.putInt(0, 0xC03B3998).putInt(4, 2).putInt(8, (int) (seq + pos - 1));
                c.write(d, (jsb + pos) * 1024);
            }
        }
        assertOk(probe(60, "open", img.toString()), "journal replayed in memory (4095 transactions, 0 blocks)");
    }

    /** The journal's first block; the log is one run in a fresh image (checked). */
    private static long journalBlock(Path img) throws Exception {
        String out = Tools.ok("debugfs", "-R", "bmap <8> 0", img.toString()).strip();
        long journalStart = Long.parseLong(out.substring(out.lastIndexOf('\n') + 1).strip());
        // the log is contiguous in a fresh image (mke2fs puts it in one run)
        String last = Tools.ok("debugfs", "-R", "bmap <8> 4095", img.toString()).strip();
        assertEquals(journalStart + 4095, Long.parseLong(last.substring(last.lastIndexOf('\n') + 1).strip()), "journal in one run");
        return journalStart;
    }

    /** A copy of the journal image with needs_recovery set and a log start, maxLen and start overridden when >= 0. */
    private Path dirtyJournal(String name, long maxLen, long start) throws Exception {
        Path img = work.resolve("journal-" + name + ".img");
        Files.copy(journal, img);
        long jsb = journalBlock(img);
        try (FileChannel c = FileChannel.open(img, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer sb = ByteBuffer.allocate(1024).order(ByteOrder.BIG_ENDIAN);
            c.read(sb, jsb * 1024);
            if (maxLen >= 0) sb.putInt(0x10, (int) maxLen);
            sb.putInt(0x1C, (int) (start >= 0 ? start : 1));
            c.write(sb.clear(), jsb * 1024);
        }
        Tools.ok("debugfs", "-w", "-R", "feature needs_recovery", img.toString());
        return img;
    }

    // ---- FUSE ----

    @Test
    void fuseServerOnHostileImageKeepsServing() throws Exception {
        Path img = work.resolve("hostile-fuse.img");
        Files.copy(hostile, img);
        Path mnt = Files.createDirectory(work.resolve("mnt"));
        Path log = work.resolve("server.log");
        Process server = startServer(img, mnt, log);
        try {
            expectEio(() -> Files.readAllBytes(mnt.resolve("loop")), "read /loop");
            expectEio(() -> { try (FileChannel c = FileChannel.open(mnt.resolve("huge"))) { return c.read(ByteBuffer.allocate(4096), 0); } }, "read /huge");
            expectEio(() -> { try (var s = Files.list(mnt.resolve("cyc"))) { return s.count(); } }, "list /cyc");
            Tools.Result gf = Tools.run("getfattr", "-d", mnt.resolve("xattrs").toString());
            assertTrue(gf.exit() != 0 && gf.out().contains("Input/output error"), "getfattr /xattrs: " + gf.out());
            assertTrue(server.isAlive(), "the server is up: " + Files.readString(log));
            assertEquals("good data\n".repeat(1000), Files.readString(mnt.resolve("ok")));
            try (var s = Files.list(mnt)) { assertTrue(s.count() >= 5); }
            assertTrue(server.isAlive(), "the server is up: " + Files.readString(log));
            Tools.ok("umount", mnt.toString());
            assertTrue(server.waitFor(30, TimeUnit.SECONDS), "the server exits after umount");
            String out = Files.readString(log);
            // the damage turned the filesystem read-only (errors=remount-ro): the server says so at unmount and exits 1
            assertTrue(out.contains("read-only after an error: inode 3014: extent block"), out);
            assertEquals(1, server.exitValue(), out);
            assertTrue(!out.contains("OutOfMemoryError"), out);
            System.out.println("BoundsTest: FUSE server log:\n" + out);
        } finally {
            if (server.isAlive()) {
                Tools.run("umount", "-l", mnt.toString());
                server.destroyForcibly().waitFor();
            }
        }
    }

    @Test
    void fuseServerListsTheBigDirectoryInTheSameCap() throws Exception {
        Path mnt = Files.createDirectory(work.resolve("bigfuse"));
        Path log = work.resolve("bigserver.log");
        Process server = startServer(big, mnt, log, "-o", "ro");
        try {
            long t0 = System.nanoTime(), n = 0;
            try (var s = Files.newDirectoryStream(mnt.resolve("big"))) {
                for (Path p : s) if (p.getFileName().toString().matches("f\\d{7}")) n++;
            }
            System.out.printf("BoundsTest: %d entries listed through the FUSE mount in %.2f s%n", n, (System.nanoTime() - t0) / 1e9);
            assertEquals(ENTRIES, n);
            assertTrue(server.isAlive(), Files.readString(log));
            Tools.ok("umount", mnt.toString());
            assertTrue(server.waitFor(30, TimeUnit.SECONDS), "the server exits after umount");
            assertEquals(0, server.exitValue(), Files.readString(log));
        } finally {
            if (server.isAlive()) {
                Tools.run("umount", "-l", mnt.toString());
                server.destroyForcibly().waitFor();
            }
        }
    }

    private static Process startServer(Path img, Path mnt, Path log, String... opts) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), HEAP, "-XX:+ExitOnOutOfMemoryError",
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName(), "mount", "-f"));
        cmd.addAll(List.of(opts));
        cmd.add(img.toString());
        cmd.add(mnt.toString());
        Process server = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (!Files.readString(log).contains("ext4j: mounted ")) {
            if (!server.isAlive() || System.nanoTime() > deadline) {
                server.destroyForcibly();
                fail("the server did not start: " + Files.readString(log));
            }
            Thread.sleep(50);
        }
        return server;
    }

    private interface Io { Object run() throws IOException; }

    private static void expectEio(Io io, String what) {
        long t0 = System.nanoTime();
        try {
            Object r = io.run();
            fail(what + " succeeded: " + r);
        } catch (IOException | java.io.UncheckedIOException e) {
            assertTrue(String.valueOf(e.getMessage()).contains("Input/output error"), what + ": " + e);
        }
        assertTrue(System.nanoTime() - t0 < 10_000_000_000L, what + " took too long");
    }
}
