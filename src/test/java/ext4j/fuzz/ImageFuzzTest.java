package ext4j.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import ext4j.fs.Attr;
import ext4j.fs.Caller;
import ext4j.fs.Dirent;
import ext4j.fs.Ext4Vfs;
import ext4j.fs.OpenFile;
import ext4j.fs.Options;
import ext4j.fs.SetAttr;
import ext4j.fuzz.FuzzImages.Kind;
import ext4j.fuzz.FuzzImages.Mutated;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * Whole images: a seed with patched metadata opened read-only and walked (readdir, lookup, getattr,
 * read, readlink, xattrs), then each file whose own metadata and data the patches left alone read
 * by inode number, which must give its original bytes when it gives no error; and a random
 * sequence of write operations on a patched image opened read-write with force.
 */
class ImageFuzzTest {
    static final Set<Kind> METADATA = EnumSet.complementOf(EnumSet.of(Kind.DATA));
    private static final Caller ROOT = Caller.ROOT;

    @FuzzTest(maxDuration = "10s")
    void readEverything(FuzzedDataProvider data) {
        Mutated m = FuzzImages.mutate(data, METADATA);
        Contract.check(m.description(), () -> {
            try (Ext4Vfs vfs = Ext4Vfs.open(m.device(true), Options.defaults().withReadOnly(true))) {
                walk(vfs, Ext4Vfs.ROOT, new HashSet<>(), 0);
                untouchedFilesKeepTheirBytes(vfs, m);
            }
        });
    }

    /** Bounded: at most 3,000 inodes visited, 32 levels, 120 entries a directory, 1 MiB read per file. */
    static void walk(Ext4Vfs vfs, long dir, Set<Long> seen, int depth) throws IOException {
        if (!seen.add(dir) || depth > 32 || seen.size() > 3000) return;
        List<Dirent> entries = new ArrayList<>();
        // 120 entries a directory: enough for the htree's leaves and lookups, and 20 inputs a second
        vfs.readdir(dir, 0, e -> entries.size() < 120 && entries.add(e));
        for (Dirent e : entries) {
            String n = new String(e.name(), StandardCharsets.ISO_8859_1);
            if (n.equals(".") || n.equals("..")) continue;
            long ino;
            try {
                ino = vfs.lookup(dir, e.name()).ino();
                Attr a = vfs.getattr(ino);
                xattrs(vfs, ino);
                switch (a.mode() & Attr.S_IFMT) {
                    case Attr.S_IFDIR -> walk(vfs, ino, seen, depth + 1);
                    case Attr.S_IFLNK -> vfs.readlink(ino);
                    case Attr.S_IFREG -> { if (seen.add(ino)) readAll(vfs, ino, 1 << 20); }
                    default -> { }
                }
            } catch (IOException x) {
                // one damaged entry: the walk goes on, as a reader of the image would
                Contract.allowed("entry " + n, x);
            }
        }
    }

    static void xattrs(Ext4Vfs vfs, long ino) throws IOException {
        for (String name : vfs.listxattr(ino, ROOT)) vfs.getxattr(ino, name, ROOT);
    }

    static byte[] readAll(Ext4Vfs vfs, long ino, int max) throws IOException {
        OpenFile f = vfs.open(ino, Ext4Vfs.O_RDONLY, ROOT);
        try {
            ByteBuffer b = ByteBuffer.allocate((int) Math.min(max, Math.max(0, vfs.getattr(ino).size())));
            while (b.hasRemaining()) if (vfs.read(f, b.position(), b) <= 0) break;
            return Arrays.copyOf(b.array(), b.position());
        } finally {
            vfs.release(f);
        }
    }

    /** Where the patches missed the superblock, descriptors, journal and everything of a file, its bytes must be the seed's. */
    static void untouchedFilesKeepTheirBytes(Ext4Vfs vfs, Mutated m) {
        for (Kind global : new Kind[]{Kind.SUPERBLOCK, Kind.GROUP_DESC})
            for (FuzzImages.Region r : m.seed().regions(EnumSet.of(global))) if (m.touchedRange(r.offset(), r.length())) return;
        for (long b : m.seed().journalBlocks) if (m.touched(b)) return;
        List<FuzzImages.FileInfo> files = new ArrayList<>(m.seed().files.values());
        int step = Math.max(1, files.size() / 40); // a sample of the htree directory's many small files
        for (int k = 0; k < files.size(); k += step) {
            FuzzImages.FileInfo fi = files.get(k);
            if (m.touchedRange(fi.inodeOffset(), fi.inodeLength()) && touchedBytes(m, fi.inodeOffset(), fi.inodeLength())) continue;
            if (fi.blocks().stream().anyMatch(m::touched)) continue;
            byte[] got;
            try {
                got = readAll(vfs, fi.ino(), Integer.MAX_VALUE);
            } catch (IOException e) {
                Contract.allowed("inode " + fi.ino(), e);
                continue;
            }
            assertArrayEquals(fi.content(), got, m.description() + ": inode " + fi.ino() + " untouched by the patches read back different bytes");
        }
    }

    /** True if a patch changed any byte of the range (a patch elsewhere in the same inode table block leaves this inode alone). */
    private static boolean touchedBytes(Mutated m, long off, int len) {
        byte[] a = m.seed().image, b = m.image();
        return !Arrays.equals(a, (int) off, (int) off + len, b, (int) off, (int) off + len);
    }

    // ---- writes ----

    private static final String[] NAMES = {"small", "medium", "large", "fragmented", "dir", "htree", "f1", "j", "new", "new2", "lost+found", "fastlink"};

    @FuzzTest(maxDuration = "10s")
    void writeSequence(FuzzedDataProvider data) {
        Mutated m = FuzzImages.mutate(data, METADATA);
        int ops = data.consumeInt(1, 16);
        long[] script = new long[ops * 4];
        for (int i = 0; i < script.length; i++) script[i] = data.consumeLong();
        Contract.check(m.description(), () -> {
            Options o = Options.defaults().withForce(true).withCommitMillis(60_000).withCacheBytes(8 << 20);
            try (Ext4Vfs vfs = Ext4Vfs.open(m.device(false), o)) {
                for (int i = 0; i < ops; i++) {
                    try {
                        op(vfs, script, i * 4);
                    } catch (IOException e) {
                        Contract.allowed("op " + i, e);
                    }
                }
                vfs.sync();
            }
        });
    }

    private static void op(Ext4Vfs vfs, long[] s, int at) throws IOException {
        int kind = Math.floorMod(s[at], 14);
        long a = s[at + 1], b = s[at + 2], c = s[at + 3];
        byte[] name = NAMES[Math.floorMod((int) a, NAMES.length)].getBytes(StandardCharsets.UTF_8);
        byte[] other = NAMES[Math.floorMod((int) (a >>> 32), NAMES.length)].getBytes(StandardCharsets.UTF_8);
        long dir = dir(vfs, b);
        switch (kind) {
            case 0 -> vfs.create(dir, name, 0100644, 022, ROOT);
            case 1 -> vfs.mkdir(dir, name, 040755, 022, ROOT);
            case 2 -> vfs.unlink(dir, name);
            case 3 -> vfs.rmdir(dir, name);
            case 4 -> vfs.rename(dir, name, dir(vfs, c), other, Math.floorMod(c >>> 40, 3));
            case 5, 6 -> {
                OpenFile f = vfs.open(vfs.lookup(dir, name).ino(), Ext4Vfs.O_RDWR, ROOT);
                try {
                    byte[] buf = new byte[Math.floorMod(c, 70_000)];
                    Arrays.fill(buf, (byte) c);
                    vfs.write(f, Math.floorMod(b >>> 8, 3L << 20), ByteBuffer.wrap(buf), ROOT);
                    if (kind == 6) vfs.fsync(f, (c & 1) == 0);
                } finally {
                    vfs.release(f);
                }
            }
            case 7 -> vfs.setattr(vfs.lookup(dir, name).ino(), new SetAttr(SetAttr.SIZE, 0, 0, 0, Math.floorMod(c, 4L << 20), null, null, null), ROOT);
            case 8 -> vfs.setxattr(vfs.lookup(dir, name).ino(), "user.k" + (c & 7), new byte[Math.floorMod(c >>> 8, 3000)], 0, ROOT);
            case 9 -> vfs.removexattr(vfs.lookup(dir, name).ino(), "user.k" + (c & 7), ROOT);
            case 10 -> vfs.symlink(dir, name, ("t".repeat(Math.floorMod(c, 300)) + "x").getBytes(StandardCharsets.UTF_8), ROOT);
            case 11 -> vfs.link(vfs.lookup(dir, name).ino(), dir(vfs, c), other);
            case 12 -> {
                OpenFile f = vfs.open(vfs.lookup(dir, name).ino(), Ext4Vfs.O_RDWR, ROOT);
                try {
                    int[] modes = {0, Ext4Vfs.FALLOC_FL_KEEP_SIZE, Ext4Vfs.FALLOC_FL_KEEP_SIZE | Ext4Vfs.FALLOC_FL_PUNCH_HOLE, 0x10};
                    vfs.fallocate(f, modes[Math.floorMod(c, 4)], Math.floorMod(b >>> 8, 2L << 20), 1 + Math.floorMod(c >>> 8, 1L << 20));
                } finally {
                    vfs.release(f);
                }
            }
            default -> walk(vfs, dir, new HashSet<>(), 30);
        }
    }

    private static long dir(Ext4Vfs vfs, long pick) throws IOException {
        return switch (Math.floorMod(pick, 4)) {
            case 0 -> Ext4Vfs.ROOT;
            case 1 -> vfs.lookup(Ext4Vfs.ROOT, "dir".getBytes(StandardCharsets.UTF_8)).ino();
            case 2 -> vfs.lookup(Ext4Vfs.ROOT, "htree".getBytes(StandardCharsets.UTF_8)).ino();
            default -> vfs.lookup(Ext4Vfs.ROOT, "j".getBytes(StandardCharsets.UTF_8)).ino();
        };
    }
}
