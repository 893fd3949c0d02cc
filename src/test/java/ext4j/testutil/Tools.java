package ext4j.testutil;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the external oracles (mke2fs, debugfs, e2fsck, mount) for tests, skipping cleanly where absent. */
public final class Tools {
    private Tools() {}

    public record Result(int exit, String out) {}

    public static Result run(List<String> cmd) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new IOException(e.getMessage() + " (scripts/install-test-deps.sh, run by ./run-tests, installs the tools the tests use)", e);
        }
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(10, TimeUnit.MINUTES)) { p.destroyForcibly(); throw new IOException("timed out: " + cmd); }
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }

    public static Result run(String... cmd) throws IOException, InterruptedException { return run(List.of(cmd)); }

    /** Runs and requires exit 0, returning the output. */
    public static String ok(String... cmd) throws IOException, InterruptedException {
        Result r = run(cmd);
        if (r.exit != 0) throw new AssertionError(String.join(" ", cmd) + " exited " + r.exit + ":\n" + r.out);
        return r.out;
    }

    /** Every xattr of every file under root (all namespaces, hex values), as getfattr prints it with relative paths. */
    public static String allXattrs(Path root) throws IOException, InterruptedException {
        requireTool("getfattr");
        Process p = new ProcessBuilder("getfattr", "-R", "-d", "-h", "-m", "-", "-e", "hex", ".").directory(root.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        // getfattr lists files in directory order, which differs between trees: sort the per-file blocks
        List<String> blocks = new ArrayList<>(List.of(out.split("\n\n")));
        blocks.replaceAll(String::strip);
        blocks.removeIf(String::isEmpty);
        java.util.Collections.sort(blocks);
        return String.join("\n\n", blocks);
    }

    public static void requireTool(String name) {
        boolean found = false;
        for (String dir : List.of("/usr/sbin", "/sbin", "/usr/bin", "/bin")) found |= Files.isExecutable(Path.of(dir, name));
        Assumptions.assumeTrue(found, name + " is not installed: install it (scripts/install-test-deps.sh, run by ./run-tests, does)");
    }

    /** mke2fs with extra options, populated from src (may be null), size like "64M". */
    public static void mke2fs(Path image, Path src, String size, String... opts) throws IOException, InterruptedException {
        requireTool("mke2fs");
        List<String> cmd = new ArrayList<>(List.of("mke2fs", "-q", "-F"));
        cmd.addAll(List.of(opts));
        if (src != null) cmd.addAll(List.of("-d", src.toString()));
        cmd.add(image.toString());
        cmd.add(size);
        Result r = run(cmd);
        if (r.exit != 0) throw new AssertionError(cmd + " failed:\n" + r.out);
    }

    public static String debugfs(Path image, String request) throws IOException, InterruptedException {
        return ok("debugfs", "-R", request, image.toString());
    }

    /** e2fsck -fn must exit 0. */
    public static void assertFsckClean(Path image) throws IOException, InterruptedException {
        Result r = run("e2fsck", "-fn", image.toString());
        if (r.exit != 0) throw new AssertionError("e2fsck -fn " + image + " exited " + r.exit + ":\n" + r.out);
        String said = fsckFinding(r.out);
        if (said != null) throw new AssertionError("e2fsck -fn " + image + " said: " + said + "\n" + r.out);
    }

    /**
     * e2fsck -fn clean after Linux itself changed the image (its recovery or orphan truncation):
     * the one hint allowed is e2fsck's offer to shorten or narrow an extent tree, which Linux's
     * truncate leaves (it does not collapse index levels; e2fsck exits 0). Only for checks of
     * what the kernel wrote: after ext4j writes, assertFsckClean allows nothing. Returns whether
     * the hint was there.
     */
    public static boolean assertFsckCleanAfterKernel(Path image) throws IOException, InterruptedException {
        Result r = run("e2fsck", "-fn", image.toString());
        if (r.exit != 0) throw new AssertionError("e2fsck -fn " + image + " exited " + r.exit + ":\n" + r.out);
        boolean hinted = false;
        for (String line : r.out.split("\n")) {
            if (line.isBlank() || FSCK_QUIET.matcher(line).matches()) continue;
            if (!KERNEL_TREE_SHAPE.matcher(line).matches()) throw new AssertionError("e2fsck -fn " + image + " said: " + line + "\n" + r.out);
            hinted = true;
        }
        return hinted;
    }

    private static final java.util.regex.Pattern KERNEL_TREE_SHAPE =
            java.util.regex.Pattern.compile("Inode \\d+ extent tree \\(at level \\d+\\) could be (shorter|narrower)\\.  Optimize\\? no");

    /**
     * The first line of e2fsck -fn output that is not part of a clean run, or null. Exit 0 still
     * allows optimization hints ("extent tree could be narrower. Optimize? no"): those count too.
     */
    public static String fsckFinding(String out) {
        for (String line : out.split("\n"))
            if (!line.isBlank() && !FSCK_QUIET.matcher(line).matches()) return line;
        return null;
    }

    /** The only lines a clean e2fsck -fn prints: its version, the pass headers, the summary. */
    private static final java.util.regex.Pattern FSCK_QUIET = java.util.regex.Pattern.compile(
            "e2fsck \\d.*|Pass \\d[A-Z]?: .*|\\S.*: \\d+/\\d+ files \\(.*\\), \\d+/\\d+ blocks");

    /**
     * Runs script inside Linux 6.1 (fs-verity on) under qemu with image as /dev/vda, via the
     * project's kernel-oracle tool (-Dext4j.kernelOracle=PATH, else ../shared/tools/kernel-oracle
     * next to the repository); skips the calling test when the tool is not there or cannot boot.
     */
    public static Result kernelOracle(Path image, String script) throws IOException, InterruptedException {
        Path tool = Path.of(System.getProperty("ext4j.kernelOracle", Path.of("").toAbsolutePath().getParent().resolve("shared/tools/kernel-oracle").toString()));
        Assumptions.assumeTrue(Files.isExecutable(tool), "no kernel oracle at " + tool + ": skipping the Linux 6.1 cross-check");
        Path sh = Files.createTempFile("ext4j-oracle", ".sh");
        try {
            Files.writeString(sh, script);
            Result r = run(tool.toString(), image.toString(), sh.toString());
            Assumptions.assumeTrue(r.exit != 3, "the kernel oracle could not boot: " + r.out);
            return r;
        } finally {
            Files.deleteIfExists(sh);
        }
    }

    /** e2fsprogs' image corpus beside the project (-Dext4j.corpus=DIR elsewhere); missing is a failure that says where it is expected. */
    public static Path corpus() {
        Path dir = Path.of(System.getProperty("ext4j.corpus",
                Path.of("").toAbsolutePath().getParent().resolve("shared/corpus/e2fsprogs").toString()));
        if (!Files.isRegularFile(dir.resolve("MANIFEST")))
            throw new AssertionError("the e2fsprogs image corpus is expected at " + dir + " (with its MANIFEST); set -Dext4j.corpus=DIR if it is elsewhere");
        return dir;
    }

    private static Boolean canMount;

    /** True if we are root and a loop mount of a fresh ext4 image works here. */
    public static synchronized boolean canMount() {
        if (canMount != null) return canMount;
        canMount = false;
        try {
            if (!"root".equals(System.getProperty("user.name"))) return false;
            Path dir = Files.createTempDirectory("ext4j-mnt-probe");
            Path img = dir.resolve("probe.img");
            mke2fs(img, null, "8M", "-t", "ext4");
            Path mnt = Files.createDirectory(dir.resolve("m"));
            if (run("mount", "-o", "loop", img.toString(), mnt.toString()).exit == 0) {
                run("umount", mnt.toString());
                canMount = true;
            }
            Files.deleteIfExists(img);
            Files.deleteIfExists(mnt);
            Files.deleteIfExists(dir);
        } catch (Exception e) {
            canMount = false;
        }
        return canMount;
    }

    public static void requireMount() {
        Assumptions.assumeTrue(canMount(), "kernel loop mount of ext4 is not possible here (needs root and loop devices): skipping the kernel cross-check");
    }

    public static void mount(Path image, Path mnt, String opts) throws IOException, InterruptedException {
        ok("mount", "-o", "loop" + (opts.isEmpty() ? "" : "," + opts), image.toString(), mnt.toString());
    }

    public static void umount(Path mnt) {
        try { run("umount", mnt.toString()); } catch (Exception ignored) { }
    }

    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) return;
        try (var w = Files.walk(root)) {
            for (Path p : w.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
