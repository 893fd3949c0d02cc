package ext4j.journal;

import ext4j.fs.Ext4FileSystem;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import static org.junit.jupiter.api.Assertions.*;

/** A power cut after fsync: e2fsck and the Linux kernel replay ext4j's jbd2 log and find what was synced. */
class JournalCrashTest {
    @TempDir Path tmp;

    /** File contents through debugfs (stdout only: its banner goes to stderr). */
    static String cat(Path img, String path) throws Exception {
        Process p = new ProcessBuilder("debugfs", "-R", "cat " + path, img.toString()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor());
        return out;
    }

    /** Whether debugfs ls output lists name with a nonzero inode. */
    private static boolean live(String ls, String name) {
        return java.util.regex.Pattern.compile("(^|\\s)[1-9]\\d*\\s+\\(\\d+\\)\\s+" + name + "(\\s|$)").matcher(ls).find();
    }

    @Test
    void syncedWorkSurvivesACutAndReplaysInE2fsckAndLinux() throws Exception {
        for (String bs : new String[]{"4096", "1024"}) {
            for (String csum : new String[]{"metadata_csum", "^metadata_csum"}) {
                Path img = tmp.resolve("j.img");
                Tools.mke2fs(img, null, "64M", "-t", "ext4", "-b", bs, "-O", csum);
                Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false);
                fs.mkdir("/d", 0755, 0, 0);
                for (int i = 0; i < 200; i++) {
                    fs.createFile("/d/f" + i, 0644, 0, 0);
                    fs.write("/d/f" + i, 0, ByteBuffer.wrap(("file " + i + "\n").repeat(i + 1).getBytes()));
                }
                for (int i = 0; i < 200; i += 2) fs.unlink("/d/f" + i);
                fs.rename("/d/f1", "/moved");
                fs.sync();                       // everything above is committed to the log, not yet home
                fs.createFile("/unsynced", 0644, 0, 0);
                ext4j.fs.Ext4FileSystemAccess.abandon(fs); // power cut

                String dump = Tools.run("dumpe2fs", "-h", img.toString()).out();
                assertTrue(dump.contains("needs_recovery"), "needs_recovery must be set after a cut:\n" + dump);

                Path a = tmp.resolve("a.img"), k = tmp.resolve("k.img");
                Files.copy(img, a, StandardCopyOption.REPLACE_EXISTING);
                Files.copy(img, k, StandardCopyOption.REPLACE_EXISTING);
                Tools.Result fix = Tools.run("e2fsck", "-fy", a.toString());
                assertTrue(fix.exit() <= 1, "e2fsck -fy: " + fix.out());
                assertFalse(fix.out().contains("Fix? yes") || fix.out().contains("Clear? yes"), "replay alone must make it consistent:\n" + fix.out());
                Tools.assertFsckClean(a);
                String ls = Tools.debugfs(a, "ls /d");
                // live entries only: debugfs also lists a removed entry kept at a block's start with inode 0
                assertTrue(live(ls, "f199") && !live(ls, "f198") && !live(ls, "f1"), ls);
                assertEquals("file 1\nfile 1\n", cat(a, "/moved"));
                assertEquals(("file 199\n").repeat(200), cat(a, "/d/f199"));
                assertFalse(Tools.debugfs(a, "ls /").contains("unsynced"), "nothing after the last sync was committed");

                Tools.requireMount();                                   // a visible skip where the kernel cannot loop-mount
                {
                    Path mnt = Files.createDirectories(tmp.resolve("mnt"));
                    Tools.ok("mount", "-o", "loop", k.toString(), mnt.toString());
                    try {
                        try (var entries = Files.list(mnt.resolve("d"))) { assertEquals(99, entries.count()); } // the odd ones, f1 moved away
                        assertEquals(("file 199\n").repeat(200), Files.readString(mnt.resolve("d/f199")));
                    } finally {
                        Tools.ok("umount", mnt.toString());
                    }
                    Tools.assertFsckClean(k);
                }
            }
        }
    }

    /**
     * Freeing a regular file's data revokes nothing (its data never went through the log, as Linux in
     * data=ordered), while a directory's freed blocks are revoked; the log, read by debugfs logdump
     * after a cut, says which. A power cut then replays to the file's data intact in the reused blocks.
     */
    @Test
    void freedFileDataIsNotRevokedButDirectoryBlocksAre() throws Exception {
        Path img = tmp.resolve("r.img");
        Tools.mke2fs(img, null, "64M", "-t", "ext4");
        Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false);
        fs.mkdir("/big", 0755, 0, 0);
        for (int i = 0; i < 300; i++) fs.createFile("/big/a-rather-long-name-to-fill-blocks-" + i, 0644, 0, 0);
        fs.createFile("/data", 0644, 0, 0);
        fs.write("/data", 0, ByteBuffer.wrap(new byte[4 << 20]));
        fs.sync();
        fs.unlink("/data");                                 // 1,024 data blocks freed
        fs.sync();
        String afterFile = Tools.run("debugfs", "-R", "logdump", img.toString()).out();
        for (int i = 0; i < 300; i++) fs.unlink("/big/a-rather-long-name-to-fill-blocks-" + i);
        fs.rmdir("/big");                                   // directory blocks freed
        fs.sync();
        ext4j.fs.Ext4FileSystemAccess.abandon(fs);
        String afterDir = Tools.run("debugfs", "-R", "logdump", img.toString()).out();
        long fileRevokes = afterFile.lines().filter(l -> l.contains("(revoke table)")).count();
        long dirRevokes = afterDir.lines().filter(l -> l.contains("(revoke table)")).count();
        assertEquals(0, fileRevokes, "no revoke table for a regular file's freed data blocks:\n" + afterFile);
        assertTrue(dirRevokes > 0, "a removed directory's blocks are revoked:\n" + afterDir);
        Tools.Result fix = Tools.run("e2fsck", "-fy", img.toString());
        assertTrue(fix.exit() <= 1, "e2fsck -fy: " + fix.out());
        Tools.assertFsckClean(img);
    }
}
