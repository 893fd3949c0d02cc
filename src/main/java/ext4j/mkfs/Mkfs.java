package ext4j.mkfs;

import ext4j.block.BlockDevice;
import ext4j.base.CorruptException;
import ext4j.base.Crc32c;
import ext4j.ondisk.Features;
import ext4j.ondisk.GroupDesc;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Superblock;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;

/**
 * Formats a block device as ext4 or ext2 with mke2fs's defaults from its profile ({@link Mke2fsConf}:
 * features, block size, inode size and ratio, reserved ratio, hash, flex_bg size, default mount
 * options, errors behaviour; with the built-in profile, ext4 is has_journal ext_attr resize_inode
 * dir_index filetype extent 64bit flex_bg sparse_super large_file huge_file dir_nlink extra_isize
 * metadata_csum). Layout as mke2fs makes it: groups of 8 x block-size blocks, superblock and
 * descriptor backups in groups 0, 1 and powers of 3, 5, 7, reserved descriptor blocks for growth
 * mapped by the resize inode (7), bitmaps and inode tables of each flex group packed at its start,
 * a contiguous extent-mapped journal (inode 8) in the middle of the filesystem, root (2) and
 * lost+found (11), then the resize inode's block and, with orphan_file, the orphan file (12).
 * Groups without anything but backups are BLOCK_UNINIT, all but group 0 INODE_UNINIT; inode
 * tables are zeroed (ITABLE_ZEROED). Every checksum is set.
 * The device must read as zeros where nothing is written (a new or truncated image file), or
 * {@code zero} must be true.
 */
public final class Mkfs {
    public interface Progress { void step(String what); }

    /** mke2fs's page size (x86-64, arm64 with 4 KiB pages): blocksize = -1 in a profile, and the unit a device's size is rounded to. */
    static final int PAGE = 4096;

    private static final int COMPAT_EXT4 = Features.COMPAT_HAS_JOURNAL | Features.COMPAT_EXT_ATTR | Features.COMPAT_RESIZE_INODE | Features.COMPAT_DIR_INDEX;
    private static final int INCOMPAT_EXT4 = Features.INCOMPAT_FILETYPE | Features.INCOMPAT_EXTENTS | Features.INCOMPAT_64BIT | Features.INCOMPAT_FLEX_BG;
    private static final int RO_EXT4 = Features.RO_SPARSE_SUPER | Features.RO_LARGE_FILE | Features.RO_HUGE_FILE | Features.RO_DIR_NLINK
            | Features.RO_EXTRA_ISIZE | Features.RO_METADATA_CSUM;
    private static final int COMPAT_EXT2 = Features.COMPAT_EXT_ATTR | Features.COMPAT_RESIZE_INODE | Features.COMPAT_DIR_INDEX;
    private static final int INCOMPAT_EXT2 = Features.INCOMPAT_FILETYPE;
    private static final int RO_EXT2 = Features.RO_SPARSE_SUPER | Features.RO_LARGE_FILE;
    /** What this mkfs can lay out (flags only for metadata_csum_seed, large_dir, verity, inline_data); anything else is refused. */
    private static final int COMPAT_OK = COMPAT_EXT4 | Features.COMPAT_ORPHAN_FILE,
            INCOMPAT_OK = INCOMPAT_EXT4 | Features.INCOMPAT_CSUM_SEED | Features.INCOMPAT_LARGEDIR | Features.INCOMPAT_EA_INODE | Features.INCOMPAT_INLINE_DATA,
            RO_OK = RO_EXT4 | Features.RO_GDT_CSUM | Features.RO_VERITY;

    private final BlockDevice dev;
    private final MkfsOptions o;
    private final Progress progress;
    private final SecureRandom random = new SecureRandom();

    // geometry
    private int bs, inodeSize, descSize, perBlock;
    private long blocks, firstData, groups, bpg, ipg, inodesTotal, descBlocks, rsvGdt, itableBlocks, reserved;
    private int compat, incompat, ro, flexSize;
    // from the profile (mke2fs.conf)
    private double reservedRatio;
    private int hashAlg, mountOpts, errorsBehavior;
    private boolean periodicFsck;
    private long journalBlocks, journalStart;
    private long journalLeaf;                                 // the journal's extent leaf block (0: its extents fit in the inode)
    private List<long[]> journalRuns = List.of();            // {start, length}: one run, or the holes mke2fs fills
    /** The orphan file (orphan_file): inode 12, its blocks and where they start. */
    private static final long ORPHAN_INO = 12;
    private long orphanBlocks, orphanStart;
    private List<long[]> orphanRuns = List.of();             // {start, length}: mke2fs fills holes for it as for the journal
    private UUID uuid;
    private final List<Long> metaStart = new ArrayList<>(); // per group: block bitmap, inode bitmap, inode table
    private long[] bbitmap, ibitmap, itable;
    private UsedBlocks used;                               // every allocated block of the filesystem
    private long rootBlock, lfStart, resizeDind;
    private int lfBlocks;
    private Superblock sb;
    private byte[] sbRaw;

    private Mkfs(BlockDevice dev, MkfsOptions o, Progress progress) {
        this.dev = dev;
        this.o = o;
        this.progress = progress == null ? w -> { } : progress;
    }

    /**
     * Formats dev (its whole size, or sizeBytes if > 0). zero: write zeros over the inode tables and
     * the journal first (a device with old contents); false when it already reads as zeros (a new or
     * truncated image file). Returns the superblock written.
     */
    public static Superblock format(BlockDevice dev, long sizeBytes, MkfsOptions o, boolean zero, Progress progress) throws IOException {
        Mkfs m = new Mkfs(dev, o, progress);
        // a size taken from the device is rounded down to whole pages, as mke2fs rounds it
        m.plan(sizeBytes > 0 ? sizeBytes : dev.size() / PAGE * PAGE);
        if (zero) m.zeroTablesAndJournal();
        m.write();
        return m.sb;
    }

    private void zeroTablesAndJournal() throws IOException {
        progress.step("zeroing inode tables");
        ByteBuffer z = ByteBuffer.allocateDirect(1 << 20);
        for (long g = 0; g < groups; g++) zero(itable[(int) g], itableBlocks, z);
        for (long[] r : journalRuns) zero(r[0], r[1], z);
        for (long g = 0; g < groups; g++) { zero(bbitmap[(int) g], 1, z); zero(ibitmap[(int) g], 1, z); }
    }

    private void zero(long start, long n, ByteBuffer z) throws IOException {
        long bytes = n * bs, off = start * bs;
        while (bytes > 0) {
            int len = (int) Math.min(bytes, z.capacity());
            dev.write(off, z.clear().limit(len));
            off += len;
            bytes -= len;
        }
    }

    // ---- planning ----

    private void plan(long size) throws IOException {
        String type = o.type() == null ? "ext4" : o.type();
        boolean ext4 = switch (type) { case "ext4" -> true; case "ext2" -> false; default -> throw new IllegalArgumentException("unsupported filesystem type '" + type + "' (ext4 or ext2)"); };
        Mke2fsConf conf = o.conf() != null ? o.conf() : Mke2fsConf.load();
        if (ext4 && !conf.definesType(type))
            throw new IllegalArgumentException(conf.source() + " does not define the " + type + " filesystem type (mke2fs refuses too)");
        List<String> types = Mke2fsConf.types(type, o.usageTypes(), size);
        // features as mke2fs sets them: base_features, each type's features in order, then default_features or -O
        compat = incompat = ro = 0;
        editFeatures(conf.string(types, "base_features", "sparse_super,large_file,filetype,resize_inode,dir_index"));
        for (String f : conf.typeFeatures(types)) editFeatures(f);
        if (o.featureEdits().isEmpty()) editFeatures(conf.string(types, "default_features", ""));
        else for (String f : o.featureEdits()) editFeature(f.trim());
        if ((ro & Features.RO_METADATA_CSUM) != 0) ro &= ~Features.RO_GDT_CSUM;
        int badC = compat & ~COMPAT_OK, badI = incompat & ~INCOMPAT_OK, badR = ro & ~RO_OK;
        if ((badC | badI | badR) != 0) {
            List<String> names = new ArrayList<>(Features.compatNames(badC));
            names.addAll(Features.incompatNames(badI));
            names.addAll(Features.roCompatNames(badR));
            throw new IllegalArgumentException("feature(s) " + String.join(", ", names) + " (from " + conf.source() + " or -O) cannot be made by ext4j mkfs; -O ^name turns one off");
        }
        if ((incompat & Features.INCOMPAT_64BIT) != 0 && (incompat & Features.INCOMPAT_EXTENTS) == 0)
            throw new IllegalArgumentException("64bit needs the extent feature");
        if ((incompat & Features.INCOMPAT_CSUM_SEED) != 0 && (ro & Features.RO_METADATA_CSUM) == 0)
            throw new IllegalArgumentException("metadata_csum_seed needs metadata_csum");

        long bsWanted = o.blockSize() != 0 ? o.blockSize() : conf.number(types, "blocksize", 4096);
        bs = bsWanted == -1 ? PAGE : (int) bsWanted;                     // -1: the page size
        if (bs != 1024 && bs != 2048 && bs != 4096) throw new IllegalArgumentException("block size " + bsWanted + " (1024, 2048 or 4096)");
        long ratio = conf.number(types, "inode_ratio", 8192);
        if (ratio < bs) ratio = bs;
        if (ratio > (1L << 26)) throw new IllegalArgumentException("inode_ratio " + ratio + " (at most 64 MiB)");
        long isz = o.inodeSize() != 0 ? o.inodeSize() : conf.number(types, "inode_size", 0);
        inodeSize = isz == 0 ? 128 : (int) Math.min(isz, 1 << 16);      // none in the profile: the library's 128
        if (inodeSize < 128 || inodeSize > bs || Integer.bitCount(inodeSize) != 1) throw new IllegalArgumentException("inode size " + isz + " (a power of two from 128 to the block size)");
        if ((incompat & Features.INCOMPAT_INLINE_DATA) != 0 && inodeSize < 256) // system.data lives in the inode's extra space
            throw new IllegalArgumentException(inodeSize + " byte inodes are too small for inline data; specify a larger size (mke2fs refuses too)");
        reservedRatio = conf.fraction(types, "reserved_ratio", 5.0);
        if (reservedRatio < 0 || reservedRatio > 50) throw new IllegalArgumentException("reserved_ratio " + reservedRatio + " (0 to 50)");
        String hash = conf.string(types, "hash_alg", "half_md4");
        hashAlg = switch (hash) { case "legacy" -> 0; case "half_md4" -> 1; case "tea" -> 2; default -> throw new IllegalArgumentException("hash_alg '" + hash + "' (legacy, half_md4 or tea)"); };
        mountOpts = mountOptions(conf.string(types, "default_mntopts", "acl,user_xattr"));
        String errors = conf.string(types, "errors", "continue");
        errorsBehavior = switch (errors) { case "continue" -> 1; case "remount-ro" -> 2; case "panic" -> 3; default -> throw new IllegalArgumentException("errors '" + errors + "' (continue, remount-ro or panic)"); };
        periodicFsck = isTrue(conf.string(types, "enable_periodic_fsck", "0"));
        long flex = conf.number(types, "flex_bg_size", 16);
        if (flex < 1 || flex > (1 << 16) || Long.bitCount(flex) != 1) throw new IllegalArgumentException("flex_bg_size " + flex + " (a power of two)");
        descSize = (incompat & Features.INCOMPAT_64BIT) != 0 ? 64 : 32;
        perBlock = bs / 4;
        blocks = size / bs;
        if ((incompat & Features.INCOMPAT_64BIT) == 0 && blocks > 0xFFFFFFFFL) blocks = 0xFFFFFFFFL;
        firstData = bs == 1024 ? 1 : 0;
        bpg = 8L * bs;
        flexSize = (incompat & Features.INCOMPAT_FLEX_BG) != 0 ? (int) flex : 1;
        if (blocks < 64) throw new IllegalArgumentException("filesystem too small: " + size + " bytes (" + blocks + " blocks of " + bs + ")");
        uuid = o.uuid() != null ? o.uuid() : UUID.randomUUID();

        // the inode count and reserved blocks come from the size asked for, also when the last group is dropped (mke2fs)
        long asked = blocks;
        long wantInodes = o.inodes() != 0 ? o.inodes() : Math.max(16, asked * bs / ratio);
        long reservedAsked = (long) (reservedRatio * asked / 100.0);
        for (int attempt = 0; attempt < 3; attempt++) {
            groups = (blocks - firstData + bpg - 1) / bpg;
            long inodesPerBlock = bs / inodeSize;
            ipg = (wantInodes + groups - 1) / groups;
            ipg = Math.max(ipg, 16);
            ipg = (ipg + inodesPerBlock - 1) / inodesPerBlock * inodesPerBlock;  // whole inode-table blocks
            ipg = ipg / 8 * 8;                                                 // whole bitmap bytes (down, as mke2fs)
            ipg = Math.min(ipg, Math.min(bpg, 8L * bs) / 8 * 8);
            if (ipg * groups > 0xFFFFFFFFL) ipg = 0xFFFFFFFFL / groups / 8 * 8;
            itableBlocks = (ipg * inodeSize + bs - 1) / bs;
            inodesTotal = ipg * groups;
            descBlocks = (groups * descSize + bs - 1) / bs;
            rsvGdt = (compat & Features.COMPAT_RESIZE_INODE) != 0 ? reservedGdt() : 0;
            // a last group too small for its own metadata plus some data is dropped, as mke2fs does (its
            // bitmaps and inode table count even with flex_bg, where they live elsewhere)
            long last = blocks - firstData - (groups - 1) * bpg;
            long lastOverhead = (hasSuper(groups - 1) ? 1 + descBlocks + rsvGdt : 0) + 2 + itableBlocks;
            if (groups > 1 && last < lastOverhead + 50) { blocks = firstData + (groups - 1) * bpg; continue; }
            break;
        }
        if (inodesTotal < 11 + 1) throw new IllegalArgumentException("too few inodes");
        // mke2fs keeps the reserved share of the size asked for: ratio = 100 * reserved / asked, applied to what is left
        reserved = blocks == asked ? reservedAsked : (long) ((100.0 * reservedAsked / asked) * blocks / 100.0);
        journalBlocks = (compat & Features.COMPAT_HAS_JOURNAL) != 0 ? defaultJournalBlocks(blocks) : 0;
        if (journalBlocks < 0) { compat &= ~Features.COMPAT_HAS_JOURNAL; journalBlocks = 0; }
        lfBlocks = Math.min(12, 16384 / bs); // as mke2fs: 16 KiB, at most the 12 direct blocks
        // mke2fs counts the first block before making it: with inline_data, mkdir makes lost+found inline and the first expansion only moves it to a block
        if ((incompat & Features.INCOMPAT_INLINE_DATA) != 0) lfBlocks--;
        if ((compat & Features.COMPAT_ORPHAN_FILE) != 0) {
            if ((compat & Features.COMPAT_HAS_JOURNAL) == 0) throw new IllegalArgumentException("cannot set orphan_file feature without a journal");
            if ((incompat & Features.INCOMPAT_EXTENTS) == 0) throw new IllegalArgumentException("ext4j mkfs makes the orphan file only with the extent feature");
            orphanBlocks = defaultOrphanFileBlocks(blocks);
        }
        place();
    }

    /** A comma- or blank-separated feature list, as in mke2fs.conf. */
    private void editFeatures(String list) {
        if (list == null) return;
        for (String f : list.split("[,\\s]+")) editFeature(f.trim());
    }

    private static boolean isTrue(String v) {
        return switch (v.strip().toLowerCase(java.util.Locale.ROOT)) { case "1", "y", "yes", "t", "true", "on" -> true; default -> false; };
    }

    /** Default mount options (s_default_mount_opts) by e2fsprogs' names, "^name" to remove. */
    static int mountOptions(String list) {
        String[] names = {"debug", "bsdgroups", "user_xattr", "acl", "uid16", "journal_data", "journal_data_ordered", null,
                "nobarrier", "block_validity", "discard", "nodelalloc"};
        int bits = 0;
        for (String raw : list.split("[,\\s]+")) {
            if (raw.isBlank()) continue;
            boolean off = raw.startsWith("^");
            String n = off ? raw.substring(1) : raw;
            int bit = -1;
            if (n.equals("journal_data_writeback")) bit = 0x60;
            for (int i = 0; i < names.length && bit < 0; i++) if (n.equals(names[i])) bit = 1 << i;
            if (bit < 0) throw new IllegalArgumentException("unknown default mount option '" + n + "'");
            bits = off ? bits & ~bit : bits | bit;
        }
        return bits;
    }

    private void editFeature(String f) {
        if (f.isEmpty()) return;
        if (f.equals("none") || f.equals("clear")) { compat = incompat = ro = 0; return; }
        boolean off = f.startsWith("^");
        String name = off ? f.substring(1) : f;
        if (name.equals("uninit_bg") || name.equals("gdt_csum")) name = "uninit_bg";
        if (name.equals("extents")) name = "extent";
        for (int i = 0; i < 32; i++) {
            int bit = 1 << i;
            if (Features.compatNames(bit).get(0).equals(name)) { compat = off ? compat & ~bit : compat | bit; return; }
            if (Features.incompatNames(bit).get(0).equals(name)) { incompat = off ? incompat & ~bit : incompat | bit; return; }
            if (Features.roCompatNames(bit).get(0).equals(name)) { ro = off ? ro & ~bit : ro | bit; return; }
        }
        throw new IllegalArgumentException("unknown feature '" + name + "'");
    }

    /** Descriptor blocks reserved so the filesystem can grow 1024-fold (up to 2^32 blocks), at most one indirect block's worth. */
    private long reservedGdt() {
        long max = Math.min(0xFFFFFFFFL, blocks * 1024);
        long rsvGroups = (max - firstData + bpg - 1) / bpg;
        long rsv = (rsvGroups * descSize + bs - 1) / bs - descBlocks;
        return Math.max(0, Math.min(rsv, perBlock));
    }

    /** mke2fs 1.47's default orphan file size: 32 blocks, a block per 4096 from 128 Ki blocks, at most 512. */
    static long defaultOrphanFileBlocks(long n) {
        if (n < 128 * 1024) return 32;
        if (n < 2 * 1024 * 1024) return n / 4096;
        return 512;
    }

    /** mke2fs's default journal size for a filesystem of this many blocks (-1: too small for one). */
    private static long defaultJournalBlocks(long n) {
        if (n < 2048) return -1;
        if (n < 32768) return 1024;
        if (n < 256 * 1024) return 4096;
        if (n < 512 * 1024) return 8192;
        if (n < 4096 * 1024) return 16384;
        if (n < 8192 * 1024) return 32768;
        if (n < 16384 * 1024) return 65536;
        if (n < 32768 * 1024) return 131072;
        return 262144;
    }

    private boolean sparse() { return (ro & Features.RO_SPARSE_SUPER) != 0; }

    /** Group g holds a superblock backup (sparse_super: 0, 1 and powers of 3, 5, 7). */
    boolean hasSuper(long g) {
        if (g <= 1 || !sparse()) return true;
        return isPower(g, 3) || isPower(g, 5) || isPower(g, 7);
    }

    private static boolean isPower(long g, int base) {
        long p = base;
        while (p < g) p *= base;
        return p == g;
    }

    private long groupStart(long g) { return firstData + g * bpg; }
    private long groupEnd(long g) { return Math.min(blocks, groupStart(g + 1)); }

    /** Places backups, bitmaps, inode tables, the journal, root, lost+found and the resize inode's block. */
    private void place() throws IOException {
        used = new UsedBlocks();
        if (firstData == 1) used.set(0, 1); // the boot block of a 1 KiB filesystem belongs to no group but is in use
        for (long g = 0; g < groups; g++) {
            if (!hasSuper(g)) continue;
            long s = groupStart(g);
            mark(s, 1 + descBlocks + rsvGdt);
        }
        bbitmap = new long[(int) groups];
        ibitmap = new long[(int) groups];
        itable = new long[(int) groups];
        for (long f = 0; f < groups; f += flexSize) {
            long n = Math.min(flexSize, groups - f);
            // mke2fs spaces the tables of a last flex group that has a single group a whole flex group
            // apart (room for the groups a resize adds); the blocks between are used by what follows
            long spacing = n == 1 && flexSize > 1 ? flexSize : n;
            long cursor = groupStart(f);
            for (long g = f; g < f + n; g++) { bbitmap[(int) g] = take(cursor, 1); cursor = bbitmap[(int) g] + 1; }
            cursor = bbitmap[(int) f] + spacing;
            for (long g = f; g < f + n; g++) { ibitmap[(int) g] = take(cursor, 1); cursor = ibitmap[(int) g] + 1; }
            cursor = ibitmap[(int) f] + spacing;
            for (long g = f; g < f + n; g++) { itable[(int) g] = take(cursor, itableBlocks); cursor = itable[(int) g] + itableBlocks; }
        }
        // in mke2fs's order: root, lost+found, the resize inode's block (its goal just past group 0's
        // inode table), the journal (from the middle group, filling what holes there are), the orphan file
        rootBlock = take(groupStart(0), 1);
        lfStart = take(rootBlock + 1, lfBlocks);
        if ((compat & Features.COMPAT_RESIZE_INODE) != 0)                   // mke2fs makes it with no reserved GDT blocks too
            resizeDind = take(Math.min(blocks - 1, firstData + descBlocks + rsvGdt + 2 + itableBlocks), 1);
        if (journalBlocks > 0) {
            long mid = journalGoal();
            journalRuns = (incompat & Features.INCOMPAT_EXTENTS) != 0 ? takeRuns(mid, journalBlocks, 4) : null;
            if (journalRuns == null && (incompat & Features.INCOMPAT_EXTENTS) != 0) {
                // more than the inode's 4 extents: one leaf block, where mke2fs puts it (the block just
                // before the goal when free, e.g. the last block of the previous group), the data from the goal on
                journalLeaf = mid > firstData && !used.get(mid - 1) ? mid - 1 : take(mid, 1);
                mark(journalLeaf, 1);
                journalRuns = takeRuns(mid, journalBlocks, (bs - 12) / 12);
                if (journalRuns == null) throw new IOException("no room for a journal of " + journalBlocks + " blocks");
            }
            if (journalRuns == null) {
                long start = take(mid, journalBlocks);
                if (start < 0) start = take(groupStart(0), journalBlocks);
                journalRuns = List.of(new long[]{start, journalBlocks});
            }
            journalStart = journalRuns.get(0)[0];
        }
        if (orphanBlocks > 0) {
            orphanRuns = (incompat & Features.INCOMPAT_EXTENTS) != 0 ? takeRuns(groupStart(0), orphanBlocks, 4) : null;
            if (orphanRuns == null) orphanRuns = List.of(new long[]{take(groupStart(0), orphanBlocks), orphanBlocks});
            orphanStart = orphanRuns.get(0)[0];
        }
        if (used.cardinality() + reserved > blocks) throw new IllegalArgumentException("filesystem too small for its metadata");
    }

    /**
     * Where mke2fs starts the journal: the group of the filesystem's middle block, or with flex_bg
     * past the first flex group the start of its flex group (skipping full groups), then of it and
     * its neighbours the one with the most free blocks.
     */
    private long journalGoal() {
        long middle = (blocks - firstData) / 2;
        long g = Math.max(0, middle - firstData) / bpg, start;
        if (flexSize > 1 && g > flexSize) {
            g &= ~(flexSize - 1L);
            while (g < groups && freeIn(g) == 0) g++;
            if (g == groups) g = 0;
            start = g;
        } else start = g > 0 ? g - 1 : g;
        long end = g + 1 < groups ? g + 1 : g;
        long best = start;
        for (long i = start + 1; i <= end; i++) if (freeIn(i) > freeIn(best)) best = i;
        return groupStart(best);
    }

    private long freeIn(long g) {
        long s = groupStart(g), e = groupEnd(g);
        return (e - s) - used.count(s, e);
    }

    /**
     * The first free blocks from from on, as runs (first fit, filling holes, as mke2fs allocates a
     * journal), marked used; null, with nothing marked, if they take more than maxRuns extents.
     */
    private List<long[]> takeRuns(long from, long n, int maxRuns) {
        List<long[]> runs = new ArrayList<>();
        long left = n;
        long s = from;
        while (left > 0) {
            s = used.nextFree(s);
            if (s >= blocks) return null;
            long end = used.nextUsed(s);
            long len = Math.min(left, Math.min((end < 0 ? blocks : end) - s, 32768));
            runs.add(new long[]{s, len});
            if (runs.size() > maxRuns) return null;
            left -= len;
            s += len;
        }
        for (long[] r : runs) mark(r[0], r[1]);
        return runs;
    }

    private void mark(long start, long n) {
        used.set(start, start + n);
    }

    /** First free run of n blocks at or after from (wrapping once), marked used; -1 if none. */
    private long take(long from, long n) throws IOException {
        for (int pass = 0; pass < 2; pass++) {
            long s = pass == 0 ? from : firstData;
            long end = pass == 0 ? blocks : from;
            while (s + n <= end) {
                long busy = used.firstUsedIn(s, s + n);
                if (busy < 0) { mark(s, n); return s; }
                s = used.nextFree(busy);
            }
        }
        if (n == 1 || from != groupStart(0)) return -1;
        throw new IOException("no room for " + n + " contiguous blocks");
    }

    // ---- writing ----

    private int groupCsumFlags(long g) {
        boolean csum = (ro & (Features.RO_METADATA_CSUM | Features.RO_GDT_CSUM)) != 0;
        if (!csum) return 0;
        int f = GroupDesc.FLAG_ITABLE_ZEROED;
        if (g == 0) return f;
        f |= GroupDesc.FLAG_INODE_UNINIT;
        if (g != groups - 1 && onlyBackupsIn(g)) f |= GroupDesc.FLAG_BLOCK_UNINIT;
        return f;
    }

    /** Whether the used blocks of group g are exactly its own superblock/descriptor backup area. */
    private boolean onlyBackupsIn(long g) {
        long s = groupStart(g), e = groupEnd(g);
        long own = hasSuper(g) ? 1 + descBlocks + rsvGdt : 0;
        return used.firstUsedIn(s + own, e) < 0;
    }

    private void write() throws IOException {
        Inode.Timestamp now = now();
        sbRaw = superblockBytes(now);
        sb = Superblock.parse(ByteBuffer.wrap(sbRaw).order(ByteOrder.LITTLE_ENDIAN), dev.name());
        int seed = sb.checksumSeed();
        boolean metaCsum = sb.hasMetadataCsum();

        progress.step("inodes");
        // inodes 2 (root), 7 (resize), 8 (journal), 11 (lost+found), 12 (orphan file); the rest of group 0's first table block stays zero
        long lastIno = usedInodes0();
        ByteBuffer table = ByteBuffer.allocate((int) Math.min(itableBlocks * bs, ((lastIno * inodeSize + bs - 1) / bs) * bs)).order(ByteOrder.LITTLE_ENDIAN);
        putInode(table, rootInode(now));
        if (resizeDind != 0) putInode(table, resizeInode(now));
        if (journalBlocks > 0) putInode(table, journalInode(now));
        putInode(table, lostFoundInode(now));
        if (orphanBlocks > 0) putInode(table, orphanInode(now));
        dev.write(itable[0] * bs, table.clear());
        if (orphanBlocks > 0) { progress.step("orphan file"); writeOrphanBlocks(seed, metaCsum); }

        progress.step("directories");
        writeDirBlock(rootBlock, 2, 2, new Object[][]{{11L, "lost+found"}}, seed, metaCsum, 2);
        writeDirBlock(lfStart, 11, 2, new Object[0][], seed, metaCsum, 11);
        for (int i = 1; i < lfBlocks; i++) writeEmptyDirBlock(lfStart + i, seed, metaCsum, 11);

        if (journalBlocks > 0) { progress.step("journal"); writeJournalSuperblock(); }
        if (journalLeaf != 0) writeJournalLeaf(seed, metaCsum);
        if (resizeDind != 0) writeResizeBlocks();

        progress.step("bitmaps and descriptors");
        ByteBuffer gdt = ByteBuffer.allocate((int) (descBlocks * bs)).order(ByteOrder.LITTLE_ENDIAN);
        long freeBlocksTotal = 0, freeInodesTotal = 0;
        for (long g = 0; g < groups; g++) {
            long s = groupStart(g), e = groupEnd(g);
            int flags = groupCsumFlags(g);
            byte[] bbits = new byte[bs];
            used.fill(bbits, s, e);
            setBits(bbits, e - s, 8L * bs);                                      // past the end
            ByteBuffer bb = ByteBuffer.wrap(bbits).order(ByteOrder.LITTLE_ENDIAN);
            long freeB = (e - s) - used.count(s, e);
            long usedInodes = g == 0 ? usedInodes0() : 0;
            byte[] ibits = new byte[bs];
            setBits(ibits, 0, usedInodes);
            setBits(ibits, ipg, 8L * bs);
            ByteBuffer ib = ByteBuffer.wrap(ibits).order(ByteOrder.LITTLE_ENDIAN);
            boolean blockUninit = (flags & GroupDesc.FLAG_BLOCK_UNINIT) != 0, inodeUninit = (flags & GroupDesc.FLAG_INODE_UNINIT) != 0;
            if (!blockUninit) dev.write(bbitmap[(int) g] * bs, bb.clear());
            if (!inodeUninit) dev.write(ibitmap[(int) g] * bs, ib.clear());
            GroupDesc.Editor ed = new GroupDesc.Editor(gdt.slice((int) (g * descSize), descSize).order(ByteOrder.LITTLE_ENDIAN));
            ed.blockBitmap(bbitmap[(int) g]).inodeBitmap(ibitmap[(int) g]).inodeTable(itable[(int) g])
                    .freeBlocks(freeB).freeInodes(ipg - usedInodes).usedDirs(g == 0 ? 2 : 0).flags(flags)
                    .itableUnused((ro & (Features.RO_METADATA_CSUM | Features.RO_GDT_CSUM)) != 0 ? ipg - usedInodes : 0);
            if (metaCsum) {
                ed.blockBitmapCsum(blockUninit ? 0 : bitmapCsum(seed, bb, (int) (bpg / 8)));
                ed.inodeBitmapCsum(inodeUninit ? 0 : bitmapCsum(seed, ib, (int) (ipg / 8)));
            }
            ed.seal(sb, g);
            freeBlocksTotal += freeB;
            freeInodesTotal += ipg - usedInodes;
        }
        // final counts into the superblock, then every copy
        ByteBuffer raw = ByteBuffer.wrap(sbRaw).order(ByteOrder.LITTLE_ENDIAN);
        raw.putInt(0xC, (int) freeBlocksTotal).putInt(0x158, (int) (freeBlocksTotal >>> 32)).putInt(0x10, (int) freeInodesTotal);
        progress.step("superblocks");
        for (long g = 0; g < groups; g++) {
            if (!hasSuper(g)) continue;
            raw.putShort(0x5A, (short) g);
            if (metaCsum) raw.putInt(0x3FC, Crc32c.update(0xFFFFFFFF, raw, 0, 0x3FC));
            long s = groupStart(g);
            if (g == 0) {
                dev.write(1024, ByteBuffer.wrap(sbRaw.clone()));
            } else {
                ByteBuffer blk = ByteBuffer.allocate(bs);
                blk.put(0, sbRaw, 0, 1024);
                dev.write(s * bs, blk);
            }
            dev.write((s + 1) * bs, gdt.duplicate().clear());
        }
        raw.putShort(0x5A, (short) 0);
        if (metaCsum) raw.putInt(0x3FC, Crc32c.update(0xFFFFFFFF, raw, 0, 0x3FC));
        dev.write(1024, ByteBuffer.wrap(sbRaw.clone()));
        dev.flush();
        sb = Superblock.parse(ByteBuffer.wrap(sbRaw).order(ByteOrder.LITTLE_ENDIAN), dev.name());
    }

    /** Sets bits [from, to) of a bitmap: the partial bytes bit by bit, the whole ones at once. */
    static void setBits(byte[] bm, long from, long to) {
        long b = from;
        for (; b < to && (b & 7) != 0; b++) bm[(int) (b >>> 3)] |= (byte) (1 << (b & 7));
        if (to - b >= 8) {
            java.util.Arrays.fill(bm, (int) (b >>> 3), (int) (to >>> 3), (byte) 0xFF);
            b = to & ~7L;
        }
        for (; b < to; b++) bm[(int) (b >>> 3)] |= (byte) (1 << (b & 7));
    }

    private static int bitmapCsum(int seed, ByteBuffer bm, int bytes) { return Crc32c.update(seed, bm, 0, bytes); }

    private byte[] superblockBytes(Inode.Timestamp now) {
        ByteBuffer r = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);
        r.putInt(0x0, (int) inodesTotal);
        r.putInt(0x4, (int) blocks).putInt(0x150, (int) (blocks >>> 32));
        r.putInt(0x8, (int) reserved).putInt(0x154, (int) (reserved >>> 32));
        r.putInt(0x14, (int) firstData);
        int log = Integer.numberOfTrailingZeros(bs) - 10;
        r.putInt(0x18, log).putInt(0x1C, log);
        r.putInt(0x20, (int) bpg).putInt(0x24, (int) bpg).putInt(0x28, (int) ipg);
        r.putInt(0x30, (int) now.seconds());
        r.putShort(0x36, (short) (periodicFsck ? 20 + random.nextInt(20) : -1));
        if (periodicFsck) r.putInt(0x44, 86400 * 180);                 // check interval: 180 days
        r.putShort(0x38, (short) Superblock.MAGIC);
        r.putShort(0x3A, (short) Superblock.STATE_VALID);
        r.putShort(0x3C, (short) errorsBehavior);
        r.putInt(0x40, (int) now.seconds());                 // last checked
        r.putInt(0x4C, 1);                                   // dynamic revision
        r.putInt(0x54, 11);
        r.putShort(0x58, (short) inodeSize);
        r.putInt(0x5C, compat).putInt(0x60, incompat).putInt(0x64, ro);
        r.putLong(0x68, Long.reverseBytes(uuid.getMostSignificantBits())).putLong(0x70, Long.reverseBytes(uuid.getLeastSignificantBits()));
        if (o.label() != null) {
            byte[] l = o.label().getBytes(StandardCharsets.UTF_8);
            if (l.length > 16) throw new IllegalArgumentException("label longer than 16 bytes: " + o.label());
            r.put(0x78, l);
        }
        r.putShort(0xCE, (short) rsvGdt);
        if (journalBlocks > 0) r.putInt(0xE0, 8);
        for (int i = 0; i < 4; i++) r.putInt(0xEC + 4 * i, random.nextInt());
        r.put(0xFC, (byte) hashAlg);
        if (journalBlocks > 0) r.put(0xFD, (byte) 1);        // journal inode backup in s_jnl_blocks
        r.putShort(0xFE, (short) ((incompat & Features.INCOMPAT_64BIT) != 0 ? descSize : 0));
        r.putInt(0x100, mountOpts);
        r.putInt(0x108, (int) now.seconds());
        if (journalBlocks > 0) {
            ByteBuffer ib = journalIBlock();
            for (int i = 0; i < 15; i++) r.putInt(0x10C + 4 * i, ib.getInt(4 * i));
            r.putInt(0x10C + 4 * 15, (int) ((journalBlocks * bs) >>> 32));
            r.putInt(0x10C + 4 * 16, (int) (journalBlocks * bs));
        }
        if (inodeSize > 128) r.putShort(0x15C, (short) 32).putShort(0x15E, (short) 32);
        r.putInt(0x160, 0x1);                                // signed directory hash, as on x86
        if (flexSize > 1) r.put(0x174, (byte) Integer.numberOfTrailingZeros(flexSize));
        if ((ro & Features.RO_METADATA_CSUM) != 0) r.put(0x175, (byte) 1);
        if (orphanBlocks > 0) r.putInt(0x280, (int) ORPHAN_INO);
        r.putInt(0x248, (int) overheadBlocks());                             // s_overhead_clusters, as mke2fs 1.47 stores it
        if ((incompat & Features.INCOMPAT_CSUM_SEED) != 0) r.putInt(0x270, Crc32c.update(0xFFFFFFFF, r, 0x68, 16));
        if ((ro & Features.RO_METADATA_CSUM) != 0) r.putInt(0x3FC, Crc32c.update(0xFFFFFFFF, r, 0, 0x3FC));
        return r.array();
    }

    private static Inode.Timestamp now() {
        return new Inode.Timestamp(ext4j.ondisk.WallClock.seconds(), 0); // also the superblock's times: see WallClock
    }

    private void putInode(ByteBuffer table, Inode.Editor e) throws CorruptException {
        e.seal(sb);
        table.put((int) ((e.number() - 1) * inodeSize), e.bytes(), 0, inodeSize);
    }

    private Inode.Editor base(long ino, int mode, int links, Inode.Timestamp now) {
        return Inode.Editor.blank(ino, sb).mode(mode).links(links).atime(now).ctime(now).mtime(now).crtime(now);
    }

    /** i_block holding one extent (or, for ext2, direct pointers) for a contiguous run. */
    private ByteBuffer mapping(long start, long n) {
        ByteBuffer ib = ByteBuffer.allocate(Inode.I_BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        if ((incompat & Features.INCOMPAT_EXTENTS) != 0) {
            int count = (int) ((n + 32767) / 32768);
            if (count > 4) throw new IllegalStateException(n + " blocks need an extent leaf");
            ib.putShort(0, (short) 0xF30A).putShort(2, (short) count).putShort(4, (short) 4).putShort(6, (short) 0);
            for (int i = 0; i < count; i++) {
                long l = i * 32768L, len = Math.min(32768, n - l), p = start + l;
                int off = 12 + 12 * i;
                ib.putInt(off, (int) l).putShort(off + 4, (short) len).putShort(off + 6, (short) (p >>> 32)).putInt(off + 8, (int) p);
            }
        } else {
            if (n > 12) throw new IllegalStateException("a block-mapped run over 12 blocks");
            for (int i = 0; i < n; i++) ib.putInt(4 * i, (int) (start + i));
        }
        return ib;
    }

    private Inode.Editor withMapping(Inode.Editor e, long start, long n) {
        e.iBlock(mapping(start, n));
        if ((incompat & Features.INCOMPAT_EXTENTS) != 0) e.flags(Inode.FL_EXTENTS);
        e.blocks512(n * (bs / 512), sb);
        return e;
    }

    private Inode.Editor rootInode(Inode.Timestamp now) {
        return withMapping(base(2, Inode.S_IFDIR | 0755, 3, now).size(bs), rootBlock, 1);
    }

    private Inode.Editor lostFoundInode(Inode.Timestamp now) {
        return withMapping(base(11, Inode.S_IFDIR | 0700, 2, now).size((long) lfBlocks * bs), lfStart, lfBlocks);
    }

    /** Fixed metadata and the journal (what statfs leaves out): backups, bitmaps, inode tables, the journal, the boot block. */
    private long overheadBlocks() {
        long n = firstData + journalBlocks;
        for (long g = 0; g < groups; g++) n += (hasSuper(g) ? 1 + descBlocks + rsvGdt : 0) + 2 + itableBlocks;
        return n;
    }

    /** Inodes in use in group 0: the reserved ones up to lost+found (11), and the orphan file's. */
    private long usedInodes0() { return orphanBlocks > 0 ? ORPHAN_INO : 11; }

    /** The orphan file as mke2fs makes it: a regular file, mode 0600, one extent. */
    private Inode.Editor orphanInode(Inode.Timestamp now) {
        Inode.Editor e = base(ORPHAN_INO, Inode.S_IFREG | 0600, 1, now).size(orphanBlocks * bs);
        if (orphanRuns.size() == 1) return withMapping(e, orphanStart, orphanBlocks);
        ByteBuffer ib = ByteBuffer.allocate(Inode.I_BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        putExtents(ib, 4, orphanRuns);
        return e.iBlock(ib).flags(Inode.FL_EXTENTS).blocks512(orphanBlocks * (bs / 512), sb);
    }

    /** Empty orphan blocks: every slot 0, the tail's magic and (metadata_csum) checksum. */
    private void writeOrphanBlocks(int seed, boolean csum) throws IOException {
        int inodeSeed = Crc32c.updateInt(Crc32c.updateInt(seed, (int) ORPHAN_INO), 0);
        for (long[] r : orphanRuns)
            for (long p = r[0]; p < r[0] + r[1]; p++) {
                ByteBuffer b = ByteBuffer.allocate(bs).order(ByteOrder.LITTLE_ENDIAN);
                b.putInt(bs - 8, 0x0B10CA04);
                if (csum) b.putInt(bs - 4, Crc32c.update(Crc32c.updateLong(inodeSeed, p), b, 0, bs - 8)); // the block's physical number, as Linux
                dev.write(p * bs, b.clear());
            }
    }

    private ByteBuffer journalIBlock() {
        ByteBuffer ib = ByteBuffer.allocate(Inode.I_BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        if (journalLeaf != 0) {                                   // depth 1: one index entry to the leaf
            ib.putShort(0, (short) 0xF30A).putShort(2, (short) 1).putShort(4, (short) 4).putShort(6, (short) 1);
            ib.putInt(12, 0).putInt(16, (int) journalLeaf).putShort(20, (short) (journalLeaf >>> 32));
            return ib;
        }
        if (journalRuns.size() == 1) return mapping(journalStart, journalBlocks);
        putExtents(ib, 4, journalRuns);
        return ib;
    }

    /** An extent header of depth 0 with these runs, then the extents, at the start of b. */
    private static void putExtents(ByteBuffer b, int max, List<long[]> runs) {
        b.putShort(0, (short) 0xF30A).putShort(2, (short) runs.size()).putShort(4, (short) max).putShort(6, (short) 0);
        long l = 0;
        for (int i = 0; i < runs.size(); i++) {
            long p = runs.get(i)[0], len = runs.get(i)[1];
            int off = 12 + 12 * i;
            b.putInt(off, (int) l).putShort(off + 4, (short) len).putShort(off + 6, (short) (p >>> 32)).putInt(off + 8, (int) p);
            l += len;
        }
    }

    /** The journal's extent leaf (when it has one), checksummed with the journal inode's seed under metadata_csum. */
    private void writeJournalLeaf(int seed, boolean csum) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(bs).order(ByteOrder.LITTLE_ENDIAN);
        putExtents(b, (bs - 12) / 12, journalRuns);
        if (csum) b.putInt(bs - 4, Crc32c.update(Crc32c.updateInt(Crc32c.updateInt(seed, 8), 0), b, 0, bs - 4));
        dev.write(journalLeaf * bs, b.clear());
    }

    private Inode.Editor journalInode(Inode.Timestamp now) {
        Inode.Editor e = base(8, Inode.S_IFREG | 0600, 1, now).size(journalBlocks * bs);
        e.iBlock(journalIBlock()).flags(Inode.FL_EXTENTS);
        e.blocks512((journalBlocks + (journalLeaf != 0 ? 1 : 0)) * (bs / 512), sb);
        return e;
    }

    /** Backups of the reserved descriptor blocks, in group order. */
    private List<Long> backupGroups() {
        List<Long> out = new ArrayList<>();
        for (long g = 1; g < groups; g++) if (hasSuper(g)) out.add(g);
        return out;
    }

    /**
     * The resize inode: a double-indirect block whose slot (descBlocks + i) % P points at reserved
     * descriptor block i of group 0; that block, used as an indirect block, lists its backups.
     */
    private Inode.Editor resizeInode(Inode.Timestamp now) {
        Inode.Editor e = base(7, Inode.S_IFREG | 0600, 1, now);
        long p = perBlock;
        e.size((p * p + p + 12) * bs);
        ByteBuffer ib = ByteBuffer.allocate(Inode.I_BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        ib.putInt(13 * 4, (int) resizeDind);
        e.iBlock(ib);
        long total = 1 + rsvGdt * (1 + backupGroups().size());
        e.blocks512(total * (bs / 512), sb);
        return e;
    }

    private void writeResizeBlocks() throws IOException {
        ByteBuffer dind = ByteBuffer.allocate(bs).order(ByteOrder.LITTLE_ENDIAN);
        List<Long> backups = backupGroups();
        for (long i = 0; i < rsvGdt; i++) {
            long gdtOff = descBlocks + i;
            long primary = firstData + 1 + gdtOff;
            dind.putInt((int) ((gdtOff % perBlock) * 4), (int) primary);
            ByteBuffer ind = ByteBuffer.allocate(bs).order(ByteOrder.LITTLE_ENDIAN);
            for (int k = 0; k < backups.size() && k < perBlock; k++) ind.putInt(k * 4, (int) (groupStart(backups.get(k)) + 1 + gdtOff));
            dev.write(primary * bs, ind.clear());
        }
        dev.write(resizeDind * bs, dind.clear());
    }

    private void putEntry(ByteBuffer b, int off, long ino, int rec, String name, int type) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        b.putInt(off, (int) ino).putShort(off + 4, (short) rec).put(off + 6, (byte) n.length)
                .put(off + 7, (byte) ((incompat & Features.INCOMPAT_FILETYPE) != 0 ? type : 0)).put(off + 8, n);
    }

    private void sealDirBlock(ByteBuffer b, int seed, boolean csum, long ino, int gen) {
        if (!csum) return;
        int t = bs - 12;
        b.putInt(t, 0).putShort(t + 4, (short) 12).put(t + 6, (byte) 0).put(t + 7, (byte) 0xDE);
        int c = Crc32c.updateInt(seed, (int) ino);
        c = Crc32c.updateInt(c, gen);
        b.putInt(t + 8, Crc32c.update(c, b, 0, t));
    }

    /** A directory's first block: ".", "..", then entries {inode, name} (directories). */
    private void writeDirBlock(long blk, long self, long parent, Object[][] entries, int seed, boolean csum, long ino) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(bs).order(ByteOrder.LITTLE_ENDIAN);
        int end = csum ? bs - 12 : bs;
        putEntry(b, 0, self, 12, ".", 2);
        int off = 12;
        if (entries.length == 0) { putEntry(b, off, parent, end - off, "..", 2); }
        else {
            putEntry(b, off, parent, 12, "..", 2);
            off += 12;
            for (int i = 0; i < entries.length; i++) {
                String n = (String) entries[i][1];
                int rec = i == entries.length - 1 ? end - off : (8 + n.length() + 3) & ~3;
                putEntry(b, off, (Long) entries[i][0], rec, n, 2);
                off += rec;
            }
        }
        sealDirBlock(b, seed, csum, ino, 0);
        dev.write(blk * bs, b.clear());
    }

    private void writeEmptyDirBlock(long blk, int seed, boolean csum, long ino) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(bs).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, 0).putShort(4, (short) (csum ? bs - 12 : bs));
        sealDirBlock(b, seed, csum, ino, 0);
        dev.write(blk * bs, b.clear());
    }

    /** A jbd2 v2 superblock for an empty log, as mke2fs writes it (no journal features until first use). */
    private void writeJournalSuperblock() throws IOException {
        ByteBuffer j = ByteBuffer.allocate(bs).order(ByteOrder.BIG_ENDIAN);
        j.putInt(0x0, 0xC03B3998).putInt(0x4, 4).putInt(0x8, 0);
        j.putInt(0xC, bs).putInt(0x10, (int) journalBlocks).putInt(0x14, 1).putInt(0x18, 1).putInt(0x1C, 0);
        j.putLong(0x30, uuid.getMostSignificantBits()).putLong(0x38, uuid.getLeastSignificantBits());
        j.putInt(0x40, 1); // users
        // s_users stays zero: an internal journal lists no filesystems (mke2fs; dumpe2fs then shows no "Journal users")
        dev.write(journalStart * bs, j.clear());
    }
}
