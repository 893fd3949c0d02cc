package ext4j.alloc;

import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.journal.Handle;
import ext4j.base.CorruptException;
import ext4j.ondisk.Features;
import ext4j.ondisk.GroupDesc;
import ext4j.ondisk.Superblock;
import ext4j.ondisk.Volume;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Allocates and frees blocks in the block bitmaps, keeping descriptor and superblock free counts
 * and bitmap checksums exact. Allocation looks for a free run starting at the goal block, in the
 * goal's group first, then the following groups, and returns the longest contiguous run there up
 * to the requested length (so sequential files get long extents).
 */
public final class BlockAllocator {
    private final Volume vol;
    /**
     * Blocks freed since the last commit, per group: free on disk but not reusable yet. Reusing
     * one before the transaction that freed it commits would let new data overwrite a block the
     * committed state still uses, if power is cut before that commit.
     */
    private java.util.Map<Long, java.util.List<long[]>> pendingFree = new java.util.HashMap<>();
    /** Frees of transactions closed for commit whose commit has not finished yet (still not reusable). */
    private final java.util.List<java.util.Map<Long, java.util.List<long[]>>> committingFree = new java.util.ArrayList<>();

    /**
     * Per group, a bit below which every block is in use (or pending): allocation scans from there,
     * so filling a group is linear, not quadratic. Lowered when frees become reusable; dropped when
     * a handle aborts (its allocations are undone).
     */
    private final java.util.Map<Long, Long> usedBelow = new java.util.HashMap<>();

    /**
     * The running transaction is closed for commit: its frees go with it and become reusable when
     * the returned action runs, after that commit is on disk. Frees made meanwhile belong to the
     * next transaction.
     */
    public synchronized Runnable sealFrees() {
        if (pendingFree.isEmpty()) return () -> { };
        java.util.Map<Long, java.util.List<long[]>> sealed = pendingFree;
        pendingFree = new java.util.HashMap<>();
        committingFree.add(sealed);
        return () -> released(sealed);
    }

    private synchronized void released(java.util.Map<Long, java.util.List<long[]>> sealed) {
        for (var e : sealed.entrySet()) {
            long gStart = GroupLayout.firstBlock(vol.superblock(), e.getKey());
            for (long[] r : e.getValue()) usedBelow.computeIfPresent(e.getKey(), (g, v) -> Math.min(v, r[0] - gStart));
        }
        committingFree.remove(sealed);
    }

    /** A handle was aborted: allocations it made are free again. */
    public synchronized void aborted() { usedBelow.clear(); }

    /** Whether a commit would make more blocks allocatable. */
    public synchronized boolean hasPendingFrees() { return !pendingFree.isEmpty() || !committingFree.isEmpty(); }

    public BlockAllocator(Volume vol) {
        this.vol = vol;
        if (vol.superblock().hasRoCompat(Features.RO_BIGALLOC)) throw new UnsupportedOperationException("bigalloc: writing is not supported");
    }

    /** A run of physical blocks. */
    public record Range(long start, int length) {
        public long end() { return start + length; }
    }

    public long freeBlocks() { return vol.freeBlocks(); }

    /** Blocks promised to delayed allocations (dirty cached data not yet allocated): ordinary allocation leaves them alone. */
    private long reserved;

    /**
     * A pool that reservations never take (Linux's s_resv_clusters: 2% of the blocks, at most
     * 4096, and none without extents): the extent-tree and other metadata blocks that writing
     * reserved data back needs. statfs leaves it out of the space available to unprivileged users.
     */
    public long pool() { return pool(vol.superblock()); }

    public static long pool(ext4j.ondisk.Superblock sb) {
        return sb.hasIncompat(ext4j.ondisk.Features.INCOMPAT_EXTENTS) ? Math.min(sb.blocksCount() / 50, 4096) : 0;
    }

    /** Reserves n blocks for delayed allocation; false when they are not there (ENOSPC at write time). */
    public synchronized boolean reserve(long n) {
        if (n < 0) throw new IllegalArgumentException("reserve " + n);
        if (freeBlocks() - reserved - pool() < n) return false;
        reserved += n;
        return true;
    }

    /** Gives back n reserved blocks (the data was allocated, truncated, or never written). */
    public synchronized void release(long n) {
        if (n < 0 || n > reserved) throw new IllegalStateException("releasing " + n + " of " + reserved + " reserved blocks");
        reserved -= n;
    }

    public synchronized long reserved() { return reserved; }

    /**
     * Allocates between 1 and max contiguous blocks, as close after goal as possible.
     * @throws FsException ENOSPC when no block is free
     */
    public synchronized Range allocate(Handle h, long goal, int max) throws IOException {
        return allocate(h, goal, max, false);
    }

    /**
     * Allocates as {@link #allocate(Handle, long, int)}; fromReservation: the blocks were reserved by
     * a delayed allocation (the caller releases the reservation once its handle stops), else
     * reserved blocks are off limits.
     */
    public synchronized Range allocate(Handle h, long goal, int max, boolean fromReservation) throws IOException {
        Superblock sb = vol.superblock();
        if (max <= 0) throw new IllegalArgumentException("max " + max);
        if (!fromReservation && reserved > 0) {
            long avail = freeBlocks() - reserved;
            if (avail <= 0) throw new FsException(Errno.ENOSPC, vol.device().name() + " (the free blocks are reserved for delayed allocation)");
            max = (int) Math.min(max, avail);
        }
        if (goal < sb.firstDataBlock() || goal >= sb.blocksCount()) goal = sb.firstDataBlock();
        long groups = vol.groupCount();
        long g0 = (goal - sb.firstDataBlock()) / Integer.toUnsignedLong(sb.blocksPerGroup());
        // passes by the shortest run accepted: a big request (writeback of a long dirty run) first
        // skips fragments under 2048 blocks, so sequential files get long extents; then 8; then anything
        int[] minRuns = max >= 256 ? new int[] {Math.min(max, 2048), 8, 1} : new int[] {Math.min(max, 8), 1};
        for (int minRun : minRuns) {
            for (long i = 0; i <= groups; i++) {
                long g = (g0 + i) % groups;
                GroupDesc gd = vol.group(g);
                if (gd.freeBlocks() == 0) continue;
                if (gd.freeBlocks() < minRun) continue;
                long from = (i == 0) ? goal - GroupLayout.firstBlock(sb, g) : 0;
                if (i == groups) from = 0; // wrapped around to the goal group: search its start too
                Range r = allocateInGroup(h, g, from, max, minRun);
                if (r != null) return r;
            }
        }
        throw new FsException(Errno.ENOSPC, vol.device().name());
    }

    private byte[] bitmap(long g) throws IOException {
        GroupDesc gd = vol.group(g);
        byte[] bm = new byte[vol.blockSize()];
        if (gd.hasFlag(GroupDesc.FLAG_BLOCK_UNINIT)) GroupLayout.initBlockBitmap(vol, g, bm);
        else vol.readMetaBlock(gd.blockBitmap(), () -> "group " + g + " block bitmap").get(0, bm);
        return bm;
    }

    /**
     * Runs taken by running handles, per group, with the handle: not in the published bitmap yet,
     * and no other handle takes them. Handles share a group's bitmap block (merged access), each
     * changing only bits it claimed here or blocks it frees.
     */
    private final java.util.Map<Long, java.util.List<Claim>> claims = new java.util.HashMap<>();
    private record Claim(Handle h, long start, long length) {}

    private void claim(Handle h, long g, long start, long length) {
        Claim c = new Claim(h, start, length);
        claims.computeIfAbsent(g, k -> new java.util.ArrayList<>()).add(c);
        Runnable drop = () -> { synchronized (this) { java.util.List<Claim> l = claims.get(g); if (l != null && l.remove(c) && l.isEmpty()) claims.remove(g); } };
        h.onStop(drop);                         // published then: the bits show it
        h.onAbort(drop);
    }

    /** The bitmap with blocks freed in the running transaction, and blocks other handles took, shown as used: what h may take. */
    private byte[] allocatable(long g, byte[] bm, Handle h) {
        byte[] c = bm;
        long gStart = GroupLayout.firstBlock(vol.superblock(), g);
        for (Claim cl : claims.getOrDefault(g, java.util.List.of())) {
            if (cl.h() == h) continue;
            if (c == bm) c = bm.clone();
            for (long b = cl.start(); b < cl.start() + cl.length(); b++) GroupLayout.set(c, b - gStart);
        }
        for (int i = -1; i < committingFree.size(); i++) {
            java.util.List<long[]> pend = (i < 0 ? pendingFree : committingFree.get(i)).get(g);
            if (pend == null) continue;
            if (c == bm) c = bm.clone();
            for (long[] r : pend) for (long b = r[0]; b < r[0] + r[1]; b++) GroupLayout.set(c, b - gStart);
        }
        return c;
    }

    /**
     * Finds a free run of at least minLen starting at or after bit from; takes up to max blocks.
     * Looked for in the bitmap as readers see it, then, once the handle has the bitmap block (no
     * other handle can change it until this one stops), again in its latest bytes, which are taken.
     */
    private Range allocateInGroup(Handle h, long g, long from, int max, int minLen) throws IOException {
        if (findInGroup(null, g, from, max, minLen) == null) return null;
        access(h, g);
        return findInGroup(h, g, from, max, minLen);
    }

    /**
     * Write access to group g's block bitmap: shared with other handles (merged: each changes its
     * own bits), except while the bitmap is uninitialized, when the handle that initializes it has
     * it alone. The bitmap read next is then the latest.
     */
    private ByteBuffer access(Handle h, long g) throws IOException {
        long at = vol.group(g).blockBitmap();
        return vol.group(g).hasFlag(GroupDesc.FLAG_BLOCK_UNINIT) ? h.getWriteAccess(at) : h.getMergedAccess(at);
    }

    /** The run allocateInGroup looks for; taken in handle h (null: only looked for). */
    private Range findInGroup(Handle h, long g, long from, int max, int minLen) throws IOException {
        Superblock sb = vol.superblock();
        int n = GroupLayout.blocksInGroup(sb, g);
        byte[] bm = bitmap(g);
        byte[] avail = allocatable(g, bm, h);
        long hint = usedBelow.getOrDefault(g, 0L);
        boolean fromHint = from <= hint;
        long bit = Math.max(from, hint);
        while (bit < n) {
            while (bit < n && GroupLayout.test(avail, bit)) {
                if ((bit & 7) == 0 && bit + 8 <= n && avail[(int) (bit >>> 3)] == (byte) 0xFF) bit += 8; // a full byte
                else bit++;
            }
            if (fromHint) { usedBelow.put(g, bit); fromHint = false; } // everything before the first free bit is used
            if (bit >= n) break;
            long end = bit;
            while (end < n && end - bit < max && !GroupLayout.test(avail, end)) end++;
            if (end - bit >= minLen) {
                long start = GroupLayout.firstBlock(sb, g) + bit;
                if (h == null) return new Range(start, (int) (end - bit));
                checkNotFixedMetadata(g, start, end - bit);
                for (long b = bit; b < end; b++) GroupLayout.set(bm, b);
                claim(h, g, start, end - bit);
                store(h, g, bm, bit, end, true, start);
                return new Range(start, (int) (end - bit));
            }
            bit = end;
        }
        return null;
    }

    /** Per group, the ranges {start, length} of fixed metadata in it (superblock backup, descriptors, bitmaps, inode tables); built once. */
    private java.util.Map<Long, java.util.List<long[]>> fixed;

    /**
     * A damaged bitmap can show the superblock, a descriptor block, a bitmap or an inode table as
     * free; handing it out would overwrite that metadata. Refused as Linux refuses it
     * ("Allocating blocks ... which overlap fs metadata").
     */
    private void checkNotFixedMetadata(long g, long start, long len) throws CorruptException {
        if (fixed == null) {
            Superblock sb = vol.superblock();
            fixed = new java.util.HashMap<>();
            long per = Integer.toUnsignedLong(sb.blocksPerGroup());
            long itBlocks = ((long) sb.inodesPerGroup() * sb.inodeSize() + sb.blockSize() - 1) / sb.blockSize();
            for (long o = 0; o < vol.groupCount(); o++) {
                if (sb.groupHasSuper(o)) addFixed(per, GroupLayout.firstBlock(sb, o), 1 + GroupLayout.descBlocks(sb) + sb.reservedGdtBlocks());
                GroupDesc d = vol.group(o);
                addFixed(per, d.blockBitmap(), 1);
                addFixed(per, d.inodeBitmap(), 1);
                addFixed(per, d.inodeTable(), itBlocks);
            }
        }
        for (long[] r : fixed.getOrDefault(g, java.util.List.of()))
            if (start < r[0] + r[1] && r[0] < start + len)
                throw new CorruptException("group " + g + "'s block bitmap (block " + vol.group(g).blockBitmap() + ") shows metadata blocks "
                        + r[0] + "+" + r[1] + " as free");
    }

    private void addFixed(long perGroup, long first, long count) {
        long fdb = vol.superblock().firstDataBlock();
        if (first < fdb || perGroup == 0) return;
        fixed.computeIfAbsent((first - fdb) / perGroup, k -> new java.util.ArrayList<>()).add(new long[] {first, count});
    }

    /** Whether block blk is set in its group's bitmap (what an uninitialized group's bitmap would say). */
    public synchronized boolean inUse(long blk) throws IOException {
        Superblock sb = vol.superblock();
        long g = (blk - sb.firstDataBlock()) / Integer.toUnsignedLong(sb.blocksPerGroup());
        return GroupLayout.test(bitmap(g), blk - GroupLayout.firstBlock(sb, g));
    }

    /** Marks a specific range as used (for callers that must place blocks exactly, e.g. tests). */
    public void markUsed(Handle h, long start, int len) throws IOException {
        changeRange(h, start, len, true);
    }

    /** Frees blocks [start, start+len), which may span groups. Freed metadata blocks must also be forgotten by the caller. */
    public void free(Handle h, long start, long len) throws IOException {
        changeRange(h, start, len, false);
    }

    private synchronized void changeRange(Handle h, long start, long len, boolean use) throws IOException {
        Superblock sb = vol.superblock();
        if (start < sb.firstDataBlock() || start + len > sb.blocksCount() || len < 0)
            throw new CorruptException("freeing blocks " + start + "+" + len + " outside the filesystem");
        long bpg = Integer.toUnsignedLong(sb.blocksPerGroup());
        long b = start;
        while (b < start + len) {
            long g = (b - sb.firstDataBlock()) / bpg;
            long gStart = GroupLayout.firstBlock(sb, g);
            long end = Math.min(start + len, gStart + GroupLayout.blocksInGroup(sb, g));
            if (use) h.getWriteAccess(vol.group(g).blockBitmap());   // blocks placed exactly (replay, tests): the bitmap alone
            else access(h, g);                                 // freed blocks are the caller's: their bits are this handle's
            byte[] bm = bitmap(g);
            for (long x = b; x < end; x++) {
                boolean was = GroupLayout.test(bm, x - gStart);
                if (was == use)
                    throw new CorruptException("block " + x + " is already " + (use ? "in use" : "free") + " in group " + g + "'s bitmap (double " + (use ? "allocation" : "free") + ")");
                if (use) GroupLayout.set(bm, x - gStart); else GroupLayout.clear(bm, x - gStart);
            }
            store(h, g, bm, b - gStart, end - gStart, use, b);
            if (!use) pendingFree.computeIfAbsent(g, k -> new java.util.ArrayList<>()).add(new long[]{b, end - b});
            b = end;
        }
    }

    /**
     * Writes bits [from, to) of the group's bitmap as used or free into the handle's copy, with the
     * group's free count and flags and the superblock count; the checksum follows as the
     * transaction closes. A handle with the bitmap alone (an uninitialized one it built: bm) writes
     * it whole; a merged copy gets only those bits: it may have taken in other handles' bits since
     * bm was read, and writing bm whole would take them back out.
     */
    private void store(Handle h, long g, byte[] bm, long from, long to, boolean use, long near) throws IOException {
        Superblock sb = vol.superblock();
        GroupDesc gd = vol.group(g);
        long delta = use ? -(to - from) : to - from;
        // an uninitialized group's bitmap was built here whole (its metadata bits too) and is this handle's alone, also when
        // handles edit published blocks in place (a fill), where no copy says so
        if (gd.hasFlag(GroupDesc.FLAG_BLOCK_UNINIT) || vol.cache().isEditedAlone(gd.blockBitmap())) {
            h.getWriteAccess(gd.blockBitmap()).put(0, bm);
        } else {
            ByteBuffer blk = h.getMergedAccess(gd.blockBitmap());
            for (long x = from; x < to; x++) {
                int at = (int) (x >>> 3), bit = 1 << (x & 7);
                blk.put(at, (byte) (use ? blk.get(at) | bit : blk.get(at) & ~bit));
            }
        }
        long free = gd.freeBlocks() + delta;
        if (free < 0 || free > GroupLayout.blocksInGroup(sb, g))
            throw new CorruptException("group " + g + " free block count would become " + free + " (block " + near + ")");
        if (gd.hasFlag(GroupDesc.FLAG_BLOCK_UNINIT)) vol.updateGroup(h, g, e -> e.clearFlags(GroupDesc.FLAG_BLOCK_UNINIT)); // this handle has the bitmap alone
        vol.adjustGroup(h, g, delta, 0, 0);
        vol.bitmapsChanged(g);
        vol.adjustFreeCounts(h, delta, 0);
    }
}
