package ext4j.fs;

import ext4j.base.FsException;
import ext4j.block.RecordingBlockDevice;
import ext4j.block.RecordingBlockDevice.CutMode;
import ext4j.journal.JbdJournal;
import ext4j.testutil.Seeds;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Metadata changes from several threads at once (issue 14's last goal): creates and unlinks run in
 * shared journal handles without the writer lock, beside renames, writes, setattr, xattrs, mkdir and
 * rmdir that take it. Threads work in their own directories (top-level ones, which the inode
 * allocator spreads over the groups, so their handles touch different bitmaps) and in one directory
 * they all share, each under its own name prefix, so a per-thread model predicts every answer.
 * Checks: the handles really overlapped, e2fsck -fn is clean, and every thread's tree (names,
 * types, modes, sizes, bytes, symlink targets) equals its model, before and after a reopen; then the
 * same kind of run over the recording device, cut at sampled device operations in every mode and
 * recovered. Seeds printed; -Dext4j.seed=N reproduces, -Dext4j.parallelOps=N sets operations per
 * thread, -Dext4j.cuts=N the cuts (0: all).
 */
class ParallelMetadataTest {
    @TempDir Path tmp;
    private static final Caller ROOT = Caller.ROOT;
    private static final int THREADS = 4;

    private static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    /** What a thread expects at one of its names: a file (its bytes and mode), a directory, or a symlink (its target). */
    private record Node(int type, int mode, byte[] data) {}

    /** One thread's names: (directory key, name) to node; "own" is its directory, "shared" the common one, "own/sub" a subdirectory. */
    private static final class Model {
        final Map<String, Map<String, Node>> dirs = new TreeMap<>();
        Map<String, Node> in(String dir) { return dirs.computeIfAbsent(dir, d -> new TreeMap<>()); }
    }

    private final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();

    /**
     * One thread's random operations, checked against its model as they go. dirs maps the model's
     * directory keys to inode numbers (its own, the shared one, and the subdirectories it makes).
     */
    private static void work(Ext4Vfs v, int t, Random r, int ops, long own, long shared, Model m, boolean fsyncs) throws Exception {
        Map<String, Long> dirIno = new TreeMap<>();
        dirIno.put("own", own);
        dirIno.put("shared", shared);
        m.in("own");
        m.in("shared");
        String prefix = "t" + t + "-";
        for (int i = 0; i < ops; i++) {
            List<String> keys = new ArrayList<>(dirIno.keySet());
            String dk = keys.get(r.nextInt(keys.size()));
            long dir = dirIno.get(dk);
            Map<String, Node> here = m.in(dk);
            String nm = prefix + r.nextInt(40);
            Node there = here.get(nm);
            int k = r.nextInt(100);
            if (k < 30) {                                                 // create (shared handle), maybe with data
                if (there != null) {
                    FsException e = assertThrows(FsException.class, () -> v.create(dir, b(nm), 0644, 022, ROOT));
                    assertEquals(ext4j.base.Errno.EEXIST, e.errno());
                    continue;
                }
                Entry e = v.create(dir, b(nm), 0644, 022, ROOT);
                byte[] data = new byte[0];
                if (r.nextInt(3) == 0) {
                    data = new byte[1 + r.nextInt(9000)];
                    r.nextBytes(data);
                    OpenFile f = v.open(e.ino(), Ext4Vfs.O_RDWR, ROOT);
                    v.write(f, 0, ByteBuffer.wrap(data), ROOT);
                    if (fsyncs && r.nextBoolean()) v.fsync(f, r.nextBoolean());
                    v.release(f);
                }
                here.put(nm, new Node(Attr.S_IFREG, 0644, data));
            } else if (k < 55) {                                          // unlink (shared handle when it may)
                if (there == null || there.type() == Attr.S_IFDIR) continue;
                v.unlink(dir, b(nm));
                here.remove(nm);
            } else if (k < 63) {                                          // rename between its directories (writer lock)
                if (there == null || there.type() == Attr.S_IFDIR) continue;
                String tk = keys.get(r.nextInt(keys.size()));
                String tn = prefix + r.nextInt(40);
                Node over = m.in(tk).get(tn);
                if (over != null && over.type() == Attr.S_IFDIR) continue;
                v.rename(dir, b(nm), dirIno.get(tk), b(tn), 0);
                here.remove(nm);
                m.in(tk).put(tn, there);
            } else if (k < 71) {                                          // setattr: mode, or size
                if (there == null || there.type() != Attr.S_IFREG) continue;
                long ino = v.lookup(dir, b(nm)).ino();
                if (r.nextBoolean()) {
                    int mode = 0600 | r.nextInt(0100);
                    v.setattr(ino, SetAttr.NONE.mode(mode), ROOT);
                    here.put(nm, new Node(there.type(), mode, there.data()));
                } else {
                    int size = r.nextInt(12000);
                    v.setattr(ino, SetAttr.NONE.size(size), ROOT);
                    here.put(nm, new Node(there.type(), there.mode(), Arrays.copyOf(there.data(), size)));
                }
            } else if (k < 79) {                                          // rewrite part of a file
                if (there == null || there.type() != Attr.S_IFREG) continue;
                OpenFile f = v.open(v.lookup(dir, b(nm)).ino(), Ext4Vfs.O_RDWR, ROOT);
                int off = r.nextInt(6000);
                byte[] d = new byte[1 + r.nextInt(5000)];
                r.nextBytes(d);
                v.write(f, off, ByteBuffer.wrap(d), ROOT);
                if (fsyncs && r.nextInt(4) == 0) v.fsync(f, false);
                v.release(f);
                byte[] now = Arrays.copyOf(there.data(), Math.max(there.data().length, off + d.length));
                System.arraycopy(d, 0, now, off, d.length);
                here.put(nm, new Node(there.type(), there.mode(), now));
            } else if (k < 84) {                                          // symlink (shared handle)
                if (there != null) continue;
                byte[] target = b("target-" + r.nextInt(1000));
                v.symlink(dir, b(nm), target, ROOT);
                here.put(nm, new Node(Attr.S_IFLNK, 0777, target));
            } else if (k < 89) {                                          // mkdir (shared handle) in its own directory
                if (!dk.equals("own") || there != null || dirIno.size() > 6) continue;
                Entry e = v.mkdir(dir, b(nm), 0755, 022, ROOT);
                here.put(nm, new Node(Attr.S_IFDIR, 0755, null));
                dirIno.put("own/" + nm, e.ino());
                m.in("own/" + nm);
            } else if (k < 93) {                                          // rmdir of an empty subdirectory
                for (String sub : keys) {
                    if (!sub.startsWith("own/") || !m.in(sub).isEmpty()) continue;
                    String sn = sub.substring(4);
                    v.rmdir(own, b(sn));
                    m.in("own").remove(sn);
                    m.dirs.remove(sub);
                    dirIno.remove(sub);
                    break;
                }
            } else if (k < 96) {                                          // an xattr (writer lock)
                if (there == null || there.type() != Attr.S_IFREG) continue;
                v.setxattr(v.lookup(dir, b(nm)).ino(), "user.t", b("v" + i), 0, ROOT);
            } else {                                                      // a lookup that must fail or find the model's node
                if (there == null) assertThrows(FsException.class, () -> v.lookup(dir, b(nm)));
                else assertEquals(there.type(), v.lookup(dir, b(nm)).attr().mode() & Attr.S_IFMT);
            }
        }
    }

    /** Every name of thread t in the model's directories is there as modelled, and nothing else with its prefix. */
    private static void check(Ext4Vfs v, int t, long own, long shared, Model m, String where) throws Exception {
        String prefix = "t" + t + "-";
        Map<String, Long> dirIno = new TreeMap<>();
        dirIno.put("own", own);
        dirIno.put("shared", shared);
        for (Map.Entry<String, Node> e : m.in("own").entrySet())
            if (e.getValue().type() == Attr.S_IFDIR) dirIno.put("own/" + e.getKey(), v.lookup(own, b(e.getKey())).ino());
        for (Map.Entry<String, Long> d : dirIno.entrySet()) {
            Map<String, Node> want = m.in(d.getKey());
            List<String> listed = new ArrayList<>();
            long cookie = 0;
            while (true) {
                List<Dirent> page = new ArrayList<>();
                v.readdir(d.getValue(), cookie, x -> page.size() < 64 && page.add(x));
                if (page.isEmpty()) break;
                for (Dirent x : page) if (x.nameString().startsWith(prefix)) listed.add(x.nameString());
                cookie = page.getLast().nextCookie();
            }
            Collections.sort(listed);
            assertEquals(new ArrayList<>(want.keySet()), listed, where + ": thread " + t + "'s names in " + d.getKey());
            for (Map.Entry<String, Node> e : want.entrySet()) {
                Entry got = v.lookup(d.getValue(), b(e.getKey()));
                Node n = e.getValue();
                String at = where + ": " + d.getKey() + "/" + e.getKey();
                assertEquals(n.type(), got.attr().mode() & Attr.S_IFMT, at + " type");
                if (n.type() == Attr.S_IFLNK) { assertArrayEquals(n.data(), v.readlink(got.ino()), at + " target"); continue; }
                if (n.type() != Attr.S_IFREG) continue;
                assertEquals(n.mode(), got.attr().mode() & 07777, at + " mode");
                assertEquals(n.data().length, got.attr().size(), at + " size");
                assertEquals(1, got.attr().nlink(), at + " links");
                OpenFile f = v.open(got.ino(), Ext4Vfs.O_RDONLY, ROOT);
                ByteBuffer buf = ByteBuffer.allocate(n.data().length);
                while (buf.hasRemaining() && v.read(f, buf.position(), buf) > 0) { }
                v.release(f);
                assertArrayEquals(n.data(), buf.array(), at + " bytes");
            }
        }
    }

    private void runThreads(List<ThrowingRunnable> bodies) throws InterruptedException {
        List<Thread> ts = new ArrayList<>();
        for (ThrowingRunnable body : bodies) {
            Thread th = new Thread(() -> { try { body.run(); } catch (Throwable e) { failures.add(e); } });
            th.start();
            ts.add(th);
        }
        for (Thread th : ts) th.join();
        if (!failures.isEmpty()) {
            Throwable first = failures.peek();
            throw new AssertionError(failures.size() + " worker(s) failed; first: " + first, first);
        }
    }

    interface ThrowingRunnable { void run() throws Exception; }

    @Test
    void parallelChangesMatchTheModel() throws Exception {
        long seed = Seeds.seed("ParallelMetadataTest.model");
        int ops = Integer.getInteger("ext4j.parallelOps", 4000);
        System.out.println("  " + THREADS + " threads, " + ops + " operations each");
        Path img = tmp.resolve("p.img");
        Tools.mke2fs(img, null, "64M", "-t", "ext4", "-N", "16384");
        long[] own = new long[THREADS];
        Model[] models = new Model[THREADS];
        long shared;
        JbdJournal.Stats stats;
        try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults())) {
            shared = v.mkdir(Ext4Vfs.ROOT, b("shared"), 0755, 022, ROOT).ino();
            for (int t = 0; t < THREADS; t++) { own[t] = v.mkdir(Ext4Vfs.ROOT, b("own" + t), 0755, 022, ROOT).ino(); models[t] = new Model(); }
            List<ThrowingRunnable> bodies = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int tt = t;
                bodies.add(() -> work(v, tt, new Random(seed * 31 + tt), ops, own[tt], shared, models[tt], true));
            }
            runThreads(bodies);
            for (int t = 0; t < THREADS; t++) check(v, t, own[t], shared, models[t], "seed=" + seed + " before close");
            stats = ((JbdJournal) v.pathView().journalForTest()).handleStats();
            System.out.println("  " + stats + ", " + v.pathView().writerForTest().tx.busyRetries.sum() + " undone and run again (a block busy); groups of the thread directories: "
                    + Arrays.stream(own).map(i -> (i - 1) / 2048).boxed().toList());
        }
        assertTrue(stats.peakHandles() >= 2, "seed=" + seed + ": shared handles never overlapped (" + stats + ")");
        Tools.assertFsckClean(img);
        try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults())) {
            for (int t = 0; t < THREADS; t++) check(v, t, own[t], shared, models[t], "seed=" + seed + " after reopen");
        }
    }

    /**
     * Create+unlink storms, one thread per directory, every answer checked at once: each create
     * finds no old name, each unlinked name is gone, every inode read back whole (its checksum);
     * the handles share bitmap and inode table blocks (one group) and must have overlapped. This is
     * where two handles taking the same inode, or a merged block losing one handle's bits, shows.
     * -Dext4j.parallelPairs=N sets the pairs per thread.
     */
    @Test
    void createUnlinkStormsKeepEveryInodeWhole() throws Exception {
        int pairs = Integer.getInteger("ext4j.parallelPairs", 15000);
        Path img = tmp.resolve("s.img");
        Tools.mke2fs(img, null, "64M", "-t", "ext4", "-N", "16384");
        JbdJournal.Stats stats;
        try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults())) {
            long[] dir = new long[THREADS];
            for (int t = 0; t < THREADS; t++) dir[t] = v.mkdir(Ext4Vfs.ROOT, b("storm" + t), 0755, 022, ROOT).ino();
            List<ThrowingRunnable> bodies = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                long d = dir[t];
                bodies.add(() -> {
                    for (int i = 0; i < pairs; i++) {
                        byte[] nm = b("f" + (i % 50));
                        Entry e = v.create(d, nm, 0644, 022, ROOT);
                        assertEquals(e.ino(), v.lookup(d, nm).ino(), "created " + new String(nm));
                        assertEquals(1, v.getattr(e.ino()).nlink());
                        v.unlink(d, nm);
                        assertThrows(FsException.class, () -> v.lookup(d, nm), "unlinked " + new String(nm));
                        v.getattr(d);                                   // the directory's inode, whole
                    }
                });
            }
            runThreads(bodies);
            stats = ((JbdJournal) v.pathView().journalForTest()).handleStats();
            System.out.println("  " + THREADS + " threads x " + pairs + " pairs: " + stats);
        }
        assertTrue(stats.peakHandles() >= 2, "shared handles never overlapped (" + stats + ")");
        Tools.assertFsckClean(img);
    }

    /**
     * Shared handles undone while others run: four threads create files with long names (each
     * directory grows block by block) and unlink some on a filesystem whose free blocks run out,
     * so creates fail with ENOSPC after their inode was taken, counted and written (the undo of a
     * shared handle: its count deltas, its claim, its merged bits), while the others' handles
     * stop. Every create either worked or failed with ENOSPC and left nothing; at the end the
     * names equal the model and e2fsck -fn is clean (free counts, bitmaps, itable_unused).
     */
    @Test
    void sharedHandlesUndoneAtEnospcLeaveNoTrace() throws Exception {
        long seed = Seeds.seed("ParallelMetadataTest.enospc");
        // a lost bit shows in about one run in eight: several rounds (-Dext4j.enospcRounds=N)
        for (int round = 0; round < Integer.getInteger("ext4j.enospcRounds", 4); round++) enospcRound(seed + round, "full" + round + ".img");
    }

    private void enospcRound(long seed, String image) throws Exception {
        Path img = tmp.resolve(image);
        Tools.mke2fs(img, null, "4M", "-t", "ext4", "-b", "1024", "-N", "2048");
        long[] failed = new long[1];
        try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults())) {
            long[] dir = new long[THREADS];
            for (int t = 0; t < THREADS; t++) dir[t] = v.mkdir(Ext4Vfs.ROOT, b("full" + t), 0755, 022, ROOT).ino();
            OpenFile fill = v.open(v.create(Ext4Vfs.ROOT, b("fill"), 0644, 022, ROOT).ino(), Ext4Vfs.O_RDWR, ROOT);
            long free = v.statfs().freeBlocks();
            v.write(fill, 0, ByteBuffer.allocate((int) (free - 60) * 1024), ROOT);   // a few dozen blocks left for directories
            v.fsync(fill, false);
            v.release(fill);
            List<List<String>> made = new ArrayList<>();
            List<ThrowingRunnable> bodies = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int tt = t;
                List<String> mine = new ArrayList<>();
                made.add(mine);
                bodies.add(() -> {
                    Random r = new Random(seed * 31 + tt);
                    for (int i = 0; i < 1500; i++) {
                        if (!mine.isEmpty() && r.nextInt(4) == 0) {
                            v.unlink(dir[tt], b(mine.remove(r.nextInt(mine.size()))));
                            continue;
                        }
                        String nm = "t" + tt + "-" + i + "-" + "x".repeat(180 + r.nextInt(60));
                        try {
                            v.create(dir[tt], b(nm), 0644, 022, ROOT);
                            mine.add(nm);
                        } catch (FsException e) {
                            assertEquals(ext4j.base.Errno.ENOSPC, e.errno(), nm);
                            assertThrows(FsException.class, () -> v.lookup(dir[tt], b(nm)), "a failed create left its name");
                            synchronized (failed) { failed[0]++; }
                        }
                    }
                });
            }
            runThreads(bodies);
            for (int t = 0; t < THREADS; t++) {
                List<String> listed = new ArrayList<>();
                v.readdir(dir[t], 0, x -> { String n = x.nameString(); if (!n.equals(".") && !n.equals("..")) listed.add(n); return true; });
                Collections.sort(listed);
                List<String> want = new ArrayList<>(made.get(t));
                Collections.sort(want);
                assertEquals(want, listed, "seed=" + seed + ": thread " + t + "'s names");
            }
            System.out.println("  " + failed[0] + " creates failed with ENOSPC (undone) beside the others; "
                    + ((JbdJournal) v.pathView().journalForTest()).handleStats());
        }
        assertTrue(failed[0] > 0, "seed=" + seed + ": the filesystem never ran out of space");
        Tools.assertFsckClean(img);
    }

    /**
     * Power cuts of a parallel run: three threads, each in its own directory and the shared one,
     * with 1 ms timed commits and fsyncs; every cut recovered by ext4j is e2fsck -fn clean (free
     * counts written at each transaction's close included) and the tree can be walked and read.
     */
    @Test
    void powerCutsOfParallelChangesRecoverClean() throws Exception {
        long seed = Seeds.seed("ParallelMetadataTest.cuts");
        int cuts = Integer.getInteger("ext4j.cuts", 150);

        Path img = tmp.resolve("base.img");
        Tools.mke2fs(img, null, "32M", "-t", "ext4", "-b", "1024", "-N", "8192");
        RecordingBlockDevice dev = new RecordingBlockDevice(Files.readAllBytes(img), "recorded");
        int start, total;
        JbdJournal.Stats stats;
        try (Ext4Vfs v = Ext4Vfs.open(dev, Options.defaults().withCommitMillis(1))) {
            long shared = v.mkdir(Ext4Vfs.ROOT, b("shared"), 0755, 022, ROOT).ino();
            long[] own = new long[3];
            for (int t = 0; t < own.length; t++) own[t] = v.mkdir(Ext4Vfs.ROOT, b("own" + t), 0755, 022, ROOT).ino();
            v.sync();
            start = dev.opCount();
            List<ThrowingRunnable> bodies = new ArrayList<>();
            for (int t = 0; t < own.length; t++) {
                int tt = t;
                bodies.add(() -> work(v, tt, new Random(seed * 31 + tt), 250, own[tt], shared, new Model(), true));
            }
            runThreads(bodies);
            stats = ((JbdJournal) v.pathView().journalForTest()).handleStats();
        }
        total = dev.opCount();
        System.out.println("  " + stats + "; " + (total - start) + " device operations");
        Random rnd = new Random(seed);
        List<Integer> points = new ArrayList<>();
        for (int n = start; n <= total; n++) points.add(n);
        Collections.shuffle(points, rnd);
        points = new ArrayList<>(points.subList(0, cuts <= 0 ? points.size() : Math.min(cuts, points.size())));
        points.sort(null);
        CutMode[] modes = CutMode.values();
        Path cut = tmp.resolve("cut.img");
        for (int n : points) {
            CutMode mode = modes[rnd.nextInt(modes.length)];
            String where = ext4j.testutil.PowerCuts.recoverClean(dev, n, total, mode, seed, cut);
            try (Ext4Vfs r = Ext4Vfs.open(cut, Options.defaults().withReadOnly(true))) {
                walk(r, Ext4Vfs.ROOT, 0);
            }
        }
        System.out.println("  " + points.size() + " cuts recovered e2fsck-clean");
    }

    /** Reads every file and symlink under dir (a recovered tree must be whole). */
    private static void walk(Ext4Vfs v, long dir, int depth) throws Exception {
        assertTrue(depth < 8);
        List<Dirent> all = new ArrayList<>();
        v.readdir(dir, 0, all::add);
        for (Dirent d : all) {
            String n = d.nameString();
            if (n.equals(".") || n.equals("..")) continue;
            Attr a = v.getattr(d.ino());
            if ((a.mode() & Attr.S_IFMT) == Attr.S_IFDIR) walk(v, d.ino(), depth + 1);
            else if ((a.mode() & Attr.S_IFMT) == Attr.S_IFLNK) v.readlink(d.ino());
            else if ((a.mode() & Attr.S_IFMT) == Attr.S_IFREG) {
                OpenFile f = v.open(d.ino(), Ext4Vfs.O_RDONLY, ROOT);
                ByteBuffer buf = ByteBuffer.allocate((int) a.size());
                while (buf.hasRemaining() && v.read(f, buf.position(), buf) > 0) { }
                v.release(f);
            }
        }
    }
}
