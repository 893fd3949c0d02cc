package ext4j.ondisk;

import ext4j.base.CorruptException;
import ext4j.base.Crc32c;

import ext4j.block.BlockDevice;
import ext4j.block.BufferCache;
import ext4j.journal.Handle;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The metadata layer's entry point: a device plus its superblock and group descriptors.
 * Reads metadata blocks through the {@link BufferCache}, locates and parses inodes, checks
 * descriptor and bitmap checksums, and applies changes to the superblock, descriptors and inodes
 * through a journal {@link Handle}. Knows nothing of files or directories.
 */
public final class Volume implements Closeable {
    private static final int CACHE_BLOCKS = 8192;

    private final BlockDevice dev;
    private final BufferCache cache;
    private volatile Superblock sb;
    private final GroupDesc[] groups;
    private final int blockSize;
    private final List<String> problems; // checksum mismatches tolerated by a lenient open
    private final long sbBlock;   // block holding the primary superblock
    private final int sbOffset;   // its byte offset in that block

    private Volume(BlockDevice dev, BufferCache cache, Superblock sb, GroupDesc[] groups, List<String> problems) {
        this.problems = problems;
        this.dev = dev;
        this.cache = cache;
        this.sb = sb;
        this.groups = groups;
        this.blockSize = sb.blockSize();
        this.sbBlock = Superblock.OFFSET / blockSize;
        this.sbOffset = Superblock.OFFSET % blockSize;
    }

    /** Reads and checks the superblock and every group descriptor. */
    public static Volume open(BlockDevice dev) throws IOException { return open(dev, false); }

    /**
     * Opens the volume; with lenient, descriptor checksum mismatches are collected in
     * {@link #problems()} instead of failing (a forced write rewrites them when it touches them).
     */
    public static Volume open(BlockDevice dev, boolean lenient) throws IOException {
        if (dev.size() < Superblock.OFFSET + Superblock.SIZE)
            throw new CorruptException("too small for an ext2/3/4 filesystem (" + dev.size() + " bytes)");
        ByteBuffer raw = ByteBuffer.allocate(Superblock.SIZE);
        dev.read(Superblock.OFFSET, raw);
        Superblock sb = Superblock.parse(raw.flip(), dev.name());
        long fsBytes = sb.blocksCount() * sb.blockSize();
        if (fsBytes / sb.blockSize() != sb.blocksCount() || fsBytes > dev.size())
            throw new CorruptException("filesystem is " + sb.blocksCount() + " blocks of " + sb.blockSize()
                    + " bytes but the device has only " + dev.size() + " bytes (truncated image?)");
        BufferCache cache = new BufferCache(dev, sb.blockSize(), CACHE_BLOCKS);
        List<String> problems = new ArrayList<>();
        return new Volume(dev, cache, sb, readGroupDescs(cache, sb, lenient ? problems : null), problems);
    }

    /** Problems tolerated at a lenient open (empty otherwise). */
    public List<String> problems() { return java.util.Collections.unmodifiableList(problems); }

    private static GroupDesc[] readGroupDescs(BufferCache cache, Superblock sb, List<String> tolerated) throws IOException {
        long count = sb.groupCount();
        int ds = sb.descSize(), perBlock = sb.blockSize() / ds;
        GroupDesc[] out = new GroupDesc[Math.toIntExact(count)];
        for (long g = 0; g < count; g++) {
            long block = descBlock(sb, g / perBlock);
            if (block >= sb.blocksCount()) throw new CorruptException("group " + g + " descriptor block " + block + " is past the end of the filesystem");
            ByteBuffer blk = cache.read(block);
            GroupDesc gd = GroupDesc.of(blk.position((int) (g % perBlock) * ds), ds, g);
            int want = gd.computeChecksum(sb);
            if (want >= 0 && want != gd.checksum()) {
                String msg = String.format("group %d descriptor checksum mismatch: stored 0x%04x, computed 0x%04x (descriptor block %d)", g, gd.checksum(), want, block);
                if (tolerated == null) throw new CorruptException(msg);
                tolerated.add(msg);
            }
            checkDesc(sb, gd, block);
            out[(int) g] = gd;
        }
        return out;
    }

    /**
     * Block holding the i-th block of descriptors: right after the superblock's block, or with
     * meta_bg, in the first group of each metagroup (after its superblock backup, if any).
     */
    public static long descBlock(Superblock sb, long i) {
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
    public BufferCache cache() { return cache; }

    /** True if block lies inside the filesystem (and is not block 0 of a 1K filesystem's boot area). */
    public boolean validBlock(long block) { return block >= sb.firstDataBlock() && block < sb.blocksCount(); }

    private volatile SystemZones zones;

    /** The blocks no file may map (descriptor locations never move: built once). */
    public SystemZones systemZones() {
        SystemZones z = zones;
        if (z == null) zones = z = new SystemZones(sb, groups.clone());
        return z;
    }

    /** A metadata block, cached. The returned buffer is read-only and positioned at 0. */
    public ByteBuffer readMetaBlock(long block, String what) throws IOException {
        if (!validBlock(block)) throw new CorruptException(what + ": block " + block + " is outside the filesystem (0.." + (sb.blocksCount() - 1) + ")");
        return cache.read(block);
    }

    /** readMetaBlock with the name made only for the error (the hot paths: each block allocation, directory block read). */
    public ByteBuffer readMetaBlock(long block, java.util.function.Supplier<String> what) throws IOException {
        return validBlock(block) ? cache.read(block) : readMetaBlock(block, what.get());
    }

    /** Reads count data blocks starting at block into dst (uncached; for file contents). */
    public void readBlocks(long block, ByteBuffer dst) throws IOException {
        long blocks = (dst.remaining() + blockSize - 1L) / blockSize;
        if (!validBlock(block) || block + blocks > sb.blocksCount())
            throw new CorruptException("data blocks " + block + ".." + (block + blocks - 1) + " are outside the filesystem");
        dev.read(block * blockSize, dst);
    }

    /** Writes file data blocks directly to the device (data does not go through the journal). */
    public void writeBlocks(long block, ByteBuffer src) throws IOException {
        long blocks = (src.remaining() + blockSize - 1L) / blockSize;
        if (!validBlock(block) || block + blocks > sb.blocksCount())
            throw new IllegalArgumentException("data blocks " + block + ".." + (block + blocks - 1) + " are outside the filesystem");
        dev.write(block * blockSize, src);
    }

    // ---- inodes ----

    private long inodeBlock(long ino) { return groups[(int) ((ino - 1) / sb.inodesPerGroup())].inodeTable() + (((ino - 1) % sb.inodesPerGroup()) * sb.inodeSize()) / blockSize; }
    private int inodeOffset(long ino) { return (int) ((((ino - 1) % sb.inodesPerGroup()) * sb.inodeSize()) % blockSize); }

    private void checkIno(long ino) throws CorruptException {
        if (ino < 1 || ino > Integer.toUnsignedLong(sb.inodesCount())) throw new CorruptException("inode " + ino + " is out of range (1.." + Integer.toUnsignedLong(sb.inodesCount()) + ")");
    }

    /** Parses inode number ino (1-based) from its inode table. */
    public Inode readInode(long ino) throws IOException {
        checkIno(ino);
        Inode[] views = this.views;
        int slot = (int) (ino & (VIEWS - 1));
        if (views != null) {
            Inode v = views[slot];
            if (v != null && v.number() == ino) return v;
        }
        long block = inodeBlock(ino);
        if (!validBlock(block)) readMetaBlock(block, "inode " + ino); // throws, naming the inode
        ByteBuffer b = cache.read(block);
        Inode v = Inode.parse(ino, b.position(inodeOffset(ino)), sb, block);
        if (views != null) views[slot] = v;
        return v;
    }

    /** Back to parsing every read: handles edit private copies again and other threads read (see cacheInodeViews). */
    public void stopCachingInodeViews() { views = null; }

    /**
     * Recently read or written inodes by number, direct-mapped (see {@link #cacheInodeViews}); null:
     * every read parses. Views are immutable, so a reader on any thread may take one.
     */
    private volatile Inode[] views;
    private static final int VIEWS = 4096;

    /**
     * Inodes read or written stay parsed (4,096, direct-mapped by number), so an inode read again is
     * not copied out and checksummed again. Only where no other thread can see a handle's changes
     * before they are published: a read-only open (get -r reads each inode three times: getattr,
     * copy, xattrs), and a filesystem being filled by one thread (mkfs -d: handles edit the
     * published blocks in place; the directory that gains an entry per file was parsed two or
     * three times per file, Inode.parse 8% of its samples). Only writeInode writes inode table
     * blocks, and it replaces the entry; an undone handle clears them all. A filling open ends it
     * with {@link #stopCachingInodeViews} before a second thread reads.
     */
    public void cacheInodeViews() { views = new Inode[VIEWS]; }

    /** Seals (checksums) the edited inode and stores it in its inode table block; returns the new view. */
    public Inode writeInode(Handle h, Inode.Editor e) throws IOException {
        checkIno(e.number());
        Inode view = e.seal(sb);
        ByteBuffer blk = h.getWriteAccess(inodeBlock(e.number()));
        blk.put(inodeOffset(e.number()), e.bytes(), 0, sb.inodeSize());
        Inode[] views = this.views;
        if (views != null) views[(int) (e.number() & (VIEWS - 1))] = view;
        return view;
    }

    // ---- superblock and descriptors ----

    /** Applies edit to the primary superblock's 1024 bytes, re-checksums and re-parses it. */
    public Superblock updateSuperblock(Handle h, Consumer<Superblock.Editor> edit) throws IOException {
        ByteBuffer blk = h.getWriteAccess(sbBlock);
        ByteBuffer raw = blk.duplicate().position(sbOffset).limit(sbOffset + Superblock.SIZE).slice().order(ByteOrder.LITTLE_ENDIAN);
        Superblock.Editor e = new Superblock.Editor(raw);
        if (pendingFreeBlocks != 0 || pendingFreeInodes != 0) { // the counts gathered while filling (see deferFreeCounts)
            e.freeBlocks(e.freeBlocks() + pendingFreeBlocks).freeInodes(e.freeInodes() + pendingFreeInodes);
            pendingFreeBlocks = pendingFreeInodes = 0;
        }
        edit.accept(e);
        e.seal();
        sb = Superblock.parseSealed(raw.duplicate().clear());
        return sb;
    }

    /**
     * Changes the primary superblock outside any handle and writes it home at once (the
     * needs_recovery flag at open and close). Only valid while no transaction holds the block.
     */
    public Superblock updateSuperblockDirect(Consumer<Superblock.Editor> edit) throws IOException {
        if (cache.isDirty(sbBlock)) throw new IllegalStateException("superblock block is part of an uncommitted transaction");
        cache.read(sbBlock);
        byte[] blk = cache.copyOf(sbBlock);
        ByteBuffer raw = ByteBuffer.wrap(blk).order(ByteOrder.LITTLE_ENDIAN).position(sbOffset).limit(sbOffset + Superblock.SIZE).slice().order(ByteOrder.LITTLE_ENDIAN);
        Superblock.Editor e = new Superblock.Editor(raw);
        edit.accept(e);
        e.seal();
        sb = Superblock.parse(raw.duplicate().clear(), dev.name());
        cache.restore(sbBlock, blk);
        dev.write(sbBlock * blockSize, ByteBuffer.wrap(blk));
        dev.flush();
        return sb;
    }

    /** Adds delta to the superblock's free block (cluster) and free inode counts. */
    public void adjustFreeCounts(Handle h, long dBlocks, long dInodes) throws IOException {
        if (deferFreeCounts) {
            pendingFreeBlocks += dBlocks;
            pendingFreeInodes += dInodes;
            return;
        }
        updateSuperblock(h, e -> e.freeBlocks(e.freeBlocks() + dBlocks).freeInodes(e.freeInodes() + dInodes));
    }

    private boolean deferFreeCounts;
    private long pendingFreeBlocks, pendingFreeInodes;

    /**
     * For a filesystem being filled by one thread (mkfs -d), which nobody reads until it is closed:
     * the superblock's free counts gather in memory and reach the superblock with its next change
     * (the close's), as Linux keeps them in per-CPU counters and writes them at commit. Each
     * allocation then re-checksums its group descriptor only, not also the 1 KiB superblock
     * (about 5% of a mkfs -d of small files). {@link #superblock()}'s free counts lag meanwhile.
     */
    public void deferFreeCounts() { deferFreeCounts = true; }

    /** Edits group g's descriptor in its table block and re-seals its checksum. */
    public GroupDesc updateGroup(Handle h, long g, Consumer<GroupDesc.Editor> edit) throws IOException {
        int ds = sb.descSize(), perBlock = blockSize / ds;
        ByteBuffer blk = h.getWriteAccess(descBlock(sb, g / perBlock));
        int off = (int) (g % perBlock) * ds;
        GroupDesc.Editor e = new GroupDesc.Editor(blk.duplicate().position(off).limit(off + ds).slice());
        edit.accept(e);
        GroupDesc gd = e.seal(sb, g);
        groups[(int) g] = gd;
        return gd;
    }

    /**
     * Re-reads the superblock and descriptors from the cache (after a handle was undone). If they no
     * longer parse (damage met while writing: the journal is aborting anyway), the last good views
     * stay and the damage is listed in {@link #problems()}; it runs as an abort listener, which
     * cannot fail.
     */
    public void reloadViews() {
        Inode[] views = this.views;
        if (views != null) java.util.Arrays.fill(views, null);
        try {
            ByteBuffer blk = cache.read(sbBlock);
            Superblock fresh = Superblock.parse(blk.position(sbOffset), dev.name());
            GroupDesc[] descs = readGroupDescs(cache, fresh, new ArrayList<>());
            if (descs.length != groups.length) throw new CorruptException("group count changed from " + groups.length + " to " + descs.length);
            sb = fresh;
            System.arraycopy(descs, 0, groups, 0, groups.length);
        } catch (IOException e) {
            synchronized (problems) { problems.add("after an undone change: " + e.getMessage()); }
        }
    }

    /** Bitmap checksum over the bytes a group's bitmap covers (16 bits without 64-byte descriptors). */
    public int bitmapChecksum(ByteBuffer bm, int bytes) {
        int c = Crc32c.update(sb.checksumSeed(), bm, 0, bytes);
        return sb.descSize() >= 64 ? c : c & 0xFFFF;
    }

    /** Checks the checksums of every initialised block and inode bitmap; returns one message per mismatch. */
    public List<String> verifyBitmaps() throws IOException {
        List<String> bad = new ArrayList<>();
        if (!sb.hasMetadataCsum()) return bad;
        for (GroupDesc gd : groups) {
            if (!gd.hasFlag(GroupDesc.FLAG_BLOCK_UNINIT)) {
                ByteBuffer bm = readMetaBlock(gd.blockBitmap(), "group " + gd.group() + " block bitmap");
                int c = bitmapChecksum(bm, sb.clustersPerGroup() / 8);
                if (c != gd.blockBitmapCsum()) bad.add(String.format("group %d block bitmap checksum mismatch: stored 0x%x, computed 0x%x (block %d)", gd.group(), gd.blockBitmapCsum(), c, gd.blockBitmap()));
            }
            if (!gd.hasFlag(GroupDesc.FLAG_INODE_UNINIT)) {
                ByteBuffer bm = readMetaBlock(gd.inodeBitmap(), "group " + gd.group() + " inode bitmap");
                int c = bitmapChecksum(bm, sb.inodesPerGroup() / 8);
                if (c != gd.inodeBitmapCsum()) bad.add(String.format("group %d inode bitmap checksum mismatch: stored 0x%x, computed 0x%x (block %d)", gd.group(), gd.inodeBitmapCsum(), c, gd.inodeBitmap()));
            }
        }
        return bad;
    }

    @Override public void close() throws IOException { dev.close(); }
}
