package ext4j.mount;

import ext4j.testutil.Tools;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * POSIX behaviour of `ext4j mount` against the kernel's own ext4: one fresh image, two copies; copy
 * A loop-mounted by the kernel, copy B served by {@link Ext4Mount}. The same probes run on both
 * through real system calls (FFM, {@link PosixSys}), each in its own directory: open flags,
 * read/write, truncate (to 1 TiB and past the maximum), fallocate in every mode, SEEK_DATA and
 * SEEK_HOLE, stat fields, chmod/chown with set-id bits, utimensat, mkdir/rmdir/unlink/link,
 * symlinks up to PATH_MAX, renameat2 in every flag and source/target combination, mknod, name
 * lengths, xattrs, POSIX ACLs, unlinked open files, readdir, statfs, and permission checks run as
 * uid 1000 through setpriv and coreutils. Each probe's transcript (results or errno names and the
 * attributes and bytes it looked at) must be the same on both; every difference is reported at
 * the end in one assertion. Then both images must be fsck-clean, and the kernel, mounting both
 * read-only, must see the same tree (names, types, modes, owners, links, sizes, bytes).
 * Everything runs twice: on mke2fs's default for 64M (1 KiB blocks) and with 4 KiB blocks.
 * Transcripts are written to target/fuse-posix-compare/{1k,4k}/; -Dext4j.posixProbes=REGEX runs
 * only the probes whose names match.
 */
@Timeout(value = 15, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FusePosixCompareTest {
    @TempDir Path tmp;

    // Linux x86_64 values
    static final int O_RDONLY = 0, O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0100, O_EXCL = 0200, O_TRUNC = 01000, O_APPEND = 02000,
            O_NONBLOCK = 04000, O_DIRECTORY = 0200000, O_NOFOLLOW = 0400000, O_PATH = 010000000;
    static final int FALLOC_KEEP_SIZE = 1, FALLOC_PUNCH_HOLE = 2, FALLOC_COLLAPSE_RANGE = 8, FALLOC_ZERO_RANGE = 0x10,
            FALLOC_INSERT_RANGE = 0x20, FALLOC_UNSHARE_RANGE = 0x40;
    static final int SEEK_SET = 0, SEEK_CUR = 1, SEEK_END = 2, SEEK_DATA = 3, SEEK_HOLE = 4;
    static final int RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2, RENAME_WHITEOUT = 4;
    static final int XATTR_CREATE = 1, XATTR_REPLACE = 2;
    static final int S_IFMT = 0170000, S_IFSOCK = 0140000, S_IFLNK = 0120000, S_IFREG = 0100000, S_IFBLK = 060000,
            S_IFDIR = 040000, S_IFCHR = 020000, S_IFIFO = 010000;
    static final int POSIX_FADV_DONTNEED = 4;
    static final int ACL_USER_OBJ = 1, ACL_USER = 2, ACL_GROUP_OBJ = 4, ACL_GROUP = 8, ACL_MASK = 0x10, ACL_OTHER = 0x20, NOID = -1;
    static final String ACL_ACCESS = "system.posix_acl_access", ACL_DEFAULT = "system.posix_acl_default";
    static final long TIB = 1L << 40;

    /**
     * A known, explained difference: on image pairs matching pair, in probes matching probe, a
     * kernel line and an ext4j line matching these. Each is reported (never silent) and ends that
     * probe's comparison; everything else must be equal. Keep this list short and each entry exact.
     */
    record FuseLimit(String pair, String probe, String kernelLine, String fuseLine, String why) {}
    /**
     * Differences that come from the kernel's FUSE client, not from ext4j: the request never reaches
     * the server. Each is a probe-name pattern, the line on the kernel's ext4 and the line FUSE
     * gives instead; the test checks that exactly that happens and reports these apart. What follows
     * in that probe is its consequence: not compared, nor is its directory in the final tree.
     */
    static final List<FuseLimit> FUSE_LIMITS = List.of(
            new FuseLimit(".*", "fallocate/.*", "fallocate (COLLAPSE_RANGE|INSERT_RANGE) .*", "fallocate (COLLAPSE_RANGE|INSERT_RANGE) .* = EOPNOTSUPP",
                    "the kernel's FUSE client passes only KEEP_SIZE, PUNCH_HOLE and ZERO_RANGE to the server and answers EOPNOTSUPP itself"),
            new FuseLimit(".*", "rename/.*WHITEOUT.*", ".*", ".*WHITEOUT = EINVAL",
                    "ext4j refuses RENAME_WHITEOUT by design (EINVAL): it makes no overlayfs whiteouts"),
            new FuseLimit(".*", "rw/efbig-pwrite@.*", ".*", ".*",
                    "FUSE cannot tell the kernel ext4's largest file size: the kernel takes the write into its page cache, ext4j stores what fits at writeback and fsync reports EFBIG"),
            new FuseLimit("1k", "(rw|truncate|fallocate|seek|unlinked)/.*", ".*(blocks=|data segments).*", ".*(blocks=|data segments).*",
                    "the kernel's writeback cache sends whole 4 KiB pages: on 1 KiB blocks the zeros around the data are written, and allocated"),
            new FuseLimit(".*", "unlinked/dir", "\\s*dir .*nlink=0 .*blocks=[1-9].*", "\\s*dir .*nlink=0 .*blocks=0 .*",
                    "ext4j frees a removed directory's blocks at rmdir; Linux keeps them until its last close"),
            new FuseLimit(".*", "utimens/(file|symlink-follow|file-futimens).*", "\\s*atime .*, mtime .*", "\\s*atime .*, mtime .*",
                    "with the writeback cache the kernel keeps its own times of a regular file and does not clamp them to ext4's range; the image holds the clamped time (the final tree agrees)"),
            new FuseLimit(".*", "perm/write-clears-setid", ".* 0?767", ".* 0?2767",
                    "without HANDLE_KILLPRIV_V2 the kernel's FUSE client clears S_ISGID on a write by a non-member only when group-exec is set"));

    // ---------------------------------------------------------------- the run

    /** One image pair's outcome. */
    record PairResult(int probes, int callsA, int callsB, int answeredB, long ms, List<String> diffs, List<String> tolerated) {}

    @Test
    void theFuseMountAnswersAsTheKernelsExt4Does() throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/fuse")), "/dev/fuse is missing: FUSE is not available here");
        Tools.requireMount();
        Tools.requireTool("setpriv");
        // the probes' unprivileged processes must reach the mountpoints
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
        // mke2fs's choice for 64M (1 KiB blocks: block smaller than a page, symlinks up to 1023 bytes), and 4 KiB blocks
        Map<String, String[]> pairs = new java.util.LinkedHashMap<>();
        pairs.put("1k", new String[] {"-t", "ext4"});
        pairs.put("4k", new String[] {"-t", "ext4", "-b", "4096"});
        List<String> diffs = new ArrayList<>(), tolerated = new ArrayList<>();
        int probes = 0, callsA = 0, callsB = 0, answeredB = 0;
        StringBuilder summary = new StringBuilder();
        for (var e : pairs.entrySet()) {
            PairResult r = runPair(e.getKey(), e.getValue());
            probes += r.probes;
            callsA += r.callsA;
            callsB += r.callsB;
            answeredB += r.answeredB;
            for (String d : r.diffs) diffs.add("[" + e.getKey() + "] " + d);
            for (String t : r.tolerated) tolerated.add("[" + e.getKey() + "] " + t);
            summary.append(String.format("  %s blocks: %d probes, %d calls on the kernel's ext4, %d on ext4j (%d succeeded), %d ms, %d differences%n",
                    e.getKey(), r.probes, r.callsA, r.callsB, r.answeredB, r.ms, r.diffs.size()));
        }
        System.out.println("FusePosixCompareTest: " + probes + " probes, " + callsA + " calls on the kernel's ext4, " + callsB + " on ext4j; "
                + diffs.size() + " differences, " + tolerated.size() + " known differences (FUSE's limits, ext4j's decisions) reported\n" + summary);
        for (String t : tolerated) System.out.println("  known: " + t);
        for (String d : diffs) System.out.println("  DIFF " + d);
        assertTrue(probes > 0, "no probes ran");
        assertTrue(callsB > 0 && answeredB > 0, "the ext4j mount gave no answers");
        assertTrue(diffs.isEmpty(), diffs.size() + " differences between the kernel's ext4 (A) and ext4j's FUSE mount (B) in "
                + probes + " probes:\n" + String.join("\n", diffs));
    }

    /** Fresh image, two copies, every probe on both mounts; then fsck and the final tree. */
    private PairResult runPair(String label, String... mkfs) throws Exception {
        Path dir = Files.createDirectory(tmp.resolve(label));
        Path imgA = dir.resolve("kernel.img"), imgB = dir.resolve("ext4j.img");
        Tools.mke2fs(imgA, null, "64M", mkfs);
        Files.copy(imgA, imgB);
        Path mntA = Files.createDirectory(dir.resolve("kernel")), mntB = Files.createDirectory(dir.resolve("ext4j"));
        list.clear();
        List<Probe> probes = probes();
        List<String> hung = new ArrayList<>();
        List<Ctx> as = new ArrayList<>(), bs = new ArrayList<>();
        int oldMask = PosixSys.umask(022);
        long t0 = System.nanoTime();
        Path out = Files.createDirectories(Path.of("target", "fuse-posix-compare", label));
        try {
            Tools.mount(imgA, mntA, "");
            try (Ext4Mount m = Ext4Mount.mount(imgB, mntB, MountOptions.defaults().withAllowOther(true))) {
                System.out.println("[" + label + "] ext4j serves " + m.mountpoint() + ", INIT flags granted 0x" + Long.toHexString(m.grantedFlags()));
                Set<String> cats = new LinkedHashSet<>();
                for (Probe p : probes) cats.add(p.name.substring(0, p.name.indexOf('/')));
                for (String c : cats) {
                    PosixSys.mkdir(mntA + "/" + c, 0755);
                    PosixSys.mkdir(mntB + "/" + c, 0755);
                }
                Watchdog dog = new Watchdog(mntB);
                try (var pw = new java.io.PrintWriter(Files.newBufferedWriter(out.resolve("progress.txt")), true)) {
                    for (Probe p : probes) {
                        pw.println(((System.nanoTime() - t0) / 1_000_000) + " ms " + p.name);
                        as.add(run(p, mntA.toString(), true));
                        dog.begin(p.name);
                        bs.add(run(p, mntB.toString(), false));
                        dog.end();
                    }
                } finally {
                    dog.stop();
                }
                hung.addAll(dog.hung);
            }
        } finally {
            Tools.umount(mntA);
            PosixSys.umask(oldMask);
        }
        long runMs = (System.nanoTime() - t0) / 1_000_000;

        List<String> diffs = new ArrayList<>(hung), tolerated = new ArrayList<>();
        Set<String> diverged = new java.util.HashSet<>();
        int callsA = 0, callsB = 0, answeredB = 0;
        for (int i = 0; i < probes.size(); i++) {
            Ctx a = as.get(i), b = bs.get(i);
            callsA += a.calls;
            callsB += b.calls;
            answeredB += b.answered;
            compare(label, probes.get(i).name, a.out, b.out, diffs, tolerated, diverged);
        }
        writeTranscripts(out, probes, as, bs);

        // both images clean, and the kernel, mounting both read-only, sees the same tree in both
        for (Path img : List.of(imgA, imgB)) {
            try { Tools.assertFsckClean(img); } catch (AssertionError e) { diffs.add("fsck of " + img.getFileName() + ": " + e.getMessage()); }
        }
        Tools.mount(imgA, mntA, "ro");
        try {
            Tools.mount(imgB, mntB, "ro");
            try {
                Ctx fa = new Ctx(mntA.toString(), true), fb = new Ctx(mntB.toString(), false);
                Map<String, String> ta = new TreeMap<>(), tb = new TreeMap<>();
                fa.walk("", 8, ta, true);
                fb.walk("", 8, tb, true);
                callsA += fa.calls;
                callsB += fb.calls;
                Set<String> paths = new java.util.TreeSet<>(ta.keySet());
                paths.addAll(tb.keySet());
                int compared = 0;
                for (String path : paths) {
                    boolean skip = false;
                    for (String d : diverged) skip |= path.equals(d) || path.startsWith(d + "/");
                    if (skip) continue;
                    compared++;
                    String x = ta.getOrDefault(path, "(absent)"), y = tb.getOrDefault(path, "(absent)");
                    if (x.equals(y)) continue;
                    if (label.equals("1k") && x.replaceAll("blocks=\\d+", "").equals(y.replaceAll("blocks=\\d+", ""))) {
                        tolerated.add("final-tree " + show(path) + ": blocks differ only (the kernel's writeback cache sends whole 4 KiB pages: on 1 KiB blocks the zeros around the data are allocated)");
                        continue;
                    }
                    diffs.add("final-tree " + show(path) + "\n    kernel: " + x + "\n    ext4j:  " + y);
                }
                System.out.println("[" + label + "] final tree (both images read-only through the kernel): " + compared + " paths compared");
            } finally {
                Tools.umount(mntB);
            }
        } finally {
            Tools.umount(mntA);
        }
        return new PairResult(probes.size(), callsA, callsB, answeredB, runMs, diffs, tolerated);
    }

    /**
     * A probe on the ext4j side that takes over a minute is hung: every thread's stack is printed
     * and the FUSE connection aborted (through fusectl), so the calls fail with ENOTCONN and the
     * run, the unmount and the report still finish.
     */
    static final class Watchdog {
        final List<String> hung = new java.util.concurrent.CopyOnWriteArrayList<>();
        private final Path mnt;
        private final long dev;
        private volatile String current;
        private volatile long since;
        private volatile boolean stopped;
        private final Thread thread;

        Watchdog(Path mnt) {
            this.mnt = mnt;
            PosixSys.Stat st = (PosixSys.Stat) PosixSys.stat(mnt.toString(), true)[1];
            this.dev = st == null ? -1 : st.dev();
            thread = Thread.ofPlatform().daemon().name("posix-compare-watchdog").start(this::watch);
        }

        void begin(String probe) { since = System.nanoTime(); current = probe; }
        void end() { current = null; }
        void stop() { stopped = true; thread.interrupt(); }

        private void watch() {
            while (!stopped) {
                try { Thread.sleep(1000); } catch (InterruptedException e) { return; }
                String p = current;
                if (p == null || System.nanoTime() - since < 60_000_000_000L) continue;
                StringBuilder sb = new StringBuilder("probe " + p + " hung on ext4j for a minute; threads:\n");
                for (var e : Thread.getAllStackTraces().entrySet()) {
                    sb.append("  ").append(e.getKey().getName()).append(" ").append(e.getKey().getState()).append('\n');
                    for (StackTraceElement f : e.getValue()) sb.append("      at ").append(f).append('\n');
                }
                System.out.println(sb);
                hung.add(p + ": HUNG on ext4j (no answer for 60 s; connection aborted; thread dump on stdout)");
                abort();
                current = null;
            }
        }

        private void abort() {
            if (dev < 0) return;
            long minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
            Path conn = Path.of("/sys/fs/fuse/connections", Long.toString(minor));
            try {
                if (!Files.exists(conn)) Tools.run("mount", "-t", "fusectl", "none", "/sys/fs/fuse/connections");
                Files.writeString(conn.resolve("abort"), "1");
                System.out.println("aborted FUSE connection " + conn + " of " + mnt);
            } catch (Exception e) {
                System.out.println("could not abort FUSE connection " + conn + ": " + e);
            }
        }
    }

    private static Ctx run(Probe p, String root, boolean kernel) {
        Ctx c = new Ctx(root + "/" + p.name, kernel);
        int rc = PosixSys.mkdir(c.dir, 0755);
        if (rc < 0) c.out.add("mkdir probe directory = " + show(rc));
        try {
            p.body.run(c);
        } catch (Throwable t) {
            c.out.add("exception " + t);
        }
        c.closeLeftovers();
        return c;
    }

    /**
     * Line by line; at most 8 lines per probe are shown (the rest counted). A difference that is a
     * known FUSE-client limitation ends the probe's comparison (what follows is its consequence)
     * and keeps the probe's directory out of the final tree comparison.
     */
    private static void compare(String pair, String name, List<String> a, List<String> b, List<String> diffs, List<String> tolerated, Set<String> diverged) {
        int shown = 0, more = 0;
        for (int i = 0; i < Math.max(a.size(), b.size()); i++) {
            String x = i < a.size() ? a.get(i) : "(nothing)", y = i < b.size() ? b.get(i) : "(nothing)";
            if (x.equals(y)) continue;
            FuseLimit lim = null;
            for (FuseLimit l : FUSE_LIMITS) if (pair.matches(l.pair) && name.matches(l.probe) && x.matches(l.kernelLine) && y.matches(l.fuseLine)) lim = l;
            if (lim != null && shown == 0) {
                tolerated.add(name + ": kernel " + x.trim() + ", ext4j " + y.trim() + " (" + lim.why + ")");
                diverged.add(name);
                return;
            }
            if (shown++ < 8) diffs.add(name + " [line " + i + "]\n    kernel: " + x + "\n    ext4j:  " + y);
            else more++;
        }
        if (more > 0) diffs.add(name + ": " + more + " more differing lines");
    }

    private static void writeTranscripts(Path dir, List<Probe> probes, List<Ctx> as, List<Ctx> bs) {
        try {
            for (boolean k : new boolean[] {true, false}) {
                StringBuilder sb = new StringBuilder();
                for (int i = 0; i < probes.size(); i++) {
                    sb.append("== ").append(probes.get(i).name).append('\n');
                    for (String l : (k ? as : bs).get(i).out) sb.append(l).append('\n');
                }
                Files.writeString(dir.resolve(k ? "kernel.txt" : "ext4j.txt"), sb.toString());
            }
        } catch (IOException e) {
            System.out.println("could not write transcripts: " + e);
        }
    }

    // ---------------------------------------------------------------- probes

    interface Body { void run(Ctx c) throws Exception; }
    record Probe(String name, Body body) {}

    private final List<Probe> list = new ArrayList<>();

    private void add(String name, Body b) { list.add(new Probe(name, b)); }

    List<Probe> probes() {
        openProbes();
        readWriteProbes();
        truncateProbes();
        fallocateProbes();
        seekProbes();
        statProbes();
        chmodProbes();
        chownProbes();
        utimeProbes();
        dirProbes();
        linkProbes();
        symlinkProbes();
        renameProbes();
        mknodProbes();
        nameProbes();
        xattrProbes();
        aclProbes();
        unlinkedOpenProbes();
        readdirProbes();
        add("statfs/fields", c -> c.statfs(""));
        permissionProbes();
        String only = System.getProperty("ext4j.posixProbes");      // a regex: rerun some probes alone
        if (only != null) list.removeIf(p -> !p.name.matches(only));
        return list;
    }

    private void openProbes() {
        String[] targets = {"missing", "file", "dir", "symlink-file", "symlink-dir", "dangling", "fifo"};
        int[] flags = {O_RDONLY, O_WRONLY, O_RDWR, O_RDONLY | O_CREAT, O_WRONLY | O_CREAT | O_EXCL, O_RDWR | O_CREAT | O_EXCL,
                O_WRONLY | O_TRUNC, O_RDONLY | O_TRUNC, O_WRONLY | O_APPEND, O_RDWR | O_CREAT | O_TRUNC, O_RDONLY | O_DIRECTORY,
                O_WRONLY | O_DIRECTORY, O_RDONLY | O_NOFOLLOW, O_WRONLY | O_CREAT | O_NOFOLLOW, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW,
                O_RDONLY | O_CREAT | O_DIRECTORY, O_PATH, O_PATH | O_NOFOLLOW, O_RDONLY | O_DIRECTORY | O_NOFOLLOW};
        for (String t : targets) for (int f : flags) {
            add("open/" + t + "-" + flagNames(f), c -> {
                c.mkfile("ref", "hello world\n");
                c.mkdir("refdir", 0755);
                switch (t) {
                    case "file" -> c.mkfile("t", "0123456789");
                    case "dir" -> c.mkdir("t", 0755);
                    case "symlink-file" -> c.symlink("ref", "t");
                    case "symlink-dir" -> c.symlink("refdir", "t");
                    case "dangling" -> c.symlink("nowhere", "t");
                    case "fifo" -> c.mknod("t", S_IFIFO | 0644, 0);
                    default -> { }
                }
                int fl = f | (t.equals("fifo") ? O_NONBLOCK : 0);
                int fd = c.open("t", fl, 0640);
                if (fd >= 0) {
                    c.fstat(fd, false);
                    if ((fl & O_PATH) == 0 && (fl & 3) != O_RDONLY) c.write(fd, "ABC");
                    c.lseek(fd, 0, SEEK_CUR);
                    c.pread(fd, 64, 0);
                    c.close(fd);
                }
                c.tree("", 2);
            });
        }
    }

    private void readWriteProbes() {
        int[] sizes = {0, 1, 1023, 1024, 4096, 4097, 70000};
        long[] offs = {0, 1, 1024, 4095, 100000};
        for (int s : sizes) for (long o : offs) {
            add("rw/pwrite-" + s + "@" + o, c -> {
                int fd = c.open("f", O_RDWR | O_CREAT, 0644);
                c.pwrite(fd, pattern(s, 1), o);
                c.fsync(fd);
                c.fstat(fd, true);
                c.pread(fd, s + 10, o);
                c.pread(fd, 16, 0);
                c.lseek(fd, 0, SEEK_CUR);
                c.seekMap(fd);
                c.close(fd);
                c.content("f");
            });
        }
        add("rw/append-new", c -> {
            int fd = c.open("f", O_WRONLY | O_CREAT | O_APPEND, 0644);
            c.write(fd, "one");
            c.pwrite(fd, "two".getBytes(StandardCharsets.UTF_8), 0);
            c.write(fd, "three");
            c.lseek(fd, 0, SEEK_CUR);
            c.close(fd);
            c.content("f");
        });
        add("rw/append-existing", c -> {
            c.mkfile("f", "0123456789");
            int fd = c.open("f", O_RDWR | O_APPEND, 0);
            c.lseek(fd, 0, SEEK_SET);
            c.write(fd, "X");
            c.lseek(fd, 0, SEEK_CUR);
            c.pread(fd, 100, 0);
            c.lseek(fd, 2, SEEK_SET);
            c.read(fd, 3);
            c.close(fd);
            c.content("f");
        });
        // a write into a page that is not cached makes the kernel read it first (through the writing handle)
        int[][] uncached = {{O_WRONLY | O_APPEND, -1}, {O_RDWR | O_APPEND, -1}, {O_WRONLY, 3}, {O_WRONLY, 5000}, {O_RDWR, 3}};
        for (int[] u : uncached) {
            add("rw/uncached-" + flagNames(u[0]) + (u[1] >= 0 ? "-at-" + u[1] : ""), c -> {
                c.mkfile("f", "shared\n");
                int fd = c.open("f", O_RDONLY, 0);
                c.dropCache(fd);
                c.close(fd);
                fd = c.open("f", u[0], 0);
                if (u[1] < 0) c.write(fd, "a\n"); else c.pwrite(fd, "xy".getBytes(StandardCharsets.UTF_8), u[1]);
                c.close(fd);
                c.content("f");
            });
        }
        add("rw/wrong-mode", c -> {
            c.mkfile("f", "data");
            int fd = c.open("f", O_RDONLY, 0);
            c.write(fd, "x");
            c.pwrite(fd, "x".getBytes(StandardCharsets.UTF_8), 0);
            c.close(fd);
            fd = c.open("f", O_WRONLY, 0);
            c.read(fd, 4);
            c.pread(fd, 4, 0);
            c.close(fd);
            c.content("f");
        });
        add("rw/negative-offset", c -> {
            c.mkfile("f", "data");
            int fd = c.open("f", O_RDWR, 0);
            c.pread(fd, 4, -1);
            c.pwrite(fd, "x".getBytes(StandardCharsets.UTF_8), -1);
            c.lseek(fd, -1, SEEK_SET);
            c.lseek(fd, -5, SEEK_END);
            c.lseek(fd, -1, SEEK_END);
            c.lseek(fd, 7, 99);
            c.close(fd);
        });
        add("rw/seek-past-end-then-write", c -> {
            int fd = c.open("f", O_RDWR | O_CREAT, 0644);
            c.lseek(fd, 1_000_000, SEEK_SET);
            c.write(fd, "end");
            c.read(fd, 10);
            c.lseek(fd, 0, SEEK_END);
            c.lseek(fd, -3, SEEK_CUR);
            c.read(fd, 10);
            c.fsync(fd);
            c.fstat(fd, true);
            c.seekMap(fd);
            c.close(fd);
            c.content("f");
        });
        add("rw/read-directory", c -> {
            c.mkdir("d", 0755);
            int fd = c.open("d", O_RDONLY | O_DIRECTORY, 0);
            c.read(fd, 10);
            c.pread(fd, 10, 0);
            c.write(fd, "x");
            c.close(fd);
        });
        add("rw/overwrite-and-extend", c -> {
            c.mkfile("f", pattern(10000, 3));
            int fd = c.open("f", O_RDWR, 0);
            c.pwrite(fd, "middle".getBytes(StandardCharsets.UTF_8), 5000);
            c.pwrite(fd, pattern(3000, 4), 9000);
            c.write(fd, "head");
            c.fsync(fd);
            c.fstat(fd, true);
            c.close(fd);
            c.content("f");
        });
        add("rw/zero-length", c -> {
            int fd = c.open("f", O_RDWR | O_CREAT, 0644);
            c.write(fd, "");
            c.pwrite(fd, new byte[0], 5000);
            c.read(fd, 0);
            c.fstat(fd, false);
            c.close(fd);
        });
        add("rw/read-to-eof", c -> {
            c.mkfile("f", pattern(3000, 5));
            int fd = c.open("f", O_RDONLY, 0);
            for (int i = 0; i < 4; i++) c.read(fd, 1024);
            c.pread(fd, 10, 2995);
            c.pread(fd, 10, 3000);
            c.pread(fd, 10, 1L << 40);
            c.close(fd);
        });
        long[] bigOffs = {4 * TIB - 1034, 4 * TIB - 1025, 4 * TIB - 1024, 4 * TIB - 1, 4 * TIB, 16 * TIB - 4106, 16 * TIB - 4096, 16 * TIB, 1L << 50};
        for (long o : bigOffs) {
            add("rw/efbig-pwrite@" + o, c -> {
                int fd = c.open("f", O_RDWR | O_CREAT, 0644);
                c.pwrite(fd, pattern(20, 6), o);
                c.fsync(fd);
                c.fstat(fd, true);
                c.pread(fd, 30, o - 5);
                c.close(fd);
            });
        }
    }

    private void truncateProbes() {
        long[] lens = {0, 1, 1000, 1024, 5000, 10000, 10001, 65536, 1048583, TIB, 4 * TIB - 1024, 4 * TIB - 1023, 4 * TIB,
                16 * TIB - 4096, 16 * TIB - 4095, 16 * TIB, Long.MAX_VALUE, -1};
        for (boolean viaFd : new boolean[] {false, true}) for (long len : lens) {
            add("truncate/" + (viaFd ? "ftruncate" : "truncate") + "-" + len, c -> {
                c.mkfile("f", pattern(10000, 2));
                if (viaFd) {
                    int fd = c.open("f", O_RDWR, 0);
                    c.ftruncate(fd, len);
                    c.close(fd);
                } else {
                    c.truncate("f", len);
                }
                int fd = c.open("f", O_RDONLY, 0);
                c.fsync(fd);
                c.fstat(fd, true);
                c.pread(fd, 32, 9990);
                if (len > 8) c.pread(fd, 16, len - 8);
                c.seekMap(fd);
                c.close(fd);
            });
        }
        add("truncate/errors", c -> {
            c.mkdir("d", 0755);
            c.mknod("p", S_IFIFO | 0644, 0);
            c.mkfile("f", "abc");
            c.symlink("f", "l");
            c.truncate("d", 0);
            c.truncate("p", 0);
            c.truncate("missing", 0);
            c.truncate("f/x", 0);
            c.truncate("l", 1);
            c.lstat("l");
            c.content("f");
            int fd = c.open("f", O_RDONLY, 0);
            c.ftruncate(fd, 0);
            c.close(fd);
            fd = c.open("d", O_RDONLY | O_DIRECTORY, 0);
            c.ftruncate(fd, 0);
            c.close(fd);
        });
        add("truncate/sparse-then-shrink", c -> {
            int fd = c.open("f", O_RDWR | O_CREAT, 0644);
            c.ftruncate(fd, TIB);
            c.pwrite(fd, pattern(5000, 7), TIB - 5000);
            c.pwrite(fd, pattern(5000, 8), 1L << 30);
            c.fsync(fd);
            c.fstat(fd, true);
            c.seekMap(fd);
            c.ftruncate(fd, (1L << 30) + 100);
            c.fsync(fd);
            c.fstat(fd, true);
            c.seekMap(fd);
            c.pread(fd, 200, 1L << 30);
            c.ftruncate(fd, 0);
            c.fsync(fd);
            c.fstat(fd, true);
            c.close(fd);
        });
        add("truncate/extend-reads-zeros", c -> {
            c.mkfile("f", pattern(1500, 9));
            c.truncate("f", 700);
            c.truncate("f", 3000);
            c.content("f");
            c.statSynced("f");
        });
    }

    private void fallocateProbes() {
        int[] modes = {0, FALLOC_KEEP_SIZE, FALLOC_PUNCH_HOLE | FALLOC_KEEP_SIZE, FALLOC_PUNCH_HOLE, FALLOC_ZERO_RANGE,
                FALLOC_ZERO_RANGE | FALLOC_KEEP_SIZE, FALLOC_COLLAPSE_RANGE, FALLOC_INSERT_RANGE, FALLOC_COLLAPSE_RANGE | FALLOC_KEEP_SIZE,
                FALLOC_UNSHARE_RANGE};
        long[][] ranges = {{0, 4096}, {4096, 8192}, {1024, 2048}, {1000, 3000}, {3000, 1}, {61440, 8192}, {65536, 4096},
                {131072, 4096}, {0, 65536}, {0, 0}, {-1, 10}, {4096, -1}};
        for (int m : modes) for (long[] r : ranges) {
            add("fallocate/" + fallocName(m) + "-" + r[0] + "+" + r[1], c -> {
                c.mkfile("f", pattern(65536, 10));
                int fd = c.open("f", O_RDWR, 0);
                c.fsync(fd);
                c.fallocate(fd, m, r[0], r[1]);
                c.fsync(fd);
                c.fstat(fd, true);
                c.seekMap(fd);
                c.close(fd);
                c.content("f");
            });
        }
        add("fallocate/read-only-fd", c -> {
            c.mkfile("f", "abc");
            int fd = c.open("f", O_RDONLY, 0);
            c.fallocate(fd, 0, 0, 4096);
            c.close(fd);
        });
        add("fallocate/directory", c -> {
            c.mkdir("d", 0755);
            int fd = c.open("d", O_RDONLY | O_DIRECTORY, 0);
            c.fallocate(fd, 0, 0, 4096);
            c.close(fd);
        });
        add("fallocate/append-fd", c -> {
            c.mkfile("f", pattern(8192, 11));
            int fd = c.open("f", O_WRONLY | O_APPEND, 0);
            c.fallocate(fd, FALLOC_PUNCH_HOLE | FALLOC_KEEP_SIZE, 0, 4096);
            c.fallocate(fd, 0, 8192, 4096);
            c.fallocate(fd, FALLOC_COLLAPSE_RANGE, 0, 4096);
            c.close(fd);
            c.content("f");
        });
        add("fallocate/beyond-max", c -> {
            int fd = c.open("f", O_RDWR | O_CREAT, 0644);
            c.fallocate(fd, 0, 4 * TIB - 4096, 4096);
            c.fallocate(fd, 0, 4 * TIB, 4096);
            c.fallocate(fd, FALLOC_KEEP_SIZE, 16 * TIB, 4096);
            c.fallocate(fd, 0, Long.MAX_VALUE - 10, 20);
            c.fsync(fd);
            c.fstat(fd, true);
            c.close(fd);
        });
        add("fallocate/prealloc-then-write", c -> {
            int fd = c.open("f", O_RDWR | O_CREAT, 0644);
            c.fallocate(fd, 0, 0, 32768);
            c.pwrite(fd, pattern(3000, 12), 5000);
            c.fallocate(fd, FALLOC_KEEP_SIZE, 32768, 32768);
            c.pwrite(fd, pattern(100, 13), 40000);
            c.fsync(fd);
            c.fstat(fd, true);
            c.seekMap(fd);
            c.close(fd);
            c.content("f");
        });
    }

    private void seekProbes() {
        String[] layouts = {"empty", "data4k", "hole-data", "data-hole-data", "data-then-hole", "prealloc", "prealloc-keep", "sparse-1tib"};
        for (String l : layouts) for (int whence : new int[] {SEEK_DATA, SEEK_HOLE}) {
            add("seek/" + l + "-" + (whence == SEEK_DATA ? "SEEK_DATA" : "SEEK_HOLE"), c -> {
                int fd = c.open("f", O_RDWR | O_CREAT, 0644);
                switch (l) {
                    case "data4k" -> c.pwrite(fd, pattern(4096, 1), 0);
                    case "hole-data" -> c.pwrite(fd, pattern(4096, 2), 8192);
                    case "data-hole-data" -> { c.pwrite(fd, pattern(4096, 3), 0); c.pwrite(fd, pattern(4096, 4), 16384); }
                    case "data-then-hole" -> { c.pwrite(fd, pattern(4096, 5), 0); c.ftruncate(fd, 32768); }
                    case "prealloc" -> { c.fallocate(fd, 0, 0, 16384); c.pwrite(fd, pattern(4096, 6), 0); }
                    case "prealloc-keep" -> { c.pwrite(fd, pattern(4096, 7), 0); c.fallocate(fd, FALLOC_KEEP_SIZE, 4096, 65536); }
                    case "sparse-1tib" -> { c.ftruncate(fd, TIB); c.pwrite(fd, pattern(4096, 8), 1L << 39); c.pwrite(fd, pattern(10, 9), TIB - 10); }
                    default -> { }
                }
                c.fsync(fd);
                c.dropCache(fd);
                long size = c.rawSize(fd);
                long[] offs = {0, 1, 4095, 4096, 8191, 8192, 12288, 16384, 20480, size - 1, size, size + 1, -1, (1L << 39) + 5};
                for (long o : offs) c.lseek(fd, o, whence);
                c.lseek(fd, 0, SEEK_END);
                c.lseek(fd, -1, SEEK_END);
                c.lseek(fd, 10, SEEK_CUR);
                c.lseek(fd, -100000, SEEK_CUR);
                c.close(fd);
            });
        }
    }

    private void statProbes() {
        add("stat/empty-file", c -> { c.mkfile("f", ""); c.statSynced("f"); c.stat("f"); });
        add("stat/file-5000", c -> { c.mkfile("f", pattern(5000, 1)); c.statSynced("f"); });
        add("stat/dir", c -> { c.mkdir("d", 0755); c.lstat("d"); c.lstat(""); });
        add("stat/dir-with-subdirs", c -> {
            c.mkdir("d", 0755);
            for (int i = 0; i < 5; i++) c.mkdir("d/s" + i, 0700);
            c.mkfile("d/f", "x");
            c.lstat("d");
        });
        add("stat/symlink-short", c -> { c.mkfile("f", "abc"); c.symlink("f", "l"); c.lstat("l"); c.stat("l"); c.fstatPath("l", O_PATH | O_NOFOLLOW); c.fstatPath("l", O_RDONLY); });
        add("stat/symlink-slow", c -> { c.symlink("x".repeat(100), "l"); c.lstat("l"); c.stat("l"); });
        add("stat/fifo", c -> { c.mknod("p", S_IFIFO | 0640, 0); c.lstat("p"); c.fstatPath("p", O_RDONLY | O_NONBLOCK); });
        add("stat/chr", c -> { c.mknod("c", S_IFCHR | 0600, PosixSys.makedev(1, 3)); c.lstat("c"); c.fstatPath("c", O_PATH); });
        add("stat/blk", c -> { c.mknod("b", S_IFBLK | 0600, PosixSys.makedev(7, 0)); c.lstat("b"); });
        add("stat/sock", c -> { c.mknod("s", S_IFSOCK | 0755, 0); c.lstat("s"); });
        add("stat/hardlinks", c -> { c.mkfile("a", "abc"); c.link("a", "b"); c.link("a", "c"); c.lstat("a"); c.sameIno("a", "c"); });
        add("stat/big-dev", c -> { c.mknod("c", S_IFCHR | 0644, PosixSys.makedev(300, 70000)); c.lstat("c"); });
        add("stat/errors", c -> {
            c.mkfile("f", "x");
            c.lstat("missing");
            c.lstat("f/x");
            c.lstat("f/");
            c.stat("");
            c.symlink("l2", "l1");
            c.symlink("l1", "l2");
            c.stat("l1");
            c.lstat("l1");
        });
    }

    private void chmodProbes() {
        int[] modes = {0, 0644, 0777, 04755, 02755, 01777, 07777, 06000, 02644};
        String[] types = {"file", "dir", "fifo", "symlink"};
        for (String t : types) for (int m : modes) for (boolean viaFd : new boolean[] {false, true}) {
            add("chmod/" + t + "-" + Integer.toOctalString(m) + (viaFd ? "-fchmod" : "-chmod"), c -> {
                c.mkfile("ref", "x");
                String n = "o";
                switch (t) {
                    case "file" -> c.mkfile(n, "x");
                    case "dir" -> c.mkdir(n, 0755);
                    case "fifo" -> c.mknod(n, S_IFIFO | 0644, 0);
                    default -> c.symlink("ref", n);
                }
                PosixSys.Stat before = c.raw(n, false);
                c.pause();
                if (viaFd) {
                    int fd = c.open(n, t.equals("dir") ? O_RDONLY | O_DIRECTORY : O_RDONLY | O_NONBLOCK, 0);
                    c.fchmod(fd, m);
                    c.close(fd);
                } else {
                    c.chmod(n, m);
                }
                c.lstat(n);
                if (t.equals("symlink")) c.lstat("ref");
                c.note("ctime changed: " + changed(before, c.raw(n, false)));
            });
        }
        add("chmod/errors", c -> {
            c.chmod("missing", 0644);
            c.mkfile("f", "x");
            c.chmod("f/x", 0644);
            c.chmod("f", 0170777);
            c.lstat("f");
        });
    }

    private void chownProbes() {
        int[] modes = {0755, 04755, 02755, 06755, 02745, 06644, 0644};
        int[][] owners = {{0, 0}, {1000, 1000}, {-1, -1}, {1000, -1}, {-1, 1000}};
        for (int m : modes) for (int[] o : owners) for (boolean viaFd : new boolean[] {false, true}) {
            add("chown/file-" + Integer.toOctalString(m) + "-to-" + o[0] + ":" + o[1] + (viaFd ? "-fchown" : "-chown"), c -> {
                c.mkfile("f", "x");
                c.chmod("f", m);
                PosixSys.Stat before = c.raw("f", false);
                c.pause();
                if (viaFd) {
                    int fd = c.open("f", O_RDONLY, 0);
                    c.fchown(fd, o[0], o[1]);
                    c.close(fd);
                } else {
                    c.chown("f", o[0], o[1]);
                }
                c.lstat("f");
                c.note("ctime changed: " + changed(before, c.raw("f", false)));
            });
        }
        for (int m : new int[] {02755, 04755, 01777}) for (int[] o : owners) {
            add("chown/dir-" + Integer.toOctalString(m) + "-to-" + o[0] + ":" + o[1], c -> {
                c.mkdir("d", 0755);
                c.chmod("d", m);
                c.chown("d", o[0], o[1]);
                c.lstat("d");
            });
        }
        for (int[] o : owners) {
            add("chown/lchown-symlink-to-" + o[0] + ":" + o[1], c -> {
                c.mkfile("f", "x");
                c.symlink("f", "l");
                c.lchown("l", o[0], o[1]);
                c.lstat("l");
                c.lstat("f");
            });
            add("chown/chown-through-symlink-to-" + o[0] + ":" + o[1], c -> {
                c.mkfile("f", "x");
                c.chmod("f", 06755);
                c.symlink("f", "l");
                c.chown("l", o[0], o[1]);
                c.lstat("l");
                c.lstat("f");
            });
        }
        add("chown/errors", c -> {
            c.chown("missing", 0, 0);
            c.mknod("p", S_IFIFO | 0644, 0);
            c.chown("p", 1000, 1000);
            c.lstat("p");
            c.mknod("c", S_IFCHR | 0644, PosixSys.makedev(1, 3));
            c.lchown("c", 1000, 2000);
            c.lstat("c");
        });
    }

    private void utimeProbes() {
        long now = PosixSys.UTIME_NOW, omit = PosixSys.UTIME_OMIT;
        long[][] specs = {
                {1000000000L, 123456789, 1200000000L, 987654321},
                {0, now, 0, now},
                {0, omit, 0, omit},
                {1000000000L, 5, 0, omit},
                {0, omit, 1000000000L, 999999999},
                {0, now, 1300000000L, 1},
                null,
                {-1, 0, -2147483648L, 5},
                {(1L << 32) + 5, 7, 16299260424L, 999999999},
                {17179869184L, 1, -4294967296L, 2},
                {0, 1000000000L, 0, 0},
                {0, -1, 0, 0},
        };
        String[] targets = {"file", "dir", "symlink-nofollow", "symlink-follow", "fifo", "file-futimens"};
        for (String t : targets) for (int si = 0; si < specs.length; si++) {
            long[] spec = specs[si];
            add("utimens/" + t + "-" + (spec == null ? "NULL" : timeName(spec)), c -> {
                c.mkfile("ref", "x");
                String n = "o";
                switch (t) {
                    case "dir" -> c.mkdir(n, 0755);
                    case "fifo" -> c.mknod(n, S_IFIFO | 0644, 0);
                    case "symlink-nofollow", "symlink-follow" -> c.symlink("ref", n);
                    default -> c.mkfile(n, "x");
                }
                boolean nofollow = t.equals("symlink-nofollow");
                String statName = t.equals("symlink-follow") ? "ref" : n;
                int fl = nofollow ? PosixSys.AT_SYMLINK_NOFOLLOW : 0;
                c.utimensat(n, new long[] {500000000L, 1, 600000000L, 2}, fl);
                PosixSys.Stat before = c.raw(statName, false);
                c.pause();
                if (t.equals("file-futimens")) {
                    int fd = c.open(n, O_RDONLY, 0);
                    c.futimens(fd, spec);
                    c.close(fd);
                } else {
                    c.utimensat(n, spec, fl);
                }
                PosixSys.Stat after = c.raw(statName, false);
                if (after != null) {
                    c.note("atime " + timeClass(after.atime(), after.atimeNs()) + ", mtime " + timeClass(after.mtime(), after.mtimeNs())
                            + ", ctime changed: " + changed(before, after));
                }
            });
        }
        add("utimens/errors", c -> {
            c.utimensat("missing", null, 0);
            c.mkfile("f", "x");
            c.utimensat("f", new long[] {0, 0, 0, 0}, 0x4000);
            c.utimensat("f/x", null, 0);
        });
    }

    private void dirProbes() {
        for (int m : new int[] {0777, 0755, 0700, 01777, 02755, 04755, 07777, 0}) {
            add("mkdir/mode-" + Integer.toOctalString(m), c -> { c.mkdir("d", m); c.lstat("d"); c.lstat(""); });
        }
        add("mkdir/existing-dir", c -> { c.mkdir("d", 0755); c.mkdir("d", 0755); });
        add("mkdir/existing-file", c -> { c.mkfile("f", "x"); c.mkdir("f", 0755); });
        add("mkdir/existing-dangling-symlink", c -> { c.symlink("nowhere", "l"); c.mkdir("l", 0755); c.lstat("nowhere"); });
        add("mkdir/missing-parent", c -> c.mkdir("a/b", 0755));
        add("mkdir/under-file", c -> { c.mkfile("f", "x"); c.mkdir("f/d", 0755); });
        add("mkdir/trailing-slash", c -> { c.mkdir("d/", 0755); c.lstat("d"); });
        add("mkdir/parent-nlink", c -> {
            c.mkdir("p", 0755);
            for (int i = 0; i < 3; i++) c.mkdir("p/s" + i, 0755);
            c.lstat("p");
            c.rmdir("p/s1");
            c.lstat("p");
            c.mkfile("p/f", "x");
            c.lstat("p");
        });
        add("mkdir/setgid-parent", c -> {
            c.mkdir("p", 0755);
            c.chown("p", 0, 1000);
            c.chmod("p", 02775);
            c.mkdir("p/sub", 0755);
            c.mkfile("p/f", "x");
            c.mknod("p/fifo", S_IFIFO | 02755, 0);
            c.lstat("p/sub");
            c.lstat("p/f");
            c.lstat("p/fifo");
        });
        add("rmdir/nonempty-file", c -> { c.mkdir("d", 0755); c.mkfile("d/f", "x"); c.rmdir("d"); });
        add("rmdir/nonempty-dir", c -> { c.mkdir("d", 0755); c.mkdir("d/e", 0755); c.rmdir("d"); });
        add("rmdir/nonempty-symlink", c -> { c.mkdir("d", 0755); c.symlink("x", "d/l"); c.rmdir("d"); });
        add("rmdir/file", c -> { c.mkfile("f", "x"); c.rmdir("f"); });
        add("rmdir/symlink-to-dir", c -> { c.mkdir("d", 0755); c.symlink("d", "l"); c.rmdir("l"); c.rmdir("l/"); c.tree("", 1); });
        add("rmdir/dot", c -> { c.mkdir("d", 0755); c.rmdir("d/."); c.rmdir("d/.."); c.lstat("d"); });
        add("rmdir/missing", c -> c.rmdir("nope"));
        add("rmdir/empty", c -> { c.mkdir("d", 0755); c.lstat(""); c.rmdir("d"); c.lstat(""); c.lstat("d"); });
        add("rmdir/after-emptying", c -> {
            c.mkdir("d", 0755);
            for (int i = 0; i < 60; i++) c.mkfile("d/f" + i, "");
            c.rmdir("d");
            for (int i = 0; i < 60; i++) c.unlink("d/f" + i);
            c.lstat("d");
            c.rmdir("d");
        });
        add("unlink/file", c -> { c.mkfile("f", "x"); c.unlink("f"); c.lstat("f"); });
        add("unlink/dir", c -> { c.mkdir("d", 0755); c.unlink("d"); c.lstat("d"); });
        add("unlink/missing", c -> c.unlink("nope"));
        add("unlink/under-file", c -> { c.mkfile("f", "x"); c.unlink("f/x"); });
        add("unlink/trailing-slash", c -> { c.mkfile("f", "x"); c.unlink("f/"); c.lstat("f"); });
        add("unlink/symlink", c -> { c.mkfile("f", "x"); c.symlink("f", "l"); c.unlink("l"); c.tree("", 1); });
        add("unlink/symlink-to-dir", c -> { c.mkdir("d", 0755); c.symlink("d", "l"); c.unlink("l"); c.tree("", 1); });
        add("unlink/fifo-chr-sock", c -> {
            c.mknod("p", S_IFIFO | 0644, 0);
            c.mknod("c", S_IFCHR | 0644, PosixSys.makedev(1, 3));
            c.mknod("s", S_IFSOCK | 0644, 0);
            c.unlink("p");
            c.unlink("c");
            c.unlink("s");
            c.tree("", 1);
        });
        add("unlink/hardlink", c -> {
            c.mkfile("a", "abc");
            c.link("a", "b");
            c.lstat("a");
            PosixSys.Stat before = c.raw("b", false);
            c.pause();
            c.unlink("a");
            c.lstat("b");
            c.note("ctime of the other name changed: " + changed(before, c.raw("b", false)));
            c.content("b");
        });
    }

    private void linkProbes() {
        add("link/file", c -> {
            c.mkfile("a", "abc");
            PosixSys.Stat before = c.raw("a", false);
            c.pause();
            c.link("a", "b");
            c.lstat("a");
            c.lstat("b");
            c.sameIno("a", "b");
            c.note("ctime changed: " + changed(before, c.raw("a", false)));
            c.content("b");
        });
        add("link/dir", c -> { c.mkdir("d", 0755); c.link("d", "e"); c.lstat("d"); });
        add("link/existing", c -> { c.mkfile("a", "1"); c.mkfile("b", "2"); c.link("a", "b"); c.content("b"); });
        add("link/symlink", c -> { c.symlink("x", "s"); c.link("s", "s2"); c.lstat("s2"); c.readlink("s2", 100); c.sameIno("s", "s2"); });
        add("link/symlink-to-file", c -> { c.mkfile("f", "x"); c.symlink("f", "s"); c.link("s", "s2"); c.lstat("s2"); c.lstat("f"); });
        add("link/missing", c -> c.link("nope", "x"));
        add("link/fifo", c -> { c.mknod("p", S_IFIFO | 0644, 0); c.link("p", "q"); c.lstat("q"); });
        add("link/chr", c -> { c.mknod("c", S_IFCHR | 0644, PosixSys.makedev(1, 3)); c.link("c", "d"); c.lstat("d"); });
        add("link/into-subdir", c -> { c.mkfile("a", "x"); c.mkdir("d", 0755); c.link("a", "d/a"); c.lstat("d/a"); c.lstat("d"); });
        add("link/many", c -> {
            c.mkfile("a", "x");
            for (int i = 0; i < 60; i++) c.link("a", "l" + i);
            c.lstat("a");
            for (int i = 0; i < 30; i++) c.unlink("l" + i);
            c.lstat("a");
        });
        add("link/unlink-original", c -> { c.mkfile("a", "content"); c.link("a", "b"); c.unlink("a"); c.lstat("b"); c.content("b"); });
        add("link/trailing-slash", c -> { c.mkfile("a", "x"); c.link("a", "b/"); c.link("a/", "c"); c.tree("", 1); });
        add("link/missing-parent", c -> { c.mkfile("a", "x"); c.link("a", "nodir/b"); });
        add("link/through-file", c -> { c.mkfile("a", "x"); c.link("a", "a/b"); });
        add("link/same-name", c -> { c.mkfile("a", "x"); c.link("a", "a"); c.lstat("a"); });
    }

    private void symlinkProbes() {
        int[] lens = {1, 59, 60, 61, 100, 255, 256, 1000, 1022, 1023, 1024, 1025, 2048, 4000, 4094, 4095, 4096, 5000};
        for (int n : lens) {
            add("symlink/target-" + n, c -> {
                String target = "abcdefg/".repeat(n / 8 + 1).substring(0, n);
                c.symlink(target, "s");
                c.readlink("s", 8192);
                c.readlink("s", 10);
                c.lstat("s");
                c.stat("s");
                c.close(c.open("s", O_RDONLY, 0));
            });
        }
        add("symlink/existing", c -> { c.mkfile("f", "x"); c.symlink("y", "f"); c.symlink("y", "l"); c.symlink("z", "l"); c.readlink("l", 100); });
        add("symlink/empty-target", c -> { c.symlink("", "l"); c.lstat("l"); });
        add("symlink/readlink-non-symlinks", c -> {
            c.mkfile("f", "x");
            c.mkdir("d", 0755);
            c.readlink("f", 100);
            c.readlink("d", 100);
            c.readlink("nope", 100);
            c.symlink("f", "l");
            c.readlink("l", 0);
            c.readlink("l", 1);
        });
        add("symlink/loop", c -> {
            c.symlink("b", "a");
            c.symlink("a", "b");
            c.stat("a");
            c.close(c.open("a", O_RDONLY, 0));
            c.close(c.open("a", O_RDONLY | O_CREAT, 0644));
            c.close(c.open("a", O_RDONLY | O_NOFOLLOW, 0));
            c.lstat("a");
        });
        add("symlink/chain", c -> {
            c.mkfile("f", "end");
            c.symlink("f", "c");
            c.symlink("c", "b");
            c.symlink("b", "a");
            c.stat("a");
            c.content("a");
        });
        add("symlink/relative-dotdot", c -> {
            c.mkfile("f", "up");
            c.mkdir("sub", 0755);
            c.symlink("../f", "sub/l");
            c.content("sub/l");
            c.mkdir("sub/deeper", 0755);
            c.symlink("..", "sub/deeper/up");
            c.lstat("sub/deeper/up/l");
        });
        add("symlink/in-the-middle", c -> {
            c.mkdir("real", 0755);
            c.mkfile("real/f", "found");
            c.symlink("real", "l");
            c.content("l/f");
            c.mkfile("l/new", "made");
            c.tree("", 2);
        });
        add("symlink/absolute-target", c -> { c.symlink("/nonexistent/abs/path", "l"); c.readlink("l", 100); c.stat("l"); });
    }

    private void renameProbes() {
        int[] flags = {0, RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT, RENAME_NOREPLACE | RENAME_WHITEOUT, RENAME_EXCHANGE | RENAME_NOREPLACE};
        String[] sources = {"file", "emptydir", "fulldir", "symlink", "fifo", "missing"};
        String[] targets = {"missing", "file", "emptydir", "fulldir", "symlink", "self", "cross-missing", "cross-file", "cross-emptydir", "own-subdir"};
        for (int f : flags) for (String s : sources) for (String t : targets) {
            add("rename/" + renameName(f) + "-" + s + "-over-" + t, c -> {
                c.mkdir("o", 0755);
                c.mkfile("o/f", "other-file");
                c.mkdir("o/d", 0755);
                switch (s) {
                    case "file" -> c.mkfile("s", "source-content");
                    case "emptydir" -> c.mkdir("s", 0755);
                    case "fulldir" -> { c.mkdir("s", 0755); c.mkfile("s/in", "inner"); c.mkdir("s/sub", 0700); }
                    case "symlink" -> c.symlink("source-target", "s");
                    case "fifo" -> c.mknod("s", S_IFIFO | 0640, 0);
                    default -> { }
                }
                switch (t) {
                    case "file" -> c.mkfile("t", "target-content");
                    case "emptydir" -> c.mkdir("t", 0711);
                    case "fulldir" -> { c.mkdir("t", 0711); c.mkfile("t/tin", "target-inner"); }
                    case "symlink" -> c.symlink("target-target", "t");
                    default -> { }
                }
                String dst = switch (t) {
                    case "self" -> "s";
                    case "cross-missing" -> "o/n";
                    case "cross-file" -> "o/f";
                    case "cross-emptydir" -> "o/d";
                    case "own-subdir" -> s.equals("fulldir") ? "s/sub/x" : "s/x";
                    default -> "t";
                };
                c.renameat2("s", dst, f);
                c.tree("", 3);
            });
        }
        add("rename/plain-dir-into-own-subdir", c -> { c.mkdir("d", 0755); c.mkdir("d/e", 0755); c.rename("d", "d/e/x"); c.rename("d", "d/e"); c.tree("", 3); });
        add("rename/plain-subdir-over-ancestor", c -> { c.mkdir("d", 0755); c.mkdir("d/e", 0755); c.rename("d/e", "d"); c.tree("", 3); });
        add("rename/plain-dots", c -> { c.mkdir("d", 0755); c.rename("d/.", "x"); c.rename("d/..", "x"); c.rename("d", "d/."); c.tree("", 2); });
        add("rename/plain-trailing-slash", c -> {
            c.mkfile("f", "x");
            c.mkdir("d", 0755);
            c.rename("f", "g/");
            c.rename("f/", "g");
            c.rename("d", "e/");
            c.rename("e/", "d/");
            c.tree("", 2);
        });
        add("rename/plain-hardlinks-of-one-inode", c -> { c.mkfile("a", "x"); c.link("a", "b"); c.rename("a", "b"); c.tree("", 1); });
        add("rename/plain-dir-nlinks", c -> {
            c.mkdir("p", 0755);
            c.mkdir("q", 0755);
            c.mkdir("p/d", 0755);
            c.rename("p/d", "q/d");
            c.lstat("p");
            c.lstat("q");
            c.mkdir("p/e", 0755);
            c.rename("q/d", "p/e");
            c.lstat("p");
            c.lstat("q");
        });
        add("rename/exchange-dirs-across-parents", c -> {
            c.mkdir("p", 0755);
            c.mkdir("q", 0755);
            c.mkdir("p/a", 0755);
            c.mkdir("p/a/x", 0755);
            c.mkfile("q/b", "file");
            c.renameat2("p/a", "q/b", RENAME_EXCHANGE);
            c.tree("", 3);
            c.content("p/a");
            c.rename("q/b/..", "z");
        });
        add("rename/many-in-one-dir", c -> {
            for (int i = 0; i < 80; i++) c.mkfile("f" + i, "n" + i);
            for (int i = 0; i < 80; i += 2) c.rename("f" + i, "g" + i);
            for (int i = 1; i < 80; i += 4) c.rename("f" + i, "g" + (i - 1));
            c.tree("", 1);
        });
    }

    private void mknodProbes() {
        Object[][] cases = {
                {"fifo", S_IFIFO | 0644, 0L}, {"chr-1-3", S_IFCHR | 0600, PosixSys.makedev(1, 3)}, {"blk-7-0", S_IFBLK | 0660, PosixSys.makedev(7, 0)},
                {"sock", S_IFSOCK | 0755, 0L}, {"reg", S_IFREG | 0600, 0L}, {"mode0", 0, 0L}, {"dir", S_IFDIR | 0755, 0L},
                {"badtype", 0170000 | 0644, 0L}, {"whiteout-0-0", S_IFCHR, 0L}, {"chr-4095-1048575", S_IFCHR | 0644, PosixSys.makedev(4095, 1048575)},
                {"blk-300-70000", S_IFBLK | 0644, PosixSys.makedev(300, 70000)}, {"fifo-07777", S_IFIFO | 07777, 0L},
                {"sock-04755", S_IFSOCK | 04755, 0L}, {"chr-255-255", S_IFCHR | 0644, PosixSys.makedev(255, 255)},
                {"chr-256-256", S_IFCHR | 0644, PosixSys.makedev(256, 256)},
        };
        for (Object[] k : cases) {
            add("mknod/" + k[0], c -> { c.mknod("n", (Integer) k[1], (Long) k[2]); c.lstat("n"); c.tree("", 1); });
        }
        add("mknod/existing", c -> { c.mknod("n", S_IFIFO | 0644, 0); c.mknod("n", S_IFIFO | 0644, 0); c.mkdir("d", 0755); c.mknod("d", S_IFCHR | 0644, 0); });
        add("mknod/missing-parent", c -> c.mknod("x/n", S_IFIFO | 0644, 0));
    }

    private void nameProbes() {
        for (String kind : new String[] {"ascii", "utf8"}) for (int extra : new int[] {0, 1}) {
            String base = kind.equals("ascii") ? "n".repeat(255) : "\u20ac".repeat(85);   // 255 bytes either way
            String name = extra == 0 ? base : base + "x";
            String tag = kind + "-" + (255 + extra);
            add("names/" + tag + "-create", c -> { c.close(c.open(name, O_WRONLY | O_CREAT | O_EXCL, 0644)); c.tree("", 1); });
            add("names/" + tag + "-mkdir", c -> { c.mkdir(name, 0755); c.tree("", 1); });
            add("names/" + tag + "-symlink", c -> { c.symlink("t", name); c.tree("", 1); });
            add("names/" + tag + "-link", c -> { c.mkfile("a", "x"); c.link("a", name); c.tree("", 1); });
            add("names/" + tag + "-rename", c -> { c.mkfile("a", "x"); c.rename("a", name); c.tree("", 1); });
            add("names/" + tag + "-mknod", c -> { c.mknod(name, S_IFIFO | 0644, 0); c.tree("", 1); });
            add("names/" + tag + "-lookup", c -> { c.lstat(name); c.unlink(name); c.rmdir(name); c.close(c.open(name, O_RDONLY, 0)); });
            add("names/" + tag + "-as-symlink-target", c -> { c.symlink(name, "l"); c.stat("l"); c.readlink("l", 4096); });
        }
    }

    private void xattrProbes() {
        for (String ty : new String[] {"file", "dir"}) {
            Map<String, XBody> xs = new TreeMap<>();
            xs.put("set-get", (c, t) -> {
                c.setx(t, "user.a", "value", 0);
                c.getx(t, "user.a", 0);
                c.getx(t, "user.a", 5);
                c.getx(t, "user.a", 4);
                c.getx(t, "user.a", 100);
            });
            xs.put("create-existing", (c, t) -> { c.setx(t, "user.a", "1", 0); c.setx(t, "user.a", "2", XATTR_CREATE); c.getx(t, "user.a", 100); });
            xs.put("replace-missing", (c, t) -> { c.setx(t, "user.a", "1", XATTR_REPLACE); c.getx(t, "user.a", 100); });
            xs.put("replace-existing", (c, t) -> { c.setx(t, "user.a", "1", 0); c.setx(t, "user.a", "second", XATTR_REPLACE); c.getx(t, "user.a", 100); });
            xs.put("create-and-replace", (c, t) -> { c.setx(t, "user.a", "1", XATTR_CREATE | XATTR_REPLACE); c.setx(t, "user.a", "1", 4); });
            xs.put("remove", (c, t) -> {
                c.setx(t, "user.a", "1", 0);
                c.removex(t, "user.a");
                c.removex(t, "user.a");
                c.getx(t, "user.a", 100);
                c.listx(t, 1000);
            });
            xs.put("list", (c, t) -> {
                c.setx(t, "user.b", "1", 0);
                c.setx(t, "user.a", "22", 0);
                c.setx(t, "trusted.c", "333", 0);
                c.listx(t, 0);
                c.listx(t, 3);
                c.listx(t, 1000);
            });
            xs.put("list-exact-size", (c, t) -> {
                c.setx(t, "user.a", "1", 0);
                c.setx(t, "user.bb", "1", 0);
                c.listx(t, 15);
                c.listx(t, 16);
            });
            xs.put("trusted", (c, t) -> { c.setx(t, "trusted.t", "tv", 0); c.getx(t, "trusted.t", 100); c.listx(t, 1000); c.removex(t, "trusted.t"); });
            xs.put("security", (c, t) -> { c.setx(t, "security.s", "sv", 0); c.getx(t, "security.s", 100); });
            xs.put("empty-value", (c, t) -> { c.setx(t, "user.e", "", 0); c.getx(t, "user.e", 0); c.getx(t, "user.e", 10); c.listx(t, 100); });
            for (int size : new int[] {100, 500, 900, 1000, 2000, 4000, 65536, 65537}) {
                xs.put("value-" + size, (c, t) -> {
                    c.setx(t, "user.big", pattern(size, 3), 0);
                    c.getx(t, "user.big", 0);
                    c.getx(t, "user.big", 70000);
                    c.setx(t, "user.small", "s", 0);
                    c.listx(t, 1000);
                });
            }
            xs.put("name-lengths", (c, t) -> {
                c.setx(t, "user." + "n".repeat(250), "v", 0);
                c.getx(t, "user." + "n".repeat(250), 10);
                c.setx(t, "user." + "n".repeat(251), "v", 0);
                c.getx(t, "user." + "n".repeat(251), 10);
                c.removex(t, "user." + "n".repeat(251));
            });
            xs.put("bad-names", (c, t) -> {
                c.setx(t, "foo.bar", "v", 0);
                c.getx(t, "foo.bar", 10);
                c.setx(t, "user.", "v", 0);
                c.setx(t, "", "v", 0);
                c.setx(t, "system.foo", "v", 0);
                c.getx(t, "system.foo", 10);
                c.removex(t, "foo.bar");
            });
            xs.put("fill", (c, t) -> {
                for (int i = 0; i < 40; i++) c.setx(t, "user.k" + i, pattern(100, i), 0);
                c.listx(t, 0);
                c.getx(t, "user.k0", 200);
            });
            xs.put("by-fd", (c, t) -> {
                int fd = c.open(t, O_RDONLY, 0);
                c.fsetx(fd, "user.f", "fdval", 0);
                c.fgetx(fd, "user.f", 100);
                c.fgetx(fd, "user.f", 2);
                c.close(fd);
                c.getx(t, "user.f", 100);
            });
            xs.put("survives-rename-and-link", (c, t) -> {
                c.setx(t, "user.keep", "kept", 0);
                c.rename(t, t + "2");
                c.getx(t + "2", "user.keep", 100);
                if (t.equals("f")) { c.link("f2", "f3"); c.getx("f3", "user.keep", 100); }
            });
            xs.put("ctime", (c, t) -> {
                PosixSys.Stat before = c.raw(t, false);
                c.pause();
                c.setx(t, "user.c", "1", 0);
                PosixSys.Stat mid = c.raw(t, false);
                c.note("ctime changed by setxattr: " + changed(before, mid));
                c.pause();
                c.removex(t, "user.c");
                c.note("ctime changed by removexattr: " + changed(mid, c.raw(t, false)));
            });
            for (var e : xs.entrySet()) {
                XBody b = e.getValue();
                add("xattr/" + ty + "-" + e.getKey(), c -> {
                    String t = ty.equals("file") ? "f" : "d";
                    if (ty.equals("file")) c.mkfile("f", "x"); else c.mkdir("d", 0755);
                    b.run(c, t);
                });
            }
        }
        add("xattr/symlink", c -> {
            c.mkfile("f", "x");
            c.symlink("f", "l");
            c.lsetx("l", "user.a", "1");
            c.lgetx("l", "user.a");
            c.setx("l", "user.a", "through", 0);
            c.getx("f", "user.a", 100);
            c.lsetx("l", "trusted.a", "1");
            c.lgetx("l", "trusted.a");
            c.llistx("l");
        });
        add("xattr/fifo-and-device", c -> {
            c.mknod("p", S_IFIFO | 0644, 0);
            c.mknod("c", S_IFCHR | 0644, PosixSys.makedev(1, 3));
            c.setx("p", "user.a", "1", 0);
            c.setx("c", "user.a", "1", 0);
            c.setx("p", "trusted.a", "1", 0);
            c.getx("p", "trusted.a", 100);
            c.lsetx("c", "trusted.b", "2");
            c.llistx("c");
        });
        add("xattr/missing", c -> { c.setx("nope", "user.a", "1", 0); c.getx("nope", "user.a", 10); c.listx("nope", 10); c.removex("nope", "user.a"); });
    }

    interface XBody { void run(Ctx c, String target) throws Exception; }

    private void aclProbes() {
        byte[] named = acl(e(ACL_USER_OBJ, 6, NOID), e(ACL_USER, 7, 1000), e(ACL_GROUP_OBJ, 4, NOID), e(ACL_MASK, 7, NOID), e(ACL_OTHER, 4, NOID));
        byte[] dflt = acl(e(ACL_USER_OBJ, 7, NOID), e(ACL_USER, 6, 1000), e(ACL_GROUP_OBJ, 5, NOID), e(ACL_GROUP, 4, 1000), e(ACL_MASK, 7, NOID), e(ACL_OTHER, 0, NOID));
        add("acl/file-named-user", c -> {
            c.mkfile("f", "x");
            c.setx("f", ACL_ACCESS, named, 0);
            c.lstat("f");
            c.getacl("f", ACL_ACCESS);
            c.listx("f", 1000);
            c.sh(false, "getfacl -n f");
        });
        add("acl/chmod-updates-mask", c -> {
            c.mkfile("f", "x");
            c.setx("f", ACL_ACCESS, named, 0);
            c.chmod("f", 0640);
            c.lstat("f");
            c.getacl("f", ACL_ACCESS);
            c.chmod("f", 0777);
            c.getacl("f", ACL_ACCESS);
            c.sh(false, "getfacl -n f");
        });
        add("acl/minimal-is-the-mode", c -> {
            c.mkfile("f", "x");
            c.setx("f", ACL_ACCESS, acl(e(ACL_USER_OBJ, 7, NOID), e(ACL_GROUP_OBJ, 5, NOID), e(ACL_OTHER, 0, NOID)), 0);
            c.lstat("f");
            c.getacl("f", ACL_ACCESS);
            c.listx("f", 1000);
        });
        add("acl/invalid", c -> {
            c.mkfile("f", "x");
            c.setx("f", ACL_ACCESS, acl(e(ACL_USER_OBJ, 7, NOID), e(ACL_USER, 7, 1000), e(ACL_GROUP_OBJ, 5, NOID), e(ACL_OTHER, 0, NOID)), 0);
            byte[] v1 = acl(e(ACL_USER_OBJ, 7, NOID), e(ACL_GROUP_OBJ, 5, NOID), e(ACL_OTHER, 0, NOID));
            v1[0] = 1;
            c.setx("f", ACL_ACCESS, v1, 0);
            c.setx("f", ACL_ACCESS, new byte[] {2, 0, 0, 0, 1, 0}, 0);
            c.setx("f", ACL_ACCESS, acl(e(ACL_USER_OBJ, 7, NOID), e(ACL_USER_OBJ, 7, NOID), e(ACL_GROUP_OBJ, 5, NOID), e(ACL_OTHER, 0, NOID)), 0);
            c.setx("f", ACL_ACCESS, acl(e(ACL_GROUP_OBJ, 5, NOID), e(ACL_USER_OBJ, 7, NOID), e(ACL_OTHER, 0, NOID)), 0);
            c.setx("f", ACL_ACCESS, acl(e(ACL_USER_OBJ, 7, NOID), e(ACL_GROUP_OBJ, 5, NOID), e(0x40, 5, NOID), e(ACL_OTHER, 0, NOID)), 0);
            c.lstat("f");
            c.getacl("f", ACL_ACCESS);
        });
        add("acl/default-on-file", c -> { c.mkfile("f", "x"); c.setx("f", ACL_DEFAULT, dflt, 0); c.getacl("f", ACL_DEFAULT); });
        add("acl/default-inheritance", c -> {
            c.mkdir("d", 0755);
            c.setx("d", ACL_DEFAULT, dflt, 0);
            c.lstat("d");
            int fd = c.open("d/f", O_WRONLY | O_CREAT, 0666);
            c.close(fd);
            c.mkdir("d/sub", 0777);
            c.mknod("d/p", S_IFIFO | 0666, 0);
            c.symlink("f", "d/l");
            for (String n : new String[] {"d/f", "d/sub", "d/p", "d/l"}) {
                c.lstat(n);
                c.getacl(n, ACL_ACCESS);
                c.getacl(n, ACL_DEFAULT);
            }
            c.sh(false, "getfacl -n d d/f d/sub d/p");
        });
        add("acl/default-mask-from-create-mode", c -> {
            c.mkdir("d", 0755);
            c.setx("d", ACL_DEFAULT, acl(e(ACL_USER_OBJ, 7, NOID), e(ACL_USER, 7, 1000), e(ACL_GROUP_OBJ, 7, NOID), e(ACL_MASK, 7, NOID), e(ACL_OTHER, 7, NOID)), 0);
            int fd = c.open("d/f", O_WRONLY | O_CREAT, 0640);
            c.close(fd);
            c.mkdir("d/s", 0750);
            c.lstat("d/f");
            c.lstat("d/s");
            c.getacl("d/f", ACL_ACCESS);
            c.getacl("d/s", ACL_ACCESS);
        });
        add("acl/minimal-default-ignores-umask", c -> {
            c.mkdir("d", 0755);
            c.setx("d", ACL_DEFAULT, acl(e(ACL_USER_OBJ, 7, NOID), e(ACL_GROUP_OBJ, 7, NOID), e(ACL_OTHER, 7, NOID)), 0);
            int fd = c.open("d/f", O_WRONLY | O_CREAT, 0666);
            c.close(fd);
            c.mkdir("d/s", 0777);
            c.lstat("d/f");
            c.lstat("d/s");
            c.getacl("d/f", ACL_ACCESS);
            c.getacl("d/s", ACL_DEFAULT);
        });
        add("acl/remove-default", c -> {
            c.mkdir("d", 0755);
            c.setx("d", ACL_DEFAULT, dflt, 0);
            c.removex("d", ACL_DEFAULT);
            c.removex("d", ACL_DEFAULT);
            int fd = c.open("d/f", O_WRONLY | O_CREAT, 0666);
            c.close(fd);
            c.lstat("d/f");
            c.getacl("d/f", ACL_ACCESS);
        });
        add("acl/remove-access", c -> {
            c.mkfile("f", "x");
            c.setx("f", ACL_ACCESS, named, 0);
            c.removex("f", ACL_ACCESS);
            c.lstat("f");
            c.getacl("f", ACL_ACCESS);
        });
        add("acl/setfacl-tool", c -> {
            c.mkfile("f", "x");
            c.mkdir("d", 0755);
            c.sh(false, "setfacl -m u:1000:rwx,g:1000:r f", "getfacl -n f", "setfacl -x u:1000 f", "getfacl -n f", "setfacl -b f", "getfacl -n f",
                    "setfacl -d -m u:1000:rx d", "getfacl -n d", "touch d/new", "getfacl -n d/new", "setfacl -k d", "getfacl -n d");
            c.lstat("f");
        });
        add("acl/none", c -> { c.mkfile("f", "x"); c.getacl("f", ACL_ACCESS); c.getacl("f", ACL_DEFAULT); c.listx("f", 100); c.removex("f", ACL_ACCESS); });
        add("acl/dir-chmod-keeps-default", c -> {
            c.mkdir("d", 0755);
            c.setx("d", ACL_ACCESS, named, 0);
            c.setx("d", ACL_DEFAULT, dflt, 0);
            c.chmod("d", 0700);
            c.lstat("d");
            c.getacl("d", ACL_ACCESS);
            c.getacl("d", ACL_DEFAULT);
        });
        add("acl/setgid-dir-with-default", c -> {
            c.mkdir("d", 0755);
            c.chown("d", 0, 1000);
            c.chmod("d", 02775);
            c.setx("d", ACL_DEFAULT, dflt, 0);
            c.mkdir("d/s", 0777);
            int fd = c.open("d/f", O_WRONLY | O_CREAT, 0666);
            c.close(fd);
            c.lstat("d/s");
            c.lstat("d/f");
            c.getacl("d/s", ACL_DEFAULT);
        });
        add("acl/chmod-setgid-with-acl", c -> {
            c.mkfile("f", "x");
            c.setx("f", ACL_ACCESS, named, 0);
            c.chmod("f", 02770);
            c.lstat("f");
            c.getacl("f", ACL_ACCESS);
        });
    }

    private void unlinkedOpenProbes() {
        add("unlinked/file", c -> {
            int fd = c.open("f", O_RDWR | O_CREAT, 0644);
            c.write(fd, "before");
            c.unlink("f");
            c.fstat(fd, false);
            c.write(fd, "-after");
            c.pread(fd, 100, 0);
            c.ftruncate(fd, 3);
            c.pwrite(fd, pattern(5000, 1), 10000);
            c.fchmod(fd, 0600);
            c.fchown(fd, 1000, 1000);
            c.futimens(fd, new long[] {100, 1, 200, 2});
            c.fsync(fd);
            c.fstat(fd, true);
            c.pread(fd, 10, 0);
            c.fsetx(fd, "user.x", "ghost", 0);
            c.fgetx(fd, "user.x", 100);
            c.close(fd);
            c.lstat("f");
        });
        add("unlinked/hardlink-kept", c -> {
            int fd = c.open("f", O_RDWR | O_CREAT, 0644);
            c.link("f", "g");
            c.unlink("f");
            c.write(fd, "via-fd");
            c.fstat(fd, false);
            c.close(fd);
            c.content("g");
            c.lstat("g");
        });
        add("unlinked/renamed-over", c -> {
            c.mkfile("t", "old-target");
            c.mkfile("s", "new-source");
            int fd = c.open("t", O_RDWR, 0);
            c.rename("s", "t");
            c.fstat(fd, false);
            c.pread(fd, 100, 0);
            c.write(fd, "X");
            c.close(fd);
            c.content("t");
        });
        add("unlinked/dir", c -> {
            c.mkdir("d", 0755);
            int fd = c.open("d", O_RDONLY | O_DIRECTORY, 0);
            c.rmdir("d");
            c.fstat(fd, false);
            c.close(fd);
            c.lstat("d");
            c.mkdir("d", 0700);
            c.lstat("d");
        });
        add("unlinked/many-open", c -> {
            int[] fds = new int[20];
            for (int i = 0; i < fds.length; i++) {
                fds[i] = c.open("f" + i, O_RDWR | O_CREAT, 0644);
                c.pwrite(fds[i], pattern(2000 * (i + 1), i), 0);
                c.unlink("f" + i);
            }
            for (int fd : fds) { c.pread(fd, 50, 1000); c.close(fd); }
            c.tree("", 1);
        });
    }

    private void readdirProbes() {
        add("readdir/mixed-types", c -> {
            c.mkfile("f", "x");
            c.mkdir("d", 0755);
            c.symlink("f", "l");
            c.mknod("p", S_IFIFO | 0644, 0);
            c.mknod("c", S_IFCHR | 0644, PosixSys.makedev(1, 3));
            c.mknod("b", S_IFBLK | 0644, PosixSys.makedev(7, 0));
            c.mknod("s", S_IFSOCK | 0644, 0);
            c.readdir("");
        });
        add("readdir/empty", c -> { c.mkdir("d", 0755); c.readdir("d"); });
        add("readdir/many", c -> {
            for (int i = 0; i < 400; i++) c.quietMkfile("file-with-a-longer-name-" + i);
            c.readdir("");
            // an indexed directory's size depends on the image's hash seed (mke2fs picks a random one): not compared
            PosixSys.Stat d = c.raw("", false);
            c.note("dir nlink=" + (d == null ? "?" : d.nlink()) + ", size a multiple of st_blksize: " + (d != null && d.size() % d.blksize() == 0));
        });
        add("readdir/after-deletions", c -> {
            for (int i = 0; i < 300; i++) c.quietMkfile("e" + i);
            for (int i = 0; i < 300; i += 3) c.unlink("e" + i);
            c.readdir("");
            for (int i = 0; i < 50; i++) c.quietMkfile("new" + i);
            c.readdir("");
        });
        add("readdir/odd-names", c -> {
            for (String n : new String[] {"with space", "new\nline", "tab\tname", "ünïcödé", "日本語", "-dash", ".hidden", "..dots", "a\\b", "*?[]"}) c.mkfile(n, n);
            c.readdir("");
        });
        add("readdir/long-names", c -> {
            for (int i = 0; i < 40; i++) c.quietMkfile(String.format("%03d", i) + "L".repeat(252));
            c.readdir("");
        });
        add("readdir/not-a-dir", c -> { c.mkfile("f", "x"); c.readdir("f"); c.readdir("missing"); });
    }

    /** Run as uid/gid 1000 (no supplementary groups): exit codes and messages of coreutils. */
    private void permissionProbes() {
        Object[][] dirs = {{"d755-root", 0755, 0, 0}, {"d777-root", 0777, 0, 0}, {"d1777-root", 01777, 0, 0}, {"d700-user", 0700, 1000, 1000},
                {"d555-user", 0555, 1000, 1000}, {"d711-root", 0711, 0, 0}, {"d733-root", 0733, 0, 0}, {"d2777-root", 02777, 0, 0}};
        Map<String, String[]> groups = new TreeMap<>();
        groups.put("read", new String[] {"cat w/f600", "cat w/f644", "cat w/u400", "cat w/sub/in", "ls w", "ls w/sub", "head -c 3 w/f666",
                "stat -c '%n %a %u %g %s %h %F' w/f644 w/u600 w/sub", "cat w/usub/in", "test -r w/f600", "test -w w/f644", "test -x w/x755"});
        groups.put("write", new String[] {"echo a >> w/f644", "echo a >> w/f666", "echo a >> w/u400", ": > w/u600", "truncate -s 2 w/f666",
                "truncate -s 100 w/f644", "cat w/f666", "stat -c '%n %a %s' w/f666 w/u600 w/f644"});
        groups.put("create", new String[] {"touch w/new", "mkdir w/newd", "ln -s x w/sl", "mkfifo w/ff", "echo hi > w/new2", "mkdir -m 2777 w/newg",
                "stat -c '%n %a %u %g %F' w/new w/newd w/new2 w/ff w/sl w/newg", "ls w", "touch w/sub/new", "touch w/usub/new"});
        groups.put("delete", new String[] {"rm -f w/f644", "rm -f w/u600", "rm -f w/ug0", "rmdir w/sub", "rm -rf w/usub", "mv w/f666 w/moved",
                "mv w/u400 w/sub/", "mv w/sub w/sub2", "ls w", "rm -f w/sub/in"});
        groups.put("meta", new String[] {"chmod 777 w/f644", "chmod 4777 w/u600", "chmod 2755 w/ug0", "stat -c '%n %a %u %g' w/u600 w/ug0 w/f644",
                "chgrp 0 w/u600", "chgrp 1000 w/u600", "chown 0 w/u600", "chown 1000 w/u600", "touch w/f666", "touch -d @1000 w/f666",
                "touch -d @1000.5 w/u600", "touch -d @1000 w/f644", "touch -a w/u400", "stat -c '%n %X %Y' w/u600", "chmod 1755 w/usub",
                "stat -c '%n %a' w/usub"});
        groups.put("link", new String[] {"ln w/f644 w/hl1", "ln w/u600 w/hl2", "ln w/f666 w/hl3", "ln w/sub w/hl4", "stat -c '%n %h' w/u600 w/f644",
                "mv w/hl2 w/sub/", "ls w"});
        groups.put("exec", new String[] {"w/x755", "w/s4777", "echo 'echo more' >> w/s4777", "stat -c '%n %a' w/s4777", "w/u600",
                "truncate -s 0 w/s2777", "stat -c '%n %a' w/s2777", "sh w/f644", "cd w/sub && pwd -P | sed 's,.*/,,'"});
        groups.put("xattr", new String[] {"setfattr -n user.a -v 1 w/f644", "setfattr -n user.a -v 1 w/f666", "setfattr -n user.a -v 1 w/u600",
                "getfattr -n user.a w/u600", "getfattr -d w/f600", "getfattr -d w/f666", "setfattr -n trusted.a -v 1 w/u600",
                "getfattr -n trusted.a w/u600", "setfattr -x user.a w/u600", "setfattr -x user.a w/f666"});
        for (Object[] d : dirs) for (var g : groups.entrySet()) {
            add("perm/" + d[0] + "-" + g.getKey(), c -> {
                c.mkdir("w", 0755);
                c.mkfileMode("w/f600", "secret\n", 0600, 0, 0);
                c.mkfileMode("w/f644", "public\n", 0644, 0, 0);
                c.mkfileMode("w/f666", "shared\n", 0666, 0, 0);
                c.mkfileMode("w/u600", "mine\n", 0600, 1000, 1000);
                c.mkfileMode("w/u400", "readonly\n", 0400, 1000, 1000);
                c.mkfileMode("w/ug0", "group zero\n", 0644, 1000, 0);
                c.mkfileMode("w/x755", "#!/bin/sh\necho ran\n", 0755, 0, 0);
                c.mkfileMode("w/s4777", "#!/bin/sh\necho setuid\n", 04777, 0, 0);
                c.mkfileMode("w/s2777", "#!/bin/sh\necho setgid\n", 02777, 0, 0);
                c.mkdir("w/sub", 0755);
                c.mkfile("w/sub/in", "inner\n");
                c.mkdir("w/usub", 0755);
                c.mkfileMode("w/usub/in", "user inner\n", 0644, 1000, 1000);
                c.chown("w/usub", 1000, 1000);
                c.chown("w", (Integer) d[2], (Integer) d[3]);
                c.chmod("w", (Integer) d[1]);
                c.sh(true, g.getValue());
                c.tree("w", 2);
            });
        }
        add("perm/acl-named-user", c -> {
            c.mkfileMode("f", "acl\n", 0600, 0, 0);
            c.setx("f", ACL_ACCESS, acl(e(ACL_USER_OBJ, 6, NOID), e(ACL_USER, 6, 1000), e(ACL_GROUP_OBJ, 0, NOID), e(ACL_MASK, 6, NOID), e(ACL_OTHER, 0, NOID)), 0);
            c.mkfileMode("g", "masked\n", 0600, 0, 0);
            c.setx("g", ACL_ACCESS, acl(e(ACL_USER_OBJ, 6, NOID), e(ACL_USER, 6, 1000), e(ACL_GROUP_OBJ, 0, NOID), e(ACL_MASK, 4, NOID), e(ACL_OTHER, 0, NOID)), 0);
            c.mkfileMode("h", "group\n", 0600, 0, 0);
            c.setx("h", ACL_ACCESS, acl(e(ACL_USER_OBJ, 6, NOID), e(ACL_GROUP_OBJ, 0, NOID), e(ACL_GROUP, 4, 1000), e(ACL_MASK, 4, NOID), e(ACL_OTHER, 0, NOID)), 0);
            c.sh(true, "cat f", "echo more >> f", "cat g", "echo more >> g", "cat h", "echo more >> h", "setfacl -m u:1000:rwx f", "chmod 777 f");
            c.content("f");
        });
        add("perm/acl-dir", c -> {
            c.mkdir("d", 0750);
            c.setx("d", ACL_ACCESS, acl(e(ACL_USER_OBJ, 7, NOID), e(ACL_USER, 7, 1000), e(ACL_GROUP_OBJ, 5, NOID), e(ACL_MASK, 7, NOID), e(ACL_OTHER, 0, NOID)), 0);
            c.setx("d", ACL_DEFAULT, acl(e(ACL_USER_OBJ, 7, NOID), e(ACL_USER, 7, 1000), e(ACL_GROUP_OBJ, 5, NOID), e(ACL_MASK, 7, NOID), e(ACL_OTHER, 0, NOID)), 0);
            c.mkdir("e", 0750);
            c.setx("e", ACL_ACCESS, acl(e(ACL_USER_OBJ, 7, NOID), e(ACL_USER, 7, 1000), e(ACL_GROUP_OBJ, 5, NOID), e(ACL_MASK, 5, NOID), e(ACL_OTHER, 0, NOID)), 0);
            c.sh(true, "touch d/mine", "ls d", "stat -c '%n %a %u %g' d/mine", "getfacl -n d/mine", "touch e/x", "ls e", "rm -f d/mine");
        });
        add("perm/setgid-dir-inheritance", c -> {
            c.mkdir("g", 0777);
            c.chown("g", 0, 0);
            c.chmod("g", 02777);
            c.sh(true, "touch g/f", "mkdir g/d", "mkdir -m 0755 g/e", "stat -c '%n %a %u %g' g/f g/d g/e", "chmod 2755 g/f", "stat -c '%n %a' g/f",
                    "chmod g-s g/d", "stat -c '%n %a' g/d");
        });
        add("perm/root-owned-mountpoint-level", c -> c.sh(true, "touch x", "mkdir y", "ls -d .", "stat -c '%a %u %g' ."));
        add("perm/write-clears-setid", c -> {
            c.mkfileMode("s", "x\n", 06777, 0, 0);
            c.mkfileMode("t", "x\n", 06777, 1000, 1000);
            c.mkfileMode("u", "x\n", 02767, 0, 0);
            c.sh(true, "echo y >> s", "stat -c '%n %a' s", "echo y >> t", "stat -c '%n %a' t", "echo y >> u", "stat -c '%n %a' u",
                    "truncate -s 1 s", "stat -c '%n %a' s");
            c.lstat("s");
            c.lstat("t");
            c.lstat("u");
        });
        add("perm/unprivileged-umask-and-create-modes", c -> {
            c.chmod("", 0777);
            c.sh(true, "umask 027; touch a; mkdir b; mkfifo c", "umask 0; touch d; mkdir e", "stat -c '%n %a %u %g %F' a b c d e",
                    "chmod u+s a", "chmod g+s a", "stat -c '%n %a' a");
        });
    }

    // ---------------------------------------------------------------- one side's calls, recorded

    static final class Ctx {
        final String dir;
        final boolean kernel;
        final List<String> out = new ArrayList<>();
        int calls, answered;
        final Set<Integer> fds = new java.util.HashSet<>();

        Ctx(String dir, boolean kernel) { this.dir = dir; this.kernel = kernel; }

        String p(String rel) { return rel.isEmpty() ? dir : dir + "/" + rel; }

        long r(String call, long rc) {
            calls++;
            if (rc >= 0) answered++;
            out.add(call + " = " + show(rc));
            return rc;
        }

        void note(String s) { out.add("  " + s); }

        void pause() throws InterruptedException { Thread.sleep(15); }

        int open(String rel, int flags, int mode) {
            int fd = PosixSys.open(p(rel), flags, mode);
            calls++;
            if (fd >= 0) { answered++; fds.add(fd); }
            out.add("open " + show(rel) + " " + flagNames(flags) + ((flags & O_CREAT) != 0 ? " 0" + Integer.toOctalString(mode) : "") + " = "
                    + (fd >= 0 ? "fd" : show(fd)));
            return fd;
        }

        void close(int fd) { if (fd >= 0) { fds.remove(fd); r("close", PosixSys.close(fd)); } }

        /** After the probe: descriptors it left open (a probe bug; a busy mount could not be unmounted). */
        void closeLeftovers() {
            for (int fd : fds) { PosixSys.close(fd); out.add("left open: an fd (closed after the probe)"); }
            fds.clear();
        }
        void fsync(int fd) { r("fsync", PosixSys.fsync(fd)); }
        void write(int fd, String s) { r("write " + show(s), PosixSys.write(fd, s.getBytes(StandardCharsets.UTF_8))); }
        void pwrite(int fd, byte[] b, long off) { r("pwrite " + b.length + "B@" + off, PosixSys.pwrite(fd, b, off)); }
        void lseek(int fd, long off, int whence) { r("lseek " + off + " " + whenceName(whence), PosixSys.lseek(fd, off, whence)); }
        void ftruncate(int fd, long len) { r("ftruncate " + len, PosixSys.ftruncate(fd, len)); }
        void truncate(String rel, long len) { r("truncate " + show(rel) + " " + len, PosixSys.truncate(p(rel), len)); }
        void fallocate(int fd, int mode, long off, long len) { r("fallocate " + fallocName(mode) + " " + off + "+" + len, PosixSys.fallocate(fd, mode, off, len)); }

        void read(int fd, int n) {
            PosixSys.Res res = PosixSys.read(fd, n);
            r("read " + n, res.rc());
            if (res.rc() > 0) note("data " + summary(res.data()));
        }

        void pread(int fd, int n, long off) {
            PosixSys.Res res = PosixSys.pread(fd, n, off);
            r("pread " + n + "@" + off, res.rc());
            if (res.rc() > 0) note("data " + summary(res.data()));
        }

        void mkdir(String rel, int mode) { r("mkdir " + show(rel) + " 0" + Integer.toOctalString(mode), PosixSys.mkdir(p(rel), mode)); }
        void rmdir(String rel) { r("rmdir " + show(rel), PosixSys.rmdir(p(rel))); }
        void unlink(String rel) { r("unlink " + show(rel), PosixSys.unlink(p(rel))); }
        void link(String from, String to) { r("link " + show(from) + " " + show(to), PosixSys.link(p(from), p(to))); }
        void symlink(String target, String rel) { r("symlink " + show(target) + " " + show(rel), PosixSys.symlink(target, p(rel))); }
        void rename(String from, String to) { r("rename " + show(from) + " " + show(to), PosixSys.rename(p(from), p(to))); }
        void renameat2(String from, String to, int flags) { r("renameat2 " + show(from) + " " + show(to) + " " + renameName(flags), PosixSys.renameat2(p(from), p(to), flags)); }
        void mknod(String rel, int mode, long dev) {
            r("mknod " + show(rel) + " 0" + Integer.toOctalString(mode) + " " + ((dev >>> 8) & 0xfff) + ":" + ((dev & 0xff) | ((dev >>> 12) & 0xfff00)),
                    PosixSys.mknod(p(rel), mode, dev));
        }
        void chmod(String rel, int mode) { r("chmod " + show(rel) + " 0" + Integer.toOctalString(mode), PosixSys.chmod(p(rel), mode)); }
        void fchmod(int fd, int mode) { r("fchmod 0" + Integer.toOctalString(mode), PosixSys.fchmod(fd, mode)); }
        void chown(String rel, int uid, int gid) { r("chown " + show(rel) + " " + uid + ":" + gid, PosixSys.chown(p(rel), uid, gid)); }
        void lchown(String rel, int uid, int gid) { r("lchown " + show(rel) + " " + uid + ":" + gid, PosixSys.lchown(p(rel), uid, gid)); }
        void fchown(int fd, int uid, int gid) { r("fchown " + uid + ":" + gid, PosixSys.fchown(fd, uid, gid)); }
        void utimensat(String rel, long[] t, int flags) {
            r("utimensat " + show(rel) + " " + (t == null ? "NULL" : timeName(t)) + (flags != 0 ? " flags=0x" + Integer.toHexString(flags) : ""),
                    PosixSys.utimensat(p(rel), t, flags));
        }
        void futimens(int fd, long[] t) { r("futimens " + (t == null ? "NULL" : timeName(t)), PosixSys.futimens(fd, t)); }

        void readlink(String rel, int size) {
            PosixSys.Res res = PosixSys.readlink(p(rel), size);
            r("readlink " + show(rel) + " buf=" + size, res.rc());
            if (res.rc() > 0) note("target " + summary(res.data()));
        }

        void setx(String rel, String name, String v, int flags) { setx(rel, name, v.getBytes(StandardCharsets.UTF_8), flags); }
        void setx(String rel, String name, byte[] v, int flags) {
            r("setxattr " + show(rel) + " " + show(name) + " " + valueName(name, v) + (flags != 0 ? " flags=" + flags : ""), PosixSys.setxattr(p(rel), name, v, flags, true));
        }
        void lsetx(String rel, String name, String v) { r("lsetxattr " + show(rel) + " " + show(name), PosixSys.setxattr(p(rel), name, v.getBytes(StandardCharsets.UTF_8), 0, false)); }
        void fsetx(int fd, String name, String v, int flags) { r("fsetxattr " + show(name), PosixSys.fsetxattr(fd, name, v.getBytes(StandardCharsets.UTF_8), flags)); }
        void getx(String rel, String name, int size) {
            PosixSys.Res res = PosixSys.getxattr(p(rel), name, size, true);
            r("getxattr " + show(rel) + " " + show(name) + " buf=" + size, res.rc());
            if (res.rc() > 0 && size > 0) note("value " + valueName(name, res.data()));
        }
        void lgetx(String rel, String name) {
            PosixSys.Res res = PosixSys.getxattr(p(rel), name, 100, false);
            r("lgetxattr " + show(rel) + " " + show(name), res.rc());
            if (res.rc() > 0) note("value " + summary(res.data()));
        }
        void fgetx(int fd, String name, int size) {
            PosixSys.Res res = PosixSys.fgetxattr(fd, name, size);
            r("fgetxattr " + show(name) + " buf=" + size, res.rc());
            if (res.rc() > 0 && size > 0) note("value " + summary(res.data()));
        }
        void getacl(String rel, String name) { getx(rel, name, 1000); }
        void listx(String rel, int size) {
            PosixSys.Res res = PosixSys.listxattr(p(rel), size, true);
            r("listxattr " + show(rel) + " buf=" + size, res.rc());
            if (res.rc() > 0 && size > 0) note("names " + names(res.data()));
        }
        void llistx(String rel) {
            PosixSys.Res res = PosixSys.listxattr(p(rel), 1000, false);
            r("llistxattr " + show(rel), res.rc());
            if (res.rc() > 0) note("names " + names(res.data()));
        }
        void removex(String rel, String name) { r("removexattr " + show(rel) + " " + show(name), PosixSys.removexattr(p(rel), name, true)); }

        void statfs(String rel) {
            Object[] s = PosixSys.statfs(p(rel));
            r("statfs", (Long) s[0]);
            if (s[1] instanceof PosixSys.StatFs f) note("bsize=" + f.bsize() + " frsize=" + f.frsize() + " namelen=" + f.namelen() + " files=" + f.files());
        }

        /** A file with content, mode 0644 (after umask), recorded as one line. */
        void mkfile(String rel, String content) { mkfile(rel, content.getBytes(StandardCharsets.UTF_8)); }
        void mkfile(String rel, byte[] content) {
            int fd = PosixSys.open(p(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            calls++;
            long rc = fd;
            if (fd >= 0) {
                rc = PosixSys.write(fd, content);
                calls += 2;
                PosixSys.close(fd);
            }
            r("mkfile " + show(rel) + " " + content.length + "B", rc < 0 ? rc : 0);
        }
        void mkfileMode(String rel, String content, int mode, int uid, int gid) {
            mkfile(rel, content);
            chown(rel, uid, gid);
            chmod(rel, mode);
        }
        /** Created and not recorded one by one (directory-size probes); failures are. */
        void quietMkfile(String rel) {
            int fd = PosixSys.open(p(rel), O_WRONLY | O_CREAT | O_EXCL, 0644);
            calls++;
            if (fd >= 0) { answered++; calls++; PosixSys.close(fd); } else out.add("create " + show(rel) + " = " + show(fd));
        }

        PosixSys.Stat raw(String rel, boolean follow) {
            calls++;
            Object[] s = PosixSys.stat(p(rel), follow);
            return (PosixSys.Stat) s[1];
        }

        long rawSize(int fd) {
            calls++;
            Object[] s = PosixSys.fstat(fd);
            return s[1] == null ? -1 : ((PosixSys.Stat) s[1]).size();
        }

        void lstat(String rel) { stat(rel, false, "lstat"); }
        void stat(String rel) { stat(rel, true, "stat"); }

        private void stat(String rel, boolean follow, String what) {
            Object[] s = PosixSys.stat(p(rel), follow);
            r(what + " " + show(rel), (Long) s[0]);
            if (s[1] instanceof PosixSys.Stat st) note(fmt(st, (st.mode() & S_IFMT) != S_IFREG));
        }

        /** lstat with st_blocks of a regular file, after an fsync. */
        void statSynced(String rel) {
            int fd = PosixSys.open(p(rel), O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0);
            calls++;
            if (fd >= 0) { PosixSys.fsync(fd); PosixSys.close(fd); calls += 2; }
            Object[] s = PosixSys.stat(p(rel), false);
            r("lstat(synced) " + show(rel), (Long) s[0]);
            if (s[1] instanceof PosixSys.Stat st) {
                note(fmt(st, true));
                if ((st.mode() & S_IFMT) == S_IFREG) forced(PosixSys.statx(PosixSys.AT_FDCWD, p(rel), PosixSys.AT_SYMLINK_NOFOLLOW | PosixSys.AT_STATX_FORCE_SYNC));
            }
        }

        /** statx with AT_STATX_FORCE_SYNC: the attributes asked afresh of the filesystem, past any cache. */
        private void forced(Object[] sx) {
            calls++;
            note("statx(FORCE_SYNC) " + (sx[1] instanceof PosixSys.Statx x ? "size=" + x.size() + " blocks=" + x.blocks() : show((Long) sx[0])));
        }

        void fstat(int fd, boolean blocks) {
            Object[] s = PosixSys.fstat(fd);
            r("fstat", (Long) s[0]);
            if (s[1] instanceof PosixSys.Stat st) {
                note(fmt(st, blocks || (st.mode() & S_IFMT) != S_IFREG));
                if (blocks && (st.mode() & S_IFMT) == S_IFREG) forced(PosixSys.statx(fd, "", PosixSys.AT_EMPTY_PATH | PosixSys.AT_STATX_FORCE_SYNC));
            }
        }

        void fstatPath(String rel, int flags) {
            int fd = open(rel, flags, 0);
            if (fd >= 0) { fstat(fd, false); close(fd); }
        }

        void sameIno(String a, String b) {
            PosixSys.Stat x = raw(a, false), y = raw(b, false);
            note(a + " and " + b + " are one inode: " + (x != null && y != null && x.ino() == y.ino()));
        }

        /** Dirty pages written back and clean ones dropped, so SEEK_DATA sees the extents alone. */
        void dropCache(int fd) {
            calls += 2;
            PosixSys.fsync(fd);
            PosixSys.fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        }

        /** The data and hole segments SEEK_DATA/SEEK_HOLE report, from 0 to the size. */
        void seekMap(int fd) {
            dropCache(fd);
            long size = rawSize(fd);
            StringBuilder sb = new StringBuilder();
            long pos = 0;
            for (int i = 0; i < 64 && pos < size; i++) {
                long d = PosixSys.lseek(fd, pos, SEEK_DATA);
                calls++;
                if (d < 0) { sb.append(" data@").append(pos).append('=').append(show(d)); break; }
                long h = PosixSys.lseek(fd, d, SEEK_HOLE);
                calls++;
                if (h < 0) { sb.append(" hole@").append(d).append('=').append(show(h)); break; }
                sb.append(" [").append(d).append(',').append(h).append(')');
                if (h <= d) break;
                pos = h;
            }
            note("data segments" + (sb.length() == 0 ? " none" : sb) + " size " + size);
        }

        /** The bytes of a (followed) file: all of it up to 4 MiB, else its data segments. */
        void content(String rel) {
            int fd = PosixSys.open(p(rel), O_RDONLY | O_NONBLOCK, 0);
            calls++;
            if (fd < 0) { out.add("content " + show(rel) + " = " + show(fd)); return; }
            out.add("content " + show(rel) + " = " + contentOf(fd));
            PosixSys.close(fd);
            calls++;
        }

        String contentOf(int fd) {
            long size = rawSize(fd);
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            if (size <= (4 << 20)) {
                while (true) {
                    PosixSys.Res res = PosixSys.read(fd, 1 << 16);
                    calls++;
                    if (res.rc() < 0) return "read " + show(res.rc());
                    if (res.rc() == 0) break;
                    all.writeBytes(res.data());
                }
                return summary(all.toByteArray());
            }
            // the nonzero KiB chunks and their offsets: which zeros are allocated is for st_blocks to tell
            StringBuilder sb = new StringBuilder(size + "B sparse, nonzero KiB at");
            MessageDigest md;
            try { md = MessageDigest.getInstance("SHA-256"); } catch (java.security.NoSuchAlgorithmException e) { throw new AssertionError(e); }
            long pos = 0, runStart = -1, runEnd = -1;
            for (int i = 0; i < 64 && pos < size; i++) {
                long d = PosixSys.lseek(fd, pos, SEEK_DATA), h = d < 0 ? -1 : PosixSys.lseek(fd, d, SEEK_HOLE);
                calls += 2;
                if (d < 0 || h <= d) break;
                for (long off = d; off < h && off < d + (4 << 20); off += 1 << 20) {
                    PosixSys.Res res = PosixSys.pread(fd, (int) Math.min(h - off, 1 << 20), off);
                    calls++;
                    if (res.rc() < 0) return sb + " read " + show(res.rc());
                    byte[] b = res.data();
                    for (int k = 0; k < b.length; k += 1024) {
                        int n = Math.min(1024, b.length - k);
                        boolean zero = true;
                        for (int j = k; j < k + n && zero; j++) zero = b[j] == 0;
                        if (zero) continue;
                        long at = off + k;
                        md.update(ByteBuffer.allocate(8).putLong(at).array());
                        md.update(b, k, n);
                        if (at != runEnd) { if (runStart >= 0) sb.append(" [").append(runStart).append(',').append(runEnd).append(')'); runStart = at; }
                        runEnd = at + n;
                    }
                }
                pos = h;
            }
            if (runStart >= 0) sb.append(" [").append(runStart).append(',').append(runEnd).append(')');
            sb.append(" sha ").append(HexFormat.of().formatHex(md.digest(), 0, 6));
            return sb.toString();
        }

        void readdir(String rel) {
            Object[] rd = PosixSys.readdir(p(rel));
            r("readdir " + show(rel), (Long) rd[0]);
            if (rd[1] instanceof List<?> l) {
                List<String> names = new ArrayList<>();
                for (Object o : l) { PosixSys.Dirent d = (PosixSys.Dirent) o; names.add(show(d.name()) + ":" + d.type()); }
                java.util.Collections.sort(names);
                note(names.size() + " entries " + (names.size() > 60 ? "sha " + sha(String.join("/", names).getBytes(StandardCharsets.UTF_8)) : names));
            }
        }

        /** Everything under rel (sorted): type, mode, links, owner, size, device, link target, bytes, xattrs, d_type. */
        void tree(String rel, int depth) {
            PosixSys.Stat self = raw(rel, false);
            out.add("tree " + (rel.isEmpty() ? "." : show(rel)) + (self == null ? " missing" : " " + fmt(self, true)));
            if (self == null || (self.mode() & S_IFMT) != S_IFDIR) return;
            Map<String, String> m = new TreeMap<>();
            walk(rel, depth, m, false);
            for (var e : m.entrySet()) out.add("  " + show(e.getKey()) + " " + e.getValue());
        }

        /**
         * Into m, path (relative to this context) to description. finalTree: as the final comparison
         * wants it, directories without size and blocks (how a directory grows is the
         * implementation's: htree or linear, which block it splits), regular files with blocks.
         */
        void walk(String rel, int depth, Map<String, String> m, boolean finalTree) {
            Object[] rd = PosixSys.readdir(p(rel));
            calls++;
            if (!(rd[1] instanceof List<?> l)) { m.put(rel.isEmpty() ? "." : show(rel), "readdir = " + show((Long) rd[0])); return; }
            TreeMap<String, Integer> names = new TreeMap<>();
            for (Object o : l) { PosixSys.Dirent d = (PosixSys.Dirent) o; if (!d.name().equals(".") && !d.name().equals("..")) names.put(d.name(), d.type()); }
            for (var e : names.entrySet()) {
                String r = rel.isEmpty() ? e.getKey() : rel + "/" + e.getKey();
                String key = r;
                PosixSys.Stat s = raw(r, false);
                if (s == null) { m.put(key, "vanished"); continue; }
                int type = s.mode() & S_IFMT;
                String desc = fmt(s, type != S_IFREG || finalTree);
                if (finalTree && type == S_IFDIR) desc = desc.replaceAll(" size=\\d+ blocks=\\d+", "");
                StringBuilder line = new StringBuilder(desc);
                if (e.getValue() != (type >>> 12)) line.append(" d_type=").append(e.getValue());
                if (type == S_IFLNK) {
                    PosixSys.Res t = PosixSys.readlink(p(r), 8192);
                    calls++;
                    line.append(" -> ").append(t.rc() < 0 ? show(t.rc()) : summary(t.data()));
                } else if (type == S_IFREG) {
                    int fd = PosixSys.open(p(r), O_RDONLY | O_NOFOLLOW, 0);
                    calls++;
                    line.append(" = ").append(fd < 0 ? show(fd) : contentOf(fd));
                    if (fd >= 0) { PosixSys.close(fd); calls++; }
                }
                line.append(xattrs(r));
                m.put(key, line.toString());
                if (type == S_IFDIR && depth > 1) walk(r, depth - 1, m, finalTree);
            }
        }

        /** Every xattr of rel (not following a symlink), all namespaces, sorted; "" when none. */
        String xattrs(String rel) {
            PosixSys.Res list = PosixSys.listxattr(p(rel), 65536, false);
            calls++;
            if (list.rc() < 0) return " xattrs " + show(list.rc());
            if (list.rc() == 0) return "";
            StringBuilder sb = new StringBuilder(" xattrs{");
            List<String> ns = new ArrayList<>(List.of(new String(list.data(), StandardCharsets.UTF_8).split("\0")));
            ns.removeIf(String::isEmpty);
            java.util.Collections.sort(ns);
            for (String n : ns) {
                PosixSys.Res v = PosixSys.getxattr(p(rel), n, 65536, false);
                calls++;
                sb.append(n).append('=').append(v.rc() < 0 ? show(v.rc()) : valueName(n, v.data())).append("; ");
            }
            return sb.append('}').toString();
        }

        /** Commands through sh: as root, or as uid/gid 1000 without groups; each one's output and exit code. */
        void sh(boolean unprivileged, String... cmds) throws IOException, InterruptedException {
            StringBuilder script = new StringBuilder("umask 022\n");
            // the marker on a line of its own, even after output without a final newline
            for (String cmd : cmds) script.append("( ").append(cmd).append(" ) 2>&1; rc=$?; echo; echo \"@@ $rc\"\n");
            List<String> argv = new ArrayList<>();
            if (unprivileged) argv.addAll(List.of("setpriv", "--reuid=1000", "--regid=1000", "--clear-groups"));
            argv.addAll(List.of("sh", "-c", script.toString()));
            ProcessBuilder pb = new ProcessBuilder(argv).directory(new java.io.File(dir)).redirectErrorStream(true);
            pb.environment().put("LC_ALL", "C");
            Process proc = pb.start();
            String text = new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!proc.waitFor(60, TimeUnit.SECONDS)) { proc.destroyForcibly(); out.add("sh timed out"); return; }
            text = text.replace(dir, "<dir>");
            String[] lines = text.split("\n", -1);
            int i = 0;
            for (String cmd : cmds) {
                StringBuilder got = new StringBuilder();
                String rc = "?";
                List<String> mine = new ArrayList<>();
                for (; i < lines.length; i++) {
                    if (lines[i].startsWith("@@ ")) { rc = lines[i].substring(3); i++; break; }
                    mine.add(lines[i]);
                }
                if (!mine.isEmpty() && mine.getLast().isEmpty()) mine.removeLast();     // the echo before the marker
                for (String l : mine) got.append(got.length() > 0 ? " | " : "").append(l);
                calls++;
                if (rc.equals("0")) answered++;
                out.add((unprivileged ? "uid1000$ " : "root$ ") + cmd + " -> exit " + rc + (got.length() > 0 ? ": " + got : ""));
            }
        }
    }

    // ---------------------------------------------------------------- formatting

    static String fmt(PosixSys.Stat s, boolean blocks) {
        int type = s.mode() & S_IFMT;
        StringBuilder b = new StringBuilder(typeName(type)).append(" 0").append(Integer.toOctalString(s.mode() & 07777))
                .append(" nlink=").append(s.nlink()).append(" uid=").append(s.uid()).append(" gid=").append(s.gid()).append(" size=").append(s.size());
        if (blocks) b.append(" blocks=").append(s.blocks());
        b.append(" blksize=").append(s.blksize());
        if (type == S_IFCHR || type == S_IFBLK) b.append(" rdev=").append(s.major()).append(':').append(s.minor());
        return b.toString();
    }

    static String typeName(int type) {
        return switch (type) {
            case S_IFREG -> "file";
            case S_IFDIR -> "dir";
            case S_IFLNK -> "symlink";
            case S_IFIFO -> "fifo";
            case S_IFCHR -> "chr";
            case S_IFBLK -> "blk";
            case S_IFSOCK -> "sock";
            default -> "type0" + Integer.toOctalString(type);
        };
    }

    static boolean changed(PosixSys.Stat before, PosixSys.Stat after) {
        if (before == null || after == null) return false;
        return before.ctime() != after.ctime() || before.ctimeNs() != after.ctimeNs();
    }

    /** A time as the probes compare it: the preset values, "now" (within 10 s of the clock), or exact. */
    static String timeClass(long sec, long ns) {
        if (sec == 500000000L && ns == 1) return "preset-atime";
        if (sec == 600000000L && ns == 2) return "preset-mtime";
        if (Math.abs(sec - System.currentTimeMillis() / 1000) <= 10) return "now";
        return sec + "." + String.format("%09d", ns);
    }

    static String timeName(long[] t) { return "{" + tsName(t[0], t[1]) + ", " + tsName(t[2], t[3]) + "}"; }

    static String tsName(long s, long ns) {
        if (ns == PosixSys.UTIME_NOW) return "NOW";
        if (ns == PosixSys.UTIME_OMIT) return "OMIT";
        return s + "." + ns;
    }

    static String flagNames(int f) {
        List<String> n = new ArrayList<>();
        n.add(switch (f & 3) { case O_WRONLY -> "WRONLY"; case O_RDWR -> "RDWR"; default -> "RDONLY"; });
        if ((f & O_PATH) != 0) { n.set(0, "PATH"); }
        String[] names = {"CREAT", "EXCL", "TRUNC", "APPEND", "NONBLOCK", "DIRECTORY", "NOFOLLOW"};
        int[] bits = {O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_NONBLOCK, O_DIRECTORY, O_NOFOLLOW};
        for (int i = 0; i < bits.length; i++) if ((f & bits[i]) != 0) n.add(names[i]);
        return String.join("+", n);
    }

    static String fallocName(int m) {
        if (m == 0) return "DEFAULT";
        List<String> n = new ArrayList<>();
        String[] names = {"KEEP_SIZE", "PUNCH_HOLE", "COLLAPSE_RANGE", "ZERO_RANGE", "INSERT_RANGE", "UNSHARE_RANGE"};
        int[] bits = {FALLOC_KEEP_SIZE, FALLOC_PUNCH_HOLE, FALLOC_COLLAPSE_RANGE, FALLOC_ZERO_RANGE, FALLOC_INSERT_RANGE, FALLOC_UNSHARE_RANGE};
        for (int i = 0; i < bits.length; i++) if ((m & bits[i]) != 0) n.add(names[i]);
        return String.join("+", n);
    }

    static String renameName(int f) {
        if (f == 0) return "0";
        List<String> n = new ArrayList<>();
        if ((f & RENAME_NOREPLACE) != 0) n.add("NOREPLACE");
        if ((f & RENAME_EXCHANGE) != 0) n.add("EXCHANGE");
        if ((f & RENAME_WHITEOUT) != 0) n.add("WHITEOUT");
        if ((f & ~7) != 0) n.add("0x" + Integer.toHexString(f & ~7));
        return String.join("+", n);
    }

    static String whenceName(int w) {
        return switch (w) { case SEEK_SET -> "SET"; case SEEK_CUR -> "CUR"; case SEEK_END -> "END"; case SEEK_DATA -> "DATA"; case SEEK_HOLE -> "HOLE"; default -> "whence" + w; };
    }

    static String show(long rc) { return rc >= 0 ? Long.toString(rc) : errno((int) -rc); }

    /** A name or string, shortened when long. */
    static String show(String s) {
        String e = s.replace("\n", "\\n").replace("\t", "\\t");
        if (e.length() <= 100) return "'" + e + "'";
        return "'" + e.substring(0, 12) + "...'(" + s.getBytes(StandardCharsets.UTF_8).length + "B sha " + sha(s.getBytes(StandardCharsets.UTF_8)) + ")";
    }

    static String valueName(String name, byte[] v) {
        if (name.startsWith("system.posix_acl")) return aclText(v);
        return summary(v);
    }

    static String names(byte[] list) {
        List<String> n = new ArrayList<>(List.of(new String(list, StandardCharsets.UTF_8).split("\0")));
        n.removeIf(String::isEmpty);
        java.util.Collections.sort(n);
        return n.toString();
    }

    /** Short byte strings as text, longer ones as length, sha and a per-KiB map of zero ("0") and nonzero ("x") runs. */
    static String summary(byte[] b) {
        boolean text = b.length <= 48;
        for (byte x : b) if (x < 32 || x > 126) { text = false; break; }
        if (text) return "\"" + new String(b, StandardCharsets.ISO_8859_1) + "\"";
        StringBuilder map = new StringBuilder();
        char run = 0;
        int count = 0;
        for (int off = 0; off < b.length; off += 1024) {
            boolean zero = true;
            for (int i = off; i < Math.min(b.length, off + 1024) && zero; i++) zero = b[i] == 0;
            char ch = zero ? '0' : 'x';
            if (ch == run) count++;
            else {
                if (count > 0) map.append(run).append(count).append(' ');
                run = ch;
                count = 1;
            }
        }
        if (count > 0) map.append(run).append(count);
        return b.length + "B sha " + sha(b) + " KiB map " + map.toString().trim();
    }

    static String sha(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b), 0, 6);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) (1 + Math.floorMod(i * 131 + seed * 17 + (i >>> 9), 251));
        return b;
    }

    static int[] e(int tag, int perm, int id) { return new int[] {tag, perm, id}; }

    /** A POSIX ACL in its xattr form: version 2, then (tag, perm, id) entries, little-endian. */
    static byte[] acl(int[]... entries) {
        ByteBuffer b = ByteBuffer.allocate(4 + 8 * entries.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(2);
        for (int[] en : entries) b.putShort((short) en[0]).putShort((short) en[1]).putInt(en[2]);
        return b.array();
    }

    static String aclText(byte[] v) {
        if (v.length < 4 || (v.length - 4) % 8 != 0) return "acl? " + HexFormat.of().formatHex(v);
        ByteBuffer b = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
        StringBuilder sb = new StringBuilder("acl v").append(b.getInt(0)).append(' ');
        for (int off = 4; off < v.length; off += 8) {
            int tag = b.getShort(off) & 0xffff, perm = b.getShort(off + 2) & 0xffff, id = b.getInt(off + 4);
            String t = switch (tag) { case ACL_USER_OBJ -> "u:"; case ACL_USER -> "u:" + id; case ACL_GROUP_OBJ -> "g:"; case ACL_GROUP -> "g:" + id;
                case ACL_MASK -> "m:"; case ACL_OTHER -> "o:"; default -> "tag" + tag + ":" + id; };
            sb.append(off > 4 ? "," : "").append(t).append(':').append((perm & 4) != 0 ? 'r' : '-').append((perm & 2) != 0 ? 'w' : '-').append((perm & 1) != 0 ? 'x' : '-');
        }
        return sb.toString();
    }

    static String errno(int e) {
        String n = ERRNO.get(e);
        return n != null ? n : "E" + e;
    }

    static final Map<Integer, String> ERRNO = Map.ofEntries(
            Map.entry(1, "EPERM"), Map.entry(2, "ENOENT"), Map.entry(4, "EINTR"), Map.entry(5, "EIO"), Map.entry(6, "ENXIO"), Map.entry(7, "E2BIG"),
            Map.entry(9, "EBADF"), Map.entry(11, "EAGAIN"), Map.entry(12, "ENOMEM"), Map.entry(13, "EACCES"), Map.entry(14, "EFAULT"),
            Map.entry(16, "EBUSY"), Map.entry(17, "EEXIST"), Map.entry(18, "EXDEV"), Map.entry(19, "ENODEV"), Map.entry(20, "ENOTDIR"),
            Map.entry(21, "EISDIR"), Map.entry(22, "EINVAL"), Map.entry(24, "EMFILE"), Map.entry(25, "ENOTTY"), Map.entry(26, "ETXTBSY"),
            Map.entry(27, "EFBIG"), Map.entry(28, "ENOSPC"), Map.entry(29, "ESPIPE"), Map.entry(30, "EROFS"), Map.entry(31, "EMLINK"),
            Map.entry(34, "ERANGE"), Map.entry(36, "ENAMETOOLONG"), Map.entry(38, "ENOSYS"), Map.entry(39, "ENOTEMPTY"), Map.entry(40, "ELOOP"),
            Map.entry(61, "ENODATA"), Map.entry(75, "EOVERFLOW"), Map.entry(95, "EOPNOTSUPP"), Map.entry(117, "EUCLEAN"), Map.entry(122, "EDQUOT"));
}
