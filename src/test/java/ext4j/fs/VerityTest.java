package ext4j.fs;

import ext4j.testutil.Seeds;
import ext4j.base.Errno;
import ext4j.base.FsException;

import ext4j.base.CorruptException;
import ext4j.ondisk.Inode;
import ext4j.testutil.Tools;
import ext4j.verity.MerkleTree;
import ext4j.verity.VerityDescriptor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * fs-verity on ext4 against tools nobody here wrote: files ext4j makes verity have the digest and
 * the stored Merkle tree `fsverity digest` computes for the same bytes, e2fsck finds nothing, and
 * Linux 6.1 (the kernel oracle, fs-verity on) measures the same digests and reads the files through
 * its verification; files Linux makes verity measure the same in ext4j. Verity files refuse changes,
 * and damaged verity metadata is refused naming the inode.
 */
class VerityTest {
    @TempDir Path tmp;

    private Path image(String... features) throws Exception {
        Path img = tmp.resolve("v" + System.nanoTime() + ".img");
        List<String> args = new ArrayList<>(List.of("-t", "ext4", "-b", "4096"));
        for (String f : features) { args.add("-O"); args.add(f); }
        Tools.mke2fs(img, null, "64M", args.toArray(new String[0]));
        return img;
    }

    /** Sizes around block and tree-level boundaries, a sparse file, and a salt. */
    private static Map<String, byte[]> files(Random r) {
        Map<String, byte[]> m = new LinkedHashMap<>();
        for (int size : new int[] {0, 1, 4096, 4097, 300_000, 128 * 4096 + 1}) {
            byte[] d = new byte[size];
            r.nextBytes(d);
            m.put("/f" + size, d);
        }
        byte[] sparse = new byte[5 << 20];
        for (int i = 0; i < 20; i++) sparse[r.nextInt(sparse.length)] = (byte) (1 + r.nextInt(200));
        m.put("/sparse", sparse);
        return m;
    }

    private static String fsverityDigest(Path host, byte[] data, String salt, Path treeOut) throws Exception {
        Files.write(host, data);
        List<String> cmd = new ArrayList<>(List.of("fsverity", "digest", host.toString(), "--out-merkle-tree=" + treeOut));
        if (salt != null) cmd.add("--salt=" + salt);
        Tools.Result r = Tools.run(cmd);
        assertEquals(0, r.exit(), r.out());
        return r.out().trim().split(" ")[0];
    }

    @Test
    void enabledFilesMatchFsverityUtilsAndLinuxReadsThem() throws Exception {
        Path img = image("verity");
        Map<String, byte[]> files = files(new Random(5));
        Map<String, String> digests = new LinkedHashMap<>();
        String salt = "5a17";
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            for (var e : files.entrySet()) {
                fs.createFile(e.getKey(), 0644, 0, 0);
                if (e.getKey().equals("/sparse")) {                 // only the non-zero bytes: the rest stays holes
                    byte[] d = e.getValue();
                    for (int i = 0; i < d.length; i++) if (d[i] != 0) fs.write(e.getKey(), i, ByteBuffer.wrap(d, i, 1));
                    fs.truncate(e.getKey(), d.length);
                } else {
                    fs.write(e.getKey(), 0, ByteBuffer.wrap(e.getValue()));
                }
            }
            for (var e : files.entrySet()) {
                byte[] s = e.getKey().equals("/f300000") ? HexFormat.of().parseHex(salt) : new byte[0];
                VerityDescriptor d = fs.enableVerity(e.getKey(), s);
                Path tree = tmp.resolve("tree");
                String want = fsverityDigest(tmp.resolve("host"), e.getValue(), s.length > 0 ? salt : null, tree);
                assertEquals(want, d.digestString(), e.getKey() + ": digest");
                assertEquals(want, fs.verityDescriptor(e.getKey()).digestString(), e.getKey() + ": measured back");
                byte[] wantTree = Files.readAllBytes(tree);
                Inode in = fs.resolve(e.getKey(), true);
                assertArrayEquals(wantTree, new VerityFiles(fs).storedTree(in, wantTree.length), e.getKey() + ": Merkle tree bytes on disk");
                digests.put(e.getKey(), want);
            }
        }
        Tools.assertFsckClean(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {            // reopened: the descriptors come from disk
            for (var e : digests.entrySet()) {
                assertEquals(e.getValue(), fs.verityDescriptor(e.getKey()).digestString(), e.getKey());
                assertArrayEquals(files.get(e.getKey()), BufferedWriteTest.readAll(fs, e.getKey()), e.getKey() + ": data");
            }
        }
        // Linux: the same digests, and every file read through fs-verity's checks
        StringBuilder script = new StringBuilder("mount -t ext4 -o ro /dev/vda /mnt || exit 9\n");
        for (String p : digests.keySet()) script.append("fsverity measure /mnt").append(p).append("; md5sum /mnt").append(p).append(" || echo READFAIL ").append(p).append('\n');
        script.append("umount /mnt\n");
        Tools.Result k = Tools.kernelOracle(img, script.toString());
        assertEquals(0, k.exit(), k.out());
        assertFalse(k.out().contains("READFAIL") || k.out().contains("verity") && k.out().contains("corrupt"), k.out());
        for (var e : digests.entrySet()) {
            assertTrue(k.out().contains(e.getValue() + " /mnt" + e.getKey()), e.getKey() + ": Linux measured\n" + k.out());
            String md5 = HexFormat.of().formatHex(java.security.MessageDigest.getInstance("MD5").digest(files.get(e.getKey())));
            assertTrue(k.out().contains(md5 + "  /mnt" + e.getKey()), e.getKey() + ": Linux read\n" + k.out());
        }
    }

    /** On an inline_data filesystem a small file is inline; enabling verity moves it to extents first, as Linux 6.1 does, and Linux measures the same digest. */
    @Test
    void inlineFilesMoveToExtentsWhenVerityIsEnabled() throws Exception {
        Path img = tmp.resolve("verity-inline.img");
        Tools.ok("mke2fs", "-q", "-F", "-t", "ext4", "-O", "verity,inline_data", "-I", "256", "-b", "4096", img.toString(), "64M");
        byte[] hello = "hello\n".getBytes();
        String want = fsverityDigest(tmp.resolve("host"), hello, null, tmp.resolve("tree"));
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/b", 0644, 0, 0);
            fs.write("/b", 0, ByteBuffer.wrap(hello));
            assertTrue(fs.resolve("/b", true).hasFlag(Inode.FL_INLINE_DATA), "six bytes written to a new file: inline");
            assertEquals(want, fs.enableVerity("/b", new byte[0]).digestString());
            Inode b = fs.resolve("/b", true);
            assertTrue(b.hasFlag(Inode.FL_VERITY) && b.hasFlag(Inode.FL_EXTENTS) && !b.hasFlag(Inode.FL_INLINE_DATA));
            assertArrayEquals(hello, BufferedWriteTest.readAll(fs, "/b"));
        }
        Tools.assertFsckClean(img);
        Tools.Result k = Tools.kernelOracle(img, "mount -t ext4 -o ro /dev/vda /mnt || exit 9\nfsverity measure /mnt/b; cat /mnt/b\numount /mnt\n");
        assertEquals(0, k.exit(), k.out());
        assertTrue(k.out().contains(want + " /mnt/b") && k.out().contains("hello"), k.out());
    }

    @Test
    void filesLinuxMadeVerityMeasureTheSameInExt4j() throws Exception {
        Path img = image("verity");
        String script = """
                mount -t ext4 /dev/vda /mnt || exit 9
                dd if=/dev/urandom of=/mnt/a bs=1000 count=777 2>/dev/null
                echo hello > /mnt/b
                dd if=/dev/urandom of=/mnt/c bs=4096 count=300 2>/dev/null
                fsverity enable /mnt/a && fsverity enable /mnt/b && fsverity enable --salt=00ff /mnt/c
                fsverity measure /mnt/a /mnt/b /mnt/c
                umount /mnt
                """;
        Tools.Result k = Tools.kernelOracle(img, script);
        assertEquals(0, k.exit(), k.out());
        Matcher m = Pattern.compile("(sha256:[0-9a-f]{64}) /mnt(/[abc])").matcher(k.out());
        Map<String, String> linux = new LinkedHashMap<>();
        while (m.find()) linux.put(m.group(2), m.group(1));
        assertEquals(3, linux.size(), k.out());
        Tools.assertFsckClean(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            for (var e : linux.entrySet()) {
                VerityDescriptor d = fs.verityDescriptor(e.getKey());
                assertEquals(e.getValue(), d.digestString(), e.getKey() + ": stored descriptor");
                byte[] data = BufferedWriteTest.readAll(fs, e.getKey());         // the bytes ext4j reads hash to Linux's tree
                MerkleTree t = MerkleTree.build(data.length, 4096, d.salt(), (i, dst) -> dst.put(data, (int) (i * 4096), dst.remaining()));
                assertArrayEquals(d.rootHash(), t.rootHash(), e.getKey() + ": root hash of the data ext4j reads");
            }
        }
    }

    @Test
    void verityFilesRefuseChangesAndOtherFilesRefuseMeasure() throws Exception {
        Path img = image("verity");
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/v", 0644, 0, 0);
            fs.write("/v", 0, ByteBuffer.wrap(new byte[10_000]));
            fs.createFile("/plain", 0644, 0, 0);
            fs.enableVerity("/v", new byte[0]);
            assertErrno(Errno.EPERM, () -> fs.write("/v", 0, ByteBuffer.wrap(new byte[1])));
            assertErrno(Errno.EPERM, () -> fs.truncate("/v", 1));
            assertErrno(Errno.EPERM, () -> fs.fallocate("/v", 0, 4096, false));
            assertErrno(Errno.EPERM, () -> fs.punchHole("/v", 0, 4096));
            assertErrno(Errno.EPERM, () -> fs.zeroRange("/v", 0, 10, true));
            assertErrno(Errno.EEXIST, () -> fs.enableVerity("/v", new byte[0]));
            assertErrno(Errno.ENODATA, () -> fs.verityDescriptor("/plain"));
            fs.rename("/v", "/w");                                           // the name may change, the data not
            fs.chmod("/w", 0600);
        }
        Tools.assertFsckClean(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.unlink("/w");                                                 // its metadata blocks go with it
        }
        Tools.assertFsckClean(img);
        Path noFeature = image();
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(noFeature, false)) {
            fs.createFile("/x", 0644, 0, 0);
            assertErrno(Errno.EOPNOTSUPP, () -> fs.enableVerity("/x", new byte[0]));
        }
    }

    @Test
    void damagedVerityMetadataIsRefusedNamingTheInode() throws Exception {
        Path img = image("verity");
        long sizeWordAt, descAt;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/v", 0644, 0, 0);
            fs.write("/v", 0, ByteBuffer.wrap(new byte[50_000]));
            fs.enableVerity("/v", new byte[0]);
            Inode in = fs.resolve("/v", true);
            var runs = fs.fileMap(in).runs();
            var last = runs.get(runs.size() - 1);
            long lastBlock = last.physical() + last.length() - 1;
            sizeWordAt = lastBlock * 4096 + 4092;
            descAt = lastBlock * 4096;                                   // a small tree: the descriptor shares the last block
        }
        for (int k = 0; k < 3; k++) {
            Path bad = tmp.resolve("bad" + k + ".img");
            Files.copy(img, bad);
            try (RandomAccessFile f = new RandomAccessFile(bad.toFile(), "rw")) {
                switch (k) {
                    case 0 -> { f.seek(sizeWordAt); f.write(new byte[] {(byte) 0xff, (byte) 0xff, 0, 0}); } // size 65535
                    case 1 -> { f.seek(descAt); f.write(7); }                                              // version 7
                    default -> { f.seek(descAt + 8); f.write(1); }                                           // data_size off
                }
            }
            try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(bad)) {
                CorruptException e = assertThrows(CorruptException.class, () -> fs.verityDescriptor("/v"));
                assertTrue(e.getMessage().startsWith("inode 12 (/v)"), e.getMessage());
                System.out.println("damage " + k + ": " + e.getMessage());
            }
        }
    }

    /**
     * Reads are checked like fs-verity's: a flipped byte in a data block fails reads of that block
     * (EIO naming it) and nothing else; a flipped byte in the Merkle tree fails every read of the file.
     */
    @Test
    void readsAreCheckedAgainstTheTree() throws Exception {
        Path img = image("verity");
        byte[] data = new byte[300_000];
        new Random(3).nextBytes(data);
        long dataBlock5, treeBlock;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/v", 0644, 0, 0);
            fs.write("/v", 0, ByteBuffer.wrap(data));
            fs.enableVerity("/v", new byte[0]);
            Inode in = fs.resolve("/v", true);
            dataBlock5 = fs.fileMap(in).find(5).physical();
            treeBlock = fs.fileMap(in).find(VerityFiles.metadataStart(data.length) / 4096).physical();
        }
        Path badData = tmp.resolve("data.img"), badTree = tmp.resolve("tree.img");
        Files.copy(img, badData);
        Files.copy(img, badTree);
        flip(badData, dataBlock5 * 4096 + 100);
        flip(badTree, treeBlock * 4096 + 7);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            assertArrayEquals(data, BufferedWriteTest.readAll(fs, "/v"));
        }
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(badData)) {
            Inode in = fs.resolve("/v", true);
            ByteBuffer b = ByteBuffer.allocate(4096);
            assertEquals(4096, fs.read(in, 4 * 4096, b));                  // block 4 is intact
            assertArrayEquals(java.util.Arrays.copyOfRange(data, 4 * 4096, 5 * 4096), b.array());
            FsException e = assertThrows(FsException.class, () -> fs.read(in, 5 * 4096 + 10, ByteBuffer.allocate(10)));
            assertEquals(Errno.EIO, e.errno());
            assertTrue(e.getMessage().contains("data block 5 does not match"), e.getMessage());
            assertThrows(FsException.class, () -> BufferedWriteTest.readAll(fs, "/v"));
        }
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(badTree)) {
            Inode in = fs.resolve("/v", true);
            CorruptException e = assertThrows(CorruptException.class, () -> fs.read(in, 0, ByteBuffer.allocate(10)));
            assertTrue(e.getMessage().contains("Merkle tree block 0 of level 0"), e.getMessage());
        }
    }

    /**
     * Through the page cache a verity block is hashed once on its way in (Linux verifies pages at read
     * completion), not on every read: a second read of the cached file hashes nothing, and a block
     * damaged on the device after it was checked is caught when the cache is dropped and it is read again.
     */
    @Test
    void cachedBlocksAreHashedOncePerTripIntoTheCache() throws Exception {
        Path img = image("verity");
        byte[] data = new byte[300_000];
        new Random(5).nextBytes(data);
        long blocks = (data.length + 4095) / 4096;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/v", 0644, 0, 0);
            fs.write("/v", 0, ByteBuffer.wrap(data));
            fs.enableVerity("/v", new byte[0]);
            Inode in = fs.resolve("/v", true);
            long dataBlock5 = fs.fileMap(in).find(5).physical();
            long before = fs.verityBlocksChecked();
            assertArrayEquals(data, BufferedWriteTest.readAll(fs, "/v"));
            assertEquals(blocks, fs.verityBlocksChecked() - before, "the first read hashes every block once");
            assertArrayEquals(data, BufferedWriteTest.readAll(fs, "/v"));
            assertArrayEquals(java.util.Arrays.copyOfRange(data, 5 * 4096 + 3, 5 * 4096 + 20), readAt(fs, in, 5 * 4096 + 3, 17));
            assertEquals(blocks, fs.verityBlocksChecked() - before, "cached blocks are not hashed again");

            flip(img, dataBlock5 * 4096 + 100);                               // damage under the running filesystem
            assertArrayEquals(data, BufferedWriteTest.readAll(fs, "/v"), "the checked cached copy is still served");
            fs.dropCaches();
            assertArrayEquals(java.util.Arrays.copyOfRange(data, 0, 4096), readAt(fs, in, 0, 4096));
            FsException e = assertThrows(FsException.class, () -> readAt(fs, in, 5 * 4096, 10));
            assertEquals(Errno.EIO, e.errno());
            assertTrue(e.getMessage().contains("data block 5 does not match"), e.getMessage());
            assertThrows(FsException.class, () -> readAt(fs, in, 5 * 4096, 10), "a failed block is not marked checked");
            flip(img, dataBlock5 * 4096 + 100);                               // repaired on the device
            fs.dropCaches();
            assertArrayEquals(data, BufferedWriteTest.readAll(fs, "/v"));
        }
        Tools.assertFsckClean(img);
    }

    /**
     * A digest of a file whose bytes are partly still dirty in the cache (nothing forces them out):
     * it is fsverity-utils' digest of the file's current bytes, and only the reads near dirty blocks
     * go through the cache; holes and written-back blocks come from the block map and the device.
     * Then, written back, the whole file is read from the device (on every core) and nothing through the cache.
     */
    @Test
    void digestOfAPartlyDirtyFileReadsOnlyNearTheDirtyBlocksThroughTheCache() throws Exception {
        long seed = Seeds.seed("VerityTest dirty digest");
        Random r = new Random(seed);
        Path img = image("verity");
        byte[] data = new byte[24 << 20];
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/s", 0644, 0, 0);
            byte[] a = new byte[3 << 20];                                   // 3 MiB written back
            r.nextBytes(a);
            System.arraycopy(a, 0, data, 1 << 20, a.length);
            fs.write("/s", 1 << 20, ByteBuffer.wrap(a));
            fs.fsync("/s");
            int[] dirty = {(13 << 20) + r.nextInt(4096), (13 << 20) + 4096 * 7 + 5, (2 << 20) + 77}; // in a hole, and over written-back data
            for (int at : dirty) {
                data[at] = (byte) (1 + r.nextInt(200));
                fs.write("/s", at, ByteBuffer.wrap(data, at, 1));
            }
            fs.truncate("/s", data.length);
            String want = fsverityDigest(tmp.resolve("host"), data, null, tmp.resolve("tree"));
            long before = fs.treeBytesThroughCache;
            assertEquals(want, fs.computeVerity("/s", new byte[0]).digestString(), "digest with dirty blocks, seed " + seed);
            long through = fs.treeBytesThroughCache - before;
            assertTrue(through > 0 && through <= 2 * ext4j.verity.MerkleTree.CHUNK, through + " bytes read through the cache: at most the two chunks that hold dirty blocks");
            fs.fsync("/s");
            before = fs.treeBytesThroughCache;
            assertEquals(want, fs.computeVerity("/s", new byte[0]).digestString(), "digest written back");
            assertEquals(0, fs.treeBytesThroughCache - before, "a written-back file is read from the device");
            assertEquals(want, fs.enableVerity("/s", new byte[0]).digestString(), "enable");
        }
        Tools.assertFsckClean(img);
    }

    private static byte[] readAt(Ext4FileSystem fs, Inode in, long pos, int n) throws Exception {
        ByteBuffer b = ByteBuffer.allocate(n);
        assertEquals(n, fs.read(in, pos, b));
        return b.array();
    }

    /**
     * Power cut at every device operation of an enable and the sync after it, in every cut mode: after recovery e2fsck is quiet and the file has its data, either still plain or verity
     * with the right digest and every block verifiable; once the sync returned it is verity.
     */
    @Test
    void enableIsAtomicUnderPowerCuts() throws Exception {
        Path img = image("verity");
        long seed = Seeds.seed("VerityTest power cuts");
        Random r = new Random(seed);
        byte[] data = new byte[600_000];
        r.nextBytes(data);
        ext4j.block.RecordingBlockDevice dev = new ext4j.block.RecordingBlockDevice(Files.readAllBytes(img), "recorded");
        int before, synced;
        String digest;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(dev, false)) {
            fs.createFile("/v", 0644, 0, 0);
            fs.write("/v", 0, ByteBuffer.wrap(data));
            fs.fsync("/v");
            before = dev.opCount();
            digest = fs.enableVerity("/v", new byte[0]).digestString();
            fs.sync();
            synced = dev.opCount();
        }
        Path cut = tmp.resolve("cut.img");
        int plain = 0, verity = 0;
        ext4j.block.RecordingBlockDevice.CutMode[] modes = ext4j.block.RecordingBlockDevice.CutMode.values();
        for (int k = 0; k < (synced - before + 1) * modes.length; k++) {          // every cut point in every mode
            int n = before + k / modes.length;
            var mode = modes[k % modes.length];
            String where = "seed=" + seed + " cut after device op " + n + " (" + before + ".." + synced + ", " + mode + ")";
            Files.write(cut, dev.stateAt(n, mode, new Random(seed ^ n)));
            Ext4FileSystem.recover(cut);
            String out = Tools.run("e2fsck", "-fn", cut.toString()).out();
            assertNull(Tools.fsckFinding(out), where + ": " + out);
            try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(cut)) {
                Inode in = fs.resolve("/v", true);
                assertArrayEquals(data, BufferedWriteTest.readAll(fs, "/v"), where + ": data");      // verified if verity
                if (in.hasFlag(Inode.FL_VERITY)) { verity++; assertEquals(digest, fs.verityDescriptor("/v").digestString(), where); }
                else { plain++; assertTrue(n < synced, where + ": the sync returned, the file must be verity"); }
            }
        }
        System.out.println("VerityTest: " + (synced - before + 1) + " cut points x " + modes.length + " modes: " + plain + " plain, " + verity + " verity, all consistent");
        assertTrue(plain > 0 && verity > 0, "the cuts must see both states");
    }

    private static void flip(Path img, long at) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x40);
        }
    }

    private interface Op { void run() throws Exception; }

    private static void assertErrno(Errno want, Op op) {
        FsException e = assertThrows(FsException.class, op::run);
        assertEquals(want, e.errno(), e.getMessage());
    }
}
