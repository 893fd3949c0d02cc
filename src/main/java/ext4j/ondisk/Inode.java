package ext4j.ondisk;

import ext4j.base.CorruptException;
import ext4j.base.Crc32c;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Immutable view of one on-disk inode (s_inode_size bytes: 128, or larger with i_extra_isize).
 * Offsets follow Documentation/filesystems/ext4/inodes.rst.
 */
public final class Inode {
    public static final int ROOT = 2, JOURNAL = 8, RESIZE = 7, LOST_FOUND_DEFAULT = 11;
    public static final int I_BLOCK = 0x28, I_BLOCK_SIZE = 60, GOOD_OLD_SIZE = 128;

    // i_mode file types
    public static final int S_IFMT = 0xF000, S_IFSOCK = 0xC000, S_IFLNK = 0xA000, S_IFREG = 0x8000,
            S_IFBLK = 0x6000, S_IFDIR = 0x4000, S_IFCHR = 0x2000, S_IFIFO = 0x1000;

    // i_flags
    public static final int FL_SECRM = 0x1, FL_UNRM = 0x2, FL_COMPR = 0x4, FL_SYNC = 0x8, FL_IMMUTABLE = 0x10,
            FL_APPEND = 0x20, FL_NODUMP = 0x40, FL_NOATIME = 0x80, FL_ENCRYPT = 0x800, FL_INDEX = 0x1000,
            FL_IMAGIC = 0x2000, FL_JOURNAL_DATA = 0x4000, FL_NOTAIL = 0x8000, FL_DIRSYNC = 0x10000,
            FL_TOPDIR = 0x20000, FL_HUGE_FILE = 0x40000, FL_EXTENTS = 0x80000, FL_VERITY = 0x100000,
            FL_EA_INODE = 0x200000, FL_INLINE_DATA = 0x10000000, FL_PROJINHERIT = 0x20000000,
            FL_CASEFOLD = 0x40000000;

    private final long ino;
    private final ByteBuffer b;
    private final boolean hugeFileFeature;

    private Inode(long ino, ByteBuffer b, boolean hugeFileFeature) {
        this.ino = ino;
        this.b = b;
        this.hugeFileFeature = hugeFileFeature;
    }

    /** {@link #parse(long, ByteBuffer, Superblock, String)} of an inode read from this inode table block (named only in a message). */
    public static Inode parse(long ino, ByteBuffer src, Superblock sb, long tableBlock) throws CorruptException {
        try {
            return parse(ino, src, sb, (String) null);
        } catch (CorruptException e) {
            return parse(ino, src, sb, "inode table block " + tableBlock); // again, to name the block
        }
    }

    /**
     * Copies the inode bytes at src's position, checks extra_isize and, with metadata_csum, the checksum.
     * {@code where} names the inode table block for messages.
     */
    public static Inode parse(long ino, ByteBuffer src, Superblock sb, String where) throws CorruptException {
        return parse(ino, src, sb, where, true);
    }

    /** verify false: for bytes whose checksum this process has just computed (Editor.seal), checked again for nothing. */
    private static Inode parse(long ino, ByteBuffer src, Superblock sb, String where, boolean verify) throws CorruptException {
        int size = sb.inodeSize();
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.put(src.duplicate().limit(src.position() + size)).flip();
        Inode inode = new Inode(ino, b.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN), sb.hasRoCompat(Features.RO_HUGE_FILE));
        if (size > GOOD_OLD_SIZE) {
            int extra = inode.extraIsize();
            if (extra != 0 && (GOOD_OLD_SIZE + extra > size || (extra & 3) != 0)) {
                throw new CorruptException("inode " + ino + ": i_extra_isize " + extra + " exceeds inode size " + size + (where == null && !verify ? " (being written)" : " at " + where));
            }
        }
        if (verify && sb.hasMetadataCsum() && !inode.isAllZero()) {
            int want = inode.computeChecksum(sb);
            int have = inode.storedChecksum();
            if (!inode.hasChecksumHi()) want &= 0xFFFF;
            if (want != have) {
                throw new CorruptException(String.format("inode %d: checksum mismatch: stored 0x%08x, computed 0x%08x at %s", ino, have, want, where));
            }
        }
        return inode;
    }

    private boolean isAllZero() {
        for (int i = 0; i < b.capacity(); i += 4) if (b.getInt(i) != 0) return false;
        return true;
    }

    private boolean hasChecksumHi() { return b.capacity() > GOOD_OLD_SIZE && extraIsize() >= 4; }

    private int storedChecksum() {
        int lo = b.getShort(0x7C) & 0xFFFF;
        return hasChecksumHi() ? lo | (b.getShort(0x82) & 0xFFFF) << 16 : lo;
    }

    /** crc32c(seed, inum, generation, inode with both checksum fields zeroed). */
    public int computeChecksum(Superblock sb) {
        int c = Crc32c.updateInt(sb.checksumSeed(), (int) ino);
        c = Crc32c.updateInt(c, generation());
        return Crc32c.update(c, zeroedChecksum());
    }

    /** The per-inode checksum seed, used by extent, directory and htree block checksums. */
    public int checksumSeed(Superblock sb) {
        int c = Crc32c.updateInt(sb.checksumSeed(), (int) ino);
        return Crc32c.updateInt(c, generation());
    }

    private byte[] zeroedChecksum() {
        byte[] d = new byte[b.capacity()];
        b.get(0, d);
        d[0x7C] = 0;
        d[0x7D] = 0;
        if (hasChecksumHi()) { d[0x82] = 0; d[0x83] = 0; }
        return d;
    }

    private int u16(int off) { return b.getShort(off) & 0xFFFF; }
    private long u32(int off) { return Integer.toUnsignedLong(b.getInt(off)); }
    /** Extra fields exist only when i_extra_isize covers them. */
    private boolean hasExtra(int off, int len) {
        return b.capacity() > GOOD_OLD_SIZE && off + len <= GOOD_OLD_SIZE + extraIsize();
    }

    public long number() { return ino; }
    public int mode() { return u16(0x0); }
    public int type() { return mode() & S_IFMT; }
    public int permissions() { return mode() & 07777; }
    public boolean isDir() { return type() == S_IFDIR; }
    public boolean isRegular() { return type() == S_IFREG; }
    public boolean isSymlink() { return type() == S_IFLNK; }
    public long uid() { return u16(0x2) | (long) u16(0x78) << 16; }
    public long gid() { return u16(0x18) | (long) u16(0x7A) << 16; }
    public long size() { return u32(0x4) | u32(0x6C) << 32; }
    public int linksCount() { return u16(0x1A); }
    public int flags() { return b.getInt(0x20); }
    public boolean hasFlag(int f) { return (flags() & f) != 0; }
    public int generation() { return b.getInt(0x64); }
    public long fileAcl() { return u32(0x68) | (long) u16(0x76) << 32; }
    public long dtime() { return u32(0x14); }
    public int extraIsize() { return b.capacity() > GOOD_OLD_SIZE ? u16(0x80) : 0; }
    public long projectId() { return hasExtra(0x9C, 4) ? u32(0x9C) : 0; }
    public long version() { return u32(0x24) | (hasExtra(0x98, 4) ? u32(0x98) << 32 : 0); }
    /** An EA inode's reference count (ea_inode): i_ctime's seconds word is the high half, i_version's low word the low half. */
    public long eaRefCount() { return u32(0xC) << 32 | u32(0x24); }
    /** An EA inode's value hash (crc32c of the value from the filesystem's checksum seed), kept in i_atime's seconds word. */
    public int eaValueHash() { return b.getInt(0x8); }

    /** Raw i_blocks in its stored unit; see {@link #blocks512()}. */
    public long blocks512(int blockSize) {
        long v = u32(0x1C);
        if (hugeFileFeature) v |= (long) u16(0x74) << 32;
        if (hugeFileFeature && hasFlag(FL_HUGE_FILE)) v *= blockSize / 512;
        return v;
    }

    public Timestamp atime() { return time(0x8, 0x8C); }
    public Timestamp ctime() { return time(0xC, 0x84); }
    public Timestamp mtime() { return time(0x10, 0x88); }
    /** Creation time, or null when the inode has no room for it. */
    public Timestamp crtime() { return hasExtra(0x90, 8) ? time(0x90, 0x94) : null; }

    /** Base seconds are signed 32-bit; the extra word carries 2 epoch bits and 30 nanosecond bits. */
    private Timestamp time(int off, int extraOff) {
        long sec = b.getInt(off);
        int nsec = 0;
        if (hasExtra(extraOff, 4)) {
            int extra = b.getInt(extraOff);
            sec += (long) (extra & 3) << 32;
            nsec = extra >>> 2;
            if (nsec > 999_999_999) nsec = 0;
        }
        return new Timestamp(sec, nsec);
    }

    /** A device inode's {major, minor}: Linux's old 16-bit encoding in i_block word 0, else the new 32-bit one in word 1. */
    public long[] deviceNumbers() {
        ByteBuffer ib = iBlock();
        int old = ib.getInt(0), neu = ib.getInt(4);
        if (old != 0) return new long[]{(old >>> 8) & 0xFF, old & 0xFF};
        return new long[]{(neu & 0xFFF00) >>> 8, (neu & 0xFF) | ((neu >>> 12) & 0xFFF00)};
    }

    public ByteBuffer iBlock() {
        return b.duplicate().position(I_BLOCK).limit(I_BLOCK + I_BLOCK_SIZE).slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** In-inode extended attribute area (after i_extra_isize), possibly empty. */
    public ByteBuffer inlineXattrArea() {
        if (b.capacity() <= GOOD_OLD_SIZE) return ByteBuffer.allocate(0);
        int start = GOOD_OLD_SIZE + extraIsize();
        return b.duplicate().position(start).limit(b.capacity()).slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    public int rawSize() { return b.capacity(); }

    /** Seconds since the epoch (may be negative or past 2038) plus nanoseconds. */
    public record Timestamp(long seconds, int nanos) {
        public java.time.Instant toInstant() { return java.time.Instant.ofEpochSecond(seconds, nanos); }
    }

    /** A mutable copy of this inode, to change and store back through a journal handle. */
    public Editor edit() {
        byte[] d = new byte[b.capacity()];
        b.get(0, d);
        return new Editor(ino, d);
    }

    /**
     * Builds inode bytes field by field (offsets as in the getters above). {@link #seal} stores the
     * checksum and returns the immutable view; the caller writes {@link #bytes} into the table.
     */
    public static final class Editor {
        private final long ino;
        private final ByteBuffer b;

        Editor(long ino, byte[] raw) {
            this.ino = ino;
            this.b = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        }

        /** An all-zero inode of the filesystem's inode size, with i_extra_isize set as Linux does. */
        public static Editor blank(long ino, Superblock sb) {
            Editor e = new Editor(ino, new byte[sb.inodeSize()]);
            if (sb.inodeSize() > GOOD_OLD_SIZE) e.b.putShort(0x80, (short) Math.max(32, sb.wantExtraIsize()));
            return e;
        }

        public long number() { return ino; }
        private int extraIsize() { return b.capacity() > GOOD_OLD_SIZE ? b.getShort(0x80) & 0xFFFF : 0; }
        private boolean hasExtra(int off, int len) { return b.capacity() > GOOD_OLD_SIZE && off + len <= GOOD_OLD_SIZE + extraIsize(); }

        public Editor mode(int v) { b.putShort(0x0, (short) v); return this; }
        public int mode() { return b.getShort(0x0) & 0xFFFF; }
        public Editor uid(long v) { b.putShort(0x2, (short) v); b.putShort(0x78, (short) (v >>> 16)); return this; }
        public Editor gid(long v) { b.putShort(0x18, (short) v); b.putShort(0x7A, (short) (v >>> 16)); return this; }
        public Editor size(long v) { b.putInt(0x4, (int) v); b.putInt(0x6C, (int) (v >>> 32)); return this; }
        public long size() { return Integer.toUnsignedLong(b.getInt(0x4)) | Integer.toUnsignedLong(b.getInt(0x6C)) << 32; }
        public Editor links(int v) { b.putShort(0x1A, (short) v); return this; }
        public int links() { return b.getShort(0x1A) & 0xFFFF; }
        public Editor flags(int v) { b.putInt(0x20, v); return this; }
        public int flags() { return b.getInt(0x20); }
        public Editor generation(int v) { b.putInt(0x64, v); return this; }
        public Editor fileAcl(long v) { b.putInt(0x68, (int) v); b.putShort(0x76, (short) (v >>> 32)); return this; }
        public long fileAcl() { return Integer.toUnsignedLong(b.getInt(0x68)) | (long) (b.getShort(0x76) & 0xFFFF) << 32; }
        public Editor dtime(long v) { b.putInt(0x14, (int) v); return this; }
        public long dtime() { return Integer.toUnsignedLong(b.getInt(0x14)); }

        /** Sets an EA inode's reference count as Linux keeps it: ctime seconds (high half, nanoseconds 0), i_version low word. */
        public Editor eaRefCount(long refs) {
            time(0xC, 0x84, new Timestamp(refs >>> 32, 0));
            b.putInt(0x24, (int) refs);
            if (hasExtra(0x98, 4)) b.putInt(0x98, 0);
            return this;
        }
        public long eaRefCount() { return Integer.toUnsignedLong(b.getInt(0xC)) << 32 | Integer.toUnsignedLong(b.getInt(0x24)); }
        /** Sets an EA inode's value hash: i_atime's seconds word, nanoseconds 0. */
        public Editor eaValueHash(int hash) { return time(0x8, 0x8C, new Timestamp(Integer.toUnsignedLong(hash), 0)); }

        public Editor atime(Timestamp t) { return time(0x8, 0x8C, t); }
        public Editor ctime(Timestamp t) { return time(0xC, 0x84, t); }
        public Editor mtime(Timestamp t) { return time(0x10, 0x88, t); }
        public Editor crtime(Timestamp t) { if (hasExtra(0x90, 8)) time(0x90, 0x94, t); return this; }

        /** Low 32 bits of seconds in the base field; epoch bits and nanoseconds in the extra field when present. */
        private Editor time(int off, int extraOff, Timestamp t) {
            long sec = t.seconds();
            b.putInt(off, (int) sec);
            if (hasExtra(extraOff, 4)) {
                long epoch = ((sec - (int) sec) >> 32) & 3;
                b.putInt(extraOff, (int) epoch | t.nanos() << 2);
            }
            return this;
        }

        /** i_blocks in 512-byte units: 32 bits, 48 with huge_file, in filesystem blocks beyond that. */
        public Editor blocks512(long v, Superblock sb) {
            boolean huge = sb.hasRoCompat(Features.RO_HUGE_FILE);
            int f = flags() & ~FL_HUGE_FILE;
            if (v >>> 32 != 0 && !huge) throw new IllegalArgumentException("inode " + ino + ": " + v + " sectors need huge_file");
            if (v >>> 48 != 0) { v /= sb.blockSize() / 512; f |= FL_HUGE_FILE; }
            flags(f);
            b.putInt(0x1C, (int) v);
            b.putShort(0x74, (short) (v >>> 32));
            return this;
        }

        /** Replaces the 60 bytes of i_block. */
        public Editor iBlock(ByteBuffer src) {
            byte[] d = new byte[I_BLOCK_SIZE];
            src.duplicate().get(d, 0, Math.min(I_BLOCK_SIZE, src.remaining()));
            b.put(I_BLOCK, d);
            return this;
        }

        /** Writable view of i_block (60 bytes). */
        public ByteBuffer iBlock() {
            return b.duplicate().position(I_BLOCK).limit(I_BLOCK + I_BLOCK_SIZE).slice().order(ByteOrder.LITTLE_ENDIAN);
        }

        /** Writable view of the in-inode xattr area (after i_extra_isize); empty for 128-byte inodes. */
        public ByteBuffer xattrArea() {
            if (b.capacity() <= GOOD_OLD_SIZE) return ByteBuffer.allocate(0);
            return b.duplicate().position(GOOD_OLD_SIZE + extraIsize()).limit(b.capacity()).slice().order(ByteOrder.LITTLE_ENDIAN);
        }

        /** Computes the checksum (metadata_csum) and returns the sealed view. */
        public Inode seal(Superblock sb) throws CorruptException {
            b.putShort(0x7C, (short) 0);
            boolean hi = b.capacity() > GOOD_OLD_SIZE && extraIsize() >= 4;
            if (hi) b.putShort(0x82, (short) 0);
            Inode view = new Inode(ino, b.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN), sb.hasRoCompat(Features.RO_HUGE_FILE));
            if (sb.hasMetadataCsum()) {
                int c = view.computeChecksum(sb);
                b.putShort(0x7C, (short) c);
                if (hi) b.putShort(0x82, (short) (c >>> 16));
            }
            return Inode.parse(ino, b.duplicate().clear(), sb, null, false);   // a message names it "being written"
        }

        /**
         * The edited inode as an in-memory view, for callers to read (a regular file's size and
         * mtime while its data is cached): no checksum computed, so never to be stored as it is
         * (an edit of it is sealed, which computes one). Ends this editor's use.
         */
        public Inode view(Superblock sb) {
            return new Inode(ino, b.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN), sb.hasRoCompat(Features.RO_HUGE_FILE));
        }

        /** The raw bytes (call {@link #seal} first). */
        public ByteBuffer bytes() { return b.duplicate().clear().order(ByteOrder.LITTLE_ENDIAN); }
    }
}
