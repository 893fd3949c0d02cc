package ext4j.fs;

import ext4j.alloc.BlockAllocator;
import ext4j.alloc.InodeAllocator;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Superblock;
import ext4j.ondisk.Volume;

import java.io.IOException;

/**
 * What each of FsWriter's concept classes works with: the filesystem, its volume and allocators,
 * inode updates, and handles run through {@link Transactions}.
 */
abstract class WriterPart {
    static final int OP_CREDITS = FsWriter.OP_CREDITS;
    final FsWriter w;
    final Ext4FileSystem fs;
    final Volume vol;
    final BlockAllocator balloc;
    final InodeAllocator ialloc;

    WriterPart(FsWriter w) {
        this.w = w;
        this.fs = w.fs;
        this.vol = w.vol;
        this.balloc = w.balloc;
        this.ialloc = w.ialloc;
    }

    Superblock sb() { return vol.superblock(); }
    InodeUpdate update(Inode inode) { return w.update(inode); }
    InodeUpdate update(Inode.Editor fresh) throws IOException { return w.update(fresh); }
    static Inode.Timestamp now() { return FsWriter.now(); }
    static long goalForInode(Volume vol, long ino) { return FsWriter.goalForInode(vol, ino); }
    <T> T txn(String what, int credits, Transactions.Body<T> body) throws IOException { return w.tx.txn(what, credits, body); }
    void noteData(long ino) { w.tx.noteData(ino); }

    /** Unmaps a file's blocks [from, to) in h and frees them (data blocks: never logged, so not forgotten). */
    void unmapData(ext4j.journal.Handle h, InodeUpdate u, long from, long to) throws IOException {
        for (BlockAllocator.Range r : u.tree().remove(from, to)) {
            balloc.free(h, r.start(), r.length());
            u.addBlocks(-r.length());
        }
    }
}
