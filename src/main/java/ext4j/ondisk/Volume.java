package ext4j.ondisk;

import ext4j.block.BlockDevice;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The metadata layer's entry point: a device plus its superblock and group descriptors.
 * Reads blocks (metadata through a small LRU cache), locates and parses inodes, and checks
 * descriptor and bitmap checksums. Knows nothing of files or directories.
 */
public final class Volume implements Closeable {
    private static final int CACHE_BLOCKS = 4096;

    private final BlockDevice dev;
    private final Superblock sb;
    private final GroupDesc[] groups;
    private final int blockSize;
    private final Map<Long, ByteBuffer> cache = new LinkedHashMap<>(256, 0.75f, true) {
        @Override protected boolean removeEldestEntry(Map.Entry<Long, ByteBuffer> e) { return size() > CACHE_BLOCKS; }
    };

    private Volume(BlockDevice dev, Superblock sb, GroupDesc[] groups) {
        this.dev = dev;
        this.sb = sb;
        this.groups = groups;
        this.blockSize = sb.blockSize();
    }

    /** Reads and checks the superblock and every group descriptor. */
    public static Volume open(BlockDevice dev) throws IOException {
        if (dev.size() < Superblock.OFFSET + Superblock.SIZE)
            throw new CorruptException("too small for an ext2/3/4 filesystem (" + dev.size() + " bytes)");
        ByteBuffer raw = ByteBuffer.allocate(Superblock.SIZE);
        dev.read(Superblock.OFFSET, raw);
        Superblock sb = Superblock.parse(raw.flip(), dev.name());
        long fsBytes = sb.blocksCount() * sb.blockSize();
        if (fsBytes / sb.blockSize() != sb.blocksCount() || fsBytes > dev.size())
            throw new CorruptException("filesystem is " + sb.blocksCount() + " blocks of " + sb.blockSize()
                    + " bytes but the device has only " + dev.size() + " bytes (truncated image?)");
        return new Volume(dev, sb, readGroupDescs(dev, sb));
    }

    private static GroupDesc[] readGroupDescs(BlockDevice dev, Superblock sb) throws IOException {
        long count = sb.groupCount();
        int bs = sb.blockSize(), ds = sb.descSize(), perBlock = bs / ds;
        GroupDesc[] out = new GroupDesc[Math.toIntExact(count)];
        ByteBuffer blk = ByteBuffer.allocate(bs).order(ByteOrder.LITTLE_ENDIAN);
        long loaded = -1;
        for (long g = 0; g < count; g++) {
            long block = descBlock(sb, g / perBlock);
            if (block != loaded) {
                if (block >= sb.blocksCount()) throw new CorruptException("group " + g + " descriptor block " + block + " is past the end of the filesystem");
                dev.read(block * bs, blk.clear());
                loaded = block;
            }
            GroupDesc gd = GroupDesc.of(blk.duplicate().order(ByteOrder.LITTLE_ENDIAN).position((int) (g % perBlock) * ds), ds, g);
            int want = gd.computeChecksum(sb);
            if (want >= 0 && want != gd.checksum())
                throw new CorruptException(String.format("group %d descriptor checksum mismatch: stored 0x%04x, computed 0x%04x (descriptor block %d)", g, gd.checksum(), want, block));
            checkDesc(sb, gd, block);
            out[(int) g] = gd;
        }
        return out;
    }

    /**
     * Block holding the i-th block of descriptors: right after the superblock's block, or with
     * meta_bg, in the first group of each metagroup (after its superblock backup, if any).
     */
    private static long descBlock(Superblock sb, long i) {
        long sbBlock = Superblock.OFFSET / sb.blockSize(); // 1 for 1 KiB blocks (even with bigalloc's first block 0), else 0
        if (!sb.hasIncompat(Features.INCOMPAT_META_BG) || i < sb.firstMetaBg()) return sbBlock + 1 + i;
        long g = i * (sb.blockSize() / sb.descSize());
        long b = sb.firstDataBlock() + g * Integer.toUnsignedLong(sb.blocksPerGroup()) + (sb.groupHasSuper(g) ? 1 : 0);
        return g == 0 && b <= sbBlock ? sbBlock + 1 : b;
    }

    private static void checkDesc(Superblock sb, GroupDesc gd, long block) throws CorruptException {
        long n = sb.blocksCount();
        long itBlocks = ((long) sb.inodesPerGroup() * sb.inodeSize() + sb.blockSize() - 1) / sb.blockSize();
        String at = " (group " + gd.group() + " descriptor in block " + block + ")";
        if (gd.blockBitmap() >= n || gd.blockBitmap() < sb.firstDataBlock()) throw new CorruptException("block bitmap at block " + gd.blockBitmap() + " outside the filesystem" + at);
        if (gd.inodeBitmap() >= n || gd.inodeBitmap() < sb.firstDataBlock()) throw new CorruptException("inode bitmap at block " + gd.inodeBitmap() + " outside the filesystem" + at);
        if (gd.inodeTable() < sb.firstDataBlock() || gd.inodeTable() + itBlocks > n) throw new CorruptException("inode table at block " + gd.inodeTable() + " outside the filesystem" + at);
    }

    public Superblock superblock() { return sb; }
    public int blockSize() { return blockSize; }
    public long groupCount() { return groups.length; }
    public GroupDesc group(long g) { return groups[Math.toIntExact(g)]; }
    public BlockDevice device() { return dev; }

    /** True if block lies inside the filesystem (and is not block 0 of a 1K filesystem's boot area). */
    public boolean validBlock(long block) { return block >= sb.firstDataBlock() && block < sb.blocksCount(); }

    /** A metadata block, cached. The returned buffer is read-only and positioned at 0. */
    public ByteBuffer readMetaBlock(long block, String what) throws IOException {
        if (!validBlock(block)) throw new CorruptException(what + ": block " + block + " is outside the filesystem (0.." + (sb.blocksCount() - 1) + ")");
        ByteBuffer hit;
        synchronized (cache) { hit = cache.get(block); }
        if (hit != null) return hit.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer b = ByteBuffer.allocate(blockSize).order(ByteOrder.LITTLE_ENDIAN);
        dev.read(block * blockSize, b);
        ByteBuffer ro = b.flip().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        synchronized (cache) { cache.put(block, ro); }
        return ro.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Reads count data blocks starting at block into dst (uncached; for file contents). */
    public void readBlocks(long block, ByteBuffer dst) throws IOException {
        long blocks = (dst.remaining() + blockSize - 1L) / blockSize;
        if (!validBlock(block) || block + blocks > sb.blocksCount())
            throw new CorruptException("data blocks " + block + ".." + (block + blocks - 1) + " are outside the filesystem");
        dev.read(block * blockSize, dst);
    }

    /** Parses inode number ino (1-based) from its inode table. */
    public Inode readInode(long ino) throws IOException {
        if (ino < 1 || ino > Integer.toUnsignedLong(sb.inodesCount())) throw new CorruptException("inode " + ino + " is out of range (1.." + Integer.toUnsignedLong(sb.inodesCount()) + ")");
        long g = (ino - 1) / sb.inodesPerGroup();
        long idx = (ino - 1) % sb.inodesPerGroup();
        long byteOff = idx * sb.inodeSize();
        long block = groups[(int) g].inodeTable() + byteOff / blockSize;
        ByteBuffer b = readMetaBlock(block, "inode " + ino);
        return Inode.parse(ino, b.position((int) (byteOff % blockSize)), sb, "inode table block " + block);
    }

    /** Checks the checksums of every initialised block and inode bitmap; returns one message per mismatch. */
    public List<String> verifyBitmaps() throws IOException {
        List<String> bad = new ArrayList<>();
        if (!sb.hasMetadataCsum()) return bad;
        boolean wide = sb.descSize() >= 64;
        for (GroupDesc gd : groups) {
            if (!gd.hasFlag(GroupDesc.FLAG_BLOCK_UNINIT)) {
                ByteBuffer bm = readMetaBlock(gd.blockBitmap(), "group " + gd.group() + " block bitmap");
                int c = Crc32c.update(sb.checksumSeed(), bm, 0, sb.clustersPerGroup() / 8);
                if (!wide) c &= 0xFFFF;
                if (c != gd.blockBitmapCsum()) bad.add(String.format("group %d block bitmap checksum mismatch: stored 0x%x, computed 0x%x (block %d)", gd.group(), gd.blockBitmapCsum(), c, gd.blockBitmap()));
            }
            if (!gd.hasFlag(GroupDesc.FLAG_INODE_UNINIT)) {
                ByteBuffer bm = readMetaBlock(gd.inodeBitmap(), "group " + gd.group() + " inode bitmap");
                int c = Crc32c.update(sb.checksumSeed(), bm, 0, sb.inodesPerGroup() / 8);
                if (!wide) c &= 0xFFFF;
                if (c != gd.inodeBitmapCsum()) bad.add(String.format("group %d inode bitmap checksum mismatch: stored 0x%x, computed 0x%x (block %d)", gd.group(), gd.inodeBitmapCsum(), c, gd.inodeBitmap()));
            }
        }
        return bad;
    }

    @Override public void close() throws IOException { dev.close(); }
}
