package ext4j.verity;

import ext4j.base.CorruptException;

import java.util.Arrays;

/**
 * Checks a verity file's data against its stored Merkle tree, the way fs-verity does on every read:
 * the tree is first checked from the descriptor's root hash down (each tree block against its
 * entry one level up), then each data block's hash must equal its level-0 entry. The descriptor
 * itself is trusted as stored (its digest is what a user compares or signs).
 */
public final class MerkleVerifier {
    private final VerityDescriptor d;
    private final byte[] tree;
    private final int bs;
    private final long dataBlocks;
    /** Byte offset of each level in the stored tree, leaves (level 0) first in this array. */
    private final long[] levelOffset;
    private final MerkleTree.Hasher hasher;
    private final String where;

    /** The tree's size in bytes for a descriptor: what to read from past EOF. */
    public static long treeSize(VerityDescriptor d) {
        long[] counts = levelBlocks(d);
        long total = 0;
        for (long c : counts) total += c;
        return total * d.blockSize();
    }

    /** Blocks in each tree level, leaves first; empty for a file of at most one block. */
    private static long[] levelBlocks(VerityDescriptor d) {
        int bs = d.blockSize(), per = bs / MerkleTree.HASH_SIZE;
        long blocks = (d.dataSize() + bs - 1) / bs;
        java.util.List<Long> out = new java.util.ArrayList<>();
        for (long n = blocks; n > 1; ) { n = (n + per - 1) / per; out.add(n); }
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    /** Checks the whole stored tree against the descriptor's root hash; where names the file in errors. */
    public MerkleVerifier(VerityDescriptor d, byte[] tree, String where) throws CorruptException {
        this.d = d;
        this.tree = tree;
        this.bs = d.blockSize();
        this.where = where;
        this.dataBlocks = (d.dataSize() + bs - 1) / bs;
        this.hasher = new MerkleTree.Hasher(d.salt());
        long[] counts = levelBlocks(d);
        if (tree.length != treeSize(d)) throw new CorruptException(where + ": verity Merkle tree is " + tree.length + " bytes, expected " + treeSize(d));
        levelOffset = new long[counts.length];
        long off = 0;
        for (int k = counts.length - 1; k >= 0; k--) { levelOffset[k] = off; off += counts[k] * bs; }
        // root level: one block whose hash is the root hash; below, each block hashes to its entry one level up
        for (int k = counts.length - 1; k >= 0; k--) {
            for (long j = 0; j < counts[k]; j++) {
                byte[] h = hasher.hash(tree, (int) (levelOffset[k] + j * bs), bs);
                byte[] want = k == counts.length - 1 ? d.rootHash() : entry(k + 1, j);
                if (!Arrays.equals(h, want)) throw new CorruptException(where + ": verity Merkle tree block " + j + " of level " + k + " does not match its hash");
            }
        }
    }

    private byte[] entry(int level, long index) {
        int at = (int) (levelOffset[level] + index * MerkleTree.HASH_SIZE);
        return Arrays.copyOfRange(tree, at, at + MerkleTree.HASH_SIZE);
    }

    public int blockSize() { return bs; }

    /** Checks data block i: buf[off, off + blockSize) holds it, zero-padded past the data size. */
    public void verify(long i, byte[] buf, int off) throws CorruptException {
        if (i < 0 || i >= dataBlocks) throw new IllegalArgumentException("block " + i + " of " + dataBlocks);
        byte[] h = hasher.hash(buf, off, bs);
        byte[] want = levelOffset.length == 0 ? d.rootHash() : entry(0, i);
        if (!Arrays.equals(h, want)) throw new CorruptException(where + ": data block " + i + " does not match its fs-verity hash");
    }
}
