package ext4j.mount;

import ext4j.fs.Ext4Vfs;
import ext4j.fs.Options;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.*;

/**
 * kill -9 of the FUSE server (a power cut, for a userspace filesystem) at random points of a
 * workload that writes, appends and fsyncs: afterwards the image is recovered, alternately by the
 * next ext4j open and by a kernel mount, e2fsck -fn finds nothing, and every byte an fsync or
 * fdatasync returned for is there. Every other seed runs on an orphan_file image with a file
 * unlinked while open through the mount at each kill, which recovery must free
 * (-Dext4j.orphanFile=true|false fixes it). -Dext4j.seed=N reproduces a run,
 * -Dext4j.fuseCrashPoints=N sets the number of kills (default 24).
 */
class FuseCrashTest {
    @TempDir Path tmp;

    /** What the servers printed after starting (shown when a check fails). */
    private final StringBuilder serverLog = new StringBuilder();

    private Process server(Path img, Path mnt) throws Exception { return ServerProcess.start(img, mnt, serverLog, "-o", "commit=1"); }

    @Test
    void killDashNineLosesNothingThatWasFsynced() throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/fuse")), "no /dev/fuse: skipping the FUSE crash test");
        Tools.requireMount();
        long seed = Long.getLong("ext4j.seed", System.nanoTime());
        int points = Integer.getInteger("ext4j.fuseCrashPoints", 24);
        System.out.println("FuseCrashTest seed=" + seed + " points=" + points + " (rerun with -Dext4j.seed=" + seed + ")");
        Random rnd = new Random(seed);
        Path img = tmp.resolve("crash.img"), mnt = Files.createDirectories(tmp.resolve("m")), kmnt = Files.createDirectories(tmp.resolve("k"));
        boolean orphanFile = Boolean.parseBoolean(System.getProperty("ext4j.orphanFile", String.valueOf((seed & 1) == 0)));
        if (orphanFile) System.out.println("  on an orphan_file image, a file unlinked while open at each kill");
        // room for every round's files: a full disk is not what this test is about
        Tools.mke2fs(img, null, "512M", "-t", "ext4", "-O", orphanFile ? "orphan_file" : "^orphan_file");
        Map<String, byte[]> durable = new LinkedHashMap<>();     // name -> bytes an fsync returned for (a prefix of the file)
        int files = 0, syncs = 0;
        for (int point = 0; point < points; point++) {
            Process p = server(img, mnt);
            AtomicBoolean killed = new AtomicBoolean();
            long delay = 100 + rnd.nextInt(1200);
            Thread killer = Thread.ofPlatform().start(() -> {
                try { Thread.sleep(delay); } catch (InterruptedException ignored) { }
                killed.set(true);
                p.destroyForcibly();                               // SIGKILL: no unmount, no writeback, no commit
            });
            Random w = new Random(rnd.nextLong());
            FileChannel held = null;
            try {
                if (orphanFile) {                                      // an orphan the kill leaves behind
                    Path h = mnt.resolve("held" + point);
                    held = FileChannel.open(h, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                    byte[] junk = new byte[1 + w.nextInt(200_000)];
                    w.nextBytes(junk);
                    held.write(ByteBuffer.wrap(junk));
                    held.force(true);
                    Files.delete(h);
                }
                while (!killed.get()) {
                    String name = "p" + point + "_" + files++;
                    byte[] data = new byte[w.nextInt(3) == 0 ? w.nextInt(100_000) : w.nextInt(9000)];
                    w.nextBytes(data);
                    try (FileChannel ch = FileChannel.open(mnt.resolve(name), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                        ch.write(ByteBuffer.wrap(data));
                        if (w.nextInt(3) > 0) {
                            ch.force(w.nextBoolean());                 // fsync or fdatasync
                            durable.put(name, data);
                            syncs++;
                        }
                    }
                    if (!durable.isEmpty() && w.nextInt(4) == 0) {     // append to an older durable file, then sync it
                        String old = new ArrayList<>(durable.keySet()).get(w.nextInt(durable.size()));
                        byte[] more = new byte[1 + w.nextInt(20_000)];
                        w.nextBytes(more);
                        try (FileChannel ch = FileChannel.open(mnt.resolve(old), StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
                            ch.write(ByteBuffer.wrap(more));
                            ch.force(false);
                        }
                        byte[] both = Arrays.copyOf(durable.get(old), durable.get(old).length + more.length);
                        System.arraycopy(more, 0, both, durable.get(old).length, more.length);
                        durable.put(old, both);
                        syncs++;
                    }
                }
            } catch (IOException expected) {
                if (!killed.get()) {
                    Thread.sleep(500);
                    p.destroyForcibly();                              // leave no server or dead mountpoint behind a failure
                    Tools.run("umount", "-l", mnt.toString());
                    synchronized (serverLog) { fail("an I/O error before the kill: " + expected + " at " + java.util.Arrays.toString(java.util.Arrays.copyOf(expected.getStackTrace(), 6)) + "\nserver said:\n" + serverLog); } }
            }
            killer.join();
            if (held != null) try { held.close(); } catch (IOException gone) { /* the server is dead */ }
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            Tools.run("umount", "-l", mnt.toString());             // the dead mountpoint ("Transport endpoint is not connected")
            boolean byKernel = point % 2 == 1;
            if (byKernel) {
                Tools.mount(img, kmnt, "");                           // the kernel replays the journal ext4j left
                try {
                    check(durable, kmnt, point, seed);
                } finally {
                    Tools.umount(kmnt);
                }
                Tools.assertFsckClean(img);
            } else {
                try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults())) { /* ext4j replays the journal and finishes orphans at open */ }
                Tools.assertFsckClean(img);
                Tools.mount(img, kmnt, "ro");
                try {
                    check(durable, kmnt, point, seed);
                } finally {
                    Tools.umount(kmnt);
                }
            }
        }
        System.out.println("FuseCrashTest: " + points + " kills, " + files + " files written, " + syncs + " fsyncs, " + durable.size() + " durable files checked each time");
        assertTrue(syncs > points, "the workload must have synced something before most kills");
    }

    private static void check(Map<String, byte[]> durable, Path root, int point, long seed) throws IOException {
        for (Map.Entry<String, byte[]> e : durable.entrySet()) {
            Path f = root.resolve(e.getKey());
            assertTrue(Files.exists(f), "after kill " + point + " (seed " + seed + "): fsynced file " + e.getKey() + " is gone");
            byte[] got = Files.readAllBytes(f), want = e.getValue();
            assertTrue(got.length >= want.length, "after kill " + point + ": " + e.getKey() + " has " + got.length + " bytes, fsync returned for " + want.length);
            assertArrayEquals(want, Arrays.copyOf(got, want.length), "after kill " + point + " (seed " + seed + "): fsynced bytes of " + e.getKey());
        }
    }
}
