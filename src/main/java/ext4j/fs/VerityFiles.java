package ext4j.fs;

import ext4j.base.Errno;
import ext4j.base.FsException;

import ext4j.extent.FileMap;
import ext4j.extent.Run;
import ext4j.base.CorruptException;
import ext4j.ondisk.Features;
import ext4j.ondisk.Inode;
import ext4j.verity.MerkleTree;
import ext4j.verity.VerityDescriptor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * fs-verity on ext4 files (Documentation/filesystems/ext4/verity.rst). The metadata lives past
 * EOF: zeros (a hole) up to the next 64 KiB boundary, the Merkle tree (root level first), zeros to
 * the next block, the descriptor, zeros up to 4 bytes before a block boundary, and the descriptor's
 * size as le32 there; the inode gets EXT4_VERITY_FL. Verity files are read-only: writes, truncates
 * and fallocate give EPERM. The Merkle tree block size is the filesystem block size (Linux 6.1
 * supports fs-verity on ext4 only with 4 KiB blocks, the page size).
 */
final class VerityFiles {
    /** A descriptor and a signature blob fit in far less; a bigger size field is damage. */
    private static final int MAX_DESCRIPTOR = 16384;

    private final Ext4FileSystem fs;

    VerityFiles(Ext4FileSystem fs) { this.fs = fs; }

    /** Where an inode's verity metadata starts: the first 64 KiB boundary at or past EOF. */
    static long metadataStart(long size) { return (size + 65535) / 65536 * 65536; }

    /** The fs-verity descriptor a file would get, computed from its bytes (like `fsverity digest`). */
    VerityDescriptor compute(Inode file, byte[] salt) throws IOException { return describe(file, tree(file, salt), salt); }

    private MerkleTree tree(Inode file, byte[] salt) throws IOException {
        TreeSource src = new TreeSource(file);
        // reads through the filesystem stay on this thread: it may hold locks a read there waits for
        int threads = src.allFromDevice() ? Runtime.getRuntime().availableProcessors() : 1;
        return MerkleTree.build(file.size(), fs.volume().blockSize(), salt, src, threads);
    }

    /**
     * The file's bytes for the tree builder, read by several threads at once. Ranges the engine's
     * cache holds nothing pending for are read straight from the device through a snapshot of the
     * block map (holes and unwritten extents are zeros, named to the builder so it never reads
     * them); ranges with dirty or in-flight cached data, inline files and verity files (whose reads
     * are checked against their own tree) go through the filesystem's read. Only a file read wholly
     * from the device is read by several threads at once. The caller holds the file still (inode
     * lock, or the filesystem's lock for enable).
     */
    private final class TreeSource implements MerkleTree.DataSource {
        private final Inode file;
        private final int bs = fs.volume().blockSize();
        private final Run[] runs;                       // mapped and unwritten runs, in logical order; null: read through fs
        private final boolean checkedReads;

        TreeSource(Inode file) throws IOException {
            this.file = file;
            this.runs = file.hasFlag(Inode.FL_INLINE_DATA) ? null : fs.fileMap(file).runs().toArray(Run[]::new);
            this.checkedReads = file.hasFlag(Inode.FL_VERITY);
        }

        /** The run holding block i: a stored run, or the hole up to the next one. */
        private Run runAt(long i) {
            int lo = 0, hi = runs.length;                  // first run ending past i
            while (lo < hi) {
                int mid = (lo + hi) >>> 1;
                if (runs[mid].end() <= i) lo = mid + 1; else hi = mid;
            }
            if (lo < runs.length && runs[lo].logical() <= i) return runs[lo];
            return Run.hole(i, (lo < runs.length ? runs[lo].logical() : FileMap.MAX_LOGICAL) - i);
        }

        /** Whether every read goes straight to the device (nothing through the filesystem's read). */
        boolean allFromDevice() { return runs != null && !checkedReads && !pending(0, FileMap.MAX_LOGICAL); }

        private boolean pending(long fromBlock, long toBlock) {
            return fs.hasUnwrittenCache(file.number(), fromBlock * bs, toBlock * bs);
        }

        /** Holes and unwritten extents, up to the first block the cache holds data for not on disk yet: zeros, not read. */
        @Override public long zeroBlocksAt(long i) {
            if (runs == null) return 0;
            Run r = runAt(i);
            if (r.hasData()) return 0;
            long p = fs.nextUnwrittenCache(file.number(), i * bs);
            return Math.min(r.end(), p == Long.MAX_VALUE ? Long.MAX_VALUE : p / bs) - i;
        }

        @Override public long dataBlocksAt(long i) {
            if (runs == null) return Long.MAX_VALUE;
            return runAt(i).end() - i;                      // a read stops where the run does
        }

        @Override public void read(long i, ByteBuffer dst) throws IOException {
            long end = i + (dst.remaining() + bs - 1) / bs;
            if (runs == null || checkedReads || pending(i, end)) {
                fs.treeBytesThroughCache += dst.remaining();
                while (dst.hasRemaining() && fs.read(file, i * bs + dst.position(), dst) > 0) { }
                return;
            }
            long size = file.size();
            while (dst.hasRemaining()) {
                long p = i * bs + dst.position();
                if (p >= size) return;
                Run r = runAt(p / bs);
                int n = (int) Math.min(Math.min(dst.remaining(), r.end() * bs - p), size - p);
                ByteBuffer part = dst.slice(dst.position(), n);
                if (r.hasData()) fs.volume().device().read(r.physical() * bs + (p - r.logical() * bs), part);
                else while (part.hasRemaining()) part.put((byte) 0);
                dst.position(dst.position() + n);
            }
        }
    }

    private VerityDescriptor describe(Inode file, MerkleTree t, byte[] salt) {
        return new VerityDescriptor(Integer.numberOfTrailingZeros(t.blockSize()), salt, file.size(), t.rootHash());
    }

    /** FS_IOC_ENABLE_VERITY: builds the tree, writes the metadata past EOF and sets the flag in one handle. */
    VerityDescriptor enable(FsWriter w, String path, Inode file, byte[] salt) throws IOException {
        if (!fs.volume().superblock().hasRoCompat(Features.RO_VERITY))
            throw new FsException(Errno.EOPNOTSUPP, path + ": the filesystem lacks the verity feature (tune2fs -O verity)");
        if (!file.isRegular()) throw new FsException(Errno.EINVAL, path + ": fs-verity needs a regular file");
        if (file.hasFlag(Inode.FL_VERITY)) throw new FsException(Errno.EEXIST, path + ": already a verity file");
        if (!file.hasFlag(Inode.FL_EXTENTS) || file.hasFlag(Inode.FL_INLINE_DATA))
            throw new FsException(Errno.EOPNOTSUPP, path + ": fs-verity on ext4 needs an extent-mapped file (this one is " + (file.hasFlag(Inode.FL_INLINE_DATA) ? "inline" : "block-mapped") + ")");
        int bs = fs.volume().blockSize();
        MerkleTree t = tree(file, salt);
        VerityDescriptor d = describe(file, t, salt);
        byte[] tree = t.bytes(), desc = d.encode();
        long start = metadataStart(file.size());
        long descPos = roundUp(start + tree.length, bs);
        long sizePos = roundUp(descPos + desc.length + 4, bs) - 4;
        ByteBuffer meta = ByteBuffer.allocate((int) (sizePos + 4 - start)).order(ByteOrder.LITTLE_ENDIAN);
        meta.put(0, tree);
        meta.put((int) (descPos - start), desc);
        meta.putInt((int) (sizePos - start), desc.length);
        w.enableVerity(file, start, meta);
        return d;
    }

    /** FS_IOC_MEASURE_VERITY: the descriptor of a verity file, read from its metadata and checked. */
    VerityDescriptor descriptor(String path, Inode file) throws IOException {
        if (!file.hasFlag(Inode.FL_VERITY)) throw new FsException(Errno.ENODATA, path + ": not a verity file");
        String where = "inode " + file.number() + " (" + path + ")";
        FileMap map = fs.fileMap(checkedLayout(where, file));
        return readDescriptor(where, file, map, metadataEnd(where, file, map));
    }

    /** A checker for a verity file's data: its descriptor and stored tree, the tree checked against the root hash. */
    ext4j.verity.MerkleVerifier verifier(Inode file) throws IOException {
        String where = "inode " + file.number();
        FileMap map = fs.fileMap(checkedLayout(where, file));
        long end = metadataEnd(where, file, map);
        VerityDescriptor d = readDescriptor(where, file, map, end);
        long size = ext4j.verity.MerkleVerifier.treeSize(d), room = end - metadataStart(file.size());
        if (size > room || size > Integer.MAX_VALUE - 8)            // a damaged size must not make us allocate for it
            throw new CorruptException(where + ": verity Merkle tree of " + size + " bytes does not fit the " + room + " bytes of metadata");
        ByteBuffer tree = ByteBuffer.allocate((int) size);
        readMeta(map, metadataStart(file.size()), tree);
        return new ext4j.verity.MerkleVerifier(d, tree.array(), where);
    }

    /** ext4 allows verity only on extent-mapped files: a verity flag elsewhere is damage. */
    private static Inode checkedLayout(String where, Inode file) throws CorruptException {
        if (!file.hasFlag(Inode.FL_EXTENTS) || file.hasFlag(Inode.FL_INLINE_DATA))
            throw new CorruptException(where + ": verity flag on an inode that is " + (file.hasFlag(Inode.FL_INLINE_DATA) ? "inline" : "not extent-mapped"));
        return file;
    }

    /** Where the verity metadata ends: the end of the file's last mapped block, past the metadata start. */
    private long metadataEnd(String where, Inode file, FileMap map) throws IOException {
        List<Run> runs = map.runs();
        if (runs.isEmpty()) throw new CorruptException(where + ": verity file without metadata blocks");
        long end = runs.get(runs.size() - 1).end() * fs.volume().blockSize(), start = metadataStart(file.size());
        if (end <= start) throw new CorruptException(where + ": verity metadata missing (the last block ends at " + end + ", metadata starts at " + start + ")");
        return end;
    }

    /** The descriptor: its size in the last 4 bytes before end, the descriptor at the block boundary below it. */
    private VerityDescriptor readDescriptor(String where, Inode file, FileMap map, long end) throws IOException {
        int bs = fs.volume().blockSize();
        ByteBuffer sz = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        readMeta(map, end - 4, sz);
        long descSize = Integer.toUnsignedLong(sz.getInt(0));
        if (descSize < VerityDescriptor.SIZE || descSize > MAX_DESCRIPTOR)
            throw new CorruptException(where + ": verity descriptor size " + descSize + " is impossible (" + VerityDescriptor.SIZE + " to " + MAX_DESCRIPTOR + ")");
        long descPos = (end - 4 - descSize) / bs * bs, start = metadataStart(file.size());
        if (descPos < start) throw new CorruptException(where + ": verity descriptor at " + descPos + " lies before the metadata start " + start);
        ByteBuffer d = ByteBuffer.allocate(VerityDescriptor.SIZE);
        readMeta(map, descPos, d);
        return VerityDescriptor.parse(d.flip(), file.size(), where);
    }

    /** An unverified read: the file's bytes at pos (Ext4FileSystem's plain read). */
    interface RawRead { int read(Inode file, long pos, ByteBuffer dst) throws IOException; }

    /** Most bytes one verified read returns: whole blocks are read and hashed, so the buffer is bounded. */
    private static final int MAX_VERIFIED_READ = 1 << 20;

    /**
     * Reads from a verity file like fs-verity does: the whole blocks under [pos, pos+n) are read and
     * each checked against the tree before any byte is returned; a mismatch is EIO naming the block.
     */
    int verifiedRead(ext4j.verity.MerkleVerifier v, Inode file, long pos, ByteBuffer dst, RawRead raw) throws IOException {
        long size = file.size();
        if (pos >= size) return -1;
        if (!dst.hasRemaining()) return 0;
        int bs = v.blockSize();
        int n = (int) Math.min(Math.min(dst.remaining(), size - pos), MAX_VERIFIED_READ);
        long first = pos / bs, last = (pos + n - 1) / bs;
        byte[] buf = new byte[(int) ((last - first + 1) * bs)];
        ByteBuffer b = ByteBuffer.wrap(buf, 0, (int) Math.min(buf.length, size - first * bs));
        while (b.hasRemaining() && raw.read(file, first * bs + b.position(), b) > 0) { }
        for (long i = first; i <= last; i++) {
            try {
                v.verify(i, buf, (int) ((i - first) * bs));
            } catch (CorruptException e) {
                throw new FsException(Errno.EIO, e.getMessage());
            }
        }
        dst.put(buf, (int) (pos - first * bs), n);
        return n;
    }

    /** The stored Merkle tree bytes (length from the tree's shape), for checks against fsverity-utils. */
    byte[] storedTree(Inode file, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        readMeta(fs.fileMap(file), metadataStart(file.size()), b);
        return b.array();
    }

    /** Reads metadata bytes past EOF through the block map (holes read as zeros). */
    private void readMeta(FileMap map, long pos, ByteBuffer dst) throws IOException {
        int bs = fs.volume().blockSize();
        while (dst.hasRemaining()) {
            long p = pos + dst.position(), lblk = p / bs;
            Run r = map.find(lblk);
            int n = (int) Math.min(dst.remaining(), r.end() * bs - p);
            ByteBuffer slice = dst.slice(dst.position(), n);
            if (r.hasData()) fs.volume().device().read(r.physical() * bs + (p - lblk * bs), slice);
            dst.position(dst.position() + n);
        }
    }

    private static long roundUp(long v, long to) { return (v + to - 1) / to * to; }
}
