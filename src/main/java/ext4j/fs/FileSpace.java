package ext4j.fs;

import ext4j.base.Errno;
import ext4j.base.FsException;

import ext4j.base.LockOrder;
import ext4j.alloc.BlockAllocator;
import ext4j.alloc.InodeAllocator;
import ext4j.dir.DirEntry;
import ext4j.dir.DirectoryEditor;
import ext4j.extent.BlockMapping;
import ext4j.extent.Extent;
import ext4j.extent.FileMap;
import ext4j.extent.ExtentTree;
import ext4j.extent.IndirectMapping;
import ext4j.xattr.PosixAcl;
import ext4j.xattr.XattrCodec;
import ext4j.journal.Handle;
import ext4j.journal.Journal;
import ext4j.ondisk.Features;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Superblock;
import ext4j.ondisk.Volume;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * A regular file's blocks: size changes, preallocation, punching, zeroing, synchronous writes
 * inside a handle, device-side copies (put, mkfs -d), inline data moved out, verity metadata.
 */
final class FileSpace extends WriterPart {
    FileSpace(FsWriter w) { super(w); }

    /**
     * Turns an inline-data inode into an empty block-mapped one: drops system.data from the in-inode
     * xattrs, clears the flag, sets an empty extent root (or zero pointers) and size 0. The caller
     * puts the old contents back through the normal paths.
     */
    void uninline(InodeUpdate u) throws IOException {
        ByteBuffer area = u.ed.xattrArea();
        List<XattrCodec.Entry> xs = new java.util.ArrayList<>(XattrCodec.decodeInInode(area, "inode " + u.number() + " in-inode xattrs"));
        xs.removeIf(x -> x.index() == 7 && java.util.Arrays.equals(x.name(), "data".getBytes(StandardCharsets.US_ASCII)));
        XattrCodec.encodeInInode(xs, area);
        u.ed.flags(u.ed.flags() & ~Inode.FL_INLINE_DATA);
        u.ed.iBlock(ByteBuffer.allocate(Inode.I_BLOCK_SIZE));
        if (sb().hasIncompat(Features.INCOMPAT_EXTENTS)) { u.ed.flags(u.ed.flags() | Inode.FL_EXTENTS); ExtentTree.initEmpty(u.ed); }
        u.ed.size(0);
        w.mayInline.remove(u.number());
    }

    /**
     * Whether a write ending at end is one Linux keeps in the inode: to an inline file while its
     * data still fits, or the first write of a file created empty since the filesystem was opened.
     */
    private boolean staysInline(Inode file, long end) throws IOException {
        if (!sb().hasIncompat(Features.INCOMPAT_INLINE_DATA) || !file.isRegular() || file.hasFlag(Inode.FL_VERITY)) return false;
        boolean inline = file.hasFlag(Inode.FL_INLINE_DATA);
        // a file truncated up before its first write still may (Linux checks only where the write ends)
        if (!inline && !(w.mayInline.contains(file.number()) && file.blocks512(vol.blockSize()) == 0)) return false;
        return end <= InlineData.maxSize(file.edit());
    }

    /**
     * A write kept inline (see {@link #staysInline}): the bytes and the new size stored in the inode
     * in one handle, src consumed; touch: mtime and ctime become now (not for bulk copies, which keep
     * the source's times). Returns false, changing nothing, when the data would not fit: the caller
     * moves the file to blocks.
     */
    boolean writeInline(Inode given, long pos, ByteBuffer src, boolean touch) throws IOException {
        if (!sb().hasIncompat(Features.INCOMPAT_INLINE_DATA)) return false;       // no inode read on other filesystems
        Inode file = fs.diskInode(given.number());
        long end = pos + src.remaining();
        if (!staysInline(file, end)) { w.mayInline.remove(file.number()); return false; }
        byte[] bytes = new byte[src.remaining()];
        src.get(bytes);
        txn("inline write inode " + file.number(), OP_CREDITS, h -> {
            noteData(file.number());
            InodeUpdate u = update(fs.diskInode(file.number()));
            long old = u.ed.size();
            byte[] had = (u.ed.flags() & Inode.FL_INLINE_DATA) != 0 ? InlineData.read(u.ed) : new byte[0];
            // system.data grows to where the write ends, never shrinks here; bytes past i_size are zeros
            byte[] data = new byte[(int) Math.max(end, Math.max(had.length, Inode.I_BLOCK_SIZE))];
            System.arraycopy(had, 0, data, 0, (int) Math.min(old, had.length));
            System.arraycopy(bytes, 0, data, (int) pos, bytes.length);
            InlineData.store(u.ed, data, data.length);
            u.ed.size(Math.max(old, end));
            if (touch) { Inode.Timestamp now = now(); u.ed.mtime(now).ctime(now); }
            u.save(h, balloc);
            return null;
        });
        w.mayInline.remove(file.number());
        return true;
    }

    /**
     * truncate(2) of an inline file as Linux does it: a new size within the bytes the inode already
     * stores (i_block and the present system.data value) stays inline; returns false for anything
     * else, growing or not (an i_size past the stored bytes, which Linux makes when a truncated-up
     * file gets its first write inline, moves to blocks even when it shrinks).
     */
    boolean truncateInline(Inode given, long size) throws IOException {
        if (!sb().hasIncompat(Features.INCOMPAT_INLINE_DATA)) return false;
        Inode file = fs.diskInode(given.number());
        if (!file.hasFlag(Inode.FL_INLINE_DATA)) return false;
        checkTruncate(file, size);
        return txn("truncate inline inode " + file.number(), OP_CREDITS, h -> {
            InodeUpdate u = update(fs.diskInode(file.number()));
            byte[] had = InlineData.read(u.ed);
            long old = u.ed.size();
            if (size > had.length) return false;             // Linux keeps it inline only within the bytes stored
            noteData(file.number());
            // system.data shrinks to what the new size needs, never grows here
            byte[] data = new byte[(int) Math.min(had.length, Math.max(Inode.I_BLOCK_SIZE, size))];
            System.arraycopy(had, 0, data, 0, (int) Math.min(Math.min(old, size), data.length));
            InlineData.store(u.ed, data, data.length);
            u.ed.size(size);
            Inode.Timestamp now = now();
            u.ed.mtime(now).ctime(now);
            u.save(h, balloc);
            return true;
        });
    }

    /** The first len bytes of src, read for an inline store (never more than an inode holds). */
    private static byte[] readSmall(java.nio.channels.FileChannel src, long len) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((int) len);
        while (b.hasRemaining()) if (src.read(b, b.position()) < 0) throw new java.io.EOFException("source ended after " + b.position() + " of " + len + " bytes");
        return b.array();
    }

    /** Before a data operation on a regular file: an inline file becomes block-mapped, its bytes rewritten as data. */
    void uninlineFile(Handle h, InodeUpdate u) throws IOException {
        if ((u.ed.flags() & Inode.FL_INLINE_DATA) == 0) return;
        byte[] data = fs.inlineData(u.original);
        long size = u.ed.size();
        uninline(u);
        if (data.length > 0) writeData(h, u, 0, ByteBuffer.wrap(data));
        u.ed.size(size);                                     // i_size may pass the stored bytes: the rest is a hole
    }

    /**
     * Fills an empty regular file with len bytes of src (bulk copies: put, mkfs -d), the data copied
     * device-side (copy_file_range) into freshly allocated runs; the tail of the last block is zeroed.
     * Ordered like writeData: each run's data is on the device before the handle that maps it stops.
     */
    void writeFrom(Inode file, java.nio.channels.FileChannel src, long len) throws IOException { writeFrom(file, src, len, false); }

    /**
     * take: src is this call's to close. When the filesystem is being filled (a {@link DataCopier}),
     * the bytes then move on the copier's thread after this returns, and it closes src.
     */
    void writeFrom(Inode file, java.nio.channels.FileChannel src, long len, boolean take) throws IOException {
        DataCopier copier = take ? w.copier : null;
        boolean handedOver = false;
        try {
            List<DataCopier.Run> runs = copier == null ? null : new ArrayList<>(2);
            writeFrom(file, src, len, runs);
            if (copier != null) { handedOver = true; copier.submit(src, runs); }
        } finally {
            if (take && !handedOver) src.close();
        }
    }

    /** runs null: the data is copied here; else each run to copy is added to runs. */
    private void writeFrom(Inode file, java.nio.channels.FileChannel src, long len, List<DataCopier.Run> runs) throws IOException {
        if (!file.isRegular()) throw new FsException(Errno.EINVAL, "inode " + file.number());
        checkNotVerity(file);
        if (len > maxFileSize(file)) throw new FsException(Errno.EFBIG, "inode " + file.number());
        if (len > 0 && staysInline(file, len) && writeInline(file, 0, ByteBuffer.wrap(readSmall(src, len)), false)) return;
        fillFrom(file.number(), src, len, 0, runs);
    }

    /** Maps blocks [from, end of len) of an inode that has none there, a handle per run; the data as in {@link #fillRun}. */
    private void fillFrom(long ino, java.nio.channels.FileChannel src, long len, long from, List<DataCopier.Run> runs) throws IOException {
        long blocks = (len + vol.blockSize() - 1) / vol.blockSize();
        for (long lblk = from; lblk < blocks; ) {
            long at = lblk;
            lblk = txn("copy into inode " + ino, OP_CREDITS, h -> {
                noteData(ino);
                InodeUpdate u = update(fs.diskInode(ino));
                uninlineFile(h, u);
                long next = fillRun(h, u, src, len, at, runs);
                u.save(h, balloc);
                return next;
            });
        }
    }

    /**
     * Inside a handle: allocates one run from block from on and maps it in u (not saved), the bytes
     * of src there copied now (runs null) or listed in runs for the copier; returns the next block.
     */
    private long fillRun(Handle h, InodeUpdate u, java.nio.channels.FileChannel src, long len, long from, List<DataCopier.Run> runs) throws IOException {
        int bs = vol.blockSize();
        long blocks = (len + bs - 1) / bs;
        BlockMapping t = u.tree();
        if (t.find(from) != null) throw new IllegalStateException("inode " + u.number() + " is not empty at block " + from);
        long goal = t.goalFor(from);
        if (goal == 0) goal = goalForInode(vol, u.number());
        BlockAllocator.Range r = balloc.allocate(h, goal, (int) Math.min(blocks - from, Math.min(t.maxRun(false), 8192)));
        long bytes = Math.min((long) r.length() * bs, len - from * bs);
        int tail = (int) ((long) r.length() * bs - bytes);
        if (runs != null) {
            runs.add(new DataCopier.Run(from * bs, bytes, r.start() * bs, tail));
        } else {
            vol.device().copyFrom(src, from * bs, bytes, r.start() * bs);
            if (tail > 0) vol.device().write(r.start() * bs + bytes, ByteBuffer.allocate(tail));
        }
        t.insert(from, r.start(), r.length(), false);
        u.addBlocks(r.length());
        u.ed.size(Math.max(u.ed.size(), from * bs + bytes)); // times stay: a copy keeps the source's
        return from + r.length();
    }

    /**
     * Creates a regular file holding the first len bytes of src (a host file without holes): the
     * inode, its name and its first run of data in one handle, further runs after it. src is this
     * call's to close (the copier's, when there is one: the bytes then move on its thread).
     */
    Inode createFilled(Namespace.Target t, Namespace.NewInode what, java.nio.channels.FileChannel src, long len) throws IOException {
        DataCopier copier = w.copier;
        boolean handedOver = false;
        try {
            if (len > maxFileSize(sb().hasIncompat(Features.INCOMPAT_EXTENTS), vol.blockSize())) throw new FsException(Errno.EFBIG, t.path());
            List<DataCopier.Run> runs = copier == null ? null : new ArrayList<>(2);
            long[] next = {0};
            Inode made = w.ns.create(t, what, (h, u) -> {
                if (len > 0 && w.mayInline.contains(u.number()) && len <= InlineData.maxSize(u.ed)) {
                    InlineData.store(u.ed, readSmall(src, len), (int) len);   // as Linux stores a small file written at once
                    u.ed.size(len);
                    w.mayInline.remove(u.number());
                    next[0] = Long.MAX_VALUE;
                    return;
                }
                if (len > 0) next[0] = fillRun(h, u, src, len, 0, runs);
            });
            if (next[0] == Long.MAX_VALUE) return made;   // the create's handle stored all of it
            boolean more = next[0] * vol.blockSize() < len;
            fillFrom(made.number(), src, len, next[0], runs);
            if (copier != null) { handedOver = true; copier.submit(src, runs); }
            return more ? fs.diskInode(made.number()) : made; // re-read only if later handles changed it
        } finally {
            if (!handedOver) src.close();
        }
    }

    /**
     * Before buffered I/O or a mapping change on a regular file: an inline-data file becomes
     * block-mapped (the engine caches blocks), and a new file no longer may become inline
     * (Linux's ext4_convert_inline_data, as fallocate calls it).
     */
    void prepareForIo(Inode file) throws IOException {
        w.mayInline.remove(file.number());
        w.conversionPending.remove(file.number());      // Linux's fallocate and the like convert on disk at once
        prepareForTruncate(file);
    }

    /** Before a buffered write: as prepareForIo, but a move out of the inode Linux has pending stays pending (writes keep it so). */
    void prepareForWrite(Inode file) throws IOException {
        w.mayInline.remove(file.number());
        prepareForTruncate(file);
    }

    /**
     * After a truncate to 0 of a file whose move out of the inode Linux would still have pending
     * (see FsWriter.conversionPending): the file is inline again, empty, as Linux leaves it.
     */
    void reinlineEmpty(Inode given) throws IOException {
        if (!w.conversionPending.remove(given.number())) return;
        Inode file = fs.diskInode(given.number());
        if (file.size() != 0 || file.blocks512(vol.blockSize()) != 0 || file.hasFlag(Inode.FL_INLINE_DATA)) return;
        if (InlineData.maxSize(file.edit()) < Inode.I_BLOCK_SIZE) return;
        txn("reinline inode " + file.number(), OP_CREDITS, h -> {
            noteData(file.number());
            InodeUpdate u = update(fs.diskInode(file.number()));
            InlineData.store(u.ed, new byte[0], 0);
            u.save(h, balloc);
            return null;
        });
    }

    /** Before a truncate the inode could not take inline: as prepareForIo, but a new empty file still may become inline (Linux's setattr leaves that state). */
    void prepareForTruncate(Inode file) throws IOException {
        if (!file.hasFlag(Inode.FL_INLINE_DATA)) return;
        txn("uninline inode " + file.number(), OP_CREDITS, h -> {
            noteData(file.number());
            InodeUpdate u = update(fs.diskInode(file.number()));
            uninlineFile(h, u);
            u.save(h, balloc);
            return null;
        });
    }

    /** Largest size: 2^32-1 blocks with extents; what 12 direct + single/double/triple indirect blocks address without. */
    long maxFileSize(Inode f) { return maxFileSize(f, vol.blockSize()); }

    static long maxFileSize(Inode f, int blockSize) { return maxFileSize(f.hasFlag(Inode.FL_EXTENTS), blockSize); }

    static long maxFileSize(boolean extents, int blockSize) {
        long blocks = (1L << 32) - 1;
        if (!extents) {
            long p = blockSize / 4;
            blocks = Math.min(blocks, 12 + p + p * p + p * p * p);
        }
        return blocks * blockSize;
    }

    /**
     * A synchronous write inside a handle (an uninlined file's old bytes, a block symlink's target;
     * file writes go through the buffered I/O engine): for each block run, the data goes to the
     * device first (ordered mode), then the mapping changes. Partial blocks are read-modify-write on mapped blocks and zero-padded
     * on new or unwritten ones.
     */
    void writeData(Handle h, InodeUpdate u, long pos, ByteBuffer src) throws IOException {
        int bs = vol.blockSize();
        BlockMapping t = u.tree();
        long end = pos + src.remaining();
        long lblk = pos / bs;
        long lastBlk = (end - 1) / bs;
        int srcPos = src.position();
        while (lblk <= lastBlk) {
            Extent e = t.find(lblk);
            long runEnd; long pblk; boolean fresh;
            if (e == null) {
                Extent nx = t.next(lblk);
                long holeEnd = Math.min(lastBlk + 1, nx == null ? Long.MAX_VALUE : nx.lblk());
                long goal = t.goalFor(lblk);
                if (goal == 0) goal = goalForInode(vol, u.number());
                BlockAllocator.Range r = balloc.allocate(h, goal, (int) Math.min(holeEnd - lblk, t.maxRun(false)));
                pblk = r.start();
                runEnd = lblk + r.length();
                fresh = true;
            } else {
                pblk = e.pblk() + (lblk - e.lblk());
                runEnd = Math.min(e.end(), lastBlk + 1);
                fresh = e.unwritten();
            }
            long byteStart = Math.max(pos, lblk * bs), byteEnd = Math.min(end, runEnd * bs);
            int headPad = (int) (byteStart - lblk * bs);
            int tailPad = (int) (runEnd * bs - byteEnd);
            ByteBuffer out;
            if (headPad == 0 && tailPad == 0) {
                out = src.slice(srcPos + (int) (byteStart - pos), (int) (byteEnd - byteStart));
            } else {
                out = ByteBuffer.allocate((int) ((runEnd - lblk) * bs));
                if (!fresh && headPad > 0) vol.readBlocks(pblk, out.slice(0, bs));
                if (!fresh && tailPad > 0) vol.readBlocks(runEnd - 1 - lblk + pblk, out.slice(out.capacity() - bs, bs));
                out.put(headPad, src, srcPos + (int) (byteStart - pos), (int) (byteEnd - byteStart));
                out.clear();
            }
            vol.writeBlocks(pblk, out);
            if (e == null) {
                t.insert(lblk, pblk, runEnd - lblk, false);
                u.addBlocks(runEnd - lblk);
            } else if (e.unwritten()) {
                t.markWritten(lblk, runEnd);
            }
            lblk = runEnd;
        }
        if (end > u.ed.size()) u.ed.size(end);
    }

    /**
     * fs-verity: writes the metadata (already laid out from pos, past EOF) and sets EXT4_VERITY_FL
     * in one handle, so a crash leaves the file either as it was or verity with all its metadata.
     * The data blocks are written before the handle's mapping changes commit (ordered), and the
     * size stays the data's.
     */
    void enableVerity(Inode file, long pos, ByteBuffer metadata) throws IOException {
        txn("enable verity inode " + file.number(), OP_CREDITS * 4, h -> {
            InodeUpdate u = update(fs.diskInode(file.number()));
            long size = u.ed.size();
            writeData(h, u, pos, metadata);
            u.ed.size(size);
            u.ed.flags(u.ed.flags() | Inode.FL_VERITY);
            u.ed.ctime(now());
            u.save(h, balloc);
            return null;
        });
    }

    /**
     * Sets the size; shrinking frees blocks past the end and zeroes the tail of the last block.
     * cut is where the page cache was cut (Long.MAX_VALUE: nowhere): an indirect-mapped file
     * written without delalloc has blocks mapped as written ahead of its on-disk size, and those past
     * the cut hold stale bytes the dropped cache never wrote, so they go even when the size grows.
     */
    void truncate(Inode file, long size, long cut) throws IOException {
        checkTruncate(file, size);
        boolean staged = txn("truncate inode " + file.number(), OP_CREDITS * 4, h -> {
            noteData(file.number());
            InodeUpdate u = update(fs.diskInode(file.number()));
            uninlineFile(h, u);
            long old = u.ed.size();
            boolean big = false;
            if (size < old) {
                int bs = vol.blockSize();
                long keep = (size + bs - 1) / bs;
                zeroTail(u, size);
                if (w.orphans.isBig(u)) { w.orphans.orphanAdd(h, u); big = true; }  // the blocks go in later handles
                else w.orphans.freeBlocksFrom(h, u, keep);
            } else if (cut != Long.MAX_VALUE) {
                // shrinking in memory above the on-disk size: blocks written ahead of that size (writeback
                // past a lagging i_size, streaming writes) hold the dropped data; a later growth must read zeros
                w.orphans.freeBlocksFrom(h, u, (cut + vol.blockSize() - 1) / vol.blockSize());
            }
            u.ed.size(size);
            Inode.Timestamp now = now();
            u.ed.mtime(now).ctime(now);
            u.save(h, balloc);
            return big;
        });
        if (staged) w.orphans.finishOrphan(file.number());
    }

    void checkTruncate(Inode file, long size) throws FsException {
        if (file.isDir()) throw new FsException(Errno.EISDIR, "inode " + file.number());
        if (!file.isRegular()) throw new FsException(Errno.EINVAL, "inode " + file.number());
        if (size < 0) throw new FsException(Errno.EINVAL, "inode " + file.number());
        if (size > maxFileSize(file)) throw new FsException(Errno.EFBIG, "inode " + file.number());
        checkNotVerity(file);
    }

    /** A verity file's data never changes (Linux: EPERM on open for writing, truncate, fallocate). */
    static void checkNotVerity(Inode file) throws FsException {
        if (file.hasFlag(Inode.FL_VERITY)) throw new FsException(Errno.EPERM, "inode " + file.number() + " is a verity file: its data cannot change");
    }

    void checkWrite(Inode file, long pos, long len) throws FsException {
        if (!file.isRegular()) throw new FsException(file.isDir() ? Errno.EISDIR : Errno.EINVAL, "inode " + file.number());
        checkNotVerity(file);
        if (pos < 0 || pos + len > maxFileSize(file)) throw new FsException(Errno.EFBIG, "inode " + file.number());
    }

    /** Zeroes bytes [size, end of its block) if that block holds written data. */
    void zeroTail(InodeUpdate u, long size) throws IOException {
        int bs = vol.blockSize();
        int off = (int) (size % bs);
        if (off == 0) return;
        Extent e = u.tree().find(size / bs);
        if (e == null || e.unwritten()) return;
        long p = e.pblk() + (size / bs - e.lblk());
        vol.device().write(p * bs + off, ByteBuffer.allocate(bs - off));
    }

    /** Preallocates [off, off+len) as unwritten extents; raises the size unless keepSize. */
    void fallocate(Inode file, long off, long len, boolean keepSize) throws IOException {
        if (!file.isRegular()) throw new FsException(file.isDir() ? Errno.EISDIR : Errno.ENODEV, "inode " + file.number());
        if (off < 0 || len <= 0) throw new FsException(Errno.EINVAL, "inode " + file.number());
        if (off + len > maxFileSize(file)) throw new FsException(Errno.EFBIG, "inode " + file.number());
        txn("fallocate inode " + file.number(), OP_CREDITS * 8, h -> {
            noteData(file.number());
            InodeUpdate u = update(fs.diskInode(file.number()));
            uninlineFile(h, u);
            BlockMapping t = u.tree();
            if (t.maxRun(true) == 0) throw new FsException(Errno.EOPNOTSUPP, "inode " + file.number() + " (block-mapped files cannot hold unwritten blocks, as in Linux)");
            int bs = vol.blockSize();
            fillHolesUnwritten(h, u, off / bs, (off + len - 1) / bs + 1);
            if (!keepSize && off + len > u.ed.size()) u.ed.size(off + len);
            u.ed.ctime(now());
            u.save(h, balloc);
            return null;
        });
    }

    /** Maps every hole in blocks [from, to) to newly allocated UNWRITTEN extents (preallocation). */
    private void fillHolesUnwritten(Handle h, InodeUpdate u, long from, long to) throws IOException {
        BlockMapping t = u.tree();
        for (long l = from; l < to; ) {
            Extent x = t.find(l);
            if (x != null) { l = x.end(); continue; }
            Extent nx = t.next(l);
            long holeEnd = Math.min(to, nx == null ? Long.MAX_VALUE : nx.lblk());
            long goal = t.goalFor(l);
            if (goal == 0) goal = goalForInode(vol, u.number());
            BlockAllocator.Range r = balloc.allocate(h, goal, (int) Math.min(holeEnd - l, t.maxRun(true)));
            t.insert(l, r.start(), r.length(), true);
            u.addBlocks(r.length());
            l += r.length();
        }
    }

    /**
     * FALLOC_FL_ZERO_RANGE's metadata half, as ext4 does it: in one handle the holes of the blocks
     * under [off, off+len) get unwritten extents, and the written extents of the whole blocks inside
     * it become unwritten (same blocks, now read as zeros). The partial edge blocks are the caller's
     * (zeroed through the page cache); the size is the caller's too.
     */
    void zeroToUnwritten(Inode file, long off, long len) throws IOException {
        int bs = vol.blockSize();
        long first = off / bs, last = (off + len + bs - 1) / bs;                 // every block touched
        long start = (off + bs - 1) / bs, end = (off + len) / bs;                 // the whole blocks
        if (off + len > maxFileSize(file)) throw new FsException(Errno.EFBIG, "inode " + file.number());
        txn("zero range inode " + file.number(), OP_CREDITS * 8, h -> {
            noteData(file.number());
            InodeUpdate u = update(fs.diskInode(file.number()));
            uninlineFile(h, u);
            BlockMapping t = u.tree();
            if (t.maxRun(true) == 0) throw new FsException(Errno.EOPNOTSUPP, "inode " + file.number() + " (block-mapped files cannot hold unwritten blocks, as in Linux)");
            List<Extent> written = new ArrayList<>();
            for (long l = start; l < end; ) {
                Extent x = t.find(l);
                if (x == null) { Extent nx = t.next(l); l = nx == null ? end : nx.lblk(); continue; }
                long s = Math.max(l, x.lblk()), e = Math.min(end, x.end());
                if (!x.unwritten()) written.add(new Extent(s, (int) (e - s), x.pblk() + (s - x.lblk()), false));
                l = e;
            }
            for (Extent x : written) {
                t.remove(x.lblk(), x.end());                 // unmapped, not freed: the same blocks come back unwritten
                t.insert(x.lblk(), x.pblk(), x.len(), true);
            }
            fillHolesUnwritten(h, u, first, last);
            Inode.Timestamp now = now();
            u.ed.mtime(now).ctime(now);
            u.save(h, balloc);
            return null;
        });
    }

    /**
     * FALLOC_FL_COLLAPSE_RANGE (collapse) or FALLOC_FL_INSERT_RANGE, the metadata half, in one handle:
     * a collapse frees the blocks of [off, off+len) and moves every extent after it back by len, an
     * insert moves every extent at or past off forward by len (splitting the one across off), and
     * the size follows. Checks in ext4's order: block alignment (EINVAL), extent mapping (EOPNOTSUPP),
     * the largest size (EFBIG), a range reaching EOF (EINVAL). The caller writes the file back and
     * drops its cache from off first.
     */
    void shiftRange(Inode file, long off, long len, boolean collapse) throws IOException {
        int bs = vol.blockSize();
        String at = "inode " + file.number();
        if (off % bs != 0 || len % bs != 0) throw new FsException(Errno.EINVAL, at + ": offset " + off + " and length " + len + " must be multiples of the block size");
        if (!file.hasFlag(Inode.FL_EXTENTS)) throw new FsException(Errno.EOPNOTSUPP, at + " (collapse and insert range need an extent-mapped file)");
        long size = file.size();
        if (collapse && off + len >= size) throw new FsException(Errno.EINVAL, at + ": the range reaches the end of the file (that is a truncate)");
        if (!collapse && len > maxFileSize(file) - size) throw new FsException(Errno.EFBIG, at);
        if (!collapse && off >= size) throw new FsException(Errno.EINVAL, at + ": offset " + off + " is not inside the file");
        long from = off / bs, n = len / bs, pivot = collapse ? from + n : from, delta = collapse ? -n : n;
        txn((collapse ? "collapse range" : "insert range") + " " + at, OP_CREDITS * 8, h -> {
            noteData(file.number());
            InodeUpdate u = update(fs.diskInode(file.number()));
            BlockMapping t = u.tree();
            List<Extent> moving = new ArrayList<>();
            for (Extent x : t.extents()) {
                if (x.end() <= pivot) continue;
                long s = Math.max(x.lblk(), pivot);
                moving.add(new Extent(s, (int) (x.end() - s), x.pblk() + (s - x.lblk()), x.unwritten()));
            }
            if (!collapse && !moving.isEmpty() && moving.getLast().end() + n > FileMap.MAX_LOGICAL)
                throw new FsException(Errno.EFBIG, at + ": the last extent would move past the largest block number");
            h.extend(moving.size() / 32 + 8);
            if (collapse) {
                for (BlockAllocator.Range r : t.remove(from, pivot)) {
                    balloc.free(h, r.start(), r.length());
                    u.addBlocks(-r.length());
                }
            }
            t.remove(pivot, Long.MAX_VALUE);                  // unmapped, not freed: the same blocks come back moved
            for (Extent x : moving) t.insert(x.lblk() + delta, x.pblk(), x.len(), x.unwritten());
            Inode.Timestamp now = now();
            u.ed.size(collapse ? size - len : size + len).mtime(now).ctime(now);
            u.save(h, balloc);
            return null;
        });
    }

    /**
     * Where a hole punch ends, as ext4 limits it: a range that passes EOF stops at the end of the
     * page holding EOF (Linux's PAGE_SIZE, 4 KiB here), and one starting at or past EOF punches
     * nothing (returns off): preallocated blocks further out stay.
     */
    static long punchEnd(long size, long off, long len) {
        final long page = 4096;
        if (off >= size) return off;
        return off + len > size ? size + page - (size & (page - 1)) : off + len;
    }

    void punch(Inode file, long off, long len) throws IOException {
        if (!file.isRegular()) throw new FsException(file.isDir() ? Errno.EISDIR : Errno.EINVAL, "inode " + file.number());
        if (off < 0 || len <= 0) throw new FsException(Errno.EINVAL, "inode " + file.number());
        txn("punch inode " + file.number(), OP_CREDITS * 4, h -> {
            noteData(file.number());
            InodeUpdate u = update(fs.diskInode(file.number()));
            uninlineFile(h, u);
            int bs = vol.blockSize();
            long end = punchEnd(u.ed.size(), off, len);
            if (end <= off) return null;                         // nothing to punch at or past EOF
            long firstFull = (off + bs - 1) / bs, lastFull = end / bs; // [firstFull, lastFull)
            zeroRange(u, off, Math.min(end, firstFull * bs));
            if (lastFull * bs >= off) zeroRange(u, Math.max(off, lastFull * bs), end);
            if (firstFull < lastFull) unmapData(h, u, firstFull, lastFull);
            Inode.Timestamp now = now();
            u.ed.mtime(now).ctime(now);
            u.save(h, balloc);
            return null;
        });
    }

    /** Writes zeros over [from, to) inside one block where it holds written data. */
    void zeroRange(InodeUpdate u, long from, long to) throws IOException {
        if (to <= from) return;
        int bs = vol.blockSize();
        Extent e = u.tree().find(from / bs);
        if (e == null || e.unwritten()) return;
        long p = e.pblk() + (from / bs - e.lblk());
        vol.device().write(p * bs + from % bs, ByteBuffer.allocate((int) (to - from)));
    }
}
