package ext4j.nio;

import ext4j.block.FaultyBlockDevice;
import ext4j.block.FaultyBlockDevice.Effect;
import ext4j.block.FaultyBlockDevice.Kind;
import ext4j.testutil.Faults;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The NIO provider over a failing disk (env "faults"): a failed data write fails the next
 * force() once with "Input/output error" (or "No space left on device") and the filesystem stays
 * writable; a failed journal write fails the force that commits it, then changes fail (NIO's
 * ReadOnlyFileSystemException, or "Read-only file system" on a channel already open) and close
 * reports "Read-only file system"; the image recovers clean on a healthy device with
 * what was forced. Seed printed (-Dext4j.seed=N).
 */
class NioFaultTest {
    @TempDir Path tmp;

    private static final String EIO = "Input/output error", ENOSPC = "No space left on device", EROFS = "Read-only file system";

    private static String reason(IOException e) {
        assertInstanceOf(FileSystemException.class, e, "a FileSystemException naming the errno: " + e);
        return ((FileSystemException) e).getReason();
    }

    private static IOException thrown(IoCall c) {
        try { c.run(); } catch (IOException e) { return e; }
        return fail("succeeded on a failing disk");
    }

    private interface IoCall { void run() throws IOException; }

    /** A change refused on a filesystem turned read-only: NIO's ReadOnlyFileSystemException, or EROFS from a channel already open. */
    private static void assertReadOnly(String what, IoCall c) {
        try { c.run(); } catch (java.nio.file.ReadOnlyFileSystemException e) { return; } catch (IOException e) { assertEquals(EROFS, reason(e), what); return; }
        fail(what + " succeeded after the filesystem turned read-only");
    }

    private static byte[] random(Random rnd, int n) { byte[] b = new byte[n]; rnd.nextBytes(b); return b; }

    @Test
    void dataWriteErrorFailsOneForceAndTheFilesystemGoesOn() throws Exception {
        long seed = Long.getLong("ext4j.seed", System.nanoTime());
        System.out.println("NioFaultTest seed=" + seed + " (rerun with -Dext4j.seed=" + seed + ")");
        Random rnd = new Random(seed);
        Path img = tmp.resolve("data.img");
        Tools.mke2fs(img, null, "64M", "-t", "ext4", "-b", "4096");
        Effect effect = Effect.values()[rnd.nextInt(Effect.values().length)];
        FaultyBlockDevice.Faults faults = new FaultyBlockDevice.Faults(rnd.nextLong()).writeEffects(effect).region(Faults.outside(Faults.journal(img, 4096)));
        faults.stop();
        byte[] a = random(rnd, 150_000), b = random(rnd, 70_000);
        try (FileSystem fs = FileSystems.newFileSystem(img, Map.of("faults", faults, "commitSeconds", 0))) {
            Path pa = fs.getPath("/a");
            try (FileChannel ch = FileChannel.open(pa, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(random(rnd, 150_000)), 0);
                ch.force(true);
                faults.start();
                faults.at(Kind.WRITE, 1);
                ch.write(ByteBuffer.wrap(a), 0);
                assertEquals(effect == Effect.ENOSPC ? ENOSPC : EIO, reason(thrown(() -> ch.force(false))), "seed " + seed + " " + effect + ": force after a failed data write");
                ch.force(false);                                        // reported once
                ch.write(ByteBuffer.wrap(a), 0);                        // written again, acknowledged by the next force
                ch.force(true);
            }
            Files.write(fs.getPath("/b"), b);
            try (FileChannel ch = FileChannel.open(fs.getPath("/b"), StandardOpenOption.WRITE)) { ch.force(true); }
            assertArrayEquals(a, Files.readAllBytes(pa));
        }
        faults.stop();
        try (FileSystem fs = FileSystems.newFileSystem(img, Map.of())) {
            assertArrayEquals(a, Files.readAllBytes(fs.getPath("/a")), "seed " + seed);
            assertArrayEquals(b, Files.readAllBytes(fs.getPath("/b")), "seed " + seed);
        }
        Tools.assertFsckClean(img);
    }

    @Test
    void journalWriteErrorMakesTheFileSystemReadOnly() throws Exception {
        long seed = Long.getLong("ext4j.seed", System.nanoTime());
        System.out.println("NioFaultTest seed=" + seed + " (rerun with -Dext4j.seed=" + seed + ")");
        Random rnd = new Random(seed);
        Path img = tmp.resolve("meta.img");
        Tools.mke2fs(img, null, "64M", "-t", "ext4", "-b", "1024");
        FaultyBlockDevice.Faults faults = new FaultyBlockDevice.Faults(rnd.nextLong()).writeEffects(Effect.values()).region(Faults.journal(img, 1024));
        faults.stop();
        byte[] kept = random(rnd, 90_000);
        FileSystem fs = FileSystems.newFileSystem(img, Map.of("faults", faults, "commitSeconds", 0));
        Path k = fs.getPath("/kept");
        try (FileChannel ch = FileChannel.open(k, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(kept), 0);
            ch.force(true);
        }
        faults.start();
        faults.at(Kind.WRITE, 1 + rnd.nextInt(3));
        Files.createDirectory(fs.getPath("/dir"));
        try (FileChannel ch = FileChannel.open(fs.getPath("/new"), StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(random(rnd, 5000)), 0);
            String r = reason(thrown(() -> ch.force(true)));
            assertTrue(r.equals(EIO) || r.equals(ENOSPC), "seed " + seed + ": the force whose commit failed: " + r);
            assertReadOnly("write after the abort", () -> ch.write(ByteBuffer.wrap(new byte[1]), 0));
            assertReadOnly("force after the abort", () -> ch.force(true));
        }
        assertReadOnly("create after the abort", () -> Files.createFile(fs.getPath("/x")));
        assertReadOnly("delete after the abort", () -> Files.delete(k));
        assertTrue(fs.isReadOnly(), "the FileSystem says it is read-only now");
        assertArrayEquals(kept, Files.readAllBytes(k), "reads go on");
        assertEquals(EROFS, reason(thrown(fs::close)), "close of a filesystem turned read-only");
        faults.stop();
        try (FileSystem r = FileSystems.newFileSystem(img, Map.of())) {
            assertArrayEquals(kept, Files.readAllBytes(r.getPath("/kept")), "seed " + seed + ": forced file after recovery");
        }
        Tools.assertFsckClean(img);
    }
    /**
     * Damage met through the provider (a directory block zeroed behind its back) fails that call
     * and turns the filesystem read-only (isReadOnly true, changes ReadOnlyFileSystemException), as the kernel's errors=remount-ro and the FUSE server
     * do: the rest reads on, a later write is refused as read-only, and what was written before
     * the damage was found is kept.
     */
    @Test
    void damageFoundWhileOpenFailsTheCallAndTurnsTheFileSystemReadOnly() throws Exception {
        Path img = tmp.resolve("damage.img");
        Tools.mke2fs(img, null, "64M", "-t", "ext4", "-b", "4096");
        try (FileSystem fs = FileSystems.newFileSystem(img, Map.of())) {
            Files.createDirectories(fs.getPath("/victim"));
            for (int i = 0; i < 5; i++) Files.writeString(fs.getPath("/victim/f" + i), "x");
            Files.writeString(fs.getPath("/safe"), "kept");
        }
        long block = Long.parseLong(Tools.debugfs(img, "bmap /victim 0").lines().reduce((a, b) -> b).orElseThrow().trim());
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.WRITE)) { ch.write(ByteBuffer.wrap(new byte[64]), block * 4096 + 24); }
        try (FileSystem fs = FileSystems.newFileSystem(img, Map.of())) {
            Files.writeString(fs.getPath("/before-damage"), "acknowledged");
            IOException e = assertThrows(IOException.class, () -> {
                try (var s = Files.list(fs.getPath("/victim"))) { s.count(); } catch (java.io.UncheckedIOException u) { throw u.getCause(); }
            });
            assertTrue(String.valueOf(e.getMessage()).contains("physical " + block), "the error names the damaged block: " + e);
            assertEquals("kept", Files.readString(fs.getPath("/safe")), "the rest reads on");
            assertThrows(java.nio.file.ReadOnlyFileSystemException.class, () -> Files.writeString(fs.getPath("/after-damage"), "x"), "NIO's failure for a read-only filesystem");
            assertTrue(fs.isReadOnly(), "the filesystem says it is read-only");
        } catch (IOException closing) {
            assertTrue(String.valueOf(closing.getMessage()).toLowerCase().contains("read-only"), closing.toString());
        }
        Tools.run("e2fsck", "-fy", img.toString());             // replays what was committed and repairs the damaged block
        assertTrue(Tools.debugfs(img, "cat /before-damage").contains("acknowledged"), "a write acknowledged before the damage was found is kept");
    }
}
