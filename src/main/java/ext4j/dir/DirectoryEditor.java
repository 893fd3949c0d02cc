package ext4j.dir;

import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.base.Crc32c;
import ext4j.ondisk.Features;
import ext4j.ondisk.Superblock;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Adds, removes and retargets directory entries (Documentation/filesystems/ext4/directory.rst).
 * A directory stays linear while it fits one block; when it needs a second block on a dir_index
 * filesystem it becomes an htree, like Linux: block 0 turns into the dx_root and its entries
 * move, sorted by hash, into two leaves. In an htree, adds and removes touch the root, at most
 * one index level below it (two with largedir) and one leaf: full leaves split by hash (the
 * continuation bit marks a hash run across the split), full index nodes split, and a full root
 * grows a level. Unindexed multi-block directories are edited linearly. A dx structure this
 * editor does not accept is dropped (the directory becomes linear), as the kernel does.
 */
public final class DirectoryEditor implements DirEditor {
    private static final int ROOT_ENTRIES_OFF = 0x20, NODE_ENTRIES_OFF = 8;

    private final DirStorage s;
    private final Superblock sb;
    private final boolean csum, filetype, dirIndex;
    private final int bs, maxLevels;

    public DirectoryEditor(DirStorage s, Superblock sb) {
        this.s = s;
        this.sb = sb;
        this.csum = sb.hasMetadataCsum();
        this.filetype = sb.hasIncompat(Features.INCOMPAT_FILETYPE);
        this.dirIndex = sb.hasCompat(Features.COMPAT_DIR_INDEX);
        this.bs = s.blockSize();
        this.maxLevels = sb.hasIncompat(Features.INCOMPAT_LARGEDIR) ? 3 : 2;
    }

    // ---- leaf blocks ----

    /** One directory entry as the editor moves it around. */
    private record Entry(byte[] name, long ino, int type, long hash) {}

    private int end() { return csum ? bs - DirBlock.TAIL_SIZE : bs; }
    private static int need(int nameLen) { return (8 + nameLen + 3) & ~3; }
    private int nameLen(ByteBuffer b, int off) { return filetype ? b.get(off + 6) & 0xFF : b.getShort(off + 6) & 0xFFFF; }

    private void put(ByteBuffer b, int off, long ino, int rec, byte[] name, int type) {
        b.putInt(off, (int) ino);
        b.putShort(off + 4, (short) (rec == 65536 ? 0 : rec));
        b.put(off + 6, (byte) name.length);
        b.put(off + 7, (byte) (filetype ? type : 0));
        b.put(off + 8, name);
    }

    private byte[] name(ByteBuffer b, int off) {
        byte[] n = new byte[nameLen(b, off)];
        b.get(off + 8, n);
        return n;
    }

    private void sealLeaf(ByteBuffer b) {
        if (!csum) return;
        int t = bs - DirBlock.TAIL_SIZE;
        b.putInt(t, 0); b.putShort(t + 4, (short) DirBlock.TAIL_SIZE); b.put(t + 6, (byte) 0); b.put(t + 7, (byte) DirBlock.TAIL_FT);
        b.putInt(t + 8, Crc32c.update(s.checksumSeed(), b, 0, t));
    }

    /** Puts an entry into the first gap of a leaf that is big enough; false if none is. */
    private boolean tryInsert(long lblk, byte[] name, long ino, int type) throws IOException {
        ByteBuffer r = s.read(lblk);
        int want = need(name.length);
        for (int off = 0; off < end(); ) {
            int rec = DirBlock.recLen(r, off, bs);
            if (rec < 8 || off + rec > end()) return false; // not a leaf we can use (an index node: handled by callers)
            int used = r.getInt(off) == 0 ? 0 : need(nameLen(r, off));
            if (rec - used >= want) {
                ByteBuffer b = s.write(lblk);
                if (used == 0) put(b, off, ino, rec, name, type);
                else { b.putShort(off + 4, (short) used); put(b, off + used, ino, rec - used, name, type); }
                sealLeaf(b);
                return true;
            }
            off += rec;
        }
        return false;
    }

    /** Offset of name in a leaf and of the entry before it (-1), or null. */
    private int[] findInLeaf(ByteBuffer r, byte[] name) {
        int prev = -1;
        for (int off = 0; off < end(); ) {
            int rec = DirBlock.recLen(r, off, bs);
            if (rec < 8 || off + rec > bs) return null;
            if (r.getInt(off) != 0 && nameLen(r, off) == name.length && Arrays.equals(name(r, off), name)) return new int[]{off, prev};
            prev = off;
            off += rec;
        }
        return null;
    }

    private long removeAt(long lblk, int[] at) throws IOException {
        ByteBuffer b = s.write(lblk);
        int off = at[0], prev = at[1];
        long ino = Integer.toUnsignedLong(b.getInt(off));
        if (prev < 0) b.putInt(off, 0);
        else b.putShort(prev + 4, (short) (DirBlock.recLen(b, prev, bs) + DirBlock.recLen(b, off, bs)));
        sealLeaf(b);
        return ino;
    }

    private List<Entry> leafEntries(ByteBuffer r, boolean withDots) {
        List<Entry> out = new ArrayList<>();
        for (int off = 0; off < end(); ) {
            int rec = DirBlock.recLen(r, off, bs);
            if (rec < 8 || off + rec > bs) break;
            if (r.getInt(off) != 0) {
                byte[] n = name(r, off);
                boolean dot = isDot(n);
                if (withDots || !dot) out.add(new Entry(n, Integer.toUnsignedLong(r.getInt(off)), filetype ? r.get(off + 7) & 0xFF : 0, dot ? 0 : hash(n)));
            }
            off += rec;
        }
        return out;
    }

    private static boolean isDot(byte[] n) { return (n.length == 1 && n[0] == '.') || (n.length == 2 && n[0] == '.' && n[1] == '.'); }

    /** Rewrites a leaf with exactly these entries, packed, the last one spanning to the end. */
    private void writeLeaf(ByteBuffer b, List<Entry> es) {
        for (int i = 0; i < bs; i++) b.put(i, (byte) 0);
        int off = 0;
        if (es.isEmpty()) {
            b.putInt(0, 0);
            b.putShort(4, (short) (end() == 65536 ? 0 : end()));
        }
        for (int i = 0; i < es.size(); i++) {
            Entry e = es.get(i);
            int rec = i == es.size() - 1 ? end() - off : need(e.name().length);
            put(b, off, e.ino(), rec, e.name(), e.type());
            off += rec;
        }
        sealLeaf(b);
    }

    private static int bytes(List<Entry> es) {
        int n = 0;
        for (Entry e : es) n += need(e.name().length);
        return n;
    }

    // ---- hashing ----

    private int hashVersion = -1;

    private long hash(byte[] name) {
        int v = hashVersion >= 0 ? hashVersion : sb.defHashVersion();
        if (v <= DxHash.TEA && (sb.flags() & Superblock.FLAG_UNSIGNED_HASH) != 0) v += 3;
        return Integer.toUnsignedLong(DxHash.hash(name, 0, name.length, v, sb.hashSeed())) & ~1L;
    }

    // ---- index nodes ----

    /** An index block: its entries start at off; entry 0's hash slot holds limit and count. */
    private final class Node {
        final long lblk;
        final ByteBuffer b;
        final int off;
        Node(long lblk, ByteBuffer b, int off) { this.lblk = lblk; this.b = b; this.off = off; }
        int limit() { return b.getShort(off) & 0xFFFF; }
        int count() { return b.getShort(off + 2) & 0xFFFF; }
        void count(int c) { b.putShort(off + 2, (short) c); }
        long hash(int i) { return i == 0 ? 0 : Integer.toUnsignedLong(b.getInt(off + 8 * i)); }
        long block(int i) { return Integer.toUnsignedLong(b.getInt(off + 8 * i + 4)) & 0x0FFFFFFFL; }
        void set(int i, long hash, long block) { if (i > 0) b.putInt(off + 8 * i, (int) hash); b.putInt(off + 8 * i + 4, (int) block); }
        /** Inserts (hash, block) at position i, shifting the rest up. */
        void insert(int i, long hash, long block) {
            int c = count();
            for (int k = c; k > i; k--) set(k, hash(k - 1), block(k - 1));
            set(i, hash, block);
            count(c + 1);
        }
        /** Last entry whose hash is at most h. */
        int pick(long h) {
            int lo = 1, hi = count() - 1, found = 0;
            while (lo <= hi) {
                int mid = (lo + hi) >>> 1;
                if (hash(mid) <= h) { found = mid; lo = mid + 1; } else hi = mid - 1;
            }
            return found;
        }
    }

    private int limitFor(int off) { return (bs - off) / 8 - (csum ? 1 : 0); }

    private void sealNode(Node n) {
        if (!csum) return;
        int tail = n.off + n.limit() * 8;
        n.b.putInt(tail, 0);
        int c = Crc32c.update(s.checksumSeed(), n.b, 0, n.off + n.count() * 8);
        c = Crc32c.update(c, n.b, tail, 4);
        c = Crc32c.updateInt(c, 0);
        n.b.putInt(tail + 4, c);
    }

    /** The root, if the index is one this editor handles; null makes the caller drop the index. */
    private Node root() throws IOException {
        ByteBuffer r = s.read(0);
        int infoLen = r.get(0x1D) & 0xFF, levels = r.get(0x1E) & 0xFF;
        if (r.getInt(0x18) != 0 || infoLen != 8 || levels >= maxLevels) return null;
        Node n = new Node(0, r, ROOT_ENTRIES_OFF);
        if (n.limit() != limitFor(ROOT_ENTRIES_OFF) || n.count() == 0 || n.count() > n.limit()) return null;
        hashVersion = r.get(0x1C) & 0xFF;
        if (hashVersion > DxHash.TEA) return null;
        return n;
    }

    private Node node(long lblk, boolean writable) throws IOException {
        if (lblk == 0 || lblk >= s.blockCount()) throw new FsException(Errno.EIO, "htree points to directory block " + lblk);
        ByteBuffer b = writable ? s.write(lblk) : s.read(lblk);
        Node n = new Node(lblk, b, NODE_ENTRIES_OFF);
        if (b.getInt(0) != 0 || DirBlock.recLen(b, 0, bs) != bs || n.limit() != limitFor(NODE_ENTRIES_OFF) || n.count() == 0 || n.count() > n.limit())
            throw new FsException(Errno.EIO, "directory block " + lblk + " is not an htree index node");
        return n;
    }

    private int levels() throws IOException { return s.read(0).get(0x1E) & 0xFF; }

    /** The index path to the leaf for hash: nodes[0] is the root, idx[k] the entry chosen in nodes[k]. */
    private final class Path {
        final List<Node> nodes = new ArrayList<>();
        final List<Integer> idx = new ArrayList<>();
        int depth() { return nodes.size() - 1; }
        Node last() { return nodes.get(depth()); }
        long leaf() { return last().block(idx.get(depth())); }
    }

    private Path descend(Node root, long h, boolean writable) throws IOException {
        Path p = new Path();
        Node n = writable ? new Node(0, s.write(0), ROOT_ENTRIES_OFF) : root;
        int levels = levels();
        for (int lv = 0; ; lv++) {
            int i = n.pick(h);
            p.nodes.add(n);
            p.idx.add(i);
            if (lv == levels) break;
            n = node(n.block(i), writable);
        }
        if (p.leaf() == 0 || p.leaf() >= s.blockCount()) throw new FsException(Errno.EIO, "htree points to directory block " + p.leaf());
        return p;
    }

    /** Moves to the next leaf of a hash run (continuation bit), or returns false. */
    private boolean nextInRun(Path p, long h, boolean writable) throws IOException {
        int lv = p.depth();
        while (lv >= 0 && p.idx.get(lv) + 1 >= p.nodes.get(lv).count()) lv--;
        if (lv < 0) return false;
        long next = p.nodes.get(lv).hash(p.idx.get(lv) + 1);
        if ((next & 1) == 0 || (next & ~1L) != h) return false;
        p.idx.set(lv, p.idx.get(lv) + 1);
        for (int d = lv + 1; d <= p.depth(); d++) {
            p.nodes.set(d, node(p.nodes.get(d - 1).block(p.idx.get(d - 1)), writable));
            p.idx.set(d, 0);
        }
        return true;
    }

    // ---- public operations ----

    public void init(long self, long parent) throws IOException {
        long l = s.append();
        ByteBuffer b = s.write(l);
        put(b, 0, self, 12, new byte[]{'.'}, 2);
        put(b, 12, parent, end() - 12, new byte[]{'.', '.'}, 2);
        sealLeaf(b);
    }

    /**
     * A directory moved out of its inode, as Linux lays the block out (ext4_finish_convert_inline_dir):
     * ".", "..", then the inline entries' bytes as they were (slack and empty entries included), the
     * last one's rec_len reaching the end of the block. entries: a checked rec_len chain.
     */
    public void initWith(long self, long parent, byte[] entries) throws IOException {
        long l = s.append();
        ByteBuffer b = s.write(l);
        put(b, 0, self, 12, new byte[]{'.'}, 2);
        put(b, 12, parent, 12, new byte[]{'.', '.'}, 2);
        b.put(24, entries);
        int last = 12;
        for (int off = 24; off < 24 + entries.length; off += b.getShort(off + 4) & 0xFFFF) last = off;
        int rec = end() - last;
        b.putShort(last + 4, (short) (rec == 65536 ? 0 : rec));
        sealLeaf(b);
    }

    public void add(byte[] name, long ino, int type) throws IOException {
        if (s.indexed()) {
            Node root = root();
            if (root != null) { addIndexed(root, new Entry(name, ino, type, hash(name))); return; }
            unindex();
        }
        for (long l = 0; l < s.blockCount(); l++) if (tryInsert(l, name, ino, type)) return;
        if (dirIndex && s.blockCount() == 1) { makeIndexed(new Entry(name, ino, type, hash(name))); return; }
        long l = s.append();
        writeLeaf(s.write(l), List.of(new Entry(name, ino, type, 0)));
    }

    /** Linux's make_indexed_dir: block 0 becomes the dx_root, its entries and the new one go into two leaves by hash. */
    private void makeIndexed(Entry added) throws IOException {
        hashVersion = sb.defHashVersion();
        if (hashVersion > DxHash.TEA) hashVersion = DxHash.HALF_MD4;
        ByteBuffer b0 = s.read(0);
        List<Entry> all = leafEntries(b0, true);
        Entry dot = null, dotdot = null;
        List<Entry> es = new ArrayList<>();
        for (Entry e : all) {
            if (e.name().length == 1 && e.name()[0] == '.') dot = e;
            else if (e.name().length == 2 && e.name()[0] == '.' && e.name()[1] == '.') dotdot = e;
            else es.add(new Entry(e.name(), e.ino(), e.type(), hash(e.name())));
        }
        if (dot == null || dotdot == null) throw new FsException(Errno.EIO, "directory block 0 has no '.' or '..'");
        es.add(added);
        es.sort(Comparator.comparingLong(Entry::hash));
        int split = splitPoint(es);
        long l1 = s.append(), l2 = s.append();
        writeLeaf(s.write(l1), es.subList(0, split));
        writeLeaf(s.write(l2), es.subList(split, es.size()));
        long h2 = es.get(split).hash() | (es.get(split).hash() == es.get(split - 1).hash() ? 1 : 0);
        ByteBuffer r = s.write(0);
        for (int i = 0; i < bs; i++) r.put(i, (byte) 0);
        put(r, 0, dot.ino(), 12, dot.name(), 2);
        put(r, 12, dotdot.ino(), bs - 12, dotdot.name(), 2);
        r.putInt(0x18, 0);
        r.put(0x1C, (byte) hashVersion);
        r.put(0x1D, (byte) 8);
        r.put(0x1E, (byte) 0);
        r.put(0x1F, (byte) 0);
        Node root = new Node(0, r, ROOT_ENTRIES_OFF);
        r.putShort(ROOT_ENTRIES_OFF, (short) limitFor(ROOT_ENTRIES_OFF));
        root.count(2);
        root.set(0, 0, l1);
        root.set(1, h2, l2);
        sealNode(root);
        s.setIndexed(true);
    }

    /** Index in a hash-sorted list where the upper half (by bytes) starts; at least 1, at most size-1. */
    private static int splitPoint(List<Entry> es) {
        int total = bytes(es), acc = 0, i = 0;
        while (i < es.size() - 1 && acc + need(es.get(i).name().length) <= total / 2) acc += need(es.get(i++).name().length);
        return Math.max(1, Math.min(i, es.size() - 1));
    }

    private void addIndexed(Node rootRead, Entry e) throws IOException {
        Path p = descend(rootRead, e.hash(), false);
        if (tryInsert(p.leaf(), e.name(), e.ino(), e.type())) return;
        p = descend(rootRead, e.hash(), true); // the index changes: take write access along the path
        // split the leaf: the upper half by hash moves to a new block, indexed right after the old one
        ensureRoom(p, p.depth());
        long old = p.leaf();
        List<Entry> es = new ArrayList<>(leafEntries(s.read(old), false));
        es.sort(Comparator.comparingLong(Entry::hash));
        if (es.size() < 2) throw new FsException(Errno.ENOSPC, "directory leaf " + old + " cannot be split");
        int split = splitPoint(es);
        long h2 = es.get(split).hash();
        boolean continued = h2 == es.get(split - 1).hash();
        long nb = s.append();
        writeLeaf(s.write(old), es.subList(0, split));
        writeLeaf(s.write(nb), es.subList(split, es.size()));
        Node parent = p.last();
        int at = p.idx.get(p.depth()) + 1;
        parent.insert(at, h2 | (continued ? 1 : 0), nb);
        for (Node n : p.nodes) sealNode(n);
        long target = e.hash() >= h2 ? nb : old;
        if (!tryInsert(target, e.name(), e.ino(), e.type()) && !tryInsert(target == nb ? old : nb, e.name(), e.ino(), e.type()))
            throw new FsException(Errno.ENOSPC, "directory leaf " + target + " full after a split");
    }

    /** Makes room for one more entry in p.nodes[level]: grows the root a level, or splits a node into its parent. */
    private void ensureRoom(Path p, int level) throws IOException {
        Node n = p.nodes.get(level);
        if (n.count() < n.limit()) return;
        if (level == 0) {
            int levels = levels();
            if (levels + 1 >= maxLevels) throw new FsException(Errno.ENOSPC, "directory index full (" + (levels + 1) + " levels)");
            // the root's entries move into a new index node; the root points to it alone
            long nb = s.append();
            ByteBuffer b = s.write(nb);
            for (int i = 0; i < bs; i++) b.put(i, (byte) 0);
            b.putInt(0, 0);
            b.putShort(4, (short) (bs == 65536 ? 0 : bs));
            Node child = new Node(nb, b, NODE_ENTRIES_OFF);
            b.putShort(NODE_ENTRIES_OFF, (short) limitFor(NODE_ENTRIES_OFF));
            child.count(n.count());
            for (int i = 0; i < n.count(); i++) child.set(i, n.hash(i), n.block(i));
            n.count(1);
            n.set(0, 0, nb);
            n.b.put(0x1E, (byte) (levels + 1));
            p.nodes.add(1, child);
            p.idx.add(1, p.idx.get(0));
            p.idx.set(0, 0);
            sealNode(child);
            sealNode(n);
            return;
        }
        int depthBefore = p.depth();
        ensureRoom(p, level - 1);
        if (p.depth() > depthBefore) level++; // the root grew a level above us
        Node parent = p.nodes.get(level - 1);
        int half = n.count() / 2;
        long nb = s.append();
        ByteBuffer b = s.write(nb);
        for (int i = 0; i < bs; i++) b.put(i, (byte) 0);
        b.putShort(4, (short) (bs == 65536 ? 0 : bs));
        Node m = new Node(nb, b, NODE_ENTRIES_OFF);
        b.putShort(NODE_ENTRIES_OFF, (short) limitFor(NODE_ENTRIES_OFF));
        int moved = n.count() - half;
        long splitHash = n.hash(half);
        m.count(moved);
        for (int i = 0; i < moved; i++) m.set(i, n.hash(half + i), n.block(half + i));
        n.count(half);
        parent.insert(p.idx.get(level - 1) + 1, splitHash, nb);
        if (p.idx.get(level) >= half) {
            p.nodes.set(level, m);
            p.idx.set(level, p.idx.get(level) - half);
            p.idx.set(level - 1, p.idx.get(level - 1) + 1);
        }
        sealNode(n);
        sealNode(m);
        sealNode(parent);
    }

    /** Removes name; returns its inode, or 0 if absent. */
    public long remove(byte[] name) throws IOException {
        long[] where = locate(name);
        if (where == null) return 0;
        return removeAt(where[0], new int[]{(int) where[1], (int) where[2]});
    }

    /** Points an existing entry at another inode (rename over an existing name, ".." of a moved directory). */
    public void setInode(byte[] name, long ino, int type) throws IOException {
        long[] at = locate(name);
        if (at == null) throw new IllegalStateException("no entry " + new String(name));
        ByteBuffer b = s.write(at[0]);
        b.putInt((int) at[1], (int) ino);
        if (filetype) b.put((int) at[1] + 7, (byte) type);
        if (s.indexed() && at[0] == 0) sealNode(new Node(0, b, ROOT_ENTRIES_OFF)); // '..' in the dx_root: its checksum covers it
        else sealLeaf(b);
    }

    /** Block, offset and previous offset of name. */
    private long[] locate(byte[] name) throws IOException {
        if (s.indexed()) {
            Node root = root();
            if (root == null) unindex();
            else if (isDot(name)) {
                int[] at = findInLeaf(rootLeafView(), name);
                return at == null ? null : new long[]{0, at[0], at[1]};
            } else {
                long h = hash(name);
                Path p = descend(root, h, false);
                for (int steps = 0; steps <= s.blockCount(); steps++) {
                    int[] at = findInLeaf(s.read(p.leaf()), name);
                    if (at != null) return new long[]{p.leaf(), at[0], at[1]};
                    if (!nextInRun(p, h, false)) return null;
                }
                throw new FsException(Errno.EIO, "htree hash run does not end");
            }
        }
        for (long l = 0; l < s.blockCount(); l++) {
            int[] at = findInLeaf(s.read(l), name);
            if (at != null) return new long[]{l, at[0], at[1]};
        }
        return null;
    }

    /** The dx_root's '.' and '..' as a tiny leaf ('..' cut to 12 bytes). */
    private ByteBuffer rootLeafView() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(bs).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put(0, s.read(0), 0, 24);
        b.putShort(16, (short) (bs - 12));
        return b;
    }

    public boolean isEmpty() throws IOException {
        for (long l = 0; l < s.blockCount(); l++) {
            ByteBuffer r = s.read(l);
            if (l == 0 && s.indexed()) continue; // the dx_root holds only '.' and '..'
            for (Entry e : leafEntries(r, true)) if (!isDot(e.name())) return false;
        }
        return true;
    }

    /**
     * Turns an htree directory into a plain linear one (what the kernel does on a bad index): the
     * dx_root keeps '.' and '..' with '..' spanning the block, index nodes become empty leaves.
     */
    private void unindex() throws IOException {
        s.setIndexed(false);
        ByteBuffer b = s.write(0);
        b.putShort(12 + 4, (short) (end() - 12));
        sealLeaf(b);
        for (long l = 1; l < s.blockCount(); l++) {
            ByteBuffer r = s.read(l);
            if (r.getInt(0) == 0 && DirBlock.recLen(r, 0, bs) == bs) {
                ByteBuffer w = s.write(l);
                w.putShort(4, (short) (end() == 65536 ? 0 : end()));
                sealLeaf(w);
            }
        }
        hashVersion = -1;
    }
}
