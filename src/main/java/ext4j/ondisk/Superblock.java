package ext4j.ondisk;

import ext4j.base.CorruptException;
import ext4j.base.Crc32c;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * Immutable view of the 1024-byte ext2/3/4 superblock (found at byte 1024 of the device).
 * Field offsets follow Documentation/filesystems/ext4/super.rst. {@link #parse} checks every
 * field that later code uses to size a loop or an allocation, so a hostile image fails here.
 */
public final class Superblock {
    public static final int OFFSET = 1024, SIZE = 1024, MAGIC = 0xEF53;
    public static final int STATE_VALID = 1, STATE_ERROR = 2, STATE_ORPHANS = 4;
    public static final int FLAG_UNSIGNED_HASH = 0x2;

    private final ByteBuffer b;

    private Superblock(ByteBuffer b) { this.b = b; }

    /** A superblock this process just edited and sealed (Superblock.Editor): parsed without checking it again. */
    public static Superblock parseSealed(ByteBuffer raw) {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.put(raw.duplicate().limit(raw.position() + SIZE)).flip();
        return new Superblock(b.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN));
    }

    /** Parses and sanity-checks a superblock; {@code raw} holds exactly its 1024 bytes. */
    public static Superblock parse(ByteBuffer raw, String where) throws CorruptException {
        if (raw.remaining() < SIZE) throw new CorruptException("superblock: truncated (" + raw.remaining() + " bytes) in " + where);
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.put(raw.duplicate().limit(raw.position() + SIZE)).flip();
        Superblock sb = new Superblock(b.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN));
        sb.check(where);
        return sb;
    }

    private void check(String where) throws CorruptException {
        if (magic() != MAGIC) throw new CorruptException(String.format("not an ext2/3/4 filesystem: superblock magic 0x%04x, expected 0xef53%s", magic(), at(where)));
        if (hasRoCompat(Features.RO_METADATA_CSUM)) {
            int want = Crc32c.update(0xFFFFFFFF, b, 0, 0x3FC);
            if (want != checksum()) throw new CorruptException(String.format("superblock checksum mismatch: stored 0x%08x, computed 0x%08x%s", checksum(), want, at(where)));
        }
        int log = b.getInt(0x18);
        if (log < 0 || log > 6) throw new CorruptException("superblock: block size 2^(10+" + log + ") out of range" + at(where));
        if (revLevel() > 1) throw new CorruptException("superblock: unknown revision level " + revLevel() + at(where));
        if (clustersPerGroup() <= 0 || clustersPerGroup() > 8L * blockSize() || blocksPerGroup() <= 0) throw new CorruptException("superblock: " + Integer.toUnsignedString(clustersPerGroup()) + " clusters per group impossible for block size " + blockSize() + at(where));
        if (inodesPerGroup() <= 0 || inodesPerGroup() > 8L * blockSize()) throw new CorruptException("superblock: inodes per group " + Integer.toUnsignedString(inodesPerGroup()) + " impossible for block size " + blockSize() + at(where));
        int isz = inodeSize();
        if (isz < 128 || isz > blockSize() || Integer.bitCount(isz) != 1) throw new CorruptException("superblock: inode size " + isz + " invalid" + at(where));
        if (blocksCount() <= firstDataBlock()) throw new CorruptException("superblock: block count " + blocksCount() + " too small" + at(where));
        if (firstDataBlock() != (blockSize() == 1024 ? 1 : 0) && firstDataBlock() != 0)
            throw new CorruptException("superblock: first data block " + firstDataBlock() + " invalid" + at(where));
        if (hasIncompat(Features.INCOMPAT_64BIT)) {
            int ds = b.getShort(0xFE) & 0xFFFF;
            if (ds < 32 || ds > 1024 || Integer.bitCount(ds) != 1) throw new CorruptException("superblock: group descriptor size " + ds + " invalid" + at(where));
        }
        long groups = groupCount();
        if ((long) inodesPerGroup() * groups != Integer.toUnsignedLong(inodesCount()) && inodesCount() != 0)
            throw new CorruptException("superblock: inode count " + Integer.toUnsignedString(inodesCount()) + " != " + groups + " groups x " + inodesPerGroup() + " inodes" + at(where));
        if (firstInode() < 11 && revLevel() >= 1) throw new CorruptException("superblock: first inode " + firstInode() + " invalid" + at(where));
    }

    private static String at(String where) { return " (superblock at byte 1024 of " + where + ")"; }

    private int u16(int off) { return b.getShort(off) & 0xFFFF; }
    private long u32(int off) { return Integer.toUnsignedLong(b.getInt(off)); }

    public int magic() { return u16(0x38); }
    public int inodesCount() { return b.getInt(0x0); }
    public long blocksCount() { return u32(0x4) | (is64bit() ? u32(0x150) << 32 : 0); }
    public long reservedBlocksCount() { return u32(0x8) | (is64bit() ? u32(0x154) << 32 : 0); }
    public long freeBlocksCount() { return u32(0xC) | (is64bit() ? u32(0x158) << 32 : 0); }
    public long freeInodesCount() { return u32(0x10); }
    public long firstDataBlock() { return u32(0x14); }
    public int blockSize() { return 1024 << b.getInt(0x18); }
    public int clusterSize() { return hasRoCompat(Features.RO_BIGALLOC) ? 1024 << b.getInt(0x1C) : blockSize(); }
    public int blocksPerGroup() { return b.getInt(0x20); }
    public int clustersPerGroup() { return hasRoCompat(Features.RO_BIGALLOC) ? b.getInt(0x24) : blocksPerGroup(); }
    public int inodesPerGroup() { return b.getInt(0x28); }
    public long mountTime() { return u32(0x2C) | ((long) (b.get(0x275) & 0xFF) << 32); }
    public long writeTime() { return u32(0x30) | ((long) (b.get(0x274) & 0xFF) << 32); }
    public int mountCount() { return u16(0x34); }
    public int maxMountCount() { return b.getShort(0x36); }
    public int state() { return u16(0x3A); }
    public int errorsBehaviour() { return u16(0x3C); }
    public long lastCheck() { return u32(0x40) | ((long) (b.get(0x277) & 0xFF) << 32); }
    public int creatorOs() { return b.getInt(0x48); }
    public int revLevel() { return b.getInt(0x4C); }
    public int firstInode() { return revLevel() == 0 ? 11 : b.getInt(0x54); }
    public int inodeSize() { return revLevel() == 0 ? 128 : u16(0x58); }
    public int featureCompat() { return b.getInt(0x5C); }
    public int featureIncompat() { return b.getInt(0x60); }
    public int featureRoCompat() { return b.getInt(0x64); }
    public boolean hasCompat(int f) { return (featureCompat() & f) != 0; }
    public boolean hasIncompat(int f) { return (featureIncompat() & f) != 0; }
    public boolean hasRoCompat(int f) { return (featureRoCompat() & f) != 0; }
    public boolean is64bit() { return hasIncompat(Features.INCOMPAT_64BIT); }
    public boolean hasMetadataCsum() { return hasRoCompat(Features.RO_METADATA_CSUM); }

    public UUID uuid() { return new UUID(Long.reverseBytes(b.getLong(0x68)), Long.reverseBytes(b.getLong(0x70))); }
    public byte[] uuidBytes() { byte[] u = new byte[16]; b.get(0x68, u); return u; }
    public String volumeName() { return cString(0x78, 16); }

    /** ext4 (extents, 64bit or flex_bg), else ext3 (a journal), else ext2: what blkid and mount call it. */
    public String kind() {
        if (hasIncompat(Features.INCOMPAT_EXTENTS) || hasIncompat(Features.INCOMPAT_64BIT) || hasIncompat(Features.INCOMPAT_FLEX_BG)) return "ext4";
        return hasCompat(Features.COMPAT_HAS_JOURNAL) ? "ext3" : "ext2";
    }
    public String lastMounted() { return cString(0x88, 64); }
    public int reservedGdtBlocks() { return u16(0xCE); }
    public int journalInode() { return b.getInt(0xE0); }
    public int journalDev() { return b.getInt(0xE4); }
    public int lastOrphan() { return b.getInt(0xE8); }
    /** s_overhead_clusters: fixed metadata and journal clusters as mke2fs 1.47 stores them (0: not stored). */
    public long overheadClusters() { return u32(0x248); }
    public int[] hashSeed() { return new int[]{b.getInt(0xEC), b.getInt(0xF0), b.getInt(0xF4), b.getInt(0xF8)}; }
    public int defHashVersion() { return b.get(0xFC) & 0xFF; }
    public int descSize() { return is64bit() ? u16(0xFE) : 32; }
    public int defaultMountOpts() { return b.getInt(0x100); }
    public long firstMetaBg() { return u32(0x104); }
    public long mkfsTime() { return u32(0x108) | ((long) (b.get(0x276) & 0xFF) << 32); }
    public int minExtraIsize() { return u16(0x15C); }
    public int wantExtraIsize() { return u16(0x15E); }
    public int flags() { return b.getInt(0x160); }
    public int logGroupsPerFlex() { return b.get(0x174) & 0xFF; }
    public long kbytesWritten() { return b.getLong(0x178); }
    public int errorCount() { return b.getInt(0x194); }
    public long[] backupBgs() { return new long[]{u32(0x24C), u32(0x250)}; }
    public int checksumSeedField() { return b.getInt(0x270); }
    /** s_orphan_file_inum: the orphan file's inode (orphan_file feature), 0 if none. */
    public long orphanFileInode() { return u32(0x280); }
    public int checksum() { return b.getInt(0x3FC); }

    /** Seed of every metadata_csum checksum: stored (metadata_csum_seed) or crc32c(~0, uuid). */
    public int checksumSeed() {
        if (hasIncompat(Features.INCOMPAT_CSUM_SEED)) return checksumSeedField();
        // the UUID rarely changes (tune2fs -U): remember the seed of the last one seen
        long hi = b.getLong(0x68), lo = b.getLong(0x70);
        SeedMemo m = seedMemo;
        if (m != null && m.hi == hi && m.lo == lo) return m.seed;
        int seed = Crc32c.update(0xFFFFFFFF, b, 0x68, 16);
        seedMemo = new SeedMemo(hi, lo, seed);
        return seed;
    }

    private record SeedMemo(long hi, long lo, int seed) {}
    private volatile SeedMemo seedMemo;

    public long groupCount() {
        return (blocksCount() - firstDataBlock() + Integer.toUnsignedLong(blocksPerGroup()) - 1) / Integer.toUnsignedLong(blocksPerGroup());
    }

    /** Whether group g holds a superblock backup (and, outside meta_bg, a descriptor table copy). */
    public boolean groupHasSuper(long g) {
        if (g == 0) return true;
        if (hasCompat(Features.COMPAT_SPARSE_SUPER2)) { long[] bg = backupBgs(); return g == bg[0] || g == bg[1]; }
        if (!hasRoCompat(Features.RO_SPARSE_SUPER)) return true;
        if (g == 1) return true;
        return isPower(g, 3) || isPower(g, 5) || isPower(g, 7);
    }

    private static boolean isPower(long n, int base) {
        long p = base;
        while (p < n) p *= base;
        return p == n;
    }

    /**
     * Changes to the raw 1024 bytes by field name (Inode.Editor's counterpart), so no layer above
     * writes superblock offsets; {@link #seal} redoes the checksum when metadata_csum is on.
     */
    public static final class Editor {
        private final ByteBuffer r;

        public Editor(ByteBuffer raw) { this.r = raw; }

        private boolean is64() { return (r.getInt(0x60) & Features.INCOMPAT_64BIT) != 0; }
        public long freeBlocks() { return Integer.toUnsignedLong(r.getInt(0xC)) | (is64() ? Integer.toUnsignedLong(r.getInt(0x158)) << 32 : 0); }
        public Editor freeBlocks(long n) { r.putInt(0xC, (int) n); if (is64()) r.putInt(0x158, (int) (n >>> 32)); return this; }
        public long freeInodes() { return Integer.toUnsignedLong(r.getInt(0x10)); }
        public Editor freeInodes(long n) { r.putInt(0x10, (int) n); return this; }
        /** s_last_orphan: the head of the orphan list. */
        public Editor lastOrphan(long ino) { r.putInt(0xE8, (int) ino); return this; }
        public Editor setIncompat(int f) { r.putInt(0x60, r.getInt(0x60) | f); return this; }
        public Editor clearIncompat(int f) { r.putInt(0x60, r.getInt(0x60) & ~f); return this; }
        public Editor setRoCompat(int f) { r.putInt(0x64, r.getInt(0x64) | f); return this; }
        public Editor clearRoCompat(int f) { r.putInt(0x64, r.getInt(0x64) & ~f); return this; }
        public Editor setState(int bits) { r.putShort(0x3A, (short) (r.getShort(0x3A) | bits)); return this; }
        public Editor clearState(int bits) { r.putShort(0x3A, (short) (r.getShort(0x3A) & ~bits)); return this; }
        /** s_wtime with its high byte. */
        public Editor writeTime(long seconds) { r.putInt(0x30, (int) seconds); r.put(0x274, (byte) (seconds >>> 32)); return this; }

        /** The checksum over the edited bytes, when the filesystem has metadata_csum. */
        public void seal() {
            if ((r.getInt(0x64) & Features.RO_METADATA_CSUM) != 0) r.putInt(0x3FC, Crc32c.update(0xFFFFFFFF, r, 0, 0x3FC));
        }
    }

    /** A copy of the raw 1024 bytes. */
    public ByteBuffer raw() { return b.duplicate().order(ByteOrder.LITTLE_ENDIAN); }

    private String cString(int off, int max) {
        int n = 0;
        while (n < max && b.get(off + n) != 0) n++;
        byte[] s = new byte[n];
        b.get(off, s);
        return new String(s, StandardCharsets.UTF_8);
    }
}
