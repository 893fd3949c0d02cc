package ext4j.verity;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * An fs-verity Merkle tree (Documentation/filesystems/fsverity.rst) over a file's data, SHA-256:
 * level 0 holds the hash of each data block (the last one zero-padded), each hash being
 * SHA-256(salt zero-padded to 64 bytes, then the block); each level is cut into blocks (zero-padded
 * at its end) whose hashes make the next level, up to a level of one block, whose hash is the root
 * hash. A file of one block has no tree (its block's hash is the root hash); an empty file has
 * no tree and an all-zero root hash.
 *
 * <p>The all-zero block trick (the seeds' fs-verity thread): a data block of zeros (a hole, or
 * zeros written) always has the same hash, and a tree block made only of the hashes of such
 * blocks has the same hash at each level, so they are computed once; hashing a sparse file costs
 * its data, not its size.
 */
public final class MerkleTree {
    public static final int HASH_SIZE = 32;

    /**
     * Supplies the file's data from block i on: fills dst completely (its limit is a whole number of
     * blocks, or stops at the end of the data). Asked for up to {@link #CHUNK} bytes at a time.
     */
    public interface DataSource {
        void read(long block, ByteBuffer dst) throws IOException;

        /**
         * How many blocks from block on are known to read as zeros without being read (a hole or an
         * unwritten extent with nothing cached over it); 0 when unknown or data. Those blocks get the
         * zero block's hash with no read and no compare.
         */
        default long zeroBlocksAt(long block) throws IOException { return 0; }

        /** How many blocks from block on may hold data before the next run zeroBlocksAt names (unknown: Long.MAX_VALUE). */
        default long dataBlocksAt(long block) throws IOException { return Long.MAX_VALUE; }
    }

    /** Bytes read per DataSource call: large reads cost far less per block than block-sized ones. */
    public static final int CHUNK = 1 << 20;

    private final int blockSize;
    /** Levels, leaves (level 0) first; each the concatenated tree blocks of that level. */
    private final List<byte[]> levels;
    private final byte[] rootHash;
    private final long zeroBlocksSkipped;

    private MerkleTree(int blockSize, List<byte[]> levels, byte[] rootHash, long zeroBlocksSkipped) {
        this.blockSize = blockSize;
        this.levels = levels;
        this.rootHash = rootHash;
        this.zeroBlocksSkipped = zeroBlocksSkipped;
    }

    /** Builds the tree of dataSize bytes read from src, in blocks of blockSize (a power of two, 1 KiB to 64 KiB). */
    public static MerkleTree build(long dataSize, int blockSize, byte[] salt, DataSource src) throws IOException {
        if (Integer.bitCount(blockSize) != 1 || blockSize < 1024 || blockSize > 65536)
            throw new IllegalArgumentException("verity block size " + blockSize + ": a power of two from 1024 to 65536");
        if (salt.length > 32) throw new IllegalArgumentException("salt of " + salt.length + " bytes: at most 32");
        Hasher h = new Hasher(salt);
        List<byte[]> levels = new ArrayList<>();
        if (dataSize == 0) return new MerkleTree(blockSize, levels, new byte[HASH_SIZE], 0);
        long blocks = (dataSize + blockSize - 1) / blockSize;
        int perBlock = blockSize / HASH_SIZE;
        byte[] zeroBlock = new byte[blockSize];
        byte[] zeroHash = h.hash(zeroBlock);            // the hash of an all-zero block at this level
        // level 0: one hash per data block
        byte[] level = new byte[(int) roundUp(blocks * HASH_SIZE, blockSize)];
        int chunkBlocks = Math.max(1, CHUNK / blockSize);
        ByteBuffer buf = ByteBuffer.allocate(chunkBlocks * blockSize);
        byte[] a = buf.array();
        long skipped = 0;
        for (long first = 0; first < blocks; ) {
            long zeros = Math.min(src.zeroBlocksAt(first), blocks - first);
            if (zeros > 0) {                                            // a hole: its hashes without reading it
                for (long k = first; k < first + zeros; k++) System.arraycopy(zeroHash, 0, level, (int) (k * HASH_SIZE), HASH_SIZE);
                skipped += zeros;
                first += zeros;
                continue;
            }
            long upTo = Math.max(1, Math.min(chunkBlocks, src.dataBlocksAt(first)));   // stop where the next hole starts
            int n = (int) Math.min(upTo * blockSize, dataSize - first * blockSize);
            buf.clear().limit(n);
            src.read(first, buf);
            if (buf.position() != n) throw new IOException("verity: data from block " + first + " read short (" + buf.position() + " of " + n + " bytes)");
            int inChunk = (n + blockSize - 1) / blockSize;
            Arrays.fill(a, n, inChunk * blockSize, (byte) 0);          // the last block, zero-padded
            for (int k = 0; k < inChunk; k++) {
                int off = k * blockSize;
                byte[] d;
                if (Arrays.equals(a, off, off + blockSize, zeroBlock, 0, blockSize)) { d = zeroHash; skipped++; }
                else d = h.hash(a, off, blockSize);
                System.arraycopy(d, 0, level, (int) ((first + k) * HASH_SIZE), HASH_SIZE);
            }
            first += inChunk;
        }
        // one data block: no tree, the root hash is that block's hash
        if (blocks == 1) return new MerkleTree(blockSize, levels, Arrays.copyOf(level, HASH_SIZE), skipped);
        levels.add(level);
        // upper levels: a block holding only zero hashes of the level below hashes to the next zero hash
        while (level.length > blockSize) {
            byte[] zeroRun = new byte[blockSize];
            for (int k = 0; k < perBlock; k++) System.arraycopy(zeroHash, 0, zeroRun, k * HASH_SIZE, HASH_SIZE);
            byte[] zeroRunHash = h.hash(zeroRun);
            int n = level.length / blockSize;
            byte[] up = new byte[(int) roundUp((long) n * HASH_SIZE, blockSize)];
            for (int k = 0; k < n; k++) {
                byte[] d = Arrays.equals(level, k * blockSize, (k + 1) * blockSize, zeroRun, 0, blockSize)
                        ? zeroRunHash : h.hash(level, k * blockSize, blockSize);
                System.arraycopy(d, 0, up, k * HASH_SIZE, HASH_SIZE);
            }
            levels.add(up);
            level = up;
            zeroHash = zeroRunHash;
        }
        return new MerkleTree(blockSize, levels, h.hash(level), skipped);
    }

    private static long roundUp(long v, long to) { return (v + to - 1) / to * to; }

    public byte[] rootHash() { return rootHash.clone(); }
    public int blockSize() { return blockSize; }
    public int levelCount() { return levels.size(); }
    /** Data blocks found all-zero, whose hash was not computed again. */
    public long zeroBlocksSkipped() { return zeroBlocksSkipped; }

    /** The tree as ext4 and `fsverity digest --out-merkle-tree` store it: levels from the root down, blocks in order. */
    public byte[] bytes() {
        int total = 0;
        for (byte[] l : levels) total += l.length;
        byte[] out = new byte[total];
        int at = 0;
        for (int i = levels.size() - 1; i >= 0; i--) {
            System.arraycopy(levels.get(i), 0, out, at, levels.get(i).length);
            at += levels.get(i).length;
        }
        return out;
    }

    /** SHA-256 with the salt (zero-padded to the hash's 64-byte block) hashed first. */
    static final class Hasher { // package-private: MerkleVerifier hashes the same way
        private final MessageDigest md;
        private final byte[] paddedSalt;

        /** salt: as given (up to 32 bytes); it is zero-padded to SHA-256's 64-byte block here. */
        Hasher(byte[] salt) {
            try { md = MessageDigest.getInstance("SHA-256"); } catch (NoSuchAlgorithmException e) { throw new IllegalStateException(e); }
            this.paddedSalt = salt.length == 0 ? salt : Arrays.copyOf(salt, 64);
        }

        byte[] hash(byte[] b) { return hash(b, 0, b.length); }

        byte[] hash(byte[] b, int off, int len) {
            md.update(paddedSalt);
            md.update(b, off, len);
            return md.digest();
        }
    }
}
