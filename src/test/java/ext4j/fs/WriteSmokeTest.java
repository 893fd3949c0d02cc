package ext4j.fs;

import ext4j.base.Errno;
import ext4j.base.FsException;

import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class WriteSmokeTest {
    @TempDir Path tmp;

    @Test
    void basicOperationsLeaveACleanImage() throws Exception {
        for (String bs : new String[]{"4096", "1024"}) {
            Path img = tmp.resolve("a" + bs + ".img");
            Tools.mke2fs(img, null, "64M", "-t", "ext4", "-b", bs);
            try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
                fs.mkdir("/d", 0755, 0, 0);
                fs.mkdir("/d/e", 0700, 1000, 1000);
                fs.createFile("/d/f", 0644, 0, 0);
                byte[] data = new byte[300_000];
                new java.util.Random(1).nextBytes(data);
                fs.write("/d/f", 0, ByteBuffer.wrap(data));
                fs.write("/d/f", 1_000_000, ByteBuffer.wrap("tail".getBytes()));
                fs.symlink("/d/s", "f".getBytes(), 0, 0);
                fs.symlink("/d/long", "x".repeat(100).getBytes(), 0, 0);
                fs.link("/d/f", "/hard");
                fs.rename("/d/e", "/e2");
                fs.createFile("/gone", 0644, 0, 0);
                fs.write("/gone", 0, ByteBuffer.wrap(data));
                fs.unlink("/gone");
                fs.truncate("/hard", 5000);
                fs.fallocate("/d/f", 8192, 65536, true);
                for (int i = 0; i < 300; i++) fs.createFile("/d/e" + i + "_" + "n".repeat(i % 50), 0644, 0, 0);
                for (int i = 0; i < 300; i += 3) fs.unlink("/d/e" + i + "_" + "n".repeat(i % 50));
                assertEquals(FsException.class, assertThrows(FsException.class, () -> fs.mkdir("/d", 0755, 0, 0)).getClass());
            }
            Tools.Result r = Tools.run("e2fsck", "-fn", img.toString());
            System.out.println(r.out());
            assertEquals(0, r.exit(), r.out());
            String ls = Tools.debugfs(img, "ls -l /d");
            assertTrue(ls.contains("long"), ls);
            String cat = Tools.debugfs(img, "cat /d/s");
            try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
                assertEquals("f", new String(fs.readlink(fs.resolve("/d/s", false)), StandardCharsets.UTF_8));
                assertEquals(5000, fs.resolve("/hard", true).size());
            }
        }
    }

    /** ext2/ext3 indirect blocks: direct, single, double and triple indirect, sparse, shrunk, punched; checked by debugfs and e2fsck. */
    @Test
    void blockMappedFilesUpToTripleIndirect() throws Exception {
        Path img = tmp.resolve("ext2.img");
        Tools.mke2fs(img, null, "160M", "-t", "ext2", "-b", "1024");
        long[] offsets = {0, 5_000, 13 * 1024, 270 * 1024, 20L << 20, 70L << 20, (70L << 20) + 1024 * 300};
        java.util.Map<Long, byte[]> written = new java.util.TreeMap<>();
        java.util.Random r = new java.util.Random(5);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/big", 0644, 0, 0);
            for (long off : offsets) {
                byte[] b = new byte[2000 + r.nextInt(2000)]; // the offsets are further apart
                r.nextBytes(b);
                fs.write("/big", off, ByteBuffer.wrap(b));
                written.put(off, b);
            }
            FsException e = assertThrows(FsException.class, () -> fs.fallocate("/big", 0, 4096, false));
            assertEquals(Errno.EOPNOTSUPP, e.errno());
        }
        Tools.assertFsckClean(img);
        Path out = tmp.resolve("big.out");
        Tools.ok("debugfs", "-R", "dump /big " + out, img.toString());
        byte[] all = java.nio.file.Files.readAllBytes(out);
        for (var w : written.entrySet())
            assertArrayEquals(w.getValue(), java.util.Arrays.copyOfRange(all, (int) (long) w.getKey(), (int) (w.getKey() + w.getValue().length)), "bytes at " + w.getKey());
        assertTrue(Tools.debugfs(img, "stat /big").contains("TIND"), "the file reaches the triple indirect tree");
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.punchHole("/big", 20L << 20, 8192);
            fs.truncate("/big", 300 * 1024);          // frees the double and triple indirect trees
            fs.write("/big", 100 * 1024, ByteBuffer.wrap(new byte[]{1, 2, 3}));
        }
        Tools.assertFsckClean(img);
        String st = Tools.debugfs(img, "stat /big");
        assertFalse(st.contains("TIND"), st);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) { fs.unlink("/big"); }
        Tools.assertFsckClean(img);
        String free = Tools.ok("dumpe2fs", "-h", img.toString());
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            assertEquals(Long.parseLong(free.replaceAll("(?s).*Free blocks:\\s+(\\d+).*", "$1")), fs.superblock().freeBlocksCount());
        }
    }
}
