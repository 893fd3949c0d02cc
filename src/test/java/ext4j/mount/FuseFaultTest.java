package ext4j.mount;

import ext4j.block.FaultyBlockDevice;
import ext4j.block.FaultyBlockDevice.Effect;
import ext4j.block.FaultyBlockDevice.Kind;
import ext4j.testutil.Faults;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A FUSE mount over a failing disk, through the kernel: fsync after a failed data write gives
 * EIO (ENOSPC) once and the mount stays writable; after a failed journal write fsync gives EIO,
 * then creating and writing give EROFS, reads go on, the unmount completes and reports EROFS, and
 * the image recovers e2fsck-clean with what was fsynced. Seed printed (-Dext4j.seed=N).
 */
class FuseFaultTest {
    @TempDir Path tmp;

    @BeforeEach void fuse() { FuseMountTest.requireFuse(); }

    private interface IoCall { void run() throws IOException; }

    /** The kernel's strerror for the failed call (the JDK puts it in the message), or null if it succeeded. */
    private static String error(IoCall c) {
        try { c.run(); return null; } catch (IOException e) { return String.valueOf(e.getMessage()); }
    }

    private static byte[] random(Random rnd, int n) { byte[] b = new byte[n]; rnd.nextBytes(b); return b; }

    private static long seed() {
        long seed = Long.getLong("ext4j.seed", System.nanoTime());
        System.out.println("FuseFaultTest seed=" + seed + " (rerun with -Dext4j.seed=" + seed + ")");
        return seed;
    }

    @Test
    void dataWriteErrorFailsOneFsyncThroughTheKernel() throws Exception {
        long seed = seed();
        Random rnd = new Random(seed);
        Path img = tmp.resolve("d.img"), mnt = Files.createDirectories(tmp.resolve("m"));
        Tools.mke2fs(img, null, "64M", "-t", "ext4");
        Effect effect = Effect.values()[rnd.nextInt(Effect.values().length)];
        FaultyBlockDevice.Faults faults = new FaultyBlockDevice.Faults(rnd.nextLong()).writeEffects(effect).region(Faults.outside(Faults.journal(img, 4096)));
        faults.stop();
        byte[] a = random(rnd, 300_000);
        try (Ext4Mount m = Ext4Mount.mount(img, mnt, MountOptions.defaults().withCommitSeconds(0), faults)) {
            assertFalse(m.vfs().isReadOnly());
            try (FileChannel ch = FileChannel.open(mnt.resolve("a"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(random(rnd, 300_000)), 0);
                ch.force(true);
                faults.start();
                faults.at(Kind.WRITE, 1);
                ch.write(ByteBuffer.wrap(a), 0);
                String e = error(() -> ch.force(false));
                assertNotNull(e, "seed " + seed + ": fsync after a failed data write succeeded");
                assertTrue(e.contains(effect == Effect.ENOSPC ? "No space left on device" : "Input/output error"), "seed " + seed + " " + effect + ": " + e);
                assertNull(error(() -> ch.force(false)), "reported once");
                ch.write(ByteBuffer.wrap(a), 0);
                assertNull(error(() -> ch.force(true)), "the rewrite is acknowledged");
            }
            Files.write(mnt.resolve("b"), a);
            assertArrayEquals(a, Files.readAllBytes(mnt.resolve("a")));
        }
        faults.stop();
        Tools.assertFsckClean(img);
        try (ext4j.fs.Ext4Vfs v = ext4j.fs.Ext4Vfs.open(img, ext4j.fs.Options.defaults().withReadOnly(true))) {
            var f = v.open(v.lookup(ext4j.fs.Ext4Vfs.ROOT, "a".getBytes()).ino(), ext4j.fs.Ext4Vfs.O_RDONLY, ext4j.fs.Caller.ROOT);
            ByteBuffer b = ByteBuffer.allocate(a.length);
            while (b.hasRemaining() && v.read(f, b.position(), b) > 0) { }
            assertArrayEquals(a, b.array(), "seed " + seed + ": the acknowledged rewrite on disk");
        }
    }

    @Test
    void journalWriteErrorTurnsTheMountReadOnly() throws Exception {
        long seed = seed();
        Random rnd = new Random(seed);
        Path img = tmp.resolve("j.img"), mnt = Files.createDirectories(tmp.resolve("m"));
        Tools.mke2fs(img, null, "64M", "-t", "ext4", "-b", "1024");
        FaultyBlockDevice.Faults faults = new FaultyBlockDevice.Faults(rnd.nextLong()).writeEffects(Effect.values()).region(Faults.journal(img, 1024));
        faults.stop();
        byte[] kept = random(rnd, 100_000);
        Ext4Mount m = Ext4Mount.mount(img, mnt, MountOptions.defaults().withCommitSeconds(0), faults);
        try {
            try (FileChannel ch = FileChannel.open(mnt.resolve("kept"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(kept), 0);
                ch.force(true);
            }
            faults.start();
            faults.at(Kind.WRITE, 1 + rnd.nextInt(3));
            Files.createDirectory(mnt.resolve("dir"));
            try (FileChannel ch = FileChannel.open(mnt.resolve("new"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(random(rnd, 5000)), 0);
                String e = error(() -> ch.force(true));
                assertNotNull(e, "seed " + seed + ": the fsync whose commit failed succeeded");
                assertTrue(e.contains("Input/output error") || e.contains("No space left on device"), "seed " + seed + ": " + e);
            }
            String e = error(() -> Files.createFile(mnt.resolve("x")));
            assertNotNull(e, "create after the abort succeeded");
            assertTrue(e.contains("Read-only file system"), "create after the abort: " + e);
            assertArrayEquals(kept, Files.readAllBytes(mnt.resolve("kept")), "reads go on");
        } finally {
            String closed = error(m::close);
            assertNotNull(closed, "unmount of a filesystem turned read-only reports it");
            assertTrue(closed.contains("Read-only file system"), closed);
        }
        assertFalse(Files.exists(mnt.resolve("kept")), "unmounted");
        faults.stop();
        try (ext4j.fs.Ext4Vfs v = ext4j.fs.Ext4Vfs.open(img, ext4j.fs.Options.defaults())) { assertFalse(v.isReadOnly()); }
        Tools.assertFsckClean(img);
        try (ext4j.fs.Ext4Vfs v = ext4j.fs.Ext4Vfs.open(img, ext4j.fs.Options.defaults().withReadOnly(true))) {
            var f = v.open(v.lookup(ext4j.fs.Ext4Vfs.ROOT, "kept".getBytes()).ino(), ext4j.fs.Ext4Vfs.O_RDONLY, ext4j.fs.Caller.ROOT);
            ByteBuffer b = ByteBuffer.allocate(kept.length);
            while (b.hasRemaining() && v.read(f, b.position(), b) > 0) { }
            assertArrayEquals(kept, b.array(), "seed " + seed + ": fsynced file after recovery");
        }
    }
}
