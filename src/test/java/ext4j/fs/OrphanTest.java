package ext4j.fs;

import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** Unlinked-but-open inodes and big truncates go through the orphan list; a crash leaves work that the next open completes. */
class OrphanTest {
    @TempDir Path tmp;

    /** Every other block written: one extent per block, more than one handle's worth. */
    private static void fragmented(Ext4FileSystem fs, String path, int extents) throws Exception {
        fs.createFile(path, 0644, 0, 0);
        for (int i = 0; i < extents; i++) fs.write(path, (long) i * 2 * 4096, ByteBuffer.wrap(new byte[]{1, 2, 3}));
    }

    private static long free(Path img) throws Exception {
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) { return fs.superblock().freeBlocksCount(); }
    }

    @Test
    void bigTruncateAndDeleteFreeEverything() throws Exception {
        Path img = tmp.resolve("a.img");
        Tools.mke2fs(img, null, "64M", "-t", "ext4");
        long before = free(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fragmented(fs, "/f", Orphans.EXTENTS_PER_HANDLE * 3);
            fragmented(fs, "/g", Orphans.EXTENTS_PER_HANDLE * 2 + 7);
            fs.truncate("/f", 4096 * 10);
            fs.unlink("/g");
            assertEquals(0, fs.superblock().lastOrphan());
        }
        Tools.assertFsckClean(img);
        // /f keeps blocks 0,2,4,6,8: five extents, one more than the root holds, so one leaf block too
        assertEquals(before - 6, free(img));
    }

    @Test
    void openUnlinkedFileSurvivesUntilUnpinAndCrashIsCompletedAtNextOpen() throws Exception {
        Path img = tmp.resolve("b.img");
        // without a journal, sync writes the orphan list home (the journaled variant is in the journal tests)
        Tools.mke2fs(img, null, "64M", "-t", "ext4", "-O", "^has_journal");
        long before = free(img);
        long ino;
        Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false);
        fragmented(fs, "/open", 40);
        ino = fs.resolve("/open", true).number();
        fs.pin(ino);
        fs.unlink("/open");
        assertEquals(ino, fs.superblock().lastOrphan());
        byte[] still = readAll(fs, ino);
        assertEquals(3, still[2 * 4096 * 39 + 2]); // the unlinked open file still reads
        fs.sync();
        try (Ext4FileSystem look = Ext4FileSystem.openReadOnly(img)) {
            assertEquals(ino, look.superblock().lastOrphan(), "the orphan list is on disk after sync");
            assertTrue(look.superblock().freeBlocksCount() < before, "its blocks are still allocated");
        }
        fs.abandonForTest(); // power cut while the file is open
        // e2fsck sees the orphan list; the next read-write open completes the delete
        try (Ext4FileSystem again = Ext4FileSystem.openReadWrite(img, false)) {
            assertEquals(0, again.superblock().lastOrphan());
        }
        Tools.assertFsckClean(img);
        assertEquals(before, free(img));
    }

    private static byte[] readAll(Ext4FileSystem fs, long ino) throws Exception {
        var in = fs.inode(ino);
        ByteBuffer b = ByteBuffer.allocate((int) in.size());
        fs.read(in, 0, b);
        return b.array();
    }
}
