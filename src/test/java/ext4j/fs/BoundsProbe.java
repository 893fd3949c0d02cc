package ext4j.fs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.BitSet;

/**
 * The child side of BoundsTest: one bounded operation on an image, run in a JVM whose heap the
 * parent caps. Prints "OK ..." with what it found, or "ERROR <class>: <message>" for an exception
 * the operation was expected to end with; anything else (an OutOfMemoryError, a hang) is for the
 * parent to see.
 */
public final class BoundsProbe {
    private BoundsProbe() {}

    public static void main(String[] args) throws Exception {
        Path img = Path.of(args[1]);
        try (Ext4Vfs vfs = Ext4Vfs.open(img, Options.defaults().withReadOnly(!args[0].equals("openrw")))) {
            Ext4Paths paths = new Ext4Paths(vfs, Caller.ROOT);
            try {
                switch (args[0]) {
                    case "list" -> list(vfs, paths, args[2], Integer.parseInt(args[3]));
                    case "sparse" -> sparse(vfs, paths, args[2], Long.parseLong(args[3]));
                    case "extents" -> extents(vfs, paths, args[2]);
                    case "deep" -> deep(vfs, paths, Integer.parseInt(args[2]));
                    case "read" -> readAll(vfs, paths, args[2]);
                    case "readdir" -> { long[] n = {0}; vfs.readdir(paths.resolve(args[2], true).ino(), 0, e -> ++n[0] > 0); System.out.println("OK entries=" + n[0]); }
                    case "xattrs" -> System.out.println("OK xattrs=" + vfs.listxattr(paths.resolve(args[2], false).ino(), Caller.ROOT));
                    case "open", "openrw" -> System.out.println("OK opened, warnings: " + vfs.warnings());
                    default -> throw new IllegalArgumentException(args[0]);
                }
            } catch (IOException e) {
                System.out.println("ERROR " + e.getClass().getSimpleName() + ": " + e.getMessage());
            }
        } catch (IOException e) {
            System.out.println("ERROR " + e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        System.out.flush();
    }

    /** Lists dir through readdir cookies, 1,000 entries a call; names f0000000.. f{n-1}, each once. */
    private static void list(Ext4Vfs vfs, Ext4Paths paths, String dir, int n) throws IOException {
        long ino = paths.resolve(dir, true).ino();
        BitSet seen = new BitSet(n);
        long[] cookie = {0};
        int[] count = {0}, calls = {0}, dots = {0};
        boolean[] more = {true};
        while (more[0]) {
            int[] batch = {0};
            more[0] = false;
            calls[0]++;
            vfs.readdir(ino, cookie[0], e -> {
                if (batch[0] == 1000) { more[0] = true; return false; }
                batch[0]++;
                cookie[0] = e.nextCookie();
                String s = e.nameString();
                if (s.equals(".") || s.equals("..")) { dots[0]++; return true; }
                if (!s.matches("f\\d{7}")) throw new IOException("unexpected name " + s);
                int k = Integer.parseInt(s.substring(1));
                if (k >= n || seen.get(k)) throw new IOException("name " + s + " out of range or listed twice");
                seen.set(k);
                count[0]++;
                return true;
            });
        }
        System.out.println("OK entries=" + count[0] + " distinct=" + seen.cardinality() + " dots=" + dots[0] + " calls=" + calls[0]
                + " heapUsedMiB=" + used());
    }

    /** Reads every data segment found by SEEK_DATA/SEEK_HOLE; each 4 KiB block must hold its offset / 4096 + 1 as longs. */
    private static void sparse(Ext4Vfs vfs, Ext4Paths paths, String file, long expectSize) throws IOException {
        Entry e = paths.resolve(file, true);
        OpenFile f = vfs.open(e.ino(), Ext4Vfs.O_RDONLY, Caller.ROOT);
        long size = e.attr().size(), data = 0, segments = 0;
        ByteBuffer b = ByteBuffer.allocate(1 << 20);
        for (long pos = 0; pos < size; ) {
            long d;
            try { d = vfs.lseek(f, pos, Ext4Vfs.SEEK_DATA); } catch (ext4j.base.FsException x) { if (x.errno() == ext4j.base.Errno.ENXIO) break; throw x; }
            long h = vfs.lseek(f, d, Ext4Vfs.SEEK_HOLE);
            segments++;
            for (long p = d; p < h; ) {
                int n = vfs.read(f, p, b.clear().limit((int) Math.min(b.capacity(), h - p)));
                if (n <= 0) throw new IOException("short read at " + p);
                checkPattern(b.flip(), p);
                p += n;
                data += n;
            }
            pos = h;
        }
        vfs.release(f);
        System.out.println("OK size=" + size + " expected=" + expectSize + " segments=" + segments + " dataBytes=" + data + " heapUsedMiB=" + used());
    }

    static void checkPattern(ByteBuffer b, long pos) throws IOException {
        for (int i = 0; i + 8 <= b.remaining(); i += 8) {
            long want = (pos + i) / 4096 + 1;
            long have = b.getLong(b.position() + i);
            if (have != want) throw new IOException("data at byte " + (pos + i) + " is " + have + ", expected " + want);
        }
    }

    /** Reads the whole file sequentially; every 1 KiB block at an even index holds its index + 1 as longs, odd ones are holes. */
    private static void extents(Ext4Vfs vfs, Ext4Paths paths, String file) throws IOException {
        Entry e = paths.resolve(file, true);
        OpenFile f = vfs.open(e.ino(), Ext4Vfs.O_RDONLY, Caller.ROOT);
        ByteBuffer b = ByteBuffer.allocate(1 << 20);
        long pos = 0, dataBlocks = 0;
        for (int n; (n = vfs.read(f, pos, b.clear())) > 0; pos += n) {
            b.flip();
            for (int i = 0; i < n; i += 8) {
                long at = pos + i, blk = at / 1024, v = b.getLong(i);
                long want = blk % 2 == 0 ? blk + 1 : 0;
                if (v != want) throw new IOException("byte " + at + " holds " + v + ", expected " + want);
                if (blk % 2 == 0 && at % 1024 == 0) dataBlocks++;
            }
        }
        vfs.release(f);
        InodeLayout l = vfs.layout(e.ino());
        System.out.println("OK size=" + pos + " dataBlocks=" + dataBlocks + " extents=" + l.pieces().size() + " treeBlocks=" + l.treeBlocks().size()
                + " heapUsedMiB=" + used());
    }

    /** Walks /d/d/.../d depth levels by lookup and readdir, then resolves the whole path at once. */
    private static void deep(Ext4Vfs vfs, Ext4Paths paths, int depth) throws IOException {
        long ino = Ext4Vfs.ROOT;
        byte[] d = {'d'};
        int levels = 0;
        for (int i = 0; i < depth; i++) {
            long[] found = {-1};
            vfs.readdir(ino, 0, e -> { if (java.util.Arrays.equals(e.name(), d)) found[0] = e.ino(); return true; });
            Entry e = vfs.lookup(ino, d);
            if (found[0] != e.ino()) throw new IOException("level " + i + ": readdir says " + found[0] + ", lookup " + e.ino());
            ino = e.ino();
            levels++;
        }
        String last = new String(vfs.getattr(ino).isDirectory() ? "dir" : "?");
        long[] leaf = {0};
        vfs.readdir(ino, 0, e -> { if (new String(e.name(), StandardCharsets.UTF_8).equals("leaf")) leaf[0] = e.ino(); return true; });
        // the whole chain as one path (4,096 names, Ext4Paths' limit), then its last name
        Entry deepest = paths.resolve("/d".repeat(depth), true);
        if (deepest.ino() != ino) throw new IOException("the path resolves to " + deepest.ino() + ", the walk to " + ino);
        Entry byPath = vfs.lookup(deepest.ino(), "leaf".getBytes(StandardCharsets.UTF_8));
        if (byPath.ino() != leaf[0]) throw new IOException("the path resolves to " + byPath.ino() + ", the walk to " + leaf[0]);
        System.out.println("OK levels=" + levels + " last=" + last + " leafSize=" + byPath.attr().size() + " heapUsedMiB=" + used());
    }

    private static void readAll(Ext4Vfs vfs, Ext4Paths paths, String file) throws IOException {
        Entry e = paths.resolve(file, true);
        OpenFile f = vfs.open(e.ino(), Ext4Vfs.O_RDONLY, Caller.ROOT);
        ByteBuffer b = ByteBuffer.allocate(1 << 20);
        long pos = 0;
        for (int n; (n = vfs.read(f, pos, b.clear())) > 0; ) pos += n;
        System.out.println("OK read=" + pos);
    }

    /** Heap in use after a collection: what the operation keeps, not its garbage. */
    private static long used() {
        System.gc();
        Runtime r = Runtime.getRuntime();
        return (r.totalMemory() - r.freeMemory()) >> 20;
    }
}
