package ext4j.journal;

import ext4j.testutil.Seeds;
import ext4j.cli.CliRunner;
import ext4j.fs.Ext4FileSystem;
import ext4j.base.CorruptException;
import ext4j.testutil.Tools;
import ext4j.testutil.TreeDiff;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Journals left dirty by Linux, replayed by ext4j and by e2fsck to the same tree; read-only replay in memory; damaged logs. */
class JournalRecoveryTest {
    @TempDir Path tmp;

    private static String sha(Path p) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    /** An image copied while Linux had it mounted after a sync: needs_recovery, committed transactions in the log. */
    private Path kernelDirtyImage(long seed) throws Exception {
        Path img = tmp.resolve("k.img"), mnt = Files.createDirectories(tmp.resolve("mnt")), dirty = tmp.resolve("dirty.img");
        Tools.mke2fs(img, null, "64M", "-t", "ext4");
        Random r = new Random(seed);
        Tools.mount(img, mnt, "");
        try {
            for (int d = 0; d < 5; d++) {
                Path dir = Files.createDirectories(mnt.resolve("d" + d));
                for (int i = 0; i < 200; i++) {
                    byte[] b = new byte[r.nextInt(20_000)];
                    r.nextBytes(b);
                    Files.write(dir.resolve("f" + i), b);
                }
            }
            for (int i = 0; i < 200; i += 2) Files.delete(mnt.resolve("d1/f" + i));
            Files.move(mnt.resolve("d2"), mnt.resolve("d0/moved"));
            Tools.ok("sync");
            Files.copy(img, dirty);   // mounted: the copy carries needs_recovery and an unflushed log
        } finally {
            Tools.umount(mnt);
        }
        return dirty;
    }

    @Test
    void linuxJournalReplaysLikeE2fsck() throws Exception {
        Tools.requireMount();                                   // a visible skip where the kernel cannot loop-mount
        long seed = Seeds.seed("JournalRecoveryTest");
        Path dirty = kernelDirtyImage(seed);
        String info = CliRunner.run("info", dirty.toString()).out();
        assertTrue(info.contains("needs recovery"), "the copy has a journal to replay:\n" + info);
        Path byE2fsck = tmp.resolve("e2fsck.img"), byRo = tmp.resolve("ro.img");
        Files.copy(dirty, byE2fsck);
        Files.copy(dirty, byRo);

        // read-only: replayed in memory, image bytes untouched
        String before = sha(byRo);
        Path roOut = tmp.resolve("ro-out");
        CliRunner.Out ro = CliRunner.run("get", "-r", byRo.toString(), "/", roOut.toString());
        assertEquals(0, ro.exit(), ro.err());
        assertTrue(ro.err().contains("journal replayed in memory"), ro.err());
        assertEquals(before, sha(byRo), "a read-only open changes nothing");

        CliRunner.Out rec = CliRunner.run("recover", dirty.toString());
        assertEquals(0, rec.exit(), rec.err());
        System.out.println("  " + rec.out().trim());
        assertTrue(rec.out().contains("replayed"), rec.out());
        Tools.assertFsckClean(dirty);
        Tools.Result fix = Tools.run("e2fsck", "-fy", byE2fsck.toString());
        assertTrue(fix.exit() <= 1, fix.out());

        Path a = tmp.resolve("a"), b = tmp.resolve("b");
        assertEquals(0, CliRunner.run("get", "-r", dirty.toString(), "/", a.toString()).exit());
        assertEquals(0, CliRunner.run("get", "-r", byE2fsck.toString(), "/", b.toString()).exit());
        TreeDiff.Options o = new TreeDiff.Options();
        o.atimes = false;
        assertEquals(List.of(), TreeDiff.diff(b, a, o), "ext4j's replay and e2fsck's give the same tree");
        assertEquals(List.of(), TreeDiff.diff(b, roOut, o), "the in-memory replay shows the same tree");
        assertEquals(Tools.ok("dumpe2fs", "-h", byE2fsck.toString()).replaceAll("(?s).*Free inodes:\\s+(\\d+).*", "$1"),
                Tools.ok("dumpe2fs", "-h", dirty.toString()).replaceAll("(?s).*Free inodes:\\s+(\\d+).*", "$1"));
    }

    @Test
    void ext4jWritesAfterReplayingALinuxJournal() throws Exception {
        Tools.requireMount();                                   // a visible skip where the kernel cannot loop-mount
        Path dirty = kernelDirtyImage(7);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(dirty, false)) { // replays, then writes
            assertTrue(fs.warnings().stream().anyMatch(w -> w.startsWith("journal recovered")), fs.warnings().toString());
            fs.mkdir("/after", 0755, 0, 0);
            fs.unlink("/d0/f1");
        }
        Tools.assertFsckClean(dirty);
    }

    /** Damaged logs: a bad journal superblock is refused, a bad commit checksum ends the log there, random damage never hangs. */
    @Test
    @org.junit.jupiter.api.Timeout(300)
    void damagedJournalsAreRefusedOrCutShort() throws Exception {
        Tools.requireMount();                                   // a visible skip where the kernel cannot loop-mount
        Path dirty = kernelDirtyImage(11);
        long jstart;
        int bs;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(dirty)) {
            bs = fs.superblock().blockSize();
            jstart = fs.fileMap(fs.inode(8)).find(0).physical() * bs;
        }
        byte[] orig = Files.readAllBytes(dirty);
        ByteBuffer all = ByteBuffer.wrap(orig);
        int start = all.getInt((int) jstart + 0x1C);
        assertTrue(start > 0, "the log is not empty");
        assertTrue((all.getInt((int) jstart + 0x28) & 0x10) != 0, "Linux used checksum v3 for this metadata_csum filesystem");

        // 1. journal superblock magic
        byte[] img = orig.clone();
        img[(int) jstart] ^= 0x55;
        Path p = tmp.resolve("bad.img");
        Files.write(p, img);
        CorruptException e = assertThrows(CorruptException.class, () -> Ext4FileSystem.recover(p));
        assertTrue(e.getMessage().contains("journal superblock: bad magic"), e.getMessage());

        // 2. the first commit block's checksum: the log ends before it, nothing is replayed
        int commitAt = -1;
        for (int k = start; k < start + 4096 && commitAt < 0; k++) {
            int off = (int) (jstart + (long) k * bs);
            if (all.getInt(off) == 0xC03B3998 && all.getInt(off + 4) == 2) commitAt = off;
        }
        assertTrue(commitAt > 0, "found a commit block");
        img = orig.clone();
        img[commitAt + 0x30] ^= 1; // the commit time, covered by the checksum
        Files.write(p, img);
        JournalRecovery.Result r = Ext4FileSystem.recover(p);
        assertEquals(0, r.transactions(), "nothing before the damaged commit is complete");
        assertTrue(r.warnings().stream().anyMatch(w -> w.contains("commit block") && w.contains("checksum mismatch")), r.warnings().toString());

        // 3. random damage in the first blocks of the log: a clean refusal or a completed replay, never a hang or another error
        Random rnd = new Random(3);
        int refused = 0, replayed = 0;
        for (int round = 0; round < 40; round++) {
            img = orig.clone();
            for (int k = 0; k < 1 + rnd.nextInt(6); k++) {
                int off = (int) (jstart + (long) (start + rnd.nextInt(48)) * bs + rnd.nextInt(bs));
                img[off] ^= (byte) (1 + rnd.nextInt(255));
            }
            Files.write(p, img);
            try {
                Ext4FileSystem.recover(p);
                replayed++;
            } catch (CorruptException ce) {
                refused++;
                assertTrue(ce.getMessage().contains("journal"), ce.getMessage());
            }
        }
        System.out.println("  damaged journals: " + replayed + " replayed (a prefix or all), " + refused + " refused with a message");
    }
}
