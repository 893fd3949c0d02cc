package ext4j.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import ext4j.dir.DirBlock;
import ext4j.dir.DirEntry;
import ext4j.dir.DxHash;
import ext4j.fs.Ext4FileSystem;
import ext4j.fs.Ext4Vfs;
import ext4j.fs.Options;
import ext4j.fuzz.FuzzImages.Kind;
import ext4j.fuzz.FuzzImages.Mutated;
import ext4j.ondisk.Features;
import ext4j.ondisk.Inode;
import ext4j.ondisk.Superblock;
import ext4j.xattr.PosixAcl;
import ext4j.xattr.Xattr;
import ext4j.xattr.XattrCodec;
import ext4j.xattr.XattrReader;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The on-disk parsers: each fed raw bytes where its API takes bytes, and in place in a seed image
 * (patches confined to that structure's blocks, then the image opened and walked) where it needs a
 * filesystem around it.
 */
class OnDiskFuzzTest {
    // ---- raw bytes ----

    @FuzzTest(maxDuration = "10s")
    void superblock(byte[] in) {
        Contract.check("superblock", () -> {
            Superblock sb = Superblock.parse(ByteBuffer.wrap(Arrays.copyOf(in, Superblock.SIZE)).order(ByteOrder.LITTLE_ENDIAN), "fuzz");
            sb.blockSize(); sb.clusterSize(); sb.descSize(); sb.checksumSeed(); sb.firstInode(); sb.inodeSize(); sb.blocksCount();
            Features.roCompatNames(sb.featureRoCompat());
            sb.volumeName(); sb.kind();
        });
    }

    @FuzzTest(maxDuration = "10s")
    void dirBlock(FuzzedDataProvider d) {
        int bs = 1024 << d.consumeInt(0, 2);
        boolean filetype = d.consumeBoolean();
        byte[] name = d.consumeBytes(255);
        byte[] block = Arrays.copyOf(d.consumeRemainingAsBytes(), bs);
        ByteBuffer b = ByteBuffer.wrap(block).order(ByteOrder.LITTLE_ENDIAN);
        Contract.check("directory block", () -> {
            int end = DirBlock.hasTail(b, bs) ? bs - DirBlock.TAIL_SIZE : bs;
            List<DirEntry> out = new ArrayList<>();
            DirBlock.parse(b, 0, end, filetype, 1 << 20, bs, "fuzz block", out::add);
            DirBlock.find(b, 0, end, filetype, 1 << 20, bs, "fuzz block", name);
        });
    }

    @FuzzTest(maxDuration = "10s")
    void dxHash(FuzzedDataProvider d) {
        int version = d.consumeInt(-1, 7);
        int[] seed = {d.consumeInt(), d.consumeInt(), d.consumeInt(), d.consumeInt()};
        byte[] name = d.consumeRemainingAsBytes();
        try {
            DxHash.hash(name, 0, name.length, version, d.consumeBoolean() ? seed : null);
            DxHash.minorHash(name, 0, name.length, version, seed);
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            // an unknown version and siphash are the caller's to refuse (Directory does, naming the inode); the six hashes must work
            if (version >= DxHash.LEGACY && version <= DxHash.TEA_UNSIGNED) throw e;
        }
    }

    @FuzzTest(maxDuration = "10s")
    void xattrInInode(byte[] in) {
        Contract.check("in-inode xattrs", () -> {
            ByteBuffer area = ByteBuffer.wrap(in).order(ByteOrder.LITTLE_ENDIAN);
            List<Xattr> out = new ArrayList<>();
            XattrReader.readInInode(area, 12, (ino, size, name, hash) -> new byte[Math.min(size, 1 << 16)], out);
            XattrCodec.decodeInInode(area, "fuzz inode");
        });
    }

    @FuzzTest(maxDuration = "10s")
    void xattrBlock(FuzzedDataProvider d) {
        int bs = 1024 << d.consumeInt(0, 2);
        Integer seed = d.consumeBoolean() ? d.consumeInt() : null;
        byte[] block = Arrays.copyOf(d.consumeRemainingAsBytes(), bs);
        Contract.check("xattr block", () -> {
            List<Xattr> out = new ArrayList<>();
            ByteBuffer b = ByteBuffer.wrap(block).order(ByteOrder.LITTLE_ENDIAN);
            try {
                XattrReader.readBlock(b, 99, seed, 12, (ino, size, name, hash) -> new byte[Math.min(size, 1 << 16)], out);
            } finally {
                XattrCodec.decodeBlock(b, "fuzz xattr block");
            }
        });
    }

    @FuzzTest(maxDuration = "10s")
    void posixAcl(byte[] in) {
        Contract.check("acl", () -> {
            try {
                PosixAcl a = PosixAcl.fromExt4(in, "fuzz ext4 acl");
                PosixAcl back = PosixAcl.fromXattr(a.toXattr(), "round trip");
                if (!back.equals(a)) throw new AssertionError("ext4 ACL does not survive the xattr format: " + a + " vs " + back);
                a.toText();
                a.toExt4();
            } finally {
                PosixAcl.fromXattr(in, "fuzz xattr acl").toText();
            }
        });
    }

    // ---- in place in a seed image ----

    private static void openAndWalk(Mutated m, boolean checkBytes) {
        Contract.check(m.description(), () -> {
            try (Ext4Vfs vfs = Ext4Vfs.open(m.device(true), Options.defaults().withReadOnly(true))) {
                ImageFuzzTest.walk(vfs, Ext4Vfs.ROOT, new HashSet<>(), 0);
                if (checkBytes) ImageFuzzTest.untouchedFilesKeepTheirBytes(vfs, m);
            }
        });
    }

    @FuzzTest(maxDuration = "10s")
    void superblockInImage(FuzzedDataProvider d) { openAndWalk(FuzzImages.mutate(d, FuzzImages.kinds(Kind.SUPERBLOCK)), false); }

    @FuzzTest(maxDuration = "10s")
    void groupDescriptorsAndBitmaps(FuzzedDataProvider d) {
        Mutated m = FuzzImages.mutate(d, FuzzImages.kinds(Kind.GROUP_DESC, Kind.BITMAP));
        openAndWalk(m, false);
        Contract.check(m.description(), () -> {
            try (Ext4FileSystem fs = Ext4FileSystem.open(m.device(true))) { fs.volume().verifyBitmaps(); }
        });
    }

    @FuzzTest(maxDuration = "10s")
    void inodes(FuzzedDataProvider d) { openAndWalk(FuzzImages.mutate(d, FuzzImages.kinds(Kind.INODE)), true); }

    @FuzzTest(maxDuration = "10s")
    void extentTrees(FuzzedDataProvider d) {
        Mutated m = FuzzImages.mutate(d, FuzzImages.kinds(Kind.EXTENT, Kind.INODE));
        openAndWalk(m, true);
        Contract.check(m.description(), () -> {
            try (Ext4FileSystem fs = Ext4FileSystem.open(m.device(true))) {
                for (long ino : m.seed().files.keySet()) {
                    Inode i = fs.inode(ino);
                    if (!i.hasFlag(Inode.FL_INLINE_DATA)) fs.fileMap(i).runs();
                }
            }
        });
    }

    @FuzzTest(maxDuration = "10s")
    void indirectBlocks(FuzzedDataProvider d) { openAndWalk(FuzzImages.mutate(d, FuzzImages.kinds(Kind.INDIRECT)), true); }

    @FuzzTest(maxDuration = "10s")
    void directoriesAndHtree(FuzzedDataProvider d) { openAndWalk(FuzzImages.mutate(d, FuzzImages.kinds(Kind.DIR)), true); }

    @FuzzTest(maxDuration = "10s")
    void xattrsAndInlineData(FuzzedDataProvider d) { openAndWalk(FuzzImages.mutate(d, FuzzImages.kinds(Kind.XATTR, Kind.INODE, Kind.SYMLINK)), true); }

}
