package ext4j.extent;

import ext4j.base.CorruptException;
import ext4j.base.Crc32c;
import ext4j.ondisk.SystemZones;
import ext4j.ondisk.Volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads an ext4 extent tree (Documentation/filesystems/ext4/ifork.rst). The root lives in i_block;
 * each level below is one block with a 12-byte header, 12-byte entries and, with metadata_csum,
 * a crc32c tail. Every node is checked (magic, depth, counts, order, checksum) as it is read, and
 * the walk is bounded by the header's depth, itself at most {@link #MAX_DEPTH}.
 */
public final class ExtentMap implements FileMap {
    public static final int MAGIC = 0xF30A, MAX_DEPTH = 5, HEADER = 12, ENTRY = 12;
    /** Lengths above this mark an unwritten extent (length - 32768). */
    public static final int INIT_MAX_LEN = 32768;

    private final Volume vol;
    private final long ino;
    private final ByteBuffer root;
    private final Integer csumSeed; // null without metadata_csum

    public ExtentMap(Volume vol, long ino, ByteBuffer iBlock, Integer csumSeed) throws CorruptException {
        this.vol = vol;
        this.ino = ino;
        this.root = iBlock.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        this.csumSeed = csumSeed;
        checkNode(root, -1, -1, "i_block");
    }

    private int entries(ByteBuffer n) { return n.getShort(2) & 0xFFFF; }
    private int depth(ByteBuffer n) { return n.getShort(6) & 0xFFFF; }
    private static long u32(ByteBuffer n, int off) { return Integer.toUnsignedLong(n.getInt(off)); }

    /** Where a node is, for error messages (built only when one is thrown). */
    private String at(long block, String where) {
        return block < 0 ? "inode " + ino + " " + where : "inode " + ino + ": extent block " + block;
    }

    /** Validates a node's header and entries; expectDepth -1 means root (any depth up to MAX_DEPTH). */
    private void checkNode(ByteBuffer n, int expectDepth, long block, String where) throws CorruptException {
        int magic = n.getShort(0) & 0xFFFF;
        if (magic != MAGIC) throw new CorruptException(String.format("%s: extent header magic 0x%04x, expected 0xf30a", at(block, where), magic));
        int max = n.getShort(4) & 0xFFFF, count = entries(n), depth = depth(n);
        int capacity = (n.capacity() - HEADER) / ENTRY;
        if (max > capacity || max == 0) throw new CorruptException(at(block, where) + ": extent header max " + max + " exceeds room for " + capacity);
        if (count > max) throw new CorruptException(at(block, where) + ": extent header has " + count + " entries, max " + max);
        if (depth > MAX_DEPTH) throw new CorruptException(at(block, where) + ": extent tree depth " + depth + " exceeds " + MAX_DEPTH);
        if (expectDepth >= 0 && depth != expectDepth) throw new CorruptException(at(block, where) + ": extent node depth " + depth + ", expected " + expectDepth);
        if (block >= 0 && csumSeed != null) {
            int tail = HEADER + ENTRY * max;
            if (tail + 4 > n.capacity()) throw new CorruptException(at(block, where) + ": no room for extent block checksum");
            int want = Crc32c.update(csumSeed, n, 0, tail);
            int have = n.getInt(tail);
            if (want != have) throw new CorruptException(String.format("%s: extent block checksum mismatch: stored 0x%08x, computed 0x%08x", at(block, where), have, want));
        }
        long prevEnd = -1, blocks = vol.superblock().blocksCount();
        for (int i = 0; i < count; i++) {
            int e = HEADER + i * ENTRY;
            long start = u32(n, e);
            if (i > 0 && start < prevEnd)
                throw new CorruptException(at(block, where) + ": extent entries out of order at entry " + i + " (logical " + start + ")");
            if (depth == 0) {
                int len = n.getShort(e + 4) & 0xFFFF;
                int real = len > INIT_MAX_LEN ? len - INIT_MAX_LEN : len;
                if (real == 0) throw new CorruptException(at(block, where) + ": zero-length extent at entry " + i);
                long phys = leafPhysical(n, e);
                if (!vol.validBlock(phys) || phys + real > blocks)
                    throw new CorruptException(at(block, where) + ": extent " + start + "+" + real + " maps to blocks " + phys + ".." + (phys + real - 1) + " outside the filesystem");
                SystemZones.Zone z = vol.systemZones().overlap(phys, real, ino);
                if (z != null)
                    throw new CorruptException(at(block, where) + ": extent " + start + "+" + real + " maps to blocks " + phys + ".." + (phys + real - 1) + ", which overlap " + z.what() + " (blocks " + z.start() + ".." + (z.end() - 1) + ")");
                prevEnd = start + real;
            } else {
                long child = indexChild(n, e);
                SystemZones.Zone z = vol.validBlock(child) ? vol.systemZones().overlap(child, 1, ino) : null;
                if (z != null) throw new CorruptException(at(block, where) + ": extent index entry " + i + " points at block " + child + ", inside " + z.what());
                prevEnd = start + 1;
            }
        }
    }

    private static long leafPhysical(ByteBuffer n, int e) {
        return u32(n, e + 8) | (long) (n.getShort(e + 6) & 0xFFFF) << 32;
    }

    private static long indexChild(ByteBuffer n, int e) {
        return u32(n, e + 4) | (long) (n.getShort(e + 8) & 0xFFFF) << 32;
    }

    private ByteBuffer readNode(long block, int expectDepth) throws IOException {
        if (!vol.validBlock(block)) vol.readMetaBlock(block, "inode " + ino + " extent block"); // throws, naming it
        ByteBuffer n = vol.cache().read(block);
        checkNode(n, expectDepth, block, null);
        return n;
    }

    /** Index of the last entry whose first logical block is <= lblk, or -1. */
    private static int search(ByteBuffer n, int count, long lblk) {
        int lo = 0, hi = count - 1, found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (u32(n, HEADER + mid * ENTRY) <= lblk) { found = mid; lo = mid + 1; } else hi = mid - 1;
        }
        return found;
    }

    @Override
    public Run find(long lblk) throws IOException {
        ByteBuffer n = root;
        long boundary = MAX_LOGICAL; // first logical block past this subtree
        for (int level = depth(root); ; level--) {
            int count = entries(n);
            int i = search(n, count, lblk);
            if (i + 1 < count) boundary = Math.min(boundary, u32(n, HEADER + (i + 1) * ENTRY));
            if (level == 0) {
                if (i >= 0) {
                    int e = HEADER + i * ENTRY;
                    long start = u32(n, e);
                    int len = n.getShort(e + 4) & 0xFFFF;
                    boolean unwritten = len > INIT_MAX_LEN;
                    if (unwritten) len -= INIT_MAX_LEN;
                    if (lblk < start + len) {
                        long off = lblk - start;
                        return new Run(lblk, len - off, leafPhysical(n, e) + off, unwritten ? Run.Kind.UNWRITTEN : Run.Kind.MAPPED);
                    }
                }
                return Run.hole(lblk, Math.max(1, boundary - lblk));
            }
            if (i < 0) return Run.hole(lblk, Math.max(1, Math.min(boundary, count > 0 ? u32(n, HEADER) : boundary) - lblk));
            n = readNode(indexChild(n, HEADER + i * ENTRY), level - 1);
        }
    }

    @Override
    public List<Run> runs() throws IOException {
        List<Run> out = new ArrayList<>();
        collect(root, depth(root), out);
        return out;
    }

    /** Depth-first walk; recursion depth is bounded by MAX_DEPTH, checked on every node. */
    private void collect(ByteBuffer n, int level, List<Run> out) throws IOException {
        int count = entries(n);
        for (int i = 0; i < count; i++) {
            int e = HEADER + i * ENTRY;
            if (level == 0) {
                int len = n.getShort(e + 4) & 0xFFFF;
                boolean unwritten = len > INIT_MAX_LEN;
                out.add(new Run(u32(n, e), unwritten ? len - INIT_MAX_LEN : len, leafPhysical(n, e), unwritten ? Run.Kind.UNWRITTEN : Run.Kind.MAPPED));
            } else {
                collect(readNode(indexChild(n, e), level - 1), level - 1, out);
            }
        }
    }

    /** The tree's index and leaf blocks below the root, for stat output. */
    public List<Long> nodeBlocks() throws IOException {
        List<Long> out = new ArrayList<>();
        nodes(root, depth(root), out);
        return out;
    }

    private void nodes(ByteBuffer n, int level, List<Long> out) throws IOException {
        if (level == 0) return;
        for (int i = 0; i < entries(n); i++) {
            long child = indexChild(n, HEADER + i * ENTRY);
            out.add(child);
            nodes(readNode(child, level - 1), level - 1, out);
        }
    }

    /**
     * The whole tree in one walk, each node read once: the extents in order, the leaves in order
     * with their entry counts, and the index blocks of each level above the leaves (bottom-up).
     */
    public record Layout(List<Run> runs, List<long[]> leaves, List<List<Long>> index) {}

    public Layout layout() throws IOException {
        int depth = depth(root);
        List<Run> runs = new ArrayList<>();
        List<long[]> leaves = new ArrayList<>();
        List<List<Long>> index = new ArrayList<>();
        for (int l = 1; l < depth; l++) index.add(new ArrayList<>());
        walk(root, depth, -1, runs, leaves, index);
        return new Layout(runs, leaves, index);
    }

    private void walk(ByteBuffer n, int level, long block, List<Run> runs, List<long[]> leaves, List<List<Long>> index) throws IOException {
        int count = entries(n);
        if (level == 0) {
            if (block >= 0) leaves.add(new long[] {block, count});
            collect(n, 0, runs);
            return;
        }
        if (block >= 0) index.get(level - 1).add(block);
        for (int i = 0; i < count; i++) {
            long child = indexChild(n, HEADER + i * ENTRY);
            walk(readNode(child, level - 1), level - 1, child, runs, leaves, index);
        }
    }
}
