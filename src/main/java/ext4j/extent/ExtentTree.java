package ext4j.extent;

import ext4j.alloc.BlockAllocator;
import ext4j.journal.Handle;
import ext4j.base.Crc32c;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Superblock;
import ext4j.ondisk.Volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Changes an inode's extent tree. The extents are edited as a sorted list (insert with merging of
 * adjacent extents, range removal that splits extents, unwritten-to-written conversion); a store
 * then rewrites only the leaves whose entries changed, and the index levels above them.
 *
 * <p>Shape. e2fsck asks to optimize a tree ("could be narrower") when a level's free entry slots
 * add up to more than one block's worth, or ("could be shorter") when a level's entries would fit
 * in the level above; the kernel's half-full split leaves get that. ext4j keeps every stored tree
 * out of both: index levels are packed, and the leaves' free slots stay at most one block's worth.
 * An insertion into a full leaf widens its window of leaves to the nearest leaf with room and
 * spreads the window's extents evenly over it. When the level has no room at all, an append gets a
 * new leaf at the end; any other insertion lays the whole leaf level out again with the new leaf's
 * room spread evenly over all leaves, so the insertions that follow find room close by. Removals
 * that leave more than a block's worth of room also lay the level out again. So a random insertion
 * rewrites one leaf or a few, and the whole level about once per block's worth of insertions.
 */
public final class ExtentTree implements BlockMapping {
    public static final int MAX_LEN = ExtentMap.INIT_MAX_LEN, MAX_UNWRITTEN_LEN = ExtentMap.INIT_MAX_LEN - 1;
    private static final int ROOT_ENTRIES = 4;

    /** A leaf of the tree: its block and how many extents it holds. */
    private static final class Leaf {
        long block;
        int count;
        Leaf(long block, int count) { this.block = block; this.count = count; }
    }

    private final Volume vol;
    private final Superblock sb;
    private Inode.Editor inode;
    private final ExtentList extents;
    private final int perBlock;
    /** Leaves in logical order (empty while the extents fit in the root). */
    private final List<Leaf> leaves;
    /** Index node blocks above the leaves, per level, bottom-up. */
    private final List<List<Long>> index;
    /** Extents in the leaves as stored (the list's size at the last store or load). */
    private int storedCount;
    /** i_block as last loaded or stored: a cached tree is reused only while the inode still has it. */
    private byte[] rootBytes;
    /** Counters for tests: leaves written, full leaf-level layouts. */
    private long leafWrites, relayouts;

    private ExtentTree(Volume vol, Inode.Editor inode, List<Extent> extents, List<Leaf> leaves, List<List<Long>> index) {
        this.vol = vol;
        this.sb = vol.superblock();
        this.inode = inode;
        this.extents = new ExtentList(inode.number(), extents, MAX_LEN, MAX_UNWRITTEN_LEN);
        this.leaves = leaves;
        this.index = index;
        this.storedCount = extents.size();
        this.perBlock = (vol.blockSize() - ExtentMap.HEADER - (sb.hasMetadataCsum() ? 4 : 0)) / ExtentMap.ENTRY;
        this.rootBytes = rootOf(inode);
    }

    /** Loads the tree of an inode being edited (its i_block must hold an extent root). */
    public static ExtentTree load(Volume vol, Inode.Editor inode, Inode current) throws IOException {
        Superblock sb = vol.superblock();
        ExtentMap map = new ExtentMap(vol, inode.number(), inode.iBlock(), sb.hasMetadataCsum() ? current.checksumSeed(sb) : null);
        ExtentMap.Layout layout = map.layout();
        List<Extent> ext = new ArrayList<>(layout.runs().size());
        for (Run r : layout.runs()) ext.add(new Extent(r.logical(), (int) r.length(), r.physical(), r.kind() == Run.Kind.UNWRITTEN));
        List<Leaf> leaves = new ArrayList<>(layout.leaves().size());
        for (long[] l : layout.leaves()) leaves.add(new Leaf(l[0], (int) l[1]));
        List<List<Long>> index = new ArrayList<>();
        for (List<Long> level : layout.index()) index.add(new ArrayList<>(level));
        return new ExtentTree(vol, inode, ext, leaves, index);
    }

    /**
     * This tree again for a new edit of the same inode, if nothing changed it since it was stored
     * (the inode's i_block is what this tree last wrote, and no edit is pending); else null.
     */
    public ExtentTree reuse(Inode.Editor ed) {
        if (extents.changed() || ed.number() != inode.number() || !Arrays.equals(rootOf(ed), rootBytes)) return null;
        inode = ed;
        return this;
    }

    private static byte[] rootOf(Inode.Editor ed) {
        byte[] b = new byte[Inode.I_BLOCK_SIZE];
        ed.iBlock().get(0, b);
        return b;
    }

    /** Writes an empty extent root into i_block (a new file, or a file converted to extents). */
    public static void initEmpty(Inode.Editor inode) {
        ByteBuffer r = inode.iBlock();
        for (int i = 0; i < Inode.I_BLOCK_SIZE; i++) r.put(i, (byte) 0);
        writeHeader(r, 0, ROOT_ENTRIES, 0);
    }

    @Override public List<Extent> extents() { return extents.all(); }
    public int nodeCount() { int n = leaves.size(); for (List<Long> l : index) n += l.size(); return n; }
    /** Leaves built and compared or written since this tree was loaded (a cost measure for tests and benchmarks). */
    public long leafWrites() { return leafWrites; }
    /** Times the whole leaf level was laid out again. */
    public long relayouts() { return relayouts; }
    @Override public long goalFor(long lblk) { return extents.goalFor(lblk); }
    @Override public Extent find(long lblk) { return extents.find(lblk); }
    @Override public Extent next(long lblk) { return extents.next(lblk); }
    @Override public int maxRun(boolean unwritten) { return extents.maxRun(unwritten); }
    @Override public void insert(long lblk, long pblk, long len, boolean unwritten) { extents.insert(lblk, pblk, len, unwritten); }
    @Override public List<BlockAllocator.Range> remove(long from, long to) { return extents.remove(from, to); }
    @Override public void markWritten(long from, long to) { extents.markWritten(from, to); }
    @Override public long mappedBlocks() { return extents.mappedBlocks(); }

    /**
     * Writes what changed: the leaves holding changed extents (or, now and then, the whole leaf
     * level), the index levels, the root into the inode editor's i_block. Blocks the tree no longer
     * needs are freed. Returns the change in the number of tree blocks, for i_blocks.
     */
    @Override
    public int store(Handle h, BlockAllocator alloc) throws IOException {
        if (!extents.changed()) return 0;
        int before = nodeCount();
        int n = extents.size();
        Set<Long> fresh = new HashSet<>();
        boolean[] dirty;
        if (n <= ROOT_ENTRIES) {
            for (Leaf l : leaves) free(h, alloc, l.block);
            leaves.clear();
            dirty = new boolean[0];
        } else {
            dirty = leaves.isEmpty() ? null : placeChanges(h, alloc, fresh);
            if (dirty == null) dirty = relayout(h, alloc, fresh, extents.unchangedTail() == 0 && n > storedCount);
        }
        writeLeaves(h, dirty, fresh);
        writeIndex(h, alloc, fresh);
        storedCount = n;
        extents.resetChanges();
        rootBytes = rootOf(inode);
        return nodeCount() - before;
    }

    /**
     * Fits the changed extents into the leaves that held the changed window, spreading out to
     * neighbours with room or adding a leaf when the level is full. Returns which leaves to write,
     * or null when the leaf level must be laid out again instead.
     */
    private boolean[] placeChanges(Handle h, BlockAllocator alloc, Set<Long> fresh) throws IOException {
        int n = extents.size(), oldN = storedCount, delta = n - oldN;
        int from = extents.changedFrom(), oldEnd = oldN - extents.unchangedTail();
        if (oldEnd < from) oldEnd = from;
        int[] start = starts();
        int a = leafOf(start, Math.min(from, oldN - 1));
        // an insertion right at a leaf's start may go at the end of the leaf before, if that one has room
        if (oldEnd == from && a > 0 && from == start[a] && leaves.get(a).count >= perBlock && leaves.get(a - 1).count < perBlock) a--;
        int b = oldEnd > from ? Math.max(a, leafOf(start, oldEnd - 1)) : a;
        long m = delta;
        for (int i = a; i <= b; i++) m += leaves.get(i).count;
        // a full window takes in the nearest leaves with room (each step toward the closer one)
        long slack = (long) leaves.size() * perBlock - n;
        while (m > (long) (b - a + 1) * perBlock && slack >= 0) {
            int left = a - 1, right = b + 1;
            while (left >= 0 && leaves.get(left).count >= perBlock) left--;
            while (right < leaves.size() && leaves.get(right).count >= perBlock) right++;
            boolean useLeft = left >= 0 && (right >= leaves.size() || a - left <= right - b);
            if (useLeft) { for (int i = a - 1; i >= left; i--) m += leaves.get(i).count; a = left; }
            else if (right < leaves.size()) { for (int i = b + 1; i <= right; i++) m += leaves.get(i).count; b = right; }
            else break;
        }
        int keep = b - a + 1, others = leaves.size() - keep, want = keep;
        boolean appendToFull = false;
        if (m > (long) keep * perBlock) {
            // the level is full: appends get a new leaf at the end; elsewhere the level is laid out
            // again with the new leaf's room spread over all leaves, so later insertions find room near
            if (b < leaves.size() - 1 || extents.unchangedTail() != 0) return null;
            want = (int) ((m + perBlock - 1) / perBlock);
            appendToFull = true;
        } else if (m < keep || (long) leaves.size() * perBlock - n > perBlock) {
            want = (int) ((m + perBlock - 1) / perBlock); // removals emptied leaves: fewer of them
        }
        if (others + want == 0 || (long) (others + want) * perBlock - n > perBlock) return null; // still too much room: relayout
        // resize the window to `want` leaves, then spread its m extents evenly over them (appends: fill them in order)
        while (b - a + 1 > want) { free(h, alloc, leaves.get(b).block); leaves.remove(b); b--; }
        while (b - a + 1 < want) {
            long blk = allocate(h, alloc, leaves.get(b).block + 1, fresh);
            leaves.add(b + 1, new Leaf(blk, 0));
            b++;
        }
        if (appendToFull) pack(a, b, (int) m); else spread(a, b, (int) m);
        boolean[] dirty = new boolean[leaves.size()];
        for (int i = a; i <= b; i++) dirty[i] = true;
        return dirty;
    }

    /** Lays the whole leaf level out again: as few leaves as hold the extents, reusing blocks in order. */
    private boolean[] relayout(Handle h, BlockAllocator alloc, Set<Long> fresh, boolean append) throws IOException {
        relayouts++;
        int n = extents.size(), want = (n + perBlock - 1) / perBlock;
        while (leaves.size() > want) free(h, alloc, leaves.remove(leaves.size() - 1).block);
        while (leaves.size() < want) {
            long goal = leaves.isEmpty() ? extents.get(0).pblk() : leaves.get(leaves.size() - 1).block + 1;
            leaves.add(new Leaf(allocate(h, alloc, goal, fresh), 0));
        }
        if (append) pack(0, want - 1, n);             // appends go on at the end: keep the room there
        else spread(0, want - 1, n);
        boolean[] dirty = new boolean[want];
        Arrays.fill(dirty, true);
        return dirty;
    }

    /** Gives leaves a..b m extents between them, as evenly as possible, the free slots interleaved (not all at one end). */
    private void spread(int a, int b, int m) {
        long k = b - a + 1;
        for (int i = a; i <= b; i++) leaves.get(i).count = (int) ((i - a + 1) * m / k - (i - a) * m / k);
    }

    /** Gives leaves a..b m extents between them, each full but the last (the room stays at the end). */
    private void pack(int a, int b, int m) {
        for (int i = a; i <= b; i++) { leaves.get(i).count = Math.min(perBlock, m); m -= leaves.get(i).count; }
    }

    private int[] starts() {
        int[] s = new int[leaves.size() + 1];
        for (int i = 0; i < leaves.size(); i++) s[i + 1] = s[i] + leaves.get(i).count;
        return s;
    }

    /** The leaf holding extent number e (start has one entry per leaf plus the total). */
    private static int leafOf(int[] start, int e) {
        int lo = 0, hi = start.length - 2;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (start[mid] <= e) lo = mid; else hi = mid - 1;
        }
        return lo;
    }

    private long allocate(Handle h, BlockAllocator alloc, long goal, Set<Long> fresh) throws IOException {
        h.extend(4);
        long blk = alloc.allocate(h, goal, 1).start();
        fresh.add(blk);
        return blk;
    }

    private void free(Handle h, BlockAllocator alloc, long blk) throws IOException {
        h.extend(2);
        h.forget(blk);
        alloc.free(h, blk, 1);
    }

    private void writeLeaves(Handle h, boolean[] dirty, Set<Long> fresh) throws IOException {
        int seed = sb.hasMetadataCsum() ? inodeSeed() : 0;
        int e = 0, count = 0;
        for (boolean d : dirty) if (d) count++;
        h.extend(count);
        for (int i = 0; i < leaves.size(); i++) {
            Leaf l = leaves.get(i);
            if (dirty[i]) {
                ByteBuffer node = newNode(l.count, 0);
                for (int k = 0; k < l.count; k++) writeExtent(node, k, extents.get(e + k));
                seal(node, seed);
                writeIfChanged(h, l.block, node, fresh);
                leafWrites++;
            }
            e += l.count;
        }
        if (!leaves.isEmpty() && e != extents.size()) throw new IllegalStateException("inode " + inode.number() + ": leaves hold " + e + " extents, the list " + extents.size());
    }

    /** Packs the index levels above the leaves (reusing their blocks level by level) and writes the root. */
    private void writeIndex(Handle h, BlockAllocator alloc, Set<Long> fresh) throws IOException {
        int seed = sb.hasMetadataCsum() ? inodeSeed() : 0;
        long[] keys, ptrs;
        int depth;
        if (leaves.isEmpty()) {
            keys = null; ptrs = null; depth = 0;
        } else {
            keys = new long[leaves.size()]; ptrs = new long[leaves.size()];
            int e = 0;
            for (int i = 0; i < leaves.size(); i++) { keys[i] = extents.get(e).lblk(); ptrs[i] = leaves.get(i).block; e += leaves.get(i).count; }
            depth = 1;
        }
        int level = 0;
        while (keys != null && keys.length > ROOT_ENTRIES) {
            int nodes = (keys.length + perBlock - 1) / perBlock;
            if (index.size() <= level) index.add(new ArrayList<>());
            List<Long> blocks = index.get(level);
            while (blocks.size() > nodes) free(h, alloc, blocks.remove(blocks.size() - 1));
            while (blocks.size() < nodes)
                blocks.add(allocate(h, alloc, blocks.isEmpty() ? ptrs[ptrs.length - 1] + 1 : blocks.get(blocks.size() - 1) + 1, fresh));
            h.extend(nodes);
            long[] upKeys = new long[nodes], upPtrs = new long[nodes];
            for (int k = 0; k < nodes; k++) {
                int from = k * perBlock, to = Math.min(keys.length, from + perBlock);
                ByteBuffer node = newNode(to - from, depth);
                for (int i = from; i < to; i++) writeIndexEntry(node, i - from, keys[i], ptrs[i]);
                seal(node, seed);
                writeIfChanged(h, blocks.get(k), node, fresh);
                upKeys[k] = keys[from];
                upPtrs[k] = blocks.get(k);
            }
            keys = upKeys; ptrs = upPtrs;
            depth++;
            level++;
        }
        while (index.size() > level) for (long b : index.remove(index.size() - 1)) free(h, alloc, b);
        ByteBuffer root = ByteBuffer.allocate(Inode.I_BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        if (keys == null) {
            writeHeader(root, extents.size(), ROOT_ENTRIES, 0);
            for (int i = 0; i < extents.size(); i++) writeExtent(root, i, extents.get(i));
        } else {
            writeHeader(root, keys.length, ROOT_ENTRIES, depth);
            for (int i = 0; i < keys.length; i++) writeIndexEntry(root, i, keys[i], ptrs[i]);
        }
        inode.iBlock(root);
    }

    private ByteBuffer newNode(int entries, int depth) {
        ByteBuffer node = ByteBuffer.allocate(vol.blockSize()).order(ByteOrder.LITTLE_ENDIAN);
        writeHeader(node, entries, perBlock, depth);
        return node;
    }

    private void seal(ByteBuffer node, int seed) {
        if (!sb.hasMetadataCsum()) return;
        int tail = ExtentMap.HEADER + ExtentMap.ENTRY * perBlock;
        node.putInt(tail, Crc32c.update(seed, node, 0, tail));
    }

    private int inodeSeed() {
        int c = Crc32c.updateInt(sb.checksumSeed(), (int) inode.number());
        return Crc32c.updateInt(c, inode.bytes().getInt(0x64));
    }

    private static void writeExtent(ByteBuffer node, int slot, Extent e) {
        int off = ExtentMap.HEADER + slot * ExtentMap.ENTRY;
        node.putInt(off, (int) e.lblk());
        node.putShort(off + 4, (short) (e.unwritten() ? e.len() + MAX_LEN : e.len()));
        node.putShort(off + 6, (short) (e.pblk() >>> 32));
        node.putInt(off + 8, (int) e.pblk());
    }

    private static void writeIndexEntry(ByteBuffer node, int slot, long key, long ptr) {
        int off = ExtentMap.HEADER + slot * ExtentMap.ENTRY;
        node.putInt(off, (int) key);
        node.putInt(off + 4, (int) ptr);
        node.putShort(off + 8, (short) (ptr >>> 32));
        node.putShort(off + 10, (short) 0);
    }

    private static void writeHeader(ByteBuffer n, int entries, int max, int depth) {
        n.putShort(0, (short) ExtentMap.MAGIC);
        n.putShort(2, (short) entries);
        n.putShort(4, (short) max);
        n.putShort(6, (short) depth);
        n.putInt(8, 0);
    }

    private void writeIfChanged(Handle h, long blk, ByteBuffer node, Set<Long> fresh) throws IOException {
        byte[] want = node.array();
        boolean isNew = fresh.contains(blk);
        if (!isNew) {
            byte[] have = vol.cache().copyOf(blk);
            if (have == null) { vol.readMetaBlock(blk, "extent block"); have = vol.cache().copyOf(blk); }
            if (have != null && Arrays.equals(have, want)) return;
        }
        ByteBuffer w = isNew ? h.getCreateAccess(blk) : h.getWriteAccess(blk);
        w.put(0, want);
    }
}
