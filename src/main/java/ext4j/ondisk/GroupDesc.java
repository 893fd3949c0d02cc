package ext4j.ondisk;

import ext4j.base.Crc32c;
import ext4j.base.Crc16;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Immutable view of one block group descriptor (32 bytes, or s_desc_size bytes with 64bit).
 * High halves of fields exist only in descriptors of 64 bytes or more.
 */
public final class GroupDesc {
    public static final int FLAG_INODE_UNINIT = 0x1, FLAG_BLOCK_UNINIT = 0x2, FLAG_ITABLE_ZEROED = 0x4;
    public static final int CHECKSUM_OFFSET = 0x1E;

    private final ByteBuffer b;
    private final long group;
    private final boolean wide;

    private GroupDesc(ByteBuffer b, long group) {
        this.b = b;
        this.group = group;
        this.wide = b.capacity() >= 64;
    }

    /** Copies descSize bytes at src's position into a new view. */
    public static GroupDesc of(ByteBuffer src, int descSize, long group) {
        ByteBuffer b = ByteBuffer.allocate(descSize).order(ByteOrder.LITTLE_ENDIAN);
        b.put(src.duplicate().limit(src.position() + descSize)).flip();
        return new GroupDesc(b.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN), group);
    }

    private long lohi(int lo, int hi) {
        long v = Integer.toUnsignedLong(b.getInt(lo));
        return wide ? v | Integer.toUnsignedLong(b.getInt(hi)) << 32 : v;
    }

    private long lohi16(int lo, int hi) {
        long v = b.getShort(lo) & 0xFFFF;
        return wide ? v | (long) (b.getShort(hi) & 0xFFFF) << 16 : v;
    }

    public long group() { return group; }

    /** A copy of the descriptor's bytes. */
    public byte[] bytes() { byte[] d = new byte[b.capacity()]; b.get(0, d); return d; }

    /** A writable copy of the descriptor's bytes, for an {@link Editor}. */
    public ByteBuffer copy() { return ByteBuffer.wrap(bytes()).order(ByteOrder.LITTLE_ENDIAN); }
    public long blockBitmap() { return lohi(0x0, 0x20); }
    public long inodeBitmap() { return lohi(0x4, 0x24); }
    public long inodeTable() { return lohi(0x8, 0x28); }
    public long freeBlocks() { return lohi16(0xC, 0x2C); }
    public long freeInodes() { return lohi16(0xE, 0x2E); }
    public long usedDirs() { return lohi16(0x10, 0x30); }
    public int flags() { return b.getShort(0x12) & 0xFFFF; }
    public long itableUnused() { return lohi16(0x1C, 0x32); }
    public int checksum() { return b.getShort(CHECKSUM_OFFSET) & 0xFFFF; }
    public int blockBitmapCsum() { return (int) lohi16(0x18, 0x38); }
    public int inodeBitmapCsum() { return (int) lohi16(0x1A, 0x3A); }
    public boolean hasFlag(int f) { return (flags() & f) != 0; }
    public int size() { return b.capacity(); }

    /** The checksum this descriptor should carry (metadata_csum: crc32c; gdt_csum: crc16), or -1 if none. */
    public int computeChecksum(Superblock sb) { return checksumOf(b, group, sb); }

    /** computeChecksum of the descriptor bytes b (the whole buffer) of group. */
    private static int checksumOf(ByteBuffer b, long group, Superblock sb) {
        byte[] d = new byte[b.capacity()];
        b.get(0, d);
        d[CHECKSUM_OFFSET] = 0;
        d[CHECKSUM_OFFSET + 1] = 0;
        int le = (int) group;
        if (sb.hasMetadataCsum()) {
            int c = Crc32c.updateInt(sb.checksumSeed(), le);
            return Crc32c.update(c, d) & 0xFFFF;
        }
        if (sb.hasRoCompat(Features.RO_GDT_CSUM)) {
            int c = Crc16.update(0xFFFF, sb.uuidBytes(), 0, 16);
            c = Crc16.update(c, new byte[]{(byte) le, (byte) (le >>> 8), (byte) (le >>> 16), (byte) (le >>> 24)}, 0, 4);
            // the old checksum covers only the bytes before the checksum field, then what follows it in 64-byte descriptors
            c = Crc16.update(c, d, 0, CHECKSUM_OFFSET);
            if (d.length > CHECKSUM_OFFSET + 2 && sb.is64bit()) c = Crc16.update(c, d, CHECKSUM_OFFSET + 2, d.length - CHECKSUM_OFFSET - 2);
            return c;
        }
        return -1;
    }

    /**
     * Changes one descriptor in place inside its descriptor-table block (obtained through a journal
     * handle). The caller recomputes the checksum with {@link #seal} when done.
     */
    public static final class Editor {
        private final ByteBuffer b; // slice of exactly descSize bytes
        private final boolean wide;

        public Editor(ByteBuffer slice) {
            this.b = slice.order(ByteOrder.LITTLE_ENDIAN);
            this.wide = slice.capacity() >= 64;
        }

        private void lohi(int lo, int hi, long v) {
            b.putInt(lo, (int) v);
            if (wide) b.putInt(hi, (int) (v >>> 32));
            else if (v >>> 32 != 0) throw new IllegalArgumentException("value " + v + " needs 64-bit descriptors");
        }

        private void lohi16(int lo, int hi, long v) {
            b.putShort(lo, (short) v);
            if (wide) b.putShort(hi, (short) (v >>> 16));
        }

        public Editor blockBitmap(long v) { lohi(0x0, 0x20, v); return this; }
        public Editor inodeBitmap(long v) { lohi(0x4, 0x24, v); return this; }
        public Editor inodeTable(long v) { lohi(0x8, 0x28, v); return this; }
        public Editor freeBlocks(long v) { lohi16(0xC, 0x2C, v); return this; }
        public Editor freeInodes(long v) { lohi16(0xE, 0x2E, v); return this; }
        public Editor usedDirs(long v) { lohi16(0x10, 0x30, v); return this; }
        public Editor flags(int v) { b.putShort(0x12, (short) v); return this; }
        /** Clears flag bits, keeping the others as they are now (each bitmap's UNINIT flag has its own owner). */
        public Editor clearFlags(int f) { return flags((b.getShort(0x12) & 0xFFFF) & ~f); }
        public Editor itableUnused(long v) { lohi16(0x1C, 0x32, v); return this; }
        public Editor blockBitmapCsum(int v) { lohi16(0x18, 0x38, v & 0xFFFFFFFFL); return this; }
        public Editor inodeBitmapCsum(int v) { lohi16(0x1A, 0x3A, v & 0xFFFFFFFFL); return this; }

        /** Stores the descriptor checksum (if the filesystem has one) and returns the new view. */
        public GroupDesc seal(Superblock sb, long group) {
            int c = checksumOf(b, group, sb);   // of the editor's bytes: no view copied for it
            if (c >= 0) b.putShort(CHECKSUM_OFFSET, (short) c);
            return GroupDesc.of(b.duplicate().clear(), b.capacity(), group);
        }
    }
}
