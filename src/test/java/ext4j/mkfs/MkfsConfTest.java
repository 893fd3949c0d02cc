package ext4j.mkfs;

import ext4j.cli.CliRunner;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

/**
 * ext4j mkfs takes its defaults from mke2fs's profile as mke2fs does: the host's /etc/mke2fs.conf
 * (or $MKE2FS_CONFIG), a custom file, or mke2fs 1.47's built-in profile when there is no file. For
 * each case `mke2fs -t ext4` and `ext4j mkfs` on sparse images of the same size must agree in
 * dumpe2fs -h's features, block size, inode size and count (and the other fields a profile sets),
 * and ext4j's image is e2fsck-clean. Seeds printed, -Dext4j.seed=N replays.
 */
class MkfsConfTest {
    @TempDir Path tmp;

    private static final String[] FIELDS = {"Filesystem features", "Block size", "Inode size", "Inode count", "Block count",
            "Reserved block count", "Flex block group size", "Default mount options", "Default directory hash", "Errors behavior",
            "Orphan file inode", "Total journal blocks", "Overhead clusters", "Journal users", "Blocks per group", "Inodes per group",
            "Reserved GDT blocks", "Check interval"};

    private static long seed(String test) {
        Long fixed = Long.getLong("ext4j.seed");
        long s = fixed != null ? fixed : System.nanoTime();
        System.out.println("MkfsConfTest." + test + " seed=" + s + " (rerun with -Dext4j.seed=" + s + ")");
        return s;
    }

    private static Map<String, String> fields(Path img) throws Exception {
        Map<String, String> m = new TreeMap<>();
        String dump = Tools.ok("dumpe2fs", "-h", img.toString());
        for (String f : FIELDS)
            for (String l : dump.split("\n")) if (l.startsWith(f + ":")) m.put(f, l.substring(f.length() + 1).trim());
        return m;
    }

    /**
     * mke2fs -t ext4 with MKE2FS_CONFIG set to conf (null: as the environment has it), on a sparse
     * file of size, given the size as ext4j mkfs is given it (explicit: mke2fs does not round it).
     */
    private static void mke2fs(Path img, String size, Path conf, String... opts) throws Exception {
        Tools.requireTool("mke2fs");
        Tools.ok("truncate", "-s", size, img.toString());
        List<String> cmd = new ArrayList<>(List.of("mke2fs", "-q", "-F", "-t", "ext4"));
        cmd.addAll(Arrays.asList(opts));
        cmd.add(img.toString());
        cmd.add(size);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (conf != null) pb.environment().put("MKE2FS_CONFIG", conf.toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), cmd + ":\n" + out);
    }

    /** ext4j mkfs in this JVM (conf: --config FILE; null: the profile the environment names). */
    private static void ext4jMkfs(Path img, String size, Path conf, String... opts) {
        List<String> args = new ArrayList<>(List.of("mkfs", "-q"));
        if (conf != null) args.add("--config=" + conf);
        args.addAll(Arrays.asList(opts));
        args.add(img.toString());
        args.add(size);
        CliRunner.Out o = CliRunner.run(args.toArray(String[]::new));
        assertEquals(0, o.exit(), args + ": " + o.err());
    }

    private void compare(String size, Path conf, String what, String... opts) throws Exception {
        Path ours = tmp.resolve("ours.img"), theirs = tmp.resolve("mke2fs.img");
        Files.deleteIfExists(ours);
        Files.deleteIfExists(theirs);
        ext4jMkfs(ours, size, conf, opts);
        mke2fs(theirs, size, conf, opts);
        Map<String, String> a = fields(ours), b = fields(theirs);
        assertEquals(b, a, what + ", " + size + " " + String.join(" ", opts) + ": dumpe2fs -h of ext4j mkfs vs mke2fs");
        Tools.assertFsckClean(ours);
        System.out.printf("  %-34s %6s %-12s %s blocks of %s, %s inodes of %s, %s%n", what, size, String.join(" ", opts), a.get("Block count"),
                a.get("Block size"), a.get("Inode count"), a.get("Inode size"), a.get("Filesystem features"));
    }

    private static String randomSize(Random rnd) {
        long kib = switch (rnd.nextInt(4)) {
            case 0 -> 2048 + rnd.nextInt(1024);                 // floppy
            case 1 -> 3072 + rnd.nextInt(509 * 1024);           // small
            case 2 -> 512 * 1024 + rnd.nextInt(3 << 20);        // default
            default -> (4L << 20) + rnd.nextInt(28 << 20);      // default, 4-32 GiB
        };
        return kib + "K";
    }

    @Test
    void sameFilesystemAsTheHostsMke2fs() throws Exception {
        Random rnd = new Random(seed("hostConf"));
        System.out.println("  profile: " + Mke2fsConf.load().source());
        for (String size : List.of("3M", "100M", "1G", "20G", randomSize(rnd), randomSize(rnd))) compare(size, null, "host profile");
        compare("100M", null, "host profile", "-T", "news");
    }

    /** Without SIZE both take the file's size, rounded down to whole 4 KiB pages. */
    @Test
    void sizeFromTheFileIsRoundedToPages() throws Exception {
        Random rnd = new Random(seed("fileSize"));
        for (int i = 0; i < 3; i++) {
            long bytes = (3L << 20) + rnd.nextInt(900 << 20) + rnd.nextInt(4096);
            Path ours = tmp.resolve("fs-ours.img"), theirs = tmp.resolve("fs-mke2fs.img");
            Files.deleteIfExists(ours);
            Files.deleteIfExists(theirs);
            Tools.ok("truncate", "-s", String.valueOf(bytes), ours.toString());
            Tools.ok("truncate", "-s", String.valueOf(bytes), theirs.toString());
            CliRunner.Out o = CliRunner.run("mkfs", "-q", ours.toString());
            assertEquals(0, o.exit(), o.err());
            Tools.ok("mke2fs", "-q", "-F", "-t", "ext4", theirs.toString());
            assertEquals(fields(theirs), fields(ours), bytes + " bytes");
            Tools.assertFsckClean(ours);
        }
    }

    @Test
    void builtInDefaultsWhenThereIsNoConfFile() throws Exception {
        Random rnd = new Random(seed("builtIn"));
        Path none = tmp.resolve("no-such-mke2fs.conf");
        for (String size : List.of("2M", "3M", "100M", "1G", "20G", randomSize(rnd))) compare(size, none, "built-in profile");
        // the built-in profile is mke2fs 1.47.0's: with no file, both read the same text
        assertEquals(fields(tmp.resolve("ours.img")).get("Filesystem features"), fields(tmp.resolve("mke2fs.img")).get("Filesystem features"));
    }

    /** A random profile: every key ext4j reads, values mke2fs accepts. */
    private static String randomConf(Random rnd) {
        StringBuilder c = new StringBuilder("# random profile\n[defaults]\n");
        c.append("\tbase_features = sparse_super,large_file,filetype,dir_index,ext_attr").append(rnd.nextBoolean() ? ",resize_inode" : "").append('\n');
        boolean csum = rnd.nextInt(4) != 0;
        List<String> extra = new ArrayList<>();
        if (rnd.nextBoolean()) extra.add("orphan_file");
        if (csum && rnd.nextBoolean()) extra.add("metadata_csum_seed");
        if (rnd.nextInt(3) == 0) extra.add("large_dir");
        if (!extra.isEmpty()) c.append("\tdefault_features = ").append(String.join(",", extra)).append('\n');
        c.append("\tdefault_mntopts = ").append(List.of("acl,user_xattr", "user_xattr", "acl", "acl,user_xattr,discard").get(rnd.nextInt(4))).append('\n');
        c.append("\tenable_periodic_fsck = 0\n");
        c.append("\tblocksize = ").append(List.of(1024, 2048, 4096, 4096).get(rnd.nextInt(4))).append('\n');
        if (rnd.nextBoolean()) c.append("\tinode_size = ").append(List.of(128, 256, 512).get(rnd.nextInt(3))).append('\n');
        c.append("\tinode_ratio = ").append(List.of(4096, 8192, 16384, 32768, 65536).get(rnd.nextInt(5))).append('\n');
        c.append("\treserved_ratio = ").append(List.of("0", "1", "2.5", "5", "10").get(rnd.nextInt(5))).append('\n');
        c.append("\thash_alg = ").append(List.of("legacy", "half_md4", "tea").get(rnd.nextInt(3))).append('\n');
        c.append("\tflex_bg_size = ").append(List.of(2, 4, 16, 32).get(rnd.nextInt(4))).append('\n');
        c.append("\terrors = ").append(List.of("continue", "remount-ro", "panic").get(rnd.nextInt(3))).append("\n\n[fs_types]\n");
        List<String> ext4 = new ArrayList<>(List.of("has_journal", "extent", "flex_bg", "dir_nlink", "extra_isize"));
        if (rnd.nextBoolean()) ext4.add("huge_file");
        if (rnd.nextBoolean()) ext4.add("64bit");
        ext4.add(csum ? "metadata_csum" : "uninit_bg");
        c.append("\text4 = {\n\t\tfeatures = ").append(String.join(",", ext4)).append("\n");
        if (rnd.nextBoolean()) c.append("\t\tinode_size = 256\n");
        c.append("\t}\n");
        c.append("\tsmall = {\n\t\tblocksize = ").append(rnd.nextBoolean() ? 1024 : 2048).append("\n\t\tinode_ratio = 4096\n\t}\n");
        c.append("\tfloppy = {\n\t\tblocksize = 1024\n\t\tinode_ratio = 8192\n\t}\n");
        c.append("\tnews = {\n\t\tinode_ratio = 4096\n\t\tfeatures = ^huge_file\n\t}\n");
        c.append("\tlargefile = {\n\t\tinode_ratio = 1048576\n\t\tblocksize = -1\n\t}\n");
        return c.toString();
    }

    @Test
    void aCustomConfFile() throws Exception {
        long seed = seed("customConf");
        Random rnd = new Random(seed);
        Path conf = tmp.resolve("mke2fs.conf");
        for (int round = 0; round < 4; round++) {
            String text = randomConf(rnd);
            Files.writeString(conf, text);
            String what = "custom profile " + round;
            try {
                String size = randomSize(rnd);
                compare(size, conf, what);
                compare("100M", conf, what, "-T", rnd.nextBoolean() ? "news" : "largefile");
                compare("64M", conf, what, "-O", "^has_journal,^orphan_file");
            } catch (AssertionError e) {
                throw new AssertionError("seed " + seed + ", profile:\n" + text, e);
            }
        }
    }

    /** A fixed profile that changes every default, read through $MKE2FS_CONFIG by a separate ext4j JVM; the result mounts. */
    @Test
    void mke2fsConfigEnvironmentVariable() throws Exception {
        Path conf = tmp.resolve("env.conf");
        Files.writeString(conf, """
                [defaults]
                \tbase_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
                \tdefault_features = orphan_file,metadata_csum_seed
                \tblocksize = 2048
                \tinode_size = 512
                \tinode_ratio = 65536
                \treserved_ratio = 1
                \thash_alg = tea
                \tflex_bg_size = 4
                [fs_types]
                \text4 = {
                \t\tfeatures = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
                \t}
                """);
        Path ours = tmp.resolve("env-ours.img"), theirs = tmp.resolve("env-mke2fs.img");
        String java = ProcessHandle.current().info().command().orElse("java");
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), "ext4j.cli.Main", "mkfs", "-q", ours.toString(), "300M")
                .redirectErrorStream(true);
        pb.environment().put("MKE2FS_CONFIG", conf.toString());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        mke2fs(theirs, "300M", conf);
        Map<String, String> a = fields(ours);
        assertEquals(fields(theirs), a);
        assertEquals("2048", a.get("Block size"));
        assertEquals("512", a.get("Inode size"));
        assertTrue(a.get("Filesystem features").contains("orphan_file") && a.get("Filesystem features").contains("metadata_csum_seed"), a.toString());
        Tools.assertFsckClean(ours);
        if (Tools.canMount()) {
            Path mnt = Files.createDirectories(tmp.resolve("m"));
            Tools.mount(ours, mnt, "");
            try {
                Files.writeString(mnt.resolve("hello"), "written by Linux on an ext4j mkfs image\n");
            } finally {
                Tools.umount(mnt);
            }
            Tools.assertFsckClean(ours);
        }
    }

    @Test
    void profileErrorsAreReported() throws Exception {
        Path conf = tmp.resolve("bad.conf");
        Files.writeString(conf, "[defaults]\n\tblocksize = 4096\n[fs_types]\n\text3 = {\n\t\tfeatures = has_journal\n\t}\n");
        CliRunner.Out o = CliRunner.run("mkfs", "-q", "--config=" + conf, tmp.resolve("x.img").toString(), "64M");
        assertNotEquals(0, o.exit());
        assertTrue(o.err().contains("does not define the ext4 filesystem type"), o.err());
        Files.writeString(conf, "[defaults]\n\tdefault_features = quota\n[fs_types]\n\text4 = {\n\t\tfeatures = has_journal,extent\n\t}\n");
        o = CliRunner.run("mkfs", "-q", "--config=" + conf, tmp.resolve("x.img").toString(), "64M");
        assertNotEquals(0, o.exit());
        assertTrue(o.err().contains("quota") && o.err().contains("cannot be made by ext4j mkfs"), o.err());
        Files.writeString(conf, "[defaults]\n\tinode_ratio = {\n");
        o = CliRunner.run("mkfs", "-q", "--config=" + conf, tmp.resolve("x.img").toString(), "64M");
        assertNotEquals(0, o.exit());
        assertTrue(o.err().contains(conf.toString()), o.err());
    }
}
