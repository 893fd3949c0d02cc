package ext4j.journal;

import ext4j.testutil.Seeds;
import ext4j.block.RecordingBlockDevice;
import ext4j.block.RecordingBlockDevice.CutMode;
import ext4j.fs.Ext4FileSystem;
import ext4j.fs.Options;
import ext4j.base.FsException;
import ext4j.ondisk.Inode;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Power cuts while several threads change the filesystem at once, with commits from fsyncs (shared:
 * group commit) and from a 1 ms timer running beside them: every file whose fsync returned before
 * the cut is there with its bytes after ext4j's recovery, and the image is e2fsck-clean. Threads
 * also write and unlink scratch files, so blocks are freed, revoked and reused while commits are
 * in flight. -Dext4j.seed=N reproduces the cut points and modes; -Dext4j.cuts=N (default 300; 0 = all).
 */
class ConcurrentPowerCutTest {
    @TempDir Path tmp;

    private record Synced(String path, byte[] data, int durableAt) {}

    @Test
    void fsyncedFilesSurviveCutsDuringConcurrentWork() throws Exception {
        long seed = Seeds.seed("ConcurrentPowerCutTest");
        int cuts = Integer.getInteger("ext4j.cuts", 300);
        Path img = tmp.resolve("base.img");
        Tools.mke2fs(img, null, "32M", "-t", "ext4", "-b", "1024");
        RecordingBlockDevice dev = new RecordingBlockDevice(Files.readAllBytes(img), "recorded");
        List<Synced> synced = Collections.synchronizedList(new ArrayList<>());
        int threads = 3, each = 30;
        int start;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(dev, Options.defaults().withCommitMillis(1))) {
            start = dev.opCount();
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int tt = t;
                done.add(pool.submit(() -> {
                    Random r = new Random(seed * 31 + tt);
                    for (int i = 0; i < each; i++) {
                        String scratch = "/s" + tt + "-" + i, p = "/f" + tt + "-" + i;
                        byte[] junk = new byte[1 + r.nextInt(8000)], d = new byte[1 + r.nextInt(20000)];
                        r.nextBytes(junk);
                        r.nextBytes(d);
                        fs.createFile(scratch, 0644, 0, 0);
                        fs.write(scratch, 0, ByteBuffer.wrap(junk));
                        if (r.nextBoolean()) fs.fsync(scratch);
                        fs.createFile(p, 0644, 0, 0);
                        fs.write(p, 0, ByteBuffer.wrap(d));
                        fs.unlink(scratch);                      // frees blocks a later file may get
                        fs.fsync(p);
                        synced.add(new Synced(p, d, dev.opCount()));
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) f.get();
            pool.shutdown();
        }
        int total = dev.opCount();
        Random rnd = new Random(seed);
        List<Integer> points = sampleCuts(start, total, cuts, rnd);
        CutMode[] modes = CutMode.values();
        Path cut = tmp.resolve("cut.img");
        for (int n : points) {
            CutMode mode = modes[rnd.nextInt(modes.length)];
            String where = ext4j.testutil.PowerCuts.recoverClean(dev, n, total, mode, seed, cut);
            try (Ext4FileSystem r = Ext4FileSystem.openReadOnly(cut)) {
                for (Synced s : new ArrayList<>(synced)) {
                    if (s.durableAt() > n) continue;
                    Inode in;
                    try { in = r.resolve(s.path(), true); }
                    catch (FsException e) { fail(where + ": " + s.path() + ", fsynced by device op " + s.durableAt() + ", is missing"); return; }
                    ByteBuffer b = ByteBuffer.allocate((int) in.size());
                    while (b.hasRemaining() && r.read(in, b.position(), b) > 0) { }
                    assertArrayEquals(s.data(), b.array(), where + ": " + s.path() + " differs");
                }
            }
        }
        System.out.println("ConcurrentPowerCutTest: " + threads + " threads, " + synced.size() + " fsynced files, " + total
                + " device operations, " + points.size() + " cut points recovered clean with every fsynced file intact");
    }

    /** Device operation counts in [start, total] to cut at: cuts of them sampled with rnd (all when cuts <= 0), ascending. */
    static List<Integer> sampleCuts(int start, int total, int cuts, Random rnd) {
        List<Integer> points = new ArrayList<>();
        for (int n = start; n <= total; n++) points.add(n);
        Collections.shuffle(points, rnd);
        points = new ArrayList<>(points.subList(0, cuts <= 0 ? points.size() : Math.min(cuts, points.size())));
        points.sort(null);
        return points;
    }
}
