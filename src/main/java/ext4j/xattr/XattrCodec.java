package ext4j.xattr;

import ext4j.base.CorruptException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * Extended attribute entries as stored (Documentation/filesystems/ext4/attributes.rst): decoding
 * keeps every entry, private namespaces included, so a rewrite loses nothing; encoding lays out the
 * in-inode area (magic, entries, values from the end, offsets from the first entry) and the xattr
 * block (32-byte header, entries sorted as the kernel searches them, values from the end, entry and
 * block hashes). Checksums are the caller's (they need the block number).
 */
public final class XattrCodec {
    private XattrCodec() {}

    /** The largest value an EA inode may hold (the kernel's EXT4_XATTR_SIZE_MAX, 16 MiB). */
    public static final int EA_VALUE_MAX = 1 << 24;

    /**
     * One stored attribute: namespace index, name without its prefix, value. With the ea_inode
     * feature a value may live in its own inode: then value is empty, valueInum names that inode,
     * valueSize is the value's length and hash the entry hash (name, then the value inode's hash).
     */
    public record Entry(int index, byte[] name, byte[] value, long valueInum, int valueSize, int hash) {
        public Entry(int index, byte[] name, byte[] value) { this(index, name, value, 0, value == null ? 0 : value.length, 0); } // value null: a name to remove

        /** An entry whose value is in EA inode inum, of valueSize bytes whose crc32c hash is valueHash. */
        public static Entry inEaInode(int index, byte[] name, long inum, int valueSize, int valueHash) {
            return new Entry(index, name, new byte[0], inum, valueSize, eaEntryHash(name, valueHash));
        }

        public boolean sameName(int i, byte[] n) { return index == i && Arrays.equals(name, n); }
        public boolean inEaInode() { return valueInum != 0; }
        int entrySize() { return (XattrReader.ENTRY_HEADER + name.length + 3) & ~3; }
        /** Bytes the value takes in the region (none for a value in an EA inode). */
        public int valueSize4() { return (value.length + 3) & ~3; }
    }

    /** Namespace index and bare name for a full name, or null for a namespace ext4 has no index for. */
    public static Entry split(String full, byte[] value) {
        record P(String prefix, int index, boolean whole) {}
        for (P p : List.of(new P("user.", 1, false), new P("trusted.", 4, false), new P("security.", 6, false),
                new P("system.posix_acl_access", 2, true), new P("system.posix_acl_default", 3, true), new P("system.richacl", 8, true))) {
            if (p.whole() ? full.equals(p.prefix()) : full.startsWith(p.prefix()))
                return new Entry(p.index(), full.substring(p.prefix().length()).getBytes(StandardCharsets.UTF_8), value);
        }
        return null;
    }

    public static List<Entry> decodeInInode(ByteBuffer area, String where) throws CorruptException {
        ByteBuffer b = area.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        List<Entry> out = new ArrayList<>();
        if (b.remaining() < 4 || b.getInt(b.position()) != XattrReader.MAGIC) return out;
        ByteBuffer region = b.position(b.position() + 4).slice().order(ByteOrder.LITTLE_ENDIAN);
        decode(region, 0, where, out);
        return out;
    }

    public static List<Entry> decodeBlock(ByteBuffer block, String where) throws CorruptException {
        ByteBuffer b = block.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (b.getInt(0) != XattrReader.MAGIC) throw new CorruptException(String.format("%s: bad magic 0x%08x", where, b.getInt(0)));
        List<Entry> out = new ArrayList<>();
        decode(b, XattrReader.BLOCK_HEADER, where, out);
        return out;
    }

    private static void decode(ByteBuffer r, int start, String where, List<Entry> out) throws CorruptException {
        int off = start, end = r.capacity();
        while (true) {
            if (off + 4 > end) throw new CorruptException(where + ": entry list runs off the end at offset " + off);
            if (r.getInt(off) == 0) return;
            if (off + XattrReader.ENTRY_HEADER > end) throw new CorruptException(where + ": entry at offset " + off + " truncated");
            int nameLen = r.get(off) & 0xFF, index = r.get(off + 1) & 0xFF, valueOffs = r.getShort(off + 2) & 0xFFFF;
            long inum = Integer.toUnsignedLong(r.getInt(off + 4));
            long size = Integer.toUnsignedLong(r.getInt(off + 8));
            if (off + XattrReader.ENTRY_HEADER + nameLen > end) throw new CorruptException(where + ": entry at offset " + off + " has bad name length " + nameLen);
            byte[] name = new byte[nameLen];
            r.get(off + XattrReader.ENTRY_HEADER, name);
            if (inum != 0) { // the value is in EA inode inum: only its reference is here
                if (size == 0) throw new CorruptException(where + ": entry at offset " + off + " names EA inode " + inum + " for an empty value (Linux: invalid size in ea xattr)");
                if (size > EA_VALUE_MAX) throw new CorruptException(where + ": entry at offset " + off + " has EA inode value size " + size + " (more than " + EA_VALUE_MAX + ")");
                out.add(new Entry(index, name, new byte[0], inum, (int) size, r.getInt(off + 12)));
            } else {
                if (valueOffs + size > end) throw new CorruptException(where + ": value at offset " + valueOffs + " size " + size + " lies outside its area");
                byte[] value = new byte[(int) size];
                r.get(valueOffs, value);
                out.add(new Entry(index, name, value));
            }
            off += (XattrReader.ENTRY_HEADER + nameLen + 3) & ~3;
        }
    }

    private static int bytesNeeded(List<Entry> es) {
        int n = 4; // the terminating zero word
        for (Entry e : es) n += e.entrySize() + e.valueSize4();
        return n;
    }

    /** Whether entries fit an in-inode area of areaSize bytes (4 of them the magic). */
    public static boolean fitsInInode(List<Entry> es, int areaSize) { return es.isEmpty() || 4 + bytesNeeded(es) <= areaSize; }

    /**
     * The largest value (a multiple of 4) an entry of this index and name could have in an in-inode
     * area of areaSize bytes beside others (the magic, the entry table with its terminator, values
     * packed from the end); -1 when not even an empty value fits.
     */
    public static int largestValueInInode(List<Entry> others, int index, byte[] name, int areaSize) {
        int used = 4 + bytesNeeded(others) + new Entry(index, name, new byte[0]).entrySize();
        int free = areaSize - used;
        return free < 0 ? -1 : free & ~3;
    }

    public static boolean fitsInBlock(List<Entry> es, int blockSize) { return XattrReader.BLOCK_HEADER + bytesNeeded(es) <= blockSize; }

    /** Writes the in-inode area: zeros when there are no entries. */
    public static void encodeInInode(List<Entry> es, ByteBuffer area) {
        ByteBuffer b = area.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int size = b.remaining(), base = b.position();
        for (int i = 0; i < size; i++) b.put(base + i, (byte) 0);
        if (es.isEmpty()) return;
        ByteBuffer region = b.position(base + 4).slice().order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(base, XattrReader.MAGIC);
        layout(es, region, 0, region.capacity(), false);
    }

    /** An xattr block holding the entries, sorted, with hashes; h_checksum left zero. */
    public static byte[] encodeBlock(List<Entry> es, int blockSize, int refcount) {
        ByteBuffer b = ByteBuffer.allocate(blockSize).order(ByteOrder.LITTLE_ENDIAN);
        List<Entry> sorted = new ArrayList<>(es);
        sorted.sort(Comparator.<Entry>comparingInt(Entry::index).thenComparingInt(e -> e.name().length).thenComparing(Entry::name, Arrays::compareUnsigned));
        b.putInt(0, XattrReader.MAGIC).putInt(4, refcount).putInt(8, 1);
        int[] hashes = layout(sorted, b, XattrReader.BLOCK_HEADER, blockSize, true);
        int h = 0;
        for (int eh : hashes) {
            if (eh == 0) { h = 0; break; }
            h = (h << 16) ^ (h >>> 16) ^ eh;
        }
        b.putInt(0xC, h);
        return b.array();
    }

    /** Entries from entriesStart, values packed down from end; returns the entry hashes (computed only for blocks). */
    private static int[] layout(List<Entry> es, ByteBuffer r, int entriesStart, int end, boolean hash) {
        int off = entriesStart, vend = end;
        int[] hashes = new int[es.size()];
        for (int i = 0; i < es.size(); i++) {
            Entry e = es.get(i);
            int voff = 0;
            if (e.value().length > 0) {
                vend -= e.valueSize4();
                voff = vend;
                r.put(voff, e.value());
            }
            // Linux hashes block entries and every EA inode entry; other in-inode entries keep 0
            int eh = e.inEaInode() ? e.hash() : hash ? entryHash(e) : 0;
            hashes[i] = eh;
            r.put(off, (byte) e.name().length).put(off + 1, (byte) e.index()).putShort(off + 2, (short) voff)
                    .putInt(off + 4, (int) e.valueInum()).putInt(off + 8, e.valueSize()).putInt(off + 12, eh);
            r.put(off + XattrReader.ENTRY_HEADER, e.name());
            off += e.entrySize();
        }
        return hashes;
    }

    /** The kernel's entry hash: the name's bytes, then the value's little-endian words. */
    static int entryHash(Entry e) {
        int h = nameHash(e.name());
        ByteBuffer v = ByteBuffer.allocate(e.valueSize4()).order(ByteOrder.LITTLE_ENDIAN);
        v.put(0, e.value());
        for (int i = 0; i < e.valueSize4(); i += 4) h = valueWord(h, v.getInt(i));
        return h;
    }

    /** The entry hash of a value kept in an EA inode: the name, then the value's crc32c as the one value word. */
    public static int eaEntryHash(byte[] name, int valueHash) { return valueWord(nameHash(name, false), valueHash); }

    /** The same hash as kernels built with a signed char made it for names with bytes over 0x7F (Linux accepts both on read). */
    public static int eaEntryHashSigned(byte[] name, int valueHash) { return valueWord(nameHash(name, true), valueHash); }

    private static int nameHash(byte[] name) { return nameHash(name, false); }

    private static int nameHash(byte[] name, boolean signedChars) {
        int h = 0;
        for (byte c : name) h = (h << 5) ^ (h >>> 27) ^ (signedChars ? c : c & 0xFF);
        return h;
    }

    private static int valueWord(int h, int word) { return (h << 16) ^ (h >>> 16) ^ word; }

    /** Bytes of values stored in the region itself (what the xattr block reserve rule counts). */
    public static int valueBytes(List<Entry> es) {
        int n = 0;
        for (Entry e : es) n += e.valueSize4();
        return n;
    }
}
