package ext4j.ondisk;

import java.util.ArrayList;
import java.util.List;

/** Feature flag bits of the three superblock feature words, with their e2fsprogs names. */
public final class Features {
    private Features() {}

    // compat
    public static final int COMPAT_DIR_PREALLOC = 0x1, COMPAT_IMAGIC_INODES = 0x2, COMPAT_HAS_JOURNAL = 0x4,
            COMPAT_EXT_ATTR = 0x8, COMPAT_RESIZE_INODE = 0x10, COMPAT_DIR_INDEX = 0x20, COMPAT_LAZY_BG = 0x40,
            COMPAT_EXCLUDE_BITMAP = 0x100, COMPAT_SPARSE_SUPER2 = 0x200, COMPAT_FAST_COMMIT = 0x400,
            COMPAT_STABLE_INODES = 0x800, COMPAT_ORPHAN_FILE = 0x1000;
    // incompat
    public static final int INCOMPAT_COMPRESSION = 0x1, INCOMPAT_FILETYPE = 0x2, INCOMPAT_RECOVER = 0x4,
            INCOMPAT_JOURNAL_DEV = 0x8, INCOMPAT_META_BG = 0x10, INCOMPAT_EXTENTS = 0x40, INCOMPAT_64BIT = 0x80,
            INCOMPAT_MMP = 0x100, INCOMPAT_FLEX_BG = 0x200, INCOMPAT_EA_INODE = 0x400, INCOMPAT_DIRDATA = 0x1000,
            INCOMPAT_CSUM_SEED = 0x2000, INCOMPAT_LARGEDIR = 0x4000, INCOMPAT_INLINE_DATA = 0x8000,
            INCOMPAT_ENCRYPT = 0x10000, INCOMPAT_CASEFOLD = 0x20000;
    // ro_compat
    public static final int RO_SPARSE_SUPER = 0x1, RO_LARGE_FILE = 0x2, RO_BTREE_DIR = 0x4, RO_HUGE_FILE = 0x8,
            RO_GDT_CSUM = 0x10, RO_DIR_NLINK = 0x20, RO_EXTRA_ISIZE = 0x40, RO_HAS_SNAPSHOT = 0x80, RO_QUOTA = 0x100,
            RO_BIGALLOC = 0x200, RO_METADATA_CSUM = 0x400, RO_REPLICA = 0x800, RO_READONLY = 0x1000,
            RO_PROJECT = 0x2000, RO_SHARED_BLOCKS = 0x4000, RO_VERITY = 0x8000, RO_ORPHAN_PRESENT = 0x10000;

    /** incompat features the reader understands; anything else refuses the open. */
    public static final int INCOMPAT_READ_SUPPORTED = INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_META_BG
            | INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_MMP | INCOMPAT_FLEX_BG | INCOMPAT_EA_INODE
            | INCOMPAT_CSUM_SEED | INCOMPAT_LARGEDIR | INCOMPAT_INLINE_DATA;
    /** incompat features ext4j can write (extent files; no meta_bg, inline-data writes are limited). */
    public static final int INCOMPAT_WRITE_SUPPORTED = INCOMPAT_FILETYPE | INCOMPAT_RECOVER | INCOMPAT_EXTENTS
            | INCOMPAT_64BIT | INCOMPAT_FLEX_BG | INCOMPAT_CSUM_SEED | INCOMPAT_LARGEDIR | INCOMPAT_INLINE_DATA | INCOMPAT_EA_INODE;
    /** ro_compat features ext4j can keep consistent while writing. */
    public static final int RO_COMPAT_WRITE_SUPPORTED = RO_SPARSE_SUPER | RO_LARGE_FILE | RO_HUGE_FILE | RO_GDT_CSUM
            | RO_DIR_NLINK | RO_EXTRA_ISIZE | RO_METADATA_CSUM | RO_VERITY | RO_ORPHAN_PRESENT;
    /** ro_compat features ext4j knows; an unknown one means: read-only. */
    public static final int RO_COMPAT_KNOWN = 0x1FFFF;

    private static final String[] COMPAT = {"dir_prealloc", "imagic_inodes", "has_journal", "ext_attr",
            "resize_inode", "dir_index", "lazy_bg", "exclude_inode", "exclude_bitmap", "sparse_super2",
            "fast_commit", "stable_inodes", "orphan_file"};
    private static final String[] INCOMPAT = {"compression", "filetype", "needs_recovery", "journal_dev",
            "meta_bg", null, "extent", "64bit", "mmp", "flex_bg", "ea_inode", null, "dirdata", "metadata_csum_seed",
            "large_dir", "inline_data", "encrypt", "casefold"};
    private static final String[] RO_COMPAT = {"sparse_super", "large_file", "btree_dir", "huge_file",
            "uninit_bg", "dir_nlink", "extra_isize", "snapshot", "quota", "bigalloc", "metadata_csum",
            "replica", "read-only", "project", "shared_blocks", "verity", "orphan_present"};

    public static List<String> compatNames(int bits) { return names(bits, COMPAT, "compat"); }
    public static List<String> incompatNames(int bits) { return names(bits, INCOMPAT, "incompat"); }
    public static List<String> roCompatNames(int bits) { return names(bits, RO_COMPAT, "ro_compat"); }

    /** Names in e2fsprogs spelling; unnamed bits as e.g. {@code FEATURE_I20}. */
    private static List<String> names(int bits, String[] table, String kind) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            if ((bits & (1 << i)) == 0) continue;
            String n = i < table.length ? table[i] : null;
            out.add(n != null ? n : "FEATURE_" + kind.toUpperCase().charAt(0) + i);
        }
        return out;
    }
}
