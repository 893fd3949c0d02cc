package ext4j.fuzz;

import ext4j.fuzz.FuzzImages.Kind;
import ext4j.fuzz.FuzzImages.Seed;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fuzz harness itself: the seeds' metadata maps find every kind of structure, and resealing computes the checksums the disk has. */
class FuzzImagesTest {
    @Test
    void seedsMapTheirStructures() {
        List<Seed> seeds = FuzzImages.seeds();
        assertTrue(seeds.size() >= FuzzImages.COMMITTED);
        System.out.println("fuzz seeds: " + seeds.stream().map(s -> s.name).toList());
        for (Seed s : seeds.subList(0, FuzzImages.COMMITTED)) {
            assertFalse(s.regions(EnumSet.of(Kind.INODE)).isEmpty(), s.name);
            assertFalse(s.regions(EnumSet.of(Kind.DIR)).isEmpty(), s.name);
            assertTrue(s.files.size() > 5, s.name + ": regular files with known bytes");
        }
        Seed csum = seeds.get(0), ext2 = seeds.get(2);
        assertTrue(csum.csum);
        for (Kind k : Set.of(Kind.EXTENT, Kind.XATTR, Kind.JOURNAL, Kind.GROUP_DESC))
            assertFalse(csum.regions(EnumSet.of(k)).isEmpty(), "ext4-csum has " + k);
        assertFalse(ext2.regions(EnumSet.of(Kind.INDIRECT)).isEmpty(), "ext2 seed has indirect blocks");
    }

    @Test
    void resealingAnUntouchedImageChangesNoByte() {
        for (Seed s : FuzzImages.seeds()) {
            // the kernel seed's journal holds newer copies of some blocks: on disk they are not what the map describes
            if (!s.csum || s.name.equals("kernel-journal")) continue;
            byte[] img = s.image.clone();
            FuzzImages.reseal(s, img, s.regions(EnumSet.of(Kind.SUPERBLOCK, Kind.GROUP_DESC, Kind.INODE, Kind.EXTENT, Kind.DIR, Kind.XATTR)));
            for (int i = 0; i < img.length; i++)
                if (img[i] != s.image[i]) throw new AssertionError(s.name + ": reseal changed byte " + i + " (block " + i / s.blockSize + ")");
            assertArrayEquals(s.image, img);
        }
    }

    /** The dxHash target's finding, in place: an htree root naming siphash gives a CorruptException naming the directory, not DxHash's UnsupportedOperationException. */
    @Test
    void siphashHtreeRootIsCorruption() throws Exception {
        Seed s = FuzzImages.seeds().get(1); // ext4-nocsum-1k: no checksum to redo
        java.util.Map<Long, Integer> blocks = new java.util.HashMap<>();
        for (FuzzImages.Region r : s.regions(EnumSet.of(Kind.DIR))) blocks.merge(r.owner(), 1, Integer::sum);
        long htree = blocks.entrySet().stream().max(java.util.Map.Entry.comparingByValue()).orElseThrow().getKey();
        FuzzImages.Region root = s.regions(EnumSet.of(Kind.DIR)).stream().filter(r -> r.owner() == htree && r.lblk() == 0).findFirst().orElseThrow();
        byte[] img = s.image.clone();
        assertEquals(1, img[(int) root.offset() + 0x1C], "the seed's htree uses half_md4");
        img[(int) root.offset() + 0x1C] = 6;
        try (var vfs = ext4j.fs.Ext4Vfs.open(new ext4j.block.MemoryBlockDevice(img, "siphash", true), ext4j.fs.Options.defaults().withReadOnly(true))) {
            var e = org.junit.jupiter.api.Assertions.assertThrows(ext4j.base.CorruptException.class,
                    () -> vfs.lookup(htree, "entry-with-a-longer-name-7".getBytes()));
            assertEquals("directory inode " + htree + ": htree root names the siphash hash, used only by casefolded encrypted directories", e.getMessage());
        }
    }

    /** The writeSequence finding, in place: a bitmap showing the superblock as free must not get the superblock allocated and overwritten. */
    @Test
    void bitmapShowingTheSuperblockFreeIsCorruption() throws Exception {
        Seed s = FuzzImages.seeds().get(1); // ext4-nocsum-1k: the superblock is block 1, bit 0 of group 0's bitmap
        FuzzImages.Region bitmap = s.regions(EnumSet.of(Kind.BITMAP)).get(0);
        byte[] img = s.image.clone();
        // every block in use but the superblock's: the allocator's search must end there
        java.util.Arrays.fill(img, (int) bitmap.offset(), (int) bitmap.offset() + s.blockSize, (byte) 0xFF);
        img[(int) bitmap.offset()] &= (byte) ~1;
        byte[] sbBefore = java.util.Arrays.copyOfRange(img, 1024, 2048);
        var dev = new ext4j.block.MemoryBlockDevice(img, "free-superblock", false);
        IOException failure = null;
        try (var vfs = ext4j.fs.Ext4Vfs.open(dev, ext4j.fs.Options.defaults().withForce(true))) {
            var e = vfs.create(ext4j.fs.Ext4Vfs.ROOT, "new".getBytes(), 0100644, 022, ext4j.fs.Caller.ROOT);
            var f = vfs.open(e.ino(), ext4j.fs.Ext4Vfs.O_RDWR, ext4j.fs.Caller.ROOT);
            vfs.write(f, 0, java.nio.ByteBuffer.wrap(new byte[8192]), ext4j.fs.Caller.ROOT);
            vfs.fsync(f, false);
            vfs.release(f);
        } catch (IOException x) {
            failure = x;
        }
        assertTrue(failure != null && failure.getMessage().contains("shows metadata blocks 1+"), "expected the bitmap refused, got " + failure);
        // still this filesystem's superblock (the open set needs_recovery in it, which the abort leaves)
        var after = ext4j.ondisk.Superblock.parse(java.nio.ByteBuffer.wrap(dev.bytes(), 1024, 1024).slice().order(java.nio.ByteOrder.LITTLE_ENDIAN), "after");
        var before = ext4j.ondisk.Superblock.parse(java.nio.ByteBuffer.wrap(sbBefore).order(java.nio.ByteOrder.LITTLE_ENDIAN), "before");
        assertEquals(before.blocksCount(), after.blocksCount());
        assertEquals(before.uuid(), after.uuid());
    }
}
