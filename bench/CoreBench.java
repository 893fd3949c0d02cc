import ext4j.fs.Caller;
import ext4j.fs.Ext4Vfs;
import ext4j.fs.OpenFile;
import ext4j.fs.Options;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.DoubleFunction;
import java.util.function.IntFunction;

/**
 * How well the core API (Ext4Vfs, per-inode read-write locks) scales from one thread to two, one run
 * on one image. Every figure is printed, never checked: this is a measurement, not a test.
 *  1. cached 4 KiB reads: two 64 MiB files written (then fsync) and read once through Ext4Vfs, then
 *     random 4 KiB Ext4Vfs.read calls for SECONDS: 1 thread on file A, then 2 threads, one per file;
 *  2. getattr: 100,000 empty files in 100 directories, then getattr over all their inode numbers: a
 *     first pass, then rounds of PASSES cached passes by 1 thread, and by 2 threads taking half each;
 *  3. create+unlink: PAIRS pairs by 1 thread in directory A, then PAIRS by each of 2 threads, each in
 *     its own directory.
 * Each measurement: an untimed short round with 1 and 2 threads (JIT warm-up), then ROUNDS timed rounds,
 * 1 and 2 threads alternating; the medians are printed. Wants a fresh image with 100,000+ free inodes.
 * Usage: java -cp target/ext4j.jar bench/CoreBench.java IMAGE [SECONDS] [PAIRS]   (defaults 3, 20000);
 * bench/core-bench.sh makes the image, runs this and checks the image with e2fsck.
 */
public class CoreBench {
    static final Caller ROOT = Caller.ROOT;
    static final int FILE_MIB = 64, DIRS = 100, PER_DIR = 1000, PASSES = 10, ROUNDS = 3;

    /** One thread's share of a round: returns the operations it did. */
    interface Task { long run(int thread, int threads) throws Exception; }

    /** Runs task on n threads started together; returns the operations they counted per second of wall time. */
    static double rate(int n, Task task) throws Exception {
        CyclicBarrier start = new CyclicBarrier(n + 1);
        AtomicLong ops = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        Exception[] failed = new Exception[1];
        for (int t = 0; t < n; t++) {
            int id = t;
            threads.add(Thread.ofPlatform().start(() -> {
                try {
                    start.await();
                    ops.addAndGet(task.run(id, n));
                } catch (Exception e) {
                    failed[0] = e;
                }
            }));
        }
        start.await();
        long t0 = System.nanoTime();
        for (Thread th : threads) th.join();
        double s = (System.nanoTime() - t0) / 1e9;
        if (failed[0] != null) throw failed[0];
        return ops.get() / s;
    }

    /** An untimed round of warm with 1 and 2 threads, then ROUNDS timed rounds of task, 1 and 2 threads alternating: the medians. */
    static double[] oneVsTwo(Task warm, Task task) throws Exception {
        rate(1, warm);
        rate(2, warm);
        double[] one = new double[ROUNDS], two = new double[ROUNDS];
        for (int r = 0; r < ROUNDS; r++) {
            one[r] = rate(1, task);
            two[r] = rate(2, task);
        }
        System.err.printf("  rounds: 1 thread %s, 2 threads %s%n", Arrays.toString(Arrays.stream(one).mapToLong(Math::round).toArray()),
                Arrays.toString(Arrays.stream(two).mapToLong(Math::round).toArray()));
        Arrays.sort(one);
        Arrays.sort(two);
        return new double[]{one[ROUNDS / 2], two[ROUNDS / 2]};
    }

    static byte[] name(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    public static void main(String[] a) throws Exception {
        Path img = Path.of(a[0]);
        double secs = a.length > 1 ? Double.parseDouble(a[1]) : 3;
        int pairs = a.length > 2 ? Integer.parseInt(a[2]) : 20000;
        try (Ext4Vfs vfs = Ext4Vfs.open(img, Options.defaults())) {
            reads(vfs, secs);
            getattrs(vfs);
            createUnlink(vfs, pairs);
        }
    }

    static void reads(Ext4Vfs vfs, double secs) throws Exception {
        OpenFile[] f = new OpenFile[2];
        ByteBuffer mib = ByteBuffer.allocate(1 << 20);
        new Random(1).nextBytes(mib.array());
        for (int i = 0; i < 2; i++) {
            f[i] = vfs.open(vfs.create(Ext4Vfs.ROOT, name("read" + i), 0644, 022, ROOT).ino(), Ext4Vfs.O_RDWR, ROOT);
            for (int m = 0; m < FILE_MIB; m++) vfs.write(f[i], (long) m << 20, mib.clear(), ROOT);
            vfs.fsync(f[i], false);
            for (int m = 0; m < FILE_MIB; m++) vfs.read(f[i], (long) m << 20, mib.clear());
        }
        int blocks = FILE_MIB * 256;
        DoubleFunction<Task> forSeconds = d -> (t, k) -> {
            ByteBuffer b = ByteBuffer.allocate(4096);
            SplittableRandom r = new SplittableRandom(t);
            long end = System.nanoTime() + (long) (d * 1e9), n = 0;
            do {
                for (int j = 0; j < 256; j++, n++)
                    if (vfs.read(f[t], r.nextInt(blocks) * 4096L, b.clear()) != 4096) throw new IllegalStateException("short read");
            } while (System.nanoTime() < end);
            return n;
        };
        double[] r = oneVsTwo(forSeconds.apply(0.5), forSeconds.apply(secs));
        System.out.printf("cached 4K reads: 1 thread %.0f ops/s, 2 threads %.0f ops/s, ratio %.2f (aim >= 1.6)%n", r[0], r[1], r[1] / r[0]);
        System.err.println("  engine: " + vfs.pathView().ioStats());
        for (OpenFile o : f) vfs.release(o);
    }

    static void getattrs(Ext4Vfs vfs) throws Exception {
        int n = DIRS * PER_DIR;
        long[] inos = new long[n];
        long t0 = System.nanoTime();
        for (int d = 0; d < DIRS; d++) {
            long dir = vfs.mkdir(Ext4Vfs.ROOT, name("d" + d), 0755, 022, ROOT).ino();
            for (int i = 0; i < PER_DIR; i++) inos[d * PER_DIR + i] = vfs.create(dir, name("f" + i), 0644, 022, ROOT).ino();
        }
        vfs.sync();
        System.out.printf("setup: %d empty files in %d directories in %.1f s%n", n, DIRS, (System.nanoTime() - t0) / 1e9);
        // a round: passes over all the numbers, thread t of k taking the t-th slice
        IntFunction<Task> passes = p -> (t, k) -> {
            long links = 0;
            for (int q = 0; q < p; q++)
                for (int i = t * n / k, e = (t + 1) * n / k; i < e; i++) links += vfs.getattr(inos[i]).nlink();
            if (links != (long) p * (n / k)) throw new IllegalStateException("link counts");
            return links;
        };
        double first = rate(1, passes.apply(1));
        double[] r = oneVsTwo(passes.apply(1), passes.apply(PASSES));
        System.out.printf("getattr of %d cached inodes: 1 thread %.0f/s (first pass %.0f/s), 2 threads %.0f/s, ratio %.2f%n",
                n, r[0], first, r[1], r[1] / r[0]);
    }

    static void createUnlink(Ext4Vfs vfs, int pairs) throws Exception {
        long[] dirs = {vfs.mkdir(Ext4Vfs.ROOT, name("cu-a"), 0755, 022, ROOT).ino(), vfs.mkdir(Ext4Vfs.ROOT, name("cu-b"), 0755, 022, ROOT).ino()};
        IntFunction<Task> churn = count -> (t, k) -> {
            for (int i = 0; i < count; i++) {
                byte[] nm = name("file-" + i);
                vfs.create(dirs[t], nm, 0644, 022, ROOT);
                vfs.unlink(dirs[t], nm);
            }
            return count;
        };
        double[] r = oneVsTwo(churn.apply(Math.max(1000, pairs / 10)), churn.apply(pairs));
        System.out.printf("create+unlink pairs: 1 thread %.0f/s, 2 threads (own directory each) %.0f/s, ratio %.2f (aim >= 1.3)%n",
                r[0], r[1], r[1] / r[0]);
    }
}
