package ext4j.mount;

import ext4j.testutil.Seeds;
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
 * next ext4j open and by a kernel mount, e2fsck -fn finds nothing, every byte an fsync or
 * fdatasync returned for is there, and whatever a file holds beyond that is the bytes sent to it
 * (a write can persist without its fsync's reply reaching us: the kill may fall in between).
 * The recovered files are what the next round appends to. Every other seed runs on an
 * orphan_file image with a file unlinked while open through the mount at each kill, which
 * recovery must free (-Dext4j.orphanFile=true|false fixes it). -Dext4j.seed=N reproduces the
 * workload, -Dext4j.fuseCrashPoints=N sets the number of kills (default 24).
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
        int points = Integer.getInteger("ext4j.fuseCrashPoints", 24);
        long seed = Seeds.seed("FuseCrashTest points=" + points);
        Random rnd = new Random(seed);
        Path img = tmp.resolve("crash.img"), mnt = Files.createDirectories(tmp.resolve("m")), kmnt = Files.createDirectories(tmp.resolve("k"));
        boolean orphanFile = Boolean.parseBoolean(System.getProperty("ext4j.orphanFile", String.valueOf((seed & 1) == 0)));
        if (orphanFile) System.out.println("  on an orphan_file image, a file unlinked while open at each kill");
        // room for every round's files: a full disk is not what this test is about
        Tools.mke2fs(img, null, "512M", "-t", "ext4", "-O", orphanFile ? "orphan_file" : "^orphan_file");
        Map<String, byte[]> durable = new LinkedHashMap<>();     // name -> bytes an fsync returned for (a prefix of the file)
        Map<String, byte[]> sent = new LinkedHashMap<>();        // name -> what the file holds if every write sent to it landed
        Map<String, List<String>> history = new LinkedHashMap<>(); // name -> what was done to it, for the failure message
        List<byte[]> written = new ArrayList<>();                // every buffer sent, synced or not: where wrong bytes came from
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
                    written.add(data);
                    sent.put(name, data);
                    history.computeIfAbsent(name, k -> new ArrayList<>()).add("point " + point + ": create 0+" + data.length);
                    try (FileChannel ch = FileChannel.open(mnt.resolve(name), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                        ch.write(ByteBuffer.wrap(data));
                        if (w.nextInt(3) > 0) {
                            ch.force(w.nextBoolean());                 // fsync or fdatasync
                            durable.put(name, data);
                            history.get(name).add("point " + point + ": synced");
                            syncs++;
                        }
                    }
                    if (!durable.isEmpty() && w.nextInt(4) == 0) {     // append to an older durable file, then sync it
                        String old = new ArrayList<>(durable.keySet()).get(w.nextInt(durable.size()));
                        byte[] more = new byte[1 + w.nextInt(20_000)];
                        w.nextBytes(more);
                        written.add(more);
                        history.get(old).add("point " + point + ": append " + durable.get(old).length + "+" + more.length);
                        byte[] both = Arrays.copyOf(durable.get(old), durable.get(old).length + more.length);
                        System.arraycopy(more, 0, both, durable.get(old).length, more.length);
                        sent.put(old, both);
                        try (FileChannel ch = FileChannel.open(mnt.resolve(old), StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
                            ch.write(ByteBuffer.wrap(more));
                            ch.force(false);
                        }
                        durable.put(old, both);
                        history.get(old).add("point " + point + ": synced");
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
            Path before = tmp.resolve("before-recovery.img");       // kept so that a failure leaves the image as the kill left it
            Tools.run("cp", "--sparse=always", img.toString(), before.toString());
            boolean byKernel = point % 2 == 1;
            if (byKernel) {
                Tools.mount(img, kmnt, "");                           // the kernel replays the journal ext4j left
                try {
                    check(durable, sent, history, written, kmnt, point, seed);
                } catch (AssertionError failed) {
                    throw keepImages(failed, before, img, seed);
                } finally {
                    Tools.umount(kmnt);
                }
                Tools.assertFsckClean(img);
            } else {
                try (Ext4Vfs _ = Ext4Vfs.open(img, Options.defaults())) { /* ext4j replays the journal and finishes orphans at open */ }
                Tools.assertFsckClean(img);
                Tools.mount(img, kmnt, "ro");
                try {
                    check(durable, sent, history, written, kmnt, point, seed);
                } catch (AssertionError failed) {
                    throw keepImages(failed, before, img, seed);
                } finally {
                    Tools.umount(kmnt);
                }
            }
        }
        long longer = history.values().stream().flatMap(List::stream).filter(h -> h.startsWith("recovered with")).count();
        System.out.println("FuseCrashTest: " + points + " kills, " + files + " files written, " + syncs + " fsyncs, " + durable.size()
                + " durable files checked each time, " + longer + " times a file was recovered with bytes whose fsync had not returned");
        assertTrue(syncs > points, "the workload must have synced something before most kills");
    }

    /** Copies the image as the kill left it and as recovery left it out of the temporary folder, and names them in the failure. */
    private static AssertionError keepImages(AssertionError failed, Path before, Path after, long seed) throws Exception {
        Path keepBefore = Path.of(System.getProperty("java.io.tmpdir"), "fusecrash-" + seed + "-killed.img");
        Path keepAfter = Path.of(System.getProperty("java.io.tmpdir"), "fusecrash-" + seed + "-recovered.img");
        Tools.run("cp", "--sparse=always", before.toString(), keepBefore.toString());
        Tools.run("cp", "--sparse=always", after.toString(), keepAfter.toString());
        return new AssertionError(failed.getMessage() + "\nimages kept: " + keepBefore + " (as killed), " + keepAfter + " (recovered)", failed);
    }

    /**
     * Every durable file holds its fsynced bytes, and beyond them only a prefix of what was sent to
     * it. What recovery left is on disk for good: the model takes it as the file's durable bytes.
     */
    private static void check(Map<String, byte[]> durable, Map<String, byte[]> sent, Map<String, List<String>> history, List<byte[]> written,
            Path root, int point, long seed) throws IOException {
        for (Map.Entry<String, byte[]> e : durable.entrySet()) {
            Path f = root.resolve(e.getKey());
            assertTrue(Files.exists(f), "after kill " + point + " (seed " + seed + "): fsynced file " + e.getKey() + " is gone");
            byte[] got = Files.readAllBytes(f), want = e.getValue(), maybe = sent.get(e.getKey());
            String what = "after kill " + point + " (seed " + seed + "): " + e.getKey() + " " + history.get(e.getKey());
            assertTrue(got.length >= want.length, what + " has " + got.length + " bytes, fsync returned for " + want.length);
            assertTrue(got.length <= maybe.length, what + " has " + got.length + " bytes, only " + maybe.length + " were sent");
            int first = Arrays.mismatch(maybe, 0, got.length, got, 0, got.length);
            if (first >= 0) fail(what + ": " + (first < want.length ? "fsynced bytes differ " : "bytes beyond the fsynced ones are not those sent ")
                    + mismatchReport(maybe, got, first, want.length, written));
            if (got.length > want.length) history.get(e.getKey()).add("recovered with " + got.length);
            e.setValue(got);
            sent.put(e.getKey(), got);
        }
    }

    /** Where the wrong bytes run and where they came from: zeros, a buffer this run sent (and where in it), or nowhere known. */
    private static String mismatchReport(byte[] want, byte[] got, int first, int fsynced, List<byte[]> written) {
        int last = first, count = 0;
        for (int i = first; i < got.length; i++) if (want[i] != got[i]) { last = i; count++; }
        int n = Math.min(32, got.length - first);
        byte[] probe = Arrays.copyOfRange(got, first, first + n);
        String source = "no buffer this run sent";
        boolean zeros = true;
        for (byte b : probe) zeros &= b == 0;
        if (zeros) source = "zeros";
        else for (int b = 0; b < written.size() && source.startsWith("no"); b++) {
            byte[] buf = written.get(b);
            for (int i = 0; i + n <= buf.length; i++)
                if (Arrays.equals(buf, i, i + n, probe, 0, n)) { source = "buffer #" + b + " (of " + written.size() + ", " + buf.length + " bytes) at offset " + i; break; }
        }
        return "from " + first + " to " + last + " (" + count + " bytes of " + (last - first + 1) + "; file " + got.length + " bytes, fsynced "
                + fsynced + ", sent " + want.length + "); the wrong bytes at " + first + " are " + source;
    }
}
