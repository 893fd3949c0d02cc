package ext4j.extent;

import ext4j.base.CorruptException;
import ext4j.ondisk.Volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the ext2/ext3 block map: 12 direct pointers, then single, double and triple indirect
 * blocks of 32-bit block numbers. A zero pointer at any level is a hole covering its whole subtree.
 * The walk is bounded by the three levels of the format.
 */
public final class BlockMap implements FileMap {
    private static final int DIRECT = 12;

    private final Volume vol;
    private final long ino;
    private final long[] iblock = new long[15];
    private final int perBlock;
    private final long maxLogical;

    public BlockMap(Volume vol, long ino, ByteBuffer iBlock) {
        this.vol = vol;
        this.ino = ino;
        ByteBuffer b = iBlock.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 15; i++) iblock[i] = Integer.toUnsignedLong(b.getInt(i * 4));
        this.perBlock = vol.blockSize() / 4;
        long p = perBlock;
        this.maxLogical = Math.min(MAX_LOGICAL, DIRECT + p + p * p + p * p * p);
    }

    @Override
    public Run find(long lblk) throws IOException {
        if (lblk >= maxLogical) return Run.hole(lblk, Math.max(1, MAX_LOGICAL - lblk));
        if (lblk < DIRECT) return scan(iblock, DIRECT, (int) lblk, lblk, "i_block");
        long o = lblk - DIRECT;
        long span = perBlock;
        for (int level = 1; level <= 3; level++, span *= perBlock) {
            if (o < span) return walk(iblock[DIRECT - 1 + level], level, o, lblk);
            o -= span;
        }
        throw new IllegalStateException("unreachable: lblk " + lblk + " below maxLogical");
    }

    /** Descends from a pointer covering perBlock^level blocks to the run containing offset o. */
    private Run walk(long ptr, int level, long o, long lblk) throws IOException {
        for (; ; level--) {
            long span = pow(level);
            if (ptr == 0) return Run.hole(lblk, span - o);
            long[] entries = readIndirect(ptr, level);
            if (level == 1) return scan(entries, perBlock, (int) o, lblk, "indirect block " + ptr);
            long child = pow(level - 1);
            ptr = entries[(int) (o / child)];
            o %= child;
        }
    }

    private long pow(int level) {
        long v = 1;
        for (int i = 0; i < level; i++) v *= perBlock;
        return v;
    }

    /** An inode mapping metadata blocks (SystemZones) is damaged. */
    private void checkNotSystem(long block, long count, String what) throws CorruptException {
        if (!vol.validBlock(block)) return;
        ext4j.ondisk.SystemZones.Zone z = vol.systemZones().overlap(block, count, ino);
        if (z != null) throw new CorruptException("inode " + ino + ": " + what + " maps to block " + block + ", inside " + z.what() + " (blocks " + z.start() + ".." + (z.end() - 1) + ")");
    }

    private long[] readIndirect(long block, int level) throws IOException {
        checkNotSystem(block, 1, "its level-" + level + " indirect block");
        ByteBuffer b = vol.readMetaBlock(block, "inode " + ino + " level-" + level + " indirect block");
        long[] out = new long[perBlock];
        for (int i = 0; i < perBlock; i++) out[i] = Integer.toUnsignedLong(b.getInt(i * 4));
        return out;
    }

    /** The run starting at entries[from]: consecutive physical blocks, or consecutive zero pointers. */
    private Run scan(long[] entries, int count, int from, long lblk, String where) throws CorruptException {
        long first = entries[from];
        int n = 1;
        while (from + n < count && entries[from + n] == (first == 0 ? 0 : first + n)) n++;
        if (first == 0) return Run.hole(lblk, n);
        if (!vol.validBlock(first) || first + n > vol.superblock().blocksCount())
            throw new CorruptException("inode " + ino + ": " + where + " maps logical block " + lblk + " to block " + first + " outside the filesystem");
        checkNotSystem(first, n, "logical block " + lblk + " (" + where + ")");
        return new Run(lblk, n, first, Run.Kind.MAPPED);
    }

    @Override
    public List<Run> runs() throws IOException {
        List<Run> out = new ArrayList<>();
        for (long l = 0; l < maxLogical; ) {
            Run r = find(l);
            if (r.kind() != Run.Kind.HOLE) {
                Run last = out.isEmpty() ? null : out.getLast();
                if (last != null && last.end() == r.logical() && last.physical() + last.length() == r.physical())
                    out.set(out.size() - 1, new Run(last.logical(), last.length() + r.length(), last.physical(), r.kind()));
                else out.add(r);
            }
            l = r.end();
        }
        return out;
    }
}
