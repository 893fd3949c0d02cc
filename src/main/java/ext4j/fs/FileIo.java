package ext4j.fs;

import ext4j.base.CorruptException;
import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.base.LockOrder;
import ext4j.iomap.BufferedIo;
import ext4j.iomap.CachedFile;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

/**
 * File data between callers, the buffered I/O engine and the file's blocks: buffered writes and
 * reads (verity files checked on their way into the cache), truncate and every fallocate mode
 * coordinated with the cache (written back, invalidated, the extent status made stale), the
 * data half of fsync, sync and close. The write-side methods assume the writer lock (the
 * Ext4FileSystem monitor) is held; reads take no lock of the filesystem's.
 */
final class FileIo {
    private final Ext4FileSystem fs;
    private final Volume vol;
    private final InodeReader reader;
    private FsWriter writer;        // null when read-only
    private volatile BufferedIo io; // the engine (read-write opens), else null
    private Ext4MappingOps iops;

    FileIo(Ext4FileSystem fs, Volume vol, InodeReader reader) {
        this.fs = fs;
        this.vol = vol;
        this.reader = reader;
    }

    /** Whether the engine holds anything of the inode (its file table takes no lock). */
    boolean holds(long ino) {
        BufferedIo e = io;
        return e != null && e.lookup(ino) != null;
    }

    /** A read-write open's writer and engine. */
    void attach(FsWriter writer, Ext4MappingOps iops, BufferedIo io) {
        this.writer = writer;
        this.iops = iops;
        this.io = io;
    }

    /** The engine, or null for a read-only open. */
    BufferedIo engine() { return io; }

    /**
     * Buffered write through the engine: the bytes land in the page cache (delayed allocation) and
     * reach the disk at writeback (fsync, sync, memory pressure, close).
     */
    void write(Inode file, long pos, ByteBuffer src) throws IOException {
        LockOrder.enter(LockOrder.Level.WRITER);
        try {
            FsWriter wr = fs.w();
            wr.checkWrite(file, pos, src.remaining());
            if (!src.hasRemaining()) return;
            // the engine's completion worker reads metadata without this lock: from the first buffered
            // write on, a filesystem being populated copies blocks for each handle again
            if (fs.populating()) { vol.cache().editInPlace(false); vol.stopCachingInodeViews(); }
            CachedFile c = io.lookup(file.number());
            if ((c == null || c.size() == file.size()) && wr.writeInline(file, pos, src)) { inlineChanged(file.number()); return; }
            boolean wasInline = vol.superblock().hasIncompat(ext4j.ondisk.Features.INCOMPAT_INLINE_DATA) && vol.readInode(file.number()).hasFlag(Inode.FL_INLINE_DATA);
            wr.prepareForWrite(file);
            if (wasInline && iops.delalloc()) wr.conversionPending.add(file.number()); // Linux would convert at writeback
            io.write(cached(file.number()), pos, src);
        } finally {
            LockOrder.exit(LockOrder.Level.WRITER);
        }
    }

    void truncate(Inode file, long size) throws IOException {
        LockOrder.enter(LockOrder.Level.WRITER);
        IOException halfDone = null;
        try {
            FsWriter wr = fs.w();
            wr.checkTruncate(file, size);
            if (wr.truncateInline(file, size)) { inlineChanged(file.number()); return; }
            wr.prepareForTruncate(file);
            CachedFile f = cached(file.number());
            long old = f.size();
            if (size >= old) wr.conversionPending.remove(file.number()); // Linux's own conversion lands on disk with a truncate that does not shrink
            io.beginMappingChange(f);
            try {
                io.truncate(f, size);
                int bs = vol.blockSize();
                if (size < old) iops.dropDelayed(f, (size + bs - 1) / bs, Long.MAX_VALUE);
                long disk = vol.readInode(file.number()).size();
                // growing past data still in the cache: the on-disk size follows when that data is written (seed 004)
                long target = size <= disk || !f.hasPending(0, size) ? size : disk;
                try {
                    wr.truncate(vol.readInode(file.number()), target, size < old ? size : Long.MAX_VALUE);
                    if (size == 0) wr.reinlineEmpty(file);
                } catch (IOException e) {
                    if (f.size() != old) halfDone = e;         // the cache has the new size and dropped the tail; the inode did not follow
                    throw e;
                } finally {
                    Ext4MappingOps.changed(f);
                }
            } finally {
                io.endMappingChange(f);
            }
        } finally {
            LockOrder.exit(LockOrder.Level.WRITER);
            // cache and inode disagree and the dropped tail cannot come back: errors=remount-ro, as ext4 does on a failed truncate
            if (halfDone != null) fs.turnReadOnly(halfDone);
        }
    }

    void fallocate(Inode file, long off, long len, boolean keepSize) throws IOException {
        LockOrder.enter(LockOrder.Level.WRITER);
        try {
            FsWriter wr = fs.w();
            if (!file.isRegular() || off < 0 || len <= 0) { wr.fallocate(file, off, len, keepSize); return; } // the errno
            FsWriter.checkNotVerity(file);
            CachedFile f = changeMapping(file, (c, disk) -> wr.fallocate(disk, off, len, true));
            // the size grows like a truncate up: after the old EOF block's tail is zeroed (seed 004)
            if (!keepSize && off + len > f.size()) truncate(fs.inode(file.number()), off + len);
        } finally {
            LockOrder.exit(LockOrder.Level.WRITER);
        }
    }
    void punchHole(Inode file, long off, long len) throws IOException {
        LockOrder.enter(LockOrder.Level.WRITER);
        try {
            FsWriter wr = fs.w();
            if (!file.isRegular() || off < 0 || len <= 0) { wr.punch(file, off, len); return; } // the errno
            FsWriter.checkNotVerity(file);
            int bs = vol.blockSize();
            long from = off / bs * bs, to = off + len > Long.MAX_VALUE - bs ? Long.MAX_VALUE : (off + len + bs - 1) / bs * bs;
            changeMapping(file, (c, disk) -> {
                io.invalidate(c, from, to - from);
                wr.punch(disk, off, len);
            });
        } finally {
            LockOrder.exit(LockOrder.Level.WRITER);
        }
    }
    /**
     * FALLOC_FL_COLLAPSE_RANGE (collapse) or FALLOC_FL_INSERT_RANGE: the file is written back, its
     * cache dropped from off, its extents moved (FileSpace.shiftRange), and the engine's size set
     * to the new one without zeroing anything.
     */
    void shiftRange(Inode file, long off, long len, boolean collapse) throws IOException {
        LockOrder.enter(LockOrder.Level.WRITER);
        try {
            FsWriter wr = fs.w();
            FsWriter.checkNotVerity(file);
            wr.prepareForIo(file);
            CachedFile f = changeMapping(fs.inode(file.number()), (c, disk) -> {
                wr.shiftRange(disk, off, len, collapse);           // checks first: a refused call changes nothing
                io.invalidate(c, off, Long.MAX_VALUE - off);
            });
            io.resize(f, vol.readInode(file.number()).size());
        } finally {
            LockOrder.exit(LockOrder.Level.WRITER);
        }
    }

    private interface MappingChange { void apply(CachedFile f, Inode disk) throws IOException; }

    /**
     * Changes a regular file's block mapping behind the cache: its dirty data is written back first
     * (no delayed range meets the change), and afterwards its extent status is stale.
     */
    private CachedFile changeMapping(Inode file, MappingChange change) throws IOException {
        writer.prepareForIo(file);
        CachedFile f = cached(file.number());
        io.writeback(f, 0, Long.MAX_VALUE);
        io.beginMappingChange(f);                  // read-ins done without the lock are not installed meanwhile
        try {
            change.apply(f, vol.readInode(file.number()));
        } finally {
            Ext4MappingOps.changed(f);
            io.endMappingChange(f);
        }
        return f;
    }

    /**
     * FALLOC_FL_ZERO_RANGE as ext4 does it: the file is written back, the whole blocks of the range
     * dropped from the cache and made unwritten (holes under the range preallocated, written extents
     * converted in place), the partial edge blocks zeroed through the cache where they hold data
     * (iomap_zero_range), and the size raised to cover the range unless keepSize. Returns whether
     * any cached or written data had to be zeroed at the edges.
     */
    boolean zeroRange(Inode file, long off, long len, boolean keepSize) throws IOException {
        LockOrder.enter(LockOrder.Level.WRITER);
        try {
            FsWriter wr = fs.w();
            wr.checkWrite(file, off, len);
            if (len <= 0) throw new FsException(Errno.EINVAL, "inode " + file.number());
            int bs = vol.blockSize();
            long start = (off + bs - 1) / bs * bs, end = (off + len) / bs * bs;
            CachedFile f = changeMapping(file, (c, disk) -> {
                if (start < end) io.invalidate(c, start, end - start);
                wr.zeroToUnwritten(disk, off, len);
            });
            long size = f.size();
            boolean did = false;
            long headEnd = Math.min(off + len, start);
            if (off < headEnd && off < size) did |= io.zeroRange(f, off, Math.min(headEnd, size) - off);
            if (end >= start && end < off + len && end < size) did |= io.zeroRange(f, end, Math.min(off + len, size) - end);
            if (!keepSize && off + len > f.size()) truncate(fs.inode(file.number()), off + len);
            return did;
        } finally {
            LockOrder.exit(LockOrder.Level.WRITER);
        }
    }

    /**
     * After writeback: an in-memory size beyond the on-disk one with no data left in flight below it
     * (a file grown over holes or unwritten blocks) is stored now; completions only move it with data.
     */
    private void settleSize(CachedFile f) throws IOException {
        Inode d = vol.readInode(f.id());
        if (d.linksCount() == 0 || f.size() <= d.size() || f.hasPending(0, f.size())) return;
        long size = f.size();
        writer.setattr(d, e -> e.size(size));
        writer.noteData(f.id());
    }

    /** An inline file's bytes changed in its inode, behind the cache: what the cache read of it is dropped, the size follows. */
    private void inlineChanged(long ino) throws IOException {
        CachedFile f = io.lookup(ino);
        if (f == null) return;
        io.beginMappingChange(f);
        try {
            io.invalidate(f, 0, Long.MAX_VALUE);
            Ext4MappingOps.changed(f);
            io.resize(f, vol.readInode(ino).size());
        } finally {
            io.endMappingChange(f);
        }
    }

    /** The buffered I/O engine's state of an inode, created on first use. */
    private CachedFile cached(long ino) throws IOException {
        CachedFile f = io.lookup(ino);
        return f != null ? f : io.file(ino, vol.blockSize(), vol.readInode(ino).size());
    }

    /** Inodes freed by the last operation lose their cached data and delayed-allocation reservations. */
    void dropReleased() throws IOException {
        if (writer == null || io == null) return;
        List<Long> gone = writer.released();
        for (long ino : gone) {
            CachedFile f = io.lookup(ino);
            if (f == null) continue;
            iops.dropDelayed(f, 0, Long.MAX_VALUE);
            io.forget(f);
        }
        writer.releasedDropped(gone);                 // only now: a shared create of one of them waited for this
    }

    /** An explicit mtime (setattr) wins over the one a buffered write left pending. */
    void clearPendingMtime(long ino) {
        CachedFile f = io == null ? null : io.lookup(ino);
        if (f != null) Ext4MappingOps.clearPendingMtime(f);
    }

    /** The offset of the first byte at or past from whose block the engine holds unwritten (Long.MAX_VALUE: none). */
    long nextUnwrittenCache(long ino, long from) {
        CachedFile f = io == null ? null : io.lookup(ino);
        return f == null ? Long.MAX_VALUE : f.nextPending(from);
    }

    CachedFile writtenBack(Inode file) throws IOException {
        LockOrder.enter(LockOrder.Level.WRITER);
        try {
            if (io == null || !file.isRegular()) return null;
            CachedFile f = io.lookup(file.number());
            if (f != null) { io.fsync(f); settleSize(f); }
            return f;
        } finally {
            LockOrder.exit(LockOrder.Level.WRITER);
        }
    }

    /**
     * Reads up to dst.remaining() bytes at pos; returns the count, or -1 at end of file.
     * Holes and unwritten extents read as zeros without device I/O.
     */
    public int read(Inode inode, long pos, ByteBuffer dst) throws IOException {
        reader.checkedSize(inode);
        if (!inode.hasFlag(Inode.FL_VERITY)) return readRaw(inode, pos, dst);
        ext4j.verity.MerkleVerifier v = verifier(inode);
        if (io == null || !inode.isRegular()) return new VerityFiles(fs).verifiedRead(v, inode, pos, dst, this::readRaw);
        // through the cache: each block is hashed once on its way in, as Linux verifies pages at read completion
        LockOrder.enter(LockOrder.Level.WRITER);
        try {
            return io.read(cached(inode.number()), pos, dst, (block, data, off) -> {
                verityBlocksChecked++;
                try {
                    v.verify(block, data, off);
                } catch (CorruptException e) {
                    throw new FsException(Errno.EIO, e.getMessage());
                }
            });
        } finally {
            LockOrder.exit(LockOrder.Level.WRITER);
        }
    }

    /** Data blocks of verity files hashed by cached reads (tests: a cached block is hashed once). */
    volatile long verityBlocksChecked;

    /** A verity file's checker, kept for the last few verity files read (their tree is checked once per load). */
    private synchronized ext4j.verity.MerkleVerifier verifier(Inode inode) throws IOException {
        record Key(long ino, long generation, long size) {}
        Key k = new Key(inode.number(), inode.generation(), inode.size());
        ext4j.verity.MerkleVerifier v = verifiers.get(k);
        if (v == null) {
            v = new VerityFiles(fs).verifier(inode);
            verifiers.put(k, v);
        }
        return v;
    }

    private final Map<Object, ext4j.verity.MerkleVerifier> verifiers = new java.util.LinkedHashMap<>(16, 0.75f, true) {
        @Override protected boolean removeEldestEntry(Map.Entry<Object, ext4j.verity.MerkleVerifier> e) { return size() > 16; }
    };

    private int readRaw(Inode inode, long pos, ByteBuffer dst) throws IOException {
        LockOrder.enter(LockOrder.Level.WRITER);
        try {
            if (io != null && inode.isRegular()) return io.read(cached(inode.number()), pos, dst); // sees dirty cached data
            return reader.readFromDevice(inode, pos, dst);
        } finally {
            LockOrder.exit(LockOrder.Level.WRITER);
        }
    }

    /** Writes all cached data back and drops the page cache (like echo 3 > drop_caches after sync). */
    void dropCaches() throws IOException {
        LockOrder.enter(LockOrder.Level.WRITER);
        try {
            if (io != null) io.dropAll();
        } finally {
            LockOrder.exit(LockOrder.Level.WRITER);
        }
    }

    /** Engine and cache statistics (benchmarks, debugging). */
    String stats() { return io == null ? "no engine" : io.stats() + "; " + iops.stats(); }

    /** sync's data half: every dirty file written back (the first error kept), in-memory sizes stored. */
    IOException writeBackAll() throws IOException {
        IOException dataError = null;
        try { io.writebackAll(); } catch (IOException e) { dataError = e; }
        try {
            for (CachedFile f : io.files()) settleSize(f);
        } catch (IOException | RuntimeException e) {
            if (dataError == null) throw e;
            dataError.addSuppressed(e);
        }
        return dataError;
    }

    /** close's data half: everything written back and the engine closed; returns data lost without an fsync hearing of it. */
    IOException writeBackForClose() throws IOException {
        try {
            IOException dataError = io.writebackForClose();
            for (CachedFile f : io.files()) settleSize(f);
            return dataError;
        } finally { io.close(); }
    }

    /**
     * A regular file's data written back before its verity metadata is built from the disk, an
     * inline file moved to extents first (as Linux does); returns the inode as stored then.
     */
    Inode writeBackForVerity(Inode file) throws IOException {
        if (writtenBack(file) != null) file = vol.readInode(file.number());
        if (file.isRegular() && file.hasFlag(Inode.FL_INLINE_DATA) && !file.hasFlag(Inode.FL_VERITY)
                && vol.superblock().hasRoCompat(ext4j.ondisk.Features.RO_VERITY)) {
            fs.w().prepareForIo(file);
            if (io != null) inlineChanged(file.number());
            file = vol.readInode(file.number());
        }
        return file;
    }

    /** After verity metadata was mapped past EOF behind the cache: the file's extent status is stale. */
    void mappingChangedBehindCache(long ino) {
        CachedFile f = io == null ? null : io.lookup(ino);
        if (f != null) Ext4MappingOps.changed(f);
    }

    /** The inode as callers see it: a regular file's size is the in-memory one while its data is cached. */
    Inode live(Inode i) throws IOException {
        if (io == null || !i.isRegular()) return i;
        CachedFile f = io.lookup(i.number());
        if (f == null) return i;
        Inode.Timestamp mt = Ext4MappingOps.pendingMtime(f);
        if (f.size() == i.size() && mt == null) return i;
        Inode.Editor e = i.edit().size(f.size());
        if (mt != null) e.mtime(mt).ctime(mt);
        return e.view(vol.superblock());                  // read, never stored: no checksum (two CRCs and a parse per write)
    }
}
