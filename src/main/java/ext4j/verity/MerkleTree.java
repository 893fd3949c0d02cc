package ext4j.verity;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

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
     * blocks, or stops at the end of the data). Asked for up to {@link #CHUNK} bytes at a time, from
     * several threads at once (each with its own dst).
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

    /** Builds the tree of dataSize bytes read from src, in blocks of blockSize, hashing on every core. */
    public static MerkleTree build(long dataSize, int blockSize, byte[] salt, DataSource src) throws IOException {
        return build(dataSize, blockSize, salt, src, Runtime.getRuntime().availableProcessors());
    }

    /**
     * Builds the tree of dataSize bytes read from src, in blocks of blockSize (a power of two, 1 KiB
     * to 64 KiB). The leaves are hashed by up to threads threads at once, each reading and hashing
     * its own chunks (so src.read is called concurrently); the hints (zeroBlocksAt, dataBlocksAt)
     * are asked from the calling thread only, before any read.
     */
    public static MerkleTree build(long dataSize, int blockSize, byte[] salt, DataSource src, int threads) throws IOException {
        if (Integer.bitCount(blockSize) != 1 || blockSize < 1024 || blockSize > 65536)
            throw new IllegalArgumentException("verity block size " + blockSize + ": a power of two from 1024 to 65536");
        if (salt.length > 32) throw new IllegalArgumentException("salt of " + salt.length + " bytes: at most 32");
        Hasher h = new Hasher(salt);
        List<byte[]> levels = new ArrayList<>();
        if (dataSize == 0) return new MerkleTree(blockSize, levels, new byte[HASH_SIZE], 0);
        long blocks = (dataSize + blockSize - 1) / blockSize;
        int perBlock = blockSize / HASH_SIZE;
        byte[] zeroHash = h.hash(new byte[blockSize]);  // the hash of an all-zero block at this level
        byte[] level = new byte[(int) roundUp(blocks * HASH_SIZE, blockSize)];
        long skipped = new Leaves(dataSize, blockSize, salt, zeroHash, level).hash(src, threads);
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

    /**
     * Level 0, one hash per data block. The file is first cut, on the calling thread, into runs the
     * source names as zeros (their hashes filled in at once, nothing read) and chunks of at most
     * {@link #CHUNK} bytes of possible data; worker threads then take chunks in file order from a
     * shared counter, read and hash them into their own slots of the level (disjoint, so no locking;
     * the joins publish them). A block read as all zeros still gets the zero hash without hashing.
     */
    private static final class Leaves {
        private final long dataSize;
        private final int blockSize;
        private final byte[] salt, zeroHash, level;
        private final List<long[]> chunks = new ArrayList<>();   // {first block, block count}
        private final AtomicInteger next = new AtomicInteger();
        private final AtomicLong skipped = new AtomicLong();
        private final AtomicReference<Throwable> failure = new AtomicReference<>();

        Leaves(long dataSize, int blockSize, byte[] salt, byte[] zeroHash, byte[] level) {
            this.dataSize = dataSize;
            this.blockSize = blockSize;
            this.salt = salt;
            this.zeroHash = zeroHash;
            this.level = level;
        }

        /** Fills the level; returns the number of data blocks given the zero hash without hashing. */
        long hash(DataSource src, int threads) throws IOException {
            long blocks = (dataSize + blockSize - 1) / blockSize;
            int chunkBlocks = Math.max(1, CHUNK / blockSize);
            for (long first = 0; first < blocks; ) {
                long zeros = Math.min(src.zeroBlocksAt(first), blocks - first);
                if (zeros > 0) {                                        // a hole: its hashes without reading it
                    for (long k = first; k < first + zeros; k++) System.arraycopy(zeroHash, 0, level, (int) (k * HASH_SIZE), HASH_SIZE);
                    skipped.addAndGet(zeros);
                    first += zeros;
                    continue;
                }
                long n = Math.min(Math.max(1, Math.min(chunkBlocks, src.dataBlocksAt(first))), blocks - first); // up to the next hole
                chunks.add(new long[] {first, n});
                first += n;
            }
            int workers = Math.max(1, Math.min(threads, chunks.size()));
            List<Thread> started = new ArrayList<>();
            for (int t = 1; t < workers; t++) started.add(Thread.ofPlatform().daemon().name("verity-hash-" + t).start(() -> work(src)));
            work(src);                                                  // the calling thread is one of the workers
            boolean interrupted = false;
            for (Thread t : started) {
                while (true) {
                    try { t.join(); break; } catch (InterruptedException e) { interrupted = true; }
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
            Throwable f = failure.get();
            if (f instanceof IOException e) throw e;
            if (f instanceof RuntimeException e) throw e;
            if (f instanceof Error e) throw e;
            return skipped.get();
        }

        /** One worker: takes chunks until none is left (or another worker failed), reads and hashes each. */
        private void work(DataSource src) {
            try {
                Hasher h = new Hasher(salt);
                ByteBuffer buf = ByteBuffer.allocate(Math.max(1, CHUNK / blockSize) * blockSize);
                byte[] a = buf.array(), zeros = new byte[blockSize];
                for (int c; failure.get() == null && (c = next.getAndIncrement()) < chunks.size(); ) {
                    long first = chunks.get(c)[0];
                    int n = (int) Math.min(chunks.get(c)[1] * blockSize, dataSize - first * blockSize);
                    buf.clear().limit(n);
                    src.read(first, buf);
                    if (buf.position() != n) throw new IOException("verity: data from block " + first + " read short (" + buf.position() + " of " + n + " bytes)");
                    int inChunk = (n + blockSize - 1) / blockSize;
                    Arrays.fill(a, n, inChunk * blockSize, (byte) 0);  // the last block, zero-padded
                    long zeroBlocks = 0;
                    for (int k = 0; k < inChunk; k++) {
                        int off = k * blockSize, at = (int) ((first + k) * HASH_SIZE);
                        if (Arrays.equals(a, off, off + blockSize, zeros, 0, blockSize)) { System.arraycopy(zeroHash, 0, level, at, HASH_SIZE); zeroBlocks++; }
                        else h.hashInto(a, off, blockSize, level, at);
                    }
                    skipped.addAndGet(zeroBlocks);
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        }
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

        /** hash(b, off, len) written into out at at, with no array allocated. */
        void hashInto(byte[] b, int off, int len, byte[] out, int at) {
            md.update(paddedSalt);
            md.update(b, off, len);
            try { md.digest(out, at, HASH_SIZE); } catch (java.security.DigestException e) { throw new IllegalStateException(e); }
        }
    }
}
