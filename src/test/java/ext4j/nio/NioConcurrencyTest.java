package ext4j.nio;

import ext4j.testutil.Seeds;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Four threads share one ImageFileSystem: each creates, writes (whole files, positional
 * overwrites, appends), reads, truncates, renames (within its directory, into and out of a shared
 * one, into subdirectories), deletes and lists, against its own model; all of them also write
 * their own region of one shared file through their own channels, and read a shared read-only
 * file. Then the file system is closed, e2fsck must find the image clean, and after reopening
 * every thread's files must be as its model says. Seed printed; -Dext4j.seed=N reruns the
 * same per-thread choices (the interleaving is the scheduler's).
 */
class NioConcurrencyTest {
    @TempDir Path tmp;

    static final int THREADS = 4;
    static final int OPS = Integer.getInteger("ext4j.nioConcurrencyOps", 4000);
    static final int REGION = 64 << 10;
    static final String SHARED = "/shared", COMMON = "/shared-common", READONLY = "/shared-readonly";

    /** One thread's work and its model: relative path (under / of the image) to bytes. */
    static final class Worker implements Runnable {
        final int id;
        final FileSystem fs;
        final Random rnd;
        final CyclicBarrier start;
        final byte[] readOnly;
        final Map<String, byte[]> files = new TreeMap<>();
        final TreeSet<String> dirs = new TreeSet<>();
        final byte[] region = new byte[REGION];
        final Deque<String> recent = new ArrayDeque<>();
        int op, serial;
        Throwable failure;

        Worker(int id, FileSystem fs, long seed, CyclicBarrier start, byte[] readOnly) {
            this.id = id;
            this.fs = fs;
            this.rnd = new Random(seed);
            this.start = start;
            this.readOnly = readOnly;
        }

        String own() { return "/t" + id; }

        /** A directory this thread may put files in: its own, one of its subdirectories, or the shared one. */
        String someDir() {
            int r = rnd.nextInt(10);
            if (r < 3) return SHARED;
            if (r < 5 && !dirs.isEmpty()) return new ArrayList<>(dirs).get(rnd.nextInt(dirs.size()));
            return own();
        }

        String newName(String dir) { return dir + "/t" + id + "-" + serial++; }

        String someFile() {
            if (files.isEmpty()) return null;
            List<String> l = new ArrayList<>(files.keySet());
            return l.get(rnd.nextInt(l.size()));
        }

        byte[] data(int max) { byte[] b = new byte[rnd.nextInt(max + 1)]; rnd.nextBytes(b); return b; }

        void log(String s) {
            recent.addLast(op + ": " + s);
            if (recent.size() > 30) recent.removeFirst();
        }

        void check(boolean ok, String what) { if (!ok) throw new AssertionError("thread " + id + ", op " + op + ": " + what + "\nrecent:\n" + String.join("\n", recent)); }

        @Override public void run() {
            try {
                start.await(30, TimeUnit.SECONDS);
                try (FileChannel common = FileChannel.open(fs.getPath(COMMON), READ, WRITE)) {
                    for (op = 0; op < OPS; op++) step(common);
                }
            } catch (Throwable t) {
                failure = t;
            }
        }

        void step(FileChannel common) throws Exception {
            int k = rnd.nextInt(100);
            if (k < 15) {                                                       // create a file
                String p = newName(someDir());
                byte[] b = data(rnd.nextInt(10) == 0 ? 200_000 : 8000);
                log("create " + p + " " + b.length);
                Files.write(fs.getPath(p), b, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                files.put(p, b);
            } else if (k < 27) {                                                // read and compare
                String p = someFile();
                if (p == null) return;
                log("read " + p);
                check(Arrays.equals(files.get(p), Files.readAllBytes(fs.getPath(p))), p + " differs from the model");
            } else if (k < 37) {                                                // positional overwrite through a channel
                String p = someFile();
                if (p == null) return;
                byte[] old = files.get(p), b = data(4000);
                int pos = rnd.nextInt(old.length + 100);
                log("pwrite " + p + " " + b.length + " at " + pos);
                try (FileChannel ch = FileChannel.open(fs.getPath(p), WRITE)) {
                    int n = ch.write(ByteBuffer.wrap(b), pos);
                    check(n == b.length, "short write");
                    if (rnd.nextInt(4) == 0) ch.force(rnd.nextBoolean());
                }
                byte[] now = Arrays.copyOf(old, Math.max(old.length, pos + b.length));
                System.arraycopy(b, 0, now, pos, b.length);
                files.put(p, now);
            } else if (k < 42) {                                                // append
                String p = someFile();
                if (p == null) return;
                byte[] b = data(3000);
                log("append " + p + " " + b.length);
                Files.write(fs.getPath(p), b, StandardOpenOption.APPEND);
                byte[] old = files.get(p), now = Arrays.copyOf(old, old.length + b.length);
                System.arraycopy(b, 0, now, old.length, b.length);
                files.put(p, now);
            } else if (k < 46) {                                                // truncate
                String p = someFile();
                if (p == null) return;
                byte[] old = files.get(p);
                int n = rnd.nextInt(old.length + 1);
                log("truncate " + p + " to " + n);
                try (FileChannel ch = FileChannel.open(fs.getPath(p), WRITE)) { ch.truncate(n); }
                files.put(p, Arrays.copyOf(old, n));
            } else if (k < 58) {                                                // rename, maybe to another directory
                String p = someFile();
                if (p == null) return;
                String q = newName(someDir());
                log("move " + p + " -> " + q);
                Files.move(fs.getPath(p), fs.getPath(q), rnd.nextBoolean() ? new java.nio.file.CopyOption[] {java.nio.file.StandardCopyOption.ATOMIC_MOVE} : new java.nio.file.CopyOption[0]);
                files.put(q, files.remove(p));
            } else if (k < 62) {                                                // rename onto another own file
                String p = someFile(), q = someFile();
                if (p == null || p.equals(q)) return;
                log("replace " + q + " by " + p);
                Files.move(fs.getPath(p), fs.getPath(q), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                files.put(q, files.remove(p));
            } else if (k < 70) {                                                // delete
                String p = someFile();
                if (p == null) return;
                log("delete " + p);
                Files.delete(fs.getPath(p));
                files.remove(p);
            } else if (k < 74) {                                                // make or remove a subdirectory
                if (dirs.size() < 4 && rnd.nextBoolean()) {
                    String d = own() + "/d" + serial++;
                    log("mkdir " + d);
                    Files.createDirectory(fs.getPath(d));
                    dirs.add(d);
                } else if (!dirs.isEmpty()) {
                    String d = dirs.first();
                    log("empty and remove " + d);
                    for (String f : new ArrayList<>(files.keySet()))
                        if (f.startsWith(d + "/")) { String q = newName(own()); Files.move(fs.getPath(f), fs.getPath(q)); files.put(q, files.remove(f)); }
                    Files.delete(fs.getPath(d));
                    dirs.remove(d);
                }
            } else if (k < 82) {                                                // list a directory and compare
                String d = someDir();
                log("list " + d);
                List<String> got = new ArrayList<>();
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(fs.getPath(d))) {
                    for (Path p : ds) {
                        String n = p.getFileName().toString();
                        if (!d.equals(SHARED) || n.startsWith("t" + id + "-")) got.add(p.toString());
                    }
                }
                Collections.sort(got);
                List<String> want = new ArrayList<>();
                for (String f : files.keySet()) if (f.substring(0, f.lastIndexOf('/')).equals(d)) want.add(f);
                if (d.equals(own())) for (String sub : dirs) want.add(sub);
                Collections.sort(want);
                check(want.equals(got), "listing of " + d + ": " + got + ", model " + want);
            } else if (k < 92) {                                                // own region of the shared file
                int pos = rnd.nextInt(REGION), len = Math.min(REGION - pos, 1 + rnd.nextInt(2000));
                byte[] b = data(len);
                b = Arrays.copyOf(b, Math.min(b.length, REGION - pos));
                log("common write " + b.length + " at region+" + pos);
                common.write(ByteBuffer.wrap(b), (long) id * REGION + pos);
                System.arraycopy(b, 0, region, pos, b.length);
                ByteBuffer back = ByteBuffer.allocate(REGION);
                while (back.hasRemaining()) if (common.read(back, (long) id * REGION + back.position()) < 0) break;
                check(Arrays.equals(region, back.array()), "own region of the shared file differs");
            } else {                                                            // the shared read-only file
                log("read the shared read-only file");
                check(Arrays.equals(readOnly, Files.readAllBytes(fs.getPath(READONLY))), "the shared read-only file differs");
            }
        }
    }

    @Test void fourThreadsSharingOneFileSystemKeepTheirModels() throws Exception {
        long seed = Seeds.seed("NioConcurrencyTest " + THREADS + " threads x " + OPS + " operations");
        Path img = tmp.resolve("conc.img");
        Tools.mke2fs(img, null, "128M", "-t", "ext4");
        byte[] readOnly = new byte[300_000];
        new Random(seed).nextBytes(readOnly);
        Worker[] w = new Worker[THREADS];
        try (FileSystem fs = FileSystems.newFileSystem(img)) {
            Files.createDirectory(fs.getPath(SHARED));
            Files.write(fs.getPath(READONLY), readOnly);
            try (FileChannel ch = FileChannel.open(fs.getPath(COMMON), StandardOpenOption.CREATE_NEW, WRITE)) { ch.write(ByteBuffer.allocate(THREADS * REGION)); }
            CyclicBarrier start = new CyclicBarrier(THREADS);
            Thread[] threads = new Thread[THREADS];
            for (int i = 0; i < THREADS; i++) {
                Files.createDirectory(fs.getPath("/t" + i));
                w[i] = new Worker(i, fs, seed * 31 + i, start, readOnly);
                threads[i] = new Thread(w[i], "nio-worker-" + i);
            }
            for (Thread t : threads) t.start();
            for (Thread t : threads) {
                t.join(TimeUnit.SECONDS.toMillis(90));
                assertFalse(t.isAlive(), t.getName() + " still running after 90 s (a deadlock?)");
            }
            List<String> failures = new ArrayList<>();
            for (Worker x : w) if (x.failure != null) failures.add("thread " + x.id + " at op " + x.op + ": " + x.failure + "\n  recent: " + String.join("\n  ", x.recent));
            if (!failures.isEmpty()) {
                AssertionError e = new AssertionError("seed " + seed + ":\n" + String.join("\n", failures));
                for (Worker x : w) if (x.failure != null) e.addSuppressed(x.failure);
                throw e;
            }
        }
        Tools.assertFsckClean(img);
        try (FileSystem fs = FileSystems.newFileSystem(img)) {
            TreeSet<String> shared = new TreeSet<>();
            for (Worker x : w) {
                for (var e : x.files.entrySet())
                    assertArrayEquals(e.getValue(), Files.readAllBytes(fs.getPath(e.getKey())), "after reopening: thread " + x.id + "'s " + e.getKey());
                TreeSet<String> own = new TreeSet<>();
                try (var s = Files.walk(fs.getPath("/t" + x.id))) { s.skip(1).forEach(p -> own.add(p.toString())); }
                TreeSet<String> want = new TreeSet<>(x.dirs);
                for (String f : x.files.keySet()) if (f.startsWith("/t" + x.id + "/")) want.add(f);
                assertEquals(want, own, "after reopening: thread " + x.id + "'s directory");
                for (String f : x.files.keySet()) if (f.startsWith(SHARED + "/")) shared.add(f);
                byte[] region = new byte[REGION];
                try (FileChannel ch = FileChannel.open(fs.getPath(COMMON), READ)) { ch.read(ByteBuffer.wrap(region), (long) x.id * REGION); }
                assertArrayEquals(x.region, region, "after reopening: thread " + x.id + "'s region of the shared file");
            }
            TreeSet<String> listed = new TreeSet<>();
            try (var s = Files.list(fs.getPath(SHARED))) { s.forEach(p -> listed.add(p.toString())); }
            assertEquals(shared, listed, "after reopening: the shared directory");
            assertArrayEquals(readOnly, Files.readAllBytes(fs.getPath(READONLY)));
        }
    }
}
