package ext4j.journal;

import ext4j.testutil.Seeds;
import ext4j.block.RecordingBlockDevice;
import ext4j.block.RecordingBlockDevice.CutMode;
import ext4j.fs.Attr;
import ext4j.fs.Caller;
import ext4j.fs.Dirent;
import ext4j.fs.Entry;
import ext4j.base.Errno;
import ext4j.fs.Ext4FileSystem;
import ext4j.fs.Ext4Vfs;
import ext4j.base.FsException;
import ext4j.fs.OpenFile;
import ext4j.fs.Options;
import ext4j.fs.SetAttr;
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
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The power-cut harness on the core API: four threads on one {@link Ext4Vfs} over a recording
 * device, 1 ms timed commits beside their fsyncs. Each thread runs a seeded random mix in its own
 * directory, in a directory all threads share and in subdirectories of both: create (by inode
 * and byte name), open, pwrite at random offsets, truncate, fsync and fdatasync, rename within and
 * across directories (plain, RENAME_NOREPLACE, RENAME_EXCHANGE; files and directories, over files
 * and empty directories), unlink, mkdir, rmdir, lookup, release. A model of every directory (one
 * lock each, held across the call so the model's order is the filesystem's) predicts each
 * answer, errno included.
 *
 * <p>Every fsync that returned is recorded with the device operation count at that moment and the
 * file's bytes then. After the workload, power is cut at sampled device operations (every mode of
 * {@link CutMode}); each cut image is recovered by ext4j and must be e2fsck -fn clean with no
 * hint. Then every file whose last fsync before the cut returned, whose inode was linked then, and
 * whose data was not written, truncated or unlinked by an operation that started before the cut
 * and did not finish before that fsync began, must be linked exactly once in the recovered tree,
 * with the generation, size and bytes of that fsync (read by inode number); if no rename touched it
 * either and it was a full fsync, under the very directory entry it had then.
 *
 * <p>Every other seed runs on an orphan_file image (-Dext4j.orphanFile=true|false fixes it).
 * -Dext4j.seed=N fixes the seeds (threads' and cuts'; the interleaving is the scheduler's),
 * -Dext4j.cuts=N the number of cut points (default 250; 0 = every device operation),
 * -Dext4j.coreCutOps=N the operations per thread (default 200).
 */
class CoreConcurrentPowerCutTest {
    @TempDir Path tmp;

    private static final Caller ROOT = Caller.ROOT;
    private static final int THREADS = 4;

    private static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    // ---- the model ----

    /** Where a node is: its directory and name there (one immutable value, so it is read whole). */
    private record Place(Dir dir, String name) {}

    private abstract static sealed class Node permits Dir, FileState {
        /** Changed only under the lock of the directory it leaves and the one it enters. */
        volatile Place at;
    }

    private static final class Dir extends Node {
        final long ino;
        final String label;
        final ReentrantLock lock = new ReentrantLock();
        /** Name -> node; changed under lock (concurrent only so lock sets may be computed before locking). */
        final Map<String, Node> entries = new ConcurrentHashMap<>();
        /** Guarded by lock. */
        boolean removed;

        Dir(long ino, String label) { this.ino = ino; this.label = label; }
        @Override public String toString() { return label + "(ino " + ino + ")"; }
    }

    private enum Kind { DATA, RENAME, UNLINK }

    /** A change to a file: what, the device operations issued when it began, and the clock when it ended. */
    private record Change(Kind kind, int devStart, long seqEnd, String what) {}

    /**
     * A returned fsync: the clock when it began, device operations before and after, the bytes it
     * made durable, whether it was fdatasync, and the file's place and link state when it began.
     */
    private record Synced(long seqStart, int devStart, int devEnd, byte[] data, boolean dataOnly, long dirIno, String name, boolean linked) {}

    private static final class FileState extends Node {
        final long ino, generation;
        final String label;
        /** False once unlinked or replaced by a rename; set under its directory's lock. */
        volatile boolean linked = true;
        /** The owner thread's alone: the owner is the only writer. */
        byte[] data = new byte[0];
        OpenFile handle;
        private final List<Change> changes = new ArrayList<>();
        private final List<Synced> syncs = new ArrayList<>();

        FileState(long ino, long generation, String label) { this.ino = ino; this.generation = generation; this.label = label; }

        synchronized void changed(Kind k, int devStart, long seqEnd, String what) { changes.add(new Change(k, devStart, seqEnd, what)); }
        synchronized void synced(Synced s) { syncs.add(s); }
        synchronized List<Change> changes() { return new ArrayList<>(changes); }
        synchronized List<Synced> syncs() { return new ArrayList<>(syncs); }
        @Override public String toString() { return label + "(ino " + ino + ")"; }
    }

    private RecordingBlockDevice dev;
    private Ext4Vfs v;
    private Dir shared;
    private Dir[] own;
    /** Orders changes against fsyncs: a change whose end stamp is below an fsync's start stamp happened before it. */
    private final AtomicLong clock = new AtomicLong();
    private final List<Dir> subdirs = new CopyOnWriteArrayList<>();
    private final List<FileState> allFiles = new CopyOnWriteArrayList<>();
    private final AtomicInteger fileIds = new AtomicInteger(), dirIds = new AtomicInteger();
    private final AtomicInteger opsDone = new AtomicInteger(), fsyncs = new AtomicInteger(), fdatasyncs = new AtomicInteger(),
            renames = new AtomicInteger(), exchanges = new AtomicInteger(), unlinks = new AtomicInteger(), expectedErrors = new AtomicInteger();
    private final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();

    private void change(FileState f, Kind k, int devStart, String what) { f.changed(k, devStart, clock.incrementAndGet(), what); }

    interface Body<T> { T run() throws Exception; }

    /**
     * Locks the directories need names (in inode order), and runs body once need names the same
     * set under those locks (else unlocks and retries: a rename moved something meanwhile).
     */
    private static <T> T locked(Supplier<Set<Dir>> need, Body<T> body) throws Exception {
        while (true) {
            Set<Dir> want = need.get();
            List<Dir> order = new ArrayList<>(want);
            order.sort(Comparator.comparingLong(d -> d.ino));
            for (Dir d : order) d.lock.lock();
            try {
                if (need.get().equals(want)) return body.run();
            } finally {
                for (int i = order.size() - 1; i >= 0; i--) order.get(i).lock.unlock();
            }
        }
    }

    private static Set<Dir> set(Dir... ds) {
        Set<Dir> s = new HashSet<>();
        for (Dir d : ds) if (d != null) s.add(d);
        return s;
    }

    private void expect(Errno want, Body<?> op, String what) throws Exception {
        try {
            op.run();
        } catch (FsException e) {
            if (e.errno() == want) { expectedErrors.incrementAndGet(); return; }
            throw new AssertionError(what + ": expected " + want + ", got " + e, e);
        }
        throw new AssertionError(what + ": expected " + want + ", but it succeeded");
    }

    // ---- the test ----

    @Test
    void fsyncedFilesSurviveCutsDuringConcurrentCoreApiWork() throws Exception {
        long seed = Seeds.seed("CoreConcurrentPowerCutTest");
        int cuts = Integer.getInteger("ext4j.cuts", 250);
        int ops = Integer.getInteger("ext4j.coreCutOps", 200);
        long t0 = System.nanoTime();
        Random rnd = new Random(seed);
        String blockSize = rnd.nextBoolean() ? "1024" : "4096";
        // every other seed on an orphan_file image (orphans in the orphan file, Linux 5.15's way); -Dext4j.orphanFile=true|false fixes it
        boolean orphanFile = Boolean.parseBoolean(System.getProperty("ext4j.orphanFile", String.valueOf((seed & 1) == 0)));
        System.out.println("  block size " + blockSize + (orphanFile ? ", orphan_file" : ", no orphan_file"));
        Path img = tmp.resolve("base.img");
        Tools.mke2fs(img, null, "32M", "-t", "ext4", "-b", blockSize, "-O", orphanFile ? "orphan_file" : "^orphan_file");
        dev = new RecordingBlockDevice(Files.readAllBytes(img), "recorded");
        int start;
        try (Ext4Vfs vfs = Ext4Vfs.open(dev, Options.defaults().withCommitMillis(1))) {
            v = vfs;
            start = dev.opCount();
            shared = new Dir(v.mkdir(Ext4Vfs.ROOT, b("shared"), 0755, 0, ROOT).ino(), "shared");
            own = new Dir[THREADS];
            for (int t = 0; t < THREADS; t++) own[t] = new Dir(v.mkdir(Ext4Vfs.ROOT, b("t" + t), 0755, 0, ROOT).ino(), "t" + t);
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int id = t;
                Thread th = new Thread(() -> {
                    try {
                        go.await();
                        worker(id, new Random(seed * 31 + id), ops);
                    } catch (Throwable e) {
                        failures.add(e);
                    }
                }, "core-powercut-" + t);
                th.start();
                ts.add(th);
            }
            go.countDown();
            for (Thread th : ts) th.join();
            if (!failures.isEmpty()) {
                AssertionError e = new AssertionError("seed=" + seed + ": " + failures.size() + " worker(s) failed during the workload; first: " + failures.peek(), failures.peek());
                for (Throwable f : failures) if (f != failures.peek()) e.addSuppressed(f);
                throw e;
            }
        }
        int total = dev.opCount();
        long workMs = (System.nanoTime() - t0) / 1_000_000;
        System.out.println("  block size " + blockSize + ", " + THREADS + " threads, " + opsDone.get() + " operations (" + fsyncs.get() + " fsyncs, "
                + fdatasyncs.get() + " fdatasyncs, " + renames.get() + " renames of which " + exchanges.get() + " exchanges, " + unlinks.get() + " unlinks, "
                + expectedErrors.get() + " expected errors), " + allFiles.size() + " files, " + (total - start) + " device operations, in " + workMs + " ms");

        List<Integer> points = ConcurrentPowerCutTest.sampleCuts(start, total, cuts, rnd);
        CutMode[] modes = CutMode.values();
        Path cut = tmp.resolve("cut.img");
        List<String> failed = new ArrayList<>();
        int checked = 0, byName = 0, skipped = 0, unlinkedSkips = 0, cutsChecked = 0;
        for (int n : points) {
            CutMode mode = modes[rnd.nextInt(modes.length)];
            byte[] state = dev.stateAt(n, mode, new Random(seed ^ n));
            Files.write(cut, state);
            String where = "seed=" + seed + " cut after device op " + n + " of " + total + " (" + mode + ")";
            List<String> problems = new ArrayList<>();
            try {
                Ext4FileSystem.recover(cut);
                try {
                    Tools.assertFsckClean(cut);
                } catch (AssertionError e) {
                    problems.add("e2fsck after ext4j's recovery: " + e.getMessage());
                }
                int[] counts = checkCut(cut, n, problems);
                checked += counts[0];
                byName += counts[1];
                skipped += counts[2];
                unlinkedSkips += counts[3];
            } catch (Exception | AssertionError e) {
                problems.add("recovery or reading failed: " + e);
            }
            cutsChecked++;
            if (!problems.isEmpty()) {
                Path keep = Path.of("/tmp/corepowercut-" + seed + "-" + n + ".img");
                Files.write(keep, state);
                failed.add(where + " (image before recovery kept at " + keep + "):\n  " + String.join("\n  ", problems));
                if (failed.size() >= 5) break;
            }
        }
        long ms = (System.nanoTime() - t0) / 1_000_000;
        if (!failed.isEmpty())
            fail(failed.size() + " of " + cutsChecked + " cut points checked failed:\n" + String.join("\n", failed));
        System.out.println("CoreConcurrentPowerCutTest: " + THREADS + " threads, " + (fsyncs.get() + fdatasyncs.get()) + " fsyncs recorded, " + total
                + " device operations, " + points.size() + " cut points recovered e2fsck-clean; " + checked + " fsynced-file checks passed (" + byName
                + " also by their directory entry), " + skipped + " skipped as changed after their last fsync before the cut, " + unlinkedSkips
                + " as unlinked when synced; " + ms + " ms");
    }

    /** Checks the recovered image against every fsync that returned by device op n; returns {checked, by name too, skipped as changed since, skipped as unlinked when synced}. */
    private int[] checkCut(Path image, int n, List<String> problems) throws Exception {
        int checked = 0, byName = 0, skipped = 0, unlinked = 0;
        try (Ext4Vfs r = Ext4Vfs.open(image, Options.defaults().withReadOnly(true))) {
            Map<Long, List<String>> names = new HashMap<>();
            walk(r, Ext4Vfs.ROOT, "", names, 0);
            for (FileState f : allFiles) {
                Synced s = null;
                for (Synced x : f.syncs()) if (x.devEnd() <= n) s = x;
                if (s == null) continue;
                if (!s.linked()) { unlinked++; continue; }
                boolean renamed = false, invalid = false;
                for (Change c : f.changes()) {
                    if (c.seqEnd() < s.seqStart() || c.devStart() >= n) continue;   // finished before the fsync, or began after the cut
                    if (c.kind() == Kind.RENAME) renamed = true;
                    else invalid = true;
                }
                if (invalid) { skipped++; continue; }
                String what = f + ", " + (s.dataOnly() ? "fdatasync" : "fsync") + " of " + s.data().length + " bytes returned at device op " + s.devEnd()
                        + " (began at " + s.devStart() + ")" + (renamed ? ", renamed since" : "");
                List<String> at = names.getOrDefault(f.ino, List.of());
                if (at.size() != 1) {
                    problems.add(what + ": linked " + at.size() + " times in the recovered tree " + at + "; changes: " + f.changes());
                    continue;
                }
                Attr a;
                try {
                    a = r.getattr(f.ino);
                } catch (FsException e) {
                    problems.add(what + ": getattr: " + e);
                    continue;
                }
                if (!a.isRegular() || a.generation() != f.generation || a.size() != s.data().length) {
                    problems.add(what + ": recovered as mode 0" + Integer.toOctalString(a.mode()) + " generation " + a.generation() + " (want " + f.generation
                            + ") size " + a.size() + " (want " + s.data().length + ") at " + at);
                    continue;
                }
                byte[] got = new byte[(int) a.size()];
                OpenFile h = r.open(f.ino, Ext4Vfs.O_RDONLY, ROOT);
                try {
                    ByteBuffer buf = ByteBuffer.wrap(got);
                    while (buf.hasRemaining() && r.read(h, buf.position(), buf) > 0) { }
                } finally {
                    r.release(h);
                }
                if (!Arrays.equals(s.data(), got)) {
                    int i = Arrays.mismatch(s.data(), got);
                    problems.add(what + ": bytes differ from offset " + i + " (at " + at + ")");
                    continue;
                }
                if (!renamed && !s.dataOnly()) {          // a full fsync made its directory entry durable too
                    Entry e = null;
                    try { e = r.lookup(s.dirIno(), b(s.name())); } catch (FsException x) { /* reported below */ }
                    if (e == null || e.ino() != f.ino) {
                        problems.add(what + ": its entry " + s.name() + " in directory inode " + s.dirIno() + " is " + (e == null ? "missing" : "inode " + e.ino())
                                + "; the file is at " + at);
                        continue;
                    }
                    byName++;
                }
                checked++;
            }
        }
        return new int[] {checked, byName, skipped, unlinked};
    }

    private static void walk(Ext4Vfs r, long dir, String path, Map<Long, List<String>> names, int depth) throws Exception {
        if (depth > 8) throw new AssertionError("directories nested too deep at " + path);
        List<Dirent> list = new ArrayList<>();
        r.readdir(dir, 0, list::add);
        for (Dirent e : list) {
            String name = e.nameString();
            if (name.equals(".") || name.equals("..")) continue;
            String p = path + "/" + name;
            if (e.type() == Dirent.DT_DIR) walk(r, e.ino(), p, names, depth + 1);
            else names.computeIfAbsent(e.ino(), k -> new ArrayList<>()).add(p);
        }
    }

    // ---- the workload ----

    private Dir pickDir(int t, Random r) {
        int k = r.nextInt(10);
        if (k < 4) return own[t];
        List<Dir> s = List.copyOf(subdirs);
        if (k < 7 || s.isEmpty()) return shared;
        return s.get(r.nextInt(s.size()));
    }

    /** Mostly a file name d holds now (read without its lock: only a choice), else a random one. */
    private static String pickFileName(Dir d, Random r) {
        if (r.nextInt(8) != 0) {
            List<String> files = new ArrayList<>();
            for (var e : d.entries.entrySet()) if (e.getValue() instanceof FileState) files.add(e.getKey());
            if (!files.isEmpty()) {
                files.sort(null);
                return files.get(r.nextInt(files.size()));
            }
        }
        return "f" + r.nextInt(20);
    }

    private static FileState pick(List<FileState> mine, Random r, boolean open) {
        List<FileState> c = new ArrayList<>();
        for (FileState f : mine) if ((f.handle != null) == open) c.add(f);
        return c.isEmpty() ? null : c.get(r.nextInt(c.size()));
    }

    private void worker(int t, Random r, int ops) throws Exception {
        List<FileState> mine = new ArrayList<>();
        for (int i = 0; i < ops; i++) {
            String at = "thread " + t + " op " + i;
            int k = r.nextInt(100);
            try {
                if (k < 14) create(t, r, mine, at);
                else if (k < 21) openFile(pick(mine, r, false), mine, at);
                else if (k < 40) {
                    FileState f = pick(mine, r, true);
                    write(f, r, at);
                    if (r.nextInt(3) == 0) fsync(f, r.nextInt(3) == 0, at);   // write-then-fsync, as applications do
                }
                else if (k < 43) truncate(pick(mine, r, true), r, at);
                else if (k < 56) fsync(pick(mine, r, true), r.nextInt(3) == 0, at);
                else if (k < 62) release(pick(mine, r, true), mine);
                else if (k < 75) renameFile(t, r, at);
                else if (k < 82) unlink(t, r, at);
                else if (k < 87) mkdir(t, r, at);
                else if (k < 91) rmdir(r, at);
                else if (k < 95) renameDir(t, r, at);
                else if (k < 97) syncDir(t, r);
                else lookup(t, r, at);
            } catch (Throwable e) {
                throw new AssertionError(at + ": " + e, e);
            }
            opsDone.incrementAndGet();
        }
        for (FileState f : mine) if (f.handle != null) release(f, new ArrayList<>());
    }

    private void create(int t, Random r, List<FileState> mine, String at) throws Exception {
        Dir d = pickDir(t, r);
        String name = "f" + r.nextInt(20);
        boolean open = r.nextInt(4) != 0;
        locked(() -> set(d), () -> {
            if (d.removed) return null;
            if (d.entries.containsKey(name)) {
                expect(Errno.EEXIST, () -> v.create(d.ino, b(name), 0644, 0, ROOT), at + ": create " + d + "/" + name);
                return null;
            }
            Entry e = v.create(d.ino, b(name), 0644, 0, ROOT);
            FileState f = new FileState(e.ino(), e.generation(), "t" + t + "#" + fileIds.incrementAndGet());
            f.at = new Place(d, name);
            d.entries.put(name, f);
            mine.add(f);
            allFiles.add(f);
            if (open) f.handle = v.open(f.ino, Ext4Vfs.O_RDWR, ROOT);   // linked while d is locked
            return null;
        });
    }

    /** Opens a file of this thread by inode, while its directory is locked so it cannot be unlinked (and its number reused) meanwhile. */
    private void openFile(FileState f, List<FileState> mine, String at) throws Exception {
        if (f == null) return;
        locked(() -> f.linked ? set(f.at.dir()) : set(), () -> {
            if (!f.linked) { mine.remove(f); return null; }       // unlinked by some thread and not open: gone
            f.handle = v.open(f.ino, Ext4Vfs.O_RDWR, ROOT);
            return null;
        });
    }

    private void release(FileState f, List<FileState> mine) throws Exception {
        if (f == null) return;
        v.release(f.handle);
        f.handle = null;
        if (!f.linked) mine.remove(f);
    }

    private void write(FileState f, Random r, String at) throws Exception {
        if (f == null) return;
        int len = 1 + (r.nextBoolean() ? r.nextInt(600) : r.nextInt(24_000));
        int off = f.data.length > 160_000 ? r.nextInt(f.data.length) : r.nextInt(f.data.length + 8192);
        byte[] w = new byte[len];
        r.nextBytes(w);
        int devStart = dev.opCount();
        int n = v.write(f.handle, off, ByteBuffer.wrap(w), ROOT);
        assertEquals(len, n, at + ": write count");
        byte[] now = Arrays.copyOf(f.data, Math.max(f.data.length, off + len));
        System.arraycopy(w, 0, now, off, len);
        f.data = now;
        change(f, Kind.DATA, devStart, "write " + off + "+" + len);
    }

    private void truncate(FileState f, Random r, String at) throws Exception {
        if (f == null) return;
        int size = r.nextInt(f.data.length + 4096);
        int devStart = dev.opCount();
        v.setattr(f.ino, SetAttr.NONE.size(size), ROOT);              // the open handle keeps the inode ours
        f.data = Arrays.copyOf(f.data, size);
        change(f, Kind.DATA, devStart, "truncate " + size);
    }

    private void fsync(FileState f, boolean dataOnly, String at) throws Exception {
        if (f == null) return;
        long seq = clock.incrementAndGet();
        Place p = f.at;
        boolean linked = f.linked;
        int devStart = dev.opCount();
        v.fsync(f.handle, dataOnly);
        int devEnd = dev.opCount();
        f.synced(new Synced(seq, devStart, devEnd, f.data.clone(), dataOnly, p.dir().ino, p.name(), linked));
        (dataOnly ? fdatasyncs : fsyncs).incrementAndGet();
    }

    private void syncDir(int t, Random r) throws Exception {
        Dir d = r.nextBoolean() ? own[t] : shared;
        OpenFile h = v.open(d.ino, Ext4Vfs.O_RDONLY, ROOT);
        try { v.fsync(h, false); } finally { v.release(h); }
    }

    private void renameFile(int t, Random r, String at) throws Exception {
        Dir d1 = pickDir(t, r), d2 = r.nextInt(3) == 0 ? d1 : pickDir(t, r);
        int flags = r.nextInt(5) == 0 ? Ext4Vfs.RENAME_NOREPLACE : r.nextInt(3) == 0 ? Ext4Vfs.RENAME_EXCHANGE : 0;
        String name = pickFileName(d1, r), to = flags == Ext4Vfs.RENAME_EXCHANGE || r.nextInt(3) == 0 ? pickFileName(d2, r) : "f" + r.nextInt(20);
        if (d1 == d2 && name.equals(to)) return;
        String what = at + ": rename " + d1 + "/" + name + " -> " + d2 + "/" + to + " flags " + flags;
        locked(() -> set(d1, d2), () -> {
            if (d1.removed || d2.removed) return null;
            Node src = d1.entries.get(name), dst = d2.entries.get(to);
            if (src instanceof Dir) return null;                                   // directories move in renameDir
            if (flags == Ext4Vfs.RENAME_EXCHANGE && dst instanceof Dir) return null; // would nest directories deeper
            Errno want = src == null ? Errno.ENOENT
                    : flags == Ext4Vfs.RENAME_EXCHANGE ? (dst == null ? Errno.ENOENT : null)
                    : dst == null ? null
                    : flags == Ext4Vfs.RENAME_NOREPLACE ? Errno.EEXIST
                    : dst instanceof Dir ? Errno.EISDIR : null;
            if (want != null) {
                expect(want, () -> { v.rename(d1.ino, b(name), d2.ino, b(to), flags); return null; }, what);
                return null;
            }
            int devStart = dev.opCount();
            v.rename(d1.ino, b(name), d2.ino, b(to), flags);
            FileState s = (FileState) src;
            if (flags == Ext4Vfs.RENAME_EXCHANGE) {
                FileState o = (FileState) dst;
                d1.entries.put(name, o);
                d2.entries.put(to, s);
                o.at = new Place(d1, name);
                s.at = new Place(d2, to);
                change(o, Kind.RENAME, devStart, "exchanged with " + s + " into " + d1 + "/" + name);
                exchanges.incrementAndGet();
            } else {
                d1.entries.remove(name);
                d2.entries.put(to, s);
                s.at = new Place(d2, to);
                if (dst instanceof FileState victim) {
                    victim.linked = false;
                    change(victim, Kind.UNLINK, devStart, "replaced by " + s + " renamed over " + d2 + "/" + to);
                }
            }
            change(s, Kind.RENAME, devStart, (flags == Ext4Vfs.RENAME_EXCHANGE ? "exchanged into " : "renamed to ") + d2 + "/" + to);
            renames.incrementAndGet();
            return null;
        });
    }

    private void unlink(int t, Random r, String at) throws Exception {
        Dir d = pickDir(t, r);
        String name = r.nextInt(10) == 0 ? "d" + r.nextInt(6) : pickFileName(d, r);
        String what = at + ": unlink " + d + "/" + name;
        locked(() -> set(d), () -> {
            if (d.removed) return null;
            Node there = d.entries.get(name);
            if (!(there instanceof FileState f)) {
                expect(there == null ? Errno.ENOENT : Errno.EISDIR, () -> { v.unlink(d.ino, b(name)); return null; }, what);
                return null;
            }
            int devStart = dev.opCount();
            v.unlink(d.ino, b(name));
            d.entries.remove(name);
            f.linked = false;
            change(f, Kind.UNLINK, devStart, "unlinked from " + d + "/" + name);
            unlinks.incrementAndGet();
            return null;
        });
    }

    private void mkdir(int t, Random r, String at) throws Exception {
        Dir parent = r.nextBoolean() ? own[t] : shared;
        String name = "d" + r.nextInt(6);
        locked(() -> set(parent), () -> {
            if (parent.entries.containsKey(name)) {
                expect(Errno.EEXIST, () -> v.mkdir(parent.ino, b(name), 0755, 0, ROOT), at + ": mkdir " + parent + "/" + name);
                return null;
            }
            Entry e = v.mkdir(parent.ino, b(name), 0755, 0, ROOT);
            Dir d = new Dir(e.ino(), "dir#" + dirIds.incrementAndGet());
            d.at = new Place(parent, name);
            parent.entries.put(name, d);
            subdirs.add(d);
            return null;
        });
    }

    private void rmdir(Random r, String at) throws Exception {
        List<Dir> s = List.copyOf(subdirs);
        if (s.isEmpty()) return;
        Dir d = s.get(r.nextInt(s.size()));
        locked(() -> set(d, d.at.dir()), () -> {
            if (d.removed) return null;
            Place p = d.at;
            String what = at + ": rmdir " + p.dir() + "/" + p.name();
            if (!d.entries.isEmpty()) {
                expect(Errno.ENOTEMPTY, () -> { v.rmdir(p.dir().ino, b(p.name())); return null; }, what);
                return null;
            }
            v.rmdir(p.dir().ino, b(p.name()));
            p.dir().entries.remove(p.name());
            d.removed = true;
            subdirs.remove(d);
            return null;
        });
    }

    /** Moves a subdirectory (all are one level below a thread's or the shared directory) to one of those, perhaps over or exchanged with what is there. */
    private void renameDir(int t, Random r, String at) throws Exception {
        List<Dir> s = List.copyOf(subdirs);
        if (s.isEmpty()) return;
        Dir d = s.get(r.nextInt(s.size()));
        Dir to = r.nextBoolean() ? own[t] : shared;
        String name = r.nextInt(4) == 0 ? pickFileName(to, r) : "d" + r.nextInt(6);
        int flags = r.nextInt(4) == 0 ? Ext4Vfs.RENAME_NOREPLACE : r.nextInt(3) == 0 ? Ext4Vfs.RENAME_EXCHANGE : 0;
        locked(() -> set(d.at.dir(), to, to.entries.get(name) instanceof Dir x ? x : null), () -> {
            if (d.removed) return null;
            Place p = d.at;
            Node dst = to.entries.get(name);
            if (dst == d) return null;
            String what = at + ": rename directory " + p.dir() + "/" + p.name() + " -> " + to + "/" + name + " flags " + flags;
            Errno want = flags == Ext4Vfs.RENAME_EXCHANGE ? (dst == null ? Errno.ENOENT : null)
                    : dst == null ? null
                    : flags == Ext4Vfs.RENAME_NOREPLACE ? Errno.EEXIST
                    : dst instanceof FileState ? Errno.ENOTDIR
                    : !((Dir) dst).entries.isEmpty() ? Errno.ENOTEMPTY : null;
            if (want != null) {
                expect(want, () -> { v.rename(p.dir().ino, b(p.name()), to.ino, b(name), flags); return null; }, what);
                return null;
            }
            int devStart = dev.opCount();
            v.rename(p.dir().ino, b(p.name()), to.ino, b(name), flags);
            renames.incrementAndGet();
            if (flags == Ext4Vfs.RENAME_EXCHANGE) {
                p.dir().entries.put(p.name(), dst);
                to.entries.put(name, d);
                dst.at = new Place(p.dir(), p.name());
                d.at = new Place(to, name);
                if (dst instanceof FileState f) change(f, Kind.RENAME, devStart, "exchanged with directory " + d + " into " + p.dir() + "/" + p.name());
                exchanges.incrementAndGet();
                return null;
            }
            p.dir().entries.remove(p.name());
            to.entries.put(name, d);
            d.at = new Place(to, name);
            if (dst instanceof Dir victim) {                                       // an empty directory replaced
                victim.removed = true;
                subdirs.remove(victim);
            }
            return null;
        });
    }

    /** lookup by byte name must agree with the model. */
    private void lookup(int t, Random r, String at) throws Exception {
        Dir d = pickDir(t, r);
        String name = r.nextBoolean() ? pickFileName(d, r) : "d" + r.nextInt(6);
        locked(() -> set(d), () -> {
            if (d.removed) return null;
            Node there = d.entries.get(name);
            String what = at + ": lookup " + d + "/" + name;
            if (there == null) { expect(Errno.ENOENT, () -> v.lookup(d.ino, b(name)), what); return null; }
            long want = there instanceof FileState f ? f.ino : ((Dir) there).ino;
            assertEquals(want, v.lookup(d.ino, b(name)).ino(), what);
            return null;
        });
    }
}
