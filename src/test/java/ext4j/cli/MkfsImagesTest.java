package ext4j.cli;

import ext4j.testutil.Seeds;
import ext4j.fs.Ext4FileSystem;
import ext4j.testutil.DebugfsStat;
import ext4j.testutil.Tools;
import ext4j.testutil.TreeDiff;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Images made by mke2fs -d from a random tree (seed printed), in every layout ext4j must read:
 * extracted with `ext4j get -r` and compared with the source tree (bytes, modes, owners,
 * nanosecond mtimes, symlinks, hard links, holes, xattrs of every namespace, ACLs).
 */
class MkfsImagesTest {
    private Path work;

    @BeforeEach void setUp() throws Exception { work = Files.createTempDirectory("ext4j-mkfs"); }
    @AfterEach void tearDown() throws Exception { Tools.deleteTree(work); }

    @ParameterizedTest(name = "mke2fs {0}")
    @ValueSource(strings = {
            "-t ext4",
            "-t ext4 -b 1024",
            "-t ext4 -O inline_data",
            "-t ext4 -b 1024 -O inline_data",
            "-t ext3",
            "-t ext2 -b 1024",
            "-t ext2 -b 4096",
            "-t ext4 -O ^metadata_csum,uninit_bg",
            "-t ext4 -O ^64bit",
            "-t ext4 -O meta_bg,^resize_inode",
            "-t ext4 -E root_owner=1234:5678",
            "-t ext4 -O bigalloc -C 16384",
            "-t ext4 -b 65536 -N 4096 -O ^has_journal",
            "-t ext4 -O metadata_csum_seed,ea_inode",
            "-t ext4 -I 128",
    })
    void extractMatchesSource(String opts) throws Exception {
        Tools.requireTool("mke2fs");
        long seed = Seeds.seed("MkfsImagesTest [" + opts + "]");
        Path src = Files.createDirectory(work.resolve("src"));
        SampleTree.generate(src, seed, 150, 400_000);
        addSpecialFiles(src, opts.contains("ea_inode") ? 20_000 : 600);
        if (opts.contains("root_owner=1234:5678")) Tools.ok("chown", "1234:5678", src.toString()); // the image root must carry it
        Path img = work.resolve("fs.img");
        Tools.mke2fs(img, src, "96M", opts.split(" "));

        Path out = work.resolve("out");
        var r = CliRunner.run("get", "-r", img.toString(), "/", out.toString());
        assertEquals(0, r.exit(), "get -r failed: " + r.err());
        Tools.deleteTree(out.resolve("lost+found"));

        TreeDiff.Options o = new TreeDiff.Options();
        o.dirMtimes = false; // mke2fs -d updates directory mtimes as it adds entries
        o.nanos = false; // mke2fs -d (1.47) stores whole seconds only; KernelWrittenTest checks nanoseconds
        List<String> diffs = TreeDiff.diff(src, out, o);
        assertTrue(diffs.isEmpty(), "seed " + seed + " [" + opts + "]: " + diffs.size() + " differences:\n" + String.join("\n", diffs.subList(0, Math.min(30, diffs.size()))));
        assertEquals(Tools.allXattrs(src), Tools.allXattrs(out), "xattrs differ, seed " + seed);

        // stat fields of a sample of paths against debugfs
        List<String> paths;
        try (var w = Files.walk(src)) { paths = w.map(p -> "/" + src.relativize(p)).filter(p -> !p.equals("/") && !p.contains("\"")).toList(); }
        java.util.Random pick = new java.util.Random(seed);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            for (int k = 0; k < 15; k++) DebugfsStat.assertMatches(img, fs, paths.get(pick.nextInt(paths.size())));
            DebugfsStat.assertMatches(img, fs, "/acl-file");
            DebugfsStat.assertMatches(img, fs, "/bigdir");
            if (opts.contains("inline_data")) {
                // the layout under test really has inline files and directories
                int[] inline = new int[2];
                countInline(fs, fs.resolve("/", true), inline, 0);
                assertTrue(inline[0] > 0 && inline[1] > 0, "inline files " + inline[0] + ", inline directories " + inline[1]);
                assertTrue(fs.resolve("/small-dir", true).hasFlag(ext4j.ondisk.Inode.FL_INLINE_DATA), "/small-dir is not inline");
            }
        }
    }

    private static void countInline(Ext4FileSystem fs, ext4j.ondisk.Inode dir, int[] counts, int depth) throws Exception {
        for (var e : fs.list(dir)) {
            if (e.isDotOrDotDot()) continue;
            var i = fs.inode(e.inode());
            if (i.hasFlag(ext4j.ondisk.Inode.FL_INLINE_DATA)) counts[i.isDir() ? 1 : 0]++;
            if (i.isDir() && depth < 10) countInline(fs, i, counts, depth + 1);
        }
    }

    /** Things SampleTree cannot make as a plain user: every xattr namespace, ACLs, devices, fifos, a big htree directory. */
    static void addSpecialFiles(Path src, int bigXattr) throws Exception {
        // a directory small enough to be stored inline whatever the seed made; made before the default ACL
        // below, which would fill the in-inode xattr space inline data needs
        Path small = Files.createDirectory(src.resolve("small-dir"));
        Files.writeString(small.resolve("f"), "x");
        Path f = src.resolve("acl-file");
        Files.writeString(f, "acl");
        if (Tools.run("setfacl", "-m", "u:1000:r,g:2000:rw,m::rw", f.toString()).exit() == 0) {
            Tools.ok("setfacl", "-d", "-m", "u:1001:rx", src.toString());
        }
        Tools.run("setfattr", "-n", "trusted.t", "-v", "trusted-value", f.toString());
        Tools.run("setfattr", "-n", "security.s", "-v", "security-value", f.toString());
        Tools.run("setfattr", "-n", "user.big", "-v", "0x" + "ab".repeat(bigXattr), f.toString());
        Tools.run("mknod", src.resolve("chr").toString(), "c", "1", "7");
        Tools.run("mknod", src.resolve("blk").toString(), "b", "259", "300000");
        Tools.run("mkfifo", src.resolve("fifo").toString());
        Path big = Files.createDirectory(src.resolve("bigdir"));
        for (int i = 0; i < 1500; i++) Files.writeString(big.resolve("entry-with-a-longish-name-" + i), i % 7 == 0 ? "x" + i : "");
    }
}
