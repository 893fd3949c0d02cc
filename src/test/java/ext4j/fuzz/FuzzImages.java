package ext4j.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import ext4j.base.Crc32c;
import ext4j.block.MemoryBlockDevice;
import ext4j.dir.DirEntry;
import ext4j.extent.ExtentMap;
import ext4j.extent.Run;
import ext4j.fs.Ext4FileSystem;
import ext4j.ondisk.Features;
import ext4j.ondisk.GroupDesc;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Superblock;
import ext4j.ondisk.Volume;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPInputStream;

/**
 * The seed images (made by seeds/make-seeds.sh, committed gzipped) with a map of their metadata,
 * and the mutation the whole-image targets apply: a few byte patches inside regions of chosen
 * kinds, so the fuzzer's bytes land on structures rather than on file data. With metadata_csum
 * the patched structures can be resealed, so the parsers behind the checksums are reached too.
 */
final class FuzzImages {
    enum Kind { SUPERBLOCK, GROUP_DESC, INODE, EXTENT, INDIRECT, DIR, XATTR, SYMLINK, JOURNAL, BITMAP, DATA }

    static final String[] NAMES = {"ext4-csum", "ext4-nocsum-1k", "ext2-1k", "ext4-inline", "kernel-journal"};

    /** A byte range of one structure; owner is the inode it belongs to (0: none), lblk its logical block in a directory. */
    record Region(Kind kind, long offset, int length, long owner, long lblk) {}

    /** A regular file of the seed: its inode's byte range, every block it owns, its bytes. */
    record FileInfo(long ino, Set<Long> blocks, long inodeOffset, int inodeLength, byte[] content) {}

    static final class Seed {
        final String name;
        final byte[] image;
        final int blockSize;
        final boolean csum;
        final List<Region> regions = new ArrayList<>();
        final Map<Long, FileInfo> files = new LinkedHashMap<>();
        final Set<Long> journalBlocks = new HashSet<>();

        Seed(String name, byte[] image) throws IOException {
            this.name = name;
            this.image = image;
            try (Ext4FileSystem fs = Ext4FileSystem.open(new MemoryBlockDevice(image.clone(), name, true))) {
                Superblock sb = fs.superblock();
                blockSize = sb.blockSize();
                csum = sb.hasMetadataCsum();
                Volume vol = fs.volume();
                regions.add(new Region(Kind.SUPERBLOCK, Superblock.OFFSET, Superblock.SIZE, 0, 0));
                long descBlocks = (vol.groupCount() * sb.descSize() + blockSize - 1) / blockSize;
                for (long i = 0; i < descBlocks; i++)
                    regions.add(new Region(Kind.GROUP_DESC, Volume.descBlock(sb, i) * blockSize, blockSize, 0, 0));
                for (long g = 0; g < vol.groupCount(); g++) {
                    regions.add(new Region(Kind.BITMAP, vol.group(g).blockBitmap() * blockSize, blockSize, 0, 0));
                    regions.add(new Region(Kind.BITMAP, vol.group(g).inodeBitmap() * blockSize, blockSize, 0, 0));
                }
                walk(fs, Inode.ROOT, new HashSet<>());
                if (sb.hasCompat(Features.COMPAT_HAS_JOURNAL)) {
                    Inode j = fs.inode(Inode.JOURNAL);
                    addInode(fs, j, Kind.JOURNAL);
                }
            }
        }

        private void addInode(Ext4FileSystem fs, Inode i, Kind dataKind) throws IOException {
            Superblock sb = fs.superblock();
            long ino = i.number();
            long g = (ino - 1) / sb.inodesPerGroup(), idx = (ino - 1) % sb.inodesPerGroup();
            long off = fs.volume().group(g).inodeTable() * blockSize + idx * sb.inodeSize();
            regions.add(new Region(Kind.INODE, off, sb.inodeSize(), ino, 0));
            Set<Long> owned = new HashSet<>();
            if (i.fileAcl() != 0) { regions.add(new Region(Kind.XATTR, i.fileAcl() * blockSize, blockSize, ino, 0)); owned.add(i.fileAcl()); }
            byte[] content = null;
            boolean inline = i.hasFlag(Inode.FL_INLINE_DATA);
            boolean fastLink = i.isSymlink() && !inline && i.size() < 60 && i.blocks512(blockSize) == 0;
            if (!inline && !fastLink && (i.isRegular() || i.isDir() || i.isSymlink())) {
                if (i.hasFlag(Inode.FL_EXTENTS)) {
                    for (long b : new ExtentMap(fs.volume(), ino, i.iBlock(), sb.hasMetadataCsum() ? i.checksumSeed(sb) : null).nodeBlocks()) {
                        regions.add(new Region(Kind.EXTENT, b * blockSize, blockSize, ino, 0));
                        owned.add(b);
                    }
                } else {
                    indirect(i, owned);
                }
                for (Run r : fs.fileMap(i).runs()) {
                    if (r.kind() == Run.Kind.HOLE) continue;
                    for (long k = 0; k < r.length(); k++) {
                        long b = r.physical() + k;
                        owned.add(b);
                        if (dataKind == Kind.JOURNAL) journalBlocks.add(b);
                        // the journal's first blocks (its superblock and log) and every directory and symlink block
                        if (dataKind == Kind.JOURNAL && r.logical() + k >= 64) continue;
                        Kind kind = dataKind != null ? dataKind : i.isDir() ? Kind.DIR : i.isSymlink() ? Kind.SYMLINK : Kind.DATA;
                        regions.add(new Region(kind, b * blockSize, blockSize, ino, r.logical() + k));
                    }
                }
            }
            if (i.isRegular() && dataKind == null) {
                content = new byte[Math.toIntExact(i.size())];
                ByteBuffer bb = ByteBuffer.wrap(content);
                while (bb.hasRemaining() && fs.read(i, bb.position(), bb) > 0) { }
                files.put(ino, new FileInfo(ino, owned, off, sb.inodeSize(), content));
            }
        }

        /** ext2/3 indirect blocks (i_block[12..14]) down to the data pointers. */
        private void indirect(Inode i, Set<Long> owned) {
            ByteBuffer ib = i.iBlock();
            for (int level = 1; level <= 3; level++) indirectLevel(ib.getInt((11 + level) * 4) & 0xFFFFFFFFL, level, i.number(), owned);
        }

        private void indirectLevel(long blk, int level, long ino, Set<Long> owned) {
            if (blk == 0 || (blk + 1) * blockSize > image.length) return;
            regions.add(new Region(Kind.INDIRECT, blk * blockSize, blockSize, ino, 0));
            owned.add(blk);
            if (level == 1) return;
            ByteBuffer b = ByteBuffer.wrap(image, (int) (blk * blockSize), blockSize).order(ByteOrder.LITTLE_ENDIAN);
            for (int k = 0; k < blockSize / 4; k++) indirectLevel(b.getInt(b.position() + k * 4) & 0xFFFFFFFFL, level - 1, ino, owned);
        }

        private void walk(Ext4FileSystem fs, long ino, Set<Long> seen) throws IOException {
            if (!seen.add(ino)) return;
            Inode i = fs.inode(ino);
            addInode(fs, i, null);
            if (!i.isDir()) return;
            for (DirEntry e : fs.directory(i).list()) if (!e.isDotOrDotDot()) walk(fs, e.inode(), seen);
        }

        List<Region> regions(Set<Kind> kinds) {
            List<Region> out = new ArrayList<>();
            for (Region r : regions) if (kinds.contains(r.kind())) out.add(r);
            return out;
        }
    }

    private static volatile List<Seed> seeds;

    static List<Seed> seeds() {
        if (seeds == null) {
            synchronized (FuzzImages.class) {
                if (seeds == null) {
                    List<Seed> s = new ArrayList<>();
                    for (String n : NAMES) {
                        try (InputStream in = FuzzImages.class.getResourceAsStream("seeds/" + n + ".img.gz")) {
                            if (in == null) throw new IllegalStateException("seed image seeds/" + n + ".img.gz missing");
                            s.add(new Seed(n, new GZIPInputStream(in).readAllBytes()));
                        } catch (IOException e) {
                            throw new UncheckedIOException("seed " + n, e);
                        }
                    }
                    s.addAll(corpusSeeds());
                    seeds = List.copyOf(s);
                }
            }
        }
        return seeds;
    }

    /** How many of the seeds are the committed ones (the rest come from the e2fsprogs corpus, when it is there). */
    static final int COMMITTED = NAMES.length;

    /**
     * The e2fsprogs corpus images its MANIFEST calls clean (in ../shared/corpus/e2fsprogs or
     * -Dext4j.corpus; read at test time, never committed), up to 4 MiB each, that ext4j walks without error.
     */
    private static List<Seed> corpusSeeds() {
        java.nio.file.Path dir = java.nio.file.Path.of(System.getProperty("ext4j.corpus",
                java.nio.file.Path.of("").toAbsolutePath().getParent().resolve("shared/corpus/e2fsprogs").toString()));
        List<Seed> out = new ArrayList<>();
        java.nio.file.Path manifest = dir.resolve("MANIFEST");
        if (!java.nio.file.Files.isRegularFile(manifest)) return out;
        try {
            for (String line : java.nio.file.Files.readAllLines(manifest)) {
                String[] f = line.split("\t");
                if (f.length < 2 || !f[1].equals("clean")) continue;
                java.nio.file.Path gz = dir.resolve(f[0] + ".img.gz");
                if (!java.nio.file.Files.isRegularFile(gz)) continue;
                try (InputStream in = new GZIPInputStream(java.nio.file.Files.newInputStream(gz))) {
                    byte[] img = in.readNBytes((4 << 20) + 1);
                    if (img.length > 4 << 20) continue;
                    out.add(new Seed("corpus " + f[0], img));
                } catch (IOException | RuntimeException e) {
                    // not walkable as it is: no use as a seed
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** A mutated copy of a seed: which seed, the image, and the blocks any patch touched. */
    record Mutated(Seed seed, byte[] image, BitSet touchedBlocks, boolean resealed, String description) {
        boolean touched(long block) { return block >= 0 && block < Integer.MAX_VALUE && touchedBlocks.get((int) block); }
        boolean touchedRange(long offset, int len) {
            for (long b = offset / seed.blockSize; b <= (offset + len - 1) / seed.blockSize; b++) if (touched(b)) return true;
            return false;
        }
        MemoryBlockDevice device(boolean readOnly) { return new MemoryBlockDevice(image, seed.name + "-mutated", readOnly); }
    }

    private static final long[] INTERESTING = {0, 1, 2, 3, 4, 7, 8, 12, 16, 32, 60, 64, 127, 128, 255, 256, 1023, 1024, 4095, 4096, 32767, 32768, 65535, 65536,
            0x7FFFFFFFL, 0x80000000L, 0xFFFFFFFEL, 0xFFFFFFFFL, 0xF30A, 0xEA020000L, 0xC03B3998L};

    /** Picks a seed and applies 1 to 8 patches inside regions of the given kinds. */
    static Mutated mutate(FuzzedDataProvider d, Set<Kind> kinds) {
        List<Seed> all = seeds();
        // the same bytes pick the same committed seed whether or not the corpus is there (regression inputs replay alike)
        int pick = d.consumeInt(0, 1023);
        Seed seed = pick >= 512 && all.size() > COMMITTED ? all.get(COMMITTED + pick % (all.size() - COMMITTED)) : all.get(pick % COMMITTED);
        List<Region> targets = seed.regions(kinds);
        byte[] img = seed.image.clone();
        BitSet touched = new BitSet();
        List<Region> hit = new ArrayList<>();
        StringBuilder desc = new StringBuilder(seed.name);
        if (!targets.isEmpty()) {
            int n = d.consumeInt(1, 8);
            for (int k = 0; k < n && d.remainingBytes() > 0; k++) {
                Region r = targets.get(d.consumeInt(0, targets.size() - 1));
                int pos = d.consumeInt(0, r.length() - 1);
                int op = d.consumeInt(0, 5);
                long at = r.offset() + pos;
                int width = switch (op) { case 2 -> 2; case 3, 4 -> 4; case 5 -> 2; default -> 1; };
                width = Math.min(width, r.length() - pos);
                long v = switch (op) {
                    case 0 -> (img[(int) at] ^ (1 << d.consumeInt(0, 7))) & 0xFF;
                    // boundary values, and the field plus or minus a little (counts, block numbers, lengths)
                    case 4 -> INTERESTING[d.consumeInt(0, INTERESTING.length - 1)];
                    case 5 -> (ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN).getShort((int) Math.min(at, img.length - 2)) + d.consumeInt(-16, 16));
                    default -> d.consumeLong();
                };
                for (int w = 0; w < width; w++) img[(int) at + w] = (byte) (v >>> (8 * w));
                touched.set((int) (at / seed.blockSize), (int) ((at + width - 1) / seed.blockSize) + 1);
                hit.add(r);
                desc.append(' ').append(r.kind()).append('@').append(at);
            }
        }
        boolean reseal = seed.csum && d.consumeBoolean();
        if (reseal) reseal(seed, img, hit);
        return new Mutated(seed, img, touched, reseal, desc.toString());
    }

    // ---- recomputing the checksums of patched structures (metadata_csum) ----

    static void reseal(Seed seed, byte[] img, List<Region> hit) {
        ByteBuffer all = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);
        Superblock sb;
        // the superblock first: every other checksum is seeded from it
        new Superblock.Editor(all.slice(Superblock.OFFSET, Superblock.SIZE).order(ByteOrder.LITTLE_ENDIAN)).seal();
        try {
            sb = Superblock.parse(all.slice(Superblock.OFFSET, Superblock.SIZE).order(ByteOrder.LITTLE_ENDIAN), "seed");
        } catch (IOException e) {
            return;
        }
        if (!sb.hasMetadataCsum()) return;
        int fsSeed = sb.checksumSeed();
        int bs = seed.blockSize;
        for (Region r : hit) {
            int off = (int) r.offset();
            switch (r.kind()) {
                case GROUP_DESC -> {
                    int ds = sb.descSize();
                    if (ds < 32 || ds > bs) break;
                    long firstGroup = (r.offset() / bs - Volume.descBlock(sb, 0)) * (bs / ds);
                    long groups = sb.blocksPerGroup() <= 0 ? 0 : (sb.blocksCount() - sb.firstDataBlock() + sb.blocksPerGroup() - 1) / sb.blocksPerGroup();
                    for (int k = 0; k < bs / ds && firstGroup + k < groups; k++) {
                        int o = off + k * ds;
                        int c = GroupDesc.of(all.slice(o, ds).order(ByteOrder.LITTLE_ENDIAN), ds, firstGroup + k).computeChecksum(sb);
                        all.putShort(o + 0x1E, (short) c);
                    }
                }
                case INODE -> resealInode(all, off, r.length(), r.owner(), fsSeed);
                case EXTENT -> {
                    int max = all.getShort(off + 4) & 0xFFFF;
                    int tail = 12 + 12 * Math.min(max, (bs - 16) / 12);
                    all.putInt(off + tail, Crc32c.update(inodeSeed(seed, all, r.owner(), fsSeed), all, off, tail));
                }
                case DIR -> resealDir(seed, all, off, bs, r, fsSeed);
                case XATTR -> {
                    all.putInt(off + 0x10, 0);
                    int c = Crc32c.updateLong(fsSeed, r.offset() / bs);
                    all.putInt(off + 0x10, Crc32c.update(c, all, off, bs));
                }
                default -> { }
            }
        }
    }

    private static void resealInode(ByteBuffer all, int off, int size, long ino, int fsSeed) {
        boolean hi = size > 128 && (all.getShort(off + 0x80) & 0xFFFF) >= 4;
        all.putShort(off + 0x7C, (short) 0);
        if (hi) all.putShort(off + 0x82, (short) 0);
        int c = Crc32c.updateInt(fsSeed, (int) ino);
        c = Crc32c.updateInt(c, all.getInt(off + 0x64));
        c = Crc32c.update(c, all, off, size);
        all.putShort(off + 0x7C, (short) c);
        if (hi) all.putShort(off + 0x82, (short) (c >>> 16));
    }

    private static int inodeSeed(Seed seed, ByteBuffer all, long ino, int fsSeed) {
        int c = Crc32c.updateInt(fsSeed, (int) ino);
        for (Region r : seed.regions) if (r.kind() == Kind.INODE && r.owner() == ino) return Crc32c.updateInt(c, all.getInt((int) r.offset() + 0x64));
        return c;
    }

    private static void resealDir(Seed seed, ByteBuffer all, int off, int bs, Region r, int fsSeed) {
        int iseed = inodeSeed(seed, all, r.owner(), fsSeed);
        int t = off + bs - 12;
        if (all.getInt(t) == 0 && all.getShort(t + 4) == 12 && all.get(t + 7) == (byte) 0xDE) {
            all.putInt(t + 8, Crc32c.update(iseed, all, off, bs - 12));
            return;
        }
        // an htree node: the root's entries start after "." and ".." and the root info, an inner node's after its fake entry
        int at = r.lblk() == 0 ? 0x18 + (all.get(off + 0x1D) & 0xFF) : 8;
        int limit = all.getShort(off + at) & 0xFFFF, count = all.getShort(off + at + 2) & 0xFFFF;
        int tail = at + limit * 8;
        if (limit == 0 || count > limit || tail + 8 > bs) return;
        all.putInt(off + tail, 0);
        int c = Crc32c.update(iseed, all, off, at + count * 8);
        c = Crc32c.update(c, all, off + tail, 4);
        c = Crc32c.updateInt(c, 0);
        all.putInt(off + tail + 4, c);
    }

    static Set<Kind> kinds(Kind first, Kind... rest) { return EnumSet.of(first, rest); }
}
