package ext4j.fs;

import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.block.FileBlockDevice;
import ext4j.journal.JournalRecovery;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Journal replay keeps the final contents of every block the log holds in memory (for an
 * in-memory replay that is the whole point). A hostile journal can log a gigabyte of distinct
 * blocks, so the replay holds at most a budget (half the heap by default) and refuses beyond it
 * with ENOMEM naming what it needs, instead of running the JVM (or the FUSE server) out of memory.
 */
class JournalReplayMemoryTest {
    @TempDir Path tmp;

    /** An image copied while ext4j had it open after a sync: needs_recovery and committed transactions in its log. */
    private Path dirtyImage() throws Exception {
        Path img = tmp.resolve("a.img"), dirty = tmp.resolve("dirty.img");
        Tools.mke2fs(img, null, "64M", "-t", "ext4", "-b", "4096");
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, Options.defaults().withCommitMillis(600_000))) {
            for (int d = 0; d < 20; d++) {
                fs.mkdir("/d" + d, 0755, 0, 0);
                for (int i = 0; i < 20; i++) fs.createFile("/d" + d + "/f" + i, 0644, 0, 0);
            }
            fs.write("/d0/f0", 0, ByteBuffer.wrap("kept".getBytes()));
            fs.sync();
            Files.copy(img, dirty);
        }
        return dirty;
    }

    @Test
    void aReplayPastItsMemoryBudgetIsRefusedWithEnomem() throws Exception {
        Path dirty = dirtyImage();
        int logged;
        try (FileBlockDevice dev = FileBlockDevice.open(dirty, true)) {
            Recovery rec = new Recovery(Ext4FileSystem.openAsIs(dev, true));
            assertTrue(rec.needsRecovery(), "the copy has a journal to replay");
            JournalRecovery.Result all = rec.scan(Long.MAX_VALUE);
            logged = all.blocks().size();
            assertTrue(logged > 4, "the log holds several blocks: " + logged);
            FsException e = assertThrows(FsException.class, () -> rec.scan(4096L * 3));
            assertEquals(Errno.ENOMEM, e.errno());
            assertTrue(e.getMessage().contains("larger heap"), e.getMessage());
            assertEquals(logged, rec.scan(4096L * logged).blocks().size(), "a budget of exactly what it needs is enough");
        }
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(dirty, Options.defaults())) {   // the default budget: half the heap
            ByteBuffer b = ByteBuffer.allocate(4);
            fs.read(fs.resolve("/d0/f0", true), 0, b);
            assertEquals("kept", new String(b.array()));
        }
        Tools.assertFsckClean(dirty);
    }
}
