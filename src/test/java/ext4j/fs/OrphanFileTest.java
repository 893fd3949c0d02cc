package ext4j.fs;

import ext4j.block.RecordingBlockDevice;
import ext4j.block.RecordingBlockDevice.CutMode;
import ext4j.cli.CliRunner;
import ext4j.mkfs.Mkfs;
import ext4j.mkfs.MkfsOptions;
import ext4j.ondisk.Features;
import ext4j.ondisk.Superblock;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The orphan file (orphan_file, Linux 5.15 on): orphans ext4j makes go into its slots and Linux's
 * recovery finds them there; orphans Linux left there (a snapshot of a mounted filesystem with an
 * unlinked open file) are finished by `ext4j recover` as a kernel mount finishes them; power cuts
 * during orphan work recover clean. Each result: e2fsck -fn prints nothing a clean run does not,
 * orphan_present is cleared, and a kernel mount agrees. Seeds printed, -Dext4j.seed=N replays.
 */
class OrphanFileTest {
    @TempDir Path tmp;

    private static long seed(String test) {
        Long fixed = Long.getLong("ext4j.seed");
        long s = fixed != null ? fixed : System.nanoTime();
        System.out.println("OrphanFileTest." + test + " seed=" + s + " (rerun with -Dext4j.seed=" + s + ")");
        return s;
    }

    private static String dumpe2fs(Path img) throws Exception { return Tools.run("dumpe2fs", "-h", img.toString()).out(); }

    private static String field(String dump, String name) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + ":\\s*(.*)$").matcher(dump);
        return m.find() ? m.group(1).trim() : null;
    }

    /** Free blocks and free inodes as dumpe2fs reports them. */
    private static String counts(Path img) throws Exception {
        String d = dumpe2fs(img);
        return "free blocks " + field(d, "Free blocks") + ", free inodes " + field(d, "Free inodes");
    }

    private static boolean orphanPresent(Path img) throws Exception {
        String f = field(dumpe2fs(img), "Filesystem features");
        return f != null && Arrays.asList(f.split(" ")).contains("orphan_present");
    }

    /** What the orphan file lists, read without the writer (the test is in the package). */
    private static List<Long> orphanFileEntries(Path img) throws Exception {
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnlyAsIs(img)) {
            Superblock sb = fs.superblock();
            assertTrue(sb.hasCompat(Features.COMPAT_ORPHAN_FILE) && sb.orphanFileInode() != 0, "no orphan file");
            return new OrphanFile(fs, fs.volume(), sb.orphanFileInode()).inodes();
        }
    }

    private static void assertCleanAndOrphanFree(Path img, String where) throws Exception {
        Tools.Result r = Tools.run("e2fsck", "-fn", img.toString());
        assertEquals(0, r.exit(), where + ": e2fsck -fn:\n" + r.out());
        assertNull(Tools.fsckFinding(r.out()), where + ": e2fsck -fn:\n" + r.out());
        assertFalse(orphanPresent(img), where + ": orphan_present is still set");
        assertEquals(List.of(), orphanFileEntries(img), where + ": the orphan file still lists inodes");
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnlyAsIs(img)) { assertEquals(0, fs.superblock().lastOrphan(), where + ": s_last_orphan"); }
    }

    /** Mounts and unmounts with Linux (its orphan processing, whose truncates may leave a tree e2fsck would shorten), then e2fsck -fn. */
    private static void kernelRoundTrip(Path img, Path mnt, String where) throws Exception {
        Files.createDirectories(mnt);
        Tools.mount(img, mnt, "");
        Tools.umount(mnt);
        boolean tallTree = Tools.assertFsckCleanAfterKernel(img);
        assertFalse(orphanPresent(img), where + ": orphan_present after a kernel mount");
        // the index block Linux's truncate kept is the one block by which its free count differs from
        // ext4j's (which collapses the tree): let e2fsck shorten it so the free counts compare data only
        if (tallTree) Tools.run("e2fsck", "-fy", img.toString());
    }

    private static void requireOrphanFileKernel() throws Exception {
        Tools.requireMount();
        String[] v = Tools.ok("uname", "-r").trim().split("[.-]");
        int major = Integer.parseInt(v[0]), minor = Integer.parseInt(v[1]);
        Assumptions.assumeTrue(major > 5 || (major == 5 && minor >= 15), "kernel " + String.join(".", v) + " has no orphan_file (5.15 on): skipping");
    }

    // ---- a snapshot Linux made ----

    /**
     * The failing case of issue 18: mke2fs -O orphan_file, a kernel mount, a 20 MB file opened and
     * unlinked, sync, the image copied while the file is still open. `ext4j recover` of the copy
     * must leave what a kernel mount of the copy leaves: a clean image (not "Deleted inode 13 has
     * zero dtime"), the file's blocks and inode free.
     */
    @Test
    void kernelSnapshotWithAnOpenUnlinkedFileRecoversLikeAKernelMount() throws Exception {
        requireOrphanFileKernel();
        Random rnd = new Random(seed("kernelSnapshot"));
        Path img = tmp.resolve("k.img"), mnt = tmp.resolve("m");
        Tools.mke2fs(img, null, "100M", "-t", "ext4", "-O", "orphan_file", "-b", rnd.nextBoolean() ? "1024" : "4096");
        Files.createDirectories(mnt);
        Tools.mount(img, mnt, "");
        Path snap = tmp.resolve("snap.img");
        try {
            byte[] data = new byte[20 << 20];
            rnd.nextBytes(data);
            Path f = mnt.resolve("big");
            Files.write(f, data);
            Tools.ok("sync");
            try (FileChannel open = FileChannel.open(f)) {
                Files.delete(f);
                Tools.ok("sync");
                Files.copy(img, snap);                      // still mounted, the file still open
                assertEquals(data.length, open.size());
            }
        } finally {
            Tools.umount(mnt);
        }
        Tools.assertFsckClean(img);
        assertTrue(orphanPresent(snap), "the snapshot carries orphan_present");

        Path byExt4j = tmp.resolve("ext4j.img"), byKernel = tmp.resolve("kernel.img");
        Files.copy(snap, byExt4j);
        Files.copy(snap, byKernel);
        CliRunner.Out out = CliRunner.run("recover", byExt4j.toString());
        assertEquals(0, out.exit(), out.err());
        assertCleanAndOrphanFree(byExt4j, "ext4j recover of the kernel's snapshot");
        kernelRoundTrip(byKernel, mnt, "kernel mount of the snapshot");
        assertEquals(counts(byKernel), counts(byExt4j), "ext4j recover and a kernel mount free the same");
        assertEquals(counts(img), counts(byExt4j), "and the same as the clean unmount");
        kernelRoundTrip(byExt4j, mnt, "kernel mount after ext4j recover");
    }

    /**
     * e2fsprogs' f_clear_orphan_file image (from the corpus beside the project): a dirty journal
     * whose replay leaves 19 inodes in the orphan file. `ext4j recover` must leave what e2fsck -fy
     * and a kernel mount leave: the same files, the same free counts, e2fsck -fn clean.
     */
    @Test
    void e2fsprogsOrphanFileImageRecoversLikeE2fsckAndLinux() throws Exception {
        Path src = tmp.resolve("f_clear_orphan_file.img");
        try (var in = new java.util.zip.GZIPInputStream(Files.newInputStream(Tools.corpus().resolve("f_clear_orphan_file.img.gz")))) {
            Files.copy(in, src);
        }
        assertTrue(orphanPresent(src), "the corpus image carries orphan_present");
        assertEquals(19, orphanFileEntriesAfterReplay(src).size(), "its journal's replay leaves 19 orphans in the orphan file");
        Path byExt4j = tmp.resolve("e.img"), byE2fsck = tmp.resolve("f.img"), byKernel = tmp.resolve("k.img");
        Files.copy(src, byExt4j);
        Files.copy(src, byE2fsck);
        Files.copy(src, byKernel);
        CliRunner.Out out = CliRunner.run("recover", byExt4j.toString());
        assertEquals(0, out.exit(), out.err());
        assertCleanAndOrphanFree(byExt4j, "ext4j recover of f_clear_orphan_file");
        Tools.Result fix = Tools.run("e2fsck", "-fy", byE2fsck.toString());
        assertTrue(fix.exit() <= 1, fix.out());
        assertEquals(counts(byE2fsck), counts(byExt4j), "ext4j recover and e2fsck -fy free the same");
        assertEquals(CliRunner.run("ls", byE2fsck.toString(), "/").out(), CliRunner.run("ls", byExt4j.toString(), "/").out(), "the same files");
        Tools.requireMount();
        kernelRoundTrip(byKernel, tmp.resolve("m"), "kernel mount of f_clear_orphan_file");
        assertEquals(counts(byKernel), counts(byExt4j), "ext4j recover and a kernel mount free the same");
    }

    // ---- ext4j's own orphans ----

    /** An orphan_file image made by mke2fs or by ext4j mkfs (which must make it the same way). */
    private static void makeImage(Path img, Random rnd, String size) throws Exception {
        int bs = rnd.nextBoolean() ? 1024 : 4096;
        if (rnd.nextBoolean()) {
            Tools.mke2fs(img, null, size, "-t", "ext4", "-O", "orphan_file", "-b", String.valueOf(bs));
            System.out.println("  image by mke2fs, block size " + bs);
        } else {
            long bytes = ext4j.base.Sizes.parse(size);
            try (FileChannel ch = FileChannel.open(img, java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(new byte[1]), bytes - 1);
            }
            try (var dev = ext4j.block.FileBlockDevice.open(img, false)) {
                Mkfs.format(dev, bytes, new MkfsOptions("ext4", bs, 0, 0, null, null, List.of("orphan_file")), false, null);
            }
            System.out.println("  image by ext4j mkfs, block size " + bs);
            Tools.assertFsckClean(img);
        }
    }

    private static byte[] name(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    /**
     * Files unlinked while open through Ext4Vfs go into the orphan file (not s_last_orphan), read
     * on, and are freed at the last release or, after a crash, by ext4j's or Linux's recovery.
     */
    @Test
    void unlinkedOpenFilesGoIntoTheOrphanFile() throws Exception {
        Random rnd = new Random(seed("unlinkedOpenFiles"));
        Path img = tmp.resolve("v.img"), mnt = tmp.resolve("m");
        makeImage(img, rnd, "64M");
        String before = counts(img);
        int n = 2 + rnd.nextInt(6);
        List<OpenFile> open = new ArrayList<>();
        List<byte[]> data = new ArrayList<>();
        Path snapA = tmp.resolve("crashA.img"), snapB = tmp.resolve("crashB.img");
        try (Ext4Vfs vfs = Ext4Vfs.open(img, Options.defaults())) {
            Ext4FileSystem fs = vfs.pathView();
            for (int i = 0; i < n; i++) {
                Entry e = vfs.create(Ext4Vfs.ROOT, name("f" + i), 0100644, 022, Caller.ROOT);
                OpenFile f = vfs.open(e.ino(), Ext4Vfs.O_RDWR, Caller.ROOT);
                byte[] d = new byte[rnd.nextInt(3 << 20)];
                rnd.nextBytes(d);
                if (i == 0) {
                    // fragmented: more extents than one handle frees (the multi-handle orphan path)
                    for (int k = 0; k < Orphans.EXTENTS_PER_HANDLE + 40; k++) vfs.write(f, (long) k * 2 * 4096, ByteBuffer.wrap(new byte[]{(byte) k}), Caller.ROOT);
                    d = null;
                } else vfs.write(f, 0, ByteBuffer.wrap(d), Caller.ROOT);
                open.add(f);
                data.add(d);
            }
            vfs.sync();
            List<Long> inos = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                vfs.unlink(Ext4Vfs.ROOT, name("f" + i));
                inos.add(open.get(i).ino());
            }
            Orphans o = fs.writerForTest().orphans;
            for (long ino : inos) assertTrue(o.orphanFile().contains(ino), "inode " + ino + " is in the orphan file");
            assertEquals(0, fs.superblock().lastOrphan(), "nothing on the old list");
            for (int i = 1; i < n; i++) {                          // the unlinked files still read
                ByteBuffer b = ByteBuffer.allocate(data.get(i).length);
                while (b.hasRemaining() && vfs.read(open.get(i), b.position(), b) > 0) { }
                assertArrayEquals(data.get(i), b.array(), "unlinked open file " + i);
            }
            vfs.sync();
            Files.copy(img, snapA);                                 // a crash now: files open, unlinked
            Files.copy(img, snapB);
            assertTrue(orphanPresent(snapA), "orphan_present is set while ext4j has the filesystem in use");
            assertEquals(new java.util.TreeSet<>(inos), new java.util.TreeSet<>(orphanFileEntriesAfterReplay(snapA)), "what a crash leaves in the orphan file");
            int k = rnd.nextInt(n);
            vfs.release(open.remove(k));                              // one last close frees it now
            assertFalse(o.orphanFile().contains(inos.get(k)));
        }                                                             // close releases the rest
        assertCleanAndOrphanFree(img, "after close");
        assertEquals(before, counts(img), "every unlinked file freed");

        Ext4FileSystem.recover(snapA);
        assertCleanAndOrphanFree(snapA, "ext4j recovery of the crash");
        assertEquals(before, counts(snapA), "ext4j recovery freed every orphan");
        Tools.requireMount();                                         // ext4j's side is checked: the Linux side is a visible skip
        kernelRoundTrip(snapB, mnt, "kernel recovery of ext4j's orphan file");
        assertEquals(before, counts(snapB), "Linux found every orphan ext4j put in the orphan file");
        kernelRoundTrip(img, mnt, "kernel mount after close");
    }

    /** The orphan file's entries once the journal is replayed (on a copy). */
    private List<Long> orphanFileEntriesAfterReplay(Path img) throws Exception {
        Path c = tmp.resolve("replayed.img");
        Files.copy(img, c, StandardCopyOption.REPLACE_EXISTING);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(c)) {
            return new OrphanFile(fs, fs.volume(), fs.superblock().orphanFileInode()).inodes();
        } finally {
            Files.delete(c);
        }
    }

    /**
     * A one-block orphan file fills up: further orphans go on s_last_orphan, as Linux falls back; both
     * are recovered. (128 MiB: on a smaller image each orphan's handle, 512 credits, is more than the
     * 4 MiB journal's transaction limit and commits alone, which makes 1,000 orphans slow.)
     */
    @Test
    void aFullOrphanFileFallsBackToTheList() throws Exception {
        Random rnd = new Random(seed("fullOrphanFile"));
        Path img = tmp.resolve("full.img"), mnt = tmp.resolve("m");
        Tools.mke2fs(img, null, "128M", "-t", "ext4", "-b", "4096", "-N", "4096", "-O", "orphan_file", "-E", "orphan_file_size=1");
        assertTrue(Tools.debugfs(img, "stat <12>").matches("(?s).*Project:\\s+\\d+\\s+Size: 4096\\n.*"), "a one-block orphan file");
        String before = counts(img);
        int slots = (4096 - 8) / 4, n = slots + 1 + rnd.nextInt(20);
        Path crash = tmp.resolve("crash.img"), crashK = tmp.resolve("crashK.img");
        try (Ext4Vfs vfs = Ext4Vfs.open(img, Options.defaults())) {
            List<OpenFile> open = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                Entry e = vfs.create(Ext4Vfs.ROOT, name("o" + i), 0100644, 022, Caller.ROOT);
                OpenFile f = vfs.open(e.ino(), Ext4Vfs.O_RDWR, Caller.ROOT);
                if (rnd.nextInt(4) == 0) vfs.write(f, 0, ByteBuffer.wrap(new byte[1 + rnd.nextInt(9000)]), Caller.ROOT);
                vfs.unlink(Ext4Vfs.ROOT, name("o" + i));
                open.add(f);
            }
            Ext4FileSystem fs = vfs.pathView();
            assertNotEquals(0, fs.superblock().lastOrphan(), "the overflow is on the old list");
            assertEquals(slots, fs.writerForTest().orphans.orphanFile().inodes().size());
            vfs.sync();
            Files.copy(img, crash);
            Files.copy(img, crashK);
            Collections_shuffle(open, rnd);
            for (OpenFile f : open.subList(0, open.size() / 2)) vfs.release(f);
        }
        assertCleanAndOrphanFree(img, "after close");
        assertEquals(before, counts(img));
        Ext4FileSystem.recover(crash);
        assertCleanAndOrphanFree(crash, "ext4j recovery of list and file");
        assertEquals(before, counts(crash));
        Tools.requireMount();
        kernelRoundTrip(crashK, mnt, "kernel recovery of list and file");
        assertEquals(before, counts(crashK), "Linux frees the same");
    }

    private static void Collections_shuffle(List<OpenFile> l, Random rnd) { java.util.Collections.shuffle(l, rnd); }

    /** A damaged orphan block (bad checksum, bad magic, a reserved inode in a slot) refuses writing, naming the block; reading goes on. */
    @Test
    void aDamagedOrphanFileIsRefusedNamingTheBlock() throws Exception {
        Random rnd = new Random(seed("damaged"));
        Path img = tmp.resolve("d.img");
        Tools.mke2fs(img, null, "32M", "-t", "ext4", "-O", "orphan_file", "-b", "1024");
        long first = Long.parseLong(Tools.debugfs(img, "blocks <12>").replaceAll("(?s).*?\\n(\\d+).*", "$1").strip());
        int nth = rnd.nextInt(32);
        String[] damage = {"checksum", "magic", "slot"};
        for (String kind : damage) {
            Path d = tmp.resolve("d-" + kind + ".img");
            Files.copy(img, d, StandardCopyOption.REPLACE_EXISTING);
            try (FileChannel ch = FileChannel.open(d, java.nio.file.StandardOpenOption.WRITE)) {
                long at = (first + nth) * 1024;
                ByteBuffer four = ByteBuffer.allocate(4).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                switch (kind) {
                    case "checksum" -> ch.write(four.putInt(0, 0x1234).clear(), at + 1020);
                    case "magic" -> ch.write(four.putInt(0, 0x0b10ca05).clear(), at + 1016);
                    default -> ch.write(four.putInt(0, 2).clear(), at + 4L * rnd.nextInt(254));  // the root directory as an orphan
                }
            }
            var e = assertThrows(ext4j.base.CorruptException.class, () -> { try (Ext4FileSystem _ = Ext4FileSystem.openReadWrite(d, false)) { } }, kind);
            assertTrue(e.getMessage().contains("orphan file (inode 12) block " + nth), kind + ": " + e.getMessage());
            try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(d)) { assertNotNull(fs.resolve("/lost+found", true)); }
        }
    }

    // ---- power cuts ----

    /**
     * Power cuts at sampled device operations of a workload of orphan work on an orphan_file image
     * (files unlinked while open, released, big truncates over many extents, fsyncs; the filesystem
     * is dropped at the end as kill -9 would): each cut, recovered by ext4j, is e2fsck-clean with
     * no orphan left; on every fifth a kernel mount of the same cut frees the same blocks and inodes.
     * -Dext4j.cuts=N sets the number of cuts (default 60, 0: all).
     */
    @Test
    void powerCutsDuringOrphanWorkRecoverClean() throws Exception {
        long seed = seed("powerCuts");
        Random rnd = new Random(seed);
        Path base = tmp.resolve("base.img"), mnt = tmp.resolve("m");
        makeImage(base, rnd, "16M");
        RecordingBlockDevice dev = new RecordingBlockDevice(Files.readAllBytes(base), "recorded");
        Ext4Vfs vfs = Ext4Vfs.open(dev, Options.defaults().withCommitMillis(0));
        int first = dev.opCount();
        List<OpenFile> open = new ArrayList<>();
        List<String> linked = new ArrayList<>();
        for (int op = 0; op < 60; op++) {
            int kind = rnd.nextInt(7);
            if (kind <= 1 || linked.isEmpty()) {
                String nm = "f" + op;
                Entry e = vfs.create(Ext4Vfs.ROOT, name(nm), 0100644, 022, Caller.ROOT);
                OpenFile f = vfs.open(e.ino(), Ext4Vfs.O_RDWR, Caller.ROOT);
                int extents = rnd.nextInt(3) == 0 ? Orphans.EXTENTS_PER_HANDLE + rnd.nextInt(200) : 1 + rnd.nextInt(8);
                for (int k = 0; k < extents; k++) vfs.write(f, (long) k * 2 * 4096, ByteBuffer.wrap(new byte[1 + rnd.nextInt(4096)]), Caller.ROOT);
                if (rnd.nextBoolean()) vfs.fsync(f, false);
                open.add(f);
                linked.add(nm);
            } else if (kind == 2) {
                vfs.unlink(Ext4Vfs.ROOT, name(linked.remove(rnd.nextInt(linked.size()))));
            } else if (kind == 3 && !open.isEmpty()) {
                vfs.release(open.remove(rnd.nextInt(open.size())));
            } else if (kind == 4) {
                Entry e = vfs.lookup(Ext4Vfs.ROOT, name(linked.get(rnd.nextInt(linked.size()))));
                vfs.setattr(e.ino(), SetAttr.NONE.size(rnd.nextInt(3) == 0 ? 0 : rnd.nextInt(8 * 4096)), Caller.ROOT);
            } else if (kind == 5) {
                vfs.sync();
            } else if (!open.isEmpty()) {
                vfs.fsync(open.get(rnd.nextInt(open.size())), rnd.nextBoolean());
            }
        }
        vfs.sync();
        Ext4FileSystemAccess.abandon(vfs.pathView());               // killed with files open and unlinked
        int ops = dev.opCount();
        int want = Integer.getInteger("ext4j.cuts", 60);
        List<Integer> points = new ArrayList<>();
        for (int n = first; n <= ops; n++) points.add(n);
        if (want > 0 && points.size() > want) {
            java.util.Collections.shuffle(points, rnd);
            points = new ArrayList<>(points.subList(0, want - 1));
            points.add(ops);                                        // the kill at the end is always checked
            points.sort(null);
        }
        System.out.println("  " + (ops - first) + " device operations, " + points.size() + " cuts checked");
        CutMode[] modes = CutMode.values();
        int i = 0, kernelChecked = 0;
        for (int n : points) {
            CutMode mode = n == ops ? CutMode.values()[0] : modes[rnd.nextInt(modes.length)];
            byte[] state = dev.stateAt(n, mode, new Random(seed ^ n));
            Path cut = tmp.resolve("cut.img");
            Files.write(cut, state);
            String where = "seed=" + seed + " cut after device op " + n + " (" + mode + ")";
            Ext4FileSystem.recover(cut);
            assertCleanAndOrphanFree(cut, where + ", ext4j recovery");
            if (i++ % 5 == 0 && Tools.canMount()) {
                Path k = tmp.resolve("cutK.img");
                Files.write(k, state);
                kernelRoundTrip(k, mnt, where + ", kernel recovery");
                assertEquals(counts(k), counts(cut), where + ": ext4j and Linux recover to different free counts");
                kernelChecked++;
            }
        }
        System.out.println("  " + points.size() + " cuts recovered clean by ext4j, " + kernelChecked + " also by Linux with the same free counts");
        Tools.requireMount();                                         // no kernel cross-check happened: say so as a skip
    }
}
