package ext4j.dir;

import ext4j.ondisk.Crc32c;
import ext4j.ondisk.Features;
import ext4j.ondisk.Superblock;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;

/** Temporary linear-only directory editor (no htree), used until DirectoryEditor lands. Clears FL_INDEX on change. */
public final class SimpleDirEditor {
    private final DirStorage s;
    private final boolean csum, filetype;
    private final int bs;

    public SimpleDirEditor(DirStorage s, Superblock sb) {
        this.s = s;
        this.csum = sb.hasMetadataCsum();
        this.filetype = sb.hasIncompat(Features.INCOMPAT_FILETYPE);
        this.bs = s.blockSize();
    }

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

    private void seal(ByteBuffer b) {
        if (!csum) return;
        int t = bs - DirBlock.TAIL_SIZE;
        b.putInt(t, 0); b.putShort(t + 4, (short) 12); b.put(t + 6, (byte) 0); b.put(t + 7, (byte) DirBlock.TAIL_FT);
        b.putInt(t + 8, Crc32c.update(s.checksumSeed(), b, 0, t));
    }

    public void init(long self, long parent) throws IOException {
        long l = s.append();
        ByteBuffer b = s.write(l);
        put(b, 0, self, 12, new byte[]{'.'}, 2);
        put(b, 12, parent, end() - 12, new byte[]{'.', '.'}, 2);
        seal(b);
    }

    /**
     * Turns an htree directory into a plain linear one (what the kernel does on a bad index): the
     * dx_root block keeps '.' and '..' with '..' spanning the block, index node blocks become empty
     * leaf blocks, every block gets a leaf tail and checksum.
     */
    private void unindex() throws IOException {
        if (!s.indexed()) return;
        s.setIndexed(false);
        ByteBuffer b = s.write(0);
        b.putShort(12 + 4, (short) (end() - 12));
        seal(b);
        for (long l = 1; l < s.blockCount(); l++) {
            ByteBuffer r = s.read(l);
            if (r.getInt(0) == 0 && DirBlock.recLen(r, 0, bs) == bs) { // an index node: a fake empty entry over the whole block
                ByteBuffer w = s.write(l);
                w.putShort(4, (short) (end() == 65536 ? 0 : end()));
                seal(w);
            }
        }
    }

    public void add(byte[] name, long ino, int type) throws IOException {
        unindex();
        int want = need(name.length);
        for (long l = 0; l < s.blockCount(); l++) {
            ByteBuffer r = s.read(l);
            for (int off = 0; off < end(); ) {
                int rec = DirBlock.recLen(r, off, bs);
                int used = r.getInt(off) == 0 ? 0 : need(nameLen(r, off));
                if (rec - used >= want) {
                    ByteBuffer b = s.write(l);
                    if (used == 0) put(b, off, ino, rec, name, type);
                    else { b.putShort(off + 4, (short) used); put(b, off + used, ino, rec - used, name, type); }
                    seal(b);
                    return;
                }
                off += rec;
            }
        }
        long l = s.append();
        ByteBuffer b = s.write(l);
        put(b, 0, ino, end(), name, type);
        seal(b);
    }

    private long[] locate(byte[] name) throws IOException {
        for (long l = 0; l < s.blockCount(); l++) {
            ByteBuffer r = s.read(l);
            int prev = -1;
            for (int off = 0; off < end(); ) {
                int rec = DirBlock.recLen(r, off, bs);
                if (r.getInt(off) != 0 && nameLen(r, off) == name.length) {
                    byte[] n = new byte[name.length];
                    r.get(off + 8, n);
                    if (Arrays.equals(n, name)) return new long[]{l, off, prev};
                }
                prev = off;
                off += rec;
            }
        }
        return null;
    }

    public long remove(byte[] name) throws IOException {
        unindex();
        long[] at = locate(name);
        if (at == null) return 0;
        ByteBuffer b = s.write(at[0]);
        int off = (int) at[1], prev = (int) at[2];
        long ino = Integer.toUnsignedLong(b.getInt(off));
        if (prev < 0) b.putInt(off, 0);
        else b.putShort(prev + 4, (short) (DirBlock.recLen(b, prev, bs) + DirBlock.recLen(b, off, bs)));
        seal(b);
        return ino;
    }

    public void setInode(byte[] name, long ino, int type) throws IOException {
        unindex();
        long[] at = locate(name);
        if (at == null) throw new IllegalStateException("no entry " + new String(name));
        ByteBuffer b = s.write(at[0]);
        b.putInt((int) at[1], (int) ino);
        if (filetype) b.put((int) at[1] + 7, (byte) type);
        seal(b);
    }

    public boolean isEmpty() throws IOException {
        for (long l = 0; l < s.blockCount(); l++) {
            ByteBuffer r = s.read(l);
            for (int off = 0; off < end(); ) {
                int rec = DirBlock.recLen(r, off, bs);
                if (r.getInt(off) != 0) {
                    int n = nameLen(r, off);
                    boolean dot = (n == 1 && r.get(off + 8) == '.') || (n == 2 && r.get(off + 8) == '.' && r.get(off + 9) == '.');
                    if (!dot) return false;
                }
                off += rec;
            }
        }
        return true;
    }
}
