package ext4j.dir;

import ext4j.testutil.Seeds;
import ext4j.fs.Ext4FileSystem;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

/** Big directories written by ext4j become htrees that e2fsck, debugfs and Linux accept. */
class DirectoryEditorTest {
    @TempDir Path tmp;

    private static String name(Random r, int i, boolean longNames) {
        String base = "f" + i + "_" + Long.toHexString(r.nextLong());
        return longNames ? base + "x".repeat(255 - base.length()) : base;
    }

    private void bigDirectory(String label, int files, boolean longNames, String... mkfs) throws Exception {
        bigDirectory(label, files, longNames, longNames ? 1 : 0, mkfs);
    }

    /** files names in one directory, whose htree must reach at least indirect index levels below the root. */
    private void bigDirectory(String label, int files, boolean longNames, int indirect, String... mkfs) throws Exception {
        long seed = Seeds.seed("DirectoryEditorTest " + label);
        Random r = new Random(seed);
        Path img = tmp.resolve(label + ".img");
        Tools.mke2fs(img, null, "256M", mkfs);
        if (label.equals("ext3")) Tools.ok("debugfs", "-w", "-R", "ssv def_hash_version tea", img.toString());
        List<String> names = new ArrayList<>();
        for (int i = 0; i < files; i++) names.add(name(r, i, longNames));
        long t0 = System.nanoTime();
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.mkdir("/d", 0755, 0, 0);
            for (String n : names) fs.createFile("/d/" + n, 0644, 0, 0);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        System.out.printf("  %d files created in one directory in %.2f s (%.0f files/s)%n", files, secs, files / secs);
        Tools.assertFsckClean(img);
        String htree = Tools.debugfs(img, "htree /d");
        assertTrue(htree.contains("Root node dump"), "an indexed directory: " + htree.substring(0, Math.min(300, htree.length())));
        java.util.regex.Matcher lv = java.util.regex.Pattern.compile("Indirect levels: (\\d+)").matcher(htree);
        assertTrue(lv.find() && Integer.parseInt(lv.group(1)) >= indirect, "at least " + indirect + " index levels below the root: "
                + htree.substring(0, Math.min(300, htree.length())));
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            for (String n : names) assertNotNull(fs.resolve("/d/" + n, false), n);
            assertEquals(files + 2, fs.list(fs.resolve("/d", true)).size());
        }
        kernelSees(img, new TreeSet<>(names));
        // remove a random half, add some back, rename within
        Collections.shuffle(names, r);
        List<String> gone = names.subList(0, files / 2);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            for (String n : gone) fs.unlink("/d/" + n);
            for (int i = 0; i < 500; i++) fs.createFile("/d/again" + i, 0644, 0, 0);
            fs.rename("/d/again0", "/d/renamed");
        }
        TreeSet<String> want = new TreeSet<>(names.subList(files / 2, files));
        for (int i = 1; i < 500; i++) want.add("again" + i);
        want.add("renamed");
        Tools.assertFsckClean(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            TreeSet<String> seen = new TreeSet<>();
            for (DirEntry e : fs.list(fs.resolve("/d", true))) if (!e.isDotOrDotDot()) seen.add(e.name());
            assertEquals(want, seen);
            for (String n : want) assertNotNull(fs.resolve("/d/" + n, false), n);
            for (String n : gone.subList(0, Math.min(1000, gone.size()))) assertThrows(ext4j.base.FsException.class, () -> fs.resolve("/d/" + n, false));
        }
        kernelSees(img, want);
    }

    private void kernelSees(Path img, TreeSet<String> want) throws Exception {
        Tools.requireMount();                                   // a visible skip where the kernel cannot loop-mount
        Path mnt = Files.createDirectories(tmp.resolve("mnt"));
        Tools.mount(img, mnt, "ro");
        try {
            TreeSet<String> seen = new TreeSet<>();
            try (var l = Files.list(mnt.resolve("d"))) { l.forEach(p -> seen.add(p.getFileName().toString())); }
            assertEquals(want, seen, "Linux lists the same names");
            for (String n : want.headSet(want.first() + "~")) assertTrue(Files.exists(mnt.resolve("d").resolve(n)), "Linux looks up " + n);
        } finally {
            Tools.umount(mnt);
        }
    }

    @Test void fourKChecksums50k() throws Exception { bigDirectory("4k", 50_000, false, "-t", "ext4", "-b", "4096"); }
    @Test void oneKNoChecksums20k() throws Exception { bigDirectory("1k", 20_000, false, "-t", "ext4", "-b", "1024", "-O", "^metadata_csum"); }
    @Test void oneKLongNamesTwoLevels() throws Exception { bigDirectory("1k-long", 8_000, true, "-t", "ext4", "-b", "1024", "-N", "20000"); }
    /** large_dir: past a two-level index's capacity (1 KiB blocks, 255-byte names: 3 names a leaf) the root grows a third level, as Linux's. */
    @Test void oneKLongNamesThreeLevelsWithLargeDir() throws Exception {
        bigDirectory("1k-long-largedir", 60_000, true, 2, "-t", "ext4", "-b", "1024", "-N", "70000", "-O", "large_dir");
        // Linux goes on adding to and removing from the three-level tree ext4j built
        Path img = tmp.resolve("1k-long-largedir.img"), mnt = Files.createDirectories(tmp.resolve("rw"));
        Tools.mount(img, mnt, "");
        TreeSet<String> added = new TreeSet<>();
        try {
            for (int i = 0; i < 2000; i++) {
                String n = "k" + i + "x".repeat(240);
                Files.createFile(mnt.resolve("d").resolve(n));
                added.add(n);
            }
        } finally {
            Tools.umount(mnt);
        }
        Tools.assertFsckClean(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            for (String n : added) assertNotNull(fs.resolve("/d/" + n, false), n);
        }
    }

    /** Without large_dir the same directory stops at two levels with ENOSPC, as Linux's "Directory index full". */
    @Test
    void twoLevelIndexFullIsEnospcWithoutLargeDir() throws Exception {
        long seed = Seeds.seed("DirectoryEditorTest index-full");
        Random r = new Random(seed);
        Path img = tmp.resolve("full.img");
        Tools.mke2fs(img, null, "256M", "-t", "ext4", "-b", "1024", "-N", "70000", "-O", "^large_dir");
        int made = 0;
        ext4j.base.FsException full = null;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.mkdir("/d", 0755, 0, 0);
            for (int i = 0; i < 69_000 && full == null; i++) {
                try { fs.createFile("/d/" + name(r, i, true), 0644, 0, 0); made++; } catch (ext4j.base.FsException e) { full = e; }
            }
        }
        assertNotNull(full, "a two-level index of 1 KiB blocks fills before 69,000 long names");
        assertEquals(ext4j.base.Errno.ENOSPC, full.errno(), full.toString());
        System.out.println("  two-level index full after " + made + " long names: " + full.getMessage());
        Tools.assertFsckClean(img);
        assertTrue(Tools.debugfs(img, "htree /d").contains("Indirect levels: 1"), "two levels, not three");
    }

    @Test void ext3Hashes20k() throws Exception { bigDirectory("ext3", 20_000, false, "-t", "ext3"); } // TEA hash, set by debugfs

    @Test
    void addingToAnHtreeMadeByE2fsck() throws Exception {
        Path src = tmp.resolve("src");
        Files.createDirectories(src.resolve("d"));
        for (int i = 0; i < 5000; i++) Files.writeString(src.resolve("d").resolve("m" + i), "");
        Path img = tmp.resolve("m.img");
        Tools.mke2fs(img, src, "64M", "-t", "ext4");
        Tools.run("e2fsck", "-fyD", img.toString()); // index it the e2fsprogs way
        assertTrue(Tools.debugfs(img, "htree /d").contains("Root node dump"), "e2fsck -D made an htree");
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            for (int i = 0; i < 5000; i += 2) fs.unlink("/d/m" + i);
            for (int i = 0; i < 3000; i++) fs.createFile("/d/n" + i, 0644, 0, 0);
        }
        Tools.assertFsckClean(img);
        TreeSet<String> want = new TreeSet<>();
        for (int i = 1; i < 5000; i += 2) want.add("m" + i);
        for (int i = 0; i < 3000; i++) want.add("n" + i);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            for (String n : want) assertNotNull(fs.resolve("/d/" + n, false));
        }
        kernelSees(img, want);
    }

    /** dir_nlink: past 65,000 subdirectories the parent's link count becomes 1, as Linux does; without the feature, EMLINK. */
    @Test
    void moreSubdirectoriesThanLinkMax() throws Exception {
        Path img = tmp.resolve("nlink.img");
        Tools.mke2fs(img, null, "100M", "-t", "ext4", "-b", "1024", "-N", "70000");
        int n = 65_010;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.mkdir("/p", 0755, 0, 0);
            for (int i = 0; i < n; i++) fs.mkdir("/p/d" + i, 0755, 0, 0);
            assertEquals(1, fs.resolve("/p", true).linksCount(), "dir_nlink: 1 means more than 65,000");
            fs.rmdir("/p/d0");
            assertEquals(1, fs.resolve("/p", true).linksCount(), "stays 1 once overflowed, like Linux");
        }
        Tools.assertFsckClean(img);
        Path img2 = tmp.resolve("nonlink.img");
        Tools.mke2fs(img2, null, "100M", "-t", "ext4", "-b", "1024", "-N", "70000", "-O", "^dir_nlink");
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img2, false)) {
            fs.mkdir("/p", 0755, 0, 0);
            int made = 0;
            ext4j.base.FsException e = null;
            for (int i = 0; i < n && e == null; i++) {
                try { fs.mkdir("/p/d" + i, 0755, 0, 0); made++; } catch (ext4j.base.FsException x) { e = x; }
            }
            assertNotNull(e, "without dir_nlink the link count caps the subdirectories");
            assertEquals(ext4j.base.Errno.EMLINK, e.errno());
            assertEquals(64_998, made, "65,000 links: '.', the parent's entry and 64,998 '..'");
        }
        Tools.assertFsckClean(img2);
    }
}
