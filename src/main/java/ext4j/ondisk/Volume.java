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
        // merged: handles changing other inodes of the block run beside this one (each holds its inodes)
        ByteBuffer blk = h.getMergedAccess(inodeBlock(e.number()));
        blk.put(inodeOffset(e.number()), e.bytes(), 0, sb.inodeSize());
        Inode[] views = this.views;
        if (views != null) views[(int) (e.number() & (VIEWS - 1))] = view;
        return view;
    }

    // ---- superblock and descriptors ----

    /** Applies edit to the primary superblock's 1024 bytes, re-checksums and re-parses it. */
    public Superblock updateSuperblock(Handle h, Consumer<Superblock.Editor> edit) throws IOException {
        ByteBuffer blk = h.getWriteAccess(sbBlock);
        h.onAbort(this::reloadViews);           // the handle's copy of the block is gone: the view is read again
        ByteBuffer raw = blk.duplicate().position(sbOffset).limit(sbOffset + Superblock.SIZE).slice().order(ByteOrder.LITTLE_ENDIAN);
        Superblock.Editor e = new Superblock.Editor(raw);
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

    // ---- free counts: in memory, written into their blocks as each transaction closes ----

    /*
     * The descriptors in groups[] and the two superblock counts below are the live state: handles
     * change them here (undone by an abort), never in the descriptor or superblock blocks, so
     * handles in different groups share no block for counts. writeCounts, run by the journal as
     * each transaction closes (no handle running), puts them into their blocks, so every commit
     * carries the counts of exactly its handles, as Linux's percpu counters reach the superblock.
     */
    private final Object countsLock = new Object();
    private long freeBlocks, freeInodes;          // the superblock's, live
    private boolean countsChanged;                // since the last writeCounts
    private final java.util.BitSet changedGroups = new java.util.BitSet();
    private boolean countsLoaded;

    private void loadCounts() {
        if (countsLoaded) return;
        freeBlocks = sb.freeBlocksCount();
        freeInodes = sb.freeInodesCount();
        countsLoaded = true;
    }

    /** The filesystem's free blocks (clusters) now, changes of running handles included. */
    public long freeBlocks() { synchronized (countsLock) { loadCounts(); return freeBlocks; } }

    /** The filesystem's free inodes now, changes of running handles included. */
    public long freeInodes() { synchronized (countsLock) { loadCounts(); return freeInodes; } }

    /** Adds delta to the filesystem's free block (cluster) and free inode counts (in memory; an abort of h undoes it). */
    public void adjustFreeCounts(Handle h, long dBlocks, long dInodes) {
        synchronized (countsLock) {
            loadCounts();
            freeBlocks += dBlocks;
            freeInodes += dInodes;
            countsChanged = true;
        }
        h.onAbort(() -> { synchronized (countsLock) { freeBlocks -= dBlocks; freeInodes -= dInodes; countsChanged = true; } });
    }

    /**
     * Edits group g's descriptor (in memory) and re-seals its checksum; the edit starts from the
     * descriptor as it is now, so edits of different fields by different handles both stay. An
     * abort of h puts back exactly the bits this edit changed: each field has one owner at a time
     * (the counts and flags of a bitmap go with the handle that has that bitmap block), so no
     * other handle changed them meanwhile.
     */
    public GroupDesc updateGroup(Handle h, long g, Consumer<GroupDesc.Editor> edit) {
        GroupDesc before, after;
        synchronized (countsLock) {
            before = groups[(int) g];
            GroupDesc.Editor e = new GroupDesc.Editor(before.copy());
            edit.accept(e);
            after = e.seal(sb, g);
            groups[(int) g] = after;
            changedGroups.set((int) g);
        }
        byte[] was = before.bytes(), now = after.bytes();
        h.onAbort(() -> {
            synchronized (countsLock) {
                byte[] cur = groups[(int) g].bytes();
                for (int i = 0; i < cur.length; i++) cur[i] = (byte) ((cur[i] & ~(was[i] ^ now[i])) | (was[i] & (was[i] ^ now[i])));
                GroupDesc.Editor e = new GroupDesc.Editor(ByteBuffer.wrap(cur));
                groups[(int) g] = e.seal(sb, g);
                changedGroups.set((int) g);
            }
        });
        return after;
    }

    /**
     * Adds to group g's free block, free inode and directory counts (in memory). Several handles
     * may change the counts of one group at once (they share its bitmaps, each with its own bits):
     * an abort takes back exactly its deltas.
     */
    public void adjustGroup(Handle h, long g, long dBlocks, long dInodes, long dDirs) {
        synchronized (countsLock) { addToGroup(g, dBlocks, dInodes, dDirs); }
        h.onAbort(() -> { synchronized (countsLock) { addToGroup(g, -dBlocks, -dInodes, -dDirs); } });
    }

    private void addToGroup(long g, long dBlocks, long dInodes, long dDirs) {
        GroupDesc d = groups[(int) g];
        GroupDesc.Editor e = new GroupDesc.Editor(d.copy());
        e.freeBlocks(d.freeBlocks() + dBlocks).freeInodes(d.freeInodes() + dInodes).usedDirs(d.usedDirs() + dDirs);
        groups[(int) g] = e.seal(sb, g);
        changedGroups.set((int) g);
    }

    /**
     * Lowers group g's itable_unused to at most v (an inode past the unused part was taken). Not
     * undone by an abort: a smaller count only means more of the table counts as used, which is
     * always true of the inodes in it, and another handle may rely on it meanwhile.
     */
    public void lowerItableUnused(long g, long v) {
        synchronized (countsLock) {
            GroupDesc d = groups[(int) g];
            if (d.itableUnused() <= v) return;
            groups[(int) g] = new GroupDesc.Editor(d.copy()).itableUnused(v).seal(sb, g);
            changedGroups.set((int) g);
        }
    }

    /** Group g's bitmaps changed: their checksums are computed from the published blocks as the transaction closes. */
    public void bitmapsChanged(long g) {
        synchronized (countsLock) { changedBitmaps.set((int) g); changedGroups.set((int) g); }
    }

    private final java.util.BitSet changedBitmaps = new java.util.BitSet();

    /**
     * Writes the live counts into the superblock and the changed group descriptors, in handle h
     * (the journal's close work: no other handle is running). Nothing when nothing changed.
     */
    public void writeCounts(Handle h) throws IOException {
        long blocks, inodes;
        boolean sbChanged;
        java.util.List<GroupDesc> descs = new ArrayList<>();
        synchronized (countsLock) {
            // the bitmaps' checksums, from their published bytes (no handle runs: those are the transaction's)
            for (int g = changedBitmaps.nextSetBit(0); g >= 0; g = changedBitmaps.nextSetBit(g + 1)) {
                if (!sb.hasMetadataCsum()) break;
                GroupDesc d = groups[g];
                GroupDesc.Editor e = new GroupDesc.Editor(d.copy());
                if (!d.hasFlag(GroupDesc.FLAG_BLOCK_UNINIT)) e.blockBitmapCsum(bitmapChecksum(cache.read(d.blockBitmap()), sb.clustersPerGroup() / 8));
                if (!d.hasFlag(GroupDesc.FLAG_INODE_UNINIT)) e.inodeBitmapCsum(bitmapChecksum(cache.read(d.inodeBitmap()), sb.inodesPerGroup() / 8));
                groups[g] = e.seal(sb, g);
            }
            changedBitmaps.clear();
            sbChanged = countsChanged;
            blocks = freeBlocks;
            inodes = freeInodes;
            for (int g = changedGroups.nextSetBit(0); g >= 0; g = changedGroups.nextSetBit(g + 1)) descs.add(groups[g]);
            changedGroups.clear();
            countsChanged = false;
        }
        int ds = sb.descSize(), perBlock = blockSize / ds;
        for (GroupDesc gd : descs) {
            ByteBuffer blk = h.getWriteAccess(descBlock(sb, gd.group() / perBlock));
            blk.put((int) (gd.group() % perBlock) * ds, gd.bytes());
        }
        if (sbChanged) updateSuperblock(h, e -> e.freeBlocks(blocks).freeInodes(inodes));
    }

    /**
     * Re-reads the superblock view from the cache (after a handle was undone: its edits of the
     * superblock block are gone). The descriptors and free counts live in memory and are undone by
     * the handle itself. If the block no longer parses (damage met while writing: the journal is
     * aborting anyway), the last good view stays and the damage is listed in {@link #problems()};
     * it runs as an abort listener, which cannot fail.
     */
    public void reloadViews() {
        Inode[] views = this.views;
        if (views != null) java.util.Arrays.fill(views, null);
        try {
            ByteBuffer blk = cache.read(sbBlock);
            sb = Superblock.parse(blk.position(sbOffset), dev.name());
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
