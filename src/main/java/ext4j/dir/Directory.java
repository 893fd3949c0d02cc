package ext4j.dir;

import ext4j.extent.FileMap;
import ext4j.extent.Run;
import ext4j.base.CorruptException;
import ext4j.base.Crc32c;
import ext4j.ondisk.Features;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Superblock;
import ext4j.ondisk.Volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads one directory: linear block directories, htree (dx) directories with hash lookup, and
 * inline-data directories (Documentation/filesystems/ext4/directory.rst). Listing walks every
 * leaf block in order; lookup in an indexed directory descends the hash tree to one leaf.
 */
public final class Directory {
    private static final int MAX_DX_LEVELS = 3;

    private final Volume vol;
    private final Superblock sb;
    private final Inode inode;
    private final FileMap map;          // null for inline directories
    private final byte[] inline;        // i_block plus system.data, or null
    private final Integer csumSeed;     // per-inode seed, null without metadata_csum
    private final int bs;
    private final boolean filetype;

    public Directory(Volume vol, Inode inode, FileMap map, byte[] inline) {
        this.vol = vol;
        this.sb = vol.superblock();
        this.inode = inode;
        this.map = map;
        this.inline = inline;
        this.csumSeed = sb.hasMetadataCsum() ? inode.checksumSeed(sb) : null;
        this.bs = vol.blockSize();
        this.filetype = sb.hasIncompat(Features.INCOMPAT_FILETYPE);
    }

    private long maxInode() { return Integer.toUnsignedLong(sb.inodesCount()); }

    private boolean indexed() {
        return inline == null && inode.hasFlag(Inode.FL_INDEX) && sb.hasCompat(Features.COMPAT_DIR_INDEX);
    }

    private long blockCount() throws CorruptException {
        if (inode.size() % bs != 0) throw new CorruptException("directory inode " + inode.number() + ": size " + inode.size() + " is not a multiple of the block size " + bs);
        return inode.size() / bs;
    }

    /** Every entry, "." and ".." included, in on-disk order. */
    public List<DirEntry> list() throws IOException {
        List<DirEntry> out = new ArrayList<>();
        if (inline != null) {
            listInline(out);
            return out;
        }
        long n = blockCount();
        for (long l = 0; l < n; l++) {
            ByteBuffer b = leafOrNode(l);
            if (b != null) parseLeaf(b, l, out::add);
        }
        return out;
    }

    /** The entry for name, or null. */
    public DirEntry lookup(byte[] name) throws IOException {
        if (indexed()) return dxLookup(name);
        if (inline != null) {
            List<DirEntry> all = new ArrayList<>();
            listInline(all);
            for (DirEntry e : all) if (e.nameEquals(name)) return e;
            return null;
        }
        long n = blockCount();
        for (long l = 0; l < n; l++) {
            ByteBuffer b = leafOrNode(l);
            DirEntry e = b == null ? null : findInLeaf(b, l, name);
            if (e != null) return e;
        }
        return null;
    }

    // ---- readdir: a listing that resumes from a cookie ----

    /** Receives entries of a listing; returns false when it takes no more (that entry is not consumed). */
    public interface Sink { boolean accept(DirEntry e, long nextCookie) throws IOException; }

    /**
     * Lists entries at or after cookie (0: from the start), in hash order, into sink until it is
     * full; each entry comes with the cookie that resumes after it. Positions: "." is 0, ".." is 1,
     * any other entry 2 + (major hash << 32 | minor hash), unsigned. They depend only on the name, so
     * an entry that stays in the directory while it changes (splits, a linear directory turned
     * indexed) is returned exactly once over a listing, as Linux's hash cookies for indexed
     * directories (telldir, NFS) give. Indexed directories are read a leaf at a time (with its
     * hash-collision continuation leaves); others, one block on dir_index filesystems, whole.
     */
    public void readdir(long cookie, Sink sink) throws IOException {
        if (cookie == 0) {
            if (!sink.accept(new DirEntry(inode.number(), new byte[]{'.'}, filetype ? DirEntry.FT_DIR : 0), 1)) return;
            cookie = 1;
        }
        if (cookie == 1) {
            if (!sink.accept(new DirEntry(parentInode(), new byte[]{'.', '.'}, filetype ? DirEntry.FT_DIR : 0), 2)) return;
            cookie = 2;
        }
        if (!indexed()) {
            List<DirEntry> all = new ArrayList<>(list());
            all.removeIf(DirEntry::isDotOrDotDot);
            emitSorted(all, listingHashVersion(), cookie, sink);
            return;
        }
        long p0 = physical(0);
        DxNode root = dxRoot(vol.readMetaBlock(p0, where(0, p0)), p0);
        int version = effectiveHashVersion();
        long major = (cookie - 2) >>> 32;
        DxNode[] nodes = new DxNode[rootLevels + 1];
        int[] idx = new int[rootLevels + 1];
        nodes[0] = root;
        idx[0] = pick(root, major);
        for (int lv = 1; lv <= rootLevels; lv++) {
            nodes[lv] = readDxNode(nodes[lv - 1].block(idx[lv - 1]));
            idx[lv] = pick(nodes[lv], major);
        }
        long limit = blockCount();
        List<DirEntry> group = new ArrayList<>();
        java.util.Set<Long> seen = new java.util.HashSet<>(); // leaves read by this call: one read twice is a cycle (or a shared leaf)
        seen.add(0L);
        for (long steps = 0; steps <= limit; steps++) {
            long leaf = nodes[rootLevels].block(idx[rootLevels]);
            if (!seen.add(leaf)) throw new CorruptException("directory inode " + inode.number() + ": htree reaches block " + leaf
                    + (leaf == 0 ? " (its root)" : "") + " a second time, from entry " + idx[rootLevels] + " of " + (rootLevels == 0 ? "the root" : "an index node") + ": a cycle");
            group.addAll(readLeaf(leaf, limit));
            // the next leaf, if any, and whether it continues this one's last hash
            int lv = rootLevels;
            while (lv >= 0 && idx[lv] + 1 >= nodes[lv].count()) lv--;
            boolean continues = lv >= 0 && (nodes[lv].hash(idx[lv] + 1) & 1) != 0;
            if (!continues) {
                if (!emitSorted(group, version, cookie, sink)) return;
                group.clear();
            }
            if (lv < 0) return;
            idx[lv]++;
            for (int d = lv + 1; d <= rootLevels; d++) {
                nodes[d] = readDxNode(nodes[d - 1].block(idx[d - 1]));
                idx[d] = 0;
            }
        }
        throw new CorruptException("directory inode " + inode.number() + ": htree has more leaves than blocks");
    }

    private List<DirEntry> readLeaf(long lblk, long limit) throws IOException { return parseAll(leafBlock(lblk, limit), lblk); }

    /** An htree leaf, read and its checksum verified. */
    private ByteBuffer leafBlock(long lblk, long limit) throws IOException {
        if (lblk >= limit) throw new CorruptException("directory inode " + inode.number() + ": htree points to block " + lblk + " past the directory end " + limit);
        long p = physical(lblk);
        ByteBuffer leaf = vol.readMetaBlock(p, () -> where(lblk, p));
        verifyLeaf(leaf, lblk, p);
        return leaf;
    }

    /** The hash an unindexed directory's listing is ordered by: the one an index would get (DirectoryEditor's rule). */
    private int listingHashVersion() {
        int v = sb.defHashVersion();
        if (v > DxHash.TEA) v = DxHash.HALF_MD4;
        if ((sb.flags() & Superblock.FLAG_UNSIGNED_HASH) != 0) v += 3;
        return v;
    }

    /** An entry's listing position (see readdir). */
    public static long position(byte[] name, int hashVersion, int[] seed) {
        long major = Integer.toUnsignedLong(DxHash.hash(name, 0, name.length, hashVersion, seed));
        long minor = Integer.toUnsignedLong(DxHash.minorHash(name, 0, name.length, hashVersion, seed));
        return 2 + (major << 32 | minor);
    }

    /** Emits, in position order, the entries at or after cookie; false when the sink filled up. */
    private boolean emitSorted(List<DirEntry> entries, int version, long cookie, Sink sink) throws IOException {
        int[] seed = sb.hashSeed();
        record At(long pos, DirEntry e) {}
        List<At> keyed = new ArrayList<>(entries.size());
        for (DirEntry e : entries) {
            long pos = position(e.nameBytes(), version, seed);
            if (Long.compareUnsigned(pos, cookie) >= 0) keyed.add(new At(pos, e));
        }
        keyed.sort((a, b) -> Long.compareUnsigned(a.pos, b.pos));
        for (At a : keyed) if (!sink.accept(a.e, a.pos + 1)) return false;
        return true;
    }

    /** The ".." entry's inode. */
    private long parentInode() throws IOException {
        for (DirEntry e : inline != null ? list() : parseAll(leafOrNode0(), 0))
            if (e.nameBytes().length == 2 && e.isDotOrDotDot()) return e.inode();
        throw new CorruptException("directory inode " + inode.number() + ": no '..' entry");
    }

    private ByteBuffer leafOrNode0() throws IOException {
        ByteBuffer b = leafOrNode(0);
        if (b == null) throw new CorruptException("directory inode " + inode.number() + ": block 0 is an index node");
        return b;
    }

    // ---- inline ----

    private void listInline(List<DirEntry> out) throws CorruptException {
        String where = "inline directory inode " + inode.number();
        ByteBuffer b = ByteBuffer.wrap(inline).order(ByteOrder.LITTLE_ENDIAN);
        long parent = Integer.toUnsignedLong(b.getInt(0));
        if (parent == 0 || parent > maxInode()) throw new CorruptException(where + ": parent inode " + parent + " invalid");
        out.add(new DirEntry(inode.number(), new byte[]{'.'}, DirEntry.FT_DIR));
        out.add(new DirEntry(parent, new byte[]{'.', '.'}, DirEntry.FT_DIR));
        int first = Math.min(Inode.I_BLOCK_SIZE, inline.length);
        DirBlock.parse(b, 4, first, filetype, maxInode(), bs, where + " (i_block)", out::add);
        if (inline.length > Inode.I_BLOCK_SIZE)
            DirBlock.parse(b, Inode.I_BLOCK_SIZE, inline.length, filetype, maxInode(), bs, where + " (system.data)", out::add);
    }

    // ---- blocks ----

    private String where(long lblk, long pblk) {
        return "directory inode " + inode.number() + " block " + lblk + " (physical " + pblk + ")";
    }

    private long physical(long lblk) throws IOException {
        Run r = map.find(lblk);
        if (r.kind() != Run.Kind.MAPPED) throw new CorruptException("directory inode " + inode.number() + ": hole at block " + lblk);
        return r.physical();
    }

    /** Reads a directory block; returns null for an htree index node (which holds no entries), after checking it. */
    private ByteBuffer leafOrNode(long lblk) throws IOException {
        long p = physical(lblk);
        ByteBuffer b = vol.readMetaBlock(p, () -> where(lblk, p));
        if (indexed()) {
            if (lblk == 0) { dxRoot(b, p); return rootAsLeaf(b); }
            if (isDxNode(b)) { dxNode(b, lblk, p, -1); return null; }
        }
        verifyLeaf(b, lblk, p);
        return b;
    }

    /** The "." and ".." entries of a dx_root block; ".." spans the index data, which holds no entries. */
    private ByteBuffer rootAsLeaf(ByteBuffer b) {
        ByteBuffer copy = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        copy.put(b.duplicate().position(0).limit(24)).flip();
        copy.putShort(12 + 4, (short) 12);
        return copy;
    }

    private boolean isDxNode(ByteBuffer b) {
        return b.getInt(0) == 0 && DirBlock.recLen(b, 0, bs) == bs;
    }

    private void verifyLeaf(ByteBuffer b, long lblk, long p) throws CorruptException {
        if (csumSeed == null || vol.cache().isVerified(p)) return;
        if (!DirBlock.hasTail(b, bs)) throw new CorruptException(where(lblk, p) + ": missing metadata_csum tail");
        int want = Crc32c.update(csumSeed, b, 0, bs - DirBlock.TAIL_SIZE);
        int have = b.getInt(bs - 4);
        if (want != have) throw new CorruptException(String.format("%s: directory block checksum mismatch: stored 0x%08x, computed 0x%08x", where(lblk, p), have, want));
        vol.cache().markVerified(p);
    }

    private void parseLeaf(ByteBuffer b, long lblk, java.util.function.Consumer<DirEntry> sink) throws IOException {
        DirBlock.parse(b, 0, leafEnd(b), filetype, maxInode(), bs, "directory inode " + inode.number() + " block " + lblk, sink);
    }

    private DirEntry findInLeaf(ByteBuffer b, long lblk, byte[] name) throws IOException {
        return DirBlock.find(b, 0, leafEnd(b), filetype, maxInode(), bs, () -> "directory inode " + inode.number() + " block " + lblk, name);
    }

    private int leafEnd(ByteBuffer b) { return b.capacity() == bs && csumSeed != null ? bs - DirBlock.TAIL_SIZE : b.capacity(); }

    // ---- htree ----

    /** An index node as read: where its dx entries start, their count, and the tree level it sits at. */
    private record DxNode(ByteBuffer b, int entriesOff, int count) {
        long hash(int i) { return i == 0 ? 0 : Integer.toUnsignedLong(b.getInt(entriesOff + 8 * i)); }
        long block(int i) { return Integer.toUnsignedLong(b.getInt(entriesOff + 8 * i + 4)) & 0x0FFFFFFFL; }
    }

    private int rootLevels;
    private int hashVersion;

    private DxNode dxRoot(ByteBuffer b, long p) throws CorruptException {
        String at = where(0, p) + " (htree root)";
        int infoLen = b.get(0x1D) & 0xFF;
        int levels = b.get(0x1E) & 0xFF;
        int maxLevels = sb.hasIncompat(Features.INCOMPAT_LARGEDIR) ? MAX_DX_LEVELS : 2;
        if (b.getInt(0x18) != 0 || infoLen != 8) throw new CorruptException(at + ": bad dx_root info (length " + infoLen + ")");
        if (levels >= maxLevels) throw new CorruptException(at + ": htree has " + (levels + 1) + " levels, more than " + maxLevels);
        rootLevels = levels;
        hashVersion = b.get(0x1C) & 0xFF;
        return dxNode(b, 0, p, 0x20);
    }

    /** Checks count/limit and the dx_tail checksum of an index node whose entries start at off (-1: a dx_node). */
    private DxNode dxNode(ByteBuffer b, long lblk, long p, int off) throws CorruptException {
        if (off < 0) off = 8;
        String at = where(lblk, p) + " (htree node)";
        int limit = b.getShort(off) & 0xFFFF, count = b.getShort(off + 2) & 0xFFFF;
        int expect = (bs - off) / 8 - (csumSeed != null ? 1 : 0);
        if (limit != expect) throw new CorruptException(at + ": dx limit " + limit + ", expected " + expect);
        if (count == 0 || count > limit) throw new CorruptException(at + ": dx count " + count + " outside 1.." + limit);
        if (csumSeed != null) {
            int tail = off + limit * 8;
            int c = Crc32c.update(csumSeed, b, 0, off + count * 8);
            c = Crc32c.update(c, b, tail, 4);
            c = Crc32c.updateInt(c, 0);
            int have = b.getInt(tail + 4);
            if (c != have) throw new CorruptException(String.format("%s: htree node checksum mismatch: stored 0x%08x, computed 0x%08x", at, have, c));
        }
        return new DxNode(b, off, count);
    }

    private int effectiveHashVersion() throws CorruptException {
        int v = hashVersion;
        if (v < DxHash.LEGACY || v > DxHash.SIPHASH)
            throw new CorruptException("directory inode " + inode.number() + ": htree root names unknown hash version " + v);
        // siphash is for casefolded encrypted directories, which an image ext4j opens cannot have
        if (v == DxHash.SIPHASH)
            throw new CorruptException("directory inode " + inode.number() + ": htree root names the siphash hash, used only by casefolded encrypted directories");
        if (v <= DxHash.TEA && (sb.flags() & Superblock.FLAG_UNSIGNED_HASH) != 0) v += 3;
        return v;
    }

    private DirEntry dxLookup(byte[] name) throws IOException {
        long p0 = physical(0);
        DxNode root = dxRoot(vol.readMetaBlock(p0, where(0, p0)), p0);
        long hash = Integer.toUnsignedLong(DxHash.hash(name, 0, name.length, effectiveHashVersion(), sb.hashSeed()));
        if (name.length <= 2 && (name[0] == '.' && (name.length == 1 || name[1] == '.'))) {
            for (DirEntry e : parseAll(rootAsLeaf(root.b()), 0)) if (e.nameEquals(name)) return e;
        }
        // frames[level] = node and chosen index at that level; level 0 is the root
        DxNode[] nodes = new DxNode[rootLevels + 1];
        int[] idx = new int[rootLevels + 1];
        nodes[0] = root;
        idx[0] = pick(root, hash);
        for (int lv = 1; lv <= rootLevels; lv++) {
            nodes[lv] = readDxNode(nodes[lv - 1].block(idx[lv - 1]));
            idx[lv] = pick(nodes[lv], hash);
        }
        long limit = blockCount();
        for (long steps = 0; steps <= limit; steps++) {
            DirEntry hit = findInLeaf(leafBlock(nodes[rootLevels].block(idx[rootLevels]), limit), nodes[rootLevels].block(idx[rootLevels]), name);
            if (hit != null) return hit;
            // Hash collisions continue in the next leaf only if its starting hash has the continuation bit.
            int lv = rootLevels;
            while (lv >= 0 && idx[lv] + 1 >= nodes[lv].count()) lv--;
            if (lv < 0) return null;
            long next = nodes[lv].hash(idx[lv] + 1);
            if ((next & 1) == 0 || (next & ~1L) != hash) return null;
            idx[lv]++;
            for (int d = lv + 1; d <= rootLevels; d++) {
                nodes[d] = readDxNode(nodes[d - 1].block(idx[d - 1]));
                idx[d] = 0;
            }
        }
        throw new CorruptException("directory inode " + inode.number() + ": htree collision chain does not end");
    }

    private DxNode readDxNode(long lblk) throws IOException {
        if (lblk >= blockCount()) throw new CorruptException("directory inode " + inode.number() + ": htree points to block " + lblk + " past the directory end");
        long p = physical(lblk);
        ByteBuffer b = vol.readMetaBlock(p, () -> where(lblk, p));
        if (!isDxNode(b)) throw new CorruptException(where(lblk, p) + ": expected an htree index node");
        return dxNode(b, lblk, p, -1);
    }

    /** Last entry whose hash is <= hash (entry 0 covers everything below entry 1). */
    private static int pick(DxNode n, long hash) {
        int lo = 1, hi = n.count() - 1, found = 0;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (n.hash(mid) <= hash) { found = mid; lo = mid + 1; } else hi = mid - 1;
        }
        return found;
    }

    private List<DirEntry> parseAll(ByteBuffer b, long lblk) throws IOException {
        List<DirEntry> out = new ArrayList<>();
        parseLeaf(b, lblk, out::add);
        return out;
    }
}
