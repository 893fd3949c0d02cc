package ext4j.alloc;

import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.journal.Handle;
import ext4j.base.CorruptException;
import ext4j.ondisk.Features;
import ext4j.ondisk.GroupDesc;
import ext4j.ondisk.Superblock;
import ext4j.ondisk.Volume;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * Allocates and frees inode numbers in the inode bitmaps, keeping free and directory counts,
 * INODE_UNINIT and itable_unused the way e2fsck expects. Placement follows the spirit of Linux's
 * Orlov allocator: a new directory under the root goes to the flex group with the most free inodes
 * and blocks (spreading top-level trees), other directories and files stay in their parent's flex
 * group while it has room.
 */
public final class InodeAllocator {
    private final Volume vol;

    public InodeAllocator(Volume vol) { this.vol = vol; }

    private boolean groupCsum() {
        Superblock sb = vol.superblock();
        return sb.hasMetadataCsum() || sb.hasRoCompat(Features.RO_GDT_CSUM);
    }

    private long flexSize() {
        Superblock sb = vol.superblock();
        return sb.hasIncompat(Features.INCOMPAT_FLEX_BG) ? 1L << sb.logGroupsPerFlex() : 1;
    }

    /** Picks a group and allocates the lowest free inode in it. */
    public long allocate(Handle h, long parentIno, boolean dir) throws IOException {
        Superblock sb = vol.superblock();
        long groups = vol.groupCount();
        long parentGroup = (parentIno - 1) / sb.inodesPerGroup();
        long start = dir && parentIno == ext4j.ondisk.Inode.ROOT ? spreadGroup() : parentGroup;
        for (long i = 0; i < groups; i++) {
            long g = (start + i) % groups;
            if (vol.group(g).freeInodes() == 0) continue;
            long ino = allocateInGroup(h, g, dir);
            if (ino > 0) return ino;
        }
        throw new FsException(Errno.ENOSPC, vol.device().name());
    }

    /** The first group of the flex group with the most free inodes among those with at least average free blocks. */
    private long spreadGroup() {
        long groups = vol.groupCount(), flex = flexSize();
        long flexes = (groups + flex - 1) / flex;
        long totalBlocks = 0;
        for (long g = 0; g < groups; g++) totalBlocks += vol.group(g).freeBlocks();
        long avgBlocks = totalBlocks / flexes;
        long best = 0, bestInodes = -1, bestDirs = Long.MAX_VALUE;
        for (long f = 0; f < flexes; f++) {
            long inodes = 0, blocks = 0, dirs = 0;
            for (long g = f * flex; g < Math.min(groups, (f + 1) * flex); g++) {
                GroupDesc d = vol.group(g);
                inodes += d.freeInodes();
                blocks += d.freeBlocks();
                dirs += d.usedDirs();
            }
            if (inodes == 0 || blocks < avgBlocks) continue;
            if (dirs < bestDirs || (dirs == bestDirs && inodes > bestInodes)) { best = f; bestInodes = inodes; bestDirs = dirs; }
        }
        return best * flex;
    }

    private byte[] bitmap(long g) throws IOException {
        GroupDesc gd = vol.group(g);
        byte[] bm = new byte[vol.blockSize()];
        if (gd.hasFlag(GroupDesc.FLAG_INODE_UNINIT)) {
            for (long i = vol.superblock().inodesPerGroup(); i < (long) vol.blockSize() * 8; i++) GroupLayout.set(bm, i);
        } else {
            vol.readMetaBlock(gd.inodeBitmap(), "group " + g + " inode bitmap").get(0, bm);
        }
        return bm;
    }

    /** Per group, an inode index below which all are in use: allocation scans from there. */
    private final java.util.Map<Long, Long> usedBelow = new java.util.concurrent.ConcurrentHashMap<>();

    /** A handle was aborted: inodes it took are free again. */
    public synchronized void aborted() { usedBelow.clear(); }

    /**
     * Inodes taken by running handles, not yet in the published bitmap: no other handle takes them.
     * Handles share a group's bitmap block (merged access), each setting only bits it claimed here.
     * A claim is let go after its handle published the bit; an allocation that got its claim looks
     * at the bit again in the latest bytes: so it sees either the other's claim or its bit.
     */
    private final java.util.Set<Long> claimed = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private void unclaim(long ino) { claimed.remove(ino); }

    private long allocateInGroup(Handle h, long g, boolean dir) throws IOException {
        Superblock sb = vol.superblock();
        int ipg = sb.inodesPerGroup();
        ByteBuffer blk;
        if (vol.group(g).hasFlag(GroupDesc.FLAG_INODE_UNINIT)) {
            // the first inode of a group: the handle has the bitmap alone while it initializes it
            blk = h.getWriteAccess(vol.group(g).inodeBitmap());
            if (vol.group(g).hasFlag(GroupDesc.FLAG_INODE_UNINIT)) blk.put(0, bitmap(g)); // the padding past ipg set
        } else {
            blk = h.getMergedAccess(vol.group(g).inodeBitmap()); // the latest bits, and this handle's own
        }
        long first = g == 0 ? sb.firstInode() - 1 : 0; // reserved inodes 1..first_ino-1 are never handed out
        for (long i = Math.max(first, usedBelow.getOrDefault(g, 0L)); i < ipg; i++) {
            int by = blk.get((int) (i >>> 3));
            if ((i & 7) == 0 && i + 8 <= ipg && by == (byte) 0xFF) { i += 7; continue; } // a full byte
            if ((by & (1 << (i & 7))) != 0) continue;
            long ino = g * ipg + i + 1;
            if (!claimed.add(ino)) continue;                  // another running handle took it
            blk = h.getMergedAccess(vol.group(g).inodeBitmap());   // the latest bits again: one published since the scan shows now
            if ((blk.get((int) (i >>> 3)) & (1 << (i & 7))) != 0) { claimed.remove(ino); continue; }
            h.onStop(() -> unclaim(ino));                     // published then: the bit shows it
            h.onAbort(() -> unclaim(ino));
            usedBelow.put(g, i + 1);
            int byteAt = (int) (i >>> 3);
            blk.put(byteAt, (byte) (blk.get(byteAt) | (1 << (i & 7))));
            storeCounts(h, g, -1, dir ? 1 : 0, i);
            return ino;
        }
        return 0;
    }

    /**
     * Marks inode ino used (journal replay of a fast commit that names it): its bitmap bit, the
     * group's counts and unused-table mark. Returns false when it was already used.
     */
    public boolean markUsed(Handle h, long ino, boolean dir) throws IOException {
        Superblock sb = vol.superblock();
        int ipg = sb.inodesPerGroup();
        long g = (ino - 1) / ipg, i = (ino - 1) % ipg;
        ByteBuffer blk = h.getWriteAccess(vol.group(g).inodeBitmap());   // alone: replay runs by itself
        byte[] bm = bitmap(g);
        if (GroupLayout.test(bm, i)) return false;
        GroupLayout.set(bm, i);
        blk.put(0, bm);
        storeCounts(h, g, -1, dir ? 1 : 0, i);
        return true;
    }

    /** Whether inode ino's bitmap bit is set. */
    public boolean inUse(long ino) throws IOException {
        int ipg = vol.superblock().inodesPerGroup();
        return GroupLayout.test(bitmap((ino - 1) / ipg), (ino - 1) % ipg);
    }

    /** Frees inode ino (its bitmap bit); the caller has already released its blocks and set dtime. */
    public void free(Handle h, long ino, boolean dir) throws IOException {
        Superblock sb = vol.superblock();
        int ipg = sb.inodesPerGroup();
        long g = (ino - 1) / ipg, i = (ino - 1) % ipg;
        if (vol.group(g).hasFlag(GroupDesc.FLAG_INODE_UNINIT)) throw new CorruptException("inode " + ino + " is freed in group " + g + ", whose inode bitmap is uninitialized");
        ByteBuffer blk = h.getMergedAccess(vol.group(g).inodeBitmap());   // the caller holds the inode: its bit is this handle's
        int byteAt = (int) (i >>> 3), bit = 1 << (i & 7);
        if ((blk.get(byteAt) & bit) == 0) throw new CorruptException("inode " + ino + " is already free in group " + g + "'s inode bitmap (double free)");
        blk.put(byteAt, (byte) (blk.get(byteAt) & ~bit));
        usedBelow.computeIfPresent(g, (k, v) -> Math.min(v, i));
        storeCounts(h, g, 1, dir ? -1 : 0, -1);
    }

    /**
     * The group's and the filesystem's counts after the handle changed one bit of the group's
     * inode bitmap (taken: index taken, else -1); its checksum is computed as the transaction closes.
     */
    private void storeCounts(Handle h, long g, long dFree, long dDirs, long taken) throws IOException {
        Superblock sb = vol.superblock();
        GroupDesc gd = vol.group(g);
        long free = gd.freeInodes() + dFree, dirs = gd.usedDirs() + dDirs;
        if (free < 0 || free > sb.inodesPerGroup() || dirs < 0) throw new CorruptException("group " + g + " inode counts would become free " + free + ", dirs " + dirs);
        if (gd.hasFlag(GroupDesc.FLAG_INODE_UNINIT)) vol.updateGroup(h, g, e -> e.clearFlags(GroupDesc.FLAG_INODE_UNINIT)); // this handle has the bitmap alone
        vol.adjustGroup(h, g, 0, dFree, dDirs);
        if (taken >= 0 && groupCsum()) vol.lowerItableUnused(g, sb.inodesPerGroup() - taken - 1);
        vol.bitmapsChanged(g);
        vol.adjustFreeCounts(h, 0, dFree);
    }
}
