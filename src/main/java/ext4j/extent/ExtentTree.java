package ext4j.extent;

import ext4j.alloc.BlockAllocator;
import ext4j.journal.Handle;
import ext4j.ondisk.Crc32c;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Superblock;
import ext4j.ondisk.Volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Changes an inode's extent tree. The extents are edited as a sorted list (insert with merging of
 * adjacent extents, range removal that splits extents, unwritten-to-written conversion) and then
 * stored as a packed tree: leaves filled in order, index levels above them, depth as small as the
 * count allows (the root in i_block holds 4 entries). That is the shape e2fsck considers optimal,
 * so it never asks to make the tree "shorter" or "narrower". Existing tree blocks are reused in
 * order, and only blocks whose bytes change are journaled.
 */
public final class ExtentTree implements BlockMapping {
    public static final int MAX_LEN = ExtentMap.INIT_MAX_LEN, MAX_UNWRITTEN_LEN = ExtentMap.INIT_MAX_LEN - 1;
    private static final int ROOT_ENTRIES = 4;

    private final Volume vol;
    private final Superblock sb;
    private final Inode.Editor inode;
    private final ExtentList extents;
    private final List<Long> nodeBlocks;
    private final int perBlock;

    private ExtentTree(Volume vol, Inode.Editor inode, List<Extent> extents, List<Long> nodeBlocks) {
        this.vol = vol;
        this.sb = vol.superblock();
        this.inode = inode;
        this.extents = new ExtentList(inode.number(), extents, MAX_LEN, MAX_UNWRITTEN_LEN);
        this.nodeBlocks = nodeBlocks;
        this.perBlock = (vol.blockSize() - ExtentMap.HEADER - (sb.hasMetadataCsum() ? 4 : 0)) / ExtentMap.ENTRY;
    }

    /** Loads the tree of an inode being edited (its i_block must hold an extent root). */
    public static ExtentTree load(Volume vol, Inode.Editor inode, Inode current) throws IOException {
        Superblock sb = vol.superblock();
        ExtentMap map = new ExtentMap(vol, inode.number(), inode.iBlock(), sb.hasMetadataCsum() ? current.checksumSeed(sb) : null);
        List<Extent> ext = new ArrayList<>();
        for (Run r : map.runs()) ext.add(new Extent(r.logical(), (int) r.length(), r.physical(), r.kind() == Run.Kind.UNWRITTEN));
        return new ExtentTree(vol, inode, ext, new ArrayList<>(map.nodeBlocks()));
    }

    /** Writes an empty extent root into i_block (a new file, or a file converted to extents). */
    public static void initEmpty(Inode.Editor inode) {
        ByteBuffer r = inode.iBlock();
        for (int i = 0; i < Inode.I_BLOCK_SIZE; i++) r.put(i, (byte) 0);
        writeHeader(r, 0, ROOT_ENTRIES, 0);
    }

    @Override public List<Extent> extents() { return extents.all(); }
    public int nodeCount() { return nodeBlocks.size(); }
    @Override public long goalFor(long lblk) { return extents.goalFor(lblk); }
    @Override public Extent find(long lblk) { return extents.find(lblk); }
    @Override public Extent next(long lblk) { return extents.next(lblk); }
    @Override public int maxRun(boolean unwritten) { return extents.maxRun(unwritten); }
    @Override public void insert(long lblk, long pblk, long len, boolean unwritten) { extents.insert(lblk, pblk, len, unwritten); }
    @Override public List<BlockAllocator.Range> remove(long from, long to) { return extents.remove(from, to); }
    @Override public void markWritten(long from, long to) { extents.markWritten(from, to); }
    @Override public long mappedBlocks() { return extents.mappedBlocks(); }

    /**
     * Writes the tree: root into the inode editor's i_block, other nodes into reused or newly
     * allocated blocks (surplus old blocks are freed). Returns the change in the number of tree
     * blocks, for i_blocks.
     */
    @Override
    public int store(Handle h, BlockAllocator alloc) throws IOException {
        int n = extents.size();
        // level sizes, bottom-up, until the top level fits in the root
        List<Integer> levelNodes = new ArrayList<>();
        int count = n;
        while (count > ROOT_ENTRIES) {
            int nodes = (count + perBlock - 1) / perBlock;
            levelNodes.add(nodes);
            count = nodes;
        }
        int needed = 0;
        for (int c : levelNodes) needed += c;
        // a packed tree rewrites every node after the first change: a big tree needs more than an operation's usual credits
        h.extend(Math.max(needed, nodeBlocks.size()) + 4);
        int before = nodeBlocks.size();
        List<Long> blocks = new ArrayList<>(nodeBlocks);
        while (blocks.size() > needed) {
            long b = blocks.remove(blocks.size() - 1);
            h.forget(b);
            alloc.free(h, b, 1);
        }
        while (blocks.size() < needed) {
            long goal = blocks.isEmpty() ? (extents.size() == 0 ? 0 : extents.get(0).pblk()) : blocks.get(blocks.size() - 1) + 1;
            BlockAllocator.Range r = alloc.allocate(h, goal, needed - blocks.size());
            for (int k = 0; k < r.length(); k++) blocks.add(r.start() + k);
        }
        // build leaves then index levels; entries of each level are (first lblk, block)
        int seed = sb.hasMetadataCsum() ? inodeSeed() : 0;
        int next = 0;
        long[] keys = new long[n];
        long[] ptrs = null;
        for (int i = 0; i < n; i++) keys[i] = extents.get(i).lblk();
        int depth = 0;
        for (int nodes : levelNodes) {
            long[] upKeys = new long[nodes], upPtrs = new long[nodes];
            int per = (keys.length + nodes - 1) / nodes;
            per = perBlock; // pack full
            for (int k = 0; k < nodes; k++) {
                int from = k * per, to = Math.min(keys.length, from + per);
                long blk = blocks.get(next++);
                ByteBuffer node = ByteBuffer.allocate(vol.blockSize()).order(ByteOrder.LITTLE_ENDIAN);
                writeHeader(node, to - from, perBlock, depth);
                for (int e = from; e < to; e++) writeEntry(node, e - from, depth, e, keys, ptrs);
                if (sb.hasMetadataCsum()) {
                    int tail = ExtentMap.HEADER + ExtentMap.ENTRY * perBlock;
                    node.putInt(tail, Crc32c.update(seed, node, 0, tail));
                }
                writeIfChanged(h, blk, node);
                upKeys[k] = keys[from];
                upPtrs[k] = blk;
            }
            keys = upKeys;
            ptrs = upPtrs;
            depth++;
        }
        ByteBuffer root = ByteBuffer.allocate(Inode.I_BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        writeHeader(root, keys.length, ROOT_ENTRIES, depth);
        for (int e = 0; e < keys.length; e++) writeEntry(root, e, depth, e, keys, ptrs);
        inode.iBlock(root);
        nodeBlocks.clear();
        nodeBlocks.addAll(blocks);
        return needed - before;
    }

    private int inodeSeed() {
        int c = Crc32c.updateInt(sb.checksumSeed(), (int) inode.number());
        return Crc32c.updateInt(c, inode.bytes().getInt(0x64));
    }

    private void writeEntry(ByteBuffer node, int slot, int depth, int idx, long[] keys, long[] ptrs) {
        int off = ExtentMap.HEADER + slot * ExtentMap.ENTRY;
        if (depth == 0) {
            Extent e = extents.get(idx);
            node.putInt(off, (int) e.lblk());
            node.putShort(off + 4, (short) (e.unwritten() ? e.len() + MAX_LEN : e.len()));
            node.putShort(off + 6, (short) (e.pblk() >>> 32));
            node.putInt(off + 8, (int) e.pblk());
        } else {
            node.putInt(off, (int) keys[idx]);
            node.putInt(off + 4, (int) ptrs[idx]);
            node.putShort(off + 8, (short) (ptrs[idx] >>> 32));
            node.putShort(off + 10, (short) 0);
        }
    }

    private static void writeHeader(ByteBuffer n, int entries, int max, int depth) {
        n.putShort(0, (short) ExtentMap.MAGIC);
        n.putShort(2, (short) entries);
        n.putShort(4, (short) max);
        n.putShort(6, (short) depth);
        n.putInt(8, 0);
    }

    private void writeIfChanged(Handle h, long blk, ByteBuffer node) throws IOException {
        byte[] want = node.array();
        byte[] have = vol.cache().copyOf(blk);
        if (have == null && !newBlock(blk)) { vol.readMetaBlock(blk, "extent block"); have = vol.cache().copyOf(blk); }
        if (have != null && Arrays.equals(have, want)) return;
        ByteBuffer w = newBlock(blk) ? h.getCreateAccess(blk) : h.getWriteAccess(blk);
        w.put(0, want);
    }

    private boolean newBlock(long blk) { return !nodeBlocks.contains(blk); }
}
