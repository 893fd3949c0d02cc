package ext4j.xattr;

import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.fs.Ext4FileSystem;
import ext4j.testutil.Seeds;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Xattr values in EA inodes (ea_inode) written by ext4j, checked against what nobody here wrote:
 * e2fsck -fn, debugfs (placement, i_blocks, the EA inodes' fields) compared with the same
 * operations done by the kernel on a copy of the same image, Linux's getfattr, and the kernel
 * replacing and removing what ext4j wrote (and ext4j what the kernel wrote); the e2fsck summary's
 * used inodes and blocks show every EA inode freed at its last reference.
 */
class EaInodeWriteTest {
    @TempDir Path tmp;

    /** A set (value != null) or remove of one attribute. */
    record Op(String file, String name, byte[] value) {}

    private static Path fresh(Path img, String... extra) throws Exception {
        List<String> o = new ArrayList<>(List.of("-t", "ext4", "-O", "ea_inode"));
        o.addAll(List.of(extra));
        Tools.mke2fs(img, null, "32M", o.toArray(String[]::new));
        return img;
    }

    private static byte[] bytes(Random r, int n) {
        byte[] v = new byte[n];
        r.nextBytes(v);
        return v;
    }

    /** Used inodes and blocks as e2fsck counts them from the bitmaps (its summary line). */
    private static long[] used(Path img) throws Exception {
        Tools.Result r = Tools.run("e2fsck", "-fn", img.toString());
        Matcher m = Pattern.compile("(\\d+)/\\d+ files .*, (\\d+)/\\d+ blocks").matcher(r.out());
        assertTrue(m.find(), r.out());
        return new long[]{Long.parseLong(m.group(1)), Long.parseLong(m.group(2))};
    }

    private static void apply(Ext4FileSystem fs, List<Op> ops) throws Exception {
        for (Op o : ops) {
            if (o.value == null) fs.removeXattr(o.file, o.name, false);
            else fs.setXattr(o.file, o.name, o.value, 0, false);
        }
    }

    /** The same operations through system calls on a kernel mount (python's os.setxattr: 64 KiB values do not fit an argument). */
    private static void applyInKernel(Path mnt, List<Op> ops) throws Exception {
        StringBuilder py = new StringBuilder("import os\n");
        for (Op o : ops) {
            String p = "'" + mnt + o.file + "'";
            if (o.value == null) py.append("os.removexattr(").append(p).append(", '").append(o.name).append("')\n");
            else py.append("os.setxattr(").append(p).append(", '").append(o.name).append("', bytes.fromhex('")
                    .append(HexFormat.of().formatHex(o.value)).append("'))\n");
        }
        Path script = Files.createTempFile("ea-ops", ".py");
        try {
            Files.writeString(script, py);
            Tools.ok("python3", script.toString());
        } finally {
            Files.deleteIfExists(script);
        }
    }

    private static void model(Map<String, Map<String, byte[]>> m, List<Op> ops) {
        for (Op o : ops) {
            if (o.value == null) m.get(o.file).remove(o.name);
            else m.get(o.file).put(o.name, o.value);
        }
    }

    /** Linux's getfattr of one file, hex values, as a name → value map. */
    private static Map<String, byte[]> kernelXattrs(Path file) throws Exception {
        Map<String, byte[]> out = new TreeMap<>();
        for (String l : Tools.ok("getfattr", "-d", "-m", "-", "-e", "hex", "--absolute-names", file.toString()).split("\n")) {
            int eq = l.indexOf('=');
            if (l.startsWith("#") || eq < 0) continue;
            String v = l.substring(eq + 1);
            out.put(l.substring(0, eq), v.startsWith("0x") ? HexFormat.of().parseHex(v.substring(2)) : new byte[0]);
        }
        return out;
    }

    private static Map<String, byte[]> ext4jXattrs(Ext4FileSystem fs, String path) throws Exception {
        Map<String, byte[]> m = new TreeMap<>();
        for (Xattr x : fs.xattrs(fs.resolve(path, false))) m.put(x.name(), x.value());
        return m;
    }

    private static void assertSame(Map<String, byte[]> want, Map<String, byte[]> got, String where) {
        assertEquals(want.keySet(), got.keySet(), where);
        for (String k : want.keySet()) assertArrayEquals(want.get(k), got.get(k), where + " " + k + " (" + want.get(k).length + " bytes)");
    }

    /** debugfs stat fields that show where a file's values went: i_blocks (values in EA inodes are charged) and whether it has a block. */
    private static String placement(Path img, String file) throws Exception {
        String s = Tools.debugfs(img, "stat " + file);
        Matcher b = Pattern.compile("Blockcount: (\\d+)").matcher(s), a = Pattern.compile("File ACL: (\\d+)").matcher(s);
        assertTrue(b.find() && a.find(), s);
        return "blocks " + b.group(1) + (a.group(1).equals("0") ? "" : " +xattr block");
    }

    /** Every EA inode among the first inodes, by debugfs: mode, owner, flags, size, links, version (refcount) and atime (value hash). */
    private static List<String> eaInodes(Path img, int upTo) throws Exception {
        Path cmds = Files.createTempFile("ea-stat", ".debugfs");
        StringBuilder c = new StringBuilder();
        for (int i = 12; i <= upTo; i++) c.append("stat <").append(i).append(">\n");
        Files.writeString(cmds, c);
        String out = Tools.ok("debugfs", "-f", cmds.toString(), img.toString());
        Files.deleteIfExists(cmds);
        List<String> eas = new ArrayList<>();
        for (String one : out.split("debugfs:")) {
            Matcher f = Pattern.compile("Mode: +(\\d+) +Flags: 0x([0-9a-f]+)").matcher(one);
            if (!f.find() || (Long.parseLong(f.group(2), 16) & 0x200000) == 0) continue;
            String field = one.replaceAll("(?s).*?(User: +\\d+ +Group: +\\d+).*?(Size: \\d+).*?(Links: \\d+).*", "$1 $2 $3");
            String version = one.replaceAll("(?s).*Version: (\\S+).*", "$1");
            String atime = one.replaceAll("(?s).*\\n ?atime: (\\S+).*", "$1"), ctime = one.replaceAll("(?s).*\\n ?ctime: (\\S+).*", "$1");
            if (field.contains("Links: 0")) ctime = ctime.startsWith("0x00000000") ? "zero" : "the time it was freed";
            eas.add("mode " + f.group(1) + " flags " + f.group(2) + " " + field.replaceAll("\\s+", " ") + " version " + version + " atime " + atime + " ctime " + ctime);
        }
        java.util.Collections.sort(eas);
        return eas;
    }

    /**
     * The same sets, replaces and removes by ext4j and by the kernel on copies of one image, files
     * owned by uid 1000: each file's i_blocks and xattr block, and every EA inode's fields (hash,
     * refcount, owner, flags, size), are equal; then the kernel reads, replaces and removes what
     * ext4j wrote, and ext4j deletes every file: e2fsck counts the fresh image's inodes and blocks.
     */
    private void placementAsLinux(String label, String... mkfs) throws Exception {
        Tools.requireMount();
        Path ours = fresh(tmp.resolve(label + "-ext4j.img"), mkfs), theirs = tmp.resolve(label + "-linux.img");
        long[] empty = used(ours);
        Files.copy(ours, theirs);
        int bs;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(ours)) { bs = fs.superblock().blockSize(); }
        Random r = new Random(label.hashCode());
        int[] single = {100, 1000, 3000, bs - 56, bs - 55, 10240, 65536, 0};
        List<String> files = new ArrayList<>();
        List<Op> ops = new ArrayList<>();
        for (int i = 0; i < single.length; i++) { files.add("/f" + i); ops.add(new Op("/f" + i, "user.a", bytes(r, single[i]))); }
        files.add("/many");
        for (String n : List.of("a", "b", "c", "d", "e", "g")) ops.add(new Op("/many", "user." + n, bytes(r, n.compareTo("c") < 0 ? 60 : n.compareTo("e") < 0 ? 600 : bs / 2)));
        files.add("/re");
        for (int n : new int[]{100, 10240, 50, 20000}) ops.add(new Op("/re", "user.a", bytes(r, n)));
        ops.add(new Op("/re", "user.b", bytes(r, 5000)));
        ops.add(new Op("/re", "user.b", null));
        ops.add(new Op("/re", "user.c", bytes(r, 3000)));
        ops.add(new Op("/re", "user.a", null));
        Map<String, Map<String, byte[]>> model = new TreeMap<>();
        for (String f : files) model.put(f, new TreeMap<>());
        model(model, ops);

        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(ours, false)) {
            for (String f : files) fs.createFile(f, 0644, 1000, 1000);
            apply(fs, ops);
            for (String f : files) assertSame(model.get(f), ext4jXattrs(fs, f), label + " ext4j " + f);
        }
        Tools.assertFsckClean(ours);
        Path mnt = Files.createDirectories(tmp.resolve("mnt-" + label));
        Tools.mount(theirs, mnt, "");
        try {
            for (String f : files) { Files.createFile(mnt.resolve(f.substring(1))); Tools.ok("chown", "1000:1000", mnt + f); }
            applyInKernel(mnt, ops);
        } finally {
            Tools.umount(mnt);
        }
        Tools.assertFsckCleanAfterKernel(theirs);
        for (String f : files) assertEquals(placement(theirs, f), placement(ours, f), label + ": " + f + " placed as Linux places it (debugfs stat)");
        int upTo = 12 + files.size() + ops.size();
        List<String> eaOurs = eaInodes(ours, upTo), eaTheirs = eaInodes(theirs, upTo);
        assertEquals(eaTheirs, eaOurs, label + ": the EA inodes' fields");
        assertFalse(eaOurs.isEmpty());
        assertArrayEquals(used(theirs), used(ours), label + ": used inodes and blocks");
        System.out.println("EaInodeWriteTest " + label + ": " + eaOurs.size() + " EA inodes as Linux's; e.g. " + eaOurs.get(0));

        // the kernel reads what ext4j wrote, replaces and removes some of it
        List<Op> kernelOps = List.of(new Op("/f5", "user.a", null), new Op("/f6", "user.a", bytes(r, 20000)),
                new Op("/re", "user.c", null), new Op("/many", "user.g", bytes(r, 9000)), new Op("/f1", "user.a", bytes(r, 10)));
        Tools.mount(ours, mnt, "");
        try {
            for (String f : files) assertSame(model.get(f), kernelXattrs(mnt.resolve(f.substring(1))), label + " Linux reads " + f);
            applyInKernel(mnt, kernelOps);
            model(model, kernelOps);
            Files.delete(mnt.resolve("f4"));
            for (String f : files) if (!f.equals("/f4")) assertSame(model.get(f), kernelXattrs(mnt.resolve(f.substring(1))), label + " Linux after its changes " + f);
        } finally {
            Tools.umount(mnt);
        }
        files.remove("/f4");
        Tools.assertFsckCleanAfterKernel(ours);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(ours, false)) {
            for (String f : files) assertSame(model.get(f), ext4jXattrs(fs, f), label + " ext4j reads Linux's " + f);
            for (String f : files) fs.unlink(f);
        }
        Tools.assertFsckClean(ours);
        assertArrayEquals(empty, used(ours), label + ": every EA inode and block freed (used inodes, blocks as on the fresh image)");
    }

    @Test void placementAsLinuxOneKBlocks() throws Exception { placementAsLinux("1k", "-b", "1024"); }
    @Test void placementAsLinuxFourKBlocks() throws Exception { placementAsLinux("4k", "-b", "4096"); }
    @Test void placementAsLinux128ByteInodes() throws Exception { placementAsLinux("i128", "-b", "1024", "-I", "128"); }

    /**
     * Values Linux put in EA inodes (10 KiB to 64 KiB, one value on two files, which Linux's cache
     * gives one EA inode with two references) are read, replaced and removed by ext4j, and files
     * holding them deleted (one while open); e2fsck is clean, its used inode count says which EA
     * inodes are left, and the kernel reads the rest and removes it down to the fresh image's counts.
     */
    private void kernelValuesChangedByExt4j(String label, String... mkfs) throws Exception {
        Tools.requireMount();
        Path img = fresh(tmp.resolve(label + ".img"), mkfs);
        long[] empty = used(img);
        Random r = new Random(label.hashCode() * 31L);
        byte[] same = bytes(r, 20000);
        List<String> files = new ArrayList<>(List.of("/k0", "/k1", "/k2", "/k3", "/k4", "/k5"));
        // k1 gets another attribute first: with the same single entry Linux 6.18 shares k0's xattr block and
        // counts the EA inode twice for it, which e2fsck 1.47.0 calls wrong ("ref count is 2, should be 1")
        List<Op> ops = List.of(new Op("/k0", "user.same", same), new Op("/k1", "user.other", bytes(r, 3)), new Op("/k1", "user.same", same),
                new Op("/k2", "user.a", bytes(r, 10240)), new Op("/k2", "user.b", bytes(r, 65536)), new Op("/k2", "user.c", bytes(r, 30000)),
                new Op("/k3", "user.a", bytes(r, 12000)), new Op("/k3", "user.small", bytes(r, 1)),
                new Op("/k4", "user.big", bytes(r, 40000)), new Op("/k5", "user.v", bytes(r, 15000)));
        Map<String, Map<String, byte[]>> model = new TreeMap<>();
        for (String f : files) model.put(f, new TreeMap<>());
        model(model, ops);
        Path mnt = createAndApplyInKernel(img, "mnt-" + label, files, ops);
        long[] kernelMade = used(img);
        String refs = eaInodes(img, 40).toString();
        System.out.println("EaInodeWriteTest " + label + ": Linux made " + (kernelMade[0] - empty[0] - files.size()) + " EA inodes for 9 values"
                + (refs.contains(":00000002 ") || refs.contains("0x00000002 ") ? ", one of them with two references" : ", none shared"));
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            for (String f : files) assertSame(model.get(f), ext4jXattrs(fs, f), label + " ext4j reads Linux's " + f);
            List<Op> mine = List.of(new Op("/k0", "user.same", bytes(r, 100)), new Op("/k2", "user.b", null),
                    new Op("/k2", "user.c", bytes(r, 50000)), new Op("/k3", "user.a", null));
            apply(fs, mine);
            model(model, mine);
            fs.unlink("/k1");
            fs.unlink("/k4");
            long k5 = fs.resolve("/k5", false).number();
            fs.pin(k5);
            fs.unlink("/k5");
            assertArrayEquals(model.get("/k5").get("user.v"), ext4jXattrs(fs, k5).get("user.v"), "an unlinked open file keeps its EA inode values");
            fs.unpin(k5);
            for (String f : List.of("/k1", "/k4", "/k5")) { files.remove(f); model.remove(f); }
            for (String f : files) assertSame(model.get(f), ext4jXattrs(fs, f), label + " ext4j after its changes " + f);
        }
        Tools.assertFsckClean(img);
        // left: k0, k2, k3 and the EA inodes of k2's a and c (k0's 100 bytes fit the inode or a block)
        assertEquals(empty[0] + 3 + 2, used(img)[0], label + ": used inodes after ext4j's changes");
        Tools.mount(img, mnt, "");
        try {
            for (String f : files) {
                Path p = mnt.resolve(f.substring(1));
                assertSame(model.get(f), kernelXattrs(p), label + " Linux reads ext4j's " + f);
                List<Op> rm = new ArrayList<>();
                for (String n : model.get(f).keySet()) rm.add(new Op(f, n, null));
                applyInKernel(mnt, rm);
                Files.delete(p);
            }
        } finally {
            Tools.umount(mnt);
        }
        Tools.assertFsckCleanAfterKernel(img);
        assertArrayEquals(empty, used(img), label + ": all freed");
    }

    private static Map<String, byte[]> ext4jXattrs(Ext4FileSystem fs, long ino) throws Exception {
        Map<String, byte[]> m = new TreeMap<>();
        for (Xattr x : fs.xattrs(fs.inode(ino))) m.put(x.name(), x.value());
        return m;
    }

    @Test void kernelValuesChangedByExt4jOneK() throws Exception { kernelValuesChangedByExt4j("kernel-1k", "-b", "1024"); }
    @Test void kernelValuesChangedByExt4jInBlocks() throws Exception { kernelValuesChangedByExt4j("kernel-4k-i128", "-b", "4096", "-I", "128"); }

    private static final String[] NAMES = {"user.a", "user.b", "user.mime_type", "user." + "n".repeat(60), "trusted.t", "security.s", "user.c", "user.d"};

    /**
     * Seeded random sets (flags too), replaces and removes of values of 0 to 64 KiB on three files
     * and a directory, and files deleted and made again, against a model; then e2fsck, a reopen,
     * Linux's getfattr, ext4j deleting two files and the kernel removing the rest: e2fsck counts
     * the fresh image's used inodes and blocks.
     */
    private void randomOps(String label, String... mkfs) throws Exception {
        long seed = Seeds.seed("EaInodeWriteTest " + label);
        Random r = new Random(seed);
        Path img = fresh(tmp.resolve(label + ".img"), mkfs);
        long[] empty = used(img);
        List<String> files = List.of("/r0", "/r1", "/r2", "/rd");
        Map<String, Map<String, byte[]>> model = new TreeMap<>();
        int sets = 0, big = 0, removes = 0, deletes = 0, full = 0;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            int bs = fs.superblock().blockSize();
            byte[][] pool = {bytes(r, bs * 3), bytes(r, 40000), bytes(r, 65536)};
            for (String f : files) {
                if (f.equals("/rd")) fs.mkdir(f, 0755, 0, 0); else fs.createFile(f, 0644, 0, 0);
                model.put(f, new TreeMap<>());
            }
            for (int i = 0; i < 300; i++) {
                String f = files.get(r.nextInt(files.size())), n = NAMES[r.nextInt(NAMES.length)];
                Map<String, byte[]> m = model.get(f);
                int k = r.nextInt(100);
                String at = "seed " + seed + " op " + i + " (" + Seeds.rerun(seed) + "): ";
                if (k < 3 && !f.equals("/rd")) {
                    fs.unlink(f);
                    fs.createFile(f, 0644, 0, 0);
                    m.clear();
                    deletes++;
                } else if (k < 70) {
                    int kind = r.nextInt(10);
                    // one in five from a pool of three large values: equal values share an EA inode
                    byte[] v = r.nextInt(5) == 0 ? pool[r.nextInt(pool.length)]
                            : bytes(r, kind < 3 ? r.nextInt(64) : kind < 6 ? r.nextInt(bs) : r.nextInt(65537));
                    int flags = r.nextInt(4) == 0 ? 1 : r.nextInt(4) == 0 ? 2 : 0;
                    Errno want = flags == 1 && m.containsKey(n) ? Errno.EEXIST : flags == 2 && !m.containsKey(n) ? Errno.ENODATA : null, got = null;
                    try { fs.setXattr(f, n, v, flags, false); } catch (FsException e) { got = e.errno(); }
                    // as in Linux, an entry may find no room when small values fill the inode and the block: nothing changes
                    if (got == Errno.ENOSPC && want == null) { full++; continue; }
                    assertEquals(want, got, at + "set " + f + " " + n + " (" + v.length + " bytes) flags " + flags);
                    if (got == null) { m.put(n, v); sets++; if (v.length > bs - 56) big++; }
                } else {
                    Errno want = m.containsKey(n) ? null : Errno.ENODATA, got = null;
                    try { fs.removeXattr(f, n, false); } catch (FsException e) { got = e.errno(); }
                    assertEquals(want, got, at + "remove " + f + " " + n);
                    if (m.remove(n) != null) removes++;
                }
                if (i % 25 == 0) for (String g : files) assertSame(model.get(g), ext4jXattrs(fs, g), at + g);
            }
        }
        System.out.printf("EaInodeWriteTest %s seed %d: %d sets (%d over a block), %d removes, %d files deleted, %d ENOSPC (no room for the entry)%n", label, seed, sets, big, removes, deletes, full);
        Tools.assertFsckClean(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            for (String g : files) assertSame(model.get(g), ext4jXattrs(fs, g), "seed " + seed + " after reopen " + g);
            fs.unlink("/r0");
            fs.unlink("/r1");
        }
        Tools.assertFsckClean(img);
        Tools.requireMount();
        Path mnt = Files.createDirectories(tmp.resolve("mnt-" + label));
        Tools.mount(img, mnt, "");
        try {
            for (String g : List.of("/r2", "/rd")) {
                assertSame(model.get(g), kernelXattrs(mnt.resolve(g.substring(1))), "seed " + seed + " Linux reads " + g);
                List<Op> rm = new ArrayList<>();
                for (String n : model.get(g).keySet()) rm.add(new Op(g, n, null));
                applyInKernel(mnt, rm);
            }
            Files.delete(mnt.resolve("r2"));
            Files.delete(mnt.resolve("rd"));
        } finally {
            Tools.umount(mnt);
        }
        Tools.assertFsckCleanAfterKernel(img);
        assertArrayEquals(empty, used(img), "seed " + seed + ": every EA inode freed");
    }

    @Test void randomOpsOneK() throws Exception { randomOps("random-1k", "-b", "1024"); }
    @Test void randomOpsFourK() throws Exception { randomOps("random-4k", "-b", "4096"); }
    @Test void randomOpsNoChecksums128() throws Exception { randomOps("random-nocsum-i128", "-b", "2048", "-I", "128", "-O", "^metadata_csum"); }

    /**
     * A file holding EA inode values, unlinked while open: its EA inodes live until the last close
     * frees them; a copy of the image taken meanwhile (a crash with the orphan recorded) is
     * recovered by ext4j and by a Linux mount alike: e2fsck clean, the same used inodes and blocks
     * as the image whose file was closed.
     */
    private void orphanWithEaValues(String label, String... mkfs) throws Exception {
        Path img = fresh(tmp.resolve(label + ".img"), mkfs), snap = tmp.resolve(label + "-snap.img");
        Random r = new Random(7);
        long[] empty = used(img);
        byte[] keep = bytes(r, 10240);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/keep", 0644, 0, 0);
            fs.setXattr("/keep", "user.k", keep, 0, false);
            long gone = fs.createFile("/gone", 0644, 0, 0).number();
            for (int n : new int[]{10240, 30000, 500, 65536}) fs.setXattr("/gone", "user.v" + n, bytes(r, n), 0, false);
            fs.pin(gone);
            fs.unlink("/gone");
            assertEquals(65536, ext4jXattrs(fs, gone).get("user.v65536").length);
            fs.sync();
            Files.copy(img, snap);                                  // a crash now: the orphan is on disk
            fs.unpin(gone);
        }
        Tools.assertFsckClean(img);
        long[] after = used(img);
        assertEquals(empty[0] + 2, after[0], label + ": /keep and its EA inode are left");
        Path byExt4j = tmp.resolve(label + "-ext4j.img");
        Files.copy(snap, byExt4j);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(byExt4j, false)) {
            assertArrayEquals(keep, ext4jXattrs(fs, "/keep").get("user.k"));
        }
        Tools.assertFsckClean(byExt4j);
        assertArrayEquals(after, used(byExt4j), label + ": ext4j's recovery freed the orphan's EA inodes");
        Tools.requireMount();
        Path byKernel = tmp.resolve(label + "-linux.img"), mnt = Files.createDirectories(tmp.resolve("mnt-" + label));
        Files.copy(snap, byKernel);
        Tools.mount(byKernel, mnt, "");
        Tools.umount(mnt);
        Tools.assertFsckCleanAfterKernel(byKernel);
        assertArrayEquals(after, used(byKernel), label + ": Linux's recovery of the same snapshot frees the same");
    }

    @Test void orphanWithEaValues() throws Exception { orphanWithEaValues("orphan", "-b", "1024"); }
    @Test void orphanFileWithEaValues() throws Exception { orphanWithEaValues("orphan-file", "-b", "4096", "-O", "orphan_file"); }

    /** Paths of every file and directory under dir (not lost+found), read through ext4j. */
    private static void paths(Ext4FileSystem fs, String dir, ext4j.ondisk.Inode d, List<String> out, int depth) throws Exception {
        if (depth > 8) return;
        for (ext4j.dir.DirEntry e : fs.directory(d).list()) {
            if (e.isDotOrDotDot() || e.name().equals("lost+found")) continue;
            String p = (dir.equals("/") ? "" : dir) + "/" + e.name();
            ext4j.ondisk.Inode i = fs.inode(e.inode());
            if (!i.isDir() && !i.isRegular()) continue;
            out.add(p);
            if (i.isDir()) paths(fs, p, i, out, depth + 1);
        }
    }

    /**
     * e2fsprogs' ea_inode images: as they are (damaged), ext4j's removes and sets on every file
     * either work or fail with a named error, never anything else; after e2fsck -fy repairs a copy,
     * ext4j reads every value, adds one a block long, replaces and removes what the files held
     * and deletes one file: e2fsck -fn is clean and Linux reads the same values.
     */
    @Test
    void e2fsprogsEaInodeImages() throws Exception {
        List<String> names = new ArrayList<>();
        for (String line : Files.readString(Tools.corpus().resolve("MANIFEST")).split("\n"))
            if (line.startsWith("f_ea_inode") || line.startsWith("f_ea_zero_size")) names.add(line.split("\t")[0]);
        assertFalse(names.isEmpty(), "no f_ea_inode images in the corpus");
        Random r = new Random(18);
        int refusedDamaged = 0, rewritten = 0;
        for (String name : names) {
            Path img = tmp.resolve(name + ".img"), fixed = tmp.resolve(name + "-fixed.img");
            try (var in = new java.util.zip.GZIPInputStream(Files.newInputStream(Tools.corpus().resolve(name + ".img.gz")))) { Files.copy(in, img); }
            Files.copy(img, fixed);
            try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, true)) {
                List<String> ps = new ArrayList<>();
                paths(fs, "/", fs.inode(ext4j.ondisk.Inode.ROOT), ps, 0);
                for (String p : ps) {
                    for (Xattr x : fs.xattrs(fs.resolve(p, false))) {
                        try { fs.removeXattr(p, x.name(), false); } catch (java.io.IOException e) { assertNotNull(e.getMessage(), name); refusedDamaged++; }
                    }
                    try { fs.setXattr(p, "user.ext4j", bytes(r, 20000), 0, false); } catch (java.io.IOException e) { assertNotNull(e.getMessage(), name); refusedDamaged++; }
                }
            } catch (java.io.IOException e) {
                assertNotNull(e.getMessage(), name + ": an error without a message");
                refusedDamaged++;
            }
            Tools.run("e2fsck", "-fy", fixed.toString());
            if (Tools.fsckFinding(Tools.run("e2fsck", "-fn", fixed.toString()).out()) != null) {
                System.out.println("EaInodeWriteTest " + name + ": e2fsck -fy leaves it unclean; skipped for writing");
                continue;
            }
            Map<String, Map<String, byte[]>> model = new TreeMap<>();
            try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(fixed, false)) {
                int bs = fs.superblock().blockSize();
                boolean eaInode = fs.superblock().hasIncompat(ext4j.ondisk.Features.INCOMPAT_EA_INODE);
                List<String> ps = new ArrayList<>();
                try {
                    paths(fs, "/", fs.inode(ext4j.ondisk.Inode.ROOT), ps, 0);
                } catch (ext4j.base.CorruptException e) { // damage e2fsck 1.47.0 does not see (an EA inode in a directory): Linux refuses it too
                    System.out.println("EaInodeWriteTest " + name + ": still damaged after e2fsck -fy (" + e.getMessage() + "); skipped for writing");
                    continue;
                }
                for (String p : new ArrayList<>(ps)) {
                    try {
                        model.put(p, ext4jXattrs(fs, p));
                    } catch (ext4j.base.CorruptException e) { // as Linux: "invalid size in ea xattr" and the like
                        System.out.println("EaInodeWriteTest " + name + ": " + p + " refused (" + e.getMessage() + "); left alone");
                        ps.remove(p);
                    }
                }
                for (String p : ps) {
                    Map<String, byte[]> m = model.get(p);
                    List<String> had = new ArrayList<>(m.keySet());
                    for (int k = 0; k < had.size(); k++) {
                        String n = had.get(k);
                        if (!n.startsWith("user.") && !n.startsWith("trusted.")) continue;
                        if (k % 2 == 0) { byte[] v = bytes(r, m.get(n).length > bs || !eaInode ? 100 : bs + 7 + k); fs.setXattr(p, n, v, 0, false); m.put(n, v); }
                        else { fs.removeXattr(p, n, false); m.remove(n); }
                        rewritten++;
                    }
                    byte[] v = bytes(r, eaInode ? bs + 1 : bs / 4); // an EA inode of two blocks (the images are small)
                    fs.setXattr(p, "user.ext4j", v, 0, false);
                    m.put("user.ext4j", v);
                }
                for (String p : ps) assertSame(model.get(p), ext4jXattrs(fs, p), name + " " + p);
                String victim = ps.stream().filter(p -> !p.equals(ps.get(0))).reduce((a, b) -> b).orElse(null);
                if (victim != null && !fs.resolve(victim, false).isDir()) { fs.unlink(victim); model.remove(victim); }
            }
            Tools.assertFsckClean(fixed);
            if (Tools.canMount()) {
                Path mnt = Files.createDirectories(tmp.resolve("mnt-" + name));
                Tools.mount(fixed, mnt, "ro");
                try {
                    for (var e : model.entrySet()) assertSame(e.getValue(), kernelXattrs(Path.of(mnt + e.getKey())), name + " Linux reads " + e.getKey());
                } finally {
                    Tools.umount(mnt);
                }
            }
            System.out.println("EaInodeWriteTest " + name + ": " + model.size() + " files rewritten, e2fsck clean" + (Tools.canMount() ? ", Linux reads the same" : ""));
        }
        System.out.println("EaInodeWriteTest corpus: " + names.size() + " images, " + refusedDamaged + " refusals on the damaged ones, " + rewritten + " values replaced or removed on the repaired ones");
    }

    /**
     * ext4j mkfs -O ea_inode -d copies a tree whose xattrs need EA inodes (made on a kernel mount of
     * an ea_inode image, since the host's own filesystem may refuse 64 KiB values): e2fsck clean,
     * and a kernel mount lists the source's xattrs exactly.
     */
    @Test
    void mkfsCopiesLargeXattrs() throws Exception {
        Tools.requireMount();
        Path srcImg = fresh(tmp.resolve("src.img")), src = Files.createDirectories(tmp.resolve("src")), img = tmp.resolve("made.img");
        Random r = new Random(64);
        Tools.mount(srcImg, src, "");
        try {
            Files.delete(src.resolve("lost+found"));
            Files.createDirectories(src.resolve("sub"));
            Files.writeString(src.resolve("a"), "a");
            Files.writeString(src.resolve("sub/b"), "b");
            applyInKernel(src, List.of(new Op("/a", "user.big", bytes(r, 30000)), new Op("/a", "user.small", bytes(r, 1)),
                    new Op("/sub/b", "user.huge", bytes(r, 65536)), new Op("/sub", "user.d", bytes(r, 5000)), new Op("/sub/b", "trusted.t", bytes(r, 2000))));
            String want = Tools.allXattrs(src);
            ext4j.cli.CliRunner.Out o = ext4j.cli.CliRunner.run("mkfs", "-q", "-O", "ea_inode", "-d", src.toString(), img.toString(), "32M");
            assertEquals(0, o.exit(), o.err());
            Tools.assertFsckClean(img);
            Path mnt = Files.createDirectories(tmp.resolve("mnt-made"));
            Tools.mount(img, mnt, "ro");
            try {
                assertEquals(want, Tools.allXattrs(mnt), "xattrs of the ext4j-made image as Linux lists them");
            } finally {
                Tools.umount(mnt);
            }
            try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
                assertEquals(65536, ext4jXattrs(fs, "/sub/b").get("user.huge").length);
            }
        } finally {
            Tools.umount(src);
        }
    }

    /** `ext4j setfattr` sets a 64 KiB value (0s base64: its hex form is longer than one argument may be) and removes it again. */
    @Test
    void cliSetfattr() throws Exception {
        Path img = fresh(tmp.resolve("cli.img"));
        long[] empty = used(img);
        byte[] v = bytes(new Random(5), 65536);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) { fs.createFile("/x", 0644, 0, 0); }
        ext4j.cli.CliRunner.Out o = ext4j.cli.CliRunner.run("setfattr", "-n", "user.huge", "-v", "0s" + java.util.Base64.getEncoder().encodeToString(v), img.toString(), "/x");
        assertEquals(0, o.exit(), o.err());
        Tools.assertFsckClean(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) { assertArrayEquals(v, ext4jXattrs(fs, "/x").get("user.huge")); }
        assertEquals(empty[0] + 2, used(img)[0], "the file and its EA inode");
        o = ext4j.cli.CliRunner.run("setfattr", "-x", "user.huge", img.toString(), "/x");
        assertEquals(0, o.exit(), o.err());
        Tools.assertFsckClean(img);
        assertEquals(empty[0] + 1, used(img)[0], "the EA inode is freed");
    }

    /**
     * One value set on three files and twice on one file, re-set, and removed, by ext4j and by the
     * kernel on copies of one image: both share one EA inode between the equal values (Linux through
     * its cache), with the same reference counts, i_blocks and used counts; deleting the files frees it.
     */
    @Test
    void equalValuesShareAnEaInodeAsLinux() throws Exception {
        Tools.requireMount();
        Path ours = fresh(tmp.resolve("share-ext4j.img"), "-b", "1024"), theirs = tmp.resolve("share-linux.img");
        long[] empty = used(ours);
        Files.copy(ours, theirs);
        Random r = new Random(11);
        byte[] v = bytes(r, 20000), w = bytes(r, 3000);
        List<String> files = List.of("/s0", "/s1", "/s2");
        List<Op> ops = List.of(new Op("/s0", "user.a", v), new Op("/s1", "user.a", v), new Op("/s2", "user.b", v), new Op("/s0", "user.c", v),
                new Op("/s1", "user.w", w), new Op("/s2", "user.w", w), new Op("/s1", "user.a", null), new Op("/s0", "user.a", v), new Op("/s2", "user.w", bytes(r, 5)));
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(ours, false)) {
            for (String f : files) fs.createFile(f, 0644, 0, 0);
            apply(fs, ops);
        }
        Tools.assertFsckClean(ours);
        createAndApplyInKernel(theirs, "mnt-share", files, ops);
        for (String f : files) assertEquals(placement(theirs, f), placement(ours, f), f + " as Linux");
        List<String> eaOurs = eaInodes(ours, 30);
        assertEquals(eaInodes(theirs, 30), eaOurs, "the EA inodes (shared, with their counts) as Linux's");
        assertTrue(eaOurs.stream().anyMatch(e -> e.contains("Size: 20000 Links: 1 version 0x00000000:00000003")), "one EA inode, three references: " + eaOurs);
        assertArrayEquals(used(theirs), used(ours));
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(ours, false)) {
            assertArrayEquals(v, ext4jXattrs(fs, "/s2").get("user.b"));
            for (String f : files) fs.unlink(f);
        }
        Tools.assertFsckClean(ours);
        assertArrayEquals(empty, used(ours), "the shared EA inode freed with its last reference");
    }

    /**
     * A value going to an EA inode from a file whose xattr block Linux shares with another file
     * (128-byte inodes: every entry is in the block): the block is copied for the writer with the
     * new entry, the other file keeps the original; e2fsck clean, Linux reads both, and deleting
     * the writer frees its EA inode and copy.
     */
    @Test
    void eaValueIntoABlockLinuxShares() throws Exception {
        Tools.requireMount();
        Path img = fresh(tmp.resolve("shared-block.img"), "-b", "4096", "-I", "128");
        Path mnt = Files.createDirectories(tmp.resolve("mnt-shared-block"));
        Tools.mount(img, mnt, "");
        try {
            for (String f : List.of("s1", "s2")) {
                Files.writeString(mnt.resolve(f), f);
                Tools.ok("setfattr", "-n", "user.shared", "-v", "same-value", mnt.resolve(f).toString());
            }
        } finally {
            Tools.umount(mnt);
        }
        long[] kernelMade = used(img);
        String b1 = placementBlock(img, "/s1"), b2 = placementBlock(img, "/s2");
        org.junit.jupiter.api.Assumptions.assumeTrue(b1.equals(b2), "Linux did not share the xattr block this time (" + b1 + " vs " + b2 + ")");
        byte[] big = bytes(new Random(3), 10240);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.setXattr("/s1", "user.big", big, 0, false);
            assertNotEquals(b1, placementBlock(fs, "/s1"), "the writer got its own copy of the block");
            assertArrayEquals(big, ext4jXattrs(fs, "/s1").get("user.big"));
            assertArrayEquals("same-value".getBytes(), ext4jXattrs(fs, "/s2").get("user.shared"));
        }
        Tools.assertFsckClean(img);
        Tools.mount(img, mnt, "ro");
        try {
            assertArrayEquals(big, kernelXattrs(mnt.resolve("s1")).get("user.big"));
            assertEquals(java.util.Set.of("user.shared"), kernelXattrs(mnt.resolve("s2")).keySet());
            assertArrayEquals("same-value".getBytes(), kernelXattrs(mnt.resolve("s2")).get("user.shared"));
        } finally {
            Tools.umount(mnt);
        }
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) { fs.unlink("/s1"); }
        Tools.assertFsckClean(img);
        assertEquals(kernelMade[0] - 1, used(img)[0], "s1 and its EA inode freed (the EA inode was made after the kernel's count)");
    }

    private static String placementBlock(Path img, String f) throws Exception {
        return Tools.debugfs(img, "stat " + f).replaceAll("(?s).*File ACL: (\\d+).*", "$1");
    }

    private static String placementBlock(Ext4FileSystem fs, String f) throws Exception {
        return String.valueOf(fs.resolve(f, false).fileAcl());
    }

    /** Through a kernel loop mount of img: the files created, then ops applied; e2fsck clean afterwards; returns the (unmounted) mountpoint. */
    private Path createAndApplyInKernel(Path img, String mntName, List<String> files, List<Op> ops) throws Exception {
        Path mnt = Files.createDirectories(tmp.resolve(mntName));
        Tools.mount(img, mnt, "");
        try {
            for (String f : files) Files.createFile(mnt.resolve(f.substring(1)));
            applyInKernel(mnt, ops);
        } finally {
            Tools.umount(mnt);
        }
        Tools.assertFsckCleanAfterKernel(img);
        return mnt;
    }
    /** A value whose EA inode's data was damaged is refused by the value hash the EA inode keeps (as Linux's ext4_xattr_inode_get), naming both inodes. */
    @Test
    void aDamagedEaInodeValueIsRefusedByItsHash() throws Exception {
        Path img = fresh(tmp.resolve("dmg.img"), "-b", "4096");
        byte[] v = bytes(new Random(5), 10_000);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/f", 0644, 0, 0);
            fs.setXattr("/f", "user.big", v, 0, false);
        }
        long owner = Long.parseLong(Tools.debugfs(img, "stat /f").replaceAll("(?s).*Inode: (\\d+).*", "$1"));
        long ea = -1;
        for (long ino = owner + 1; ino < owner + 10 && ea < 0; ino++)
            if ((Long.parseLong(Tools.debugfs(img, "stat <" + ino + ">").replaceAll("(?s).*Flags: 0x([0-9a-f]+).*", "$1"), 16) & 0x200000) != 0) ea = ino;
        assertTrue(ea > 0, "the value went to an EA inode");
        long block = Long.parseLong(Tools.debugfs(img, "bmap <" + ea + "> 0").lines().reduce((a, b) -> b).orElseThrow().trim());
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            assertArrayEquals(v, fs.xattrs(fs.resolve("/f", false)).stream().filter(x -> x.name().equals("user.big")).findFirst().orElseThrow().value(), "the value reads back before the damage");
        }
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(img, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {(byte) (v[100] ^ 0x40)}), block * 4096 + 100);
        }
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            ext4j.base.CorruptException e = assertThrows(ext4j.base.CorruptException.class, () -> fs.xattrs(fs.resolve("/f", false)));
            assertTrue(e.getMessage().contains("xattr value inode " + ea) && e.getMessage().contains("inode " + owner), e.getMessage());
        }
    }
}
