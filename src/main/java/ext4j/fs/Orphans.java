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
 * Inodes at the end of their life: the orphan list (unlinked but still open, or being truncated
 * in several handles), open pins, and freeing an inode's blocks, xattr block and bitmap bit.
 */
final class Orphans extends WriterPart {
    Orphans(FsWriter w) { super(w); }

    /** Extents freed per handle by multi-step truncates and deletes. */
    static final int EXTENTS_PER_HANDLE = 256;

    private final java.util.Map<Long, Integer> pins = new java.util.concurrent.ConcurrentHashMap<>(); // read by shared unlinks

    boolean isBig(InodeUpdate v) throws IOException {
        return (v.ed.flags() & Inode.FL_EXTENTS) != 0 && v.tree().extents().size() > EXTENTS_PER_HANDLE;
    }

    /**
     * The orphan file when the filesystem has one (orphan_file with s_orphan_file_inum set), else
     * null: orphans then go on the superblock's list only.
     */
    OrphanFile orphanFile() {
        Superblock s = sb();
        if (!s.hasCompat(Features.COMPAT_ORPHAN_FILE) || s.orphanFileInode() == 0) return null;
        if (file == null || file.inode() != s.orphanFileInode()) file = new OrphanFile(fs, vol, s.orphanFileInode());
        return file;
    }

    private OrphanFile file;

    /** A handle was aborted: the orphan file's index is read again from its blocks at the next use. */
    void aborted() { if (file != null) file.drop(); }

    /** Whether no orphan is recorded, in the orphan file or on the list (orphan_present can be cleared). */
    boolean noOrphans() throws IOException {
        OrphanFile f = orphanFile();
        return sb().lastOrphan() == 0 && (f == null || f.isEmpty());
    }

    /**
     * False only while this open has seen no orphan: none were left at open (processOrphans found
     * the list and the orphan file empty afterwards) and none was added since. A shared unlink then
     * needs no orphan check under the writer lock. Set before an orphan is recorded; never cleared again.
     */
    private volatile boolean mayHaveOrphans = true;

    boolean mayHaveOrphans() { return mayHaveOrphans; }

    /**
     * Records the inode as an orphan: in a free slot of the orphan file when there is one (as Linux
     * does, i_dtime untouched), else at the head of the superblock's orphan list (i_dtime holds the
     * next one).
     */
    void orphanAdd(Handle h, InodeUpdate v) throws IOException {
        mayHaveOrphans = true;
        if (isOrphan(v.number())) return;
        OrphanFile f = orphanFile();
        if (f != null && f.add(h, v.number())) return;
        v.ed.dtime(Integer.toUnsignedLong(sb().lastOrphan()));
        vol.updateSuperblock(h, e -> e.lastOrphan(v.number()));
    }

    boolean isOrphan(long ino) throws IOException {
        OrphanFile f = orphanFile();
        if (f != null && f.contains(ino)) return true;
        long cur = Integer.toUnsignedLong(sb().lastOrphan());
        for (int i = 0; cur != 0 && i < 1_000_000; i++) {
            if (cur == ino) return true;
            cur = fs.diskInode(cur).dtime();
        }
        return false;
    }

    /** Takes the inode off the orphan file or the orphan list (it is u, already loaded for editing). */
    void orphanRemove(Handle h, InodeUpdate u) throws IOException {
        OrphanFile f = orphanFile();
        if (f != null && f.remove(h, u.number())) return;
        long next = u.ed.dtime();
        long head = Integer.toUnsignedLong(sb().lastOrphan());
        if (head == u.number()) {
            vol.updateSuperblock(h, e -> e.lastOrphan(next));
        } else {
            long cur = head;
            for (int i = 0; cur != 0 && i < 1_000_000; i++) {
                Inode c = fs.diskInode(cur);
                if (c.dtime() == u.number()) {
                    InodeUpdate p = update(c);
                    p.ed.dtime(next);
                    p.save(h, balloc);
                    break;
                }
                cur = c.dtime();
            }
        }
        u.ed.dtime(0);
    }

    /**
     * Completes an orphan: frees its blocks past i_size a chunk of extents per handle, then either
     * releases it (no links left, not open) or takes it off the list.
     */
    void finishOrphan(long ino) throws IOException {
        if (!isOrphan(ino)) return;
        int bs = vol.blockSize();
        while (true) {
            boolean done = txn("orphan " + ino, OP_CREDITS * 8, h -> {
                InodeUpdate u = update(fs.diskInode(ino));
                boolean unlinked = u.ed.links() == 0;
                if (unlinked && pins.containsKey(ino)) return true; // still open: the last close finishes it
                long keep = unlinked ? 0 : (u.ed.size() + bs - 1) / bs;
                List<Extent> ext = mapsBlocks(u) ? u.tree().extents() : List.of();
                long from = keep;
                int past = 0;
                for (Extent e : ext) if (e.end() > keep) past++;
                if (past > EXTENTS_PER_HANDLE) from = Math.max(keep, ext.get(ext.size() - EXTENTS_PER_HANDLE).lblk());
                if (past > 0) freeBlocksFrom(h, u, from);
                if (past > EXTENTS_PER_HANDLE) { u.save(h, balloc); return false; }
                orphanRemove(h, u);
                if (unlinked) release(h, u, now());
                else u.save(h, balloc);
                return true;
            });
            if (done) return;
        }
    }

    boolean isPinned(long ino) { return pins.containsKey(ino); }

    /** Marks an inode open: unlinking it then defers freeing until {@link #unpin}. */
    void pin(long ino) { pins.merge(ino, 1, Integer::sum); }

    /** The last close of an unlinked inode frees it. */
    void unpin(long ino) throws IOException {
        Integer n = pins.get(ino);
        if (n == null) return;
        if (n > 1) { pins.put(ino, n - 1); return; }
        pins.remove(ino);
        finishOrphan(ino);
    }

    /** At close: every open file is closed, so pinned orphans are finished. */
    void unpinAll() throws IOException {
        for (Long ino : new java.util.ArrayList<>(pins.keySet())) { pins.remove(ino); finishOrphan(ino); }
    }

    /**
     * At a read-write open: completes what a crash interrupted (truncates to i_size, frees unlinked
     * inodes), for the superblock's orphan list and then the orphan file, as a Linux mount does.
     */
    void processOrphans() throws IOException {
        for (int i = 0; sb().lastOrphan() != 0 && i < 1_000_000; i++) {
            long ino = Integer.toUnsignedLong(sb().lastOrphan());
            process(ino);
            // an inode listed in the orphan file too is taken off the file, not the list: never loop on it
            if (Integer.toUnsignedLong(sb().lastOrphan()) == ino)
                throw new ext4j.base.CorruptException("orphan list: inode " + ino + " is also in the orphan file (run e2fsck -f)");
        }
        OrphanFile f = orphanFile();
        if (f != null) for (long ino : f.inodes()) if (f.contains(ino)) process(ino);
        if (noOrphans()) mayHaveOrphans = false;
    }

    private void process(long ino) throws IOException {
        Inode in = fs.diskInode(ino);
        if (in.linksCount() == 0 || in.isRegular()) finishOrphan(ino);
        else txn("orphan " + ino, OP_CREDITS, h -> { orphanRemove(h, update(in)); return null; });
    }

    /** Inodes freed since the caller last looked: their cached data must go (Ext4FileSystem drains it). */
    private final List<Long> released = new java.util.ArrayList<>();

    /** The inodes freed whose cached state is still to drop; they stay listed until {@link #dropped}. */
    List<Long> releasedSoFar() {
        synchronized (released) { return released.isEmpty() ? List.of() : List.copyOf(released); }
    }

    /**
     * Their cached state is gone: off the list. Only then, so a shared create that takes one of
     * these numbers meanwhile still sees it pending (and runs under the writer lock, after the drop).
     */
    void dropped(List<Long> inodes) {
        if (inodes.isEmpty()) return;
        synchronized (released) { for (Long ino : inodes) released.remove(ino); }
    }

    /** Whether ino was freed and its cached state not dropped yet (a shared create of that number must wait for it). */
    boolean releasePending(long ino) { synchronized (released) { return released.contains(ino); } }

    /** Frees an inode whose last link is gone: its blocks, xattr block, the EA inodes its xattrs name, and bitmap bit. */
    void release(Handle h, InodeUpdate v, Inode.Timestamp now) throws IOException { release(h, v, now, true); }

    /** release; cached false: the engine holds nothing of the inode (a shared unlink), so nothing of it is left to drop. */
    void release(Handle h, InodeUpdate v, Inode.Timestamp now, boolean cached) throws IOException {
        if (cached) synchronized (released) { released.add(v.number()); }
        else { w.mayInline.remove(v.number()); w.conversionPending.remove(v.number()); }
        freeBlocksFrom(h, v, 0);
        w.xattrs.releaseAll(h, v);                // xattr block, EA inode references
        v.ed.dtime(now.seconds()).size(0);
        v.save(h, balloc);
        w.trees.remove(v.number());              // the number may come back as another file
        ialloc.free(h, v.number(), (v.ed.mode() & Inode.S_IFMT) == Inode.S_IFDIR);
    }

    /** Whether i_block holds a block mapping (not a fast symlink, a device number or inline data). */
    boolean mapsBlocks(InodeUpdate v) {
        int type = v.ed.mode() & Inode.S_IFMT;
        if ((v.ed.flags() & Inode.FL_INLINE_DATA) != 0) return false;
        if (type == Inode.S_IFREG || type == Inode.S_IFDIR) return true;
        if (type != Inode.S_IFLNK) return false;
        if ((v.ed.flags() & Inode.FL_EXTENTS) != 0) return true;
        // with ea_inode, i_blocks also counts values in EA inodes: the kernel tells a fast symlink by its length
        if (sb().hasIncompat(Features.INCOMPAT_EA_INODE)) return v.ed.size() >= Inode.I_BLOCK_SIZE;
        return (v.ed.flags() & Inode.FL_EXTENTS) != 0
                || v.original.blocks512(vol.blockSize()) - (v.ed.fileAcl() != 0 ? vol.blockSize() / 512 : 0) > 0;
    }

    /** Unmaps and frees every block at or after logical block from. */
    void freeBlocksFrom(Handle h, InodeUpdate v, long from) throws IOException {
        if (!mapsBlocks(v)) return;
        // directory and symlink blocks went through the cache and the log: forget (revoke) them, or a
        // later checkpoint would write their old bytes over whatever file data reuses the blocks. A
        // regular file's data never goes through the log (ordered data), so, as Linux in data=ordered,
        // its blocks are not forgotten: that was a cache lookup and two set updates per block freed
        // (262,144 for a 1 GiB file), 7% of a 512 MiB rewrite with TRUNCATE_EXISTING.
        boolean logged = (v.ed.mode() & Inode.S_IFMT) != Inode.S_IFREG;
        for (BlockAllocator.Range r : v.tree().remove(from, Long.MAX_VALUE)) {
            for (long b = r.start(); b < r.start() + r.length(); b++) if (logged || vol.cache().contains(b)) h.forget(b);
            balloc.free(h, r.start(), r.length());
            v.addBlocks(-r.length());
        }
    }
}
