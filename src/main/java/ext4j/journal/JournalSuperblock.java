package ext4j.journal;

import ext4j.base.CorruptException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Immutable view of the jbd2 journal superblock (first block of the journal). jbd2 is big-endian.
 * Offsets follow Documentation/filesystems/ext4/journal.rst.
 */
public final class JournalSuperblock {
    public static final int MAGIC = 0xC03B3998;
    public static final int BLOCKTYPE_SB_V1 = 3, BLOCKTYPE_SB_V2 = 4;
    public static final int INCOMPAT_REVOKE = 0x1, INCOMPAT_64BIT = 0x2, INCOMPAT_ASYNC_COMMIT = 0x4,
            INCOMPAT_CSUM_V2 = 0x8, INCOMPAT_CSUM_V3 = 0x10, INCOMPAT_FAST_COMMIT = 0x20;

    private final ByteBuffer b;

    private JournalSuperblock(ByteBuffer b) { this.b = b; }

    public static JournalSuperblock parse(ByteBuffer raw, String where) throws CorruptException {
        if (raw.remaining() < 1024) throw new CorruptException("journal superblock: truncated at " + where);
        ByteBuffer b = ByteBuffer.allocate(1024).order(ByteOrder.BIG_ENDIAN);
        b.put(raw.duplicate().limit(raw.position() + 1024)).flip();
        JournalSuperblock j = new JournalSuperblock(b.asReadOnlyBuffer());
        if (j.magic() != MAGIC) throw new CorruptException(String.format("journal superblock: bad magic 0x%08x at %s", j.magic(), where));
        if (j.blockType() != BLOCKTYPE_SB_V1 && j.blockType() != BLOCKTYPE_SB_V2)
            throw new CorruptException("journal superblock: block type " + j.blockType() + " is not a superblock at " + where);
        return j;
    }

    public int magic() { return b.getInt(0x0); }
    public int blockType() { return b.getInt(0x4); }
    public int blockSize() { return b.getInt(0xC); }
    public long maxLen() { return Integer.toUnsignedLong(b.getInt(0x10)); }
    public long first() { return Integer.toUnsignedLong(b.getInt(0x14)); }
    /** Sequence number of the first transaction expected in the log. */
    public long sequence() { return Integer.toUnsignedLong(b.getInt(0x18)); }
    /** Block number of the start of the log; 0 means the journal is clean. */
    public long start() { return Integer.toUnsignedLong(b.getInt(0x1C)); }
    public int errno() { return b.getInt(0x20); }
    public int featureCompat() { return blockType() == BLOCKTYPE_SB_V2 ? b.getInt(0x24) : 0; }
    public int featureIncompat() { return blockType() == BLOCKTYPE_SB_V2 ? b.getInt(0x28) : 0; }
    public int featureRoCompat() { return blockType() == BLOCKTYPE_SB_V2 ? b.getInt(0x2C) : 0; }
    public int numFcBlocks() { return b.getInt(0x54); }
    public boolean isClean() { return start() == 0; }

    public String incompatNames() {
        StringBuilder s = new StringBuilder();
        String[] n = {"revoke", "64bit", "async_commit", "checksum_v2", "checksum_v3", "fast_commit"};
        for (int i = 0; i < 32; i++) {
            if ((featureIncompat() & (1 << i)) == 0) continue;
            if (!s.isEmpty()) s.append(' ');
            s.append(i < n.length ? n[i] : "incompat_bit" + i);
        }
        return s.toString();
    }
}
