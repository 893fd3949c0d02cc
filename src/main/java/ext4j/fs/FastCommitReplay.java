package ext4j.fs;

import ext4j.alloc.BlockAllocator;
import ext4j.base.CorruptException;
import ext4j.block.CopyOnWriteBlockDevice;
import ext4j.block.OverlayBlockDevice;
import ext4j.dir.DirEntry;
import ext4j.extent.BlockMapping;
import ext4j.extent.Extent;
import ext4j.extent.ExtentMap;
import ext4j.extent.ExtentTree;
import ext4j.journal.FastCommitTag;
import ext4j.journal.JournalRecovery;
import ext4j.ondisk.Inode;
import ext4j.ondisk.SystemZones;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Applies a journal's fast commits (the tags {@link ext4j.journal.FastCommitArea} validated) on top
 * of its full replay, as Linux's replay does: INODE copies the logged inode over the on-disk one
 * except i_block (kept unless the inode holds inline data; an extent inode without a valid header
 * gets an empty one), ADD_RANGE maps exactly the logged physical blocks (over a hole, over other
 * blocks, or toggling unwritten), DEL_RANGE unmaps, CREAT/LINK/UNLINK add and remove directory
 * entries (an existing name or a missing one is no error). Then, like Linux, the bitmaps are made to
 * agree: every block a replayed file maps is in use, every block a tag took out of a file or that
 * was held back for a tag is free unless a replayed file maps it; i_blocks is counted again.
 *
 * <p>Where Linux 6.x leaves an image e2fsck repairs, ext4j writes what e2fsck expects: a directory
 * created by a fast commit gets two links, its parent one more, and the group's directory count.
 *
 * <p>Everything happens on a scratch filesystem over a copy-on-write view of the replayed image;
 * only when every tag has applied are the changed blocks handed back, so a failure leaves the
 * device as it was and a read-only open can show the result from memory.
 */
final class FastCommitReplay extends WriterPart {
    private final Set<Long> modified = new LinkedHashSet<>();
    /** Blocks the replay took out of files, or marked used only to keep the allocator off them. */
    private final TreeSet<Long> candidates = new TreeSet<>();

    private FastCommitReplay(FsWriter w) { super(w); }

    /** r with its fast commits applied to its blocks (r itself when it has none). */
    static JournalRecovery.Result apply(Recovery rec, JournalRecovery.Result r) throws IOException {
        if (r.fastCommits().isEmpty()) return r;
        int bs = rec.vol.blockSize();
        Map<Long, byte[]> view = new HashMap<>(r.blocks());
        view.put(rec.sbBlock(), rec.superblockBlockWithoutRecover(view.get(rec.sbBlock())));
        CopyOnWriteBlockDevice cow = new CopyOnWriteBlockDevice(new OverlayBlockDevice(rec.vol.device(), view, bs), bs);
        try (Ext4FileSystem scratch = Ext4FileSystem.openForFastCommitReplay(cow)) {
            new FastCommitReplay(scratch.writer()).run(r.fastCommits().tags());
        } catch (CorruptException e) {
            throw new CorruptException("fast-commit replay: " + e.getMessage());
        }
        Map<Long, byte[]> merged = new HashMap<>(view);
        merged.putAll(cow.written());
        // home with the rest, the superblock must still say needs_recovery: the log is emptied, and the flag cleared, only after
        merged.put(rec.sbBlock(), rec.superblockBlockWithRecover(merged.get(rec.sbBlock())));
        return r.withBlocks(merged);
    }

    private void run(List<FastCommitTag> tags) throws IOException {
        for (FastCommitTag t : tags) {
            if (!(t instanceof FastCommitTag.AddRange a)) continue;
            try { holdBack(a); } catch (CorruptException e) { throw new CorruptException(where(a) + ": " + e.getMessage()); }
        }
        int i = 0;
        for (FastCommitTag t : tags) {
            i++;
            try {
                switch (t) {
                    case FastCommitTag.InodeImage im -> inode(im);
                    case FastCommitTag.AddRange a -> addRange(a);
                    case FastCommitTag.DelRange d -> delRange(d);
                    case FastCommitTag.Dentry d when d.kind() == FastCommitTag.UNLINK -> unlink(d);
                    case FastCommitTag.Dentry d -> link(d, d.kind() == FastCommitTag.CREAT);
                }
            } catch (CorruptException | ext4j.base.FsException | RuntimeException e) {
                // a record that passed its crc but does not fit this filesystem: nothing is written home
                throw new CorruptException("tag " + i + " of " + tags.size() + " (" + where(t) + "): " + e.getMessage());
            }
        }
        settle();
    }

    private String where(FastCommitTag t) {
        String kind = switch (t) {
            case FastCommitTag.InodeImage _ -> "INODE";
            case FastCommitTag.AddRange _ -> "ADD_RANGE";
            case FastCommitTag.DelRange _ -> "DEL_RANGE";
            case FastCommitTag.Dentry d -> d.kind() == FastCommitTag.CREAT ? "CREAT" : d.kind() == FastCommitTag.LINK ? "LINK" : "UNLINK";
        };
        return kind + " of inode " + t.ino();
    }

    private void checkIno(long ino, FastCommitTag t) throws CorruptException {
        if (ino < 1 || ino > Integer.toUnsignedLong(sb().inodesCount()))
            throw new CorruptException("inode " + ino + " outside 1.." + Integer.toUnsignedLong(sb().inodesCount()));
    }

    /** An inode Linux's iget would find: used (a mode), not deleted. */
    private Inode live(long ino) throws IOException {
        Inode i = fs.diskInode(ino);
        if (i.mode() == 0 || (i.linksCount() == 0 && i.dtime() != 0)) return null;
        return i;
    }

    /** A logged extent's free blocks are marked used before any tag runs, so nothing the replay allocates lands on them. */
    private void holdBack(FastCommitTag.AddRange a) throws IOException {
        checkIno(a.ino(), a);
        long first = sb().firstDataBlock(), end = sb().blocksCount();
        if (a.len() == 0 || a.pblk() < first || a.pblk() + a.len() > end)
            throw new CorruptException("blocks " + a.pblk() + "+" + a.len() + " outside the filesystem");
        SystemZones.Zone z = vol.systemZones().overlap(a.pblk(), a.len(), a.ino());
        if (z != null) throw new CorruptException("blocks " + a.pblk() + "+" + a.len() + " overlap " + z.what());
        txn("fast commit: hold back blocks of inode " + a.ino(), OP_CREDITS, h -> {
            long run = -1;
            for (long b = a.pblk(); b <= a.pblk() + a.len(); b++) {
                boolean take = b < a.pblk() + a.len() && !balloc.inUse(b);
                if (take) { candidates.add(b); if (run < 0) run = b; }
                else if (run >= 0) { balloc.markUsed(h, run, (int) (b - run)); run = -1; }
            }
            return null;
        });
    }

    private void inode(FastCommitTag.InodeImage t) throws IOException {
        long ino = t.ino();
        checkIno(ino, t);
        modified.add(ino);
        Inode cur = fs.diskInode(ino);
        Inode.Editor ed = cur.edit();
        ByteBuffer b = ed.bytes();
        byte[] raw = t.raw();
        int n = Math.min(raw.length, b.capacity());
        b.put(0, raw, 0, Inode.I_BLOCK);
        int after = Inode.I_BLOCK + Inode.I_BLOCK_SIZE;
        if (n > after) b.put(after, raw, after, n - after);
        int flags = ed.flags();
        if ((flags & Inode.FL_INLINE_DATA) != 0) b.put(Inode.I_BLOCK, raw, Inode.I_BLOCK, Inode.I_BLOCK_SIZE);
        else if ((flags & Inode.FL_EXTENTS) != 0 && (b.getShort(Inode.I_BLOCK) & 0xFFFF) != ExtentMap.MAGIC) ExtentTree.initEmpty(ed);
        txn("fast commit: inode " + ino, OP_CREDITS, h -> {
            if (ed.mode() != 0) ialloc.markUsed(h, ino, (ed.mode() & Inode.S_IFMT) == Inode.S_IFDIR);
            w.trees.remove(ino);
            vol.writeInode(h, ed);
            return null;
        });
    }

    private void addRange(FastCommitTag.AddRange a) throws IOException {
        if (a.lblk() + a.len() > 1L << 32) throw new CorruptException("blocks " + a.lblk() + "+" + a.len() + " past the largest logical block");
        Inode in = live(a.ino());
        if (in == null || !in.hasFlag(Inode.FL_EXTENTS)) return;    // Linux's replay skips what it cannot find or map
        modified.add(a.ino());
        txn("fast commit: add range of inode " + a.ino(), OP_CREDITS, h -> {
            InodeUpdate u = update(fs.diskInode(a.ino()));
            BlockMapping t = u.tree();
            long end = a.lblk() + a.len();
            for (long cur = a.lblk(); cur < end; ) {
                long want = a.pblk() + (cur - a.lblk());
                Extent x = t.find(cur);
                long run;
                if (x == null) {
                    Extent nx = t.next(cur);
                    run = Math.min(end, nx == null ? end : nx.lblk()) - cur;
                    insert(u, t, cur, want, run, a.unwritten());
                } else {
                    run = Math.min(end, x.end()) - cur;
                    long have = x.pblk() + (cur - x.lblk());
                    if (have != want || x.unwritten() != a.unwritten()) {
                        if (have == want && !a.unwritten()) t.markWritten(cur, cur + run);
                        else {
                            for (BlockAllocator.Range r : t.remove(cur, cur + run)) {
                                u.addBlocks(-r.length());
                                if (have != want) for (long k = 0; k < r.length(); k++) candidates.add(r.start() + k);
                            }
                            insert(u, t, cur, want, run, a.unwritten());
                        }
                    }
                }
                cur += run;
            }
            u.save(h, balloc);
            return null;
        });
    }

    private static void insert(InodeUpdate u, BlockMapping t, long lblk, long pblk, long len, boolean unwritten) throws IOException {
        for (long done = 0; done < len; ) {
            long piece = Math.min(len - done, t.maxRun(unwritten));
            t.insert(lblk + done, pblk + done, piece, unwritten);
            u.addBlocks(piece);
            done += piece;
        }
    }

    private void delRange(FastCommitTag.DelRange d) throws IOException {
        Inode in = live(d.ino());
        if (in == null || !in.hasFlag(Inode.FL_EXTENTS)) return;
        modified.add(d.ino());
        long end = Math.min(d.lblk() + d.len(), 1L << 32);
        txn("fast commit: delete range of inode " + d.ino(), OP_CREDITS, h -> {
            InodeUpdate u = update(fs.diskInode(d.ino()));
            for (BlockAllocator.Range r : u.tree().remove(d.lblk(), end)) {
                u.addBlocks(-r.length());
                for (long k = 0; k < r.length(); k++) candidates.add(r.start() + k);
            }
            u.save(h, balloc);
            return null;
        });
    }

    private String shown(FastCommitTag.Dentry d) { return "'" + new String(d.name(), StandardCharsets.UTF_8) + "' in directory " + d.parent(); }

    /** CREAT and LINK: the name goes into the parent unless it is there; CREAT gives the inode its first link. */
    private void link(FastCommitTag.Dentry d, boolean create) throws IOException {
        checkIno(d.ino(), d);
        checkIno(d.parent(), d);
        Inode child = live(d.ino());
        if (child == null) {
            if (create) throw new CorruptException("CREAT of " + shown(d) + " names an inode no INODE record gave");
            return;
        }
        Inode dir = live(d.parent());
        if (dir == null || !dir.isDir()) return;
        modified.add(d.ino());
        modified.add(d.parent());
        DirEntry there = fs.directory(dir).lookup(d.name());
        txn("fast commit: " + (create ? "create " : "link ") + shown(d), OP_CREDITS, h -> {
            InodeUpdate p = update(fs.diskInode(d.parent()));
            InodeUpdate c = update(fs.diskInode(d.ino()));
            boolean isDir = (c.ed.mode() & Inode.S_IFMT) == Inode.S_IFDIR;
            if (create) {
                ialloc.markUsed(h, d.ino(), isDir);
                if (isDir && there == null) {
                    // ".." and "." in a fresh block, as Linux's replay makes them (the logged inode kept no block)
                    for (BlockAllocator.Range r : c.tree().remove(0, 1L << 32)) {
                        c.addBlocks(-r.length());
                        for (long k = 0; k < r.length(); k++) candidates.add(r.start() + k);
                    }
                    c.ed.size(0);
                    w.ns.editor(h, c).init(d.ino(), d.parent());
                    w.ns.incLinks(p);
                }
            }
            Inode.Timestamp now = now();
            if (there == null) {
                w.ns.editor(h, p).add(d.name(), d.ino(), w.ns.dirEntryType(c.ed.mode()));
                p.ed.mtime(now).ctime(now);
                if (!create) c.ed.links(Math.min(c.ed.links() + 1, FsWriter.LINK_MAX));
            }
            if (create) c.ed.links(isDir ? 2 : 1);
            p.save(h, balloc);
            c.save(h, balloc);
            return null;
        });
    }

    /** UNLINK: the name goes; the inode loses a link and, at none, is freed (what Linux's iput does after it). */
    private void unlink(FastCommitTag.Dentry d) throws IOException {
        checkIno(d.ino(), d);
        checkIno(d.parent(), d);
        Inode child = live(d.ino()), dir = live(d.parent());
        if (child == null || dir == null || !dir.isDir()) return;
        DirEntry there = fs.directory(dir).lookup(d.name());
        if (there == null || there.inode() != d.ino()) return;
        modified.add(d.parent());
        txn("fast commit: unlink " + shown(d), OP_CREDITS * 4, h -> {
            InodeUpdate p = update(fs.diskInode(d.parent()));
            InodeUpdate c = update(fs.diskInode(d.ino()));
            w.ns.editor(h, p).remove(d.name());
            Inode.Timestamp now = now();
            p.ed.mtime(now).ctime(now);
            boolean isDir = (c.ed.mode() & Inode.S_IFMT) == Inode.S_IFDIR;
            if (isDir) Namespace.decDirLinks(p);
            p.save(h, balloc);
            int links = isDir ? 0 : c.ed.links() - 1;
            if (links > 0) { c.ed.links(links).ctime(now); c.save(h, balloc); }
            else { c.ed.links(0); w.orphans.release(h, c, now); }
            return null;
        });
        if (live(d.ino()) != null) modified.add(d.ino());
        else modified.remove(d.ino());
    }

    /**
     * The bitmaps agree with the replayed files: a candidate block no replayed file maps is freed;
     * i_blocks is what each replayed file maps plus its tree and xattr blocks; a directory's size
     * covers its blocks.
     */
    private void settle() throws IOException {
        Set<Long> mapped = new java.util.HashSet<>();
        for (long ino : modified) {
            Inode in = live(ino);
            if (in == null || !in.hasFlag(Inode.FL_EXTENTS)) continue;
            for (var r : fs.fileMap(in).runs()) {
                if (r.kind() == ext4j.extent.Run.Kind.HOLE) continue;
                for (long k = 0; k < r.length(); k++) if (candidates.contains(r.physical() + k)) mapped.add(r.physical() + k);
            }
        }
        txn("fast commit: settle bitmaps", OP_CREDITS, h -> {
            long run = -1, prev = -2;
            for (long b : candidates) {
                boolean free = !mapped.contains(b) && balloc.inUse(b);
                if (free && run >= 0 && b == prev + 1) { prev = b; continue; }
                if (run >= 0) { balloc.free(h, run, prev - run + 1); run = -1; }
                if (free) { run = b; prev = b; }
            }
            if (run >= 0) balloc.free(h, run, prev - run + 1);
            return null;
        });
        for (long ino : modified) {
            Inode in = live(ino);
            if (in == null || !in.hasFlag(Inode.FL_EXTENTS)) continue;
            ext4j.extent.FileMap fm = fs.fileMap(in);
            long blocks = 0, lastEnd = 0;
            for (var r : fm.runs()) {
                if (r.kind() == ext4j.extent.Run.Kind.HOLE) continue;
                blocks += r.length();
                lastEnd = Math.max(lastEnd, r.end());
            }
            if (fm instanceof ExtentMap em) blocks += em.nodeBlocks().size();
            if (in.fileAcl() != 0) blocks++;
            long bs = vol.blockSize(), total = blocks, dirSize = lastEnd * bs;
            if (total * (bs / 512) == in.blocks512(vol.blockSize()) && (!in.isDir() || in.size() == dirSize)) continue;
            txn("fast commit: block count of inode " + ino, OP_CREDITS, h -> {
                Inode.Editor ed = fs.diskInode(ino).edit();
                ed.blocks512(total * (bs / 512), sb());
                if (in.isDir()) ed.size(dirSize);
                vol.writeInode(h, ed);
                return null;
            });
        }
    }
}
