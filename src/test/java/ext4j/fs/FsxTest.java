package ext4j.fs;

import ext4j.testutil.Seeds;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * fsx for the buffered I/O engine: random writes at odd offsets, reads, truncates up and down, zero
 * range, punch, fallocate, fsync, cache drops and remounts on a few files, each compared with an
 * in-memory model byte for byte; e2fsck -fn at every remount and at the end. Prints its seed
 * (-Dext4j.seed=N reproduces); -Dext4j.fsxOps=N sets the operation count (CI default 100,000 over
 * both block sizes; the long mode is 1,000,000 or more).
 */
class FsxTest {
    @TempDir Path tmp;

    @Test void oneKBlocks() throws Exception { run("1024", Long.getLong("ext4j.fsxOps", 40_000), true); }
    @Test void fourKBlocks() throws Exception { run("4096", Long.getLong("ext4j.fsxOps", 25_000), true); }
    /** nodelalloc: writes allocate unwritten blocks at once, in short handles, instead of reserving. */
    @Test void oneKBlocksNoDelalloc() throws Exception { run("1024", Long.getLong("ext4j.fsxOps", 20_000), false); }
    @Test void fourKBlocksNoDelalloc() throws Exception { run("4096", Long.getLong("ext4j.fsxOps", 15_000), false); }
    /**
     * inline_data with sizes around what a 256-byte inode holds (128 bytes): files stay inline, move to
     * blocks, and come back inline when recreated (unlink and create: a new file may be inline again).
     */
    @Test void inlineDataSmallFiles() throws Exception { run("1024", Long.getLong("ext4j.fsxOps", 20_000), true, true); }

    private void run(String bs, long ops, boolean delalloc) throws Exception { run(bs, ops, delalloc, false); }

    private void run(String bs, long ops, boolean delalloc, boolean inline) throws Exception {
        long seed = Seeds.seed("FsxTest " + bs + (delalloc ? "" : " nodelalloc") + (inline ? " inline_data" : "") + " ops=" + ops);
        Options options = Options.defaults().withDelalloc(delalloc);
        Random rnd = new Random(seed);
        Path img = tmp.resolve("fsx" + bs + ".img");
        if (inline) Tools.mke2fs(img, null, "64M", "-t", "ext4", "-b", bs, "-I", "256", "-O", "inline_data");
        else Tools.mke2fs(img, null, "64M", "-t", "ext4", "-b", bs);
        final int files = 3, maxSize = inline ? 300 : 1 << 20, near = inline ? 100 : 2500;
        int inlineSeen = 0;
        byte[][] model = new byte[files][0];
        List<String> log = new ArrayList<>();
        Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, options);
        try {
            for (int i = 0; i < files; i++) fs.createFile("/f" + i, 0644, 0, 0);
            for (long op = 1; op <= ops; op++) {
                int fi = rnd.nextInt(files);
                String p = "/f" + fi;
                byte[] m = model[fi];
                int k = rnd.nextInt(100);
                if (inline && k >= 70 && k < 80) k = 98;          // zero/punch/fallocate move a file to blocks: recreate more often
                long off = inline && rnd.nextBoolean() ? rnd.nextInt(100) : rnd.nextInt(maxSize), len = 1 + rnd.nextInt(inline ? (rnd.nextInt(4) == 0 ? 400 : 60) : rnd.nextInt(4) == 0 ? 200_000 : 9000);
                if (len + off > maxSize) len = maxSize - off;
                String what;
                if (k < 35) {
                    byte[] d = new byte[(int) len];
                    rnd.nextBytes(d);
                    if (rnd.nextInt(3) == 0) off = m.length + rnd.nextInt(2 * near) - near; // around EOF
                    off = Math.max(0, Math.min(off, maxSize - len));
                    what = "write " + p + " @" + off + " +" + len;
                    fs.write(p, off, ByteBuffer.wrap(d));
                    if (m.length < off + len) m = Arrays.copyOf(m, (int) (off + len));
                    System.arraycopy(d, 0, m, (int) off, (int) len);
                } else if (k < 60) {
                    what = "read " + p + " @" + off + " +" + len;
                    ByteBuffer b = ByteBuffer.allocate((int) len);
                    var ino = fs.resolve(p, true);
                    assertEquals(m.length, ino.size(), what + " size (seed " + seed + " op " + op + ")\n" + String.join("\n", log));
                    int n = fs.read(ino, off, b);
                    int want = (int) Math.max(-1, Math.min(len, m.length - off));
                    if (want <= 0) assertTrue(n <= 0, what);
                    else {
                        assertEquals(want, n, what);
                        byte[] exp = Arrays.copyOfRange(m, (int) off, (int) off + want);
                        byte[] got = Arrays.copyOf(b.array(), want);
                        if (!Arrays.equals(exp, got)) fail("seed " + seed + " op " + op + ": " + what + " differs at +" + Arrays.mismatch(exp, got) + "\n" + String.join("\n", log));
                    }
                } else if (k < 70) {
                    long size = rnd.nextInt(3) == 0 ? Math.max(0, m.length + rnd.nextInt(inline ? 200 : 8000) - (inline ? 100 : 4000)) : rnd.nextInt(maxSize);
                    what = "truncate " + p + " " + size;
                    fs.truncate(p, size);
                    m = Arrays.copyOf(m, (int) size);
                } else if (k < 78) {
                    boolean keep = rnd.nextBoolean();
                    what = "zero " + p + " @" + off + " +" + len + (keep ? " keep" : "");
                    fs.zeroRange(p, off, len, keep);
                    if (!keep && off + len > m.length) m = Arrays.copyOf(m, (int) (off + len));
                    if (off < m.length) Arrays.fill(m, (int) off, (int) Math.min(m.length, off + len), (byte) 0);
                } else if (k < 85) {
                    what = "punch " + p + " @" + off + " +" + len;
                    fs.punchHole(p, off, len);
                    if (off < m.length) Arrays.fill(m, (int) off, (int) Math.min(m.length, off + len), (byte) 0);
                } else if (k < 92) {
                    boolean keep = rnd.nextBoolean();
                    what = "fallocate " + p + " @" + off + " +" + len + (keep ? " keep" : "");
                    fs.fallocate(p, off, len, keep);
                    if (!keep && off + len > m.length) m = Arrays.copyOf(m, (int) (off + len));
                } else if (k < 97) {
                    what = "fsync " + p;
                    fs.fsync(p);
                } else if (k < 98 || (k < 99 && !inline)) {
                    what = "drop caches";
                    fs.dropCaches();
                } else if (k < 99) {
                    what = "recreate " + p;
                    fs.unlink(p);
                    fs.createFile(p, 0644, 0, 0);
                    m = new byte[0];
                } else {
                    what = "remount";
                    fs.close();
                    Tools.assertFsckClean(img);
                    fs = Ext4FileSystem.openReadWrite(img, options);
                }
                model[fi] = m;
                if (inline && fs.resolve(p, true).hasFlag(ext4j.ondisk.Inode.FL_INLINE_DATA)) inlineSeen++;
                log.add(what);
                if (log.size() > 30) log.remove(0);
            }
            if (inline) {
                System.out.println("FsxTest inline_data: " + inlineSeen + " of " + ops + " operations left their file inline");
                assertTrue(inlineSeen > ops / 50, "the workload kept files inline");
            }
            for (int i = 0; i < files; i++) {
                byte[] got = BufferedWriteTest.readAll(fs, "/f" + i);
                assertArrayEquals(model[i], got, "seed " + seed + ": /f" + i + " at the end");
            }
        } finally {
            fs.close();
        }
        Tools.assertFsckClean(img);
        try (Ext4FileSystem ro = Ext4FileSystem.openReadOnly(img)) {
            for (int i = 0; i < files; i++) assertArrayEquals(model[i], BufferedWriteTest.readAll(ro, "/f" + i), "seed " + seed + ": /f" + i + " after unmount");
        }
    }
}
