package ext4j.mount;

import ext4j.testutil.Seeds;
import ext4j.testutil.Sys;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

/**
 * fsx through the FUSE mount: a few files on an {@code ext4j mount} driven by a seeded random mix
 * of pread, pwrite (unaligned, past EOF, up to 1.5 MiB; also through an O_DIRECT descriptor, which
 * bypasses the kernel's page cache), ftruncate up and down, fallocate in every
 * mode ext4 has (and some invalid combinations), shared mmap writes (forced) and reads, fsync,
 * fdatasync, close and reopen (some with O_TRUNC), page cache drops (so reads reach ext4j, not the
 * kernel's cache) and the odd unmount, e2fsck and remount, each checked against an in-memory model:
 * every read byte for byte, sizes and whole files periodically. At the end: unmount, e2fsck -fn,
 * then the kernel's own ext4 (a read-only loop mount) must read the model's bytes.
 * <p>
 * The mappings live in a separate process ({@link MapClient}): the server runs in this JVM, and a
 * client faulting on or unmapping a shared mapping of a FUSE file in the server's own address
 * space deadlocks (munmap holds the mm lock while the kernel waits for the server to answer the
 * writeback it starts; a Java thread faulting on the mapping holds off every safepoint, so the
 * server's threads stop too). A watchdog aborts the FUSE connection (fusectl) when one op takes
 * longer than two minutes, so a hang fails with the op log instead of blocking forever.
 * <p>
 * Prints its seed (-Dext4j.seed=N reproduces); -Dext4j.fuseFsxOps=N sets the operation count
 * (default 100,000), -Dext4j.fuseFsxBlockSize=N the block size (default: mke2fs's). A mismatch fails with the seed, the op number and the last ops.
 */
class FuseFsxTest {
    @TempDir Path tmp;

    private static final int FILES = 4, MAX = 4 << 20, CAP = MAX + (2 << 20), MAP_MAX = 256 << 10, LOG = 24;
    private static final int O_RDWR = 2, O_CREAT = 0100, O_TRUNC = 01000, O_DIRECT = 040000, SEEK_END = 2;
    private static final int KEEP = 0x01, PUNCH = 0x02, COLLAPSE = 0x08, ZERO = 0x10, INSERT = 0x20;
    private static final int EINVAL = 22, EOPNOTSUPP = 95;

    private long seed, op;
    private Random rnd;
    private Path img, mnt;
    private Ext4Mount m;
    private int bs;
    private final int[] fd = new int[FILES];
    /** A second descriptor per file, opened O_DIRECT when first needed: its reads and writes bypass the page cache and reach ext4j. */
    private final int[] dfd = new int[FILES];
    private final int[] size = new int[FILES];
    private final byte[][] model = new byte[FILES][CAP];
    private final ArrayDeque<String> log = new ArrayDeque<>();
    /** The last ops on each file, shown with a mismatch in it. */
    @SuppressWarnings("unchecked") // a generic array: only ArrayDeque<String> is ever stored
    private final ArrayDeque<String>[] fileLog = (ArrayDeque<String>[]) new ArrayDeque<?>[FILES];
    private final Map<String, Integer> counts = new TreeMap<>();
    /** Which fallocate modes the kernel's FUSE client passes on (the others it answers EOPNOTSUPP itself). */
    private boolean fuseZero, fuseCollapse, fuseInsert;
    private boolean canDrop;
    private Mapper mapper;
    private volatile long progressAt = System.nanoTime();
    private volatile boolean running;
    private static final long STUCK_NANOS = 120_000_000_000L;

    @Test void fsxThroughTheMount() throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/fuse")), "/dev/fuse is missing: skipping the fsx run through the FUSE mount");
        Tools.requireMount();
        long ops = Long.getLong("ext4j.fuseFsxOps", 100_000);
        seed = Seeds.seed("FuseFsxTest ops=" + ops);
        rnd = new Random(seed);
        img = tmp.resolve("fsx.img");
        mnt = Files.createDirectory(tmp.resolve("mnt"));
        String blockSize = System.getProperty("ext4j.fuseFsxBlockSize");
        if (blockSize == null) Tools.mke2fs(img, null, "256M", "-t", "ext4");
        else Tools.mke2fs(img, null, "256M", "-t", "ext4", "-b", blockSize);
        canDrop = Files.isWritable(Path.of("/proc/sys/vm/drop_caches"));
        if (!canDrop) System.out.println("FuseFsxTest: /proc/sys/vm/drop_caches is not writable: no cache drops");
        long t0 = System.nanoTime();
        m = Ext4Mount.mount(img, mnt, MountOptions.defaults());
        running = true;
        Thread watchdog = Thread.ofPlatform().daemon().name("fuse-fsx-watchdog").start(this::watch);
        try (Mapper mp = new Mapper()) {
            mapper = mp;
            bs = (int) Files.getFileStore(mnt).getBlockSize();
            probeFallocate();
            for (int i = 0; i < FILES; i++) {
                fd[i] = Sys.open(file(i).toString(), O_RDWR | O_CREAT | O_TRUNC, 0644);
                if (fd[i] < 0) throw new AssertionError("open " + file(i) + ": errno " + -fd[i]);
            }
            for (op = 1; op <= ops; op++) {
                step(op == ops / 2);
                if (op % 500 == 0) periodic();
            }
            op = ops + 1;
            for (int i = 0; i < FILES; i++) compareWhole(i, "at the end");
            closeAll();
        } finally {
            for (int i = 0; i < FILES; i++) {
                if (fd[i] > 0) Sys.close(fd[i]);
                if (dfd[i] > 0) Sys.close(dfd[i]);
                fd[i] = dfd[i] = 0;
            }
            m.close();
            running = false;
            watchdog.interrupt();
        }
        long t1 = System.nanoTime();
        Tools.assertFsckClean(img);
        Path kmnt = Files.createDirectory(tmp.resolve("kernel"));
        Tools.mount(img, kmnt, "ro");
        try {
            for (int i = 0; i < FILES; i++) {
                byte[] got = Files.readAllBytes(kmnt.resolve("f" + i));
                byte[] want = Arrays.copyOf(model[i], size[i]);
                if (!Arrays.equals(want, got))
                    throw new AssertionError("seed " + seed + ": the kernel's ext4 reads f" + i + " as " + got.length + " bytes, the model has "
                            + want.length + "; first difference at " + Arrays.mismatch(want, got) + "\n" + lastOps());
            }
        } finally {
            Tools.umount(kmnt);
        }
        double secs = (t1 - t0) / 1e9;
        System.out.printf("FuseFsxTest seed=%d: %d ops in %.1f s (%.0f ops/s); block size %d; FUSE passes ZERO_RANGE %b, COLLAPSE_RANGE %b, INSERT_RANGE %b%n",
                seed, ops, secs, ops / secs, bs, fuseZero, fuseCollapse, fuseInsert);
        System.out.println("FuseFsxTest op counts: " + counts);
    }

    private Path file(int i) { return mnt.resolve("f" + i); }

    /**
     * Which fallocate modes reach ext4j: the kernel's FUSE client refuses the modes it does not
     * forward with EOPNOTSUPP before the server sees them. A valid call on a scratch file each.
     */
    private void probeFallocate() throws IOException {
        Path p = mnt.resolve("probe");
        int f = Sys.open(p.toString(), O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (f < 0) throw new AssertionError("open " + p + ": errno " + -f);
        try {
            expect(Sys.pwrite(f, new byte[4 * bs], 0), 4L * bs, "probe write");
            int z = Sys.fallocate(f, ZERO | KEEP, 0, bs);
            int c = Sys.fallocate(f, COLLAPSE, bs, bs);
            int in = Sys.fallocate(f, INSERT, bs, bs);
            for (int r : new int[] {z, c, in})
                if (r != 0 && r != -EOPNOTSUPP) throw new AssertionError("fallocate probe: errno " + -r);
            fuseZero = z == 0;
            fuseCollapse = c == 0;
            fuseInsert = in == 0;
        } finally {
            Sys.close(f);
            Files.delete(p);
        }
        System.out.println("FuseFsxTest: the kernel's FUSE client passes ZERO_RANGE " + fuseZero + ", COLLAPSE_RANGE " + fuseCollapse
                + ", INSERT_RANGE " + fuseInsert + " (refused ones must answer EOPNOTSUPP)");
    }

    // ---- the operations ----

    private void step(boolean forceRemount) throws Exception {
        int fi = rnd.nextInt(FILES);
        int k = rnd.nextInt(1000);
        if (forceRemount || k == 999 && rnd.nextInt(25) == 0) { remount(); return; }
        if (k < 170) pwrite(fi);
        else if (k < 200) directWrite(fi);
        else if (k < 350) pread(fi);
        else if (k < 420) directRead(fi);
        else if (k < 500) ftruncate(fi);
        else if (k < 650) fallocate(fi);
        else if (k < 730) mmapWrite(fi);
        else if (k < 800) mmapRead(fi);
        else if (k < 850) sync(fi);
        else if (k < 890) reopen(fi);
        else if (k < 896) dropCaches();
        else if (k < 950) pread(fi);
        else pwrite(fi);
    }

    /** A length: mostly small, sometimes up to 300 KiB, rarely up to 1.5 MiB; now and then whole blocks. */
    private int length() {
        int r = rnd.nextInt(100);
        int len = 1 + (r < 55 ? rnd.nextInt(9000) : r < 85 ? rnd.nextInt(65536) : r < 98 ? rnd.nextInt(300_000) : rnd.nextInt(1_500_000));
        if (rnd.nextInt(8) == 0) len = Math.max(bs, len / bs * bs);
        return len;
    }

    /** An offset: near the end of the file a third of the time, else anywhere below MAX; now and then block-aligned. */
    private long offset(int fi) {
        long off = rnd.nextInt(3) == 0 ? Math.max(0, size[fi] + rnd.nextInt(16384) - 8192) : rnd.nextInt(MAX);
        if (rnd.nextInt(8) == 0) off = off / bs * bs;
        return Math.min(off, MAX - 1);
    }

    private void pwrite(int fi) {
        long off = offset(fi);
        int len = (int) Math.min(length(), MAX - off);
        byte[] d = new byte[len];
        rnd.nextBytes(d);
        did("f" + fi + " pwrite @" + off + " +" + len + " (size " + size[fi] + ")");
        expect(Sys.pwrite(fd[fi], d, off), len, "pwrite");
        System.arraycopy(d, 0, model[fi], (int) off, len);
        size[fi] = (int) Math.max(size[fi], off + len);
    }

    private void pread(int fi) {
        long off = rnd.nextInt(4) == 0 ? Math.max(0, size[fi] + rnd.nextInt(16384) - 8192) : rnd.nextInt(MAX + 8192);
        if (rnd.nextInt(8) == 0) off = off / bs * bs;
        int len = length();
        did("f" + fi + " pread @" + off + " +" + len + " (size " + size[fi] + ")");
        readAndCompare(fi, off, len, "pread");
    }

    /** pread and pwrite through the O_DIRECT descriptor: the kernel writes back and drops its cached pages of the range first. */
    private void directRead(int fi) {
        long off = rnd.nextInt(4) == 0 ? Math.max(0, size[fi] + rnd.nextInt(16384) - 8192) : rnd.nextInt(MAX + 8192);
        if (rnd.nextInt(4) == 0) off = off / bs * bs;
        int len = length();
        did("f" + fi + " O_DIRECT pread @" + off + " +" + len + " (size " + size[fi] + ")");
        readAndCompare(fi, direct(fi), off, len, "O_DIRECT pread");
    }

    private void directWrite(int fi) {
        long off = offset(fi);
        int len = (int) Math.min(length(), MAX - off);
        byte[] d = new byte[len];
        rnd.nextBytes(d);
        did("f" + fi + " O_DIRECT pwrite @" + off + " +" + len + " (size " + size[fi] + ")");
        expect(Sys.pwrite(direct(fi), d, off), len, "O_DIRECT pwrite");
        System.arraycopy(d, 0, model[fi], (int) off, len);
        size[fi] = (int) Math.max(size[fi], off + len);
    }

    private int direct(int fi) {
        if (dfd[fi] <= 0) {
            dfd[fi] = Sys.open(file(fi).toString(), O_RDWR | O_DIRECT, 0);
            if (dfd[fi] < 0) throw bad("open f" + fi + " O_DIRECT: errno " + -dfd[fi]);
        }
        return dfd[fi];
    }

    private void readAndCompare(int fi, long off, int len, String what) { readAndCompare(fi, fd[fi], off, len, what); }

    private void readAndCompare(int fi, int desc, long off, int len, String what) {
        byte[] got = new byte[len];
        long n = FsxSys.pread(desc, got, len, off);
        int want = (int) Math.max(0, Math.min(len, size[fi] - off));
        expect(n, want, what + " count");
        compare(fi, off, got, want, what);
    }

    private void compare(int fi, long off, byte[] got, int n, String what) {
        int d = Arrays.mismatch(model[fi], (int) off, (int) off + n, got, 0, n);
        if (d >= 0) {
            long at = off + d;
            int end = d;
            while (end < n && got[end] != model[fi][(int) off + end]) end++;
            throw bad(what + " of f" + fi + " @" + off + " +" + n + ": bytes differ from " + at + " (block " + at / bs + ", +" + at % bs
                    + ") for " + (end - d) + " bytes: read " + hex(got, d) + ", model " + hex(model[fi], (int) off + d)
                    + (allZero(got, d, end) ? " (read zeros)" : "") + "\nlast ops on f" + fi + ":\n  "
                    + (fileLog[fi] == null ? "" : String.join("\n  ", fileLog[fi])));
        }
    }

    private void ftruncate(int fi) {
        int r = rnd.nextInt(10);
        long s = r < 4 ? Math.max(0, size[fi] + rnd.nextInt(16384) - 8192) : r < 9 ? rnd.nextInt(MAX + 1) : 0;
        if (rnd.nextInt(6) == 0) s = s / bs * bs;
        s = Math.min(s, Math.max(MAX, size[fi]));
        did("f" + fi + " ftruncate " + size[fi] + " -> " + s);
        expect(FsxSys.ftruncate(fd[fi], s), 0, "ftruncate");
        resize(fi, (int) s);
    }

    /** The model's size set; bytes past the end are always zero. */
    private void resize(int fi, int s) {
        if (s < size[fi]) Arrays.fill(model[fi], s, size[fi], (byte) 0);
        size[fi] = s;
    }

    private void zero(int fi, long from, long to) {
        if (from < to) Arrays.fill(model[fi], (int) from, (int) to, (byte) 0);
    }

    private void fallocate(int fi) {
        int r = rnd.nextInt(100);
        long off = offset(fi);
        long len = Math.min(length(), MAX - off);
        int s = size[fi];
        if (r < 12) {
            did("f" + fi + " fallocate @" + off + " +" + len + " (size " + s + ")");
            expect(Sys.fallocate(fd[fi], 0, off, len), 0, "fallocate");
            size[fi] = (int) Math.max(s, off + len);
        } else if (r < 24) {
            did("f" + fi + " fallocate KEEP_SIZE @" + off + " +" + len + " (size " + s + ")");
            expect(Sys.fallocate(fd[fi], KEEP, off, len), 0, "fallocate KEEP_SIZE");
        } else if (r < 42) {
            did("f" + fi + " fallocate PUNCH_HOLE|KEEP_SIZE @" + off + " +" + len + " (size " + s + ")");
            expect(Sys.fallocate(fd[fi], PUNCH | KEEP, off, len), 0, "punch");
            zero(fi, off, Math.min(s, off + len));
        } else if (r < 56) {
            did("f" + fi + " fallocate ZERO_RANGE @" + off + " +" + len + " (size " + s + ")");
            int got = Sys.fallocate(fd[fi], ZERO, off, len);
            if (!fuseZero) { expect(got, -EOPNOTSUPP, "zero range"); return; }
            expect(got, 0, "zero range");
            zero(fi, off, off + len);
            size[fi] = (int) Math.max(s, off + len);
        } else if (r < 68) {
            did("f" + fi + " fallocate ZERO_RANGE|KEEP_SIZE @" + off + " +" + len + " (size " + s + ")");
            int got = Sys.fallocate(fd[fi], ZERO | KEEP, off, len);
            if (!fuseZero) { expect(got, -EOPNOTSUPP, "zero range keep"); return; }
            expect(got, 0, "zero range keep");
            zero(fi, off, Math.min(s, off + len));
        } else if (r < 78) {
            shift(fi, true);
        } else if (r < 88) {
            shift(fi, false);
        } else {
            invalidFallocate(fi);
        }
    }

    /**
     * COLLAPSE_RANGE or INSERT_RANGE, mostly with whole blocks inside the file; ext4 answers EINVAL
     * for unaligned arguments, a collapse reaching EOF and an insert at or past EOF.
     */
    private void shift(int fi, boolean collapse) {
        int s = size[fi];
        long off, len;
        int r = rnd.nextInt(10);
        if (r < 7) {
            long blocks = Math.max(1, s / bs);
            off = rnd.nextLong(blocks) * bs;
            len = (1 + rnd.nextInt(rnd.nextBoolean() ? 4 : 64)) * (long) bs;
        } else if (r < 9) {                                     // unaligned
            off = rnd.nextInt(Math.max(1, s + bs));
            len = 1 + rnd.nextInt(8 * bs);
            if (off % bs == 0 && len % bs == 0) len++;
        } else {                                                // aligned, at or past EOF
            off = ((s + bs - 1) / bs + rnd.nextInt(3)) * (long) bs;
            len = (1 + rnd.nextInt(4)) * (long) bs;
            if (collapse) off = Math.max(0, off - len + (rnd.nextBoolean() ? 0 : bs));
        }
        if (!collapse && s + len > CAP) len = (CAP - s) / bs * bs;
        if (len <= 0) { did("f" + fi + " INSERT_RANGE skipped (the file is at the model's capacity)"); return; }
        String name = collapse ? "COLLAPSE_RANGE" : "INSERT_RANGE";
        did("f" + fi + " fallocate " + name + " @" + off + " +" + len + " (size " + s + ")");
        int got = Sys.fallocate(fd[fi], collapse ? COLLAPSE : INSERT, off, len);
        if (!(collapse ? fuseCollapse : fuseInsert)) { expect(got, -EOPNOTSUPP, name + " (the kernel's FUSE client refuses it)"); return; }
        boolean aligned = off % bs == 0 && len % bs == 0;
        boolean ok = aligned && (collapse ? off + len < s : off < s);
        if (!ok) { expect(got, -EINVAL, name); return; }
        expect(got, 0, name);
        byte[] b = model[fi];
        if (collapse) {
            System.arraycopy(b, (int) (off + len), b, (int) off, (int) (s - off - len));
            Arrays.fill(b, (int) (s - len), s, (byte) 0);
            size[fi] = (int) (s - len);
        } else {
            System.arraycopy(b, (int) off, b, (int) (off + len), (int) (s - off));
            Arrays.fill(b, (int) off, (int) (off + len), (byte) 0);
            size[fi] = (int) (s + len);
        }
    }

    /** Arguments the kernel refuses before any filesystem sees them: nothing may change. */
    private void invalidFallocate(int fi) {
        int r = rnd.nextInt(6);
        long off = offset(fi), len = 1 + rnd.nextInt(65536);
        int mode;
        String what;
        switch (r) {
            case 0 -> { len = 0; mode = 0; what = "fallocate len 0"; }
            case 1 -> { off = -1 - rnd.nextInt(1 << 20); mode = rnd.nextBoolean() ? 0 : PUNCH | KEEP; what = "fallocate negative offset mode " + mode; }
            case 2 -> { mode = PUNCH; what = "fallocate PUNCH_HOLE without KEEP_SIZE"; }
            case 3 -> { mode = PUNCH | ZERO | KEEP; what = "fallocate PUNCH_HOLE|ZERO_RANGE|KEEP_SIZE"; }
            case 4 -> { mode = COLLAPSE | KEEP; off = off / bs * bs; len = bs; what = "fallocate COLLAPSE_RANGE|KEEP_SIZE"; }
            default -> { mode = INSERT | KEEP; off = off / bs * bs; len = bs; what = "fallocate INSERT_RANGE|KEEP_SIZE"; }
        }
        did("f" + fi + " " + what + " @" + off + " +" + len + " (size " + size[fi] + ")");
        int got = Sys.fallocate(fd[fi], mode, off, len);
        // EINVAL for bad numbers; an impossible mode combination is EOPNOTSUPP on current kernels, EINVAL on older ones
        if (r < 2) expect(got, -EINVAL, what);
        else if (got != -EINVAL && got != -EOPNOTSUPP) throw bad(what + ": got " + got + ", expected -EINVAL or -EOPNOTSUPP");
    }

    /**
     * A shared writable mapping of a range (the file is extended first if the range passes EOF),
     * written, forced and unmapped, by the {@link MapClient} process.
     */
    private void mmapWrite(int fi) throws IOException {
        long off = offset(fi);
        int len = (int) Math.min(1 + rnd.nextInt(rnd.nextInt(4) == 0 ? MAP_MAX : 9000), MAX - off);
        byte[] d = new byte[len];
        rnd.nextBytes(d);
        int s = size[fi];
        boolean grow = off + len > s;
        did("f" + fi + " mmap write @" + off + " +" + len + " (size " + s + (grow ? ", ftruncate to " + (off + len) + " first" : "") + ")");
        if (grow) {
            expect(FsxSys.ftruncate(fd[fi], off + len), 0, "ftruncate before mmap");
            resize(fi, (int) (off + len));
        }
        mapper.write(file(fi), off, d);
        System.arraycopy(d, 0, model[fi], (int) off, len);
    }

    /** A shared read-only mapping of a range inside the file, read by the {@link MapClient} process and compared with the model. */
    private void mmapRead(int fi) throws IOException {
        int s = size[fi];
        if (s == 0) { did("f" + fi + " mmap read skipped (empty file)"); return; }
        long off = rnd.nextInt(3) == 0 ? Math.max(0, s - 1 - rnd.nextInt(8192)) : rnd.nextInt(s);
        int len = (int) Math.min(1 + rnd.nextInt(rnd.nextInt(4) == 0 ? MAP_MAX : 9000), s - off);
        did("f" + fi + " mmap read @" + off + " +" + len + " (size " + s + ")");
        byte[] got = mapper.read(file(fi), off, len);
        compare(fi, off, got, len, "mmap read");
    }

    private void sync(int fi) {
        boolean data = rnd.nextBoolean();
        did("f" + fi + (data ? " fdatasync" : " fsync"));
        expect(data ? FsxSys.fdatasync(fd[fi]) : FsxSys.fsync(fd[fi]), 0, data ? "fdatasync" : "fsync");
    }

    private void reopen(int fi) {
        boolean trunc = rnd.nextInt(10) == 0;
        did("f" + fi + " close, reopen" + (trunc ? " O_TRUNC" : "") + " (size " + size[fi] + ")");
        expect(Sys.close(fd[fi]), 0, "close");
        fd[fi] = 0;
        if (dfd[fi] > 0) expect(Sys.close(dfd[fi]), 0, "close O_DIRECT");
        dfd[fi] = 0;
        fd[fi] = Sys.open(file(fi).toString(), O_RDWR | (trunc ? O_TRUNC : 0), 0);
        if (fd[fi] < 0) throw bad("reopen: errno " + -fd[fi]);
        if (trunc) resize(fi, 0);
    }

    /** Every file fsynced, then the kernel's clean page cache dropped: the next reads come from ext4j. */
    private void dropCaches() throws IOException {
        if (!canDrop) { did("drop caches skipped"); return; }
        did("fsync all, drop caches");
        for (int i = 0; i < FILES; i++) expect(FsxSys.fsync(fd[i]), 0, "fsync f" + i);
        Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3");
    }

    /** Everything closed, unmounted, e2fsck -fn, mounted again; the files reopened and compared whole. */
    private void remount() throws Exception {
        did("remount (close all, unmount, e2fsck -fn, mount)");
        closeAll();
        m.close();
        try {
            Tools.assertFsckClean(img);
        } catch (AssertionError e) {
            throw bad("e2fsck after an unmount: " + e.getMessage());
        }
        m = Ext4Mount.mount(img, mnt, MountOptions.defaults());
        for (int i = 0; i < FILES; i++) {
            fd[i] = Sys.open(file(i).toString(), O_RDWR, 0);
            if (fd[i] < 0) throw bad("open f" + i + " after the remount: errno " + -fd[i]);
        }
        for (int i = 0; i < FILES; i++) compareWhole(i, "after the remount");
    }

    private void closeAll() {
        for (int i = 0; i < FILES; i++) {
            if (fd[i] > 0) expect(Sys.close(fd[i]), 0, "close f" + i);
            fd[i] = 0;
            if (dfd[i] > 0) expect(Sys.close(dfd[i]), 0, "close O_DIRECT f" + i);
            dfd[i] = 0;
        }
    }

    /** Every 500 ops: all sizes (lseek and stat), one file whole; every 10,000 ops all of them. */
    private void periodic() throws IOException {
        for (int i = 0; i < FILES; i++) {
            expect(Sys.lseek(fd[i], 0, SEEK_END), size[i], "lseek SEEK_END of f" + i);
            expect(Files.size(file(i)), size[i], "stat size of f" + i);
        }
        if (op % 10_000 == 0) for (int i = 0; i < FILES; i++) compareWhole(i, "periodic check");
        else compareWhole((int) (op / 500 % FILES), "periodic check");
    }

    private void compareWhole(int fi, String when) {
        expect(Sys.lseek(fd[fi], 0, SEEK_END), size[fi], "size of f" + fi + " " + when);
        readAndCompare(fi, 0, size[fi] + 1, "whole-file read " + when);
        readAndCompare(fi, direct(fi), 0, size[fi] + 1, "whole-file O_DIRECT read " + when);
    }

    // ---- checking and reporting ----

    /** Logs an op before it runs; its kind is the text up to the first digit, '@' or '(' after the file name. */
    private void did(String what) {
        progressAt = System.nanoTime();
        log.addLast("#" + op + " " + what);
        if (log.size() > LOG) log.removeFirst();
        if (what.matches("f\\d .*")) {
            int fi = what.charAt(1) - '0';
            if (fileLog[fi] == null) fileLog[fi] = new ArrayDeque<>();
            fileLog[fi].addLast("#" + op + " " + what);
            if (fileLog[fi].size() > LOG) fileLog[fi].removeFirst();
        }
        String kind = what.replaceFirst("^f\\d ", "").replaceFirst("\\s*[-@(\\d].*", "");
        counts.merge(kind, 1, Integer::sum);
    }

    private void expect(long got, long want, String what) {
        if (got != want) throw bad(what + ": got " + got + (got < 0 ? " (-errno)" : "") + ", expected " + want);
    }

    private AssertionError bad(String msg) {
        return new AssertionError("seed " + seed + " op " + op + ": " + msg + "\n" + lastOps() + "\n(rerun: " + Seeds.rerun(seed) + ")");
    }

    private String lastOps() {
        return "last ops:\n  " + String.join("\n  ", log) + "\nmodel sizes " + Arrays.toString(size);
    }

    /** The watchdog: an op stuck for two minutes gets its log printed and the FUSE connection aborted, which fails it. */
    private void watch() {
        try {
            while (running) {
                Thread.sleep(5000);
                if (!running || System.nanoTime() - progressAt < STUCK_NANOS) continue;
                String ops;
                try { ops = lastOps(); } catch (RuntimeException e) { ops = "(the log is changing)"; }
                System.err.println("FuseFsxTest seed " + seed + ": op " + op + " has not finished in " + STUCK_NANOS / 1_000_000_000L
                        + " s; aborting the FUSE connection\n" + ops);
                abortConnection();
                return;
            }
        } catch (InterruptedException done) {
            // the run ended
        } catch (IOException e) {
            System.err.println("FuseFsxTest watchdog: " + e);
        }
    }

    /** Writes 1 to fusectl's abort file of the mount (mounting fusectl if it is not). */
    private void abortConnection() throws IOException, InterruptedException {
        String minor = null;
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            if (f.length > 4 && f[4].equals(mnt.toString())) minor = f[2].substring(f[2].indexOf(':') + 1);
        }
        if (minor == null) { System.err.println("FuseFsxTest watchdog: " + mnt + " is not mounted"); return; }
        Path conns = Path.of("/sys/fs/fuse/connections");
        if (!Files.exists(conns.resolve(minor))) Tools.run("mount", "-t", "fusectl", "fusectl", conns.toString());
        Path abort = conns.resolve(minor).resolve("abort");
        if (Files.exists(abort)) Files.writeString(abort, "1");
        else System.err.println("FuseFsxTest watchdog: no " + abort + ": kill the test JVM and run umount -l " + mnt);
    }

    /** This JVM's end of a {@link MapClient} process. */
    private final class Mapper implements AutoCloseable {
        private final Process proc;
        private final DataOutputStream out;
        private final DataInputStream in;

        Mapper() throws IOException {
            Path classes;
            try {
                classes = Path.of(FuseFsxTest.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            } catch (java.net.URISyntaxException e) {
                throw new IOException(e);
            }
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            proc = new ProcessBuilder(java, "-Xmx256m", "-XX:+UseSerialGC", "-cp", classes.toString(), MapClient.class.getName())
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            out = new DataOutputStream(new BufferedOutputStream(proc.getOutputStream(), 1 << 16));
            in = new DataInputStream(new BufferedInputStream(proc.getInputStream(), 1 << 16));
        }

        void write(Path f, long off, byte[] d) throws IOException {
            out.writeByte('W');
            out.writeUTF(f.toString());
            out.writeLong(off);
            out.writeInt(d.length);
            out.write(d);
            out.flush();
            answer("mmap write");
        }

        byte[] read(Path f, long off, int len) throws IOException {
            out.writeByte('R');
            out.writeUTF(f.toString());
            out.writeLong(off);
            out.writeInt(len);
            out.flush();
            answer("mmap read");
            byte[] b = new byte[len];
            in.readFully(b);
            return b;
        }

        private void answer(String what) throws IOException {
            int status;
            try {
                status = in.readInt();
            } catch (EOFException e) {
                throw bad(what + ": the mapping process ended" + (proc.isAlive() ? "" : " with exit status " + proc.exitValue()));
            }
            if (status != 0) throw bad(what + " in the mapping process: " + in.readUTF());
        }

        @Override public void close() throws IOException {
            try {
                out.writeByte('Q');
                out.flush();
            } catch (IOException ignored) { }
            try {
                if (!proc.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) proc.destroyForcibly();
            } catch (InterruptedException e) {
                proc.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * The mapping process: reads requests on stdin (W path offset length bytes: map READ_WRITE,
     * copy, force, unmap; R path offset length: map READ_ONLY and copy out; Q: quit) and answers
     * each on stdout with 0 (and for R the bytes) or -1 and the exception.
     */
    static final class MapClient {
        public static void main(String[] args) throws IOException {
            DataInputStream in = new DataInputStream(new BufferedInputStream(System.in, 1 << 16));
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(new FileOutputStream(FileDescriptor.out), 1 << 16));
            while (true) {
                int c = in.read();
                if (c < 0 || c == 'Q') return;
                Path f = Path.of(in.readUTF());
                long off = in.readLong();
                int len = in.readInt();
                byte[] d = new byte[len];
                if (c == 'W') in.readFully(d);
                try {
                    if (c == 'W') {
                        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE); Arena a = Arena.ofConfined()) {
                            MemorySegment seg = ch.map(FileChannel.MapMode.READ_WRITE, off, len, a);
                            MemorySegment.copy(d, 0, seg, ValueLayout.JAVA_BYTE, 0, len);
                            seg.force();
                        }
                    } else {
                        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ); Arena a = Arena.ofConfined()) {
                            MemorySegment.copy(ch.map(FileChannel.MapMode.READ_ONLY, off, len, a), ValueLayout.JAVA_BYTE, 0, d, 0, len);
                        }
                    }
                    out.writeInt(0);
                    if (c == 'R') out.write(d);
                } catch (Throwable t) {
                    out.writeInt(-1);
                    out.writeUTF(String.valueOf(t));
                }
                out.flush();
            }
        }
    }

    private static String hex(byte[] b, int at) {
        StringBuilder s = new StringBuilder();
        for (int i = at; i < Math.min(b.length, at + 8); i++) s.append(String.format("%02x", b[i] & 0xff));
        return s.toString();
    }

    private static boolean allZero(byte[] b, int from, int to) {
        for (int i = from; i < to; i++) if (b[i] != 0) return false;
        return true;
    }
}
