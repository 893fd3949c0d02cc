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
import java.util.Arrays;
import java.util.List;

/**
 * Extended attributes written, placed as Linux places them: in the inode when they fit, else in a
 * (possibly shared, copy-on-write) xattr block, else, with the ea_inode feature, in an EA inode of
 * their own ({@link EaInodes}) whose entry stays in the inode or the block; with Linux's errnos.
 */
final class XattrWrites extends WriterPart {
    XattrWrites(FsWriter w) { super(w); }

    final EaInodes ea = new EaInodes(w);

    /**
     * Decrements a shared xattr block's refcount, or frees it at the last user; then, if dropRefs,
     * the EA inodes its entries name lose those references (the block's last user is being freed).
     */
    void releaseXattrBlock(Handle h, Inode owner, long blk, boolean dropRefs) throws IOException {
        ByteBuffer b = h.getWriteAccess(blk);
        int ref = b.getInt(4);
        if (ref > 1) {
            b.putInt(4, ref - 1);
            XattrBlocks.reseal(vol, b, blk);
        } else {
            if (dropRefs && ea.enabled())
                for (XattrCodec.Entry e : XattrCodec.decodeBlock(b, "inode " + owner.number() + ": xattr block " + blk))
                    if (e.inEaInode()) ea.dropRef(h, owner, e);
            h.forget(blk);
            balloc.free(h, blk, 1);
        }
    }

    /**
     * Everything an inode being freed holds through its xattrs: the EA inodes its in-inode entries
     * name (references dropped, charges taken back) and its xattr block (released, and with it the
     * references of its entries when this was the block's last user).
     */
    void releaseAll(Handle h, InodeUpdate v) throws IOException {
        String where = "inode " + v.number();
        if (ea.enabled()) {
            ByteBuffer area = v.ed.xattrArea();
            List<XattrCodec.Entry> in = new ArrayList<>(XattrCodec.decodeInInode(area, where + " in-inode xattrs"));
            for (XattrCodec.Entry e : in) if (e.inEaInode()) v.addBlocks(-ea.dropRef(h, v.original, e));
            // as Linux does, the dropped references are gone from the inode in the same transaction
            if (in.removeIf(XattrCodec.Entry::inEaInode)) XattrCodec.encodeInInode(in, area);
        }
        long xblk = v.ed.fileAcl();
        if (xblk == 0) return;
        releaseXattrBlock(h, v.original, xblk, true); // the owner's i_blocks no longer matters: it is being freed
        v.ed.fileAcl(0);
        v.addBlocks(-1);
    }

    static final int XATTR_CREATE = 1, XATTR_REPLACE = 2, XATTR_SIZE_MAX = 65536;

    /**
     * Sets (value != null) or removes an extended attribute, like setxattr(2)/removexattr(2), in
     * Linux's order: a value whose padded size exceeds an empty block's room for one entry goes to an
     * EA inode at once (ea_inode feature); otherwise the inode is tried, then the xattr block (with
     * ea_inode keeping min(block/8, 1 KiB) of the block free of values, for more names), then, with
     * ea_inode, an EA inode whose entry goes in the inode or the block. A block shared with other
     * inodes is copied before it changes, and released when it empties. ACL values arrive in the
     * Linux xattr format and are stored in ext4's compact one. Setting the value an attribute
     * already has changes nothing (not even ctime), as in Linux.
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
            catch (ext4j.base.CorruptException e) { throw new FsException(Errno.EINVAL, e.getMessage()); }
            if (want.index() == 3 && !file.isDir()) throw new FsException(Errno.EACCES, where + " (default ACLs are for directories)");
        }
        XattrCodec.Entry entry = want;
        int bs = vol.blockSize();
        txn("setxattr inode " + file.number(), OP_CREDITS * 2, h -> {
            InodeUpdate u = update(fs.diskInode(file.number()));
            ByteBuffer area = u.ed.xattrArea();
            List<XattrCodec.Entry> inInode = new ArrayList<>(XattrCodec.decodeInInode(area, where));
            long blk = u.ed.fileAcl();
            ByteBuffer block = blk == 0 ? null : vol.readMetaBlock(blk, where + " xattr block");
            List<XattrCodec.Entry> inBlock = new ArrayList<>(block == null ? List.of()
                    : XattrCodec.decodeBlock(block, "inode " + file.number() + ": xattr block " + blk));
            boolean shared = block != null && block.getInt(4) > 1;
            XattrCodec.Entry oldInInode = take(inInode, entry), oldInBlock = take(inBlock, entry);
            XattrCodec.Entry old = oldInInode != null ? oldInInode : oldInBlock;
            if (value == null && old == null) throw new FsException(Errno.ENODATA, where);
            if ((flags & XATTR_CREATE) != 0 && old != null) throw new FsException(Errno.EEXIST, where);
            if ((flags & XATTR_REPLACE) != 0 && old == null) throw new FsException(Errno.ENODATA, where);
            if (value != null && old != null && !old.inEaInode() && Arrays.equals(old.value(), entry.value())) return null;
            XattrCodec.Entry stored = null;
            if (value != null) {
                boolean big = ea.tooBigForBlock(entry.value().length);
                stored = big ? ea.create(h, u, entry.index(), entry.name(), entry.value()) : entry;
                if (!place(stored, inInode, inBlock, area.capacity(), bs)) {
                    if (big || !ea.enabled() || entry.value().length == 0)
                        throw new FsException(Errno.ENOSPC, where + " (no room in the inode or its xattr block"
                                + (ea.enabled() ? ")" : "; values in their own inode need the ea_inode feature)"));
                    stored = ea.create(h, u, entry.index(), entry.name(), entry.value());
                    if (!place(stored, inInode, inBlock, area.capacity(), bs))
                        throw new FsException(Errno.ENOSPC, where + " (no room for its entry in the inode or its xattr block)");
                }
            }
            // the old value's reference goes after the new one is made, as in Linux: an equal value keeps its inode
            for (XattrCodec.Entry o : new XattrCodec.Entry[]{oldInInode, oldInBlock}) {
                if (o == null || !o.inEaInode()) continue;
                // an entry of a shared block keeps its reference: the other inodes' block still names it
                if (o == oldInBlock && shared) u.addBlocks(-ea.chargedBlocks(o.valueSize()));
                else u.addBlocks(-ea.dropRef(h, u.original, o));
            }
            XattrCodec.encodeInInode(inInode, area);
            if (oldInBlock != null || (stored != null && inBlock.contains(stored))) storeXattrBlock(h, u, blk, inBlock, stored);
            u.ed.ctime(now());
            u.save(h, balloc);
            return null;
        });
    }

    /** Removes and returns the entry with e's name, or null. */
    private static XattrCodec.Entry take(List<XattrCodec.Entry> es, XattrCodec.Entry e) {
        for (int i = 0; i < es.size(); i++) if (es.get(i).sameName(e.index(), e.name())) return es.remove(i);
        return null;
    }

    /** Adds e to the inode's entries if they fit, else to the block's if they fit (and leave the ea_inode reserve); false: neither. */
    private boolean place(XattrCodec.Entry e, List<XattrCodec.Entry> inInode, List<XattrCodec.Entry> inBlock, int areaSize, int bs) {
        List<XattrCodec.Entry> tryInode = new ArrayList<>(inInode);
        tryInode.add(e);
        if (areaSize > 0 && XattrCodec.fitsInInode(tryInode, areaSize)) { inInode.add(e); return true; }
        List<XattrCodec.Entry> tryBlock = new ArrayList<>(inBlock);
        tryBlock.add(e);
        if (!XattrCodec.fitsInBlock(tryBlock, bs)) return false;
        // with ea_inode, Linux keeps min(block/8, 1 KiB) of a block free of values so that more names fit
        if (ea.enabled() && e.valueSize4() > 0 && bs - XattrCodec.valueBytes(tryBlock) < Math.min(bs / 8, 1024)) return false;
        inBlock.add(e);
        return true;
    }

    /**
     * Writes the inode's block entries: in place if the block is its own, else into a new block; none:
     * releases it. A shared block's copy names the same EA inodes as the original, so each of those
     * gains a reference.
     */
    void storeXattrBlock(Handle h, InodeUpdate u, long blk, List<XattrCodec.Entry> entries) throws IOException {
        storeXattrBlock(h, u, blk, entries, null);
    }

    /** As above; fresh (may be null) is the entry just made, whose reference is already counted. */
    void storeXattrBlock(Handle h, InodeUpdate u, long blk, List<XattrCodec.Entry> entries, XattrCodec.Entry fresh) throws IOException {
        int bs = vol.blockSize();
        ByteBuffer old = blk == 0 ? null : vol.readMetaBlock(blk, "xattr block");
        boolean shared = old != null && old.getInt(4) > 1;
        if (entries.isEmpty()) {
            if (blk != 0) { releaseXattrBlock(h, u.original, blk, false); u.ed.fileAcl(0); u.addBlocks(-1); }
            return;
        }
        byte[] bytes = XattrCodec.encodeBlock(entries, bs, 1);
        long target = blk;
        if (blk == 0 || shared) {
            if (shared) {
                java.util.Set<Long> named = new java.util.HashSet<>();
                for (XattrCodec.Entry e : XattrCodec.decodeBlock(old, "inode " + u.number() + ": xattr block " + blk))
                    if (e.inEaInode()) named.add(e.valueInum());
                for (XattrCodec.Entry e : entries) if (e != fresh && e.inEaInode() && named.contains(e.valueInum())) ea.addRef(h, u.original, e);
                releaseXattrBlock(h, u.original, blk, false);
                u.addBlocks(-1);
            }
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
}
