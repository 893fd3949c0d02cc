package ext4j.cli;

import ext4j.testutil.Tools;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CLI contract: output fields checked against dumpe2fs/debugfs, exit codes and error messages. */
class CliContractTest {
    static Path work, src, img;

    @BeforeAll
    static void build() throws Exception {
        Tools.requireTool("mke2fs");
        work = Files.createTempDirectory("ext4j-cli");
        src = Files.createDirectory(work.resolve("src"));
        Files.createDirectories(src.resolve("a/b"));
        Files.writeString(src.resolve("a/b/hello.txt"), "hello, ext4\n");
        Files.write(src.resolve("a/bin"), new byte[100_000]);
        Files.createSymbolicLink(src.resolve("a/link"), Path.of("b/hello.txt"));
        Files.createSymbolicLink(src.resolve("a/longlink"), Path.of("x/".repeat(60) + "end"));
        Files.createSymbolicLink(src.resolve("escape"), Path.of("/etc"));
        Files.writeString(src.resolve(".hidden"), "h");
        Tools.ok("setfattr", "-n", "user.color", "-v", "blue", src.resolve("a/b/hello.txt").toString());
        Tools.ok("setfacl", "-m", "u:1000:r", src.resolve("a/b/hello.txt").toString());
        img = work.resolve("cli.img");
        Tools.mke2fs(img, src, "32M", "-t", "ext4", "-L", "clilabel");
    }

    @AfterAll static void clean() throws Exception { if (work != null) Tools.deleteTree(work); }

    @Test
    void missingPathExitsTwoWithMessage() {
        for (String cmd : new String[]{"ls", "stat", "cat"}) {
            var r = CliRunner.run(cmd, img.toString(), "/a/nope");
            assertEquals(2, r.exit(), cmd);
            assertEquals("ext4j: /a/nope: No such file or directory\n", r.err(), cmd);
        }
        var g = CliRunner.run("get", img.toString(), "/nope", work.resolve("x").toString());
        assertEquals(2, g.exit());
        assertEquals("ext4j: /nope: No such file or directory\n", g.err());
    }

    @Test
    void pathThroughFileIsNotADirectory() {
        var r = CliRunner.run("ls", img.toString(), "/a/bin/x");
        assertEquals(1, r.exit());
        assertEquals("ext4j: /a/bin/x: Not a directory\n", r.err());
    }

    @Test
    void missingImageIsAClearError() {
        var r = CliRunner.run("info", work.resolve("nothere.img").toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("nothere.img: No such file or directory"), r.err());
    }

    @Test
    void infoMatchesDumpe2fs() throws Exception {
        var r = CliRunner.run("info", img.toString());
        assertEquals(0, r.exit(), r.err());
        String d = Tools.ok("dumpe2fs", "-h", img.toString());
        assertEquals(field(d, "Block count:\\s+(\\d+)"), field(r.out(), "blocks:\\s+(\\d+)"));
        assertEquals(field(d, "Free blocks:\\s+(\\d+)"), field(r.out(), "free blocks:\\s+(\\d+)"));
        assertEquals(field(d, "Free inodes:\\s+(\\d+)"), field(r.out(), "free inodes:\\s+(\\d+)"));
        assertEquals(field(d, "Inode count:\\s+(\\d+)"), field(r.out(), "inodes:\\s+(\\d+)"));
        assertEquals(field(d, "Filesystem UUID:\\s+(\\S+)"), field(r.out(), "uuid:\\s+(\\S+)"));
        assertEquals("clilabel", field(r.out(), "volume name:\\s+(\\S+)"));
        java.util.Set<String> ours = java.util.Set.of(field(r.out(), "features:\\s+(.*)").trim().split(" "));
        java.util.Set<String> theirs = java.util.Set.of(field(d, "Filesystem features:\\s+(.*)").trim().split(" "));
        assertEquals(theirs, ours);
        assertTrue(r.out().contains("journal state:     clean"), r.out());
        assertEquals(field(d, "Total journal blocks:\\s+(\\d+)"), field(r.out(), "journal:\\s+inode 8, (\\d+) blocks"));
        assertEquals(Long.parseLong(field(d, "Journal sequence:\\s+0x([0-9a-f]+)"), 16), Long.parseLong(field(r.out(), "journal sequence:\\s+(\\d+)")));
        assertEquals(field(d, "Journal start:\\s+(\\d+)"), field(r.out(), "journal start:\\s+(\\d+)"));
        assertTrue(r.out().contains("bitmap checksums:  ok"));
    }

    @Test
    void catWritesExactBytes() throws Exception {
        var r = CliRunner.run("cat", img.toString(), "/a/link");
        assertEquals(0, r.exit(), r.err());
        assertArrayEquals(Files.readAllBytes(src.resolve("a/b/hello.txt")), r.raw());
        var big = CliRunner.run("cat", img.toString(), "/a/bin");
        assertArrayEquals(Files.readAllBytes(src.resolve("a/bin")), big.raw());
        var dir = CliRunner.run("cat", img.toString(), "/a");
        assertEquals(1, dir.exit());
        assertEquals("ext4j: /a: Is a directory\n", dir.err());
    }

    @Test
    void lsLongShowsModeOwnerSizeAndLinkTargets() throws Exception {
        var r = CliRunner.run("ls", "-l", img.toString(), "/a");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("lrwxrwxrwx") && l.endsWith("link -> b/hello.txt")), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.startsWith("drwxr-xr-x") && l.endsWith(" b")), r.out());
        assertTrue(r.out().lines().anyMatch(l -> l.matches("-rw-r--r-- +1 +0 +0 +100000 .* bin")), r.out());
        var plain = CliRunner.run("ls", img.toString(), "/");
        assertEquals("a\nescape\nlost+found\n", plain.out());
        var all = CliRunner.run("ls", "-a", img.toString(), "/");
        assertEquals(".\n..\n.hidden\na\nescape\nlost+found\n", all.out());
    }

    @Test
    void statMatchesDebugfs() throws Exception {
        var r = CliRunner.run("stat", img.toString(), "/a/b/hello.txt");
        assertEquals(0, r.exit(), r.err());
        String d = Tools.debugfs(img, "stat /a/b/hello.txt");
        assertEquals(field(d, "Inode: (\\d+)"), field(r.out(), "inode:\\s+(\\d+)"));
        assertEquals(field(d, "Size: (\\d+)"), field(r.out(), "size:\\s+(\\d+)"));
        assertEquals(field(d, "Links: (\\d+)"), field(r.out(), "links:\\s+(\\d+)"));
        assertEquals(field(d, "Blockcount: (\\d+)"), field(r.out(), "blocks:\\s+(\\d+)"));
        assertEquals(field(d, "Generation: (\\d+)"), field(r.out(), "generation:\\s+(\\d+)"));
        assertEquals(Integer.parseInt(field(d, "Mode:\\s+(\\d+)"), 8), Integer.parseInt(field(r.out(), "mode:\\s+(\\d+)"), 8));
        assertEquals(Long.parseLong(field(d, "mtime: 0x([0-9a-f]+):"), 16), Long.parseLong(field(r.out(), "mtime:\\s+(\\d+)\\.")), "mtime seconds"); // low 32 bits
        assertEquals(Long.parseLong(field(d, "mtime: 0x[0-9a-f]+:([0-9a-f]+)"), 16) >>> 2, Long.parseLong(field(r.out(), "mtime:\\s+\\d+\\.(\\d+)")), "mtime nanoseconds");
        assertTrue(r.out().contains("user.color = \"blue\""), r.out());
        assertTrue(r.out().contains("system.posix_acl_access = user::rw-,user:1000:r--,group::r--,mask::r--,other::r--"), r.out());
        String ext = field(d, "EXTENTS:\\s*\\n\\(0\\):(\\d+)");
        assertTrue(r.out().contains("logical 0-0 physical " + ext + "-" + ext + " length 1"), r.out() + "\n" + d);
        var link = CliRunner.run("stat", img.toString(), "/a/longlink");
        assertTrue(link.out().contains("target:      " + "x/".repeat(60) + "end"), link.out());
    }

    @Test
    void getRefusesDirectoryWithoutRecursive() {
        var r = CliRunner.run("get", img.toString(), "/a", work.resolve("d").toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("/a (use -r): Is a directory"), r.err());
    }

    @Test
    void getIntoExistingDirectoryUsesBaseName() throws Exception {
        Path d = Files.createDirectories(work.resolve("into"));
        var r = CliRunner.run("get", img.toString(), "/a/b/hello.txt", d.toString());
        assertEquals(0, r.exit(), r.err());
        assertEquals("hello, ext4\n", Files.readString(d.resolve("hello.txt")));
        // an absolute symlink is recreated as a link, never followed out of DEST
        var s = CliRunner.run("get", img.toString(), "/escape", d.toString());
        assertEquals(0, s.exit(), s.err());
        assertTrue(Files.isSymbolicLink(d.resolve("escape")));
    }

    private static String field(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertTrue(m.find(), "no match for " + regex + " in:\n" + text);
        return m.group(1);
    }
}
