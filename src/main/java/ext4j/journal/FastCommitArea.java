package ext4j.journal;

import ext4j.base.CorruptException;
import ext4j.base.Crc32c;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The fast-commit area of a jbd2 journal with the fast_commit feature: the journal's last
 * s_num_fc_blks blocks (256 when the field is 0), of which jbd2 writes from the second on (the
 * first belongs to neither the log nor the area). Each fast commit is a run of tag-length-value
 * records (le16 tag, le16 length) ending with a TAIL that carries the transaction id and a crc32c
 * (seed 0) over every record of that commit up to the TAIL's crc field; the first commit after a
 * full commit starts with a HEAD naming the transaction.
 *
 * <p>The scan follows the behaviour of Linux's replay: nothing is replayed unless the area's first
 * block starts with a HEAD whose tid is the one after the log's last full commit (older blocks in
 * the area are stale: a full commit supersedes them); only the tags up to the last TAIL whose tid
 * and crc are right are replayed; a bad record after a good TAIL ends the area; a bad record or
 * TAIL before any good TAIL, or a HEAD with unknown features, makes the journal unrecoverable (as
 * Linux refuses to mount it).
 */
public final class FastCommitArea {
    static final int SUPPORTED_FEATURES = 0;
    private static final int NAME_MAX = 255;

    /** Reads one journal block (logical number) big- or little-endian as the caller likes. */
    public interface Reader { ByteBuffer read(long logical) throws IOException; }

    /** What the scan found: the tags to replay in order, the data extents they name, and a summary. */
    public record Scan(List<FastCommitTag> tags, int commits, int blocks, List<String> warnings) {
        public static final Scan EMPTY = new Scan(List.of(), 0, 0, List.of());
        public boolean isEmpty() { return tags.isEmpty(); }
    }

    private FastCommitArea() {}

    /** The number of fast-commit blocks a journal superblock gives (0 without the feature). */
    public static long blocks(ByteBuffer jsb) {
        int type = jsb.getInt(4);
        if (type != JournalSuperblock.BLOCKTYPE_SB_V2 || (jsb.getInt(0x28) & JournalSuperblock.INCOMPAT_FAST_COMMIT) == 0) return 0;
        long n = Integer.toUnsignedLong(jsb.getInt(0x54));
        return n == 0 ? 256 : n;
    }

    /**
     * Scans journal blocks [first, end) (end: the journal's s_maxlen) for fast commits of transaction
     * expectedTid. inodeSize bounds INODE records, as the superblock's s_inode_size does.
     */
    public static Scan scan(Reader reader, int blockSize, long first, long end, long expectedTid, int inodeSize) throws IOException {
        List<FastCommitTag> decoded = new ArrayList<>();     // every record so far, no-ops as null
        List<String> warnings = new ArrayList<>();
        int replayCount = 0, commits = 0, blocks = 0, crc = 0;
        int tid = (int) expectedTid;
        area:
        for (long jb = first; jb < end; jb++) {
            ByteBuffer b = reader.read(jb).order(ByteOrder.LITTLE_ENDIAN);
            if (jb == first && (b.getShort(0) & 0xFFFF) != FastCommitTag.HEAD) return Scan.EMPTY;
            blocks++;
            for (int cur = 0; cur <= blockSize - 4; ) {
                int tag = b.getShort(cur) & 0xFFFF, len = b.getShort(cur + 2) & 0xFFFF;
                int val = cur + 4;
                String bad = len > blockSize - val ? "record length " + len + " runs past the block" : lengthProblem(tag, len, inodeSize);
                if (bad != null) {
                    if (replayCount > 0) {
                        // a zeroed block is where the area ends; anything else is worth saying
                        if (tag != 0 || len != 0 || cur != 0) warnings.add("fast-commit block " + jb + " offset " + cur + ": " + bad + ": the area ends here");
                        break area;
                    }
                    throw new CorruptException("journal block " + jb + " (fast-commit area) offset " + cur + ": " + bad + " before any complete fast commit");
                }
                switch (tag) {
                    case FastCommitTag.TAIL -> {
                        crc = Crc32c.update(crc, b.array(), b.arrayOffset() + cur, 8);
                        int tailTid = b.getInt(val), tailCrc = b.getInt(val + 4);
                        decoded.add(null);
                        if (tailTid == tid && tailCrc == crc) {
                            replayCount = decoded.size();
                            commits++;
                        } else if (replayCount > 0) {
                            // another transaction's TAIL is a stale block past the last fast commit: the normal end
                            if (tailTid == tid) warnings.add("fast-commit block " + jb + ": TAIL crc mismatch: this fast commit and later ones are not replayed");
                            break area;
                        } else {
                            throw new CorruptException("journal block " + jb + " (fast-commit area): the first fast commit's TAIL "
                                    + (tailTid != tid ? "names transaction " + Integer.toUnsignedLong(tailTid) + ", expected " + expectedTid : "fails its crc")
                                    + " (Linux refuses this journal too)");
                        }
                        crc = 0;
                    }
                    case FastCommitTag.HEAD -> {
                        int features = b.getInt(val), headTid = b.getInt(val + 4);
                        if ((features & ~SUPPORTED_FEATURES) != 0)
                            throw new CorruptException(String.format("journal block %d (fast-commit area): HEAD has unknown features 0x%x", jb, features));
                        if (headTid != tid) {
                            if (jb == first && cur == 0) return Scan.EMPTY;   // stale: a full commit came after it
                            break area;
                        }
                        crc = Crc32c.update(crc, b.array(), b.arrayOffset() + cur, 4 + len);
                        decoded.add(null);
                    }
                    default -> {
                        crc = Crc32c.update(crc, b.array(), b.arrayOffset() + cur, 4 + len);
                        decoded.add(decode(tag, b, val, len));
                    }
                }
                cur = val + len;
            }
        }
        List<FastCommitTag> tags = new ArrayList<>();
        for (int i = 0; i < replayCount; i++) if (decoded.get(i) != null) tags.add(decoded.get(i));
        return new Scan(List.copyOf(tags), commits, blocks, List.copyOf(warnings));
    }

    /** Why a record's length is wrong for its tag (Linux's checks), or null when it is right. */
    static String lengthProblem(int tag, int len, int inodeSize) {
        boolean ok = switch (tag) {
            case FastCommitTag.ADD_RANGE -> len == 16;
            case FastCommitTag.DEL_RANGE -> len == 12;
            case FastCommitTag.CREAT, FastCommitTag.LINK, FastCommitTag.UNLINK -> len - 8 >= 1 && len - 8 <= NAME_MAX;
            case FastCommitTag.INODE -> len - 4 >= 128 && len - 4 <= inodeSize;
            case FastCommitTag.PAD -> true;
            case FastCommitTag.TAIL -> len >= 8;
            case FastCommitTag.HEAD -> len == 8;
            default -> { yield false; }
        };
        if (ok) return null;
        return switch (tag) {
            case FastCommitTag.ADD_RANGE, FastCommitTag.DEL_RANGE, FastCommitTag.CREAT, FastCommitTag.LINK, FastCommitTag.UNLINK,
                 FastCommitTag.INODE, FastCommitTag.TAIL, FastCommitTag.HEAD -> "tag " + tag + " with bad length " + len;
            default -> "unknown tag " + tag;
        };
    }

    private static FastCommitTag decode(int tag, ByteBuffer b, int val, int len) {
        return switch (tag) {
            case FastCommitTag.ADD_RANGE -> {
                long ino = Integer.toUnsignedLong(b.getInt(val));
                long lblk = Integer.toUnsignedLong(b.getInt(val + 4));
                int raw = b.getShort(val + 8) & 0xFFFF;                 // ee_len: above 32768 means unwritten
                long pblk = (long) (b.getShort(val + 10) & 0xFFFF) << 32 | Integer.toUnsignedLong(b.getInt(val + 12));
                boolean unwritten = raw > 32768;
                yield new FastCommitTag.AddRange(ino, lblk, unwritten ? raw - 32768 : raw, pblk, unwritten);
            }
            case FastCommitTag.DEL_RANGE -> new FastCommitTag.DelRange(Integer.toUnsignedLong(b.getInt(val)),
                    Integer.toUnsignedLong(b.getInt(val + 4)), Integer.toUnsignedLong(b.getInt(val + 8)));
            case FastCommitTag.CREAT, FastCommitTag.LINK, FastCommitTag.UNLINK -> {
                byte[] name = new byte[len - 8];
                b.get(val + 8, name);
                yield new FastCommitTag.Dentry(tag, Integer.toUnsignedLong(b.getInt(val)), Integer.toUnsignedLong(b.getInt(val + 4)), name);
            }
            case FastCommitTag.INODE -> {
                byte[] raw = new byte[len - 4];
                b.get(val + 4, raw);
                yield new FastCommitTag.InodeImage(Integer.toUnsignedLong(b.getInt(val)), raw);
            }
            default -> null;   // PAD
        };
    }
}
