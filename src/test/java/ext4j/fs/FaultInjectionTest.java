package ext4j.fs;

import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.block.FaultyBlockDevice;
import ext4j.block.FaultyBlockDevice.Effect;
import ext4j.block.FaultyBlockDevice.Kind;
import ext4j.testutil.Faults;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The core API over a failing disk (issue 17): EIO and ENOSPC on writes, short and torn writes,
 * failed flushes and reads, from a seeded {@link FaultyBlockDevice}. Every failed call reports
 * EIO or ENOSPC, never success; a failed metadata write (the journal) turns the filesystem
 * read-only, after which changes, fsync and close get EROFS; a failed data write is reported to
 * the file's next fsync once and the filesystem stays writable; recovery on a healthy device gives
 * an image e2fsck -fn finds clean, holding every fsynced byte. Seed printed (-Dext4j.seed=N);
 * -Dext4j.faultRounds=N runs the random workload longer (default 8 rounds).
 */
class FaultInjectionTest {
    @TempDir Path tmp;
    private static final Caller ROOT = Caller.ROOT;

    private long seed() {
        long seed = Long.getLong("ext4j.seed", System.nanoTime());
        System.out.println(getClass().getSimpleName() + " seed=" + seed + " (rerun with -Dext4j.seed=" + seed + ")");
        return seed;
    }

    private Path image(String name, int bs) throws Exception {
        Path img = tmp.resolve(name + ".img");
        Tools.mke2fs(img, null, "64M", "-t", "ext4", "-b", String.valueOf(bs));
        return img;
    }

    /** A big journal: checkpoints (home writes of metadata, which abort the journal when they fail) become rare. */
    private Path bigJournalImage(String name, int bs) throws Exception {
        Path img = tmp.resolve(name + ".img");
        Tools.mke2fs(img, null, "160M", "-t", "ext4", "-b", String.valueOf(bs), "-J", "size=64");
        return img;
    }

    private static Options options(FaultyBlockDevice.Faults f) { return Options.defaults().withCommitMillis(0).withFaults(f); }

    private static byte[] name(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    private static byte[] readAll(Ext4Vfs v, OpenFile f) throws IOException {
        long size = v.getattr(f.ino()).size();
        ByteBuffer b = ByteBuffer.allocate((int) size);
        while (b.hasRemaining()) if (v.read(f, b.position(), b) <= 0) break;
        return b.array();
    }

    private static byte[] readAll(Path img, String file) throws IOException {
        try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults().withReadOnly(true))) {
            Entry e = v.lookup(Ext4Vfs.ROOT, name(file));
            OpenFile f = v.open(e.ino(), Ext4Vfs.O_RDONLY, ROOT);
            return readAll(v, f);
        }
    }

    /** Opens the image on a healthy device (replaying the journal), closes it, and runs e2fsck -fn. */
    private static void recoverAndCheck(Path img) throws Exception {
        try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults())) { assertFalse(v.isReadOnly(), "recovered read-write"); }
        Tools.assertFsckClean(img);
    }

    private interface Call { void run() throws IOException; }

    /** The errno the call failed with (null: it succeeded); a failure without an errno fails the test. */
    private static Errno call(String what, Call c) {
        try { c.run(); return null; } catch (IOException e) { return Faults.errno(e, what); }
    }

    // ---- targeted cases ----

    @Test
    void dataWriteErrorIsReportedToTheNextFsyncOnce() throws Exception {
        long seed = seed();
        Random rnd = new Random(seed);
        for (int bs : new int[] {1024, 4096}) {
            Effect effect = Effect.values()[rnd.nextInt(Effect.values().length)];
            Path img = image("data" + bs, bs);
            FaultyBlockDevice.Faults faults = new FaultyBlockDevice.Faults(rnd.nextLong()).writeEffects(effect)
                    .region(Faults.outside(Faults.journal(img, bs)));
            faults.stop();
            byte[] a = new byte[200_000 + rnd.nextInt(100_000)], b = new byte[50_000], a2;
            rnd.nextBytes(a);
            rnd.nextBytes(b);
            try (Ext4Vfs v = Ext4Vfs.open(img, options(faults))) {
                OpenFile fa = v.open(v.create(Ext4Vfs.ROOT, name("a"), 0644, 022, ROOT).ino(), Ext4Vfs.O_RDWR, ROOT);
                OpenFile fb = v.open(v.create(Ext4Vfs.ROOT, name("b"), 0644, 022, ROOT).ino(), Ext4Vfs.O_RDWR, ROOT);
                v.write(fa, 0, ByteBuffer.wrap(a), ROOT);
                v.fsync(fa, false);
                faults.start();
                faults.at(Kind.WRITE, 1);                         // the first data write of the next writeback
                a2 = a.clone();
                byte[] more = new byte[30_000];
                rnd.nextBytes(more);
                System.arraycopy(more, 0, a2, 1000, more.length);
                v.write(fa, 1000, ByteBuffer.wrap(more), ROOT);
                Errno first = call("fsync a", () -> v.fsync(fa, false));
                assertEquals(1, faults.injected().size(), "seed " + seed + ": one fault injected");
                assertEquals(Faults.errnoOf(faults.injected().get(0)), first, "seed " + seed + " bs " + bs + " " + effect + ": the fsync after a failed data write");
                assertFalse(v.isReadOnly(), "a data write error leaves the filesystem writable");
                assertNull(call("fsync a again", () -> v.fsync(fa, false)), "the error is reported once");
                v.write(fb, 0, ByteBuffer.wrap(b), ROOT);
                assertNull(call("fsync b", () -> v.fsync(fb, true)), "another file's fsync");
                v.write(fa, 0, ByteBuffer.wrap(a2), ROOT);                // rewritten whole: acknowledged below
                assertNull(call("fsync a rewritten", () -> v.fsync(fa, false)));
                assertArrayEquals(a2, readAll(v, fa));
                v.release(fa);
                v.release(fb);
            }
            faults.stop();
            recoverAndCheck(img);
            assertArrayEquals(a2, readAll(img, "a"), "seed " + seed + ": a after recovery");
            assertArrayEquals(b, readAll(img, "b"), "seed " + seed + ": b after recovery");
        }
    }

    /**
     * A large write streams straight to newly allocated blocks; when that device write fails, the
     * blocks are unmapped before the commit their allocation held back, so the file reads zeros
     * there, never the old bytes of the file that had the blocks before; the next fsync reports the
     * error once and the filesystem stays writable, as after a failed writeback.
     */
    @Test
    void aFailedStreamingWriteIntoNewBlocksLeavesAHoleNotStaleBytes() throws Exception {
        long seed = seed();
        Random rnd = new Random(seed);
        Effect effect = Effect.values()[rnd.nextInt(Effect.values().length)];
        Path img = image("stream", 4096);
        FaultyBlockDevice.Faults faults = dataFaults(rnd, img, 4096).writeEffects(effect);
        byte[] old = new byte[400_000], a = new byte[400_000];
        java.util.Arrays.fill(old, (byte) 0x5A);
        rnd.nextBytes(a);
        try (Ext4Vfs v = Ext4Vfs.open(img, options(faults))) {
            OpenFile fo = v.open(v.create(Ext4Vfs.ROOT, name("old"), 0644, 022, ROOT).ino(), Ext4Vfs.O_RDWR, ROOT);
            v.write(fo, 0, ByteBuffer.wrap(old), ROOT);
            v.fsync(fo, false);
            v.release(fo);
            v.unlink(Ext4Vfs.ROOT, name("old"));
            v.sync();                                              // its blocks free for the next allocation
            OpenFile fa = v.open(v.create(Ext4Vfs.ROOT, name("a"), 0644, 022, ROOT).ino(), Ext4Vfs.O_RDWR, ROOT);
            faults.start();
            faults.at(Kind.WRITE, 1);
            assertEquals(a.length, v.write(fa, 0, ByteBuffer.wrap(a), ROOT), "the write is acknowledged, as a buffered one");
            assertEquals(1, faults.injected().size(), "seed " + seed + ": the streamed data write failed");
            Errno first = call("fsync a", () -> v.fsync(fa, false));
            assertEquals(Faults.errnoOf(faults.injected().get(0)), first, "seed " + seed + " " + effect + ": the fsync after a failed streaming write");
            assertNull(call("fsync a again", () -> v.fsync(fa, false)), "the error is reported once");
            assertFalse(v.isReadOnly(), "a data write error leaves the filesystem writable");
            byte[] got = readAll(v, fa);
            assertEquals(a.length, got.length);
            for (int i = 0; i < got.length; i++)                   // lost (zeros) or written, never the deleted file's bytes
                if (got[i] != 0 && got[i] != a[i]) fail("seed " + seed + " " + effect + ": byte " + i + " is " + got[i] + ", neither written nor zero");
            v.write(fa, 0, ByteBuffer.wrap(a), ROOT);
            assertNull(call("fsync a rewritten", () -> v.fsync(fa, false)));
            v.release(fa);
        }
        faults.stop();
        recoverAndCheck(img);
        assertArrayEquals(a, readAll(img, "a"), "seed " + seed + ": a after recovery");
    }

    /** Faults from rnd's next seed on img's data (everything but the journal), not injecting until started. */
    private static FaultyBlockDevice.Faults dataFaults(Random rnd, Path img, int bs) throws Exception {
        FaultyBlockDevice.Faults faults = new FaultyBlockDevice.Faults(rnd.nextLong()).region(Faults.outside(Faults.journal(img, bs)));
        faults.stop();
        return faults;
    }

    /** sync reports a data write error once as well, and the file's own fsync still gets it (two errseqs, as Linux keeps them). */
    @Test
    void syncAndFsyncBothHearOfADataWriteError() throws Exception {
        long seed = seed();
        Random rnd = new Random(seed);
        Path img = image("sync", 4096);
        FaultyBlockDevice.Faults faults = dataFaults(rnd, img, 4096);
        byte[] a = new byte[100_000];
        rnd.nextBytes(a);
        try (Ext4Vfs v = Ext4Vfs.open(img, options(faults))) {
            OpenFile fa = v.open(v.create(Ext4Vfs.ROOT, name("a"), 0644, 022, ROOT).ino(), Ext4Vfs.O_RDWR, ROOT);
            v.write(fa, 0, ByteBuffer.wrap(a), ROOT);
            faults.start();
            faults.at(Kind.WRITE, 1);
            assertEquals(Errno.EIO, call("sync", v::sync), "seed " + seed + ": sync after a failed data write");
            assertNull(call("sync again", v::sync), "sync reports it once");
            assertEquals(Errno.EIO, call("fsync", () -> v.fsync(fa, false)), "the file's fsync still hears of it");
            assertNull(call("fsync again", () -> v.fsync(fa, false)));
            v.write(fa, 0, ByteBuffer.wrap(a), ROOT);
            assertNull(call("fsync rewritten", () -> v.fsync(fa, false)));
            v.release(fa);
        }
        recoverAndCheck(img);
        assertArrayEquals(a, readAll(img, "a"));
    }

    /** Close after a data write error no fsync heard of: the close finishes (image clean) and reports EIO. */
    @Test
    void closeReportsDataLostWithoutAnFsync() throws Exception {
        long seed = seed();
        Random rnd = new Random(seed);
        Path img = image("close", 1024);
        FaultyBlockDevice.Faults faults = dataFaults(rnd, img, 1024);
        byte[] a = new byte[40_000];
        rnd.nextBytes(a);
        Ext4Vfs v = Ext4Vfs.open(img, options(faults));
        OpenFile fa = v.open(v.create(Ext4Vfs.ROOT, name("a"), 0644, 022, ROOT).ino(), Ext4Vfs.O_RDWR, ROOT);
        v.mkdir(Ext4Vfs.ROOT, name("d"), 0755, 022, ROOT);
        v.write(fa, 0, ByteBuffer.wrap(a), ROOT);
        v.release(fa);
        faults.start();
        faults.at(Kind.WRITE, 1);
        assertEquals(Errno.EIO, call("close", v::close), "seed " + seed + ": close with lost data");
        faults.stop();
        Tools.assertFsckClean(img);                              // closed all the same: nothing to replay
        try (Ext4Vfs r = Ext4Vfs.open(img, Options.defaults().withReadOnly(true))) {
            assertEquals(a.length, r.lookup(Ext4Vfs.ROOT, name("a")).attr().size());
            assertTrue(r.lookup(Ext4Vfs.ROOT, name("d")).attr() != null);
        }
    }

    /** A failed write or flush of the journal: the fsync fails, the filesystem is read-only (EROFS), recovery keeps what was fsynced. */
    @Test
    void metadataWriteErrorTurnsTheFilesystemReadOnly() throws Exception {
        long seed = seed();
        Random rnd = new Random(seed);
        for (int round = 0; round < 4; round++) {
            int bs = round % 2 == 0 ? 1024 : 4096;
            Path img = image("meta" + round, bs);
            Kind kind = rnd.nextInt(3) == 0 ? Kind.FLUSH : Kind.WRITE;
            FaultyBlockDevice.Faults faults = new FaultyBlockDevice.Faults(rnd.nextLong()).writeEffects(Effect.values())
                    .region(Faults.journal(img, bs)).sticky(rnd.nextBoolean());
            faults.stop();
            byte[] kept = new byte[30_000 + rnd.nextInt(30_000)], lost = new byte[20_000];
            rnd.nextBytes(kept);
            rnd.nextBytes(lost);
            String where = "seed " + seed + " round " + round + " (" + bs + ", " + kind + "): ";
            Ext4Vfs v = Ext4Vfs.open(img, options(faults));
            OpenFile fk = v.open(v.create(Ext4Vfs.ROOT, name("kept"), 0644, 022, ROOT).ino(), Ext4Vfs.O_RDWR, ROOT);
            v.write(fk, 0, ByteBuffer.wrap(kept), ROOT);
            v.fsync(fk, false);
            faults.start();
            faults.at(kind, 1 + rnd.nextInt(kind == Kind.FLUSH ? 2 : 4));
            OpenFile fl = v.open(v.create(Ext4Vfs.ROOT, name("new"), 0644, 022, ROOT).ino(), Ext4Vfs.O_RDWR, ROOT);
            v.write(fl, 0, ByteBuffer.wrap(lost), ROOT);
            v.mkdir(Ext4Vfs.ROOT, name("dir"), 0755, 022, ROOT);
            Errno e = call("fsync new", () -> v.fsync(fl, false));
            assertFalse(faults.injected().isEmpty(), where + "the fault was reached");
            assertEquals(Faults.errnoOf(faults.injected().get(0)), e, where + "the fsync whose commit failed");
            assertTrue(v.isReadOnly(), where + "read-only after a failed journal write");
            assertNotNull(v.readOnlyCause());
            assertEquals(Errno.EROFS, call("create", () -> v.create(Ext4Vfs.ROOT, name("x"), 0644, 022, ROOT)), where + "create");
            assertEquals(Errno.EROFS, call("write", () -> v.write(fk, 0, ByteBuffer.wrap(new byte[10]), ROOT)), where + "write");
            assertEquals(Errno.EROFS, call("truncate", () -> v.setattr(fk.ino(), new SetAttr(SetAttr.SIZE, 0, 0, 0, 5, null, null, null), ROOT)), where + "truncate");
            assertEquals(Errno.EROFS, call("unlink", () -> v.unlink(Ext4Vfs.ROOT, name("kept"))), where + "unlink");
            assertEquals(Errno.EROFS, call("fsync", () -> v.fsync(fk, false)), where + "fsync after the abort");
            assertEquals(Errno.EROFS, call("sync", v::sync), where + "sync after the abort");
            assertArrayEquals(kept, readAll(v, fk), where + "reads go on");
            assertArrayEquals(lost, readAll(v, fl), where + "the cache still serves what was written");
            assertEquals(Errno.EROFS, call("close", v::close), where + "close");
            faults.stop();
            recoverAndCheck(img);
            assertArrayEquals(kept, readAll(img, "kept"), where + "fsynced file after recovery");
        }
    }

    // ---- the random workload: fsx over a disk failing at random ----

    /** What a file should hold now and what recovery must find; "unsure" bytes were in a writeback that failed. */
    private static final class Model {
        byte[] cur = new byte[0];
        BitSet unsure = new BitSet();
        byte[] durable = new byte[0];
        BitSet durableUnsure = new BitSet();
        BitSet touched = new BitSet();          // changed since the last acknowledged fsync
        boolean sizeTouched;

        void write(long off, byte[] d) {
            if (cur.length < off + d.length) { touch(cur.length, off + d.length); cur = Arrays.copyOf(cur, (int) (off + d.length)); sizeTouched = true; }
            System.arraycopy(d, 0, cur, (int) off, d.length);
            unsure.clear((int) off, (int) off + d.length);
            touch(off, off + d.length);
        }

        void size(long n) {
            if (n != cur.length) sizeTouched = true;
            touch(Math.min(n, cur.length), Math.max(n, cur.length));
            cur = Arrays.copyOf(cur, (int) n);
            unsure.clear((int) n, Integer.MAX_VALUE);
        }

        void zero(long off, long end) {
            end = Math.min(end, cur.length);
            if (off >= end) return;
            Arrays.fill(cur, (int) off, (int) end, (byte) 0);
            unsure.clear((int) off, (int) end);
            touch(off, end);
        }

        void touch(long from, long to) { if (from < to) touched.set((int) from, (int) to); }

        void synced() { durable = cur.clone(); durableUnsure = (BitSet) unsure.clone(); touched.clear(); sizeTouched = false; }

        /** An fsync or sync failed: whatever was dirty may now be old, new or zeros. */
        void lost() { unsure.or(touched); }
    }

    @Test
    void randomFaultsUnderAnFsxWorkload() throws Exception {
        long seed = seed();
        Random rnd = new Random(seed);
        int rounds = Integer.getInteger("ext4j.faultRounds", 8);
        int ops = Integer.getInteger("ext4j.faultOps", 1500);
        for (int round = 0; round < rounds; round++) fsxRound(seed, round, new Random(rnd.nextLong()), ops);
    }

    private void fsxRound(long seed, int round, Random rnd, int ops) throws Exception {
        int bs = rnd.nextBoolean() ? 1024 : 4096;
        boolean delalloc = rnd.nextBoolean(), smallCache = rnd.nextBoolean();
        int where = rnd.nextInt(3);
        boolean ext3 = rnd.nextInt(5) == 0;             // indirect blocks and ordered data: no fallocate, zero range or punch
        Path img;
        if (ext3) Tools.mke2fs(img = tmp.resolve("fsx" + round + ".img"), null, where == 2 ? "160M" : "64M", "-t", "ext3", "-b", String.valueOf(bs), "-J", "size=" + (where == 2 ? 64 : 4));
        else img = where == 2 ? bigJournalImage("fsx" + round, bs) : image("fsx" + round, bs);
        FaultyBlockDevice.Region journal = Faults.journal(img, bs);
        FaultyBlockDevice.Faults faults = new FaultyBlockDevice.Faults(rnd.nextLong()).writeEffects(Effect.values())
                .rate(Kind.WRITE, where == 2 ? 1.0 / (10 + rnd.nextInt(150)) : 1.0 / (100 + rnd.nextInt(2000))).rate(Kind.FLUSH, where == 2 || rnd.nextInt(3) == 0 ? 0 : 1.0 / (50 + rnd.nextInt(500)))
                .region(where == 0 ? (o, l) -> true : where == 1 ? journal : Faults.outside(journal)).sticky(rnd.nextInt(6) == 0)
                .rate(Kind.READ, rnd.nextInt(3) == 0 ? 1.0 / (20 + rnd.nextInt(300)) : 0);
        faults.stop();
        long commitMs = rnd.nextInt(3) == 0 ? 1 + rnd.nextInt(20) : 0;     // timed commits may meet the fault on their own thread
        String label = "seed " + seed + " round " + round + " (" + (ext3 ? "ext3 " : "") + bs + (delalloc ? "" : " nodelalloc") + (smallCache ? " 1 MiB cache" : "") + (commitMs > 0 ? " commits every " + commitMs + " ms" : "") + (faults.rate(Kind.READ) > 0 ? " read faults" : "")
                + ", faults " + (where == 0 ? "anywhere" : where == 1 ? "in the journal" : "outside the journal") + ")";
        Options o = options(faults).withDelalloc(delalloc).withCommitMillis(commitMs);
        if (smallCache) o = o.withCacheBytes(1 << 20);
        Ext4Vfs v = Ext4Vfs.open(img, o);
        final int n = 3, maxSize = 1 << 20;
        Model[] m = new Model[n];
        OpenFile[] f = new OpenFile[n];
        for (int i = 0; i < n; i++) {
            m[i] = new Model();
            f[i] = v.open(v.create(Ext4Vfs.ROOT, name("f" + i), 0644, 022, ROOT).ino(), Ext4Vfs.O_RDWR, ROOT);
        }
        v.sync();
        faults.start();
        List<String> log = new ArrayList<>(), failedOps = new ArrayList<>();
        int afterReadOnly = 0, failures = 0;
        boolean closedCleanly = false;
        for (int op = 1; op <= ops && afterReadOnly < 8; op++) {
            int fi = rnd.nextInt(n);
            Model mm = m[fi];
            OpenFile fh = f[fi];
            boolean ro = v.isReadOnly();
            int faultsBefore = faults.injected().size();
            int k = rnd.nextInt(100);
            if (ext3 && k >= 63 && k < 81) k = rnd.nextInt(35);
            long off = rnd.nextInt(maxSize), len = 1 + rnd.nextInt(rnd.nextInt(4) == 0 ? 200_000 : 9000);
            if (off + len > maxSize) len = maxSize - off;
            final long fo = off, fl = len;
            String what;
            Errno e;
            boolean mutates = true, syncs = false;
            if (k < 35) {
                byte[] d = new byte[(int) len];
                rnd.nextBytes(d);
                long at = rnd.nextInt(3) == 0 ? Math.max(0, Math.min(mm.cur.length + rnd.nextInt(5000) - 2500, maxSize - len)) : off;
                what = "write f" + fi + " @" + at + " +" + len;
                e = call(what, () -> v.write(fh, at, ByteBuffer.wrap(d), ROOT));
                if (e == null) mm.write(at, d);
            } else if (k < 55) {
                mutates = false;
                what = "read f" + fi + " @" + off + " +" + len;
                ByteBuffer b = ByteBuffer.allocate((int) len);
                int[] got = new int[1];
                e = call(what, () -> got[0] = v.read(fh, fo, b));
                if (e == null) checkRead(label + " op " + op + ": " + what, mm, off, got[0], b.array(), log);
            } else if (k < 63) {
                long size = rnd.nextInt(3) == 0 ? Math.max(0, mm.cur.length + rnd.nextInt(8000) - 4000) : rnd.nextInt(maxSize);
                what = "truncate f" + fi + " " + size;
                e = call(what, () -> v.setattr(fh.ino(), new SetAttr(SetAttr.SIZE, 0, 0, 0, size, null, null, null), ROOT));
                if (e == null) mm.size(size);
            } else if (k < 69) {
                boolean keep = rnd.nextBoolean();
                what = "zero f" + fi + " @" + off + " +" + len + (keep ? " keep" : "");
                e = call(what, () -> v.fallocate(fh, Ext4Vfs.FALLOC_FL_ZERO_RANGE | (keep ? Ext4Vfs.FALLOC_FL_KEEP_SIZE : 0), fo, fl));
                if (e == null) { if (!keep && off + len > mm.cur.length) mm.size(off + len); mm.zero(off, off + len); }
            } else if (k < 75) {
                what = "punch f" + fi + " @" + off + " +" + len;
                e = call(what, () -> v.fallocate(fh, Ext4Vfs.FALLOC_FL_PUNCH_HOLE | Ext4Vfs.FALLOC_FL_KEEP_SIZE, fo, fl));
                if (e == null) mm.zero(off, off + len);
            } else if (k < 81) {
                boolean keep = rnd.nextBoolean();
                what = "fallocate f" + fi + " @" + off + " +" + len + (keep ? " keep" : "");
                e = call(what, () -> v.fallocate(fh, keep ? Ext4Vfs.FALLOC_FL_KEEP_SIZE : 0, fo, fl));
                if (e == null && !keep && off + len > mm.cur.length) mm.size(off + len);
            } else if (k < 96) {
                boolean data = k >= 91;
                syncs = true;
                what = (data ? "fdatasync" : "fsync") + " f" + fi;
                e = call(what, () -> v.fsync(fh, data));
                if (e == null) mm.synced();
                else if (!v.isReadOnly()) mm.lost();
            } else if (k < 98) {
                mutates = false;
                what = "drop caches";
                e = call(what, () -> v.pathView().dropCaches());
            } else {
                syncs = true;
                what = "sync";
                e = call(what, v::sync);
                for (Model x : m) { if (e == null) x.synced(); else if (!v.isReadOnly()) x.lost(); }
            }
            // a writeback that failed in this call (memory pressure, a cache drop) loses dirty data before any fsync says so:
            // as on Linux, a page whose write failed is clean, and once dropped, reads find the old bytes
            if (faults.injected().size() > faultsBefore && !v.isReadOnly()) for (Model x : m) x.lost();
            log.add(what + " -> " + (e == null ? "ok" : e) + (faults.injected().isEmpty() ? "" : " [" + faults.injected().size() + " faults]"));
            if (log.size() > 40) log.remove(0);
            String at = label + " op " + op + ": " + what + " gave " + e + "\nlast ops:\n" + String.join("\n", log);
            if (ro) {
                afterReadOnly++;
                if (mutates || syncs) assertEquals(Errno.EROFS, e, at + ": after the filesystem turned read-only");
                else if (e != Errno.EIO || faults.rate(Kind.READ) == 0) assertNull(e, at + ": reads go on after the filesystem turned read-only");
                continue;
            }
            if (e == null) continue;
            failures++;
            failedOps.add("op " + op + ": " + what + " -> " + e);
            // EROFS: a timed commit failed on its own thread while this call ran, or this call's writeback could not
            // write data into blocks mapped as written (ext3, nodelalloc: ordered data lost, so the journal aborts, as jbd2 does)
            boolean turnedReadOnlyByAFault = v.isReadOnly() && (commitMs > 0 || String.valueOf(v.readOnlyCause()).contains("injected"));
            assertTrue(e == Errno.EIO || e == Errno.ENOSPC || (e == Errno.EROFS && turnedReadOnlyByAFault), at + ": only EIO or ENOSPC on a failing disk, or EROFS from a fault that aborted the journal (cause: " + v.readOnlyCause() + ")");
            assertFalse(faults.injected().isEmpty(), at + ": failed with no fault injected");
            if (!syncs && mutates) {                 // a failed change: the file may be half changed; take what it shows now
                mm.touch(0, maxSize);
                mm.sizeTouched = true;
                faults.pause();
                mm.cur = readAll(v, fh);              // reads go on after an abort too
                faults.start();
                mm.unsure.set(0, maxSize);
            }
            if (v.isReadOnly()) for (Model x : m) x.unsure.set(0, maxSize); // the op that aborted may have left any file half done in memory
        }
        boolean ro = v.isReadOnly();
        String cause = ro ? v.readOnlyCause().getMessage() : null;
        if (ro && Boolean.getBoolean("ext4j.faultTraces")) v.readOnlyCause().printStackTrace(System.out);
        faults.stop();
        if (!ro) {
            for (int i = 0; i < n; i++) {
                int fi = i;
                Errno e = call("final fsync f" + i, () -> v.fsync(f[fi], false));
                if (e != null) {
                    assertEquals(Errno.EIO == e || Errno.ENOSPC == e, true, label + ": final fsync gave " + e);
                    m[i].lost();
                    assertNull(call("final fsync again", () -> v.fsync(f[fi], false)), label + ": the fsync after the failed one");
                }
                m[i].synced();
            }
            for (int i = 0; i < n; i++) v.release(f[i]);
            assertNull(call("close", v::close), label + ": close after every error was reported");
            closedCleanly = true;
        } else {
            assertEquals(Errno.EROFS, call("close", v::close), label + ": close of a filesystem turned read-only");
        }
        StringBuilder kinds = new StringBuilder();
        for (FaultyBlockDevice.Injected x : faults.injected()) kinds.append(kinds.isEmpty() ? "" : ", ").append(x.kind()).append(' ').append(x.effect());
        System.out.println("  " + label + ": " + faults.injected().size() + " faults injected (" + kinds + "), " + failures + " calls failed, "
                + (ro ? "turned read-only (" + cause + ")" : "stayed writable"));
        recoverAndCheck(img);
        for (int i = 0; i < n; i++) {
            byte[] got = readAll(img, "f" + i);
            Model x = m[i];
            String at = label + ": f" + i + " after recovery (failed calls: " + String.join("; ", failedOps.subList(Math.max(0, failedOps.size() - 12), failedOps.size())) + ")";
            if (closedCleanly) {
                assertEquals(x.cur.length, got.length, at + " size");
                for (int b = 0; b < got.length; b++)
                    if (!x.unsure.get(b) && got[b] != x.cur[b]) fail(at + ": byte " + b + " is " + got[b] + ", wrote " + x.cur[b]);
            } else {
                if (!x.sizeTouched) assertEquals(x.durable.length, got.length, at + ": size of a file unchanged since its fsync");
                for (int b = 0; b < Math.min(got.length, x.durable.length); b++)
                    if (!x.touched.get(b) && !x.durableUnsure.get(b) && got[b] != x.durable[b])
                        fail(at + ": fsynced byte " + b + " is " + got[b] + ", was " + x.durable[b]);
            }
        }
    }

    private static void checkRead(String what, Model m, long off, int n, byte[] buf, List<String> log) {
        int want = (int) Math.max(-1, Math.min(buf.length, m.cur.length - off));
        if (want <= 0) { assertTrue(n <= 0, what + ": read past EOF gave " + n); return; }
        assertEquals(want, n, what + ": count\nlast ops:\n" + String.join("\n", log));
        for (int i = 0; i < want; i++) {
            int p = (int) off + i;
            if (!m.unsure.get(p) && buf[i] != m.cur[p]) fail(what + ": byte " + p + " is " + buf[i] + ", wrote " + m.cur[p] + "\nlast ops:\n" + String.join("\n", log));
        }
    }

    // ---- read errors ----

    /**
     * Reads failing at random under lookups, listings, reads and changes: each call succeeds with
     * the right answer or fails with EIO; nothing half-read is cached (once the faults stop, every
     * answer is right); a change that failed shows all of it or none of it in memory, and after a
     * close and a reopen on a healthy device the image (e2fsck -fn clean) holds exactly that.
     */
    @Test
    void readErrorsFailTheCallAndPoisonNothing() throws Exception {
        long seed = seed();
        Random rnd = new Random(seed);
        for (int bs : new int[] {1024, 4096}) {
            Path img = image("read" + bs, bs);
            int files = 12;
            java.util.TreeMap<String, byte[]> model = new java.util.TreeMap<>();
            try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults())) {
                long d = v.mkdir(Ext4Vfs.ROOT, name("d"), 0755, 022, ROOT).ino();
                for (int i = 0; i < 400; i++) v.create(d, name("entry-with-a-longer-name-" + i), 0644, 022, ROOT); // an htree directory
                for (int i = 0; i < files; i++) {
                    byte[] b = new byte[rnd.nextInt(i % 3 == 0 ? 3_000_000 : 50_000)];
                    rnd.nextBytes(b);
                    OpenFile f = v.open(v.create(Ext4Vfs.ROOT, name("f" + i), 0644, 022, ROOT).ino(), Ext4Vfs.O_RDWR, ROOT);
                    v.write(f, 0, ByteBuffer.wrap(b), ROOT);
                    v.release(f);
                    model.put("f" + i, b);
                }
            }
            java.util.Map<String, byte[]> closed = new java.util.TreeMap<>(model);   // on disk, acknowledged by the close
            FaultyBlockDevice.Faults faults = new FaultyBlockDevice.Faults(rnd.nextLong()).rate(Kind.READ, 0.02 + rnd.nextDouble() * 0.1);
            faults.stop();                                   // the open itself may fail (EIO); that is not what this tests
            String label = "seed " + seed + " bs " + bs;
            int failed = 0;
            Ext4Vfs v = Ext4Vfs.open(img, options(null).withCacheBytes(1 << 20).withFaults(faults));
            long d = v.lookup(Ext4Vfs.ROOT, name("d")).ino();
            v.pathView().dropCaches();
            faults.start();
            java.util.Set<String> entries = new java.util.TreeSet<>();
            for (int i = 0; i < 400; i++) entries.add("entry-with-a-longer-name-" + i);
            String halfTruncated = null;                      // a truncate that failed after the cache cut the file: read-only
            for (int op = 0; op < 600 && halfTruncated == null; op++) {
                String fname = "f" + rnd.nextInt(files);
                byte[] want = model.get(fname);
                int k = rnd.nextInt(100);
                String what;
                Errno e;
                if (k < 40) {
                    long off = want.length == 0 ? 0 : rnd.nextInt(want.length);
                    int len = 1 + rnd.nextInt(200_000);
                    what = "read " + fname + " @" + off + " +" + len;
                    ByteBuffer b = ByteBuffer.allocate(len);
                    e = call(what, () -> { OpenFile f = v.open(v.lookup(Ext4Vfs.ROOT, name(fname)).ino(), Ext4Vfs.O_RDONLY, ROOT); try { v.read(f, off, b); } finally { v.release(f); } });
                    if (e == null) {
                        int n = Math.max(0, Math.min(len, want.length - (int) off));
                        assertEquals(n, Math.max(0, b.position()), label + ": " + what + " count");
                        assertArrayEquals(Arrays.copyOfRange(want, (int) off, (int) off + n), Arrays.copyOf(b.array(), n), label + ": " + what);
                    }
                } else if (k < 55) {
                    String ename = rnd.nextInt(4) == 0 ? "missing-" + op : "entry-with-a-longer-name-" + rnd.nextInt(400);
                    what = "lookup d/" + ename;
                    Entry[] got = new Entry[1];
                    e = call(what, () -> { try { got[0] = v.lookup(d, name(ename)); } catch (FsException x) { if (x.errno() != Errno.ENOENT) throw x; } });
                    if (e == null) assertEquals(entries.contains(ename), got[0] != null, label + ": " + what);
                } else if (k < 62) {
                    what = "readdir d";
                    java.util.Set<String> seen = new java.util.TreeSet<>();
                    e = call(what, () -> v.readdir(d, 0, x -> { String nm = new String(x.name(), StandardCharsets.UTF_8); if (!nm.equals(".") && !nm.equals("..")) seen.add(nm); return true; }));
                    if (e == null) assertEquals(entries, seen, label + ": " + what);
                } else if (k < 77) {
                    long off = rnd.nextInt(want.length + 10_000);
                    byte[] b = new byte[1 + rnd.nextInt(20_000)];
                    rnd.nextBytes(b);
                    what = "write " + fname + " @" + off + " +" + b.length;
                    e = call(what, () -> { OpenFile f = v.open(v.lookup(Ext4Vfs.ROOT, name(fname)).ino(), Ext4Vfs.O_RDWR, ROOT); try { v.write(f, off, ByteBuffer.wrap(b), ROOT); } finally { v.release(f); } });
                    byte[] after = Arrays.copyOf(want, (int) Math.max(want.length, off + b.length));
                    System.arraycopy(b, 0, after, (int) off, b.length);
                    if (e == null) model.put(fname, after);
                    else model.put(fname, adopt(v, faults, fname, want, after, label + ": " + what));
                } else if (k < 85) {
                    long size = rnd.nextInt(want.length + 10_000);
                    what = "truncate " + fname + " " + size;
                    e = call(what, () -> v.setattr(v.lookup(Ext4Vfs.ROOT, name(fname)).ino(), new SetAttr(SetAttr.SIZE, 0, 0, 0, size, null, null, null), ROOT));
                    byte[] after = Arrays.copyOf(want, (int) size);
                    if (e == null) model.put(fname, after);
                    else model.put(fname, adopt(v, faults, fname, want, after, label + ": " + what));
                } else if (k < 95) {
                    String ename = "entry-with-a-longer-name-" + rnd.nextInt(500);
                    boolean had = entries.contains(ename);
                    what = (had ? "unlink d/" : "create d/") + ename;
                    e = call(what, () -> { if (had) v.unlink(d, name(ename)); else v.create(d, name(ename), 0644, 022, ROOT); });
                    boolean has;
                    if (e == null) has = !had;
                    else {
                        faults.stop();
                        try { has = v.lookup(d, name(ename)) != null; } catch (FsException x) { assertEquals(Errno.ENOENT, x.errno(), label + ": " + what + ": lookup after"); has = false; }
                        faults.start();
                    }
                    if (has) entries.add(ename); else entries.remove(ename);
                } else {
                    what = "drop caches";
                    e = call(what, () -> v.pathView().dropCaches());
                }
                if (e != null) {
                    failed++;
                    assertEquals(Errno.EIO, e, label + ": " + what + ": a failed read is EIO");
                    if (v.isReadOnly() && what.startsWith("truncate")) { halfTruncated = fname; continue; }
                    if (v.isReadOnly()) {
                        java.io.StringWriter trace = new java.io.StringWriter();
                        v.readOnlyCause().printStackTrace(new java.io.PrintWriter(trace));
                        fail(label + ": " + what + ": a read error alone leaves the filesystem writable; turned read-only by " + trace);
                    }
                }
            }
            faults.stop();
            System.out.println("  " + label + ": " + faults.injected().size() + " read faults, " + failed + " calls failed"
                    + (halfTruncated != null ? ", a failed truncate of " + halfTruncated + " turned the filesystem read-only" : ""));
            checkTree(v, d, model, entries, label + " with the faults stopped");
            if (halfTruncated != null) {
                String ht = halfTruncated;
                assertEquals(Errno.EROFS, call("create", () -> v.create(d, name("after"), 0644, 022, ROOT)), label + ": read-only after the failed truncate");
                assertEquals(Errno.EROFS, call("close", v::close), label + ": close after the failed truncate");
                recoverAndCheck(img);
                // the write-back before turning read-only met the faults too: nothing since the close was acknowledged, so
                // each file holds, byte by byte, what the close left or what was written since (or zeros not yet converted)
                try (Ext4Vfs r = Ext4Vfs.open(img, Options.defaults().withReadOnly(true))) {
                    for (var e : model.entrySet()) {
                        OpenFile f = r.open(r.lookup(Ext4Vfs.ROOT, name(e.getKey())).ino(), Ext4Vfs.O_RDONLY, ROOT);
                        byte[] got = readAll(r, f), now = e.getValue(), before = closed.get(e.getKey());
                        r.release(f);
                        for (int i = 0; i < got.length; i++) {
                            boolean ok = (i < now.length && got[i] == now[i]) || (i < before.length && got[i] == before[i]) || got[i] == 0;
                            if (!ok) fail(label + ": " + e.getKey() + " after the failed truncate: byte " + i + " is " + got[i] + ", neither written nor acknowledged");
                        }
                    }
                }
                continue;
            }
            v.close();
            recoverAndCheck(img);
            try (Ext4Vfs r = Ext4Vfs.open(img, Options.defaults().withReadOnly(true))) { checkTree(r, r.lookup(Ext4Vfs.ROOT, name("d")).ino(), model, entries, label + " after a reopen"); }
        }
    }

    /** After a failed change: the file must show the old or the new state, byte by byte (a short write); that becomes the model. */
    private static byte[] adopt(Ext4Vfs v, FaultyBlockDevice.Faults faults, String fname, byte[] before, byte[] after, String what) throws IOException {
        faults.stop();
        try {
            OpenFile f = v.open(v.lookup(Ext4Vfs.ROOT, name(fname)).ino(), Ext4Vfs.O_RDONLY, ROOT);
            byte[] now = readAll(v, f);
            v.release(f);
            assertTrue(now.length == before.length || now.length == after.length || (now.length > before.length && now.length < after.length),
                    what + ": size " + now.length + " is neither " + before.length + " nor " + after.length);
            for (int i = 0; i < now.length; i++) {
                boolean old = i < before.length ? now[i] == before[i] : now[i] == 0;
                boolean neu = i < after.length ? now[i] == after[i] : now[i] == 0;
                if (!old && !neu) fail(what + ": failed, and byte " + i + " is " + now[i] + ": neither the old " + (i < before.length ? before[i] : 0) + " nor the new " + (i < after.length ? after[i] : 0));
            }
            return now;
        } finally {
            faults.start();
        }
    }

    private static void checkTree(Ext4Vfs v, long d, java.util.Map<String, byte[]> model, java.util.Set<String> entries, String label) throws IOException {
        for (var e : model.entrySet()) {
            OpenFile f = v.open(v.lookup(Ext4Vfs.ROOT, name(e.getKey())).ino(), Ext4Vfs.O_RDONLY, ROOT);
            byte[] got = readAll(v, f);
            v.release(f);
            if (!Arrays.equals(e.getValue(), got))
                fail(label + ": " + e.getKey() + " differs (size " + got.length + ", want " + e.getValue().length + ", first difference at " + Arrays.mismatch(e.getValue(), got) + ")");
        }
        java.util.Set<String> seen = new java.util.TreeSet<>();
        v.readdir(d, 0, x -> { String nm = new String(x.name(), StandardCharsets.UTF_8); if (!nm.equals(".") && !nm.equals("..")) seen.add(nm); return true; });
        assertEquals(entries, seen, label + ": entries of d");
    }
}
