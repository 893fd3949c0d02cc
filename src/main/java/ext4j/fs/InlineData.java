package ext4j.fs;

import ext4j.base.CorruptException;
import ext4j.ondisk.Inode;
import ext4j.xattr.XattrCodec;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An inode's inline data as Linux lays it out (Documentation/filesystems/ext4/inline_data.rst):
 * the 60 bytes of i_block, then the value of the system.data xattr in the inode's extra space.
 * The xattr is there (maybe empty) whenever EXT4_INLINE_DATA_FL is; its value grows only as far as
 * the bytes past i_block need, up to what the in-inode area has room for beside the other xattrs.
 */
final class InlineData {
    static final int SYSTEM_INDEX = 7;
    static final byte[] NAME = "data".getBytes(StandardCharsets.US_ASCII);

    private InlineData() {}

    private static String where(Inode.Editor ed) { return "inode " + ed.number() + " in-inode xattrs"; }

    private static boolean isData(XattrCodec.Entry e) { return e.sameName(SYSTEM_INDEX, NAME); }

    /**
     * The most bytes of inline data this inode can hold: i_block's 60 plus the largest system.data
     * value that fits beside its other in-inode xattrs (Linux's ext4_get_max_inline_size); -1 when
     * the inode has no room for even an empty system.data (128-byte inodes, a full area).
     */
    static int maxSize(Inode.Editor ed) throws CorruptException {
        ByteBuffer area = ed.xattrArea();
        List<XattrCodec.Entry> others = new ArrayList<>(XattrCodec.decodeInInode(area, where(ed)));
        others.removeIf(InlineData::isData);
        int v = XattrCodec.largestValueInInode(others, SYSTEM_INDEX, NAME, area.capacity());
        return v < 0 ? -1 : Inode.I_BLOCK_SIZE + v;
    }

    /** i_block then the system.data value, as stored (for files: not cut to i_size). */
    static byte[] read(Inode.Editor ed) throws CorruptException {
        byte[] extra = new byte[0];
        for (XattrCodec.Entry e : XattrCodec.decodeInInode(ed.xattrArea(), where(ed))) if (isData(e)) extra = e.value();
        byte[] all = new byte[Inode.I_BLOCK_SIZE + extra.length];
        ed.iBlock().get(0, all, 0, Inode.I_BLOCK_SIZE);
        System.arraycopy(extra, 0, all, Inode.I_BLOCK_SIZE, extra.length);
        return all;
    }

    /**
     * Stores data[0, len) as the inode's inline data: i_block gets the first 60 bytes (zero-padded),
     * system.data the rest (empty up to 60), the inline flag set and the extents flag cleared.
     * The caller sets i_size. Callers check {@link #maxSize} first: data that still does not fit
     * means the in-inode xattrs are not what they seemed (damage), a CorruptException.
     */
    static void store(Inode.Editor ed, byte[] data, int len) throws CorruptException {
        ByteBuffer area = ed.xattrArea();
        List<XattrCodec.Entry> xs = new ArrayList<>(XattrCodec.decodeInInode(area, where(ed)));
        byte[] value = len > Inode.I_BLOCK_SIZE ? Arrays.copyOfRange(data, Inode.I_BLOCK_SIZE, len) : new byte[0];
        XattrCodec.Entry entry = new XattrCodec.Entry(SYSTEM_INDEX, NAME, value);
        int at = -1;
        for (int i = 0; i < xs.size(); i++) if (isData(xs.get(i))) at = i;
        if (at >= 0) xs.set(at, entry); else xs.add(entry); // a new one goes last, as Linux appends in-inode entries
        if (area.capacity() == 0 || !XattrCodec.fitsInInode(xs, area.capacity()))
            throw new CorruptException("inode " + ed.number() + ": " + len + " bytes of inline data do not fit beside its in-inode xattrs");
        XattrCodec.encodeInInode(xs, area);
        byte[] first = new byte[Inode.I_BLOCK_SIZE];
        System.arraycopy(data, 0, first, 0, Math.min(len, Inode.I_BLOCK_SIZE));
        ed.iBlock(ByteBuffer.wrap(first));
        ed.flags((ed.flags() | Inode.FL_INLINE_DATA) & ~Inode.FL_EXTENTS);
    }
}
