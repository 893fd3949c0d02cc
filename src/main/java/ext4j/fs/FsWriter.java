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
 * The write half of the filesystem-operations layer: namespace changes, attributes and file data.
 * Every change runs in one journal handle; a failure aborts the handle, which undoes every block
 * it touched, so a failed operation changes nothing. One writer at a time (the caller's lock).
 */
final class FsWriter {
    static final int LINK_MAX = 65000;
    /** Credits for one namespace operation: inodes, bitmaps, descriptors, superblock, a few directory and tree blocks. */
    private static final int OP_CREDITS = 64;

    private final Ext4FileSystem fs;
    private final Volume vol;
    private final Journal journal;
    private final BlockAllocator balloc;
    private final InodeAllocator ialloc;
    private final SecureRandom random = new SecureRandom();
    /** Extent trees as last stored, reused by the next edit of the same inode (see ExtentTreeCache). */
    private final ExtentTreeCache trees = new ExtentTreeCache(256);

    /** The cached extent tree of an inode (tests: its cost counters), or null. */
    ext4j.extent.ExtentTree cachedTree(long ino) { return trees.get(ino); }

    private InodeUpdate update(Inode inode) { return new InodeUpdate(vol, trees, inode); }
    private InodeUpdate update(Inode.Editor fresh) throws IOException { return new InodeUpdate(vol, trees, fresh); }

    FsWriter(Ext4FileSystem fs, Volume vol, Journal journal) {
        this.fs = fs;
        this.vol = vol;
        this.journal = journal;
        this.balloc = new BlockAllocator(vol);
        this.ialloc = new InodeAllocator(vol);
        journal.onAbort(vol::reloadViews);
        journal.onAbort(balloc::aborted);
        journal.onAbort(ialloc::aborted);
        journal.onCommit(balloc::sealFrees);
    }

    Journal journal() { return journal; }

    private Superblock sb() { return vol.superblock(); }

    interface Body<T> { T run(Handle h) throws IOException; }

    /** Runs body in one handle; any failure undoes everything the handle touched. */
    /** Runs once, before the first transaction: marks the filesystem in use on disk (see Ext4FileSystem.enableWrites). */
    interface FirstChange { void run() throws IOException; }
    private FirstChange beforeFirstTxn;
    private boolean changed;

    void beforeFirstTxn(FirstChange f) { beforeFirstTxn = f; }
    /** Whether any transaction completed: an open that changed nothing leaves the image bytes as they were. */
    boolean changed() { return changed; }

    /** Operations that met ENOSPC, committed the running transaction (freeing its released blocks) and retried. */
    long enospcRetries;

    /** Per inode, the journal transaction that last changed what reading its data needs (size, mapping, existence). */
    private final java.util.Map<Long, Long> dataTransaction = new java.util.concurrent.ConcurrentHashMap<>();

    /** Called inside a handle (or just after one: later is only more conservative) that changed the inode's data layout. */
    void noteData(long ino) { dataTransaction.put(ino, journal.runningTransaction()); }

    /**
     * fdatasync's metadata half: commits only if a transaction that changed the inode's size or
     * mapping is not on disk yet (a timestamp change alone waits for the next commit); else just
     * flushes the device, so the data written back is durable.
     */
    void commitForData(long ino) throws IOException {
        Long t = dataTransaction.get(ino);
        if (t == null || journal.isCommitted(t)) journal.flush();
        else journal.commit();
    }

    <T> T txn(String what, int credits, Body<T> body) throws IOException {
        if (beforeFirstTxn != null) {
            FirstChange f = beforeFirstTxn;
            beforeFirstTxn = null;
            f.run();
        }
        for (int attempt = 0; ; attempt++) {
            Handle h = journal.start(what, credits);
            LockOrder.enter(LockOrder.Level.HANDLE);
            try {
                T r = body.run(h);
                LockOrder.exit(LockOrder.Level.HANDLE);
                h.stop();
                changed = true;
                return r;
            } catch (FsException e) {
                LockOrder.exit(LockOrder.Level.HANDLE);
                h.abort();
                trees.clear();                  // trees edited in the aborted handle are not what the blocks say now
                // blocks freed by the running transaction become usable once it commits: commit and retry once
                if (e.errno() == Errno.ENOSPC && attempt == 0 && balloc.hasPendingFrees()) { enospcRetries++; journal.commit(); continue; }
                throw e;
            } catch (IOException | RuntimeException | Error e) {
                LockOrder.exit(LockOrder.Level.HANDLE);
                h.abort();
                trees.clear();
                throw e;
            }
        }
    }

    static long goalForInode(Volume vol, long ino) {
        Superblock sb = vol.superblock();
        long g = (ino - 1) / sb.inodesPerGroup();
        if (sb.hasIncompat(Features.INCOMPAT_FLEX_BG)) g &= ~((1L << sb.logGroupsPerFlex()) - 1);
        return sb.firstDataBlock() + g * Integer.toUnsignedLong(sb.blocksPerGroup());
    }

    static Inode.Timestamp now() {
        Instant t = Instant.now();
        return new Inode.Timestamp(t.getEpochSecond(), t.getNano());
    }

    // ---- names and parents ----

    /** A parent directory and the last name of a path. */
    record Target(Inode parent, byte[] name, String path) {}

    Target target(String path) throws IOException {
        if (!path.startsWith("/")) throw new FsException(Errno.EINVAL, path);
        String trimmed = path.replaceAll("/+$", "");
        if (trimmed.isEmpty()) throw new FsException(Errno.EEXIST, path); // the root itself
        int slash = trimmed.lastIndexOf('/');
        String parentPath = slash == 0 ? "/" : trimmed.substring(0, slash);
        String last = trimmed.substring(slash + 1);
        byte[] name = last.getBytes(StandardCharsets.UTF_8);
        Inode parent = fs.resolve(parentPath, true); // like Linux: the parent's errors come before the name's
        return target(parent, name, path);
    }

    /** A name in a directory given by inode (the inode API): the checks the path form makes, in its order. */
    Target target(Inode parent, byte[] name, String shown) throws FsException {
        if (!parent.isDir()) throw new FsException(Errno.ENOTDIR, shown);
        if (name.length > 255) throw new FsException(Errno.ENAMETOOLONG, shown);
        if (name.length == 0) throw new FsException(Errno.ENOENT, shown);
        for (byte b : name) if (b == 0 || b == '/') throw new FsException(Errno.EINVAL, shown);
        return new Target(parent, name, shown);
    }

    private static boolean isDot(byte[] n) {
        return (n.length == 1 && n[0] == '.') || (n.length == 2 && n[0] == '.' && n[1] == '.');
    }

    private DirectoryEditor editor(Handle h, InodeUpdate dir) throws IOException {
        if ((dir.ed.flags() & Inode.FL_INLINE_DATA) != 0) {
            // an inline directory that changes moves to a block (what Linux does once it outgrows the inode)
            List<DirEntry> entries = fs.list(dir.original);
            uninline(dir);
            DirectoryEditor ed = new DirectoryEditor(new InodeDirStorage(vol, h, balloc, dir), sb());
            long parent = dir.number();
            for (DirEntry e : entries) if (e.isDotOrDotDot() && e.nameBytes().length == 2) parent = e.inode();
            ed.init(dir.number(), parent);
            for (DirEntry e : entries) if (!e.isDotOrDotDot()) ed.add(e.nameBytes(), e.inode(), filetypeOf(e));
            return ed;
        }
        return new DirectoryEditor(new InodeDirStorage(vol, h, balloc, dir), sb());
    }

    /** The entry's file type, or (no filetype feature) the one its inode has: the editor stores it only with the feature. */
    private int filetypeOf(DirEntry e) throws IOException {
        if (!sb().hasIncompat(Features.INCOMPAT_FILETYPE)) return 0;
        return e.fileType() != 0 ? e.fileType() : fileType(fs.diskInode(e.inode()).mode());
    }

    /**
     * Turns an inline-data inode into an empty block-mapped one: drops system.data from the in-inode
     * xattrs, clears the flag, sets an empty extent root (or zero pointers) and size 0. The caller
     * puts the old contents back through the normal paths.
     */
    private void uninline(InodeUpdate u) throws IOException {
        ByteBuffer area = u.ed.xattrArea();
        List<XattrCodec.Entry> xs = new java.util.ArrayList<>(XattrCodec.decodeInInode(area, "inode " + u.number() + " in-inode xattrs"));
        xs.removeIf(x -> x.index() == 7 && java.util.Arrays.equals(x.name(), "data".getBytes(StandardCharsets.US_ASCII)));
        XattrCodec.encodeInInode(xs, area);
        u.ed.flags(u.ed.flags() & ~Inode.FL_INLINE_DATA);
        u.ed.iBlock(ByteBuffer.allocate(Inode.I_BLOCK_SIZE));
        if (sb().hasIncompat(Features.INCOMPAT_EXTENTS)) { u.ed.flags(u.ed.flags() | Inode.FL_EXTENTS); ExtentTree.initEmpty(u.ed); }
        u.ed.size(0);
    }

    /** Before a data operation on a regular file: an inline file becomes block-mapped, its bytes rewritten as data. */
    private void uninlineFile(Handle h, InodeUpdate u) throws IOException {
        if ((u.ed.flags() & Inode.FL_INLINE_DATA) == 0) return;
        byte[] data = fs.inlineData(u.original);
        uninline(u);
        if (data.length > 0) writeData(h, u, 0, ByteBuffer.wrap(data));
        u.ed.size(data.length);
    }

    private static int fileType(int mode) {
        return switch (mode & Inode.S_IFMT) {
            case Inode.S_IFREG -> 1;
            case Inode.S_IFDIR -> 2;
            case Inode.S_IFCHR -> 3;
            case Inode.S_IFBLK -> 4;
            case Inode.S_IFIFO -> 5;
            case Inode.S_IFSOCK -> 6;
            case Inode.S_IFLNK -> 7;
            default -> 0;
        };
    }

    private int dirEntryType(int mode) { return sb().hasIncompat(Features.INCOMPAT_FILETYPE) ? fileType(mode) : 0; }

    // ---- creating ----

    /** What to create: type bits in mode; rdev for devices; target for symlinks. */
    /** What to create; atime/mtime null: now. */
    /** What to create; atime/mtime null: now; xattrs set in the same handle (inherited ACLs). */
    record NewInode(int mode, long uid, long gid, long rdev, byte[] symlinkTarget, Inode.Timestamp atime, Inode.Timestamp mtime,
                    List<XattrCodec.Entry> xattrs) {
        NewInode(int mode, long uid, long gid, long rdev, byte[] symlinkTarget) { this(mode, uid, gid, rdev, symlinkTarget, null, null, List.of()); }
        NewInode(int mode, long uid, long gid, long rdev, byte[] symlinkTarget, Inode.Timestamp atime, Inode.Timestamp mtime) {
            this(mode, uid, gid, rdev, symlinkTarget, atime, mtime, List.of());
        }
    }

    /** Creates a file, directory, device, fifo, socket or symlink at path. */
    Inode create(String path, NewInode what) throws IOException { return create(target(path), what); }

    Inode create(Target t, NewInode what) throws IOException {
        String path = t.path();
        if (isDot(t.name)) throw new FsException(Errno.EEXIST, path);
        if (fs.directory(t.parent).lookup(t.name) != null) throw new FsException(Errno.EEXIST, path);
        boolean isDir = (what.mode & Inode.S_IFMT) == Inode.S_IFDIR;
        if (what.symlinkTarget != null && (what.symlinkTarget.length == 0 || what.symlinkTarget.length >= vol.blockSize()))
            throw new FsException(what.symlinkTarget.length == 0 ? Errno.ENOENT : Errno.ENAMETOOLONG, path);
        if (isDir && t.parent.linksCount() >= LINK_MAX && !sb().hasRoCompat(Features.RO_DIR_NLINK))
            throw new FsException(Errno.EMLINK, "directory inode " + t.parent.number()); // before anything is allocated
        return txn("create " + path, OP_CREDITS, h -> {
            InodeUpdate parent = update(fs.diskInode(t.parent.number()));
            long ino = ialloc.allocate(h, parent.number(), isDir);
            noteData(ino);
            Inode.Timestamp now = now();
            Inode.Editor e = Inode.Editor.blank(ino, sb())
                    .mode(what.mode).uid(what.uid).gid(what.gid).links(isDir ? 2 : 1)
                    .atime(what.atime() != null ? what.atime() : now).ctime(now).mtime(what.mtime() != null ? what.mtime() : now)
                    .crtime(now).generation(random.nextInt());
            InodeUpdate child = update(e);
            int type = what.mode & Inode.S_IFMT;
            if (type == Inode.S_IFREG || type == Inode.S_IFDIR || (type == Inode.S_IFLNK && what.symlinkTarget.length >= Inode.I_BLOCK_SIZE)) {
                if (sb().hasIncompat(Features.INCOMPAT_EXTENTS)) { // else ext2/ext3 indirect blocks, i_block all zero
                    e.flags(Inode.FL_EXTENTS);
                    ExtentTree.initEmpty(e);
                }
            }
            if (type == Inode.S_IFCHR || type == Inode.S_IFBLK) encodeDevice(e, what.rdev);
            if (type == Inode.S_IFLNK) {
                e.size(what.symlinkTarget.length);
                if (what.symlinkTarget.length < Inode.I_BLOCK_SIZE) e.iBlock(ByteBuffer.wrap(what.symlinkTarget));
                else writeData(h, child, 0, ByteBuffer.wrap(what.symlinkTarget));
            }
            if (isDir) {
                editor(h, child).init(ino, parent.number());
                incLinks(parent);
            }
            if (!what.xattrs().isEmpty()) {
                ByteBuffer area = e.xattrArea();
                if (area.capacity() > 0 && XattrCodec.fitsInInode(what.xattrs(), area.capacity())) XattrCodec.encodeInInode(what.xattrs(), area);
                else if (XattrCodec.fitsInBlock(what.xattrs(), vol.blockSize())) storeXattrBlock(h, child, 0, what.xattrs());
                else throw new FsException(Errno.ENOSPC, path + ": inherited ACLs do not fit an xattr block");
            }
            editor(h, parent).add(t.name, ino, dirEntryType(what.mode));
            parent.ed.mtime(now).ctime(now);
            parent.save(h, balloc);
            return child.save(h, balloc);
        });
    }

    /** Linux's device encoding: the old 16-bit form in i_block[0] when it fits, else the new form in i_block[1]. */
    private static void encodeDevice(Inode.Editor e, long rdev) {
        long major = (rdev >>> 8) & 0xFFF | ((rdev >>> 32) & ~0xFFFL), minor = (rdev & 0xFF) | ((rdev >>> 12) & ~0xFFL);
        ByteBuffer ib = e.iBlock();
        if (major < 256 && minor < 256) ib.putInt(0, (int) (major << 8 | minor));
        else ib.putInt(4, (int) ((minor & 0xFF) | (major << 8) | ((minor & ~0xFFL) << 12)));
    }

    private void incLinks(InodeUpdate dir) throws IOException {
        int n = dir.ed.links();
        if (n >= LINK_MAX || n == 1) {
            if (!sb().hasRoCompat(Features.RO_DIR_NLINK)) {
                if (n >= LINK_MAX) throw new FsException(Errno.EMLINK, "directory inode " + dir.number());
            }
            dir.ed.links(1); // dir_nlink: 1 means "too many to count"
        } else {
            dir.ed.links(n + 1);
        }
    }

    private static void decDirLinks(InodeUpdate dir) {
        int n = dir.ed.links();
        if (n > 2) dir.ed.links(n - 1); // 1 stays 1 (dir_nlink overflow); 2 is the minimum of a directory
    }

    /** Hard link: newPath names the same inode as existing. */
    void link(String existing, String newPath) throws IOException {
        link(fs.resolve(existing, false), target(newPath), existing);
    }

    /** link(2) in Linux's order: the new name taken (EEXIST), then a directory (EPERM), then the link limit. */
    void link(Inode src, Target t, String existing) throws IOException {
        String newPath = t.path();
        if (isDot(t.name) || fs.directory(t.parent).lookup(t.name) != null) throw new FsException(Errno.EEXIST, newPath);
        if (src.isDir()) throw new FsException(Errno.EPERM, existing);
        if (src.linksCount() >= LINK_MAX) throw new FsException(Errno.EMLINK, existing);
        txn("link " + newPath, OP_CREDITS, h -> {
            InodeUpdate parent = update(fs.diskInode(t.parent.number()));
            InodeUpdate s = update(fs.diskInode(src.number()));
            editor(h, parent).add(t.name, s.number(), dirEntryType(s.ed.mode()));
            Inode.Timestamp now = now();
            s.ed.links(s.ed.links() + 1).ctime(now);
            parent.ed.mtime(now).ctime(now);
            parent.save(h, balloc);
            s.save(h, balloc);
            return null;
        });
    }

    // ---- removing ----

    void unlink(String path) throws IOException { unlink(target(path)); }

    void unlink(Target t) throws IOException {
        String path = t.path();
        if (isDot(t.name)) throw new FsException(Errno.EINVAL, path);
        DirEntry de = fs.directory(t.parent).lookup(t.name);
        if (de == null) throw new FsException(Errno.ENOENT, path);
        Inode victim = fs.diskInode(de.inode());
        if (victim.isDir()) throw new FsException(Errno.EISDIR, path);
        txn("unlink " + path, OP_CREDITS * 4, h -> {
            InodeUpdate parent = update(fs.diskInode(t.parent.number()));
            editor(h, parent).remove(t.name);
            Inode.Timestamp now = now();
            parent.ed.mtime(now).ctime(now);
            parent.save(h, balloc);
            dropLink(h, update(victim), now);
            return null;
        });
        finishOrphan(victim.number());
    }

    void rmdir(String path) throws IOException { rmdir(target(path)); }

    void rmdir(Target t) throws IOException {
        String path = t.path();
        if (isDot(t.name)) throw new FsException(Errno.EINVAL, path);
        DirEntry de = fs.directory(t.parent).lookup(t.name);
        if (de == null) throw new FsException(Errno.ENOENT, path);
        Inode victim = fs.diskInode(de.inode());
        if (!victim.isDir()) throw new FsException(Errno.ENOTDIR, path);
        txn("rmdir " + path, OP_CREDITS * 4, h -> {
            InodeUpdate v = update(victim);
            if (!editor(h, v).isEmpty()) throw new FsException(Errno.ENOTEMPTY, path);
            InodeUpdate parent = update(fs.diskInode(t.parent.number()));
            editor(h, parent).remove(t.name);
            Inode.Timestamp now = now();
            decDirLinks(parent);
            parent.ed.mtime(now).ctime(now);
            parent.save(h, balloc);
            v.ed.links(0);
            release(h, v, now);
            return null;
        });
    }

    /**
     * Drops one link of a non-directory. At zero it is freed now if small and not open; otherwise
     * it goes on the orphan list and its blocks are freed in later handles (or at the last close).
     */
    private void dropLink(Handle h, InodeUpdate v, Inode.Timestamp now) throws IOException {
        int n = v.ed.links() - 1;
        v.ed.links(Math.max(0, n)).ctime(now);
        if (n > 0) v.save(h, balloc);
        else if (pins.containsKey(v.number()) || isBig(v)) { orphanAdd(h, v); v.save(h, balloc); }
        else release(h, v, now);
    }

    // ---- orphans: inodes whose last link is gone but which are still open, or that are being truncated ----

    /** Extents freed per handle by multi-step truncates and deletes. */
    static final int EXTENTS_PER_HANDLE = 256;
    private final java.util.Map<Long, Integer> pins = new java.util.HashMap<>();

    private boolean isBig(InodeUpdate v) throws IOException {
        return (v.ed.flags() & Inode.FL_EXTENTS) != 0 && v.tree().extents().size() > EXTENTS_PER_HANDLE;
    }

    /** Links the inode at the head of the superblock's orphan list (i_dtime holds the next one). */
    private void orphanAdd(Handle h, InodeUpdate v) throws IOException {
        if (isOrphan(v.number())) return;
        v.ed.dtime(Integer.toUnsignedLong(sb().lastOrphan()));
        vol.updateSuperblock(h, r -> r.putInt(0xE8, (int) v.number()));
    }

    private boolean isOrphan(long ino) throws IOException {
        long cur = Integer.toUnsignedLong(sb().lastOrphan());
        for (int i = 0; cur != 0 && i < 1_000_000; i++) {
            if (cur == ino) return true;
            cur = fs.diskInode(cur).dtime();
        }
        return false;
    }

    /** Unlinks the inode from the orphan list (it is u, already loaded for editing). */
    private void orphanRemove(Handle h, InodeUpdate u) throws IOException {
        long next = u.ed.dtime();
        long head = Integer.toUnsignedLong(sb().lastOrphan());
        if (head == u.number()) {
            vol.updateSuperblock(h, r -> r.putInt(0xE8, (int) next));
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

    /** At a read-write open: completes what a crash interrupted (truncates to i_size, frees unlinked inodes). */
    void processOrphans() throws IOException {
        for (int i = 0; sb().lastOrphan() != 0 && i < 1_000_000; i++) {
            long ino = Integer.toUnsignedLong(sb().lastOrphan());
            Inode in = fs.diskInode(ino);
            if (in.linksCount() == 0 || in.isRegular()) finishOrphan(ino);
            else txn("orphan " + ino, OP_CREDITS, h -> { orphanRemove(h, update(in)); return null; });
        }
    }

    /** Inodes freed since the caller last looked: their cached data must go (Ext4FileSystem drains it). */
    private final List<Long> released = new java.util.ArrayList<>();

    List<Long> takeReleased() {
        if (released.isEmpty()) return List.of();
        List<Long> r = List.copyOf(released);
        released.clear();
        return r;
    }

    /** Frees an inode whose last link is gone: its blocks, xattr block and bitmap bit. */
    private void release(Handle h, InodeUpdate v, Inode.Timestamp now) throws IOException {
        released.add(v.number());
        freeBlocksFrom(h, v, 0);
        long xblk = v.ed.fileAcl();
        if (xblk != 0) {
            releaseXattrBlock(h, xblk);
            v.ed.fileAcl(0);
            v.addBlocks(-1);
        }
        v.ed.dtime(now.seconds()).size(0);
        v.save(h, balloc);
        trees.remove(v.number());              // the number may come back as another file
        ialloc.free(h, v.number(), (v.ed.mode() & Inode.S_IFMT) == Inode.S_IFDIR);
    }

    /** Decrements a shared xattr block's refcount, or frees it at the last user. */
    private void releaseXattrBlock(Handle h, long blk) throws IOException {
        ByteBuffer b = h.getWriteAccess(blk);
        int ref = b.getInt(4);
        if (ref > 1) {
            b.putInt(4, ref - 1);
            XattrBlocks.reseal(vol, b, blk);
        } else {
            h.forget(blk);
            balloc.free(h, blk, 1);
        }
    }

    /** Whether i_block holds a block mapping (not a fast symlink, a device number or inline data). */
    private boolean mapsBlocks(InodeUpdate v) {
        int type = v.ed.mode() & Inode.S_IFMT;
        if ((v.ed.flags() & Inode.FL_INLINE_DATA) != 0) return false;
        if (type == Inode.S_IFREG || type == Inode.S_IFDIR) return true;
        if (type != Inode.S_IFLNK) return false;
        return (v.ed.flags() & Inode.FL_EXTENTS) != 0
                || v.original.blocks512(vol.blockSize()) - (v.ed.fileAcl() != 0 ? vol.blockSize() / 512 : 0) > 0;
    }

    /** Unmaps and frees every block at or after logical block from. */
    private void freeBlocksFrom(Handle h, InodeUpdate v, long from) throws IOException {
        if (!mapsBlocks(v)) return;
        for (BlockAllocator.Range r : v.tree().remove(from, Long.MAX_VALUE)) {
            // directory and symlink blocks went through the cache and the log: forget (revoke) them, or a
            // later checkpoint would write their old bytes over whatever file data reuses the blocks
            for (long b = r.start(); b < r.start() + r.length(); b++) h.forget(b);
            balloc.free(h, r.start(), r.length());
            v.addBlocks(-r.length());
        }
    }

    // ---- rename ----

    static final int RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2, RENAME_WHITEOUT = 4;

    void rename(String from, String to) throws IOException { rename(target(from), target(to), 0); }

    /**
     * rename(2)/renameat2(2). Checks in Linux's order: flags, "." or ".." (EBUSY; EEXIST with
     * NOREPLACE), a missing source, NOREPLACE over an existing name, EXCHANGE with a missing target,
     * a directory moved under itself (EINVAL), an ancestor of the source replaced (ENOTEMPTY), the same
     * inode (nothing to do), then the types.
     */
    void rename(Target src, Target dst, int flags) throws IOException {
        String from = src.path(), to = dst.path();
        if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) != 0
                || (flags & (RENAME_NOREPLACE | RENAME_EXCHANGE)) == (RENAME_NOREPLACE | RENAME_EXCHANGE)
                || (flags & RENAME_WHITEOUT) != 0)
            throw new FsException(Errno.EINVAL, from + ": rename flags 0x" + Integer.toHexString(flags)); // whiteouts are an overlayfs matter
        boolean exchange = (flags & RENAME_EXCHANGE) != 0, noReplace = (flags & RENAME_NOREPLACE) != 0;
        if (isDot(src.name)) throw new FsException(Errno.EBUSY, from);
        if (isDot(dst.name)) throw new FsException(noReplace ? Errno.EEXIST : Errno.EBUSY, to);
        DirEntry se = fs.directory(src.parent).lookup(src.name);
        if (se == null) throw new FsException(Errno.ENOENT, from);
        Inode moving = fs.diskInode(se.inode());
        DirEntry de = fs.directory(dst.parent).lookup(dst.name);
        if (noReplace && de != null) throw new FsException(Errno.EEXIST, to);
        if (exchange && de == null) throw new FsException(Errno.ENOENT, to);
        Inode replaced = de == null ? null : fs.diskInode(de.inode());
        if (moving.isDir() && isAncestorOrSelf(moving.number(), dst.parent.number())) throw new FsException(Errno.EINVAL, to);
        if (replaced != null && replaced.isDir() && isAncestorOrSelf(replaced.number(), src.parent.number()))
            throw new FsException(exchange ? Errno.EINVAL : Errno.ENOTEMPTY, to);
        if (de != null && de.inode() == se.inode()) return; // same file: POSIX says do nothing
        if (exchange) { exchange(src, dst, moving, replaced); return; }
        if (replaced != null) {
            if (moving.isDir() && !replaced.isDir()) throw new FsException(Errno.ENOTDIR, to);
            if (!moving.isDir() && replaced.isDir()) throw new FsException(Errno.EISDIR, to);
        }
        boolean moveDir = moving.isDir() && src.parent.number() != dst.parent.number();
        txn("rename " + from, OP_CREDITS * 4, h -> {
            Inode.Timestamp now = now();
            InodeUpdate sp = update(fs.diskInode(src.parent.number()));
            InodeUpdate dp = src.parent.number() == dst.parent.number() ? sp : update(fs.diskInode(dst.parent.number()));
            InodeUpdate mv = update(moving);
            if (replaced != null) {
                InodeUpdate rep = update(replaced);
                if (replaced.isDir()) {
                    if (!editor(h, rep).isEmpty()) throw new FsException(Errno.ENOTEMPTY, to);
                    rep.ed.links(0);
                    decDirLinks(dp);
                    release(h, rep, now);
                } else {
                    dropLink(h, rep, now);
                }
                editor(h, dp).setInode(dst.name, mv.number(), dirEntryType(mv.ed.mode()));
            } else {
                editor(h, dp).add(dst.name, mv.number(), dirEntryType(mv.ed.mode()));
            }
            editor(h, sp).remove(src.name);
            if (moveDir) {
                editor(h, mv).setInode("..".getBytes(StandardCharsets.US_ASCII), dp.number(), dirEntryType(Inode.S_IFDIR));
                decDirLinks(sp);
                incLinks(dp);
            }
            mv.ed.ctime(now);
            sp.ed.mtime(now).ctime(now);
            if (dp != sp) { dp.ed.mtime(now).ctime(now); dp.save(h, balloc); }
            sp.save(h, balloc);
            mv.save(h, balloc);
            return null;
        });
    }

    /** RENAME_EXCHANGE: the two names swap inodes; directories that change parent get their ".." and link counts fixed. */
    private void exchange(Target src, Target dst, Inode a, Inode b) throws IOException {
        boolean cross = src.parent.number() != dst.parent.number();
        txn("exchange " + src.path(), OP_CREDITS * 4, h -> {
            Inode.Timestamp now = now();
            InodeUpdate sp = update(fs.diskInode(src.parent.number()));
            InodeUpdate dp = cross ? update(fs.diskInode(dst.parent.number())) : sp;
            InodeUpdate ua = update(a), ub = update(b);
            editor(h, sp).setInode(src.name, ub.number(), dirEntryType(ub.ed.mode()));
            editor(h, dp).setInode(dst.name, ua.number(), dirEntryType(ua.ed.mode()));
            if (cross) {
                byte[] dotdot = "..".getBytes(StandardCharsets.US_ASCII);
                if (a.isDir()) editor(h, ua).setInode(dotdot, dp.number(), dirEntryType(Inode.S_IFDIR));
                if (b.isDir()) editor(h, ub).setInode(dotdot, sp.number(), dirEntryType(Inode.S_IFDIR));
                if (a.isDir() && !b.isDir()) { decDirLinks(sp); incLinks(dp); }
                if (b.isDir() && !a.isDir()) { decDirLinks(dp); incLinks(sp); }
            }
            ua.ed.ctime(now);
            ub.ed.ctime(now);
            sp.ed.mtime(now).ctime(now);
            if (cross) { dp.ed.mtime(now).ctime(now); dp.save(h, balloc); }
            sp.save(h, balloc);
            ua.save(h, balloc);
            ub.save(h, balloc);
            return null;
        });
    }

    /** Whether dir is ancestor (or equal) of node, walking ".." up to the root (bounded). */
    private boolean isAncestorOrSelf(long dir, long node) throws IOException {
        long cur = node;
        for (int i = 0; i < 65536; i++) {
            if (cur == dir) return true;
            if (cur == Inode.ROOT) return false;
            DirEntry up = fs.directory(fs.diskInode(cur)).lookup("..".getBytes(StandardCharsets.US_ASCII));
            if (up == null || up.inode() == cur) return false;
            cur = up.inode();
        }
        throw new FsException(Errno.ELOOP, "inode " + node);
    }

    // ---- attributes ----

    void setattr(String path, boolean follow, java.util.function.Consumer<Inode.Editor> change) throws IOException {
        setattr(fs.resolve(path, follow), change);
    }

    void setattr(Inode ino, java.util.function.Consumer<Inode.Editor> change) throws IOException {
        txn("setattr inode " + ino.number(), 8, h -> {
            InodeUpdate u = update(fs.diskInode(ino.number()));
            change.accept(u.ed);
            u.save(h, balloc);
            return null;
        });
    }

    // ---- file data ----

    /**
     * Fills an empty regular file with len bytes of src (bulk copies: put, mkfs -d), the data copied
     * device-side (copy_file_range) into freshly allocated runs; the tail of the last block is zeroed.
     * Ordered like writeData: each run's data is on the device before the handle that maps it stops.
     */
    void writeFrom(Inode file, java.nio.channels.FileChannel src, long len) throws IOException {
        if (!file.isRegular()) throw new FsException(Errno.EINVAL, "inode " + file.number());
        checkNotVerity(file);
        if (len > maxFileSize(file)) throw new FsException(Errno.EFBIG, "inode " + file.number());
        int bs = vol.blockSize();
        long blocks = (len + bs - 1) / bs;
        for (long lblk = 0; lblk < blocks; ) {
            long from = lblk;
            lblk = txn("copy into inode " + file.number(), OP_CREDITS, h -> {
                noteData(file.number());
                InodeUpdate u = update(fs.diskInode(file.number()));
                uninlineFile(h, u);
                BlockMapping t = u.tree();
                if (t.find(from) != null) throw new IllegalStateException("inode " + file.number() + " is not empty at block " + from);
                long goal = t.goalFor(from);
                if (goal == 0) goal = goalForInode(vol, u.number());
                BlockAllocator.Range r = balloc.allocate(h, goal, (int) Math.min(blocks - from, Math.min(t.maxRun(false), 8192)));
                long bytes = Math.min((long) r.length() * bs, len - from * bs);
                vol.device().copyFrom(src, from * bs, bytes, r.start() * bs);
                int tail = (int) ((long) r.length() * bs - bytes);
                if (tail > 0) vol.device().write(r.start() * bs + bytes, ByteBuffer.allocate(tail));
                t.insert(from, r.start(), r.length(), false);
                u.addBlocks(r.length());
                u.ed.size(Math.max(u.ed.size(), from * bs + bytes)); // times stay: a copy keeps the source's
                u.save(h, balloc);
                return from + r.length();
            });
        }
    }

    // ---- the buffered I/O engine's metadata work (Ext4MappingOps) ----

    /** Before buffered I/O on a regular file: an inline-data file becomes block-mapped (the engine caches blocks). */
    void prepareForIo(Inode file) throws IOException {
        if (!file.hasFlag(Inode.FL_INLINE_DATA)) return;
        txn("uninline inode " + file.number(), OP_CREDITS, h -> {
            noteData(file.number());
            InodeUpdate u = update(fs.diskInode(file.number()));
            uninlineFile(h, u);
            u.save(h, balloc);
            return null;
        });
    }

    /**
     * Writeback allocation: maps up to n blocks of the hole at lblk, UNWRITTEN (written data only
     * once the I/O completes, so a crash never shows stale blocks; indirect-mapped files cannot, and
     * get written blocks). fromReservation: the blocks come out of a delayed-allocation reservation.
     */
    Extent allocateForWriteback(long ino, long lblk, long n, boolean fromReservation) throws IOException {
        return txn("writeback allocation inode " + ino, OP_CREDITS, h -> {
            noteData(ino);
            InodeUpdate u = update(fs.diskInode(ino));
            Extent x = allocateOne(h, u, lblk, n, fromReservation);
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
                out.add(allocateOne(h, u, ranges.get(i)[0], ranges.get(i)[1], true));
            }
            u.save(h, balloc);
            return out;
        });
    }

    private Extent allocateOne(Handle h, InodeUpdate u, long lblk, long n, boolean fromReservation) throws IOException {
        long ino = u.number();
        BlockMapping t = u.tree();
        boolean unwritten = t.maxRun(true) > 0;
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

    /** Largest size: 2^32-1 blocks with extents; what 12 direct + single/double/triple indirect blocks address without. */
    long maxFileSize(Inode f) {
        long blocks = (1L << 32) - 1;
        if (!f.hasFlag(Inode.FL_EXTENTS)) {
            long p = vol.blockSize() / 4;
            blocks = Math.min(blocks, 12 + p + p * p + p * p * p);
        }
        return blocks * vol.blockSize();
    }

    /**
     * A synchronous write inside a handle (an uninlined file's old bytes, a block symlink's target;
     * file writes go through the buffered I/O engine): for each block run, the data goes to the
     * device first (ordered mode), then the mapping changes. Partial blocks are read-modify-write on mapped blocks and zero-padded
     * on new or unwritten ones.
     */
    private void writeData(Handle h, InodeUpdate u, long pos, ByteBuffer src) throws IOException {
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

    /** Sets the size; shrinking frees blocks past the end and zeroes the tail of the last block. */
    void truncate(Inode file, long size) throws IOException {
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
                if (isBig(u)) { orphanAdd(h, u); big = true; }  // the blocks go in later handles
                else freeBlocksFrom(h, u, keep);
            }
            u.ed.size(size);
            Inode.Timestamp now = now();
            u.ed.mtime(now).ctime(now);
            u.save(h, balloc);
            return big;
        });
        if (staged) finishOrphan(file.number());
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
    private void zeroTail(InodeUpdate u, long size) throws IOException {
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
            long lblk = off / bs, last = (off + len - 1) / bs;
            while (lblk <= last) {
                Extent e = t.find(lblk);
                if (e != null) { lblk = e.end(); continue; }
                Extent nx = t.next(lblk);
                long holeEnd = Math.min(last + 1, nx == null ? Long.MAX_VALUE : nx.lblk());
                long goal = t.goalFor(lblk);
                if (goal == 0) goal = goalForInode(vol, u.number());
                BlockAllocator.Range r = balloc.allocate(h, goal, (int) Math.min(holeEnd - lblk, t.maxRun(true)));
                t.insert(lblk, r.start(), r.length(), true);
                u.addBlocks(r.length());
                lblk += r.length();
            }
            if (!keepSize && off + len > u.ed.size()) u.ed.size(off + len);
            u.ed.ctime(now());
            u.save(h, balloc);
            return null;
        });
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
            for (long l = first; l < last; ) {
                Extent x = t.find(l);
                if (x != null) { l = x.end(); continue; }
                Extent nx = t.next(l);
                long holeEnd = Math.min(last, nx == null ? Long.MAX_VALUE : nx.lblk());
                long goal = t.goalFor(l);
                if (goal == 0) goal = goalForInode(vol, u.number());
                BlockAllocator.Range r = balloc.allocate(h, goal, (int) Math.min(holeEnd - l, t.maxRun(true)));
                t.insert(l, r.start(), r.length(), true);
                u.addBlocks(r.length());
                l += r.length();
            }
            Inode.Timestamp now = now();
            u.ed.mtime(now).ctime(now);
            u.save(h, balloc);
            return null;
        });
    }

    /** Deallocates [off, off+len) keeping the size; partial blocks at the edges are zeroed. */
    void punch(Inode file, long off, long len) throws IOException {
        if (!file.isRegular()) throw new FsException(file.isDir() ? Errno.EISDIR : Errno.EINVAL, "inode " + file.number());
        if (off < 0 || len <= 0) throw new FsException(Errno.EINVAL, "inode " + file.number());
        txn("punch inode " + file.number(), OP_CREDITS * 4, h -> {
            noteData(file.number());
            InodeUpdate u = update(fs.diskInode(file.number()));
            uninlineFile(h, u);
            int bs = vol.blockSize();
            long size = u.ed.size();
            long end = Math.min(off + len, Math.max(size, off + len));
            long firstFull = (off + bs - 1) / bs, lastFull = end / bs; // [firstFull, lastFull)
            zeroRange(u, off, Math.min(end, firstFull * bs));
            if (lastFull * bs >= off) zeroRange(u, Math.max(off, lastFull * bs), end);
            if (firstFull < lastFull) {
                for (BlockAllocator.Range r : u.tree().remove(firstFull, lastFull)) {
                    balloc.free(h, r.start(), r.length());
                    u.addBlocks(-r.length());
                }
            }
            Inode.Timestamp now = now();
            u.ed.mtime(now).ctime(now);
            u.save(h, balloc);
            return null;
        });
    }

    /** Writes zeros over [from, to) inside one block where it holds written data. */
    private void zeroRange(InodeUpdate u, long from, long to) throws IOException {
        if (to <= from) return;
        int bs = vol.blockSize();
        Extent e = u.tree().find(from / bs);
        if (e == null || e.unwritten()) return;
        long p = e.pblk() + (from / bs - e.lblk());
        vol.device().write(p * bs + from % bs, ByteBuffer.allocate((int) (to - from)));
    }

    static final int XATTR_CREATE = 1, XATTR_REPLACE = 2, XATTR_SIZE_MAX = 65536;

    /**
     * Sets (value != null) or removes an extended attribute, like setxattr(2)/removexattr(2). The
     * in-inode area is used first, then the xattr block; a block shared with other inodes is copied
     * before it changes, and released when it empties. ACL values arrive in the Linux xattr format
     * and are stored in ext4's compact one.
     */
    void setXattr(Inode file, String name, byte[] value, int flags) throws IOException {
        String where = "inode " + file.number() + " " + name;
        XattrCodec.Entry want = XattrCodec.split(name, value);
        if (want == null || (name.startsWith("system.") && want.index() != 2 && want.index() != 3))
            throw new FsException(Errno.EOPNOTSUPP, where);
        if (want.name().length > 255) throw new FsException(Errno.ERANGE, where);
        if (want.name().length == 0 && want.index() != 2 && want.index() != 3) throw new FsException(Errno.EINVAL, where);
        if (value != null && value.length > XATTR_SIZE_MAX) throw new FsException(Errno.E2BIG, where);
        if (value != null && (want.index() == 2 || want.index() == 3)) {
            try { want = new XattrCodec.Entry(want.index(), want.name(), PosixAcl.fromXattr(value, where).toExt4()); }
            catch (ext4j.ondisk.CorruptException e) { throw new FsException(Errno.EINVAL, e.getMessage()); }
            if (want.index() == 3 && !file.isDir()) throw new FsException(Errno.EACCES, where + " (default ACLs are for directories)");
        }
        XattrCodec.Entry entry = want;
        int bs = vol.blockSize();
        txn("setxattr inode " + file.number(), OP_CREDITS, h -> {
            InodeUpdate u = update(fs.diskInode(file.number()));
            ByteBuffer area = u.ed.xattrArea();
            List<XattrCodec.Entry> inInode = new java.util.ArrayList<>(XattrCodec.decodeInInode(area, where));
            long blk = u.ed.fileAcl();
            List<XattrCodec.Entry> inBlock = new java.util.ArrayList<>(blk == 0 ? List.of()
                    : XattrCodec.decodeBlock(vol.readMetaBlock(blk, where + " xattr block"), "inode " + file.number() + ": xattr block " + blk));
            boolean wasInInode = inInode.removeIf(e -> e.sameName(entry.index(), entry.name()));
            boolean wasInBlock = inBlock.removeIf(e -> e.sameName(entry.index(), entry.name()));
            boolean exists = wasInInode || wasInBlock;
            if (value == null && !exists) throw new FsException(Errno.ENODATA, where);
            if ((flags & XATTR_CREATE) != 0 && exists) throw new FsException(Errno.EEXIST, where);
            if ((flags & XATTR_REPLACE) != 0 && !exists) throw new FsException(Errno.ENODATA, where);
            if (value != null) {
                List<XattrCodec.Entry> tryInode = new java.util.ArrayList<>(inInode);
                tryInode.add(entry);
                if (area.capacity() > 0 && XattrCodec.fitsInInode(tryInode, area.capacity())) inInode = tryInode;
                else {
                    inBlock.add(entry);
                    if (!XattrCodec.fitsInBlock(inBlock, bs))
                        throw new FsException(Errno.ENOSPC, where + " (no room in the inode or its xattr block; ext4j does not write ea_inode values)");
                }
            }
            XattrCodec.encodeInInode(inInode, area);
            if (wasInBlock || (value != null && inBlock.contains(entry))) storeXattrBlock(h, u, blk, inBlock);
            u.ed.ctime(now());
            u.save(h, balloc);
            return null;
        });
    }

    /** Writes the inode's block entries: in place if the block is its own, else into a new block; none: releases it. */
    private void storeXattrBlock(Handle h, InodeUpdate u, long blk, List<XattrCodec.Entry> entries) throws IOException {
        int bs = vol.blockSize();
        boolean shared = blk != 0 && vol.readMetaBlock(blk, "xattr block").getInt(4) > 1;
        if (entries.isEmpty()) {
            if (blk != 0) { releaseXattrBlock(h, blk); u.ed.fileAcl(0); u.addBlocks(-1); }
            return;
        }
        byte[] bytes = XattrCodec.encodeBlock(entries, bs, 1);
        long target = blk;
        if (blk == 0 || shared) {
            if (shared) { releaseXattrBlock(h, blk); u.addBlocks(-1); }
            target = balloc.allocate(h, goalForInode(vol, u.number()), 1).start();
            u.addBlocks(1);
            u.ed.fileAcl(target);
            ByteBuffer b = h.getCreateAccess(target);
            b.put(0, bytes);
            XattrBlocks.reseal(vol, b, target);
        } else {
            ByteBuffer b = h.getWriteAccess(target);
            b.put(0, bytes);
            XattrBlocks.reseal(vol, b, target);
        }
    }

    /** Flushes metadata and data to the device. */
    void sync() throws IOException { journal.commit(); }

    BlockAllocator balloc() { return balloc; }
}
