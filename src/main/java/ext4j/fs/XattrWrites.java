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
import java.util.List;

/**
 * Extended attributes written: in the inode when they fit, else in a (possibly shared,
 * copy-on-write) xattr block, with Linux's errnos.
 */
final class XattrWrites extends WriterPart {
    XattrWrites(FsWriter w) { super(w); }

    /** Decrements a shared xattr block's refcount, or frees it at the last user. */
    void releaseXattrBlock(Handle h, long blk) throws IOException {
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
            catch (ext4j.base.CorruptException e) { throw new FsException(Errno.EINVAL, e.getMessage()); }
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
    void storeXattrBlock(Handle h, InodeUpdate u, long blk, List<XattrCodec.Entry> entries) throws IOException {
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
}
