package ext4j.fs;

import ext4j.testutil.Seeds;
import ext4j.extent.ExtentTree;
import ext4j.ondisk.Inode;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Extent trees of files with thousands of extents: edits rewrite a few leaves, not every leaf
 * after the change, and every stored tree keeps the shape e2fsck does not ask to optimize (its
 * -fn output is checked line by line, so "could be narrower" or "could be shorter" fails).
 * Data is checked against a block model, and through a kernel mount where one is possible.
 */
class ExtentTreeShapeTest {
    @TempDir Path tmp;

    private Path image(String size) throws Exception {
        Path img = tmp.resolve("t" + System.nanoTime() + ".img");
        Tools.mke2fs(img, null, size, "-t", "ext4", "-b", "1024");
        return img;
    }

    /** A random source with its seed printed (-Dext4j.seed=N replays it). */
    private static Random seeded() {
        return Seeds.random("ExtentTreeShapeTest");
    }

    private static byte[] block(long b) { byte[] d = new byte[1024]; Arrays.fill(d, (byte) (b % 251 + 1)); return d; }

    /**
     * 34,000 single-block writes at random places in a 300 MiB sparse file (1K blocks: 84 extents a
     * leaf, about 370 leaves, so a tree of depth 3), written back every 200. A packed tree rewrote
     * every leaf after each insertion point, about 180 leaves per edit; now an edit writes a few.
     */
    @Test
    void randomInsertionsRewriteFewLeavesAndKeepTheTreeNarrow() throws Exception {
        Path img = image("160M");
        Random r = seeded();
        TreeMap<Long, Boolean> written = new TreeMap<>();
        long ino;
        ExtentTree t;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            ino = fs.createFile("/sparse", 0644, 0, 0).number();
            while (written.size() < 34_000) {
                long b = r.nextInt(300 * 1024);
                if (written.put(b, true) != null) continue;
                fs.write("/sparse", b * 1024, ByteBuffer.wrap(block(b)));
                if (written.size() % 200 == 0) fs.fsync("/sparse");
            }
            fs.fsync("/sparse");
            t = fs.writerForTest().cachedTree(ino);
            assertNotNull(t, "the tree stays cached between edits");
            int extents = t.extents().size();
            double perEdit = (double) t.leafWrites() / extents;
            System.out.printf("%d extents in %d tree blocks: %d leaves written (%.1f per extent), %d relayouts%n",
                    extents, t.nodeCount(), t.leafWrites(), perEdit, t.relayouts());
            assertTrue(t.nodeCount() > 340, "the test must make a tree of depth 3 (over 4 x 84 leaves): " + t.nodeCount());
            // each extent costs two edits (allocation, conversion); a packed tree would write ~180 leaves per edit
            assertTrue(perEdit < 12, "leaves written per extent: " + perEdit);
        }
        Tools.assertFsckClean(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            Inode f = fs.resolve("/sparse", true);
            for (long b : written.keySet()) {
                ByteBuffer got = ByteBuffer.allocate(1024);
                fs.read(f, b * 1024, got);
                assertArrayEquals(block(b), got.array(), "block " + b);
                if (!written.containsKey(b + 1) && (b + 1) * 1024 < f.size()) {
                    ByteBuffer hole = ByteBuffer.allocate(1024);
                    fs.read(f, (b + 1) * 1024, hole);
                    assertArrayEquals(new byte[1024], hole.array(), "hole at block " + (b + 1));
                }
            }
        }
        kernelReads(img, written);
    }

    /**
     * Streaming writes (64 KiB and more, straight to written blocks) at random places of a sparse
     * file with 1K blocks: a new extent that lands physically right before or after a neighbour is
     * merged with it, also across a leaf boundary (the next leaf's first key moves down). The tree
     * must stay valid (e2fsck -fn line by line) and the data read back as written.
     */
    @Test
    void streamedWritesMergingAcrossLeavesKeepTheTreeValid() throws Exception {
        Path img = image("160M");
        Random r = seeded();
        TreeMap<Long, Integer> written = new TreeMap<>();   // first block -> blocks
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/sparse", 0644, 0, 0);
            for (int i = 0; i < 1500; i++) {
                long b = (long) r.nextInt(100 * 1024 / 64) * 64 + (r.nextBoolean() ? 0 : r.nextInt(64));
                int n = 64 + r.nextInt(3) * 64;
                byte[] d = new byte[n * 1024];
                for (int k = 0; k < n; k++) Arrays.fill(d, k * 1024, (k + 1) * 1024, (byte) ((b + k) % 251 + 1));
                fs.write("/sparse", b * 1024, ByteBuffer.wrap(d));
                for (int k = 0; k < n; k++) written.put(b + k, 1);
                if (i % 100 == 0) fs.fsync("/sparse");
            }
            fs.fsync("/sparse");
        }
        Tools.assertFsckClean(img);
        assertBlocks(img, "/sparse", written.keySet(), ExtentTreeShapeTest::block);
    }

    /** Each of the blocks of the file at path, read from the image, holds want(block). */
    private static void assertBlocks(Path img, String path, Iterable<Long> blocks, java.util.function.LongFunction<byte[]> want) throws Exception {
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            Inode f = fs.resolve(path, true);
            for (long b : blocks) {
                ByteBuffer got = ByteBuffer.allocate(1024);
                fs.read(f, b * 1024, got);
                assertArrayEquals(want.apply(b), got.array(), "block " + b);
            }
        }
    }

    /**
     * A file growing by separate extents at its end (a log with holes): each new leaf is filled in
     * order, so appending costs about one leaf write per edit, and the tree stays packed.
     */
    @Test
    void appendsFillLeavesInOrder() throws Exception {
        Path img = image("64M");
        long ino;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            ino = fs.createFile("/log", 0644, 0, 0).number();
            for (long i = 0; i < 12_000; i++) {
                fs.write("/log", 2 * i * 1024, ByteBuffer.wrap(block(2 * i)));
                if (i % 50 == 49) fs.fsync("/log");
            }
            fs.fsync("/log");
            ExtentTree t = fs.writerForTest().cachedTree(ino);
            double perEdit = (double) t.leafWrites() / t.extents().size();
            System.out.printf("appends: %d extents in %d tree blocks: %d leaves written (%.2f per extent), %d relayouts%n",
                    t.extents().size(), t.nodeCount(), t.leafWrites(), perEdit, t.relayouts());
            assertEquals(12_000, t.extents().size());
            assertTrue(perEdit < 3, "leaves written per appended extent: " + perEdit);
            assertEquals((12_000 + 83) / 84 + 2, t.nodeCount(), "packed: as few leaves as hold the extents, plus 2 index blocks");
        }
        Tools.assertFsckClean(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            Inode f = fs.resolve("/log", true);
            for (long i = 0; i < 12_000; i += 7) {
                ByteBuffer got = ByteBuffer.allocate(1024);
                fs.read(f, 2 * i * 1024, got);
                assertArrayEquals(block(2 * i), got.array(), "block " + 2 * i);
            }
        }
    }

    /**
     * Unwritten extents by the thousand (fallocate of scattered ranges), then writes into some of
     * them (each conversion splits an extent in up to three), punched holes and a truncate: the
     * tree grows and shrinks, and after each phase e2fsck is quiet and the data is the model's.
     */
    @Test
    void conversionsPunchesAndTruncatesKeepTheTreeNarrow() throws Exception {
        Path img = image("64M");
        Random r = seeded();
        int span = 60_000;                                  // blocks
        byte[] model = new byte[span];                      // per block: 0 = zeros, else the fill byte
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/f", 0644, 0, 0);
            fs.truncate("/f", (long) span * 1024);
            for (int i = 0; i < 4000; i++) {                 // scattered preallocations: unwritten extents
                long b = r.nextInt(span - 8);
                fs.fallocate("/f", b * 1024, (1 + r.nextInt(4)) * 1024L, true);
            }
            fs.fsync("/f");
            phase(fs, img, model, "after fallocate");
            for (int i = 0; i < 6000; i++) {                 // writes into and around them
                int b = r.nextInt(span);
                byte v = (byte) (1 + r.nextInt(250));
                byte[] d = new byte[1024];
                Arrays.fill(d, v);
                fs.write("/f", (long) b * 1024, ByteBuffer.wrap(d));
                model[b] = v;
                if (i % 300 == 0) fs.fsync("/f");
            }
            fs.fsync("/f");
            phase(fs, img, model, "after writes");
            for (int i = 0; i < 1500; i++) {                 // punched holes take extents away
                int b = r.nextInt(span - 40), n = 1 + r.nextInt(40);
                fs.punchHole("/f", (long) b * 1024, (long) n * 1024);
                Arrays.fill(model, b, b + n, (byte) 0);
                if (i % 300 == 0) fs.fsync("/f");
            }
            fs.fsync("/f");
            phase(fs, img, model, "after punching");
            fs.truncate("/f", (long) (span / 3) * 1024);
            Arrays.fill(model, span / 3, span, (byte) 0);
            fs.fsync("/f");
            check(fs, model, span / 3, "after truncate");
        }
        Tools.assertFsckClean(img);
    }

    /**
     * A tree the kernel made: random writes with fdatasync through a loop mount leave half-full
     * leaves (e2fsck: "could be narrower"). ext4j's first edit of the file lays its leaf level out
     * again, so after it e2fsck is quiet, and every block reads back as the kernel wrote it.
     */
    @Test
    void editingAKernelMadeTreeLeavesItNarrow() throws Exception {
        Tools.requireMount();
        Path img = image("64M");
        Path mnt = Files.createDirectory(tmp.resolve("kmnt"));
        Random r = seeded();
        TreeMap<Long, Byte> model = new TreeMap<>();
        assertEquals(0, Tools.run("mount", "-o", "loop", img.toString(), mnt.toString()).exit());
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(mnt.resolve("k"),
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE)) {
            for (int i = 0; i < 3000; i++) {
                long b = r.nextInt(40_000);
                byte v = (byte) (1 + r.nextInt(250));
                byte[] d = new byte[1024];
                Arrays.fill(d, v);
                ch.write(ByteBuffer.wrap(d), b * 1024);
                model.put(b, v);
                if (i % 3 == 0) ch.force(false);          // allocate now: one extent per write, leaves split as they fill
            }
        } finally {
            Tools.run("umount", mnt.toString());
        }
        String before = Tools.run("e2fsck", "-fn", img.toString()).out();
        System.out.println("e2fsck on the kernel's tree: " + Tools.fsckFinding(before));
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            long hole = 40_001;
            byte[] d = new byte[1024];
            Arrays.fill(d, (byte) 7);
            fs.write("/k", hole * 1024, ByteBuffer.wrap(d));
            model.put(hole, (byte) 7);
            fs.fsync("/k");
        }
        Tools.assertFsckClean(img);
        assertBlocks(img, "/k", model.keySet(), b -> { byte[] want = new byte[1024]; Arrays.fill(want, model.get(b)); return want; });
    }

    private void phase(Ext4FileSystem fs, Path img, byte[] model, String when) throws Exception {
        fs.sync();
        Path copy = tmp.resolve("phase.img");
        Files.copy(img, copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Ext4FileSystem.recover(copy);                       // the journal as committed, replayed into the copy
        String out = Tools.run("e2fsck", "-fn", copy.toString()).out();
        assertNull(Tools.fsckFinding(out), when + ": " + out);
        check(fs, model, model.length, when);
    }

    private static void check(Ext4FileSystem fs, byte[] model, int blocks, String when) throws Exception {
        Inode f = fs.resolve("/f", true);
        assertEquals((long) blocks * 1024, f.size(), when + ": size");
        ByteBuffer all = ByteBuffer.allocate(blocks * 1024);
        while (all.hasRemaining() && fs.read(f, all.position(), all) > 0) { }
        byte[] a = all.array();
        for (int b = 0; b < blocks; b++)
            for (int k = 0; k < 1024; k += 341)
                if (a[b * 1024 + k] != model[b]) fail(when + ": block " + b + " byte " + k + " is " + a[b * 1024 + k] + ", expected " + model[b]);
    }

    /** A sample of the written blocks read through the kernel's ext4. */
    private void kernelReads(Path img, TreeMap<Long, Boolean> written) throws Exception {
        Tools.requireMount();                                   // a visible skip where the kernel cannot loop-mount
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        assertEquals(0, Tools.run("mount", "-o", "loop,ro", img.toString(), mnt.toString()).exit());
        try (RandomAccessFile f = new RandomAccessFile(mnt.resolve("sparse").toFile(), "r")) {
            int k = 0;
            for (long b : written.keySet()) {
                if (k++ % 37 != 0) continue;
                byte[] got = new byte[1024];
                f.seek(b * 1024);
                f.readFully(got);
                assertArrayEquals(block(b), got, "kernel read of block " + b);
            }
        } finally {
            Tools.run("umount", mnt.toString());
        }
    }
}
