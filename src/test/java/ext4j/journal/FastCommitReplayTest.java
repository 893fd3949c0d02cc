package ext4j.journal;

import ext4j.cli.CliRunner;
import ext4j.fs.Ext4FileSystem;
import ext4j.testutil.Seeds;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Fast-commit journals (mke2fs -O fast_commit) left dirty by Linux: snapshots of a mounted image
 * after fsyncs that Linux wrote as fast commits, replayed by ext4j (recover, read-write and
 * read-only opens) and by a kernel mount of another copy, compared file by file; e2fsck -fn clean
 * after ext4j's replay; e2fsprogs' j_recover_fast_commit image; damaged fast-commit areas; and the
 * journal ext4j itself leaves on such a filesystem replayed by Linux and e2fsck.
 *
 * <p>Linux 6.x's own replay of a fast-commit mkdir leaves a directory with one link and its parent
 * one short (e2fsck repairs both); ext4j gives the counts e2fsck expects, so directories' link
 * counts and sizes are not compared with the kernel's, everything else is.
 */
class FastCommitReplayTest {
    @TempDir Path tmp;

    private static String sha(byte[] b) throws Exception { return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b)); }

    /** Path -> type, mode, (non-directories) link count, size and content hash, for a mounted tree. */
    static Map<String, String> tree(Path root, boolean links) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (p.equals(root)) continue;
                String rel = root.relativize(p).toString();
                if (rel.equals("lost+found")) continue;
                Map<String, Object> a = Files.readAttributes(p, "unix:*", LinkOption.NOFOLLOW_LINKS);
                boolean dir = Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS);
                String v = String.format("mode 0%o", (Integer) a.get("mode"));
                if (!dir) {
                    if (links) v += " links " + a.get("nlink");
                    v += " size " + a.get("size");
                    if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) v += " sha " + sha(Files.readAllBytes(p));
                    if (Files.isSymbolicLink(p)) v += " -> " + Files.readSymbolicLink(p);
                }
                out.put(rel, v);
            }
        }
        return out;
    }

    /**
     * Fast commits that fill the whole area (a 16-block area on 4 KiB blocks holds 15): Linux 6.18
     * fails to replay its own snapshot ("JBD2: journal recovery failed"; 14 replay); ext4j replays
     * all 15, every fsynced append there, e2fsck clean. Should a kernel replay it, the trees must match.
     */
    @Test
    void aFullFastCommitAreaReplays() throws Exception {
        Tools.requireMount();
        Path img = tmp.resolve("full.img"), snap = tmp.resolve("full-snap.img"), mnt = Files.createDirectories(tmp.resolve("mnt"));
        Tools.mke2fs(img, null, "32M", "-t", "ext4", "-O", "fast_commit", "-b", "4096");
        Tools.mount(img, mnt, "");
        try {
            for (int i = 0; i < 20; i++) write(mnt.resolve("f" + i), 0, "a".repeat(100).getBytes(), false);
            Tools.ok("sync");
            for (int i = 0; i < 15; i++) write(mnt.resolve("f" + i), 100, "b".repeat(5000).getBytes(), true);
            Files.copy(img, snap);
        } finally {
            Tools.umount(mnt);
        }
        assertEquals(15, Tools.debugfs(snap, "logdump").split("tag TAIL", -1).length - 1, "15 fast commits fill the area");
        Path byKernel = tmp.resolve("full-kernel.img");
        Files.copy(snap, byKernel);
        CliRunner.Out rec = CliRunner.run("recover", snap.toString());
        assertEquals(0, rec.exit(), rec.err());
        assertTrue(rec.out().contains("15 fast commits (30 tags)"), rec.out());
        Tools.assertFsckClean(snap);
        Map<String, String> ext4j = kernelTree(snap, "ro", true);
        String appended = "a".repeat(100) + "b".repeat(5000), plain = "a".repeat(100);
        for (int i = 0; i < 20; i++)
            assertEquals("mode 0100644 links 1 size " + (i < 15 ? 5100 : 100) + " sha " + sha((i < 15 ? appended : plain).getBytes()), ext4j.get("f" + i), "f" + i);
        Tools.Result k = Tools.run("mount", "-o", "loop", byKernel.toString(), mnt.toString());
        if (k.exit() != 0) System.out.println("  the kernel refuses its own full-area snapshot: " + dmesgTail());
        else {
            try { assertEquals(tree(mnt, true), ext4j, "the kernel replayed the full area: the same tree"); } finally { Tools.umount(mnt); }
        }
    }

    private Map<String, String> kernelTree(Path image, String opts, boolean links) throws Exception {
        Path mnt = Files.createDirectories(tmp.resolve("mnt"));
        Tools.mount(image, mnt, opts);
        try { return tree(mnt, links); } finally { Tools.umount(mnt); }
    }

    private static void fsync(Path p) throws Exception {
        try (FileChannel c = FileChannel.open(p, StandardOpenOption.WRITE)) { c.force(true); }
    }

    private static void write(Path p, long pos, byte[] b, boolean sync) throws Exception {
        try (FileChannel c = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            c.write(ByteBuffer.wrap(b), pos);
            if (sync) c.force(true);
        }
    }

    /**
     * A seeded workload on a mounted fast_commit image: a tree made and synced (a full commit), then
     * creates, appends, overwrites, truncates, links, unlinks, renames and mkdirs each followed by an
     * fsync (fast commits), now and then a sync (a full commit that makes the older fast commits
     * stale); the image is copied while still mounted, what a power cut leaves.
     */
    private Path kernelSnapshot(long seed, String blockSize, int ops) throws Exception {
        Path img = tmp.resolve("k.img"), snap = tmp.resolve("snap.img");
        Files.deleteIfExists(img);
        Tools.mke2fs(img, null, "32M", "-t", "ext4", "-O", "fast_commit", "-b", blockSize);
        Path mnt = Files.createDirectories(tmp.resolve("mnt"));
        Random r = new Random(seed);
        Tools.mount(img, mnt, "");
        try {
            List<Path> files = new ArrayList<>(), dirs = new ArrayList<>(List.of(mnt));
            for (int d = 0; d < 3; d++) dirs.add(Files.createDirectories(mnt.resolve("d" + d)));
            for (int i = 0; i < 12; i++) {
                Path f = dirs.get(r.nextInt(dirs.size())).resolve("base" + i);
                write(f, 0, bytes(r, r.nextInt(40_000)), false);
                files.add(f);
            }
            Tools.ok("sync");
            int n = 0;
            for (int op = 0; op < ops; op++) {
                Path f = files.isEmpty() ? null : files.get(r.nextInt(files.size()));
                switch (r.nextInt(f == null ? 1 : 16)) {
                    case 0 -> { Path g = dirs.get(r.nextInt(dirs.size())).resolve("new" + n++); write(g, 0, bytes(r, r.nextInt(30_000)), true); files.add(g); }
                    case 1 -> write(f, Files.size(f), bytes(r, 1 + r.nextInt(20_000)), true);
                    case 2 -> write(f, r.nextInt((int) Files.size(f) + 1), bytes(r, 1 + r.nextInt(8_000)), true);
                    case 3 -> { try (FileChannel c = FileChannel.open(f, StandardOpenOption.WRITE)) { c.truncate(r.nextInt((int) Files.size(f) + 1)); c.force(true); } }
                    case 4 -> { Path l = dirs.get(r.nextInt(dirs.size())).resolve("link" + n++); Files.createLink(l, f); files.add(l); fsync(f); }
                    case 5 -> { Files.delete(f); files.remove(f); if (!files.isEmpty()) fsync(files.get(r.nextInt(files.size()))); }
                    case 6 -> { Path to = f.resolveSibling("ren" + n++); Files.move(f, to); files.set(files.indexOf(f), to); fsync(to); }
                    case 7 -> { Path d = Files.createDirectory(dirs.get(r.nextInt(dirs.size())).resolve("sub" + n++)); dirs.add(d);
                                Path g = d.resolve("in" + n++); write(g, 0, bytes(r, r.nextInt(10_000)), true); files.add(g); }
                    case 8 -> write(f, Files.size(f) + r.nextInt(200_000), bytes(r, 1 + r.nextInt(5_000)), true);   // a hole, then data
                    case 10 -> { Path l = dirs.get(r.nextInt(dirs.size())).resolve("sym" + n++);            // fast and slow symlinks
                                 Files.createSymbolicLink(l, Path.of(r.nextBoolean() ? "t" + n : "long/".repeat(20 + r.nextInt(100)) + n)); fsync(f); }
                    case 11 -> { Files.setPosixFilePermissions(f, java.nio.file.attribute.PosixFilePermissions.fromString(r.nextBoolean() ? "rw-------" : "rwxr-x---")); fsync(f); }
                    case 12 -> { Path to = dirs.get(r.nextInt(dirs.size())).resolve("mv" + n++); Files.move(f, to); files.set(files.indexOf(f), to); fsync(to); }
                    case 13 -> { try (FileChannel c = FileChannel.open(f, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) { c.write(ByteBuffer.wrap(bytes(r, r.nextInt(9_000)))); c.force(true); } }
                    case 14 -> { Path d = Files.createDirectory(dirs.get(r.nextInt(dirs.size())).resolve("empty" + n++)); fsync(f);
                                 if (r.nextBoolean()) { Files.delete(d); fsync(f); } else dirs.add(d); }
                    default -> { if (r.nextInt(4) == 0 && op < ops - 8) Tools.ok("sync"); else write(f, 0, bytes(r, 100), true); }
                }
            }
            Files.copy(img, snap, java.nio.file.StandardCopyOption.REPLACE_EXISTING);   // mounted: needs_recovery, fast commits in the area
            System.out.println("    kernel: " + fcStats(mnt));
        } finally {
            Tools.umount(mnt);
        }
        return snap;
    }

    private static String dmesgTail() throws Exception {
        String[] l = Tools.run("dmesg").out().trim().split("\n");
        return String.join("; ", java.util.Arrays.copyOfRange(l, Math.max(0, l.length - 3), l.length)).replaceAll("\\[[ 0-9.]+\\] ", "");
    }

    /** Linux's fast-commit counters for the filesystem mounted at mnt (/proc/fs/ext4/DEV/fc_info), one line. */
    private static String fcStats(Path mnt) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/mounts"))) {
            String[] f = line.split(" ");
            if (f.length > 1 && f[1].equals(mnt.toString()) && f[0].startsWith("/dev/")) {
                Path info = Path.of("/proc/fs/ext4", f[0].substring(5), "fc_info");
                if (Files.exists(info)) return String.join(" ", Files.readAllLines(info)).replaceAll("\\s+", " ");
            }
        }
        return "(no fc_info)";
    }

    /** "path: kernel's vs ext4j's" for every path whose entry differs or is on one side only. */
    static List<String> differences(Map<String, String> expected, Map<String, String> actual) {
        List<String> out = new ArrayList<>();
        java.util.Set<String> keys = new java.util.TreeSet<>(expected.keySet());
        keys.addAll(actual.keySet());
        for (String k : keys)
            if (!java.util.Objects.equals(expected.get(k), actual.get(k))) out.add(k + ": " + expected.get(k) + " vs " + actual.get(k));
        return out;
    }

    private static byte[] bytes(Random r, int n) { byte[] b = new byte[n]; r.nextBytes(b); return b; }

    @Test
    void linuxFastCommitsReplayAsTheKernelReplaysThem() throws Exception {
        Tools.requireMount();                                   // a visible skip where the kernel cannot loop-mount
        long seed = Seeds.seed("FastCommitReplayTest");
        int rounds = Seeds.fixed() ? 1 : Integer.getInteger("ext4j.fcRounds", 4), withFc = 0, refusedByKernel = 0, kernelLost = 0, e2fsckFailed = 0, e2fsckSame = 0;
        for (int round = 0; round < rounds; round++) {
            long s = Seeds.fixed() && round == 0 ? seed : Seeds.derived("round " + round, new Random(seed + round).nextLong());
            String bs = (s & 1) == 0 ? "4096" : "1024";          // from the seed, so a rerun of the round reproduces it
            Path snap = kernelSnapshot(s, bs, 40);
            Path byExt4j = tmp.resolve("ext4j.img"), byKernel = tmp.resolve("kernel.img"), byRw = tmp.resolve("rw.img"), byRo = tmp.resolve("ro.img");
            for (Path p : List.of(byExt4j, byKernel, byRw, byRo)) Files.copy(snap, p, java.nio.file.StandardCopyOption.REPLACE_EXISTING);

            CliRunner.Out rec = CliRunner.run("recover", byExt4j.toString());
            assertEquals(0, rec.exit(), Seeds.rerun(seed) + "\n" + rec.err());
            System.out.println("  round " + round + " (" + bs + "-byte blocks): " + rec.out().trim().replace('\n', ' '));
            if (rec.out().contains("fast commits")) withFc++;
            Tools.assertFsckClean(byExt4j);

            Map<String, String> kernel;
            try {
                kernel = kernelTree(byKernel, "", true);
            } catch (AssertionError e) {
                // Linux 6.18 fails ("JBD2: journal recovery failed") on its own snapshot when fast commits fill the
                // whole area (15 of 15 usable blocks with 4 KiB blocks here): no reference (ext4j's replay was e2fsck-clean above)
                System.out.println("  round " + round + ": the kernel refuses to mount its own snapshot (" + dmesgTail() + "): not compared");
                withFc -= rec.out().contains("fast commits") ? 1 : 0;
                refusedByKernel++;
                continue;
            }
            Map<String, String> ext4j = kernelTree(byExt4j, "ro", true);
            if (System.getProperty("ext4j.fcKeep") != null) Files.copy(snap, Path.of(System.getProperty("ext4j.fcKeep")), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            // e2fsck 1.47's replay: often "Invalid argument while recovering journal" on Linux's fast commits
            Path byE2fsck = tmp.resolve("e2fsck.img");
            Files.copy(snap, byE2fsck, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            Tools.Result fix = Tools.run("e2fsck", "-fy", byE2fsck.toString());
            if (fix.out().contains("while recovering journal")) e2fsckFailed++;
            else {
                List<String> d = differences(kernelTree(byE2fsck, "ro", true), ext4j);
                if (d.isEmpty()) e2fsckSame++;
                else System.out.println("    e2fsck -fy's replay differs from ext4j's: " + d);
            }
            String kernelFsck = Tools.run("e2fsck", "-fn", byKernel.toString()).out();
            if (kernelFsck.contains("Unconnected directory inode")) {
                // Linux 6.18 loses a directory created with an inode number that an rmdir freed in the same
                // transaction's fast commits (its replay leaves the inode unconnected, e2fsck offers
                // lost+found): ext4j keeps the name; everything the kernel kept must be the same
                Map<String, String> common = new TreeMap<>(ext4j);
                common.keySet().retainAll(kernel.keySet());
                assertEquals(List.of(), differences(kernel, common), "round " + round + ": ext4j's replay against the kernel's, " + Seeds.rerun(s));
                List<String> extra = new ArrayList<>(ext4j.keySet());
                extra.removeAll(kernel.keySet());
                System.out.println("    the kernel's replay left a directory unconnected (e2fsck); ext4j's keeps " + extra);
                kernelLost++;
            } else {
                assertEquals(List.of(), differences(kernel, ext4j), "round " + round + ": ext4j's replay against the kernel's, " + Seeds.rerun(s));
            }

            // a read-write open replays the same way (then closes clean)
            try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(byRw, false)) {
                assertEquals(rec.out().contains("fast commits"), fs.warnings().stream().anyMatch(w -> w.contains("fast commits")), fs.warnings().toString());
            }
            Tools.assertFsckClean(byRw);
            assertEquals(ext4j, kernelTree(byRw, "ro", true), "a read-write open replays as recover does");

            // read-only: replayed in memory, the image untouched
            String before = sha(Files.readAllBytes(byRo));
            Path out = tmp.resolve("ro-out-" + round);
            CliRunner.Out ro = CliRunner.run("get", "-r", byRo.toString(), "/", out.toString());
            assertEquals(0, ro.exit(), ro.err());
            assertTrue(ro.err().contains("journal replayed in memory"), ro.err());
            assertEquals(rec.out().contains("fast commits"), ro.err().contains("fast commits"), ro.err());
            assertEquals(before, sha(Files.readAllBytes(byRo)), "a read-only open changes nothing");
            Map<String, String> shown = tree(out, false), expected = new TreeMap<>();
            kernelTree(byExt4j, "ro", false).forEach((k, v) -> expected.put(k, v.replaceAll("mode 0\\d+", "")));
            shown.replaceAll((k, v) -> v.replaceAll("mode 0\\d+", ""));
            assertEquals(expected, shown, "the in-memory replay shows what recover writes");
        }
        System.out.println("  " + rounds + " rounds, " + withFc + " with fast commits compared with the kernel's replay; the kernel refused "
                + refusedByKernel + " of its own snapshots and lost a directory in " + kernelLost + "; e2fsck -fy failed to replay "
                + e2fsckFailed + ", gave ext4j's tree in " + e2fsckSame);
        assertTrue(withFc * 2 >= rounds - refusedByKernel, "only " + withFc + " of " + rounds + " rounds left fast commits to compare, " + Seeds.rerun(seed));
    }

    private Path corpusImage() throws Exception {
        Path gz = Tools.corpus().resolve("j_recover_fast_commit.img.gz");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(gz), gz + " is missing");
        Path img = tmp.resolve("corpus.img");
        try (var in = new GZIPInputStream(Files.newInputStream(gz))) { Files.write(img, in.readAllBytes()); }
        return img;
    }

    @Test
    void e2fsprogsFastCommitImageReplaysLikeTheKernelAndE2fsck() throws Exception {
        Path img = corpusImage(), byE2fsck = tmp.resolve("e2fsck.img"), byKernel = tmp.resolve("kernel.img");
        Files.copy(img, byE2fsck);
        Files.copy(img, byKernel);
        CliRunner.Out rec = CliRunner.run("recover", img.toString());
        assertEquals(0, rec.exit(), rec.err());
        System.out.println("  " + rec.out().trim());
        assertTrue(rec.out().contains("1 fast commits (13 tags)"), rec.out());
        Tools.assertFsckClean(img);
        Tools.Result fix = Tools.run("e2fsck", "-fy", byE2fsck.toString());
        assertTrue(fix.exit() <= 1, fix.out());
        Tools.requireMount();
        Map<String, String> ext4j = kernelTree(img, "ro", true);
        assertEquals(Map.of("a", "mode 040755",
                "a/data", ext4j.get("a/data"),
                "a/new", ext4j.get("a/new")), ext4j);
        assertTrue(ext4j.get("a/data").contains("size 262144") && ext4j.get("a/new").contains("size 5"), ext4j.toString());
        assertEquals(kernelTree(byKernel, "", true), ext4j, "ext4j's replay and the kernel's");
        assertEquals(kernelTree(byE2fsck, "ro", true), ext4j, "ext4j's replay and e2fsck's");
    }

    /**
     * A power cut while ext4j writes a fast-commit replay home (at every device operation of the
     * recovery of e2fsprogs' image, each cut mode): the next recovery gives the same tree as an
     * uninterrupted one, e2fsck clean.
     */
    @Test
    void aPowerCutDuringTheReplayIsReplayedAgain() throws Exception {
        powerCutsDuringReplay(corpusImage(), 0);
    }

    /** The same on a kernel-made snapshot (unlinks, renames, mkdirs among its fast commits), 40 sampled cuts. */
    @Test
    void aPowerCutDuringTheReplayOfALinuxSnapshotIsReplayedAgain() throws Exception {
        Tools.requireMount();
        long seed = Seeds.seed("FastCommitReplayTest power cut snapshot");
        Path snap = null;
        for (int i = 0; i < 4 && snap == null; i++) {
            Path s = kernelSnapshot(Seeds.derived("try " + i, new Random(seed + i).nextLong()), "1024", 40);
            Path copy = tmp.resolve("probe.img");
            Files.copy(s, copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            if (CliRunner.run("recover", copy.toString()).out().contains("fast commits")) snap = s;
        }
        assertNotNull(snap, "no workload left fast commits, " + Seeds.rerun(seed));
        powerCutsDuringReplay(snap, 40);
    }

    private void powerCutsDuringReplay(Path img, int sample) throws Exception {
        ext4j.block.RecordingBlockDevice dev = new ext4j.block.RecordingBlockDevice(Files.readAllBytes(img), "recorded");
        try (Ext4FileSystem fs = Ext4FileSystem.open(dev)) {
            assertTrue(fs.warnings().stream().anyMatch(w -> w.contains("fast commits")), fs.warnings().toString());
        }
        int ops = dev.opCount();
        Path done = tmp.resolve("done.img"), doneOut = tmp.resolve("done-out");
        Files.write(done, dev.stateAt(ops, ext4j.block.RecordingBlockDevice.CutMode.IN_ORDER, new Random(0)));
        Tools.assertFsckClean(done);
        assertEquals(0, CliRunner.run("get", "-r", done.toString(), "/", doneOut.toString()).exit());
        Map<String, String> expected = tree(doneOut, false);
        long seed = Seeds.seed("FastCommitReplayTest power cut");
        Random pick = new Random(seed);
        int cuts = 0, all = (ops + 1) * 3;
        for (int n = 0; n <= ops; n++) {
            for (var mode : ext4j.block.RecordingBlockDevice.CutMode.values()) {
                if (sample > 0 && pick.nextInt(all) >= sample) continue;
                Path cut = tmp.resolve("cut.img"), out = tmp.resolve("cut-out-" + n + "-" + mode);
                Files.write(cut, dev.stateAt(n, mode, new Random(seed ^ n)));
                String where = "cut after device operation " + n + " of " + ops + " (" + mode + "), " + Seeds.rerun(seed);
                CliRunner.Out rec = CliRunner.run("recover", cut.toString());
                assertEquals(0, rec.exit(), where + ": " + rec.err());
                try { Tools.assertFsckClean(cut); } catch (AssertionError e) { throw new AssertionError(where + ": " + e.getMessage(), e); }
                assertEquals(0, CliRunner.run("get", "-r", cut.toString(), "/", out.toString()).exit(), where);
                assertEquals(expected, tree(out, false), where);
                cuts++;
            }
        }
        System.out.println("  " + cuts + " cuts over " + ops + " device operations of the replay: each recovered to the same tree, e2fsck clean");
    }

    /** The journal's fast-commit area (journal blocks), from the superblock e2fsprogs' image carries. */
    private static long[] fcArea(Path img) throws Exception {
        String h = Tools.ok("dumpe2fs", "-h", img.toString());
        long total = Long.parseLong(h.replaceAll("(?s).*Total journal blocks:\\s+(\\d+).*", "$1"));
        long fc = Long.parseLong(h.replaceAll("(?s).*Fast commit length:\\s+(\\d+).*", "$1"));
        return new long[] {total - fc + 1, total};
    }

    /** Physical byte offset of journal block jb (inode 8 of a 1 KiB-block image, from debugfs's bmap). */
    private static long journalBlockOffset(Path img, long jb) throws Exception {
        String[] lines = Tools.debugfs(img, "bmap <8> " + jb).trim().split("\n");
        return Long.parseLong(lines[lines.length - 1].trim()) * 1024;
    }

    /**
     * Damaged fast-commit blocks: every outcome is a clear refusal naming the fast-commit area, or a
     * replay e2fsck finds clean (a damaged TAIL stops at the last good commit); never another
     * exception, never a half-applied image (a refused replay leaves every byte).
     */
    @Test
    void damagedFastCommitAreasAreRefusedOrCutShort() throws Exception {
        Path img = corpusImage();
        long[] area = fcArea(img);
        long at = journalBlockOffset(img, area[0]);
        byte[] good = Files.readAllBytes(img);
        long seed = Seeds.seed("FastCommitReplayTest damage");
        Random r = new Random(seed);
        int refused = 0, replayed = 0, cases = Integer.getInteger("ext4j.fcDamage", 48);
        for (int c = 0; c < cases + 3; c++) {
            byte[] b = good.clone();
            String what;
            if (c == 0) { java.util.Arrays.fill(b, (int) at, (int) at + 1024, (byte) 0); what = "zeroed first block"; }
            else if (c == 1) { int cut = 4 + r.nextInt(1000); java.util.Arrays.fill(b, (int) at + cut, (int) at + 1024, (byte) 0); what = "truncated at " + cut; }
            else if (c == 2) { b[(int) at + 2] = (byte) 0xFF; b[(int) at + 3] = (byte) 0x7F; what = "HEAD length past the block"; }
            else { int off = r.nextInt(1024), bit = r.nextInt(8); b[(int) at + off] ^= (byte) (1 << bit); what = "bit " + bit + " of byte " + off + " flipped"; }
            Path p = tmp.resolve("damaged.img");
            Files.write(p, b);
            CliRunner.Out rec = CliRunner.run("recover", p.toString());
            if (rec.exit() != 0) {
                refused++;
                assertTrue(rec.err().contains("fast-commit") || rec.err().contains("fast commit"), what + ": " + rec.err());
                assertFalse(rec.err().contains("Exception"), what + ": " + rec.err());
                assertArrayEquals(b, Files.readAllBytes(p), what + ": a refused replay changes nothing");
            } else {
                replayed++;
                try { Tools.assertFsckClean(p); } catch (AssertionError e) { throw new AssertionError(what + ", " + Seeds.rerun(seed) + ": " + e.getMessage(), e); }
            }
        }
        System.out.println("  " + (cases + 3) + " damaged areas: " + refused + " refused, " + replayed + " replayed clean");
        assertTrue(refused > 0 && replayed > 0, "both outcomes occur: " + refused + " refused, " + replayed + " replayed");
    }

    /**
     * The parser alone on e2fsprogs' fast-commit block (transaction 6) and 20,000 damaged copies:
     * bit flips, byte runs, truncations, garbage, in one or two blocks. The good block gives its 13
     * tags; every damaged one a Scan or a CorruptException, nothing else, and never more tags than
     * the good one has records.
     */
    @Test
    void fastCommitParserOnDamagedBlocks() throws Exception {
        Path img = corpusImage();
        long[] area = fcArea(img);
        byte[] all = Files.readAllBytes(img);
        int bs = 1024, n = (int) (area[1] - area[0]);
        byte[][] good = new byte[n][];
        for (int i = 0; i < n; i++) {
            int at = (int) journalBlockOffset(img, area[0] + i);
            good[i] = java.util.Arrays.copyOfRange(all, at, at + bs);
        }
        FastCommitArea.Scan ok = scan(good, area[0], 6);
        assertEquals(1, ok.commits());
        assertEquals(13, ok.tags().size(), ok.tags().toString());
        assertEquals(FastCommitTag.CREAT, ((FastCommitTag.Dentry) ok.tags().get(2)).kind());
        assertEquals("new", new String(((FastCommitTag.Dentry) ok.tags().get(2)).name()));
        assertEquals(new FastCommitTag.AddRange(13, 128, 128, 1793, false), ok.tags().get(9));
        assertTrue(scan(good, area[0], 7).isEmpty(), "a HEAD of another transaction is stale");
        assertTrue(scan(good, area[0], 5).isEmpty(), "a HEAD of another transaction is stale");

        long seed = Seeds.seed("FastCommitReplayTest parser");
        Random r = new Random(seed);
        int refused = 0, partial = 0;
        for (int c = 0; c < 20_000; c++) {
            byte[][] b = new byte[n][];
            for (int i = 0; i < n; i++) b[i] = good[i].clone();
            int blk = r.nextInt(3) == 0 ? 1 + r.nextInt(n - 1) : 0;
            switch (r.nextInt(5)) {
                case 0 -> b[blk][r.nextInt(bs)] ^= (byte) (1 << r.nextInt(8));
                case 1 -> { int at = r.nextInt(bs), len = 1 + r.nextInt(16); for (int k = at; k < Math.min(bs, at + len); k++) b[blk][k] = (byte) r.nextInt(256); }
                case 2 -> java.util.Arrays.fill(b[blk], r.nextInt(bs), bs, (byte) 0);
                case 3 -> r.nextBytes(b[blk]);
                default -> { b[blk][r.nextInt(bs)] ^= (byte) (1 << r.nextInt(8)); b[(blk + 1) % n][r.nextInt(bs)] ^= (byte) (1 << r.nextInt(8)); }
            }
            try {
                FastCommitArea.Scan got = scan(b, area[0], 6);
                assertTrue(got.tags().size() <= 13 || got.commits() > 1, "case " + c + ": " + got.tags().size() + " tags, " + Seeds.rerun(seed));
                if (got.tags().size() < 13) partial++;
            } catch (ext4j.base.CorruptException e) {
                refused++;
                assertTrue(e.getMessage().contains("fast-commit area"), e.getMessage());
            }
        }
        System.out.println("  20000 damaged areas: " + refused + " refused, " + partial + " cut short or empty");
        assertTrue(refused > 0 && partial > 0);
    }

    /**
     * Hostile fast commits that pass their crc (a value byte changed, the TAIL's crc32c redone):
     * ext4j either replays them or refuses naming the tag, never another exception, and a refusal
     * leaves every byte of the image.
     */
    @Test
    void resealedHostileFastCommitsAreAppliedOrRefusedWhole() throws Exception {
        Path img = corpusImage();
        long[] area = fcArea(img);
        int at = (int) journalBlockOffset(img, area[0]);
        byte[] good = Files.readAllBytes(img);
        ByteBuffer blk = ByteBuffer.wrap(good, at, 1024).slice().order(java.nio.ByteOrder.LITTLE_ENDIAN);
        List<int[]> values = new ArrayList<>();          // {offset, length} of each record's value but HEAD's and TAIL's
        int tailAt = -1;
        for (int cur = 0; cur + 4 <= 1024; ) {
            int tag = blk.getShort(cur) & 0xFFFF, len = blk.getShort(cur + 2) & 0xFFFF;
            if (tag == FastCommitTag.TAIL) { tailAt = cur; break; }
            if (tag != FastCommitTag.HEAD) values.add(new int[] {cur + 4, len});
            cur += 4 + len;
        }
        assertTrue(tailAt > 0 && values.size() == 13, "the corpus block's records");
        long seed = Seeds.seed("FastCommitReplayTest hostile");
        Random r = new Random(seed);
        int refused = 0, replayed = 0;
        for (int c = 0; c < 40; c++) {
            byte[] b = good.clone();
            int[] v = values.get(r.nextInt(values.size()));
            int off = v[0] + r.nextInt(Math.min(v[1], 64));
            b[at + off] = (byte) (c % 2 == 0 ? r.nextInt(256) : b[at + off] ^ (1 << r.nextInt(8)));
            int crc = ext4j.base.Crc32c.update(0, b, at, tailAt + 8);
            ByteBuffer.wrap(b, at + tailAt + 8, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(crc);
            Path p = tmp.resolve("hostile.img");
            Files.write(p, b);
            CliRunner.Out rec = CliRunner.run("recover", p.toString());
            String what = "byte " + off + " of the fast-commit block, " + Seeds.rerun(seed);
            if (rec.exit() == 0) {
                replayed++;
                assertTrue(rec.out().contains("fast commits"), what + ": " + rec.out());
            } else {
                if (refused++ < 3) System.out.println("    refused: " + rec.err().trim());
                assertTrue(rec.err().contains("fast-commit"), what + ": " + rec.err());
                assertFalse(rec.err().contains("Exception"), what + ": " + rec.err());
                assertArrayEquals(b, Files.readAllBytes(p), what + ": a refused replay changes nothing");
            }
        }
        System.out.println("  40 resealed hostile fast commits: " + refused + " refused, " + replayed + " replayed");
    }

    private static FastCommitArea.Scan scan(byte[][] blocks, long first, long tid) throws Exception {
        return FastCommitArea.scan(l -> ByteBuffer.wrap(blocks[(int) (l - first)].clone()), 1024, first, first + blocks.length, tid, 256);
    }

    /**
     * After ext4j replays a Linux fast-commit journal and writes, the journal it leaves (full
     * commits only, the area's old blocks untouched) replays in Linux and e2fsck to the tree ext4j's
     * own replay gives: the stale fast commits name an older transaction, and are ignored.
     */
    @Test
    void ext4jJournalOnAFastCommitFilesystemReplaysInLinuxAndE2fsck() throws Exception {
        Tools.requireMount();
        long seed = Seeds.seed("FastCommitReplayTest ext4j journal");
        Path snap = null;
        for (int i = 0; i < 4 && snap == null; i++) {
            Path s = kernelSnapshot(Seeds.derived("try " + i, new Random(seed + i).nextLong()), "4096", 30);
            if (Tools.debugfs(s, "logdump").contains("tag HEAD")) snap = s;
        }
        assertNotNull(snap, "no workload left fast commits, " + Seeds.rerun(seed));
        Path dirty = tmp.resolve("ext4j-dirty.img"), work = tmp.resolve("work.img");
        Files.copy(snap, work);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(work, false)) {
            fs.createFile("/after", 0644, 0, 0);
            fs.write("/after", 0, ByteBuffer.wrap("written by ext4j after the fast-commit replay".getBytes()));
            fs.fsync("/after");
            fs.mkdir("/after-dir", 0755, 0, 0);
            fs.createFile("/after-dir/x", 0600, 0, 0);
            fs.fsync("/after-dir/x");
            Files.copy(work, dirty);    // ext4j still has it open: its journal holds the commits
        }
        assertTrue(Tools.ok("dumpe2fs", "-h", dirty.toString()).contains("needs_recovery"), "the copy needs recovery");
        String log = Tools.debugfs(dirty, "logdump");
        assertTrue(log.contains("commit block"), log);
        Path byKernel = tmp.resolve("k2.img"), byE2fsck = tmp.resolve("e2.img");
        Files.copy(dirty, byKernel);
        Files.copy(dirty, byE2fsck);
        CliRunner.Out rec = CliRunner.run("recover", dirty.toString());
        assertEquals(0, rec.exit(), rec.err());
        assertFalse(rec.out().contains("fast commits"), "no stale fast commit is replayed: " + rec.out());
        Tools.assertFsckClean(dirty);
        Tools.Result fix = Tools.run("e2fsck", "-fy", byE2fsck.toString());
        assertTrue(fix.exit() <= 1, fix.out());
        Tools.assertFsckClean(byE2fsck);
        Map<String, String> ext4j = kernelTree(dirty, "ro", true), kernel = kernelTree(byKernel, "", true);
        assertTrue(ext4j.containsKey("after") && ext4j.containsKey("after-dir/x"), ext4j.toString());
        assertEquals(kernel, ext4j, "Linux replays ext4j's journal as ext4j does");
        assertEquals(kernelTree(byE2fsck, "ro", true), ext4j, "e2fsck replays ext4j's journal as ext4j does");
        Tools.assertFsckCleanAfterKernel(byKernel);
        assertEquals(kernel, kernelTree(work, "ro", true), "the image ext4j closed has the same tree");
    }
}
