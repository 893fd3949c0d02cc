package ext4j.cli;

import ext4j.testutil.Seeds;
import ext4j.testutil.Tools;
import ext4j.testutil.TreeDiff;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** The write commands of the CLI, checked with debugfs, e2fsck and (where possible) a kernel mount. */
class CliWriteTest {
    @TempDir Path tmp;

    private static CliRunner.Out ok(String... args) {
        CliRunner.Out o = CliRunner.run(args);
        assertEquals(0, o.exit(), String.join(" ", args) + "\nstdout: " + o.out() + "\nstderr: " + o.err());
        return o;
    }

    private static String sha256(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(p)) {
            byte[] b = new byte[1 << 20];
            for (int n; (n = in.read(b)) > 0; ) md.update(b, 0, n);
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** A failing command prints the errno message, exits with the given code and leaves every byte of the image as it was. */
    private static void fails(Path img, int exit, String message, String... args) throws Exception {
        String before = sha256(img);
        CliRunner.Out o = CliRunner.run(args);
        assertEquals(exit, o.exit(), String.join(" ", args) + "\nstderr: " + o.err());
        assertTrue(o.err().contains(message), "expected '" + message + "' from " + String.join(" ", args) + ", got: " + o.err());
        assertEquals(before, sha256(img), "a failed command changed the image: " + String.join(" ", args));
    }

    private static String stat(Path img, String path) throws Exception { return Tools.debugfs(img, "stat " + path); }

    private Path hostTree(long seed) throws Exception {
        Path src = tmp.resolve("src" + seed);
        Random r = new Random(seed);
        Files.createDirectories(src.resolve("a/b/c"));
        for (int i = 0; i < 40; i++) {
            byte[] data = new byte[r.nextInt(3) == 0 ? r.nextInt(200_000) : r.nextInt(5000)];
            r.nextBytes(data);
            Files.write(src.resolve((i % 3 == 0 ? "a/" : i % 3 == 1 ? "a/b/" : "") + "f" + i), data);
        }
        Files.createSymbolicLink(src.resolve("a/link"), Path.of("b/f1"));
        Files.createLink(src.resolve("a/b/c/hard"), src.resolve("f2"));
        Tools.ok("setfattr", "-n", "user.origin", "-v", "host", src.resolve("f2").toString());
        try (var ch = java.nio.channels.FileChannel.open(src.resolve("sparse"), java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap("end".getBytes()), 3_000_000);
        }
        return src;
    }

    @Test
    void everyCommandAgainstDebugfsAndE2fsck() throws Exception {
        for (String bs : new String[]{"4096", "1024"}) {
            Path img = tmp.resolve("w" + bs + ".img");
            Tools.mke2fs(img, null, "64M", "-t", "ext4", "-b", bs);
            String I = img.toString();
            long seed = Seeds.seed("CliWriteTest");
            Path src = hostTree(seed);

            ok("put", "-r", I, src.toString(), "/tree");
            Path back = tmp.resolve("back" + bs);
            Files.createDirectories(back);
            Tools.ok("debugfs", "-R", "rdump /tree " + back, I);
            TreeDiff.Options rd = new TreeDiff.Options();
            rd.xattrs = false; rd.nanos = false; rd.dirMtimes = false; // debugfs rdump keeps seconds only, no xattrs
            java.util.List<String> d = TreeDiff.diff(src, back.resolve("tree"), rd);
            // rdump writes hard links as separate files and leaves symlink times: those are checked with debugfs stat below
            d.removeIf(x -> x.contains("nlink") || x.contains("hard link grouping") || x.startsWith("/a/link: mtime"));
            assertEquals(java.util.List.of(), d);
            assertTrue(stat(img, "/tree/a/b/c/hard").contains("Links: 2"), "hard link kept");
            assertTrue(stat(img, "/tree/a/link").contains("Fast link dest: \"b/f1\""));
            assertTrue(Tools.debugfs(img, "ex /tree/sparse").split("\n").length <= 3, "sparse file stays sparse: " + Tools.debugfs(img, "ex /tree/sparse"));

            ok("put", I, src.resolve("f2").toString(), "/");          // into an existing directory
            assertEquals(Files.size(src.resolve("f2")), Long.parseLong(Tools.debugfs(img, "stat /f2").replaceAll("(?s).*Project:\\s+\\d+\\s+Size: (\\d+).*", "$1")));
            ok("put", I, src.resolve("f5").toString(), "/f2");        // replaces a file
            assertArrayEquals(Files.readAllBytes(src.resolve("f5")), CliRunner.run("cat", I, "/f2").raw());

            ok("mkdir", "-p", "-m", "750", I, "/x/y/z");
            assertTrue(stat(img, "/x/y/z").contains("Mode:  0750"), stat(img, "/x/y/z"));
            ok("mkdir", "-p", I, "/x/y");                             // exists: fine with -p
            ok("mv", I, "/tree/a", "/x/y");                           // a directory into another directory: ".." moves
            assertTrue(Tools.debugfs(img, "ls /x/y/a").contains("b"));
            ok("mv", I, "/tree/f5", "/tree/f8");                      // over an existing file
            ok("mv", "-T", I, "/x/y/z", "/tree/emptytarget");
            ok("ln", I, "/tree/f8", "/x/hard4");
            assertTrue(stat(img, "/x/hard4").contains("Links: 2"));
            ok("ln", "-s", I, "../tree/f8", "/x/sym");
            assertTrue(stat(img, "/x/sym").contains("Fast link dest: \"../tree/f8\""));
            ok("chmod", I, "4711", "/x/hard4");
            assertTrue(stat(img, "/x/hard4").contains("Mode:  04711"));
            ok("chown", I, "1234:99", "/x/hard4");
            ok("chown", "-h", I, ":7", "/x/sym");
            assertTrue(stat(img, "/x/hard4").matches("(?s).*User:\\s+1234\\s+Group:\\s+99.*"));
            assertTrue(stat(img, "/x/sym").matches("(?s).*User:\\s+\\d+\\s+Group:\\s+7\\s.*"));
            ok("touch", "-d", "@1000000000.25", I, "/x/new", "/x/hard4");
            assertTrue(stat(img, "/x/new").contains("mtime: 0x3b9aca00:"), stat(img, "/x/new"));
            ok("truncate", "-s", "5M", I, "/x/big");
            assertTrue(stat(img, "/x/big").contains("Size: 5242880"));
            ok("fallocate", "-k", "-o", "1M", "-l", "2M", I, "/x/big");
            String ex = Tools.debugfs(img, "ex /x/big");
            assertTrue(ex.contains("Uninit"), ex);
            ok("put", I, src.resolve("a/f0").toString(), "/x/data");
            long before = Files.size(src.resolve("a/f0"));
            if (before > 3 * 4096) {
                ok("punch", "-o", "4K", "-l", "8K", I, "/x/data");
                byte[] want = Files.readAllBytes(src.resolve("a/f0"));
                java.util.Arrays.fill(want, 4096, 3 * 4096, (byte) 0);
                assertArrayEquals(want, CliRunner.run("cat", I, "/x/data").raw());
            }
            ok("rm", I, "/x/new");
            ok("rm", "-f", I, "/x/does-not-exist");
            ok("rm", "-r", I, "/tree");
            ok("rm", I, "/x/y/a/b/c/hard");
            ok("rmdir", I, "/x/y/a/b/c");
            Tools.assertFsckClean(img);
        }
    }

    @Test
    void errorsMapToErrnoAndChangeNothing() throws Exception {
        Path img = tmp.resolve("e.img");
        Tools.mke2fs(img, null, "32M", "-t", "ext4");
        String I = img.toString();
        ok("mkdir", "-p", I, "/d/sub");
        ok("touch", I, "/d/file");
        fails(img, 2, "/nope: No such file or directory", "rm", I, "/nope");
        fails(img, 2, "No such file or directory", "mkdir", I, "/nope/x");
        fails(img, 1, "/d: File exists", "mkdir", I, "/d");
        fails(img, 1, "Not a directory", "mkdir", I, "/d/file/x");
        fails(img, 1, "/d: Is a directory", "rm", I, "/d");
        fails(img, 1, "/d: Directory not empty", "rmdir", I, "/d");
        fails(img, 1, "Not a directory", "rmdir", I, "/d/file");
        fails(img, 1, "File name too long", "touch", I, "/d/" + "n".repeat(256));
        fails(img, 1, "Invalid argument", "mv", I, "/d", "/d/sub/inside");
        fails(img, 1, "Operation not permitted", "ln", I, "/d", "/dirlink");
        fails(img, 1, "File exists", "ln", "-s", I, "x", "/d/file");
        fails(img, 1, "must be absolute", "mkdir", I, "relative");
        fails(img, 2, "invalid mode", "chmod", I, "9z", "/d");
        Tools.assertFsckClean(img);
    }

    /** ext4j verity enable, measure and digest print what fsverity-utils prints for the same bytes; misuse maps to errno. */
    @Test
    void verityCommandsMatchFsverityUtils() throws Exception {
        Path img = tmp.resolve("v.img");
        Tools.mke2fs(img, null, "32M", "-t", "ext4", "-b", "4096", "-O", "verity");
        String I = img.toString();
        Path host = tmp.resolve("data");
        byte[] d = new byte[123_457];
        new java.util.Random(2).nextBytes(d);
        Files.write(host, d);
        ok("put", I, host.toString(), "/f");
        String want = Tools.run("fsverity", "digest", host.toString(), "--salt=beef").out().trim().split(" ")[0];
        CliRunner.Out digest = CliRunner.run("verity", "digest", "--salt=beef", I, "/f");
        assertEquals(0, digest.exit(), digest.err());
        assertEquals(want + " /f", digest.out().trim());
        CliRunner.Out en = CliRunner.run("verity", "enable", "--salt", "beef", I, "/f");
        assertEquals(0, en.exit(), en.err());
        assertEquals(want + " /f", en.out().trim());
        CliRunner.Out m = CliRunner.run("verity", "measure", I, "/f");
        assertEquals(want + " /f", m.out().trim());
        Tools.assertFsckClean(img);
        fails(img, 1, "/f: already a verity file: File exists", "verity", "enable", I, "/f");
        fails(img, 1, "is a verity file: its data cannot change: Operation not permitted", "truncate", "-s", "0", I, "/f");
        ok("mkdir", I, "/d");
        fails(img, 1, "/d: not a verity file: No data available", "verity", "measure", I, "/d");
        fails(img, 2, "--salt: not hexadecimal", "verity", "enable", "--salt", "xyz", I, "/f");
    }

    @Test
    void damagedMetadataIsRefusedUnlessForced() throws Exception {
        Path img = tmp.resolve("bad.img");
        Tools.mke2fs(img, null, "64M", "-t", "ext4", "-b", "1024");
        try (var ch = java.nio.channels.FileChannel.open(img, java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
            long off = 2048 + 3 * 64 + 0x1E; // group 3's bg_checksum (1K blocks: descriptors in block 2, 64 bytes each)
            java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1);
            ch.read(b, off);
            ch.write(java.nio.ByteBuffer.wrap(new byte[]{(byte) (b.get(0) ^ 0xFF)}), off);
        }
        fails(img, 1, img + ": refusing to write: group 3 descriptor checksum mismatch", "mkdir", img.toString(), "/x");
        CliRunner.Out o = CliRunner.run("mkdir", "--force", img.toString(), "/x");
        assertEquals(0, o.exit(), o.err());
        assertTrue(Tools.ok("debugfs", "-n", "-R", "ls /", img.toString()).contains("x"), "debugfs -n (checksums off) sees the new directory");
    }

    @Test
    void freeCountsAgreeWithDumpe2fs() throws Exception {
        Path img = tmp.resolve("counts.img");
        Tools.mke2fs(img, null, "64M", "-t", "ext4");
        String I = img.toString();
        ok("put", "-r", I, hostTree(3).toString(), "/t");
        ok("rm", "-r", I, "/t/a");
        ok("fallocate", "-l", "3M", I, "/fa");
        String info = ok("info", I).out(), dump = Tools.ok("dumpe2fs", "-h", I);
        for (String[] k : new String[][]{{"free blocks:", "Free blocks:"}, {"free inodes:", "Free inodes:"}}) {
            String ours = info.replaceAll("(?s).*\\n" + k[0] + "\\s+(\\d+).*", "$1");
            String theirs = dump.replaceAll("(?s).*\\n" + k[1] + "\\s+(\\d+).*", "$1");
            assertEquals(theirs, ours, k[0] + " ext4j info vs dumpe2fs");
        }
        // and the superblock totals are what e2fsck counts from the bitmaps (it would report them otherwise)
        Tools.assertFsckClean(img);
    }

    @Test
    void putThatRunsOutOfSpaceLeavesTheTreeAsItWas() throws Exception {
        Path img = tmp.resolve("tiny.img");
        Tools.mke2fs(img, null, "2M", "-t", "ext4", "-O", "^has_journal");
        String I = img.toString();
        Path src = tmp.resolve("big");
        Files.createDirectories(src);
        Random r = new Random(7);
        for (int i = 0; i < 8; i++) {
            byte[] b = new byte[400_000];
            r.nextBytes(b);
            Files.write(src.resolve("f" + i), b);
        }
        String lsBefore = Tools.debugfs(img, "ls -l /");
        String freeBefore = Tools.ok("dumpe2fs", "-h", I).replaceAll("(?s).*Free blocks:\\s+(\\d+).*", "$1");
        CliRunner.Out o = CliRunner.run("put", "-r", I, src.toString(), "/big");
        assertEquals(1, o.exit(), o.err());
        assertTrue(o.err().contains("No space left on device"), o.err());
        assertEquals(lsBefore.replaceAll("\\d+-\\w+-\\d+ \\d+:\\d+", ""), Tools.debugfs(img, "ls -l /").replaceAll("\\d+-\\w+-\\d+ \\d+:\\d+", ""));
        String freeAfter = Tools.ok("dumpe2fs", "-h", I).replaceAll("(?s).*Free blocks:\\s+(\\d+).*", "$1");
        assertEquals(freeBefore, freeAfter, "the partial copy's blocks are all freed");
        Tools.assertFsckClean(img);
    }

    @Test
    void kernelSeesWhatTheCliWrote() throws Exception {
        Tools.requireMount();                                   // a visible skip where the kernel cannot loop-mount
        Path img = tmp.resolve("k.img");
        Tools.mke2fs(img, null, "64M", "-t", "ext4");
        Path src = hostTree(42);
        ok("put", "-r", img.toString(), src.toString(), "/t");
        ok("chmod", img.toString(), "1777", "/t");
        Path mnt = tmp.resolve("mnt");
        Files.createDirectories(mnt);
        Tools.mount(img, mnt, "ro");
        try {
            TreeDiff.Options all = new TreeDiff.Options();
            java.util.List<String> d = TreeDiff.diff(src, mnt.resolve("t"), all);
            d.removeIf(x -> x.startsWith("/: mode")); // the root of the copy was chmod'ed on purpose
            assertEquals(java.util.List.of(), d);
            assertEquals("1777", Tools.ok("stat", "-c", "%a", mnt.resolve("t").toString()).trim());
        } finally {
            Tools.umount(mnt);
        }
        Tools.assertFsckClean(img);
    }
}
