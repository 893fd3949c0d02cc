package ext4j.mount;

import ext4j.cli.Main;
import ext4j.testutil.Tools;
import ext4j.testutil.TreeDiff;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * `ext4j mount` through a real FUSE mount, as root: real programs (cp -a, tar, rsync -aH, diff -r,
 * find, du) then e2fsck and a kernel mount showing the same tree; several processes at once; a
 * dirty journal left by the kernel; the image lock; a refused feature; read-only mounts; SIGTERM
 * with an idle and a busy mount; unlinked open files; fs-verity against fsverity-utils; damage
 * found while mounted. Skipped, visibly, where /dev/fuse or mount(2) are missing.
 */
class FuseMountTest {
    @TempDir Path tmp;

    static void requireFuse() {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/fuse")), "no /dev/fuse: skipping the FUSE mount tests");
        Tools.requireMount();
    }

    @BeforeEach void fuse() { requireFuse(); }

    private Path image(String size, String... opts) throws Exception {
        Path img = tmp.resolve("e" + System.nanoTime() + ".img");
        Tools.mke2fs(img, null, size, opts.length == 0 ? new String[] {"-t", "ext4"} : opts);
        return img;
    }

    private Path dir(String name) throws IOException { return Files.createDirectories(tmp.resolve(name)); }

    private static String sh(Path cwd, String script) throws Exception {
        Process p = new ProcessBuilder("bash", "-c", script).directory(cwd.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "timed out: " + script);
        assertEquals(0, p.exitValue(), script + ":\n" + out);
        return out;
    }

    /** A tree with what copies must keep: nested directories, a wide one, sizes around block edges, sparse, links, a fifo, xattrs, odd modes. */
    private Path sourceTree() throws Exception {
        Path src = dir("src");
        Random rnd = new Random(42);
        for (int d = 0; d < 5; d++) {
            Path sub = Files.createDirectories(src.resolve("d" + d).resolve("deeper").resolve("deepest"));
            for (int f = 0; f < 20; f++) {
                byte[] b = new byte[new int[] {0, 1, 4095, 4096, 4097, 65536, 300_000}[rnd.nextInt(7)]];
                rnd.nextBytes(b);
                Files.write(sub.getParent().resolve("f" + f), b);
            }
        }
        Path wide = Files.createDirectories(src.resolve("wide"));
        for (int i = 0; i < 3000; i++) Files.writeString(wide.resolve("entry-with-a-longer-name-" + i), "x" + i);
        byte[] big = new byte[5 << 20];
        rnd.nextBytes(big);
        Files.write(src.resolve("big"), big);
        sh(src, "truncate -s 100M sparse && printf tail | dd of=sparse bs=1 seek=50000000 conv=notrunc status=none"
                + " && ln big hardlink && ln -s d0/deeper/f1 symlink && ln -s nowhere dangling && mkfifo fifo"
                + " && setfattr -n user.colour -v blue big && setfattr -n user.empty d0"
                + " && chmod 4755 d0/deeper/f0 && chmod 1777 wide && chmod 0600 d1/deeper/f2 && chown 1234:5678 d2/deeper/f3"
                + " && touch -h -d '2001-02-03 04:05:06.123456789' symlink && touch -d '1999-12-31 23:59:59.5' big");
        return src;
    }

    @Test
    void realProgramsCopyATreeInAndTheKernelSeesTheSameTree() throws Exception {
        Path src = sourceTree(), img = image("512M"), mnt = dir("m"), kmnt = dir("k");
        boolean rsync = Tools.run("sh", "-c", "command -v rsync").exit() == 0;
        try (Ext4Mount _ = Ext4Mount.mount(img, mnt, MountOptions.defaults())) {
            sh(mnt, "cp -a " + src + " cp && mkdir tar && tar -C " + src + " -cf - . | tar -C tar -xf -");
            if (rsync) sh(mnt, "rsync -aHX " + src + "/ rsync/");
            sh(mnt, "diff -r --no-dereference -x fifo " + src + " cp && diff -r --no-dereference -x fifo " + src + " tar");   // diff calls two fifos a difference
            String n = sh(src, "find . | wc -l").trim();
            assertEquals(n, sh(mnt.resolve("cp"), "find . | wc -l").trim(), "find sees every entry");
            String bytes = "find . -type f -printf '%s\\n' | awk '{s+=$1} END {print s}'";     // directory sizes differ between filesystems
            assertEquals(sh(src, bytes), sh(mnt.resolve("cp"), bytes));
            assertTrue(Long.parseLong(sh(mnt.resolve("cp"), "du -sk . | cut -f1").trim()) > 5000, "du counts the allocated blocks");
            assertEquals(sh(src, "stat -c %h big"), sh(mnt.resolve("cp"), "stat -c %h big"), "hard links kept");
            assertEquals(sh(mnt.resolve("cp"), "stat -c %i big"), sh(mnt.resolve("cp"), "stat -c %i hardlink"), "hard links share st_ino");
            assertTrue(sh(mnt.resolve("cp"), "stat -c %b sparse").trim().length() < 6, "a sparse file stays sparse: " + sh(mnt.resolve("cp"), "stat -c %b sparse"));
        }
        Tools.assertFsckClean(img);
        Tools.mount(img, kmnt, "ro");
        try {
            TreeDiff.Options o = new TreeDiff.Options();
            for (String copy : rsync ? List.of("cp", "tar", "rsync") : List.of("cp", "tar")) {
                if (copy.equals("tar")) {                          // tar's default format keeps whole seconds and no xattrs
                    o.nanos = false;
                    o.xattrs = false;
                }
                List<String> diffs = TreeDiff.diff(src, kmnt.resolve(copy), o);
                assertTrue(diffs.isEmpty(), copy + " through ext4j's mount, read by the kernel: " + diffs);
            }
        } finally {
            Tools.umount(kmnt);
        }
        if (!rsync) Assumptions.abort("rsync is not installed: cp -a and tar were checked, rsync -aH was not (scripts/install-test-deps.sh installs rsync)");
    }

    @Test
    void severalProcessesAtOnceInOneDirectoryAndAcross() throws Exception {
        Path img = image("256M"), mnt = dir("m");
        try (Ext4Mount _ = Ext4Mount.mount(img, mnt, MountOptions.defaults())) {
            Files.createDirectories(mnt.resolve("shared"));
            List<Process> ps = new ArrayList<>();
            for (int p = 0; p < 4; p++) {
                Files.createDirectories(mnt.resolve("own" + p));
                String script = "set -e; for i in $(seq 400); do echo $i > shared/p" + p + "_$i; mv shared/p" + p + "_$i shared/q" + p + "_$i;"
                        + " if [ $((i % 3)) = 0 ]; then rm shared/q" + p + "_$i; fi;"
                        + " dd if=/dev/zero of=own" + p + "/f$((i % 20)) bs=4k count=$((i % 7 + 1)) status=none; done; ls shared > /dev/null";
                ps.add(new ProcessBuilder("bash", "-c", script).directory(mnt.toFile()).redirectErrorStream(true).start());
            }
            for (Process p : ps) {
                String out = new String(p.getInputStream().readAllBytes());
                assertTrue(p.waitFor(5, TimeUnit.MINUTES));
                assertEquals(0, p.exitValue(), out);
            }
            try (var names = Files.list(mnt.resolve("shared"))) {
                List<String> left = names.map(x -> x.getFileName().toString()).sorted().toList();
                List<String> want = new ArrayList<>();
                for (int p = 0; p < 4; p++) for (int i = 1; i <= 400; i++) if (i % 3 != 0) want.add("q" + p + "_" + i);
                assertEquals(want.stream().sorted().toList(), left);
            }
            for (int p = 0; p < 4; p++) assertEquals("400\n", Files.readString(mnt.resolve("shared/q" + p + "_400")));
            for (int p = 0; p < 4; p++)
                for (int f = 0; f < 20; f++) {
                    int last = f == 0 ? 400 : 380 + f;
                    assertEquals(4096L * (last % 7 + 1), Files.size(mnt.resolve("own" + p + "/f" + f)), "own" + p + "/f" + f);
                }
        }
        Tools.assertFsckClean(img);
    }

    @Test
    void aDirtyJournalLeftByTheKernelIsReplayedAtMount() throws Exception {
        Path img = image("128M"), kmnt = dir("k"), mnt = dir("m"), copy = tmp.resolve("dirty.img");
        Tools.mount(img, kmnt, "");
        try {
            sh(kmnt, "mkdir -p a/b && for i in $(seq 50); do echo file $i > a/b/f$i; done && dd if=/dev/urandom of=a/data bs=64k count=16 status=none && sync");
            sh(tmp, "cp --sparse=always " + img + " " + copy);       // as a power cut leaves it: mounted, journal not checkpointed
            Files.write(tmp.resolve("data.expected"), Files.readAllBytes(kmnt.resolve("a/data")));
        } finally {
            Tools.umount(kmnt);
        }
        assertTrue(Tools.run("dumpe2fs", "-h", copy.toString()).out().contains("needs_recovery"), "the copy must carry a dirty journal");
        try (Ext4Mount _ = Ext4Mount.mount(copy, mnt, MountOptions.defaults())) {
            for (int i = 1; i <= 50; i++) assertEquals("file " + i + "\n", Files.readString(mnt.resolve("a/b/f" + i)));
            assertArrayEquals(Files.readAllBytes(tmp.resolve("data.expected")), Files.readAllBytes(mnt.resolve("a/data")));
        }
        Tools.assertFsckClean(copy);
    }

    @Test
    void aSecondMountOfTheSameImageIsRefused() throws Exception {
        Path img = image("64M"), a = dir("a"), b = dir("b");
        try (Ext4Mount _ = Ext4Mount.mount(img, a, MountOptions.defaults())) {
            IOException e = assertThrows(IOException.class, () -> Ext4Mount.mount(img, b, MountOptions.defaults()));
            assertTrue(e.getMessage().contains("in use"), e.getMessage());
            StringWriter err = new StringWriter();
            int code = Main.run(new String[] {"mount", "-f", img.toString(), b.toString()}, new PrintWriter(new StringWriter()), new PrintWriter(err));
            assertEquals(1, code, err.toString());
            assertTrue(err.toString().contains("in use"), err.toString());
            Files.writeString(a.resolve("still"), "served");
        }
        Tools.assertFsckClean(img);
    }

    @Test
    void anUnsupportedIncompatFeatureIsRefusedNamingIt() throws Exception {
        Path img = image("64M"), mnt = dir("m");
        Tools.ok("debugfs", "-w", "-R", "feature FEATURE_I31", img.toString());
        StringWriter err = new StringWriter();
        int code = Main.run(new String[] {"mount", "-f", img.toString(), mnt.toString()}, new PrintWriter(new StringWriter()), new PrintWriter(err));
        assertEquals(1, code);
        assertTrue(err.toString().toLowerCase().contains("incompat") || err.toString().contains("0x80000000") || err.toString().contains("feature"), err.toString());
        assertFalse(Files.readString(Path.of("/proc/self/mounts")).contains(mnt.toString()), "nothing mounted");
    }

    @Test
    void aReadOnlyMountRefusesWritesWithEROFS() throws Exception {
        Path img = image("64M"), mnt = dir("m");
        try (Ext4Mount _ = Ext4Mount.mount(img, mnt, MountOptions.defaults())) {
            Files.writeString(mnt.resolve("kept"), "before");
        }
        byte[] before = Files.readAllBytes(img);
        try (Ext4Mount _ = Ext4Mount.mount(img, mnt, MountOptions.defaults().withReadOnly(true))) {
            assertEquals("before", Files.readString(mnt.resolve("kept")));
            FileSystemException e = assertThrows(FileSystemException.class, () -> Files.writeString(mnt.resolve("new"), "x"));
            assertTrue(String.valueOf(e.getReason()).contains("Read-only"), e.toString());
            assertThrows(FileSystemException.class, () -> Files.delete(mnt.resolve("kept")));
        }
        assertArrayEquals(before, Files.readAllBytes(img), "a read-only mount changes no byte of the image");
    }

    private Process server(Path img, Path mnt, String... opts) throws Exception { return ServerProcess.start(img, mnt, null, opts); }

    private static boolean mounted(Path mnt) throws IOException {
        return Files.readString(Path.of("/proc/self/mounts")).contains(" " + mnt.toAbsolutePath() + " ");
    }

    @Test
    void sigtermUnmountsCleanlyAndABusyMountIsDetachedAfterItsDataIsSafe() throws Exception {
        Path img = image("64M"), mnt = dir("m");
        Process p = server(img, mnt);
        Files.writeString(mnt.resolve("idle"), "written before SIGTERM");
        p.destroy();                                              // SIGTERM
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the server exits after SIGTERM");
        assertEquals(0, p.exitValue());
        assertFalse(mounted(mnt), "no dead mountpoint left behind");
        Tools.assertFsckClean(img);

        p = server(img, mnt);
        FileChannel open = FileChannel.open(mnt.resolve("busy"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        open.write(ByteBuffer.wrap("written while busy".getBytes()));
        p.destroy();
        for (int i = 0; i < 100 && mounted(mnt); i++) Thread.sleep(100);
        assertFalse(mounted(mnt), "a busy mount is detached from the namespace");
        assertTrue(p.isAlive(), "and served until its last user leaves");
        open.write(ByteBuffer.wrap(" and after".getBytes()));
        open.close();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the server exits once the mount is no longer used");
        assertEquals(0, p.exitValue());
        Tools.assertFsckClean(img);
        try (Ext4Mount _ = Ext4Mount.mount(img, mnt, MountOptions.defaults().withReadOnly(true))) {
            assertEquals("written before SIGTERM", Files.readString(mnt.resolve("idle")));
            assertEquals("written while busy and after", Files.readString(mnt.resolve("busy")));
        }
    }

    @Test
    void cliMountReturnsOnceServingAndUmountWaitsForTheImageToClose() throws Exception {
        Path img = image("64M"), mnt = dir("m");
        // the background form re-runs this JVM's classpath: in a test that is target/classes and the dependencies
        StringWriter out = new StringWriter(), err = new StringWriter();
        assertEquals(0, Main.run(new String[] {"mount", img.toString(), mnt.toString()}, new PrintWriter(out), new PrintWriter(err)), err.toString());
        assertTrue(mounted(mnt), out.toString());
        Files.writeString(mnt.resolve("f"), "through the background server");
        assertEquals(0, Main.run(new String[] {"umount", mnt.toString()}, new PrintWriter(out), new PrintWriter(err)), err.toString());
        assertFalse(mounted(mnt));
        Tools.assertFsckClean(img);                                  // right after umount returns: the image is closed and clean
        assertTrue(Tools.debugfs(img, "cat /f").contains("through the background server"));
    }

    @Test
    void anUnprivilegedOwnerOfTheImageMountsThroughFusermount3() throws Exception {
        Tools.requireTool("setpriv");
        Tools.requireTool("fusermount3");
        Assumptions.assumeTrue(Files.getPosixFilePermissions(Path.of("/dev/fuse")).contains(java.nio.file.attribute.PosixFilePermission.OTHERS_WRITE),
                "/dev/fuse is not open to other users here (scripts/install-test-deps.sh makes it 0666, as distributions do): skipping the unprivileged mount");
        int uid = 1500;
        // a world-readable copy of the classes and picocli: the user cannot read root's build or Maven cache
        Path home = Files.createTempDirectory(Path.of("/tmp"), "ext4j-user");
        try {
            Files.setPosixFilePermissions(home, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            List<String> cp = new ArrayList<>();
            for (String e : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
                Path src = Path.of(e);
                if (src.endsWith("classes")) {
                    Path dst = home.resolve("classes");
                    sh(tmp, "cp -r " + src + " " + dst);
                    cp.add(dst.toString());
                } else if (src.getFileName().toString().startsWith("picocli")) {
                    Path dst = home.resolve(src.getFileName());
                    Files.copy(src, dst);
                    cp.add(dst.toString());
                }
            }
            sh(home, "chmod -R a+rX . && mkdir mp && chown " + uid + ":" + uid + " mp");
            Path img = home.resolve("user.img");
            Tools.mke2fs(img, null, "64M", "-t", "ext4", "-E", "root_owner=" + uid + ":" + uid);
            sh(home, "chown " + uid + ":" + uid + " " + img);
            String java = Path.of(System.getProperty("java.home"), "bin", "java") + " --enable-native-access=ALL-UNNAMED -cp " + String.join(":", cp) + " " + Main.class.getName();
            String as = "setpriv --reuid=" + uid + " --regid=" + uid + " --clear-groups ";
            String out = sh(home, as + java + " mount " + img + " mp && echo mounted-as-$(" + as + " id -u) && " + as + "sh -c 'echo mine > mp/file && stat -c %u mp/file'"
                    + " && grep ' " + home.resolve("mp") + " ' /proc/self/mounts && " + as + java + " umount mp");
            assertTrue(out.contains("mounted-as-" + uid), out);
            assertTrue(out.contains("\n" + uid + "\n") || out.lines().anyMatch(l -> l.equals(String.valueOf(uid))), "files belong to the user: " + out);
            assertTrue(out.contains("user_id=" + uid), "mounted through fusermount3 for the user: " + out);
            assertFalse(mounted(home.resolve("mp")), "ext4j umount unmounted it");
            Tools.assertFsckClean(img);
            assertTrue(Tools.debugfs(img, "cat /file").contains("mine"));
        } finally {
            Tools.run("umount", "-l", home.resolve("mp").toString());
            Tools.deleteTree(home);
        }
    }

    @Test
    void anUnlinkedOpenFileLivesUntilItsLastCloseThenIsFreed() throws Exception {
        Path img = image("64M"), mnt = dir("m");
        try (Ext4Mount _ = Ext4Mount.mount(img, mnt, MountOptions.defaults())) {
            Path f = mnt.resolve("doomed");
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(new byte[1 << 20]));
                Files.delete(f);
                assertFalse(Files.exists(f));
                ch.write(ByteBuffer.wrap("tail".getBytes()), 1 << 20);
                ch.force(true);
                ByteBuffer back = ByteBuffer.allocate(4);
                ch.read(back, 1 << 20);
                assertEquals("tail", new String(back.array()));
                assertEquals((1 << 20) + 4, ch.size());
            }
            long free = Files.getFileStore(mnt).getUnallocatedSpace();
            assertTrue(free > 0);
        }
        Tools.assertFsckClean(img);
        assertTrue(Tools.run("debugfs", "-R", "ls -l /", img.toString()).out().lines().noneMatch(l -> l.contains("doomed")));
    }

    @Test
    void fsVerityThroughTheMountAgreesWithFsverityUtilsAndDamageGivesEio() throws Exception {
        Tools.requireTool("fsverity");
        Path img = image("128M", "-t", "ext4", "-O", "verity", "-b", "4096"), mnt = dir("m");
        byte[] data = new byte[3 << 20];
        new Random(7).nextBytes(data);
        Path host = tmp.resolve("host");
        Files.write(host, data);
        String want = Tools.ok("fsverity", "digest", host.toString()).split(" ")[0];
        try (Ext4Mount _ = Ext4Mount.mount(img, mnt, MountOptions.defaults())) {
            Files.write(mnt.resolve("sealed"), data);
            Tools.ok("fsverity", "enable", mnt.resolve("sealed").toString());
            assertEquals(want, Tools.ok("fsverity", "measure", mnt.resolve("sealed").toString()).split(" ")[0]);
            assertTrue(Tools.ok("lsattr", mnt.resolve("sealed").toString()).split(" ")[0].contains("V"), "lsattr shows the verity flag");
            assertThrows(FileSystemException.class, () -> Files.write(mnt.resolve("sealed"), new byte[1], StandardOpenOption.APPEND), "verity files are read-only");
            assertNotEquals(0, Tools.run("fsverity", "enable", mnt.resolve("sealed").toString()).exit(), "enabling twice fails (EEXIST)");
        }
        Tools.assertFsckClean(img);
        // damage one data block of the sealed file behind the filesystem's back
        String bmap = Tools.ok("debugfs", "-R", "bmap /sealed 100", img.toString()).trim();
        long block = Long.parseLong(bmap.lines().reduce((a, b) -> b).orElseThrow().trim());
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.WRITE)) { ch.write(ByteBuffer.wrap(new byte[] {0x55, 0x55}), block * 4096 + 10); }
        try (Ext4Mount _ = Ext4Mount.mount(img, mnt, MountOptions.defaults())) {
            try (FileChannel ch = FileChannel.open(mnt.resolve("sealed"), StandardOpenOption.READ)) {
                ByteBuffer ok = ByteBuffer.allocate(4096);
                ch.read(ok, 0);
                assertArrayEquals(java.util.Arrays.copyOf(data, 4096), ok.array(), "undamaged blocks read");
                IOException e = assertThrows(IOException.class, () -> ch.read(ByteBuffer.allocate(4096), 100L * 4096));
                assertTrue(e.getMessage().contains("Input/output error"), e.toString());
            }
            Files.writeString(mnt.resolve("other"), "the filesystem stays usable");
        }
    }

    @Test
    void damageFoundWhileMountedIsEioAndTurnsTheFilesystemReadOnly() throws Exception {
        Path img = image("64M"), mnt = dir("m");
        try (Ext4Mount _ = Ext4Mount.mount(img, mnt, MountOptions.defaults())) {
            Files.createDirectories(mnt.resolve("victim"));
            for (int i = 0; i < 5; i++) Files.writeString(mnt.resolve("victim/f" + i), "x");
            Files.writeString(mnt.resolve("safe"), "kept");
        }
        String bmap = Tools.ok("debugfs", "-R", "bmap /victim 0", img.toString()).trim();
        long block = Long.parseLong(bmap.lines().reduce((a, b) -> b).orElseThrow().trim());
        int bs = Integer.parseInt(Tools.ok("dumpe2fs", "-h", img.toString()).lines().filter(l -> l.startsWith("Block size:")).findFirst().orElseThrow().replaceAll("\\D", ""));
        try (FileChannel ch = FileChannel.open(img, StandardOpenOption.WRITE)) { ch.write(ByteBuffer.wrap(new byte[64]), block * bs + 24); }
        try (Ext4Mount _ = Ext4Mount.mount(img, mnt, MountOptions.defaults())) {
            Files.writeString(mnt.resolve("before-damage"), "acknowledged");
            IOException e = assertThrows(IOException.class, () -> {
                try (var s = Files.list(mnt.resolve("victim"))) { s.count(); } catch (java.io.UncheckedIOException u) { throw u.getCause(); }
            });
            assertTrue(String.valueOf(e.getMessage()).contains("Input/output error") || e instanceof FileSystemException, e.toString());
            assertEquals("kept", Files.readString(mnt.resolve("safe")), "the rest reads on");
            FileSystemException ro = assertThrows(FileSystemException.class, () -> Files.writeString(mnt.resolve("after-damage"), "x"));
            assertTrue(String.valueOf(ro.getReason()).contains("Read-only"), ro.toString());
        } catch (IOException closing) {
            assertTrue(closing.getMessage().contains("read-only") || closing.getMessage().contains("Read-only"), closing.toString());
        }
        assertFalse(mounted(mnt), "the server unmounted");
        Tools.run("e2fsck", "-fy", img.toString());             // replays what was committed and repairs the damaged block
        assertTrue(Tools.debugfs(img, "cat /before-damage").contains("acknowledged"), "a write acknowledged before the damage was found is kept");
    }
}
