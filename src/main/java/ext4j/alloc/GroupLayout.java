package ext4j.alloc;

import ext4j.ondisk.Features;
import ext4j.ondisk.GroupDesc;
import ext4j.ondisk.Superblock;
import ext4j.ondisk.Volume;

/**
 * Where a group's blocks start and end and which of them hold fixed metadata. Used to build the
 * block bitmap of a BLOCK_UNINIT group the way the kernel does when it first allocates there.
 */
public final class GroupLayout {
    private GroupLayout() {}

    static long firstBlock(Superblock sb, long g) {
        return sb.firstDataBlock() + g * Integer.toUnsignedLong(sb.blocksPerGroup());
    }

    /** Blocks in group g (the last group may be short). */
    static int blocksInGroup(Superblock sb, long g) {
        long start = firstBlock(sb, g);
        return (int) Math.min(Integer.toUnsignedLong(sb.blocksPerGroup()), sb.blocksCount() - start);
    }

    /** Number of blocks of the group descriptor table (without meta_bg). */
    public static long descBlocks(Superblock sb) {
        long perBlock = sb.blockSize() / sb.descSize();
        return (sb.groupCount() + perBlock - 1) / perBlock;
    }

    /**
     * Fills bitmap (one block, all zero on entry) as an unused group's bitmap: superblock backup,
     * descriptor table and reserved GDT blocks if the group has a backup, every bitmap and inode
     * table of any group that lies in this group (flex_bg packs them), and the padding bits past
     * the group's last block.
     */
    static void initBlockBitmap(Volume vol, long g, byte[] bitmap) {
        Superblock sb = vol.superblock();
        if (sb.hasIncompat(Features.INCOMPAT_META_BG)) throw new UnsupportedOperationException("meta_bg: writing is not supported");
        long start = firstBlock(sb, g);
        int n = blocksInGroup(sb, g);
        if (sb.groupHasSuper(g)) {
            long meta = 1 + descBlocks(sb) + sb.reservedGdtBlocks();
            // with 1 KiB blocks and first_data_block 0 (bigalloc) the boot block also counts; not supported for writes
            for (long i = 0; i < meta; i++) set(bitmap, i);
        }
        long itBlocks = ((long) sb.inodesPerGroup() * sb.inodeSize() + sb.blockSize() - 1) / sb.blockSize();
        for (long o = 0; o < vol.groupCount(); o++) {
            GroupDesc d = vol.group(o);
            markIfInside(bitmap, start, n, d.blockBitmap(), 1);
            markIfInside(bitmap, start, n, d.inodeBitmap(), 1);
            markIfInside(bitmap, start, n, d.inodeTable(), itBlocks);
        }
        for (long i = n; i < (long) sb.blockSize() * 8; i++) set(bitmap, i);
    }

    private static void markIfInside(byte[] bm, long start, int n, long first, long count) {
        for (long b = Math.max(first, start); b < Math.min(first + count, start + n); b++) set(bm, b - start);
    }

    static void set(byte[] bm, long bit) { bm[(int) (bit >>> 3)] |= (byte) (1 << (bit & 7)); }
    static void clear(byte[] bm, long bit) { bm[(int) (bit >>> 3)] &= (byte) ~(1 << (bit & 7)); }
    static boolean test(byte[] bm, long bit) { return (bm[(int) (bit >>> 3)] & (1 << (bit & 7))) != 0; }
}
