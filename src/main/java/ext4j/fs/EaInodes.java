package ext4j.fs;

import ext4j.base.CorruptException;
import ext4j.base.Crc32c;
import ext4j.extent.ExtentTree;
import ext4j.journal.Handle;
import ext4j.ondisk.Features;
import ext4j.ondisk.Inode;
import ext4j.xattr.XattrCodec;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Xattr values in their own inode (the ea_inode feature), as Linux keeps them: a regular inode
 * with EXT4_EA_INODE_FL, mode 0600 and the owner's uid and gid, one link, the value as its data;
 * i_atime holds the value's crc32c (from the filesystem's checksum seed), i_ctime and i_version
 * the reference count (one per entry naming it). The owner's i_blocks is charged the value rounded
 * up to clusters, as the kernel's quota charge does (for a shared inode too). The last reference
 * dropped frees the inode. Like Linux's ea_inode cache, the EA inodes this session made are
 * remembered by value hash, and a new value equal to one of them (same hash, size and bytes) shares
 * that inode with one more reference.
 */
final class EaInodes extends WriterPart {
    EaInodes(FsWriter w) { super(w); }

    boolean enabled() { return sb().hasIncompat(Features.INCOMPAT_EA_INODE); }

    /**
     * Whether a value goes straight to an EA inode: its padded size is more than one entry with a
     * 3-byte name could hold in an empty xattr block (the kernel's EXT4_XATTR_MIN_LARGE_EA_SIZE:
     * block size minus the header, one entry and the 4-byte terminator).
     */
    boolean tooBigForBlock(int len) {
        return enabled() && ((len + 3) & ~3) > vol.blockSize() - ext4j.xattr.XattrReader.BLOCK_HEADER - 20 - 4;
    }

    /** Filesystem blocks charged to the owner's i_blocks for one value of len bytes in an EA inode. */
    long chargedBlocks(long len) {
        long cluster = sb().clusterSize();
        return (len + cluster - 1) / cluster * (cluster / vol.blockSize());
    }

    /**
     * EA inodes made in this session by value hash. Entries may go stale (freed, or an aborted
     * handle undid the inode): each is checked against the inode before it is shared.
     */
    private final Map<Integer, List<Long>> made = new HashMap<>();

    /**
     * An EA inode holding value for owner, charged to owner, and the entry naming it: an equal value's
     * inode from this session with one more reference, else a new inode with one reference.
     */
    XattrCodec.Entry create(Handle h, InodeUpdate owner, int index, byte[] name, byte[] value) throws IOException {
        int hash = Crc32c.update(sb().checksumSeed(), value);
        owner.addBlocks(chargedBlocks(value.length));
        for (long ino : made.getOrDefault(hash, List.of())) {
            if (ino == owner.number()) continue;
            Inode in = fs.diskInode(ino);
            if (!in.hasFlag(Inode.FL_EA_INODE) || in.linksCount() == 0 || !in.isRegular() || in.size() != value.length
                    || in.eaValueHash() != hash || !Arrays.equals(fs.eaInodeValue(ino, value.length), value)) continue;
            InodeUpdate u = update(in);
            u.ed.eaRefCount(u.ed.eaRefCount() + 1);
            u.save(h, balloc);
            return XattrCodec.Entry.inEaInode(index, name, ino, value.length, hash);
        }
        long ino = ialloc.allocate(h, owner.number(), false);
        Inode.Timestamp now = now();
        Inode.Editor e = Inode.Editor.blank(ino, sb())
                .mode(Inode.S_IFREG | 0600).uid(owner.original.uid()).gid(owner.original.gid()).links(1)
                .mtime(now).crtime(now).generation(w.newGeneration())
                .eaValueHash(hash).eaRefCount(1);
        if (sb().hasIncompat(Features.INCOMPAT_EXTENTS)) {
            e.flags(Inode.FL_EA_INODE | Inode.FL_EXTENTS);
            ExtentTree.initEmpty(e);
        } else {
            e.flags(Inode.FL_EA_INODE);
        }
        InodeUpdate u = update(e);
        w.space.writeData(h, u, 0, ByteBuffer.wrap(value));
        u.save(h, balloc);
        List<Long> same = made.computeIfAbsent(hash, k -> new ArrayList<>());
        same.remove(ino);
        same.add(ino);
        if (same.size() > 8) same.remove(0);       // a few per hash, as a cache keeps
        return XattrCodec.Entry.inEaInode(index, name, ino, value.length, hash);
    }

    /** One more entry names the EA inode (a shared xattr block was copied). */
    void addRef(Handle h, Inode owner, XattrCodec.Entry e) throws IOException {
        Target t = target(owner, e);
        t.ea.ed.eaRefCount(t.refs() + 1);
        t.ea.save(h, balloc);
    }

    /**
     * One entry naming the EA inode is gone; at the last reference the inode and its blocks are
     * freed. Returns the blocks to take back from the owner's i_blocks (none for a Lustre-style
     * inode, which was never charged).
     */
    long dropRef(Handle h, Inode owner, XattrCodec.Entry e) throws IOException {
        Target t = target(owner, e);
        long refs = t.refs();
        if (refs > 1) {
            t.ea.ed.eaRefCount(refs - 1);
            t.ea.save(h, balloc);
        } else {
            Inode.Timestamp now = now();
            t.ea.ed.eaRefCount(0).links(0).ctime(now); // freed as Linux frees it: the changed ctime replaces the count
            w.orphans.release(h, t.ea, now);
        }
        return t.lustre ? 0 : chargedBlocks(e.valueSize());
    }

    /**
     * The EA inode an entry names, checked as e2fsck and Linux check it: a live inode with
     * EXT4_EA_INODE_FL whose value hash gives the entry's hash; or, in an old Lustre-style one
     * (no hash: i_mtime names the owner, same generation), a single uncharged reference.
     */
    private record Target(InodeUpdate ea, boolean lustre) {
        long refs() { return lustre ? 1 : ea.ed.eaRefCount(); }
    }

    private Target target(Inode owner, XattrCodec.Entry e) throws IOException {
        long ino = e.valueInum();
        String where = "inode " + owner.number() + ": xattr value inode " + ino;
        if (ino == owner.number() || ino < sb().firstInode() || ino > Integer.toUnsignedLong(sb().inodesCount()))
            throw new CorruptException(where + " is not a valid inode number");
        Inode in = fs.diskInode(ino);
        if (!in.hasFlag(Inode.FL_EA_INODE) || in.linksCount() == 0 || !in.isRegular())
            throw new CorruptException(where + " is not a live EA inode (flags 0x" + Integer.toHexString(in.flags()) + ", links " + in.linksCount() + ")");
        if (in.size() != e.valueSize()) throw new CorruptException(where + " holds " + in.size() + " bytes, the entry says " + e.valueSize());
        if (XattrCodec.eaEntryHash(e.name(), in.eaValueHash()) == e.hash()) return new Target(update(in), false);
        if (in.mtime().seconds() == owner.number() && in.generation() == owner.generation()) return new Target(update(in), true);
        throw new CorruptException(String.format("%s: entry hash 0x%08x does not match the EA inode's value hash 0x%08x", where, e.hash(), in.eaValueHash()));
    }
}
