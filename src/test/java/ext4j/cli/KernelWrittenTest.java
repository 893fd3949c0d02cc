package ext4j.cli;

import ext4j.testutil.Seeds;
import ext4j.extent.Run;
import ext4j.fs.Ext4FileSystem;
import ext4j.ondisk.Inode;
import ext4j.testutil.Tools;
import ext4j.testutil.TreeDiff;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Files the Linux kernel wrote (loop mount): sparse files, a 5 GiB sparse file, a 50,000-entry
 * htree directory, hard links, short and long symlinks, xattrs and ACLs, fallocated (unwritten)
 * ranges, a fragmented file with a deeper extent tree. ext4j extracts the image and the result
 * must equal the kernel's view of the same image, and ext4j's extents must equal debugfs's.
 */
class KernelWrittenTest {
    private Path work, mnt, img;

    @BeforeEach
    void setUp() throws Exception {
        work = Files.createTempDirectory("ext4j-kernel");
        mnt = Files.createDirectory(work.resolve("mnt"));
        img = work.resolve("k.img");
    }

    @AfterEach
    void tearDown() throws Exception {
        Tools.umount(mnt);
        Tools.deleteTree(work);
    }

    @Test
    void kernelWrittenTreeExtractsExactly() throws Exception {
        Tools.requireMount();
        long seed = Seeds.seed("KernelWrittenTest");
        Random rnd = new Random(seed);
        Tools.mke2fs(img, null, "8G", "-t", "ext4");
        Tools.mount(img, mnt, "");
        List<String> names = new ArrayList<>();
        try {
            writeAt(mnt.resolve("sparse"), rnd, 0, 1 << 20, 100 << 20);
            writeAt(mnt.resolve("huge-sparse"), rnd, 0, (4L << 30) + 123, (5L << 30) - 4096);
            Path big = Files.createDirectory(mnt.resolve("big"));
            for (int i = 0; i < 50_000; i++) {
                String n = "file-" + Long.toString(rnd.nextLong() & Long.MAX_VALUE, 36) + "-" + i;
                names.add(n);
                Files.createFile(big.resolve(n));
            }
            Path data = mnt.resolve("data");
            Files.write(data, bytes(rnd, 300_000));
            Files.createLink(mnt.resolve("link1"), data);
            Files.createDirectory(mnt.resolve("sub"));
            Files.createLink(mnt.resolve("sub/link2"), data);
            Files.createSymbolicLink(mnt.resolve("short"), Path.of("data"));
            Files.createSymbolicLink(mnt.resolve("long"), Path.of("sub/".repeat(200) + "end"));
            Tools.ok("setfattr", "-n", "user.a", "-v", "alpha", data.toString());
            Tools.ok("setfattr", "-n", "trusted.b", "-v", "0x" + "cd".repeat(2000), data.toString());
            Tools.ok("setfattr", "-n", "security.c", "-v", "gamma", mnt.resolve("sub").toString());
            Tools.ok("setfacl", "-m", "u:4242:rwx,g:77:r", mnt.resolve("sub").toString());
            Tools.ok("setfacl", "-d", "-m", "u:4242:rx", mnt.resolve("sub").toString());
            Tools.ok("fallocate", "-l", "8M", mnt.resolve("falloc").toString());
            writeAt(mnt.resolve("falloc"), rnd, 2 << 20);
            Tools.ok("fallocate", "--keep-size", "-l", "4M", mnt.resolve("data").toString());
            // every other block: thousands of extents, so the extent tree grows below the inode
            try (FileChannel ch = FileChannel.open(mnt.resolve("fragmented"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                for (int b = 0; b < 4000; b += 2) ch.write(ByteBuffer.wrap(bytes(rnd, 4096)), b * 4096L);
            }
            Tools.ok("sync");
        } finally {
            Tools.umount(mnt);
        }
        Tools.assertFsckClean(img);
        Tools.mount(img, mnt, "ro");
        // extract onto a noatime tmpfs, so that reading the result for the comparison keeps the restored atimes
        Path out = Files.createDirectory(work.resolve("out"));
        Tools.ok("mount", "-t", "tmpfs", "-o", "noatime,size=8g", "tmpfs", out.toString());
        try {
            var r = CliRunner.run("get", "-r", img.toString(), "/", out.toString());
            assertEquals(0, r.exit(), r.err());
            TreeDiff.Options o = new TreeDiff.Options();
            o.atimes = true;
            List<String> diffs = TreeDiff.diff(mnt, out, o);
            assertTrue(diffs.isEmpty(), "seed " + seed + ":\n" + String.join("\n", diffs.subList(0, Math.min(30, diffs.size()))));
            assertEquals(Tools.allXattrs(mnt), Tools.allXattrs(out));
            // holes stayed holes: the 5 GiB file takes a few MiB on the host
            long kib = Long.parseLong(Tools.ok("du", "-k", out.resolve("huge-sparse").toString()).split("\\s+")[0]);
            assertTrue(kib < 10_000, "huge-sparse occupies " + kib + " KiB after extraction");
        } finally {
            Tools.umount(out);
        }

        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            for (int k = 0; k < 500; k++) {
                String n = names.get(rnd.nextInt(names.size()));
                long kernelIno = (Long) Files.getAttribute(mnt.resolve("big").resolve(n), "unix:ino");
                assertEquals(kernelIno, fs.resolve("/big/" + n, false).number(), "htree lookup of " + n);
            }
            for (String f : List.of("/falloc", "/data", "/fragmented", "/huge-sparse")) {
                assertEquals(debugfsExtents(f), ourExtents(fs, f), "extents of " + f);
            }
            Inode falloc = fs.resolve("/falloc", false);
            assertTrue(fs.fileMap(falloc).runs().stream().anyMatch(x -> x.kind() == Run.Kind.UNWRITTEN), "fallocate left unwritten extents");
        }
    }

    /** Leaf extents as "logical+len@physical[u]" strings, from debugfs's ex command. */
    private List<String> debugfsExtents(String path) throws Exception {
        String ex = Tools.debugfs(img, "ex " + path);
        List<String> out = new ArrayList<>();
        Matcher m = Pattern.compile("(?m)^\\s*(\\d+)/\\s*(\\d+)\\s+\\d+/\\s*\\d+\\s+(\\d+)\\s*-\\s*(\\d+)\\s+(\\d+)\\s*-\\s*(\\d+)\\s+(\\d+)\\s*(Uninit)?\\s*$").matcher(ex);
        while (m.find()) {
            if (!m.group(1).equals(m.group(2))) continue; // index levels: only leaves
            out.add(m.group(3) + "+" + m.group(7) + "@" + m.group(5) + (m.group(8) != null ? "u" : ""));
        }
        assertTrue(!out.isEmpty(), "no extents parsed from:\n" + ex);
        return out;
    }

    private static List<String> ourExtents(Ext4FileSystem fs, String path) throws Exception {
        List<String> out = new ArrayList<>();
        for (Run r : fs.fileMap(fs.resolve(path, false)).runs())
            out.add(r.logical() + "+" + r.length() + "@" + r.physical() + (r.kind() == Run.Kind.UNWRITTEN ? "u" : ""));
        return out;
    }

    @Test
    void dirtyKernelJournalIsReportedByInfoAndReplayedInMemoryByReads() throws Exception {
        Tools.requireMount();
        Tools.mke2fs(img, null, "64M", "-t", "ext4");
        Path copy = work.resolve("dirty.img");
        Tools.mount(img, mnt, "");
        try {
            Files.writeString(mnt.resolve("f"), "x");
            Tools.ok("sync");
            Files.copy(img, copy);
        } finally {
            Tools.umount(mnt);
        }
        var r = CliRunner.run("info", copy.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("needs_recovery"), r.out());
        assertTrue(r.out().contains("journal state:     needs recovery"), r.out());
        assertTrue(r.err().contains("warning: needs_recovery is set and the journal holds transactions: shown as on disk, not replayed"), r.err());
        var ls = CliRunner.run("cat", copy.toString(), "/f");           // other commands see the replayed state
        assertEquals(0, ls.exit(), ls.err());
        assertTrue(ls.err().contains("journal replayed in memory"), ls.err());
    }

    private static byte[] bytes(Random r, int n) {
        byte[] b = new byte[n];
        r.nextBytes(b);
        return b;
    }

    private static void writeAt(Path p, Random r, long... offsets) throws Exception {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            for (long off : offsets) ch.write(ByteBuffer.wrap(bytes(r, 4096)), off);
        }
    }
}
