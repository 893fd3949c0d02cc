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
}
