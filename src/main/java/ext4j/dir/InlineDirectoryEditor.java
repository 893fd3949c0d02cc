package ext4j.dir;

import ext4j.base.CorruptException;
import ext4j.base.Errno;
import ext4j.base.FsException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Edits an inline-data directory as Linux does (fs/ext4/inline.c behaviour): the parent's inode
 * number in i_block's first 4 bytes, entries in i_block's other 56, then, once those are full, in
 * the system.data value grown at once to the largest the inode holds; an entry that fits neither
 * moves the directory to one block. Entries never cross from one region into the other, a removed
 * entry's space goes to the entry before it in its region (or it becomes an empty entry when it
 * is the first), and the directory never shrinks back.
 */
public final class InlineDirectoryEditor implements DirEditor {
    /** Bytes before the first entry: the parent's inode number (".." of an inline directory). */
    public static final int PARENT = 4, I_BLOCK = 60;

    /** Where the inline bytes live: the fs layer over an inode in a handle. */
    public interface Store {
        /** i_block's 60 bytes, then the system.data value. */
        byte[] load() throws IOException;
        /** The most bytes load() could return (60 plus the largest value that fits the inode). */
        int maxSize() throws IOException;
        /** Stores the bytes back; i_size becomes data.length. */
        void save(byte[] data) throws IOException;
        /**
         * Moves the directory to a block holding ".", ".." (parent) and then entries, the inline
         * entries' bytes as they were (DirectoryEditor.initWith); returns that block's editor.
         */
        DirEditor toBlock(long parent, byte[] entries) throws IOException;
        long self();
    }

    private final Store s;
    private final boolean filetype;
    private final long maxInode;

    public InlineDirectoryEditor(Store s, boolean filetype, long maxInode) {
        this.s = s;
        this.filetype = filetype;
        this.maxInode = maxInode;
    }

    private static int need(int nameLen) { return (DirBlock.HEADER + nameLen + 3) & ~3; }

    private String where() { return "inline directory inode " + s.self(); }

    private ByteBuffer wrap(byte[] d) { return ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN); }

    /** The regions: [4, 60) and, when system.data has a value, [60, length). */
    private static int[][] regions(byte[] d) {
        return d.length > I_BLOCK ? new int[][]{{PARENT, I_BLOCK}, {I_BLOCK, d.length}} : new int[][]{{PARENT, I_BLOCK}};
    }

    private int nameLen(ByteBuffer b, int off) { return filetype ? b.get(off + 6) & 0xFF : b.getShort(off + 6) & 0xFFFF; }

    /** The rec_len at off, checked to stay inside [off, end) and cover its name. */
    private int rec(ByteBuffer b, int off, int end) throws CorruptException {
        if (end - off < DirBlock.HEADER) throw new CorruptException(where() + ": entry at offset " + off + " truncated");
        int rec = b.getShort(off + 4) & 0xFFFF;
        if (rec < DirBlock.HEADER || (rec & 3) != 0 || off + rec > end)
            throw new CorruptException(where() + ": entry at offset " + off + " has bad rec_len " + rec);
        long ino = Integer.toUnsignedLong(b.getInt(off));
        if (ino != 0 && (DirBlock.HEADER + nameLen(b, off) > rec || nameLen(b, off) == 0 || nameLen(b, off) > 255 || ino > maxInode))
            throw new CorruptException(where() + ": entry at offset " + off + " is damaged (inode " + ino + ", rec_len " + rec + ")");
        return rec;
    }

    private void put(ByteBuffer b, int off, long ino, int rec, byte[] name, int type) {
        b.putInt(off, (int) ino).putShort(off + 4, (short) rec);
        if (filetype) b.put(off + 6, (byte) name.length).put(off + 7, (byte) type);
        else b.putShort(off + 6, (short) name.length);
        b.put(off + DirBlock.HEADER, name);
    }

    @Override
    public void init(long self, long parent) throws IOException {
        byte[] d = new byte[I_BLOCK];
        ByteBuffer b = wrap(d);
        b.putInt(0, (int) parent);
        b.putInt(PARENT, 0).putShort(PARENT + 4, (short) (I_BLOCK - PARENT)); // one empty entry over the rest
        s.save(d);
    }

    /** First fit in [start, end): an empty entry that is long enough, or the slack after a live one. */
    private boolean tryInsert(ByteBuffer b, int start, int end, byte[] name, long ino, int type) throws CorruptException {
        int want = need(name.length);
        for (int off = start; off < end; ) {
            int rec = rec(b, off, end);
            long cur = Integer.toUnsignedLong(b.getInt(off));
            int used = cur == 0 ? 0 : need(nameLen(b, off));
            if (rec - used >= want) {
                if (cur != 0) {
                    b.putShort(off + 4, (short) used);
                    off += used;
                    rec -= used;
                }
                Arrays.fill(b.array(), off, off + rec, (byte) 0);
                put(b, off, ino, rec, name, type);
                return true;
            }
            off += rec;
        }
        return false;
    }

    @Override
    public void add(byte[] name, long ino, int type) throws IOException {
        byte[] d = s.load();
        ByteBuffer b = wrap(d);
        for (int[] r : regions(d)) if (tryInsert(b, r[0], r[1], name, ino, type)) { s.save(d); return; }
        if (d.length == I_BLOCK) {
            int max = s.maxSize();
            if (max - I_BLOCK >= need(name.length)) {      // i_block is full: system.data grows to all it can hold
                byte[] grown = Arrays.copyOf(d, max);
                ByteBuffer g = wrap(grown);
                g.putInt(I_BLOCK, 0).putShort(I_BLOCK + 4, (short) (max - I_BLOCK));
                if (!tryInsert(g, I_BLOCK, max, name, ino, type)) throw new IllegalStateException(where() + ": grown area refused an entry that fits");
                s.save(grown);
                return;
            }
        }
        // too big for the inode: one block with the inline entries as they lie (Linux copies them), then the new one
        for (int[] r : regions(d)) for (int off = r[0]; off < r[1]; ) off += rec(b, off, r[1]); // the whole chain checked first
        long parent = Integer.toUnsignedLong(b.getInt(0));
        if (parent == 0 || parent > maxInode) throw new CorruptException(where() + ": parent inode " + parent + " is out of range");
        s.toBlock(parent, Arrays.copyOfRange(d, PARENT, d.length)).add(name, ino, type);
    }

    /** {region end, offset of the entry, offset of the entry before it in its region or -1}, or null. */
    private int[] locate(ByteBuffer b, byte[] d, byte[] name) throws CorruptException {
        for (int[] r : regions(d)) {
            int prev = -1;
            for (int off = r[0]; off < r[1]; ) {
                int rec = rec(b, off, r[1]);
                if (b.getInt(off) != 0 && nameLen(b, off) == name.length) {
                    byte[] n = new byte[name.length];
                    b.get(off + DirBlock.HEADER, n);
                    if (Arrays.equals(n, name)) return new int[]{r[1], off, prev};
                }
                prev = off;
                off += rec;
            }
        }
        return null;
    }

    @Override
    public long remove(byte[] name) throws IOException {
        byte[] d = s.load();
        ByteBuffer b = wrap(d);
        int[] at = locate(b, d, name);
        if (at == null) return 0;
        long ino = Integer.toUnsignedLong(b.getInt(at[1]));
        if (at[2] >= 0) {
            int prevRec = b.getShort(at[2] + 4) & 0xFFFF, rec = b.getShort(at[1] + 4) & 0xFFFF;
            b.putShort(at[2] + 4, (short) (prevRec + rec));
        } else {
            b.putInt(at[1], 0);
        }
        s.save(d);
        return ino;
    }

    @Override
    public void setInode(byte[] name, long ino, int type) throws IOException {
        byte[] d = s.load();
        ByteBuffer b = wrap(d);
        if (name.length == 2 && name[0] == '.' && name[1] == '.') {
            b.putInt(0, (int) ino);
        } else {
            int[] at = locate(b, d, name);
            if (at == null) throw new FsException(Errno.ENOENT, where() + ": no entry to retarget");
            b.putInt(at[1], (int) ino);
            if (filetype) b.put(at[1] + 7, (byte) type);
        }
        s.save(d);
    }

    @Override
    public boolean isEmpty() throws IOException {
        byte[] d = s.load();
        ByteBuffer b = wrap(d);
        for (int[] r : regions(d))
            for (int off = r[0]; off < r[1]; ) {
                int rec = rec(b, off, r[1]);
                if (b.getInt(off) != 0) return false;
                off += rec;
            }
        return true;
    }
}
