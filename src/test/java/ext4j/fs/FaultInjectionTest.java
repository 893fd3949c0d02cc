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

    /** sync reports a data write error once as well, and the file's own fsync still gets it (two errseqs, as Linux keeps them). */
    @Test
    void syncAndFsyncBothHearOfADataWriteError() throws Exception {
        long seed = seed();
        Random rnd = new Random(seed);
        Path img = image("sync", 4096);
        FaultyBlockDevice.Faults faults = new FaultyBlockDevice.Faults(rnd.nextLong()).region(Faults.outside(Faults.journal(img, 4096)));
        faults.stop();
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
        FaultyBlockDevice.Faults faults = new FaultyBlockDevice.Faults(rnd.nextLong()).region(Faults.outside(Faults.journal(img, 1024)));
        faults.stop();
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
}
