package ext4j.fs;

import ext4j.alloc.BlockAllocator;
import ext4j.dir.DirStorage;
import ext4j.extent.BlockMapping;
import ext4j.extent.Extent;
import ext4j.journal.Handle;
import ext4j.base.CorruptException;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Volume;

import java.io.IOException;
import java.nio.ByteBuffer;

/** A directory inode's blocks for the directory editor: extent-mapped, journaled through one handle. */
final class InodeDirStorage implements DirStorage {
    private final Volume vol;
    private final Handle h;
    private final BlockAllocator alloc;
    private final InodeUpdate dir;

    InodeDirStorage(Volume vol, Handle h, BlockAllocator alloc, InodeUpdate dir) {
        this.vol = vol;
        this.h = h;
        this.alloc = alloc;
        this.dir = dir;
    }

    @Override public int blockSize() { return vol.blockSize(); }
    @Override public long blockCount() { return dir.ed.size() / vol.blockSize(); }

    private long physical(long lblk) throws IOException {
        Extent e = dir.tree().find(lblk);
        if (e == null || e.unwritten()) throw new CorruptException("directory inode " + dir.number() + ": block " + lblk + " is a hole");
        return e.pblk() + (lblk - e.lblk());
    }

    @Override public ByteBuffer read(long lblk) throws IOException { return vol.readMetaBlock(physical(lblk), () -> "directory inode " + dir.number() + " block " + lblk); }
    @Override public ByteBuffer write(long lblk) throws IOException { return h.getWriteAccess(physical(lblk)); }

    @Override
    public long append() throws IOException {
        long lblk = blockCount();
        BlockMapping t = dir.tree();
        long goal = t.goalFor(lblk);
        if (goal == 0) goal = FsWriter.goalForInode(vol, dir.number());
        BlockAllocator.Range r = alloc.allocate(h, goal, 1);
        t.insert(lblk, r.start(), 1, false);
        dir.addBlocks(1);
        dir.ed.size((lblk + 1) * vol.blockSize());
        h.getCreateAccess(r.start());
        return lblk;
    }

    @Override public boolean indexed() { return (dir.ed.flags() & Inode.FL_INDEX) != 0; }
    @Override public void setIndexed(boolean on) { dir.ed.flags(on ? dir.ed.flags() | Inode.FL_INDEX : dir.ed.flags() & ~Inode.FL_INDEX); }
    @Override public Integer checksumSeed() { return vol.superblock().hasMetadataCsum() ? dir.original.checksumSeed(vol.superblock()) : null; }
}
