package ext4j.fs;

import ext4j.dir.DirEntry;
import ext4j.ondisk.Inode;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Changing inline-data files and directories made by mke2fs -d: a directory that outgrows its inode
 * and a file written past it move to blocks, a file truncated within it stays inline, untouched
 * ones keep their bytes; Linux reads the result. (InlineDataKernelCompareTest checks each outcome
 * against Linux.)
 */
class InlineDataWriteTest {
    @TempDir Path tmp;

    @Test
    void inlineFilesAndDirectoriesChangedAsLinuxChangesThem() throws Exception {
        Path src = tmp.resolve("src");
        Files.createDirectories(src.resolve("small"));
        Files.createDirectories(src.resolve("other"));
        Map<String, byte[]> want = new TreeMap<>();
        for (int i = 0; i < 4; i++) { Files.writeString(src.resolve("small/s" + i), "x" + i); want.put("/small/s" + i, ("x" + i).getBytes()); }
        byte[] tiny = "tiny inline file".getBytes(), sixty = new byte[100];
        Arrays.fill(sixty, (byte) 'q');
        Files.write(src.resolve("tiny"), tiny);
        Files.write(src.resolve("hundred"), sixty); // past i_block: continues in system.data
        Path img = tmp.resolve("inline.img");
        Tools.mke2fs(img, src, "32M", "-t", "ext4", "-O", "inline_data", "-I", "256");
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            assertTrue(fs.resolve("/small", true).hasFlag(Inode.FL_INLINE_DATA), "mke2fs made /small inline");
            assertTrue(fs.resolve("/tiny", true).hasFlag(Inode.FL_INLINE_DATA), "mke2fs made /tiny inline");
        }
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            for (int i = 0; i < 40; i++) fs.createFile("/small/n" + i, 0644, 0, 0);   // outgrows the inode
            fs.unlink("/small/s0");
            fs.rename("/small/s1", "/other/s1");                                  // from one inline dir to another
            fs.write("/tiny", 5, ByteBuffer.wrap("APPENDED-AND-LONGER-THAN-AN-INODE-".repeat(3).getBytes()));
            fs.truncate("/hundred", 30);
            fs.setXattr("/hundred", "user.k", "v".getBytes(), 0, false);
        }
        Tools.assertFsckClean(img);
        byte[] tinyWant = new byte[5 + 102];
        System.arraycopy(tiny, 0, tinyWant, 0, 5);
        System.arraycopy("APPENDED-AND-LONGER-THAN-AN-INODE-".repeat(3).getBytes(), 0, tinyWant, 5, 102);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            TreeSet<String> names = new TreeSet<>();
            for (DirEntry e : fs.list(fs.resolve("/small", true))) if (!e.isDotOrDotDot()) names.add(e.name());
            assertEquals(42, names.size(), names.toString());
            assertTrue(names.contains("s2") && names.contains("n39") && !names.contains("s0") && !names.contains("s1"));
            assertNotNull(fs.resolve("/other/s1", true));
            assertFalse(fs.resolve("/small", true).hasFlag(Inode.FL_INLINE_DATA), "42 entries do not fit the inode");
            assertTrue(fs.resolve("/other", true).hasFlag(Inode.FL_INLINE_DATA), "one entry added: still inline");
            assertTrue(fs.resolve("/tiny", true).hasFlag(Inode.FL_INLINE_DATA), "107 bytes fit a 256-byte inode");
            assertTrue(fs.resolve("/hundred", true).hasFlag(Inode.FL_INLINE_DATA), "truncated within the inode: still inline");
            assertArrayEquals(tinyWant, readAll(fs, "/tiny"));
            assertArrayEquals(Arrays.copyOf(sixty, 30), readAll(fs, "/hundred"));
            assertArrayEquals("x2".getBytes(), readAll(fs, "/small/s2"), "an untouched inline file keeps its bytes");
        }
        Tools.requireMount();                                   // a visible skip where the kernel cannot loop-mount
        {
            Path mnt = Files.createDirectories(tmp.resolve("mnt"));
            Tools.mount(img, mnt, "ro");
            try {
                assertArrayEquals(tinyWant, Files.readAllBytes(mnt.resolve("tiny")));
                try (var l = Files.list(mnt.resolve("small"))) { assertEquals(42, l.count()); }
                assertEquals("v", Tools.ok("getfattr", "--absolute-names", "--only-values", "-n", "user.k", mnt.resolve("hundred").toString()));
            } finally {
                Tools.umount(mnt);
            }
        }
    }

    private static byte[] readAll(Ext4FileSystem fs, String path) throws Exception {
        Inode i = fs.resolve(path, true);
        ByteBuffer b = ByteBuffer.allocate((int) i.size());
        while (b.hasRemaining() && fs.read(i, b.position(), b) > 0) { }
        return b.array();
    }
}
