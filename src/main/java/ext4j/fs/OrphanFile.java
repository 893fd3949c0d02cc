package ext4j.fs;

import ext4j.base.CorruptException;
import ext4j.base.Crc32c;
import ext4j.extent.FileMap;
import ext4j.extent.Run;
import ext4j.journal.Handle;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Superblock;
import ext4j.ondisk.Volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The orphan file (compat feature orphan_file, Linux 5.15 on): the regular inode named by
 * s_orphan_file_inum, each of whose blocks is an array of (block size - 8) / 4 little-endian inode
 * numbers (0: a free slot) followed by a tail: the magic 0x0b10ca04 and, with metadata_csum, a
 * crc32c from the filesystem seed over the orphan file's inode number and generation, the block's
 * physical number (64 bits) and the slots; 0 without metadata_csum.
 *
 * An index (the slot of each orphan, free slots per block) is read from the blocks on first use;
 * an aborted handle drops it, and the next use reads it again from the blocks as readers see them.
 */
final class OrphanFile {
    static final int MAGIC = 0x0B10CA04;
    /** More blocks than this is not an orphan file (mke2fs makes at most 512; Linux refuses big ones too). */
    private static final int MAX_BLOCKS = 1 << 16;
    /** More orphans than this (open unlinked files, truncates in flight) is damage, and would cost memory. */
    private static final int MAX_ORPHANS = 1 << 20;

    private final Ext4FileSystem fs;
    private final Volume vol;
    private final long ino;

    private long[] blocks;                 // physical block of each logical block; null: not loaded
    private int generation;
    private Map<Long, Integer> slotOf;     // orphan inode -> block index * perBlock + slot
    private int[] used;                    // slots in use per block

    OrphanFile(Ext4FileSystem fs, Volume vol, long ino) {
        this.fs = fs;
        this.vol = vol;
        this.ino = ino;
    }

    long inode() { return ino; }

    private int perBlock() { return (vol.blockSize() - 8) / 4; }

    /** Forgets the index (a handle was aborted: the blocks are as before it, the index may not be). */
    void drop() { blocks = null; slotOf = null; used = null; }

    /** Seed of the blocks' checksums: the filesystem seed over the inode number and generation. */
    private int seed() {
        int c = Crc32c.updateInt(vol.superblock().checksumSeed(), (int) ino);
        return Crc32c.updateInt(c, generation);
    }

    /** The checksum a block with these bytes at this physical block must carry. */
    static int checksum(int inodeSeed, long physical, ByteBuffer b, int blockSize) {
        int c = Crc32c.updateLong(inodeSeed, physical);
        return Crc32c.update(c, b, 0, blockSize - 8);
    }

    private void load() throws IOException {
        if (blocks != null) return;
        Superblock sb = vol.superblock();
        int bs = vol.blockSize();
        String what = "orphan file (inode " + ino + ")";
        if (ino < 1 || ino > Integer.toUnsignedLong(sb.inodesCount())) throw new CorruptException(what + ": s_orphan_file_inum is out of range");
        Inode in = fs.diskInode(ino);
        if (!in.isRegular() || in.linksCount() == 0) throw new CorruptException(what + ": not a regular file in use");
        if (in.size() % bs != 0 || in.size() / bs > MAX_BLOCKS || in.size() == 0) throw new CorruptException(what + ": size " + in.size() + " is not a whole number of blocks (1.." + MAX_BLOCKS + ")");
        int n = (int) (in.size() / bs);
        long[] map = new long[n];
        FileMap fm = fs.fileMap(in);
        for (long l = 0; l < n; ) {
            Run r = fm.find(l);
            if (r.kind() != Run.Kind.MAPPED) throw new CorruptException(what + ": block " + l + " is not mapped");
            for (long k = 0; k < r.length() && l < n; k++, l++) map[(int) l] = r.physical() + k;
        }
        generation = in.generation();
        int seed = seed();
        boolean csum = sb.hasMetadataCsum();
        int per = perBlock();
        Map<Long, Integer> slots = new HashMap<>();
        int[] inUse = new int[n];
        long first = sb.firstInode(), last = Integer.toUnsignedLong(sb.inodesCount());
        for (int i = 0; i < n; i++) {
            ByteBuffer b = vol.readMetaBlock(map[i], what + " block " + i);
            String at = what + " block " + i + " (physical " + map[i] + ")";
            if (b.getInt(bs - 8) != MAGIC) throw new CorruptException(at + ": bad magic " + Integer.toHexString(b.getInt(bs - 8)));
            if (csum && b.getInt(bs - 4) != checksum(seed, map[i], b, bs)) throw new CorruptException(at + ": checksum does not match");
            for (int s = 0; s < per; s++) {
                long o = Integer.toUnsignedLong(b.getInt(4 * s));
                if (o == 0) continue;
                if (o < first || o > last || o == ino) throw new CorruptException(at + ": slot " + s + " holds inode " + o + ", which cannot be an orphan");
                if (slots.putIfAbsent(o, i * per + s) != null) throw new CorruptException(at + ": inode " + o + " is listed twice");
                if (slots.size() > MAX_ORPHANS) throw new CorruptException(what + ": more than " + MAX_ORPHANS + " orphans listed");
                inUse[i]++;
            }
        }
        blocks = map;
        slotOf = slots;
        used = inUse;
    }

    boolean contains(long orphan) throws IOException {
        load();
        return slotOf.containsKey(orphan);
    }

    boolean isEmpty() throws IOException {
        load();
        return slotOf.isEmpty();
    }

    /** The orphans listed, in slot order. */
    List<Long> inodes() throws IOException {
        load();
        List<Map.Entry<Long, Integer>> e = new ArrayList<>(slotOf.entrySet());
        e.sort(Map.Entry.comparingByValue());
        List<Long> out = new ArrayList<>(e.size());
        for (var x : e) out.add(x.getKey());
        return out;
    }

    /** Puts orphan in a free slot; false when every slot is taken (the caller uses the old list, as Linux does). */
    boolean add(Handle h, long orphan) throws IOException {
        load();
        if (slotOf.containsKey(orphan)) return true;
        int per = perBlock();
        for (int i = 0; i < blocks.length; i++) {
            if (used[i] >= per) continue;
            ByteBuffer b = h.getWriteAccess(blocks[i]);
            for (int s = 0; s < per; s++) {
                if (b.getInt(4 * s) != 0) continue;
                b.putInt(4 * s, (int) orphan);
                seal(b, i);
                slotOf.put(orphan, i * per + s);
                used[i]++;
                return true;
            }
            used[i] = per;                 // the index was wrong about this block: it is full
        }
        return false;
    }

    /** Frees orphan's slot; false if it is not in the orphan file. */
    boolean remove(Handle h, long orphan) throws IOException {
        load();
        Integer at = slotOf.get(orphan);
        if (at == null) return false;
        int per = perBlock(), i = at / per, s = at % per;
        ByteBuffer b = h.getWriteAccess(blocks[i]);
        if (Integer.toUnsignedLong(b.getInt(4 * s)) == orphan) {
            b.putInt(4 * s, 0);
            seal(b, i);
        }
        slotOf.remove(orphan);
        used[i]--;
        return true;
    }

    private void seal(ByteBuffer b, int i) {
        int bs = vol.blockSize();
        b.putInt(bs - 8, MAGIC);
        b.putInt(bs - 4, vol.superblock().hasMetadataCsum() ? checksum(seed(), blocks[i], b, bs) : 0);
    }
}
