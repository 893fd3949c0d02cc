package ext4j.xattr;

import ext4j.base.CorruptException;
import ext4j.base.Crc32c;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Parses ext4 extended attributes (Documentation/filesystems/ext4/attributes.rst): the in-inode area
 * after i_extra_isize (magic, then entries; value offsets from the first entry) and the external
 * xattr block (32-byte header, entries; value offsets from the block start). Values may also live
 * in their own inode (ea_inode), fetched through {@link EaInodeSource}.
 */
public final class XattrReader {
    public static final int MAGIC = 0xEA020000;
    public static final int BLOCK_HEADER = 32, ENTRY_HEADER = 16;

    /**
     * Name prefixes by e_name_index; indexes 2 and 3 are whole names. Other indexes (5 Lustre,
     * 9 encryption context, 10 Hurd, and anything newer) are filesystem-private: the kernel does
     * not list them, and neither does ext4j.
     */
    private static final String[] PREFIX = {"", "user.", "system.posix_acl_access", "system.posix_acl_default",
            "trusted.", null, "security.", "system.", "system.richacl"};

    /**
     * Reads the value of an attribute stored in inode ino (ea_inode feature); name (the entry's
     * on-disk name, without its prefix) and entryHash (its e_hash) let the source check the entry
     * against the value's hash.
     */
    @FunctionalInterface
    public interface EaInodeSource { byte[] read(long ino, int size, byte[] name, int entryHash) throws IOException; }

    private XattrReader() {}

    /** Attributes in the in-inode area, which starts with the 4-byte magic (or holds none). */
    public static void readInInode(ByteBuffer area, long ino, EaInodeSource ea, List<Xattr> out) throws IOException {
        ByteBuffer b = area.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() < 4 || b.getInt(b.position()) != MAGIC) return;
        ByteBuffer region = b.position(b.position() + 4).slice().order(ByteOrder.LITTLE_ENDIAN);
        parseEntries(region, 0, 0, "inode " + ino + " in-inode xattrs", ea, out);
    }

    /** Attributes in xattr block blockNr (whose bytes are in block); checks magic, block count and checksum. */
    public static void readBlock(ByteBuffer block, long blockNr, Integer csumSeed, long ino, EaInodeSource ea, List<Xattr> out) throws IOException {
        ByteBuffer b = block.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        String at = "inode " + ino + ": xattr block " + blockNr;
        if (b.getInt(0) != MAGIC) throw new CorruptException(String.format("%s: bad magic 0x%08x", at, b.getInt(0)));
        if (b.getInt(8) != 1) throw new CorruptException(at + ": h_blocks " + b.getInt(8) + ", expected 1");
        if (csumSeed != null) {
            byte[] copy = new byte[b.capacity()];
            b.get(0, copy);
            for (int i = 0x10; i < 0x14; i++) copy[i] = 0;
            int want = Crc32c.update(Crc32c.updateLong(csumSeed, blockNr), copy);
            if (want != b.getInt(0x10)) throw new CorruptException(String.format("%s: checksum mismatch: stored 0x%08x, computed 0x%08x", at, b.getInt(0x10), want));
        }
        parseEntries(b, BLOCK_HEADER, 0, at, ea, out);
    }

    /**
     * Walks entries from entriesStart until the 4-byte zero terminator; values at valueBase + e_value_offs.
     * Each entry is at least 16 bytes, so the walk ends within the region.
     */
    private static void parseEntries(ByteBuffer r, int entriesStart, int valueBase, String at, EaInodeSource ea, List<Xattr> out) throws IOException {
        int off = entriesStart, end = r.capacity();
        while (true) {
            if (off + 4 > end) throw new CorruptException(at + ": entry list runs off the end at offset " + off);
            if (r.getInt(off) == 0) return;
            if (off + ENTRY_HEADER > end) throw new CorruptException(at + ": entry at offset " + off + " truncated");
            int nameLen = r.get(off) & 0xFF, index = r.get(off + 1) & 0xFF;
            int valueOffs = r.getShort(off + 2) & 0xFFFF;
            long valueInum = Integer.toUnsignedLong(r.getInt(off + 4));
            long valueSize = Integer.toUnsignedLong(r.getInt(off + 8));
            if (off + ENTRY_HEADER + nameLen > end) throw new CorruptException(at + ": entry at offset " + off + " has bad name length " + nameLen);
            byte[] nameBytes = new byte[nameLen];
            r.get(off + ENTRY_HEADER, nameBytes);
            String prefix = index < PREFIX.length ? PREFIX[index] : null;
            if (prefix == null) { // private namespace: skip the entry, still bounded by the region
                off += (ENTRY_HEADER + nameLen + 3) & ~3;
                continue;
            }
            String name = prefix + new String(nameBytes, StandardCharsets.UTF_8);
            byte[] value;
            if (valueInum != 0) {
                if (valueSize == 0) throw new CorruptException(at + ": xattr " + name + " names EA inode " + valueInum + " for an empty value");
                if (valueSize > 64L << 20) throw new CorruptException(at + ": xattr " + name + " value size " + valueSize + " too large");
                value = ea.read(valueInum, (int) valueSize, nameBytes, r.getInt(off + 12));
            } else {
                long vstart = (long) valueBase + valueOffs;
                if (vstart + valueSize > end)
                    throw new CorruptException(at + ": xattr " + name + " value (offset " + valueOffs + ", size " + valueSize + ") lies outside its area");
                value = new byte[(int) valueSize];
                r.get((int) vstart, value);
            }
            out.add(new Xattr(name, value));
            off += (ENTRY_HEADER + nameLen + 3) & ~3;
        }
    }
}
