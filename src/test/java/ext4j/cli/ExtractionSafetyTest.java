package ext4j.cli;

import ext4j.testutil.Tools;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile images must not make `get` write outside DEST: a name containing '/', and a symlink to
 * a host directory followed by a directory of the same name (a crafted duplicate entry).
 */
class ExtractionSafetyTest {
    private Path work;

    @BeforeEach void setUp() throws Exception { work = Files.createTempDirectory("ext4j-safety"); }
    @AfterEach void tearDown() throws Exception { Tools.deleteTree(work); }

    @Test
    void hostileNamesAndSymlinkSwapStayInsideDest() throws Exception {
        Tools.requireTool("mke2fs");
        Path outside = Files.createDirectory(work.resolve("outside"));
        Path src = Files.createDirectory(work.resolve("src"));
        Files.writeString(src.resolve("abcdef"), "payload");                 // renamed to "../pwn" below
        Files.createSymbolicLink(src.resolve("d"), outside.toAbsolutePath());   // "d" -> a host directory
        Files.createDirectory(src.resolve("e"));                              // renamed to "d" below
        Files.writeString(src.resolve("e/inside"), "must not land in outside/");
        Path img = work.resolve("evil.img");
        Tools.mke2fs(img, src, "8M", "-t", "ext4", "-O", "^metadata_csum,^dir_index");
        rename(img, "abcdef", "../pwn");
        renameEntry(img, "e", "d");

        Path dest = Files.createDirectory(work.resolve("dest"));
        var r = CliRunner.run("get", "-r", img.toString(), "/", dest.resolve("x").toString());
        assertEquals(1, r.exit(), "unsafe entries are reported: " + r.err());
        assertTrue(r.err().contains("/../pwn: unsafe name"), r.err());
        try (Stream<Path> s = Files.list(outside)) { assertEquals(0, s.count(), "nothing written through the symlink"); }
        assertFalse(Files.exists(work.resolve("pwn")));
        assertFalse(Files.exists(dest.resolve("pwn")));
        assertEquals("must not land in outside/", Files.readString(dest.resolve("x/d/inside")));
    }

    /** Rewrites a directory entry's name in place (same length) by finding its bytes in the image. */
    private static void rename(Path img, String from, String to) throws Exception {
        byte[] all = Files.readAllBytes(img);
        byte[] f = from.getBytes(StandardCharsets.UTF_8), t = to.getBytes(StandardCharsets.UTF_8);
        int at = indexOf(all, f, 0);
        assertTrue(at >= 0 && f.length == t.length, "entry " + from);
        patch(img, at, t);
    }

    /** Renames the one-letter entry `from` (name_len 1, type directory) to `to`. */
    private static void renameEntry(Path img, String from, String to) throws Exception {
        byte[] all = Files.readAllBytes(img);
        // entry header tail: name_len=1, file_type=2 (directory), then the name byte
        byte[] pattern = {1, 2, (byte) from.charAt(0)};
        int at = indexOf(all, pattern, 0);
        assertTrue(at >= 0, "entry " + from);
        patch(img, at + 2, new byte[]{(byte) to.charAt(0)});
    }

    private static int indexOf(byte[] hay, byte[] needle, int from) {
        outer:
        for (int i = from; i + needle.length <= hay.length; i++) {
            for (int k = 0; k < needle.length; k++) if (hay[i + k] != needle[k]) continue outer;
            return i;
        }
        return -1;
    }

    private static void patch(Path img, long off, byte[] b) throws Exception {
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.WRITE)) { ch.write(ByteBuffer.wrap(b), off); }
    }
}
