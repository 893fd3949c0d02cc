package ext4j.fs;

import ext4j.testutil.Seeds;
import ext4j.base.Errno;
import ext4j.base.FsException;

import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Many threads on one Ext4Vfs. Each thread runs random namespace and data operations on its own
 * files, in its own directory and in one directory all threads share (create, unlink and rename
 * storms there while others list it), and checks every answer against its own model; at the end
 * e2fsck -fn is clean, lookup and readdir agree both ways, link counts and sizes match, and every
 * thread's files hold its model's bytes. Seeds are printed; -Dext4j.seed=N reproduces the
 * per-thread seeds, -Dext4j.concurrentOps=N sets the operations per thread.
 */
class CoreConcurrencyTest {
    @TempDir Path tmp;
    private static final Caller ROOT = Caller.ROOT;

    private static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    /** A failure seen by a worker thread, reported by the test thread. */
    private final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();

    private void run(List<Runnable> workers) throws InterruptedException {
        List<Thread> ts = new ArrayList<>();
        for (Runnable r : workers) {
            Thread t = new Thread(() -> {
                try { r.run(); } catch (Throwable e) { failures.add(e); }
            });
            t.start();
            ts.add(t);
        }
        for (Thread t : ts) t.join();
        if (!failures.isEmpty()) {
            AssertionError e = new AssertionError(failures.size() + " worker(s) failed; first: " + failures.peek(), failures.peek());
            failures.clear();
            throw e;
        }
    }

    interface Body { void run() throws Exception; }

    private static Runnable unchecked(Body b) {
        return () -> {
            try { b.run(); } catch (RuntimeException | Error e) { throw e; } catch (Exception e) { throw new RuntimeException(e); }
        };
    }

    private static Set<String> names(Ext4Vfs v, long dir, int batch) throws Exception {
        List<String> got = new ArrayList<>();
        long cookie = 0;
        while (true) {
            List<Dirent> page = new ArrayList<>();
            v.readdir(dir, cookie, e -> page.size() < batch && page.add(e));
            if (page.isEmpty()) break;
            for (Dirent e : page) got.add(e.nameString());
            cookie = page.getLast().nextCookie();
        }
        Set<String> set = new HashSet<>(got);
        if (set.size() != got.size()) {
            List<String> dup = new ArrayList<>(got);
            for (String s : set) dup.remove(s);
            throw new AssertionError("readdir returned names twice: " + dup.subList(0, Math.min(10, dup.size())));
        }
        return set;
    }

    /** One worker's model: its files by name (in its own directory or, prefixed, in the shared one) and their bytes. */
    private static final class Model {
        final Map<String, byte[]> own = new HashMap<>(), shared = new HashMap<>();
    }

    @Test
    void threadsOnSharedAndOwnDirectoriesAgreeWithTheirModels() throws Exception {
        Path img = tmp.resolve("c.img");
        Tools.mke2fs(img, null, "256M", "-t", "ext4", "-N", "65536");
        int threads = 4, ops = Integer.getInteger("ext4j.concurrentOps", 32_000);
        long seed = Seeds.seed("CoreConcurrencyTest threads=" + threads + " ops/thread=" + ops);
        Model[] models = new Model[threads];
        long[] ownDirs = new long[threads];
        long shared;
        AtomicLong done = new AtomicLong();
        try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults().withCommitMillis(50))) {
            shared = v.mkdir(Ext4Vfs.ROOT, b("shared"), 0755, 0, ROOT).ino();
            for (int t = 0; t < threads; t++) ownDirs[t] = v.mkdir(Ext4Vfs.ROOT, b("t" + t), 0755, 0, ROOT).ino();
            List<Runnable> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                models[t] = new Model();
                workers.add(unchecked(() -> worker(v, id, new Random(seed + id), ops, ownDirs[id], shared, models[id], done)));
            }
            run(workers);
            // quiet now: lookup and readdir agree, both ways, everywhere
            checkTree(v, models, ownDirs, shared);
        }
        System.out.println("  " + done.get() + " operations, " + threads + " threads");
        assertTrue(done.get() >= 100_000 || ops < 32_000, "ran " + done.get() + " operations");
        Tools.assertFsckClean(img);
        try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults())) {
            checkTree(v, models, ownDirs, shared);               // and the same after a remount
        }
        Tools.assertFsckClean(img);
    }

    private static void worker(Ext4Vfs v, int id, Random r, int ops, long own, long shared, Model m, AtomicLong done) throws Exception {
        String prefix = "w" + id + "-";
        for (int i = 0; i < ops; i++) {
            int kind = r.nextInt(100);
            boolean inShared = r.nextBoolean();
            long dir = inShared ? shared : own;
            Map<String, byte[]> files = inShared ? m.shared : m.own;
            String name = prefix + r.nextInt(40);
            String where = "worker " + id + " op " + i + " " + (inShared ? "shared/" : "own/") + name;
            try {
                if (kind < 25) {                                        // create
                    boolean exists = files.containsKey(name);
                    try {
                        v.create(dir, b(name), 0644, 0, ROOT);
                        assertFalse(exists, where + ": create succeeded over an existing name");
                        files.put(name, new byte[0]);
                    } catch (FsException e) {
                        assertTrue(exists && e.errno() == Errno.EEXIST, where + ": create: " + e);
                    }
                } else if (kind < 45) {                                 // write at a random offset, read back
                    if (!files.containsKey(name)) continue;
                    long ino = v.lookup(dir, b(name)).ino();
                    byte[] data = new byte[1 + r.nextInt(r.nextBoolean() ? 300 : 20_000)];
                    r.nextBytes(data);
                    int off = r.nextInt(40_000);
                    OpenFile h = v.open(ino, Ext4Vfs.O_RDWR, ROOT);
                    try {
                        v.write(h, off, ByteBuffer.wrap(data), ROOT);
                        byte[] old = files.get(name), now = Arrays.copyOf(old, Math.max(old.length, off + data.length));
                        System.arraycopy(data, 0, now, off, data.length);
                        files.put(name, now);
                        if (r.nextInt(20) == 0) v.fsync(h, r.nextBoolean());
                        checkBytes(v, h, now, where);
                    } finally {
                        v.release(h);
                    }
                } else if (kind < 55) {                                 // truncate
                    if (!files.containsKey(name)) continue;
                    long ino = v.lookup(dir, b(name)).ino();
                    int size = r.nextInt(30_000);
                    v.setattr(ino, SetAttr.NONE.size(size), ROOT);
                    files.put(name, Arrays.copyOf(files.get(name), size));
                    assertEquals(size, v.getattr(ino).size(), where);
                } else if (kind < 70) {                                 // unlink
                    boolean exists = files.containsKey(name);
                    try {
                        v.unlink(dir, b(name));
                        assertTrue(exists, where + ": unlink of a missing name succeeded");
                        files.remove(name);
                    } catch (FsException e) {
                        assertTrue(!exists && e.errno() == Errno.ENOENT, where + ": unlink: " + e);
                    }
                } else if (kind < 85) {                                 // rename (within the same directory: names stay ours)
                    String to = prefix + r.nextInt(40);
                    boolean exists = files.containsKey(name), target = files.containsKey(to);
                    int flags = r.nextInt(4) == 0 ? Ext4Vfs.RENAME_NOREPLACE : r.nextInt(4) == 0 ? Ext4Vfs.RENAME_EXCHANGE : 0;
                    try {
                        v.rename(dir, b(name), dir, b(to), flags);
                        assertTrue(exists, where + ": rename of a missing name succeeded");
                        if (flags == Ext4Vfs.RENAME_EXCHANGE) {
                            assertTrue(target, where + ": exchange with a missing target succeeded");
                            byte[] a = files.get(name);
                            files.put(name, files.get(to));
                            files.put(to, a);
                        } else {
                            assertFalse(flags == Ext4Vfs.RENAME_NOREPLACE && target && !name.equals(to), where + ": NOREPLACE replaced");
                            if (!name.equals(to)) files.put(to, files.remove(name));
                        }
                    } catch (FsException e) {
                        boolean ok = (!exists && e.errno() == Errno.ENOENT)
                                || (flags == Ext4Vfs.RENAME_NOREPLACE && target && e.errno() == Errno.EEXIST)
                                || (flags == Ext4Vfs.RENAME_EXCHANGE && !target && e.errno() == Errno.ENOENT);
                        assertTrue(ok, where + " -> " + to + " flags " + flags + ": " + e);
                    }
                } else if (kind < 93) {                                 // list: every own name exactly once, no own name that is gone
                    Set<String> seen = names(v, dir, 1 + r.nextInt(30));
                    for (String n : files.keySet()) assertTrue(seen.contains(n), where + ": listing misses " + n);
                    for (String n : seen) if (n.startsWith(prefix)) assertTrue(files.containsKey(n), where + ": listing shows removed " + n);
                } else {                                                // lookups and getattr of every own name
                    for (Map.Entry<String, byte[]> e : files.entrySet()) {
                        Entry en = v.lookup(dir, b(e.getKey()));
                        assertEquals(e.getValue().length, en.attr().size(), where + ": size of " + e.getKey());
                    }
                }
            } catch (FsException e) {
                throw new AssertionError(where + ": unexpected " + e, e);
            }
            done.incrementAndGet();
        }
    }

    private static void checkBytes(Ext4Vfs v, OpenFile h, byte[] want, String where) throws Exception {
        ByteBuffer got = ByteBuffer.allocate(want.length + 10);
        while (got.hasRemaining()) if (v.read(h, got.position(), got) < 0) break;
        assertEquals(want.length, got.position(), where + ": size");
        assertArrayEquals(want, Arrays.copyOf(got.array(), want.length), where + ": bytes");
    }

    private static void checkTree(Ext4Vfs v, Model[] models, long[] ownDirs, long shared) throws Exception {
        for (int t = 0; t < models.length; t++) {
            checkDir(v, ownDirs[t], models[t].own, "t" + t);
        }
        Map<String, byte[]> all = new HashMap<>();
        for (Model m : models) all.putAll(m.shared);
        checkDir(v, shared, all, "shared");
        assertEquals(2 + models.length + 1 + 1, v.getattr(Ext4Vfs.ROOT).nlink(), "root links: ., .., lost+found, shared, t*");
    }

    private static void checkDir(Ext4Vfs v, long dir, Map<String, byte[]> want, String what) throws Exception {
        Set<String> listed = names(v, dir, 17);
        Set<String> expect = new HashSet<>(want.keySet());
        expect.add(".");
        expect.add("..");
        assertEquals(expect, listed, what + ": readdir vs model");
        for (Map.Entry<String, byte[]> e : want.entrySet()) {
            Entry en = v.lookup(dir, b(e.getKey()));
            assertEquals(1, en.attr().nlink(), what + "/" + e.getKey() + ": links");
            OpenFile h = v.open(en.ino(), Ext4Vfs.O_RDONLY, ROOT);
            try { checkBytes(v, h, e.getValue(), what + "/" + e.getKey()); } finally { v.release(h); }
        }
        assertEquals(2, v.getattr(dir).nlink(), what + ": a directory without subdirectories has 2 links");
    }

    /** A 50,000-entry htree directory listed in small batches while two threads add and remove entries: every entry present throughout comes back exactly once. */
    @Test
    void readdirOfAChangingHtreeDirectory() throws Exception {
        Path img = tmp.resolve("rd.img");
        Tools.mke2fs(img, null, "256M", "-t", "ext4", "-N", "131072");
        long seed = Seeds.seed("CoreConcurrencyTest readdir");
        int stable = 50_000;
        try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults())) {
            long d = v.mkdir(Ext4Vfs.ROOT, b("big"), 0755, 0, ROOT).ino();
            Set<String> keep = new HashSet<>();
            for (int i = 0; i < stable; i++) {
                String n = "stable-" + i + "-" + "s".repeat(i % 30);
                v.create(d, b(n), 0644, 0, ROOT);
                keep.add(n);
            }
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong churn = new AtomicLong(), listings = new AtomicLong();
            CountDownLatch started = new CountDownLatch(2);
            List<Runnable> workers = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                int id = t;
                workers.add(unchecked(() -> {
                    Random r = new Random(seed + id);
                    List<String> mine = new ArrayList<>();
                    started.countDown();
                    while (!stop.get()) {
                        if (mine.size() < 2000 && (mine.isEmpty() || r.nextInt(3) > 0)) {
                            String n = "churn-" + id + "-" + churn.incrementAndGet() + "-" + "c".repeat(r.nextInt(40));
                            v.create(d, b(n), 0644, 0, ROOT);
                            mine.add(n);
                        } else {
                            v.unlink(d, b(mine.remove(r.nextInt(mine.size()))));
                        }
                    }
                }));
            }
            workers.add(unchecked(() -> {
                started.await();
                Random r = new Random(seed + 99);
                try {
                    for (int round = 0; round < 4; round++) {
                        Set<String> seen = names(v, d, 1 + r.nextInt(64));   // throws on a name seen twice
                        for (String n : keep) assertTrue(seen.contains(n), "listing " + round + " misses " + n);
                        listings.incrementAndGet();
                    }
                } finally {
                    stop.set(true);
                }
            }));
            run(workers);
            System.out.println("  " + listings.get() + " listings of " + stable + " stable entries while " + churn.get() + " entries were added (and most removed)");
            assertEquals(4, listings.get());
        }
        Tools.assertFsckClean(img);
    }

    /**
     * Cache misses read in without the engine lock: two threads read random ranges of a file whose
     * bytes never change, while another rewrites parts of it with the same bytes (dirtying blocks,
     * writeback racing the read-ins), another writes a second file under a tiny cache (eviction),
     * and another drops the caches; every read must return the model's bytes.
     */
    @Test
    void cacheMissesReadInWithoutTheLockAndStayCorrect() throws Exception {
        Path img = tmp.resolve("miss.img");
        Tools.mke2fs(img, null, "128M", "-t", "ext4");
        long seed = Seeds.seed("CoreConcurrencyTest misses");
        byte[] model = new byte[6 << 20];
        new Random(seed).nextBytes(model);
        try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults().withCacheBytes(1 << 20))) {
            long ino = v.create(Ext4Vfs.ROOT, b("stable"), 0644, 0, ROOT).ino(), other = v.create(Ext4Vfs.ROOT, b("other"), 0644, 0, ROOT).ino();
            OpenFile w = v.open(ino, Ext4Vfs.O_RDWR, ROOT);
            v.write(w, 0, ByteBuffer.wrap(model), ROOT);
            v.fsync(w, false);
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong reads = new AtomicLong();
            List<Runnable> workers = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                int id = t;
                workers.add(unchecked(() -> {
                    Random r = new Random(seed + id);
                    OpenFile h = v.open(ino, Ext4Vfs.O_RDONLY, ROOT);
                    ByteBuffer buf = ByteBuffer.allocate(70_000);
                    try {
                        for (int i = 0; i < 15_000; i++) {
                            int pos = 1 + r.nextInt(model.length - 70_001), len = 1 + r.nextInt(r.nextBoolean() ? 4096 : 69_999);
                            buf.clear().limit(len);
                            assertEquals(len, v.read(h, pos, buf));
                            if (!Arrays.equals(buf.array(), 0, len, model, pos, pos + len)) throw new AssertionError("wrong bytes at " + pos + " +" + len);
                            reads.incrementAndGet();
                        }
                    } finally {
                        v.release(h);
                        stop.set(true);
                    }
                }));
            }
            workers.add(unchecked(() -> {                          // the same bytes written again: dirty blocks, writeback
                Random r = new Random(seed + 7);
                while (!stop.get()) {
                    int pos = r.nextInt(model.length - 20_000), len = 1 + r.nextInt(19_999);
                    v.write(w, pos, ByteBuffer.wrap(model, pos, len), ROOT);
                    if (r.nextInt(10) == 0) v.fsync(w, true);
                }
            }));
            workers.add(unchecked(() -> {                          // another file under the tiny cache: eviction, and cache drops
                Random r = new Random(seed + 8);
                OpenFile h = v.open(other, Ext4Vfs.O_RDWR, ROOT);
                byte[] junk = new byte[65536];
                try {
                    while (!stop.get()) {
                        r.nextBytes(junk);
                        v.write(h, (long) r.nextInt(64) << 16, ByteBuffer.wrap(junk), ROOT);
                        if (r.nextInt(20) == 0) v.pathView().dropCaches();
                    }
                } finally {
                    v.release(h);
                }
            }));
            run(workers);
            v.release(w);
            String stats = v.pathView().ioStats();
            System.out.println("  " + reads.get() + " checked reads; " + stats);
            assertTrue(stats.matches(".* [1-9][0-9]* read in unlocked.*"), "no read went through the unlocked read-in: " + stats);
        }
        Tools.assertFsckClean(img);
    }

    /** Readers resolving, stat-ing and reading while writers rewrite the same directory and inode blocks: never a corruption error or a wrong answer. */
    @Test
    void readersNeverSeeHalfEditedBlocks() throws Exception {
        Path img = tmp.resolve("rw.img");
        Tools.mke2fs(img, null, "128M", "-t", "ext4");
        long seed = Seeds.seed("CoreConcurrencyTest readers");
        try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults().withCommitMillis(20))) {
            long d = v.mkdir(Ext4Vfs.ROOT, b("d"), 0755, 0, ROOT).ino();
            int stable = 300;
            long[] inos = new long[stable];
            byte[][] content = new byte[stable][];
            Random init = new Random(seed);
            for (int i = 0; i < stable; i++) {
                inos[i] = v.create(d, b("stable" + i), 0644, 0, ROOT).ino();
                content[i] = new byte[init.nextInt(9000)];
                init.nextBytes(content[i]);
                OpenFile h = v.open(inos[i], Ext4Vfs.O_WRONLY, ROOT);
                v.write(h, 0, ByteBuffer.wrap(content[i]), ROOT);
                v.release(h);
            }
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong reads = new AtomicLong(), writes = new AtomicLong();
            List<Runnable> workers = new ArrayList<>();
            for (int t = 0; t < 2; t++) {                        // writers: the same directory and inode table blocks
                int id = t;
                workers.add(unchecked(() -> {
                    Random r = new Random(seed + 10 + id);
                    while (!stop.get()) {
                        String n = "tmp" + id + "-" + r.nextInt(200);
                        try { v.create(d, b(n), 0644, 0, ROOT); } catch (FsException e) { assertEquals(Errno.EEXIST, e.errno()); }
                        if (r.nextBoolean()) {
                            try { v.rename(d, b(n), d, b("tmp" + id + "-" + r.nextInt(200)), 0); } catch (FsException e) { assertEquals(Errno.ENOENT, e.errno()); }
                        } else {
                            try { v.unlink(d, b(n)); } catch (FsException e) { assertEquals(Errno.ENOENT, e.errno()); }
                        }
                        int k = r.nextInt(stable);
                        v.setattr(inos[k], SetAttr.NONE.mode(0600 | r.nextInt(0100)).mtime(new Time(r.nextInt(1 << 30), r.nextInt(1_000_000_000))), ROOT);
                        writes.incrementAndGet();
                    }
                }));
            }
            for (int t = 0; t < 2; t++) {                        // readers
                int id = t;
                workers.add(unchecked(() -> {
                    Random r = new Random(seed + 20 + id);
                    try {
                        for (int i = 0; i < 60_000; i++) {
                            int k = r.nextInt(stable);
                            Entry e = v.lookup(d, b("stable" + k));
                            assertEquals(inos[k], e.ino(), "lookup of stable" + k);
                            assertEquals(content[k].length, v.getattr(inos[k]).size());
                            if (i % 20 == 0) {
                                OpenFile h = v.open(inos[k], Ext4Vfs.O_RDONLY, ROOT);
                                try { checkBytes(v, h, content[k], "stable" + k); } finally { v.release(h); }
                            }
                            reads.incrementAndGet();
                        }
                    } finally {
                        stop.set(true);
                    }
                }));
            }
            run(workers);
            System.out.println("  " + reads.get() + " reader operations against " + writes.get() + " writer rounds");
        }
        Tools.assertFsckClean(img);
    }
}
