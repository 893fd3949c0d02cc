package ext4j.fs;

import ext4j.base.Errno;
import ext4j.base.FsException;

import ext4j.base.LockOrder;
import ext4j.alloc.BlockAllocator;
import ext4j.alloc.InodeAllocator;
import ext4j.dir.DirEntry;
import ext4j.dir.DirEditor;
import ext4j.dir.DirectoryEditor;
import ext4j.dir.InlineDirectoryEditor;
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
 * Names and links: create, link, unlink, rmdir, rename (NOREPLACE, EXCHANGE), and plain
 * attribute changes, each one handle, with Linux's errnos in Linux's order of checks.
 */
final class Namespace extends WriterPart {
    Namespace(FsWriter w) { super(w); }

    /**
     * A parent directory and the last name of a path. absent: the caller knows no entry has that
     * name (a bulk copy into a directory it made, the names from one host listing), so a create
     * does not look it up for EEXIST (7% of a mkfs -d of small files).
     */
    record Target(Inode parent, byte[] name, String path, boolean absent) {
        Target(Inode parent, byte[] name, String path) { this(parent, name, path, false); }
        Target knownAbsent() { return new Target(parent, name, path, true); }
    }

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

    static boolean isDot(byte[] n) {
        return (n.length == 1 && n[0] == '.') || (n.length == 2 && n[0] == '.' && n[1] == '.');
    }

    /** The editor for a directory's entries: its blocks, or its inline data (moved to a block when it outgrows the inode). */
    DirEditor editor(Handle h, InodeUpdate dir) throws IOException {
        if ((dir.ed.flags() & Inode.FL_INLINE_DATA) != 0)
            return new InlineDirectoryEditor(inlineStore(h, dir), sb().hasIncompat(Features.INCOMPAT_FILETYPE), Integer.toUnsignedLong(sb().inodesCount()));
        return new DirectoryEditor(new InodeDirStorage(vol, h, balloc, dir), sb());
    }

    /** An inline directory's bytes in the inode being changed; its move to a block goes through {@link FileSpace#uninline}. */
    private InlineDirectoryEditor.Store inlineStore(Handle h, InodeUpdate dir) {
        return new InlineDirectoryEditor.Store() {
            @Override public byte[] load() throws IOException { return InlineData.read(dir.ed); }
            @Override public int maxSize() throws IOException { return InlineData.maxSize(dir.ed); }
            @Override public void save(byte[] data) throws IOException { InlineData.store(dir.ed, data, data.length); dir.ed.size(data.length); }
            @Override public DirEditor toBlock(long parent, byte[] entries) throws IOException {
                w.space.uninline(dir);
                DirectoryEditor block = new DirectoryEditor(new InodeDirStorage(vol, h, balloc, dir), sb());
                block.initWith(dir.number(), parent, entries);
                return block;
            }
            @Override public long self() { return dir.number(); }
        };
    }

    /** Whether a new directory starts inline, as Linux makes every new one on an inline_data filesystem when the inode has room. */
    boolean startsInline(Inode.Editor e) throws IOException {
        return sb().hasIncompat(Features.INCOMPAT_INLINE_DATA) && InlineData.maxSize(e) >= Inode.I_BLOCK_SIZE;
    }

    /** The entry's file type, or (no filetype feature) the one its inode has: the editor stores it only with the feature. */
    int filetypeOf(DirEntry e) throws IOException {
        if (!sb().hasIncompat(Features.INCOMPAT_FILETYPE)) return 0;
        return e.fileType() != 0 ? e.fileType() : fileType(fs.diskInode(e.inode()).mode());
    }

    static int fileType(int mode) {
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

    int dirEntryType(int mode) { return sb().hasIncompat(Features.INCOMPAT_FILETYPE) ? fileType(mode) : 0; }

    /** What to create: type bits in mode; rdev for devices; target for symlinks; atime/mtime null: now; xattrs set in the same handle (inherited ACLs). */
    record NewInode(int mode, long uid, long gid, long rdev, byte[] symlinkTarget, Inode.Timestamp atime, Inode.Timestamp mtime,
                    List<XattrCodec.Entry> xattrs) {
        NewInode(int mode, long uid, long gid, long rdev, byte[] symlinkTarget) { this(mode, uid, gid, rdev, symlinkTarget, null, null, List.of()); }
        NewInode(int mode, long uid, long gid, long rdev, byte[] symlinkTarget, Inode.Timestamp atime, Inode.Timestamp mtime) {
            this(mode, uid, gid, rdev, symlinkTarget, atime, mtime, List.of());
        }
    }

    /** Creates a file, directory, device, fifo, socket or symlink at path. */
    Inode create(String path, NewInode what) throws IOException { return create(target(path), what); }

    /** Work done in a create's handle on the new inode before it is saved (a bulk copy's first data). */
    interface InCreate { void run(Handle h, InodeUpdate child) throws IOException; }

    Inode create(Target t, NewInode what) throws IOException { return create(t, what, null); }

    Inode create(Target t, NewInode what, InCreate also) throws IOException { return create(t, what, also, false); }

    /**
     * Whether a create may run as a shared change, beside other directories' creates and unlinks
     * without the writer lock: it touches only its directory (locked by the caller), the new inode,
     * bitmaps and counts (each handle's own while it runs); not with xattrs to place (an xattr block
     * may be shared) or a long symlink's data block.
     */
    static boolean mayShare(NewInode what) {
        int type = what.mode & Inode.S_IFMT;
        if (!what.xattrs().isEmpty()) return false;
        if (type == Inode.S_IFLNK) return what.symlinkTarget != null && what.symlinkTarget.length < Inode.I_BLOCK_SIZE;
        return type == Inode.S_IFREG || type == Inode.S_IFDIR || type == Inode.S_IFCHR || type == Inode.S_IFBLK
                || type == Inode.S_IFIFO || type == Inode.S_IFSOCK;
    }

    /** create; shared: a shared handle (see {@link #mayShare}; Transactions.ExclusiveNeeded when it finds it may not). */
    Inode create(Target t, NewInode what, InCreate also, boolean shared) throws IOException {
        String path = t.path();
        if (isDot(t.name)) throw new FsException(Errno.EEXIST, path);
        if (!t.absent && fs.directory(t.parent).lookup(t.name) != null) throw new FsException(Errno.EEXIST, path);
        boolean isDir = (what.mode & Inode.S_IFMT) == Inode.S_IFDIR;
        if (what.symlinkTarget != null && (what.symlinkTarget.length == 0 || what.symlinkTarget.length >= vol.blockSize()))
            throw new FsException(what.symlinkTarget.length == 0 ? Errno.ENOENT : Errno.ENAMETOOLONG, path);
        if (isDir && t.parent.linksCount() >= FsWriter.LINK_MAX && !sb().hasRoCompat(Features.RO_DIR_NLINK))
            throw new FsException(Errno.EMLINK, "directory inode " + t.parent.number()); // before anything is allocated
        Transactions.Body<Inode> body = h -> {
            InodeUpdate parent = update(fs.diskInode(t.parent.number()));
            long ino = ialloc.allocate(h, parent.number(), isDir);
            if (shared && w.orphans.releasePending(ino)) throw new Transactions.ExclusiveNeeded("inode " + ino + " was freed with cached data still to drop");
            noteData(ino);
            Inode.Timestamp now = now();
            Inode.Editor e = Inode.Editor.blank(ino, sb())
                    .mode(what.mode).uid(what.uid).gid(what.gid).links(isDir ? 2 : 1)
                    .atime(what.atime() != null ? what.atime() : now).ctime(now).mtime(what.mtime() != null ? what.mtime() : now)
                    .crtime(now).generation(FsWriter.newGeneration());
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
                else w.space.writeData(h, child, 0, ByteBuffer.wrap(what.symlinkTarget));
            }
            if (!what.xattrs().isEmpty()) { // before an inline directory's system.data, as Linux sets ACLs in new_inode
                ByteBuffer area = e.xattrArea();
                if (area.capacity() > 0 && XattrCodec.fitsInInode(what.xattrs(), area.capacity())) XattrCodec.encodeInInode(what.xattrs(), area);
                else if (XattrCodec.fitsInBlock(what.xattrs(), vol.blockSize())) w.xattrs.storeXattrBlock(h, child, 0, what.xattrs());
                else throw new FsException(Errno.ENOSPC, path + ": inherited ACLs do not fit an xattr block");
            }
            if (isDir) {
                if (startsInline(e)) InlineData.store(e, new byte[0], 0); // empty, flagged: the editor writes the parent and the empty entry
                editor(h, child).init(ino, parent.number());
                incLinks(parent);
            }
            if (type == Inode.S_IFREG && sb().hasIncompat(Features.INCOMPAT_INLINE_DATA)) w.mayInline.add(ino);
            if (also != null) also.run(h, child);
            editor(h, parent).add(t.name, ino, dirEntryType(what.mode));
            parent.ed.mtime(now).ctime(now);
            parent.save(h, balloc);
            return child.save(h, balloc);
        };
        return shared ? w.tx.txnShared("create " + path, OP_CREDITS, body) : txn("create " + path, OP_CREDITS, body);
    }

    /** Linux's device encoding: the old 16-bit form in i_block[0] when it fits, else the new form in i_block[1]. */
    static void encodeDevice(Inode.Editor e, long rdev) {
        long major = (rdev >>> 8) & 0xFFF | ((rdev >>> 32) & ~0xFFFL), minor = (rdev & 0xFF) | ((rdev >>> 12) & ~0xFFL);
        ByteBuffer ib = e.iBlock();
        if (major < 256 && minor < 256) ib.putInt(0, (int) (major << 8 | minor));
        else ib.putInt(4, (int) ((minor & 0xFF) | (major << 8) | ((minor & ~0xFFL) << 12)));
    }

    void incLinks(InodeUpdate dir) throws IOException {
        int n = dir.ed.links();
        if (n >= FsWriter.LINK_MAX || n == 1) {
            if (!sb().hasRoCompat(Features.RO_DIR_NLINK)) {
                if (n >= FsWriter.LINK_MAX) throw new FsException(Errno.EMLINK, "directory inode " + dir.number());
            }
            dir.ed.links(1); // dir_nlink: 1 means "too many to count"
        } else {
            dir.ed.links(n + 1);
        }
    }

    static void decDirLinks(InodeUpdate dir) {
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
        if (src.linksCount() >= FsWriter.LINK_MAX) throw new FsException(Errno.EMLINK, existing);
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

    void unlink(String path) throws IOException { unlink(target(path)); }

    /** The inode unlink (dir false) or rmdir removes: EINVAL for "." and "..", ENOENT, then the type (EISDIR, ENOTDIR). */
    private Inode victim(Target t, boolean dir) throws IOException {
        if (isDot(t.name)) throw new FsException(Errno.EINVAL, t.path());
        DirEntry de = fs.directory(t.parent).lookup(t.name);
        if (de == null) throw new FsException(Errno.ENOENT, t.path());
        Inode victim = fs.diskInode(de.inode());
        if (victim.isDir() != dir) throw new FsException(dir ? Errno.ENOTDIR : Errno.EISDIR, t.path());
        return victim;
    }

    void unlink(Target t) throws IOException {
        String path = t.path();
        Inode victim = victim(t, false);
        txn("unlink " + path, OP_CREDITS * 4, h -> {
            InodeUpdate parent = update(fs.diskInode(t.parent.number()));
            editor(h, parent).remove(t.name);
            Inode.Timestamp now = now();
            parent.ed.mtime(now).ctime(now);
            parent.save(h, balloc);
            dropLink(h, update(victim), now);
            return null;
        });
        w.orphans.finishOrphan(victim.number());
    }

    /**
     * unlink as a shared change (see {@link #mayShare}), when the victim allows it: a file the
     * engine holds nothing of (cached says), not open, without an xattr block or EA inodes,
     * small enough to free in one handle; it is then never an orphan. Returns the victim's inode,
     * or null when it does not qualify (nothing done: the caller unlinks under the writer lock).
     * The caller finishes a victim that was already an orphan, under the writer lock.
     */
    Inode unlinkShared(Target t, java.util.function.LongPredicate cached) throws IOException {
        String path = t.path();
        Inode victim = victim(t, false);
        if (cached.test(victim.number()) || w.orphans.isPinned(victim.number()) || victim.fileAcl() != 0
                || sb().hasIncompat(Features.INCOMPAT_EA_INODE)) return null;
        w.tx.txnShared("unlink " + path, OP_CREDITS * 4, h -> {
            InodeUpdate parent = update(fs.diskInode(t.parent.number()));
            InodeUpdate v = update(fs.diskInode(victim.number()));
            if (v.ed.links() <= 1 && w.orphans.isBig(v)) throw new Transactions.ExclusiveNeeded("inode " + v.number() + " is freed over several handles");
            editor(h, parent).remove(t.name);
            Inode.Timestamp now = now();
            parent.ed.mtime(now).ctime(now);
            parent.save(h, balloc);
            int n = v.ed.links() - 1;
            v.ed.links(Math.max(0, n)).ctime(now);
            if (n > 0) v.save(h, balloc);
            else w.orphans.release(h, v, now, false);
            return null;
        });
        return victim;
    }

    void rmdir(String path) throws IOException { rmdir(target(path)); }

    void rmdir(Target t) throws IOException {
        String path = t.path();
        Inode victim = victim(t, true);
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
            w.orphans.release(h, v, now);
            return null;
        });
    }

    /**
     * Drops one link of a non-directory. At zero it is freed now if small and not open; otherwise
     * it goes on the orphan list and its blocks are freed in later handles (or at the last close).
     */
    void dropLink(Handle h, InodeUpdate v, Inode.Timestamp now) throws IOException {
        int n = v.ed.links() - 1;
        v.ed.links(Math.max(0, n)).ctime(now);
        if (n > 0) v.save(h, balloc);
        else if (w.orphans.isPinned(v.number()) || w.orphans.isBig(v)) { w.orphans.orphanAdd(h, v); v.save(h, balloc); }
        else w.orphans.release(h, v, now);
    }

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
        if (moving.isDir() && fs.isAncestorOrSelf(moving.number(), dst.parent.number())) throw new FsException(Errno.EINVAL, to);
        if (replaced != null && replaced.isDir() && fs.isAncestorOrSelf(replaced.number(), src.parent.number()))
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
                    w.orphans.release(h, rep, now);
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
    void exchange(Target src, Target dst, Inode a, Inode b) throws IOException {
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
}
