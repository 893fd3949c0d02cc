package ext4j.mkfs;

import ext4j.testutil.Seeds;
import ext4j.cli.CliRunner;
import ext4j.fs.Ext4FileSystem;
import ext4j.testutil.Tools;
import ext4j.testutil.TreeDiff;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** ext4j mkfs against mke2fs: e2fsck, dumpe2fs, the same layout figures, ext4j and Linux writing on the result. */
class MkfsTest {
    @TempDir Path tmp;

    private static String field(String dump, String name) {
        for (String l : dump.split("\n")) if (l.startsWith(name + ":")) return l.substring(name.length() + 1).trim();
        return null;
    }

    private static long usedBlocks(String dump) {
        return Long.parseLong(field(dump, "Block count")) - Long.parseLong(field(dump, "Free blocks"));
    }

    /** Makes the same filesystem with both tools and compares; returns the ext4j image. */
    private Path compareWithMke2fs(String size, String... opts) throws Exception {
        String label = String.join("_", opts).replaceAll("[^A-Za-z0-9_]", "") + size;
        Path ours = tmp.resolve("ours-" + label + ".img"), theirs = tmp.resolve("mke2fs-" + label + ".img");
        List<String> args = new ArrayList<>(List.of("mkfs", "-q"));
        args.addAll(Arrays.asList(opts));
        args.add(ours.toString());
        args.add(size);
        CliRunner.Out o = CliRunner.run(args.toArray(String[]::new));
        assertEquals(0, o.exit(), o.err());
        Tools.assertFsckClean(ours);
        List<String> m = new ArrayList<>(List.of("mke2fs", "-q", "-F"));
        m.addAll(Arrays.asList(opts));
        if (!m.contains("-t")) m.addAll(List.of("-t", "ext4"));
        m.add(theirs.toString());
        m.add(size);
        Tools.ok("truncate", "-s", size, theirs.toString());
        Tools.ok(m.toArray(String[]::new));
        String a = Tools.ok("dumpe2fs", "-h", ours.toString()), b = Tools.ok("dumpe2fs", "-h", theirs.toString());
        for (String f : new String[]{"Filesystem features", "Block count", "Inode count", "Block size", "Inode size", "Blocks per group",
                "Inodes per group", "Reserved GDT blocks", "Flex block group size", "Reserved block count", "Total journal blocks", "Filesystem volume name", "Overhead clusters", "Journal users"})
            assertEquals(field(b, f), field(a, f), f + " (" + label + ")");
        long ua = usedBlocks(a), ub = usedBlocks(b);
        System.out.printf("MkfsTest %-40s used blocks: ext4j %d, mke2fs %d%n", label, ua, ub);
        assertTrue(Math.abs(ua - ub) <= Math.max(8, ub / 200), "used blocks close to mke2fs's: " + ua + " vs " + ub);
        return ours;
    }

    @Test
    void sameLayoutAsMke2fsAndClean() throws Exception {
        compareWithMke2fs("8M");
        compareWithMke2fs("64M");
        compareWithMke2fs("600M");
        compareWithMke2fs("3G");
        compareWithMke2fs("9T");                     // past 2^31 blocks: the run set of used blocks, not an int-indexed bitmap
        compareWithMke2fs("64M", "-t", "ext2");
        compareWithMke2fs("600M", "-t", "ext2");
        compareWithMke2fs("100M", "-O", "^metadata_csum");
        compareWithMke2fs("50M", "-O", "^has_journal,^resize_inode");
        compareWithMke2fs("300M", "-b", "2048");
        compareWithMke2fs("1G", "-b", "1024");
        compareWithMke2fs("200M", "-I", "128", "-N", "5000", "-L", "lbl");
        compareWithMke2fs("64M", "-O", "ea_inode");
        Path u = compareWithMke2fs("32M", "-U", "11111111-2222-3333-4444-555555555555");
        assertEquals("11111111-2222-3333-4444-555555555555", field(Tools.ok("dumpe2fs", "-h", u.toString()), "Filesystem UUID"));
    }

    /** -O inline_data as mke2fs makes it: the same superblock fields, lost+found one block shorter (mke2fs makes it inline first), e2fsck quiet; 128-byte inodes refused. */
    @Test
    void inlineDataAsMke2fs() throws Exception {
        for (String size : new String[]{"32M", "600M"}) {
            Path ours = compareWithMke2fs(size, "-O", "inline_data");
            Path theirs = tmp.resolve("mke2fs-" + ("O_inline_data" + size).replaceAll("[^A-Za-z0-9_]", "") + ".img");
            assertEquals(dirSize(theirs, "/lost+found"), dirSize(ours, "/lost+found"), "lost+found size (" + size + ")");
            assertEquals(usedBlocks(Tools.ok("dumpe2fs", "-h", theirs.toString())), usedBlocks(Tools.ok("dumpe2fs", "-h", ours.toString())), "used blocks (" + size + ")");
        }
        CliRunner.Out o = CliRunner.run("mkfs", "-q", "-O", "inline_data", "-I", "128", tmp.resolve("small-inodes.img").toString(), "32M");
        assertEquals(2, o.exit(), o.err());                 // a bad argument, as for any other refused option
        assertTrue(o.err().contains("too small for inline data"), o.err());
    }

    private static String dirSize(Path img, String path) throws Exception {
        var m = java.util.regex.Pattern.compile("Project:\\s+\\d+\\s+Size: (\\d+)").matcher(Tools.debugfs(img, "stat " + path));
        assertTrue(m.find(), "debugfs stat " + path);
        return m.group(1);
    }

    @Test
    void ext4jAndLinuxWriteOnTheResult() throws Exception {
        for (String[] opts : new String[][]{{"-t", "ext4"}, {"-t", "ext2"}, {"-t", "ext4", "-b", "1024"}}) {
            Path img = tmp.resolve("w" + String.join("", opts) + ".img");
            List<String> args = new ArrayList<>(List.of("mkfs", "-q"));
            args.addAll(Arrays.asList(opts));
            args.addAll(List.of(img.toString(), "128M"));
            assertEquals(0, CliRunner.run(args.toArray(String[]::new)).exit());
            try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
                fs.mkdir("/d", 0755, 0, 0);
                for (int i = 0; i < 3000; i++) fs.createFile("/d/f" + i, 0644, 0, 0);
                byte[] data = new byte[5_000_000];
                new Random(1).nextBytes(data);
                fs.createFile("/big", 0644, 0, 0);
                fs.write("/big", 0, ByteBuffer.wrap(data));
            }
            Tools.assertFsckClean(img);
            Tools.requireMount();                   // a visible skip where the kernel cannot loop-mount
            Path mnt = Files.createDirectories(tmp.resolve("mnt"));
            Tools.mount(img, mnt, "");
            try {
                try (var l = Files.list(mnt.resolve("d"))) { assertEquals(3000, l.count()); }
                assertEquals(5_000_000, Files.size(mnt.resolve("big")));
                Files.writeString(mnt.resolve("from-linux"), "hello");
                Files.createDirectories(mnt.resolve("k/l/m"));
            } finally {
                Tools.umount(mnt);
            }
            Tools.assertFsckClean(img);
            try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
                assertNotNull(fs.resolve("/k/l/m", true));
                assertEquals(5, fs.resolve("/from-linux", true).size());
            }
        }
    }

    @Test
    void mkfsDirAndMke2fsDirReadTheSame() throws Exception {
        Path src = tmp.resolve("src");
        long seed = Seeds.seed("MkfsTest -d");
        Random r = new Random(seed);
        for (int i = 0; i < 400; i++) {
            Path d = src.resolve("d" + (i % 13)).resolve("s" + (i % 5));
            Files.createDirectories(d);
            byte[] b = new byte[r.nextInt(4) == 0 ? r.nextInt(300_000) : r.nextInt(3000)];
            r.nextBytes(b);
            Files.write(d.resolve("f" + i), b);
        }
        Files.createSymbolicLink(src.resolve("link"), Path.of("d1/s1"));
        Files.createLink(src.resolve("hard"), src.resolve("d0/s0/f0"));
        Tools.ok("mkfifo", src.resolve("fifo").toString());
        Path ours = tmp.resolve("ours.img"), theirs = tmp.resolve("theirs.img");
        assertEquals(0, CliRunner.run("mkfs", "-q", "-d", src.toString(), ours.toString(), "128M").exit());
        Tools.mke2fs(theirs, src, "128M", "-t", "ext4");
        Tools.assertFsckClean(ours);
        Tools.assertFsckClean(theirs);
        Path a = tmp.resolve("a"), b = tmp.resolve("b");
        assertEquals(0, CliRunner.run("get", "-r", ours.toString(), "/", a.toString()).exit());
        assertEquals(0, CliRunner.run("get", "-r", theirs.toString(), "/", b.toString()).exit());
        TreeDiff.Options opt = new TreeDiff.Options();
        opt.nanos = false;        // mke2fs -d 1.47 keeps seconds only
        opt.dirMtimes = false;    // lost+found and the root differ in creation time
        List<String> d = TreeDiff.diff(b, a, opt);
        assertEquals(List.of(), d);
        opt.nanos = true;
        assertEquals(List.of(), TreeDiff.diff(src, a, opt).stream().filter(x -> !x.contains("lost+found") && !x.startsWith("extra")).toList(),
                "ext4j mkfs -d keeps the source's nanoseconds");
    }

    /**
     * The fill's special paths: a file longer than one allocation run (more handles after the
     * create's), a sparse file (written through the page cache, which ends the in-place editing and
     * the parsed-inode cache of a populating open), and files copied after it. e2fsck -fn clean,
     * read back equal to the source, the holes kept.
     */
    @Test
    void mkfsDirWithLongAndSparseFiles() throws Exception {
        Path src = tmp.resolve("src");
        long seed = Seeds.seed("MkfsTest long+sparse");
        Random r = new Random(seed);
        Files.createDirectories(src.resolve("a"));
        Files.createDirectories(src.resolve("z"));
        for (int i = 0; i < 50; i++) { byte[] b = new byte[r.nextInt(9000)]; r.nextBytes(b); Files.write(src.resolve("a").resolve("f" + i), b); }
        byte[] big = new byte[(40 << 20) + 123]; // 40 MiB: more than one 8192-block run
        r.nextBytes(big);
        Files.write(src.resolve("m-long"), big);
        try (var ch = java.nio.channels.FileChannel.open(src.resolve("n-sparse"), java.nio.file.StandardOpenOption.CREATE_NEW, java.nio.file.StandardOpenOption.WRITE)) {
            byte[] b = new byte[70_000];
            r.nextBytes(b);
            ch.write(ByteBuffer.wrap(b), 0);
            ch.write(ByteBuffer.wrap(b), 9 << 20); // a 9 MiB hole between
        }
        for (int i = 0; i < 100; i++) { byte[] b = new byte[r.nextInt(9000)]; r.nextBytes(b); Files.write(src.resolve("z").resolve("g" + i), b); }
        Path img = tmp.resolve("ours.img");
        assertEquals(0, CliRunner.run("mkfs", "-q", "-d", src.toString(), img.toString(), "128M").exit());
        Tools.assertFsckClean(img);
        Path out = tmp.resolve("out");
        assertEquals(0, CliRunner.run("get", "-r", img.toString(), "/", out.toString()).exit());
        Tools.deleteTree(out.resolve("lost+found"));
        TreeDiff.Options opt = new TreeDiff.Options();
        opt.dirMtimes = false;
        assertEquals(List.of(), TreeDiff.diff(src, out, opt), "seed " + seed);
        String stat = Tools.debugfs(img, "stat /n-sparse");
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("Blockcount: (\\d+)").matcher(stat);
        assertTrue(m.find(), stat);
        long sectors = Long.parseLong(m.group(1));  // 140,000 bytes of data: 274-288 sectors with any block size; 18,568 without the hole
        assertTrue(sectors >= 274 && sectors <= 288, "the 9 MiB hole is not kept as a hole:\n" + stat);
    }

    /** The orphan file's blocks: their number, where they are, and each block's bytes. */
    private static List<String> orphanFile(Path img) throws Exception {
        String stat = Tools.debugfs(img, "stat <12>");
        List<String> out = new ArrayList<>();
        for (String l : stat.split("\n")) if (l.matches("Inode: .*|User: .*|Links: .*|EXTENTS:|\\(.*")) out.add(l.replaceAll("Generation.*|Version.*", "").strip());
        String blocks = Tools.debugfs(img, "blocks <12>").strip();
        int bs = Integer.parseInt(field(Tools.ok("dumpe2fs", "-h", img.toString()), "Block size"));
        try (var ch = java.nio.channels.FileChannel.open(img)) {
            for (String b : blocks.split("\\s+")) {
                if (!b.matches("\\d+")) continue;                        // debugfs's version line
                ByteBuffer buf = ByteBuffer.allocate(bs);
                ch.read(buf, Long.parseLong(b) * bs);
                out.add(b + ": " + java.util.HexFormat.of().formatHex(buf.array(), bs - 8, bs) + (allZero(buf.array(), bs - 8) ? " (slots empty)" : " (slots used!)"));
            }
        }
        return out;
    }

    private static boolean allZero(byte[] b, int n) { for (int i = 0; i < n; i++) if (b[i] != 0) return false; return true; }

    /**
     * -O orphan_file as mke2fs makes it: inode 12 of the same size and blocks, each block's tail
     * (magic and checksum, the same UUID given to both) byte for byte; e2fsck -fn clean; Linux mounts
     * it and puts an unlinked open file in it, which its unmount frees.
     */
    @Test
    void orphanFileAsMke2fsMakesIt() throws Exception {
        String uuid = "0b10ca04-1234-4321-8765-aabbccddeeff";
        for (String[] c : new String[][]{{"3M"}, {"100M"}, {"1G"}, {"20G"}, {"300M", "-b", "2048"}, {"100M", "-O", "^metadata_csum"}}) {
            String size = c[0];
            List<String> opts = new ArrayList<>(List.of("-U", uuid));
            opts.addAll(Arrays.asList(c).subList(1, c.length));
            if (opts.contains("-O")) opts.set(opts.indexOf("-O") + 1, opts.get(opts.indexOf("-O") + 1) + ",orphan_file");
            else opts.addAll(List.of("-O", "orphan_file"));
            Path ours = compareWithMke2fs(size, opts.toArray(String[]::new));
            String label = String.join("_", opts).replaceAll("[^A-Za-z0-9_]", "") + size;
            Path theirs = tmp.resolve("mke2fs-" + label + ".img");
            assertEquals("12", field(Tools.ok("dumpe2fs", "-h", ours.toString()), "Orphan file inode"));
            List<String> a = orphanFile(ours), b = orphanFile(theirs);
            assertEquals(b, a, "orphan file of " + label);
            assertTrue(a.size() > 4 + 32 && a.stream().anyMatch(l -> l.startsWith("EXTENTS")), "compared the inode, its extents and every block: " + a);
            Files.delete(theirs);
        }
        Tools.requireMount();
        Path img = tmp.resolve("of.img"), mnt = Files.createDirectories(tmp.resolve("ofm"));
        assertEquals(0, CliRunner.run("mkfs", "-q", "-O", "orphan_file", img.toString(), "64M").exit());
        Tools.mount(img, mnt, "");
        try {
            Path f = mnt.resolve("f");
            Files.write(f, new byte[3 << 20]);
            try (var _ = java.nio.channels.FileChannel.open(f)) {
                Files.delete(f);
                Tools.ok("sync");
            }
        } finally {
            Tools.umount(mnt);
        }
        Tools.assertFsckClean(img);
    }

    /** dumpe2fs's group section without checksums, and the blocks of inodes 2, 7, 8, 11 and 12. */
    private static String layout(Path img) throws Exception {
        StringBuilder b = new StringBuilder();
        boolean groups = false;
        for (String l : Tools.ok("dumpe2fs", img.toString()).split("\n")) {
            if (l.startsWith("Group 0:")) groups = true;
            if (groups) b.append(l.replaceAll(",? ?csum 0x[0-9a-f]+", "")).append('\n');
        }
        for (int ino : new int[]{2, 7, 8, 11, 12})
            b.append("inode ").append(ino).append(": ").append(Tools.debugfs(img, "blocks <" + ino + ">").replaceAll("debugfs [^\n]*\n", "").strip()).append('\n');
        return b.toString();
    }

    /**
     * Block for block the layout mke2fs makes (every group's tables, backups, free ranges; where
     * root, the resize inode, the journal, lost+found and the orphan file are), for fixed and random
     * sizes and options; seed printed, -Dext4j.seed=N replays.
     */
    @Test
    void groupLayoutAndSpecialInodesEqualMke2fs() throws Exception {
        Long fixed = Long.getLong("ext4j.seed");
        long seed = fixed != null ? fixed : System.nanoTime();
        System.out.println("MkfsTest layout seed=" + seed + " (rerun with -Dext4j.seed=" + seed + ")");
        Random rnd = new Random(seed);
        List<String[]> cases = new ArrayList<>(List.of(new String[]{"2M"}, new String[]{"3M"}, new String[]{"8M"}, new String[]{"17M"},
                new String[]{"64M"}, new String[]{"100M", "-O", "orphan_file"}, new String[]{"136M", "-b", "4096"}, new String[]{"1G"},
                new String[]{"7G"}, new String[]{"20G", "-O", "orphan_file"}, new String[]{"600M", "-t", "ext2"}, new String[]{"300M", "-b", "2048"},
                // journals past the inode's 4 extents (an extent leaf block): 1 GiB with 4 KiB blocks, 128 MiB with 1 KiB
                new String[]{"200G"}, new String[]{"19G", "-b", "1024"},
                // an orphan file mke2fs lays over a hole at the end of group 0 and on (seed 43759725071090)
                new String[]{"125738K", "-O", "orphan_file"},
                new String[]{"64M", "-O", "ea_inode"}));
        String[][] extras = {{}, {"-O", "orphan_file"}, {"-b", "4096"}, {"-b", "1024"}, {"-O", "^resize_inode"}, {"-I", "128"}, {"-O", "^has_journal"}};
        for (int i = 0; i < 4; i++) {
            List<String> c = new ArrayList<>(List.of((2048 + rnd.nextInt(rnd.nextBoolean() ? 200_000 : 12_000_000)) + "K"));
            c.addAll(Arrays.asList(extras[rnd.nextInt(extras.length)]));
            cases.add(c.toArray(String[]::new));
        }
        String uuid = "0b10ca04-1234-4321-8765-aabbccddeeff";
        for (String[] c : cases) {
            Path ours = tmp.resolve("layout-ours.img"), theirs = tmp.resolve("layout-mke2fs.img");
            Files.deleteIfExists(ours);
            Files.deleteIfExists(theirs);
            List<String> opts = new ArrayList<>(Arrays.asList(c).subList(1, c.length));
            opts.addAll(List.of("-U", uuid));
            List<String> args = new ArrayList<>(List.of("mkfs", "-q"));
            args.addAll(opts);
            args.addAll(List.of(ours.toString(), c[0]));
            CliRunner.Out o = CliRunner.run(args.toArray(String[]::new));
            assertEquals(0, o.exit(), o.err());
            Tools.ok("truncate", "-s", c[0], theirs.toString());
            List<String> m = new ArrayList<>(List.of("mke2fs", "-q", "-F"));
            if (!opts.contains("-t")) m.addAll(List.of("-t", "ext4"));
            m.addAll(opts);
            m.addAll(List.of(theirs.toString(), c[0]));
            Tools.ok(m.toArray(String[]::new));
            assertEquals(layout(theirs), layout(ours), String.join(" ", c) + ": layout vs mke2fs");
            Tools.assertFsckClean(ours);
        }
    }
}
