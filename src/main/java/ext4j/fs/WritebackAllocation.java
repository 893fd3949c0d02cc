package ext4j.fs;

import ext4j.base.LockOrder;
import ext4j.alloc.BlockAllocator;
import ext4j.alloc.InodeAllocator;
import ext4j.dir.DirEntry;
import ext4j.dir.DirectoryEditor;
import ext4j.extent.BlockMapping;
import ext4j.extent.Extent;
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
 * The buffered I/O engine's metadata work: allocating delayed or hole ranges at writeback
 * (UNWRITTEN where the mapping can hold it) and, at I/O completion, converting them, raising the
 * on-disk size and storing a pending mtime, one handle each.
 */
final class WritebackAllocation extends WriterPart {
    WritebackAllocation(FsWriter w) { super(w); }

    /**
     * Writeback allocation: maps up to n blocks of the hole at lblk, UNWRITTEN (written data only
     * once the I/O completes, so a crash never shows stale blocks; indirect-mapped files cannot, and
     * get written blocks). fromReservation: the blocks come out of a delayed-allocation reservation.
     */
    Extent allocateForWriteback(long ino, long lblk, long n, boolean fromReservation) throws IOException {
        return allocate(ino, lblk, n, fromReservation, -1);
    }

    /**
     * Blocks for a streaming write, mapped as written (in extent files too): the caller holds
     * commits back until the data is on the device, so no commit publishes them before it. The
     * on-disk size rises in the same handle to cover them, up to newSize (0: it stays; the caller
     * then asks only inside it), as e2fsck wants no written block past i_size; with a newSize the
     * mtime and ctime are stored too, so the write needs no completion.
     */
    Extent allocateWritten(long ino, long lblk, long n, long newSize) throws IOException {
        return allocate(ino, lblk, n, false, newSize);
    }

    /**
     * Blocks [from, to) allocated for a streaming write whose data did not reach the device: freed,
     * so the commit its allocation held back publishes a hole, not someone's old bytes.
     */
    void unmapFailedWrite(long ino, long from, long to) throws IOException {
        txn("failed streaming write inode " + ino, OP_CREDITS, h -> {
            InodeUpdate u = update(fs.diskInode(ino));
            unmapData(h, u, from, to);
            u.save(h, balloc);
            return null;
        });
    }

    /** written: -1 for the usual (unwritten where the file can have it), else written blocks and the size they may raise i_size to. */
    private Extent allocate(long ino, long lblk, long n, boolean fromReservation, long written) throws IOException {
        return txn("writeback allocation inode " + ino, OP_CREDITS, h -> {
            noteData(ino);
            InodeUpdate u = update(fs.diskInode(ino));
            Extent x = allocateOne(h, u, lblk, n, fromReservation, written >= 0);
            long covered = Math.min(written, x.end() * vol.blockSize());
            if (covered > u.ed.size()) u.ed.size(covered);
            if (written > 0) { Inode.Timestamp now = now(); u.ed.mtime(now).ctime(now); } // the write's own times: it needs no completion
            u.save(h, balloc);
            return x;
        });
    }

    /**
     * Writeback allocation of several delayed ranges of one extent-mapped file in one handle, all
     * as UNWRITTEN (so none needs ordering with its data): one tree store for the lot instead of one
     * per range. Each range may get fewer blocks than asked (what did not fit stays delayed).
     */
    List<Extent> allocateDelayedForWriteback(long ino, List<long[]> ranges) throws IOException {
        return txn("writeback allocation inode " + ino + " (" + ranges.size() + " ranges)", OP_CREDITS, h -> {
            noteData(ino);
            InodeUpdate u = update(fs.diskInode(ino));
            List<Extent> out = new ArrayList<>(ranges.size());
            for (int i = 0; i < ranges.size(); i++) {
                if (i > 0) h.extend(8);                       // bitmap, group descriptor, superblock of one more allocation
                out.add(allocateOne(h, u, ranges.get(i)[0], ranges.get(i)[1], true, false));
            }
            u.save(h, balloc);
            return out;
        });
    }

    Extent allocateOne(Handle h, InodeUpdate u, long lblk, long n, boolean fromReservation, boolean written) throws IOException {
        long ino = u.number();
        BlockMapping t = u.tree();
        boolean unwritten = !written && t.maxRun(true) > 0;
        Extent there = t.find(lblk);
        if (there != null) throw new IllegalStateException("inode " + ino + ": block " + lblk + " is already mapped");
        Extent nx = t.next(lblk);
        long room = nx == null ? n : Math.min(n, nx.lblk() - lblk);
        long goal = t.goalFor(lblk);
        if (goal == 0) goal = goalForInode(vol, ino);
        BlockAllocator.Range r = balloc.allocate(h, goal, (int) Math.min(room, t.maxRun(unwritten)), fromReservation);
        t.insert(lblk, r.start(), r.length(), unwritten);
        u.addBlocks(r.length());
        return new Extent(lblk, r.length(), r.start(), unwritten);
    }

    /**
     * Writeback completion of block ranges {from, to} of one file: they are on the device; unwritten
     * blocks there become written, the on-disk size rises to what the cache allows
     * (CachedFile.safeSize; never falls), and a pending mtime is stored, in one handle (one extent
     * tree store).
     */
    void completeWriteback(ext4j.iomap.CachedFile f, List<long[]> ranges, boolean convert, Inode.Timestamp mtime) throws IOException {
        long ino = f.id();
        Inode cur = fs.diskInode(ino);
        if (cur.linksCount() == 0 && cur.dtime() != 0) return; // freed meanwhile
        long sizeLimit = f.size() > cur.size() ? f.safeSize(cur.size()) : cur.size(); // before the handle: engine lock, then handle
        if (!convert && sizeLimit <= cur.size() && mtime == null) return;
        txn("writeback completion inode " + ino, OP_CREDITS, h -> {
            InodeUpdate u = update(fs.diskInode(ino));
            if (convert) for (long[] r : ranges) u.tree().markWritten(r[0], r[1]);
            if (sizeLimit > u.ed.size()) u.ed.size(sizeLimit);
            if (convert || sizeLimit > cur.size()) noteData(ino);   // a timestamp alone is not data (fdatasync skips it)
            if (mtime != null) u.ed.mtime(mtime).ctime(mtime);
            u.save(h, balloc);
            return null;
        });
    }
}
