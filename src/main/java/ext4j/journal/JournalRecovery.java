package ext4j.journal;

import ext4j.base.Errno;
import ext4j.base.FsException;

import ext4j.block.BlockDevice;
import ext4j.base.CorruptException;
import ext4j.base.Crc32c;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Recovers a jbd2 log (Documentation/filesystems/ext4/journal.rst) in the three passes jbd2 uses:
 * scan finds the last complete transaction (a descriptor, revoke or commit block whose checksum
 * fails, or a sequence or magic that does not follow, ends the log: a torn trailing transaction is
 * discarded whole), revoke collects revoked blocks with the newest transaction revoking each, replay
 * takes every logged block not revoked by the same or a later transaction. The result is the final
 * content of each block, which {@link #writeHome} writes (recovery proper) or a read-only open serves
 * from memory. Every loop is bounded by the journal's size; block numbers outside the filesystem
 * are refused.
 */
public final class JournalRecovery {
    private static final int MAGIC = 0xC03B3998;
    private static final int DESCRIPTOR = 1, COMMIT = 2, REVOKE = 5;
    private static final int TAG_ESCAPE = 1, TAG_SAME_UUID = 2, TAG_LAST = 8;
    private static final int COMPAT_CHECKSUM = 1;

    /** Maps journal logical block numbers to device blocks (the journal inode's extents). */
    public interface JournalMap {
        long physical(long logical);
        /** Blocks the journal has (its inode's size): the log may not claim more. */
        default long length() { return Long.MAX_VALUE; }
    }

    private final BlockDevice dev;
    private final JournalMap map;
    private final int bs;
    private final long fsBlocks;
    private final ByteBuffer jsb;
    private final long first, maxLen;
    private final long logEnd;          // one past the log's last block: the fast-commit area follows it
    private final long fcBlocks;
    private final int inodeSize;
    private final boolean is64, csumV2, csumV3;
    private final int seed, tagBytes;

    /**
     * What a scan found: the blocks to write and a summary. fastCommits: the fast-commit tags that
     * follow the last full commit (the filesystem layer applies them after the blocks).
     */
    public record Result(Map<Long, byte[]> blocks, long firstTid, long endTid, int transactions, int revoked, List<String> warnings,
                         FastCommitArea.Scan fastCommits) {
        public boolean isEmpty() { return transactions == 0 && fastCommits.isEmpty(); }
        /** The same replay with other final block contents (the fast commits applied on top). */
        public Result withBlocks(Map<Long, byte[]> replayed) {
            return new Result(replayed, firstTid, endTid, transactions, revoked, warnings, fastCommits);
        }
    }

    private JournalRecovery(BlockDevice dev, JournalMap map, int bs, long fsBlocks, ByteBuffer jsb, int inodeSize) throws CorruptException {
        this.inodeSize = inodeSize;
        this.dev = dev;
        this.map = map;
        this.bs = bs;
        this.fsBlocks = fsBlocks;
        this.jsb = jsb;
        if (jsb.getInt(0) != MAGIC) throw new CorruptException(String.format("journal superblock: bad magic 0x%08x", jsb.getInt(0)));
        int type = jsb.getInt(4);
        if (type != 3 && type != 4) throw new CorruptException("journal superblock: block type " + type + " is not a superblock");
        if (jsb.getInt(0xC) != bs) throw new CorruptException("journal superblock: block size " + jsb.getInt(0xC) + ", filesystem has " + bs);
        this.first = Integer.toUnsignedLong(jsb.getInt(0x14));
        this.maxLen = Integer.toUnsignedLong(jsb.getInt(0x10));
        if (first < 1 || first >= maxLen) throw new CorruptException("journal superblock: first log block " + first + " outside 1.." + (maxLen - 1));
        if (maxLen > map.length()) throw new CorruptException("journal superblock: s_maxlen " + maxLen + " blocks, but the journal inode holds " + map.length());
        int incompat = type == 4 ? jsb.getInt(0x28) : 0;
        int known = JournalSuperblock.INCOMPAT_REVOKE | JournalSuperblock.INCOMPAT_64BIT | JournalSuperblock.INCOMPAT_ASYNC_COMMIT
                | JournalSuperblock.INCOMPAT_CSUM_V2 | JournalSuperblock.INCOMPAT_CSUM_V3 | JournalSuperblock.INCOMPAT_FAST_COMMIT;
        if ((incompat & ~known) != 0) throw new CorruptException(String.format("journal has unknown incompat features 0x%x", incompat & ~known));
        this.is64 = (incompat & JournalSuperblock.INCOMPAT_64BIT) != 0;
        this.csumV2 = (incompat & JournalSuperblock.INCOMPAT_CSUM_V2) != 0;
        this.csumV3 = (incompat & JournalSuperblock.INCOMPAT_CSUM_V3) != 0;
        byte[] uuid = new byte[16];
        jsb.get(0x30, uuid);
        this.seed = Crc32c.update(0xFFFFFFFF, uuid);
        this.tagBytes = csumV3 ? (is64 ? 16 : 12) : (is64 ? 12 : 8);
        this.fcBlocks = FastCommitArea.blocks(jsb);
        this.logEnd = maxLen - fcBlocks;
        if (logEnd <= first + 1) throw new CorruptException("journal superblock: " + fcBlocks + " fast-commit blocks leave no log in " + maxLen + " blocks");
    }

    /** Reads the journal superblock (journal block 0) and scans the log; an empty result for a clean journal. */
    public static Result scan(BlockDevice dev, int blockSize, long fsBlocks, JournalMap map) throws IOException {
        return scan(dev, blockSize, fsBlocks, map, 1024);
    }

    /** As {@link #scan(BlockDevice, int, long, JournalMap)}; inodeSize (s_inode_size) bounds fast-commit INODE records. */
    public static Result scan(BlockDevice dev, int blockSize, long fsBlocks, JournalMap map, int inodeSize) throws IOException {
        return scan(dev, blockSize, fsBlocks, map, inodeSize, Runtime.getRuntime().maxMemory() / 2);
    }

    /**
     * As above, holding at most memoryBudget bytes of replayed block contents: a journal whose
     * replay needs more (a hostile one can log a gigabyte of distinct blocks) is refused with
     * ENOMEM naming what it needs, instead of exhausting the heap (the FUSE server runs with a
     * bounded one). By default half the JVM's maximum heap.
     */
    public static Result scan(BlockDevice dev, int blockSize, long fsBlocks, JournalMap map, int inodeSize, long memoryBudget) throws IOException {
        ByteBuffer jsb = ByteBuffer.allocate(blockSize).order(ByteOrder.BIG_ENDIAN);
        dev.read(map.physical(0) * blockSize, jsb);
        JournalRecovery r = new JournalRecovery(dev, map, blockSize, fsBlocks, jsb.clear(), inodeSize);
        r.memoryBudget = memoryBudget;
        return r.run();
    }

    private long memoryBudget = Long.MAX_VALUE;

    private ByteBuffer read(long logical) throws IOException {
        long p = map.physical(logical);
        if (p <= 0 || p >= fsBlocks) throw new CorruptException("journal block " + logical + " maps to filesystem block " + p + ", outside the filesystem");
        ByteBuffer b = ByteBuffer.allocate(bs).order(ByteOrder.BIG_ENDIAN);
        dev.read(p * bs, b);
        return b.clear();
    }

    private long next(long pos) { return pos + 1 >= logEnd ? first : pos + 1; }

    private boolean tailOk(ByteBuffer b) {
        if (!csumV2 && !csumV3) return true;
        byte[] copy = new byte[bs];
        b.get(0, copy);
        int stored = b.getInt(bs - 4);
        copy[bs - 4] = copy[bs - 3] = copy[bs - 2] = copy[bs - 1] = 0;
        return Crc32c.update(seed, copy) == stored;
    }

    private boolean commitOk(ByteBuffer b) {
        if (!csumV2 && !csumV3) return true;
        byte[] copy = new byte[bs];
        b.get(0, copy);
        int stored = b.getInt(0x10);
        for (int i = 0x10; i < 0x14; i++) copy[i] = 0;
        return Crc32c.update(seed, copy) == stored;
    }

    /** One tag: target block, flags and (v2/v3) checksum. */
    private record Tag(long block, int flags, int csum) {}

    /** The tags of a descriptor block, bounded by the block. */
    private List<Tag> tags(ByteBuffer d, long at) throws CorruptException {
        List<Tag> out = new ArrayList<>();
        int off = 12, end = bs - (csumV2 || csumV3 ? 4 : 0);
        while (off + tagBytes <= end) {
            long blk;
            int flags, csum;
            if (csumV3) {
                blk = Integer.toUnsignedLong(d.getInt(off));
                flags = d.getInt(off + 4);
                if (is64) blk |= Integer.toUnsignedLong(d.getInt(off + 8)) << 32;
                csum = d.getInt(off + (is64 ? 12 : 8));
            } else {
                blk = Integer.toUnsignedLong(d.getInt(off));
                csum = d.getShort(off + 4) & 0xFFFF;
                flags = d.getShort(off + 6) & 0xFFFF;
                if (is64) blk |= Integer.toUnsignedLong(d.getInt(off + 8)) << 32;
            }
            out.add(new Tag(blk, flags, csum));
            off += tagBytes;
            if ((flags & TAG_SAME_UUID) == 0) off += 16;
            if ((flags & TAG_LAST) != 0) return out;
        }
        return out;
    }

    private Result run() throws IOException {
        long start = Integer.toUnsignedLong(jsb.getInt(0x1C));
        long firstTid = Integer.toUnsignedLong(jsb.getInt(0x18));
        List<String> warnings = new ArrayList<>();
        // an empty log replays nothing, fast commits included (jbd2 looks at neither)
        if (start == 0) return new Result(Map.of(), firstTid, firstTid, 0, 0, warnings, FastCommitArea.Scan.EMPTY);
        if (start < first || start >= logEnd) throw new CorruptException("journal superblock: log start " + start + " outside " + first + ".." + (logEnd - 1));

        // pass 1: scan to the end of the last committed transaction
        long pos = start, tid = firstTid, steps = 0;
        record Txn(long tid, List<Long> descriptorPositions, List<Long> revokePositions) {}
        List<Txn> txns = new ArrayList<>();
        List<Long> descs = new ArrayList<>(), revs = new ArrayList<>();
        scan:
        while (true) {
            if (++steps > logEnd) throw new CorruptException("journal log loops: more than " + logEnd + " blocks scanned from block " + start);
            ByteBuffer b = read(pos);
            if (b.getInt(0) != MAGIC || Integer.toUnsignedLong(b.getInt(8)) != (tid & 0xFFFFFFFFL)) break;
            switch (b.getInt(4)) {
                case DESCRIPTOR -> {
                    if (!tailOk(b)) { warnings.add("transaction " + tid + ": descriptor block " + pos + " checksum mismatch: transaction discarded"); break scan; }
                    descs.add(pos);
                    int n = tags(b, pos).size();
                    for (int i = 0; i <= n; i++) { pos = next(pos); if (++steps > logEnd) throw new CorruptException("journal transaction " + tid + " runs past the log's size"); }
                }
                case REVOKE -> {
                    if (!tailOk(b)) { warnings.add("transaction " + tid + ": revoke block " + pos + " checksum mismatch: transaction discarded"); break scan; }
                    revs.add(pos);
                    pos = next(pos);
                }
                case COMMIT -> {
                    if (!commitOk(b)) { warnings.add("transaction " + tid + ": commit block " + pos + " checksum mismatch: transaction discarded"); break scan; }
                    txns.add(new Txn(tid, descs, revs));
                    descs = new ArrayList<>();
                    revs = new ArrayList<>();
                    tid++;
                    pos = next(pos);
                }
                default -> { break scan; }
            }
        }
        if (!descs.isEmpty() || !revs.isEmpty()) warnings.add("transaction " + tid + " has no commit block: discarded (torn at the cut)");

        // pass 2: revoked blocks, with the newest transaction revoking each
        Map<Long, Long> revoked = new HashMap<>();
        for (Txn t : txns) {
            for (long rp : t.revokePositions()) {
                ByteBuffer b = read(rp);
                int count = b.getInt(12);
                int rec = is64 ? 8 : 4, end = bs - (csumV2 || csumV3 ? 4 : 0);
                if (count < 16 || count > end) throw new CorruptException("journal transaction " + t.tid() + ": revoke block " + rp + " has byte count " + count);
                for (int off = 16; off + rec <= count; off += rec) {
                    long blk = is64 ? b.getLong(off) : Integer.toUnsignedLong(b.getInt(off));
                    revoked.merge(blk, t.tid(), Math::max);
                }
            }
        }

        // pass 3: final contents, transaction by transaction
        Map<Long, byte[]> blocks = new LinkedHashMap<>();
        for (Txn t : txns) {
            for (long dp : t.descriptorPositions()) {
                ByteBuffer d = read(dp);
                long dataPos = dp;
                for (Tag tag : tags(d, dp)) {
                    dataPos = next(dataPos);
                    if (tag.block() >= fsBlocks)
                        throw new CorruptException("journal transaction " + t.tid() + ": descriptor block " + dp + " logs block " + tag.block() + ", outside the filesystem (" + fsBlocks + " blocks)");
                    Long rt = revoked.get(tag.block());
                    if (rt != null && rt >= t.tid()) continue;
                    if (!blocks.containsKey(tag.block()) && (long) (blocks.size() + 1) * bs > memoryBudget)
                        throw new FsException(Errno.ENOMEM, "journal transaction " + t.tid() + ": replaying the journal needs more than "
                                + (memoryBudget >> 20) + " MiB for the blocks it logs (" + (blocks.size() + 1) + " distinct blocks so far, " + txns.size()
                                + " transactions); give the JVM a larger heap (-Xmx) to recover this journal");
                    ByteBuffer data = read(dataPos);
                    byte[] bytes = new byte[bs];
                    data.get(0, bytes);
                    if ((csumV2 || csumV3) && !tagChecksumOk(t.tid(), bytes, tag.csum())) { // over the block as logged (escaped)
                        warnings.add("transaction " + t.tid() + ": block " + tag.block() + " (journal block " + dataPos + ") fails its checksum: not replayed");
                        continue;
                    }
                    if ((tag.flags() & TAG_ESCAPE) != 0) ByteBuffer.wrap(bytes).putInt(0, MAGIC);
                    blocks.put(tag.block(), bytes);
                }
            }
        }
        // the fast commits of the transaction after the last full one: the area starts one block past the log's end
        FastCommitArea.Scan fc = fcBlocks == 0 ? FastCommitArea.Scan.EMPTY
                : FastCommitArea.scan(this::read, bs, logEnd + 1, maxLen, tid, inodeSize);
        warnings.addAll(fc.warnings());
        return new Result(blocks, firstTid, tid, txns.size(), revoked.size(), warnings, fc);
    }

    private boolean tagChecksumOk(long tid, byte[] data, int stored) {
        int c = Crc32c.updateInt(seed, Integer.reverseBytes((int) tid)); // the sequence, big-endian
        c = Crc32c.update(c, data);
        return csumV3 ? c == stored : (c & 0xFFFF) == (stored & 0xFFFF);
    }

    /**
     * Writes the recovered blocks home, flushes, then marks the log empty (s_start 0, s_sequence past
     * the last transaction) and flushes again. The filesystem's needs_recovery flag is the caller's.
     */
    public static void writeHome(BlockDevice dev, int blockSize, JournalMap map, Result r) throws IOException {
        for (var e : r.blocks().entrySet()) dev.write(e.getKey() * blockSize, ByteBuffer.wrap(e.getValue()));
        dev.flush();
        ByteBuffer jsb = ByteBuffer.allocate(blockSize).order(ByteOrder.BIG_ENDIAN);
        long p = map.physical(0);
        dev.read(p * blockSize, jsb);
        jsb.putInt(0x18, (int) (r.endTid() + 1)).putInt(0x1C, 0);
        int incompat = jsb.getInt(4) == 4 ? jsb.getInt(0x28) : 0;
        if ((incompat & (JournalSuperblock.INCOMPAT_CSUM_V2 | JournalSuperblock.INCOMPAT_CSUM_V3)) != 0) {
            jsb.putInt(0xFC, 0);
            jsb.putInt(0xFC, Crc32c.update(0xFFFFFFFF, jsb.array(), 0, 1024));
        }
        dev.write(p * blockSize, jsb.clear());
        dev.flush();
    }
}
