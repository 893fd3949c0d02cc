package ext4j.dir;

import ext4j.base.CorruptException;

import java.nio.ByteBuffer;
import java.util.function.Consumer;

/**
 * Parses the linear entries of a directory region: a leaf block, or the inline-data areas.
 * Entry: inode u32, rec_len u16, name_len u8 (u16 without filetype), file_type u8, name.
 * Every rec_len is checked to stay 4-aligned, cover its name and end inside the region, so the
 * walk always advances and ends.
 */
public final class DirBlock {
    public static final int HEADER = 8, TAIL_SIZE = 12, TAIL_FT = 0xDE;

    private DirBlock() {}

    /** Decodes rec_len: the value 0 or 65535 means a whole 64 KiB block. */
    public static int recLen(ByteBuffer b, int off, int blockSize) {
        int v = b.getShort(off + 4) & 0xFFFF;
        if (blockSize >= 65536 && (v == 65535 || v == 0)) return blockSize;
        return (v & 65532) | ((v & 3) << 16);
    }

    /**
     * Calls sink for every live entry (inode != 0) of b[start, end).
     * @param where names the region in messages, e.g. "directory inode 12 block 3 (physical 1234)"
     */
    public static void parse(ByteBuffer b, int start, int end, boolean filetype, long maxInode, int blockSize,
                             String where, Consumer<DirEntry> sink) throws CorruptException {
        walk(b, start, end, filetype, maxInode, blockSize, where, (off, ino, nameLen, type) -> {
            byte[] name = new byte[nameLen];
            b.get(off + HEADER, name);
            sink.accept(new DirEntry(ino, name, type));
            return true;
        });
    }

    /** The live entry named want, checking every entry on the way as {@link #parse} does; null if none. */
    public static DirEntry find(ByteBuffer b, int start, int end, boolean filetype, long maxInode, int blockSize,
                                String where, byte[] want) throws CorruptException {
        return find(b, start, end, filetype, maxInode, blockSize, () -> where, want);
    }

    /**
     * {@link #find} with the region's name made only for a message (a lookup per created file
     * otherwise builds a string per call). The walk is inlined: the checks are parse's.
     */
    public static DirEntry find(ByteBuffer b, int start, int end, boolean filetype, long maxInode, int blockSize,
                                java.util.function.Supplier<String> where, byte[] want) throws CorruptException {
        int off = start, wantLen = want.length;
        while (off < end) {
            if (end - off < HEADER) throw new CorruptException(where.get() + ": directory entry at offset " + off + " truncated (" + (end - off) + " bytes left)");
            long ino = Integer.toUnsignedLong(b.getInt(off));
            int rec = recLen(b, off, blockSize);
            if (rec < HEADER || (rec & 3) != 0 || off + rec > end)
                throw new CorruptException(where.get() + ": directory entry at offset " + off + " has bad rec_len " + rec);
            if (ino != 0) {
                int nameLen = filetype ? b.get(off + 6) & 0xFF : b.getShort(off + 6) & 0xFFFF;
                if (HEADER + nameLen > rec || nameLen == 0 || nameLen > 255)
                    throw new CorruptException(where.get() + ": directory entry at offset " + off + " has name_len " + nameLen + " for rec_len " + rec);
                if (ino > maxInode)
                    throw new CorruptException(where.get() + ": directory entry at offset " + off + " points to inode " + ino + " beyond the inode count " + maxInode);
                if (nameLen == wantLen && sameName(b, off + HEADER, want))
                    return new DirEntry(ino, want.clone(), filetype ? b.get(off + 7) & 0xFF : 0);
            }
            off += rec;
        }
        return null;
    }

    /** Compared from the end: names in one directory often share a prefix (f000123, f000124). */
    private static boolean sameName(ByteBuffer b, int at, byte[] want) {
        for (int i = want.length - 1; i >= 0; i--) if (b.get(at + i) != want[i]) return false;
        return true;
    }

    /** A live entry found by {@link #walk}: where it is and what its header says; false stops the walk. */
    private interface Visitor { boolean visit(int off, long ino, int nameLen, int type); }

    private static void walk(ByteBuffer b, int start, int end, boolean filetype, long maxInode, int blockSize,
                             String where, Visitor v) throws CorruptException {
        int off = start;
        while (off < end) {
            if (end - off < HEADER) throw new CorruptException(where + ": directory entry at offset " + off + " truncated (" + (end - off) + " bytes left)");
            long ino = Integer.toUnsignedLong(b.getInt(off));
            int rec = recLen(b, off, blockSize);
            int nameLen = filetype ? b.get(off + 6) & 0xFF : b.getShort(off + 6) & 0xFFFF;
            int type = filetype ? b.get(off + 7) & 0xFF : 0;
            if (rec < HEADER || (rec & 3) != 0 || off + rec > end)
                throw new CorruptException(where + ": directory entry at offset " + off + " has bad rec_len " + rec);
            if (ino != 0) {
                if (HEADER + nameLen > rec || nameLen == 0 || nameLen > 255)
                    throw new CorruptException(where + ": directory entry at offset " + off + " has name_len " + nameLen + " for rec_len " + rec);
                if (ino > maxInode)
                    throw new CorruptException(where + ": directory entry at offset " + off + " points to inode " + ino + " beyond the inode count " + maxInode);
                if (!v.visit(off, ino, nameLen, type)) return;
            }
            off += rec;
        }
    }

    /** True if the block ends with the 12-byte metadata_csum tail (fake entry: inode 0, rec_len 12, type 0xDE). */
    public static boolean hasTail(ByteBuffer b, int blockSize) {
        int t = blockSize - TAIL_SIZE;
        return b.getInt(t) == 0 && (b.getShort(t + 4) & 0xFFFF) == TAIL_SIZE && b.get(t + 6) == 0 && (b.get(t + 7) & 0xFF) == TAIL_FT;
    }
}
