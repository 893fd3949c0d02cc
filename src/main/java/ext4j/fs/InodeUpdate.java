package ext4j.fs;

import ext4j.base.Errno;
import ext4j.base.FsException;

import ext4j.alloc.BlockAllocator;
import ext4j.extent.BlockMapping;
import ext4j.extent.ExtentTree;
import ext4j.extent.IndirectMapping;
import ext4j.journal.Handle;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Volume;

import java.io.IOException;

/**
 * An inode being changed inside one handle: the editable copy, its extent tree when loaded, and
 * the change in allocated blocks; {@link #save} writes all of it back.
 */
final class InodeUpdate {
    final Inode original;
    final Inode.Editor ed;
    private final Volume vol;
    private final ExtentTreeCache trees; // null: always read the tree
    private BlockMapping tree;
    private long blockDelta; // filesystem blocks added (+) or released (-), data and tree, not yet in ed
    private long blocks512;  // i_blocks as stored in ed

    InodeUpdate(Volume vol, Inode inode) { this(vol, null, inode); }

    InodeUpdate(Volume vol, ExtentTreeCache trees, Inode inode) {
        this.vol = vol;
        this.trees = trees;
        this.original = inode;
        this.ed = inode.edit();
        this.blocks512 = inode.blocks512(vol.blockSize());
    }

    InodeUpdate(Volume vol, ExtentTreeCache trees, Inode.Editor fresh) throws IOException {
        this.vol = vol;
        this.trees = trees;
        this.ed = fresh;
        this.original = fresh.seal(vol.superblock());
        this.blocks512 = 0;
    }

    long number() { return ed.number(); }

    /** The inode's block mapping: its extent tree, or for ext2/ext3-style inodes its indirect blocks. */
    BlockMapping tree() throws IOException {
        if (tree == null) {
            if ((ed.flags() & Inode.FL_INLINE_DATA) != 0)
                throw new FsException(Errno.EOPNOTSUPP, "inode " + number() + " holds inline data, not a block mapping (callers move it to blocks first)");
            tree = (ed.flags() & Inode.FL_EXTENTS) != 0 ? extentTree() : IndirectMapping.load(vol, ed);
        }
        return tree;
    }

    private ExtentTree extentTree() throws IOException {
        ExtentTree t = trees == null ? null : trees.get(number());
        if (t != null) t = t.reuse(ed);
        if (t == null) {
            t = ExtentTree.load(vol, ed, original);
            if (trees != null) trees.put(number(), t);
        }
        return t;
    }

    void addBlocks(long n) { blockDelta += n; }

    /** Stores the extent tree (if touched), fixes i_blocks, seals and writes the inode. */
    Inode save(Handle h, BlockAllocator alloc) throws IOException {
        if (tree != null) blockDelta += tree.store(h, alloc);
        if (blockDelta != 0) {
            long want = blocks512 + blockDelta * (vol.blockSize() / 512);
            // an i_blocks already too small (a damaged inode, or one a repeated fast-commit replay rewrote, which
            // recounts every i_blocks at its end) stops at zero, as nothing is left to count; e2fsck names the rest
            blocks512 = Math.max(0, want);
            ed.blocks512(blocks512, vol.superblock());
            blockDelta = 0;
        }
        return vol.writeInode(h, ed);
    }
}
