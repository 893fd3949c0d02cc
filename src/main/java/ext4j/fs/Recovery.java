package ext4j.fs;

import ext4j.block.BlockDevice;
import ext4j.block.FileBlockDevice;
import ext4j.block.OverlayBlockDevice;
import ext4j.extent.FileMap;
import ext4j.extent.Run;
import ext4j.journal.JournalRecovery;
import ext4j.journal.JournalSuperblock;
import ext4j.base.CorruptException;
import ext4j.ondisk.Features;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Superblock;
import ext4j.ondisk.Volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Mount-time journal recovery, as a Linux mount does it: whether the internal journal holds
 * transactions to replay, scanning them (every checksum), writing them home with the superblock's
 * free counts redone and needs_recovery cleared, or building the replayed superblock block for an
 * in-memory view; and the journal inode's block map the log itself is written through.
 */
final class Recovery {
    private final Ext4FileSystem fs;
    final Volume vol;

    Recovery(Ext4FileSystem fs) {
        this.fs = fs;
        this.vol = fs.volume();
    }

    Superblock sb() { return vol.superblock(); }

    /** Journal logical block -> filesystem block, for the whole internal journal. */
    long[] journalBlockMap() throws IOException {
        Inode j = fs.inode(Integer.toUnsignedLong(sb().journalInode()));
        long blocks = j.size() / vol.blockSize();
        if (blocks <= 0 || blocks > (1 << 24)) throw new CorruptException("journal inode " + j.number() + ": size " + j.size() + " is not a journal");
        // before the map is sized by it: a damaged i_size would cost 8 bytes a block (128 MiB at the cap)
        if (j.blocks512(vol.blockSize()) < blocks * (vol.blockSize() / 512))
            throw new CorruptException("journal inode " + j.number() + ": size " + j.size() + " but only " + j.blocks512(vol.blockSize()) * 512 + " bytes allocated");
        long[] m = new long[(int) blocks];
        FileMap fm = fs.fileMap(j);
        for (long l = 0; l < blocks; ) {
            Run r = fm.find(l);
            if (r.kind() != Run.Kind.MAPPED) throw new CorruptException("journal inode " + j.number() + ": block " + l + " is not mapped");
            for (long k = 0; k < r.length() && l < blocks; k++, l++) m[(int) l] = r.physical() + k;
        }
        return m;
    }

    /** needs_recovery with a journal that holds transactions. */
    boolean needsRecovery() throws IOException {
        if (!sb().hasIncompat(Features.INCOMPAT_RECOVER)) return false;
        if (sb().journalInode() == 0) {
            if (sb().hasCompat(Features.COMPAT_HAS_JOURNAL)) throw new CorruptException(vol.device().name() + ": needs recovery from an external journal, which ext4j does not support");
            return false;
        }
        JournalSuperblock j = journalSuperblock();
        return j != null && !j.isClean();
    }

    long sbBlock() { return Superblock.OFFSET / vol.blockSize(); }

    /** The block holding the superblock (replayed version if given) with needs_recovery cleared and the checksum redone. */
    byte[] superblockBlockWithoutRecover(byte[] replayed) throws IOException {
        int bs = vol.blockSize();
        byte[] blk = replayed != null ? replayed.clone() : new byte[bs];
        if (replayed == null) vol.device().read(sbBlock() * bs, ByteBuffer.wrap(blk));
        ByteBuffer r = ByteBuffer.wrap(blk).order(java.nio.ByteOrder.LITTLE_ENDIAN).slice(Superblock.OFFSET % bs, Superblock.SIZE).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        Superblock.Editor e = new Superblock.Editor(r);
        e.clearIncompat(Features.INCOMPAT_RECOVER);
        e.seal();
        return blk;
    }

    /** A copy of the block holding the superblock with needs_recovery set and the checksum redone. */
    byte[] superblockBlockWithRecover(byte[] block) {
        byte[] blk = block.clone();
        ByteBuffer r = ByteBuffer.wrap(blk).order(java.nio.ByteOrder.LITTLE_ENDIAN).slice(Superblock.OFFSET % vol.blockSize(), Superblock.SIZE).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        Superblock.Editor e = new Superblock.Editor(r);
        e.setIncompat(Features.INCOMPAT_RECOVER);
        e.seal();
        return blk;
    }

    JournalRecovery.Result scan() throws IOException { return scan(Runtime.getRuntime().maxMemory() / 2); }

    /** The scan, holding at most memoryBudget bytes of replayed blocks (else ENOMEM, JournalRecovery.scan). */
    JournalRecovery.Result scan(long memoryBudget) throws IOException {
        long[] jmap = journalBlockMap();
        return JournalRecovery.scan(vol.device(), vol.blockSize(), sb().blocksCount(), new JournalRecovery.JournalMap() {
            @Override public long physical(long l) { return l >= 0 && l < jmap.length ? jmap[(int) l] : -1; }
            @Override public long length() { return jmap.length; }
        }, sb().inodeSize(), memoryBudget);
    }

    /** Writes the replayed blocks home, empties the log, then clears needs_recovery. */
    void replay(JournalRecovery.Result r) throws IOException {
        long[] jmap = journalBlockMap();
        BlockDevice dev = vol.device();
        int bs = vol.blockSize();
        // the superblock's free counts lag behind the descriptors' (Linux updates them lazily): redo them, as
        // e2fsck does, in the superblock that goes home with the replayed blocks (needs_recovery still set),
        // so a cut after the log is emptied leaves nothing to redo but the flag
        Map<Long, byte[]> blocks = new HashMap<>(r.blocks());
        Volume replayed = Volume.open(new OverlayBlockDevice(dev, blocks, bs), true);
        long freeBlocks = 0, freeInodes = 0;
        for (long g = 0; g < replayed.groupCount(); g++) { freeBlocks += replayed.group(g).freeBlocks(); freeInodes += replayed.group(g).freeInodes(); }
        byte[] sbBlk = blocks.get(sbBlock());
        if (sbBlk == null) { sbBlk = new byte[bs]; dev.read(sbBlock() * bs, ByteBuffer.wrap(sbBlk)); }
        sbBlk = sbBlk.clone();
        Superblock.Editor e = new Superblock.Editor(superblockIn(sbBlk));
        e.freeBlocks(freeBlocks).freeInodes(freeInodes);
        e.seal();
        blocks.put(sbBlock(), sbBlk);
        JournalRecovery.writeHome(dev, bs, l -> jmap[(int) l], r.withBlocks(blocks));
        dev.write(sbBlock() * bs, ByteBuffer.wrap(superblockBlockWithoutRecover(null)));
        dev.flush();
    }

    private ByteBuffer superblockIn(byte[] blk) {
        return ByteBuffer.wrap(blk).order(java.nio.ByteOrder.LITTLE_ENDIAN).slice(Superblock.OFFSET % vol.blockSize(), Superblock.SIZE).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * `ext4j recover`: replays a journal that needs it onto the image. Returns what was done, or null
     * if the journal was clean.
     */
    static JournalRecovery.Result recover(Path image) throws IOException {
        JournalRecovery.Result r = null;
        boolean orphans;
        try (BlockDevice dev = FileBlockDevice.open(image, false)) {
            Recovery rec = new Recovery(Ext4FileSystem.openAsIs(dev, true));
            if (rec.needsRecovery()) {
                r = FastCommitReplay.apply(rec, rec.scan());
                rec.replay(r);
            } else if (rec.sb().hasIncompat(Features.INCOMPAT_RECOVER)) {   // flag set, log empty: just clear it
                dev.write(rec.sbBlock() * rec.vol.blockSize(), ByteBuffer.wrap(rec.superblockBlockWithoutRecover(null)));
                dev.flush();
            }
            Superblock after = Ext4FileSystem.openAsIs(dev, true).superblock();
            orphans = after.lastOrphan() != 0 || after.hasRoCompat(Features.RO_ORPHAN_PRESENT);
        }
        // like a mount, finish the orphan list and the orphan file (unlinked-open inodes, interrupted
        // truncates); the close clears orphan_present
        if (orphans) try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(image, false)) { fs.sync(); }
        return r;
    }

    /** The internal journal's superblock, or null when the filesystem has no internal journal. */
    JournalSuperblock journalSuperblock() throws IOException {
        if (!sb().hasCompat(Features.COMPAT_HAS_JOURNAL) || sb().journalInode() == 0) return null;
        Inode j = fs.inode(Integer.toUnsignedLong(sb().journalInode()));
        Run first = fs.fileMap(j).find(0);
        if (first.kind() != Run.Kind.MAPPED) throw new CorruptException("journal inode " + j.number() + ": first block is not mapped");
        ByteBuffer b = vol.readMetaBlock(first.physical(), "journal superblock");
        return JournalSuperblock.parse(b, "journal inode " + j.number() + " block " + first.physical());
    }
}
