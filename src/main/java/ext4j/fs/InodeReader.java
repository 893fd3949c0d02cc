package ext4j.fs;

import ext4j.base.Errno;
import ext4j.base.FsException;

import ext4j.block.FileBlockDevice;
import ext4j.dir.DirEntry;
import ext4j.dir.Directory;
import ext4j.extent.BlockMap;
import ext4j.extent.ExtentMap;
import ext4j.extent.FileMap;
import ext4j.extent.Run;
import ext4j.base.CorruptException;
import ext4j.ondisk.Features;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Superblock;
import ext4j.ondisk.Volume;
import ext4j.xattr.Xattr;
import ext4j.xattr.XattrReader;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.List;

/**
 * Reading an inode's contents straight from the device: its block map (extent tree or indirect
 * blocks), inline data, directories, symlink targets, xattrs (in-inode, block, ea_inode values),
 * sparse-preserving copies out, and the size check that keeps a damaged i_size from turning a
 * read into a walk over 2^40 holes. Buffered reads of regular files in a read-write open go
 * through the engine instead (Ext4FileSystem.read), and so do reads that need fs-verity.
 */
final class InodeReader {
    private final Ext4FileSystem fs;
    private final Volume vol;

    InodeReader(Ext4FileSystem fs, Volume vol) {
        this.fs = fs;
        this.vol = vol;
    }

    private Superblock sb() { return vol.superblock(); }

    public Directory directory(Inode dir) throws IOException {
        if (!dir.isDir()) throw new FsException(Errno.ENOTDIR, "inode " + dir.number());
        if (dir.hasFlag(Inode.FL_INLINE_DATA)) return new Directory(vol, dir, null, inlineData(dir));
        return new Directory(vol, dir, fileMap(dir), null);
    }

    public List<DirEntry> list(Inode dir) throws IOException { return directory(dir).list(); }

    // ---- file data ----

    /** The block mapping of an inode: extent tree or ext2/3 block map. */
    public FileMap fileMap(Inode inode) throws IOException {
        if (inode.hasFlag(Inode.FL_EXTENTS)) {
            return new ExtentMap(vol, inode.number(), inode.iBlock(), sb().hasMetadataCsum() ? inode.checksumSeed(sb()) : null);
        }
        // reached through a damaged inode (its flags say inline where its use says blocks): damage, named, not a crash
        if (inode.hasFlag(Inode.FL_INLINE_DATA)) throw new ext4j.base.CorruptException("inode " + inode.number() + " holds inline data, not blocks");
        return new BlockMap(vol, inode.number(), inode.iBlock());
    }

    /**
     * Inline file or directory bytes: the 60 bytes of i_block then the system.data xattr value, cut
     * to i_size for files. A file's i_size may pass them (Linux writes into a file truncated up
     * before its first write inline, e2fsck accepts it): the bytes past the stored ones are zeros.
     */
    public byte[] inlineData(Inode inode) throws IOException {
        byte[] extra = new byte[0];
        for (Xattr x : inInodeXattrs(inode)) if (x.name().equals("system.data")) extra = x.value();
        byte[] all = new byte[Inode.I_BLOCK_SIZE + extra.length];
        inode.iBlock().get(0, all, 0, Inode.I_BLOCK_SIZE);
        System.arraycopy(extra, 0, all, Inode.I_BLOCK_SIZE, extra.length);
        if (!inode.isDir()) {
            return inode.size() >= all.length ? all : java.util.Arrays.copyOf(all, (int) inode.size());
        }
        return all;
    }

    /**
     * A regular file's size, refused when no block map could reach it: a damaged i_size (say 2^50)
     * would otherwise have readers walk ~2^40 one-block holes past the mappable range.
     */
    long checkedSize(Inode inode) throws CorruptException {
        long size = inode.size(), most = FileMap.MAX_LOGICAL * vol.blockSize();
        if (size > most) throw new CorruptException("inode " + inode.number() + ": i_size " + size + " is beyond the largest file ext4 can map (" + most + " bytes)");
        return size;
    }

    /** The bytes at [pos, pos + dst.remaining()) read from the device (holes and unwritten extents as zeros), or -1 at EOF. */
    int readFromDevice(Inode inode, long pos, ByteBuffer dst) throws IOException {
        long size = inode.size();
        if (pos >= size) return -1;
        int want = (int) Math.min(dst.remaining(), size - pos);
        if (inode.hasFlag(Inode.FL_INLINE_DATA)) { // bytes past the stored ones read as zeros
            byte[] d = inlineData(inode);
            int have = (int) Math.max(0, Math.min(want, d.length - pos));
            if (have > 0) dst.put(d, (int) pos, have);
            for (int i = have; i < want; i++) dst.put((byte) 0);
            return want;
        }
        FileMap map = fileMap(inode);
        int bs = vol.blockSize();
        int done = 0;
        while (done < want) {
            long p = pos + done;
            long lblk = p / bs;
            Run r = map.find(lblk);
            int inRun = (int) Math.min(want - done, r.end() * bs - p);
            if (r.hasData()) {
                int skip = (int) (p - lblk * bs);
                ByteBuffer slice = dst.slice(dst.position() + done, inRun);
                vol.device().read((r.physical()) * bs + skip, slice);
            } else {
                for (int i = 0; i < inRun; i++) dst.put(dst.position() + done + i, (byte) 0);
            }
            done += inRun;
        }
        dst.position(dst.position() + done);
        return done;
    }

    /**
     * Copies a regular file's contents into out (a new, empty file) at the same offsets, writing
     * only mapped data: holes and unwritten ranges stay holes in out. Sets out's size to the file size.
     */
    public void copyTo(Inode inode, FileChannel out, Ext4FileSystem.Progress progress) throws IOException {
        long size = checkedSize(inode);
        long written = 0; // out's position: the end of the last byte written
        if (inode.hasFlag(Inode.FL_VERITY)) {                 // every byte checked against the Merkle tree on the way
            ByteBuffer b = ByteBuffer.allocate(1 << 20);
            for (long pos = 0; pos < size; ) {
                int n = fs.read(inode, pos, b.clear());
                if (n <= 0) break;
                out.write(b.flip(), pos);
                pos += n;
                progress.advance(n);
            }
            written = size;
        } else if (inode.hasFlag(Inode.FL_INLINE_DATA)) {
            out.write(ByteBuffer.wrap(inlineData(inode)), 0);
            written = size;
            progress.advance(size);
        } else {
            FileMap map = fileMap(inode);
            int bs = vol.blockSize();
            long blocks = (size + bs - 1) / bs;
            for (long l = 0; l < blocks; ) {
                Run r = map.find(l);
                long end = Math.min(r.end(), blocks);
                if (r.hasData()) {
                    long from = l * bs, len = Math.min(end * bs, size) - from;
                    if (written != from) out.position(from); // skip a hole; the channel tracks its own position otherwise
                    copyRange(r.physical() * bs, len, out);
                    written = from + len;
                    progress.advance(len);
                }
                l = end;
            }
        }
        // a trailing hole: extend to the full size by writing the last byte, which reads as zero anyway
        if (written < size) out.write(ByteBuffer.allocate(1), size - 1);
    }

    /** Appends len bytes of the device at devOff to out at its current position: zero-copy from an image file. */
    private void copyRange(long devOff, long len, FileChannel out) throws IOException {
        if (vol.device() instanceof FileBlockDevice f) {
            for (long done = 0; done < len; ) {
                long n = f.channel().transferTo(devOff + done, len - done, out);
                if (n <= 0) throw new java.io.EOFException(vol.device().name() + ": short read at byte " + (devOff + done));
                done += n;
            }
            return;
        }
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(len, 1 << 20));
        for (long done = 0; done < len; ) {
            buf.clear().limit((int) Math.min(buf.capacity(), len - done));
            vol.device().read(devOff + done, buf);
            done += buf.position();
            buf.flip();
            while (buf.hasRemaining()) out.write(buf);
        }
    }

    // ---- symlinks ----

    /** The target of a symlink: fast (in i_block), inline, or in data blocks. */
    public byte[] readlink(Inode inode) throws IOException {
        if (!inode.isSymlink()) throw new FsException(Errno.EINVAL, "inode " + inode.number());
        long size = inode.size();
        if (size > vol.blockSize() || size >= 4096) throw new CorruptException("inode " + inode.number() + ": symlink length " + size + " too long");
        byte[] target = new byte[(int) size];
        if (isFastSymlink(inode)) {
            if (size >= Inode.I_BLOCK_SIZE) throw new CorruptException("inode " + inode.number() + ": fast symlink length " + size + " does not fit in i_block");
            inode.iBlock().get(0, target);
        } else {
            ByteBuffer b = ByteBuffer.wrap(target);
            while (b.hasRemaining()) if (fs.read(inode, b.position(), b) < 0) break;
        }
        return target;
    }

    /**
     * Whether the target lives in i_block. As the kernel decides it: with ea_inode any target under
     * 60 bytes; otherwise an inode that owns no blocks besides its xattr block (one cluster).
     */
    private boolean isFastSymlink(Inode inode) {
        if (inode.hasFlag(Inode.FL_INLINE_DATA)) return false;
        if (sb().hasIncompat(Features.INCOMPAT_EA_INODE)) return inode.size() > 0 && inode.size() < Inode.I_BLOCK_SIZE;
        long eaBlocks = inode.fileAcl() != 0 ? sb().clusterSize() / 512 : 0;
        return inode.blocks512(vol.blockSize()) - eaBlocks == 0;
    }

    // ---- xattrs ----

    private List<Xattr> inInodeXattrs(Inode inode) throws IOException {
        List<Xattr> out = new ArrayList<>();
        XattrReader.readInInode(inode.inlineXattrArea(), inode.number(), (ino, size, name, hash) -> checkedEaInodeValue(inode, ino, size, name, hash), out);
        return out;
    }

    /** Every extended attribute of the inode: in-inode first, then the xattr block. system.data is internal and left out. */
    public List<Xattr> xattrs(Inode inode) throws IOException {
        List<Xattr> out = inInodeXattrs(inode);
        long blk = inode.fileAcl();
        if (blk != 0) {
            ByteBuffer b = vol.readMetaBlock(blk, "inode " + inode.number() + " xattr block");
            XattrReader.readBlock(b, blk, sb().hasMetadataCsum() ? sb().checksumSeed() : null, inode.number(), (ino, size, name, hash) -> checkedEaInodeValue(inode, ino, size, name, hash), out);
        }
        out.removeIf(x -> x.name().equals("system.data"));
        return out;
    }

    /**
     * An EA inode's value for owner's xattr, its hashes checked as Linux's ext4_xattr_inode_get does:
     * the EA inode keeps crc32c(checksum seed, value) in i_atime, and the entry's e_hash is made
     * from its name and that hash; a value or an entry that does not match is damage. EA inodes in
     * the older Lustre style (i_mtime holding the owner's number and the generation the owner's)
     * carry no such hashes and are not checked, as in Linux.
     */
    private byte[] checkedEaInodeValue(Inode owner, long ino, int size, byte[] name, int entryHash) throws IOException {
        byte[] v = eaInodeValue(ino, size);
        Inode ea = fs.diskInode(ino);
        if (ea.mtime().seconds() == owner.number() && ea.generation() == owner.generation()) return v;
        int hash = ext4j.base.Crc32c.update(sb().checksumSeed(), v);
        String at = "inode " + owner.number() + ": xattr value inode " + ino;
        if (hash != ea.eaValueHash())
            throw new CorruptException(String.format("%s: value hash 0x%08x does not match the stored 0x%08x", at, hash, ea.eaValueHash()));
        if (ext4j.xattr.XattrCodec.eaEntryHash(name, hash) != entryHash && ext4j.xattr.XattrCodec.eaEntryHashSigned(name, hash) != entryHash)
            throw new CorruptException(String.format("%s: the entry's hash 0x%08x does not match its name and value (0x%08x)", at, entryHash, ext4j.xattr.XattrCodec.eaEntryHash(name, hash)));
        return v;
    }

    /** An EA inode's value, read from the device: EA inodes are not files, their bytes never pass through the page cache. */
    byte[] eaInodeValue(long ino, int size) throws IOException {
        Inode ea = fs.diskInode(ino);
        if (!ea.hasFlag(Inode.FL_EA_INODE) || ea.size() != size)
            throw new CorruptException("xattr value inode " + ino + ": not an EA inode of size " + size);
        byte[] v = new byte[size];
        ByteBuffer b = ByteBuffer.wrap(v);
        while (b.hasRemaining()) if (readFromDevice(ea, b.position(), b) <= 0) break;
        if (b.hasRemaining()) throw new CorruptException("xattr value inode " + ino + ": value ends after " + b.position() + " of " + size + " bytes");
        return v;
    }

    // ---- journal ----
}
