package ext4j.extent;

import ext4j.alloc.BlockAllocator;
import ext4j.journal.Handle;
import ext4j.base.CorruptException;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The ext2/ext3 block map of an inode being edited: 12 direct pointers in i_block, then a single,
 * a double and a triple indirect tree of 32-bit pointers. Edited as an extent list; {@link #store}
 * derives the indirect blocks the mapping needs, keeps existing ones at the same positions, allocates
 * new ones near their data, frees (and forgets) those no longer needed, and journals only the
 * blocks whose bytes change. No unwritten state exists in this format (fallocate: EOPNOTSUPP).
 */
public final class IndirectMapping implements BlockMapping {
    private static final int DIRECT = 12;
    private static final int MAX_NODES = 1 << 22; // bound on indirect blocks read from a damaged image

    private final Volume vol;
    private final Inode.Editor inode;
    private final ExtentList extents;
    private final int perBlock;
    /** Indirect blocks on disk by position (see key()). */
    private Map<Long, Long> nodes;

    private IndirectMapping(Volume vol, Inode.Editor inode, List<Extent> ext, Map<Long, Long> nodes) {
        this.vol = vol;
        this.inode = inode;
        this.perBlock = vol.blockSize() / 4;
        this.extents = new ExtentList(inode.number(), ext, Integer.MAX_VALUE, 0);
        this.nodes = nodes;
    }

    /** Position of an indirect block: tree (1 single, 2 double, 3 triple), depth from its top (0), index at that depth. */
    private static long key(int tree, int depth, long index) { return (long) tree << 60 | (long) depth << 56 | index; }

    /** Blocks the format can address: 12 + P + P^2 + P^3. */
    public long maxBlocks() {
        long p = perBlock;
        return DIRECT + p + p * p + p * p * p;
    }

    public static IndirectMapping load(Volume vol, Inode.Editor inode) throws IOException {
        IndirectMapping m = new IndirectMapping(vol, inode, List.of(), new HashMap<>());
        List<Extent> runs = new ArrayList<>();
        ByteBuffer ib = inode.iBlock();
        for (int i = 0; i < DIRECT; i++) m.addRun(runs, i, Integer.toUnsignedLong(ib.getInt(i * 4)));
        for (int t = 1; t <= 3; t++) {
            long p = Integer.toUnsignedLong(ib.getInt((DIRECT - 1 + t) * 4));
            if (p != 0) m.loadNode(runs, t, 0, 0, p);
        }
        return new IndirectMapping(vol, inode, runs, m.nodes);
    }

    private long base(int tree) {
        long p = perBlock;
        return tree == 1 ? DIRECT : tree == 2 ? DIRECT + p : DIRECT + p + p * p;
    }

    private void loadNode(List<Extent> runs, int tree, int depth, long index, long phys) throws IOException {
        checkBlock(phys, "indirect block");
        if (nodes.size() >= MAX_NODES) throw new CorruptException("inode " + inode.number() + ": more than " + MAX_NODES + " indirect blocks");
        nodes.put(key(tree, depth, index), phys);
        ByteBuffer b = vol.readMetaBlock(phys, "inode " + inode.number() + " indirect block");
        for (int s = 0; s < perBlock; s++) {
            long p = Integer.toUnsignedLong(b.getInt(s * 4));
            if (p == 0) continue;
            long child = index * perBlock + s;
            if (depth == tree - 1) addRun(runs, base(tree) + child, p);
            else loadNode(runs, tree, depth + 1, child, p);
        }
    }

    private void checkBlock(long p, String what) throws CorruptException {
        if (p < vol.superblock().firstDataBlock() || p >= vol.superblock().blocksCount())
            throw new CorruptException("inode " + inode.number() + ": " + what + " " + p + " is outside the filesystem");
        ext4j.ondisk.SystemZones.Zone z = vol.systemZones().overlap(p, 1, inode.number());   // an inode mapping metadata is damaged
        if (z != null) throw new CorruptException("inode " + inode.number() + ": " + what + " " + p + " is inside " + z.what() + " (blocks " + z.start() + ".." + (z.end() - 1) + ")");
    }


    private void addRun(List<Extent> runs, long lblk, long pblk) throws CorruptException {
        if (pblk == 0) return;
        checkBlock(pblk, "data block");
        if (!runs.isEmpty()) {
            Extent last = runs.get(runs.size() - 1);
            if (last.end() == lblk && last.pend() == pblk && last.len() < Integer.MAX_VALUE) {
                runs.set(runs.size() - 1, new Extent(last.lblk(), last.len() + 1, last.pblk(), false));
                return;
            }
        }
        runs.add(new Extent(lblk, 1, pblk, false));
    }

    @Override public Extent find(long lblk) { return extents.find(lblk); }
    @Override public Extent next(long lblk) { return extents.next(lblk); }
    @Override public long goalFor(long lblk) { return extents.goalFor(lblk); }
    @Override public int maxRun(boolean unwritten) { return unwritten ? 0 : 1 << 20; }
    @Override public List<Extent> extents() { return extents.all(); }
    @Override public long mappedBlocks() { return extents.mappedBlocks(); }
    @Override public void markWritten(long from, long to) { }
    @Override public List<BlockAllocator.Range> remove(long from, long to) { return extents.remove(from, to); }

    @Override
    public void insert(long lblk, long pblk, long len, boolean unwritten) {
        if (unwritten) throw new IllegalStateException("inode " + inode.number() + ": block-mapped files have no unwritten blocks");
        if (lblk + len > maxBlocks()) throw new IllegalStateException("inode " + inode.number() + ": logical block " + (lblk + len - 1) + " is past what indirect blocks address");
        if (pblk + len - 1 > 0xFFFFFFFFL) throw new IllegalStateException("inode " + inode.number() + ": block " + (pblk + len - 1) + " does not fit a 32-bit block pointer");
        extents.insert(lblk, pblk, len, false);
    }

    /** Which tree, and the offset inside it, for a logical block past the direct ones. */
    private int treeOf(long lblk) {
        long p = perBlock, r = lblk - DIRECT;
        if (r < p) return 1;
        r -= p;
        return r < p * p ? 2 : 3;
    }

    @Override
    public int store(Handle h, BlockAllocator alloc) throws IOException {
        // 1. the pointer arrays the mapping needs; internal slots hold -1 until children get blocks
        TreeMap<Long, long[]> need = new TreeMap<>();
        Map<Long, Long> goal = new HashMap<>();
        long[] direct = new long[DIRECT];
        long p = perBlock;
        for (Extent e : extents.all()) {
            for (long l = e.lblk(); l < e.end(); l++) {
                long pb = e.pblk() + (l - e.lblk());
                if (l < DIRECT) { direct[(int) l] = pb; continue; }
                int t = treeOf(l);
                long r = l - base(t);
                long span = 1;
                for (int d = 1; d < t; d++) span *= p;       // data blocks under one child of the top node
                for (int d = 0; d < t; d++) {
                    long index = r / (span * p);              // this node's index at depth d
                    int slot = (int) ((r / span) % p);
                    long k = key(t, d, index);
                    long[] arr = need.computeIfAbsent(k, x -> new long[perBlock]);
                    goal.putIfAbsent(k, pb);
                    arr[slot] = d == t - 1 ? pb : -1;
                    span /= p;
                }
            }
        }
        // 2. blocks: keep those at the same positions, free the rest, allocate new ones near their data
        int delta = 0;
        Map<Long, Long> placed = new HashMap<>();
        java.util.Set<Long> fresh = new java.util.HashSet<>();
        for (var e : nodes.entrySet()) {
            if (need.containsKey(e.getKey())) placed.put(e.getKey(), e.getValue());
            else { h.forget(e.getValue()); alloc.free(h, e.getValue(), 1); delta--; }
        }
        for (long k : need.keySet()) {
            if (placed.containsKey(k)) continue;
            BlockAllocator.Range r = alloc.allocate(h, goal.get(k), 1);
            if (r.start() > 0xFFFFFFFFL) throw new IllegalStateException("indirect block " + r.start() + " does not fit a 32-bit pointer");
            placed.put(k, r.start());
            fresh.add(r.start());
            delta++;
        }
        // 3. fill internal slots with their children's blocks, write what changed
        for (var e : need.entrySet()) {
            long k = e.getKey();
            int t = (int) (k >>> 60), d = (int) ((k >>> 56) & 0xF);
            long index = k & ((1L << 56) - 1);
            long[] arr = e.getValue();
            ByteBuffer want = ByteBuffer.allocate(vol.blockSize()).order(ByteOrder.LITTLE_ENDIAN);
            for (int s = 0; s < perBlock; s++) {
                long v = arr[s] == -1 ? placed.get(key(t, d + 1, index * perBlock + s)) : arr[s];
                want.putInt(s * 4, (int) v);
            }
            long blk = placed.get(k);
            if (fresh.contains(blk)) { h.getCreateAccess(blk).put(0, want.array()); continue; }
            vol.readMetaBlock(blk, "inode " + inode.number() + " indirect block");
            if (!Arrays.equals(vol.cache().copyOf(blk), want.array())) h.getWriteAccess(blk).put(0, want.array());
        }
        // 4. i_block: 12 direct pointers, then the tops of the three trees
        ByteBuffer ib = ByteBuffer.allocate(Inode.I_BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < DIRECT; i++) ib.putInt(i * 4, (int) direct[i]);
        for (int t = 1; t <= 3; t++) ib.putInt((DIRECT - 1 + t) * 4, (int) (long) placed.getOrDefault(key(t, 0, 0), 0L));
        inode.iBlock(ib);
        nodes = placed;
        return delta;
    }
}
