package ext4j.cli;

import ext4j.fs.Attr;
import ext4j.fs.Caller;
import ext4j.fs.Dirent;
import ext4j.fs.Ext4Paths;
import ext4j.fs.Ext4Vfs;
import ext4j.fs.FsSummary;
import ext4j.fs.OpenFile;
import ext4j.fs.Options;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

@Command(name = "demo", description = {"Build a small ext4 image with mke2fs -d from a generated tree,",
        "read it back with ext4j and check every file, link and time against the source."})
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--seed", description = "tree seed (default: random, printed)") Long seed;
    @Option(names = "--keep", description = "keep the work directory") boolean keep;
    /** The launcher's AOT training run: the bulk commands too (mkfs -d, put -r, get -r), so their classes are in the cache. */
    @Option(names = "--train", hidden = true) boolean train;
    @Spec CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        long s = seed != null ? seed : System.nanoTime();
        Path work = Files.createTempDirectory("ext4j-demo");
        Path src = Files.createDirectory(work.resolve("tree"));
        Path image = work.resolve("demo.img");
        try {
            SampleTree.Stats st = SampleTree.generate(src, s, 120, 300_000);
            out.printf("generated tree (seed %d): %d files, %d dirs, %d symlinks, %d hard links, %d bytes%n",
                    s, st.files(), st.dirs(), st.symlinks(), st.hardlinks(), st.bytes());
            List<String> cmd = List.of("mke2fs", "-q", "-F", "-t", "ext4", "-d", src.toString(), image.toString(), "64M");
            out.println("$ " + String.join(" ", cmd));
            out.flush();
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String msg = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (p.waitFor() != 0) throw new IOException("mke2fs failed: " + msg);
            try (Ext4Vfs vfs = Ext4Vfs.open(image, Options.defaults().withReadOnly(true))) {
                Ext4Paths fs = new Ext4Paths(vfs, Caller.ROOT);
                FsSummary sb = vfs.summary();
                out.printf("ext4j opened %s: %d blocks of %d bytes, %d inodes, uuid %s%n", image.getFileName(), sb.blocks(), sb.blockSize(), sb.inodes(), sb.uuid());
                out.println("ext4j ls -l / :");
                for (Dirent e : fs.list(Ext4Vfs.ROOT)) {
                    Attr i = vfs.getattr(e.ino());
                    out.printf("  %s %8d %s%n", Format.modeString(i.mode()), i.size(), e.nameString());
                }
                List<String> mismatches = compare(fs, src);
                if (mismatches.isEmpty()) {
                    out.printf("MATCH: every file, directory and symlink in the image equals the source tree (contents, sizes, modes, mtimes to the second, link targets)%n");
                } else {
                    out.printf("MISMATCH: %d differences%n", mismatches.size());
                    for (String m : mismatches.subList(0, Math.min(20, mismatches.size()))) out.println("  " + m);
                }
                out.flush();
                if (!mismatches.isEmpty()) return 1;
            }
            if (train) {
                PrintWriter quiet = new PrintWriter(java.io.Writer.nullWriter());
                Path img2 = work.resolve("train.img");
                String[][] runs = {
                        {"mkfs", "-q", "-d", src.toString(), img2.toString(), "64M"},
                        {"put", "-r", img2.toString(), src.toString(), "/again"},
                        {"get", "-r", img2.toString(), "/", work.resolve("out").toString()},
                };
                for (String[] r : runs) if (Main.run(r, quiet, quiet) != 0) return 1;
            }
            return 0;
        } finally {
            if (keep) out.println("work directory kept: " + work);
            else deleteTree(work);
            out.flush();
        }
    }

    /** Checks each source path against the image: type, mode, size, SHA-256 of contents, symlink target, mtime. */
    static List<String> compare(Ext4Paths fs, Path src) throws Exception {
        List<String> bad = new ArrayList<>();
        List<Path> paths;
        try (Stream<Path> w = Files.walk(src)) { paths = w.toList(); }
        for (Path p : paths) {
            String rel = "/" + src.relativize(p).toString().replace('\\', '/');
            if (rel.equals("/")) continue;
            Attr i;
            try { i = fs.resolve(rel, false).attr(); } catch (IOException e) { bad.add(rel + ": " + e.getMessage()); continue; }
            if (Files.isSymbolicLink(p)) {
                String want = Files.readSymbolicLink(p).toString();
                String got = i.isSymlink() ? new String(fs.vfs().readlink(i.ino()), StandardCharsets.UTF_8) : "(not a symlink)";
                if (!i.isSymlink() || !want.equals(got)) bad.add(rel + ": symlink target " + got + " != " + want);
                continue;
            }
            int mode = (int) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            if (mode != i.mode()) bad.add(rel + String.format(": mode 0%o != 0%o", i.mode(), mode));
            FileTime mt = Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS);
            // whole seconds: mke2fs -d (1.47) does not store nanoseconds
            if (mt.toInstant().getEpochSecond() != i.mtime().seconds()) bad.add(rel + ": mtime " + i.mtime().toInstant() + " != " + mt.toInstant());
            if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                if (Files.size(p) != i.size()) bad.add(rel + ": size " + i.size() + " != " + Files.size(p));
                else if (!MessageDigest.isEqual(sha256(Files.readAllBytes(p)), sha256(readAll(fs.vfs(), i)))) bad.add(rel + ": contents differ");
            }
        }
        return bad;
    }

    static byte[] readAll(Ext4Vfs vfs, Attr i) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(i.size()));
        OpenFile f = vfs.open(i.ino(), Ext4Vfs.O_RDONLY, Caller.ROOT);
        try {
            while (b.hasRemaining() && vfs.read(f, b.position(), b) >= 0) { }
        } finally {
            vfs.release(f);
        }
        return b.array();
    }

    private static byte[] sha256(byte[] b) throws Exception { return MessageDigest.getInstance("SHA-256").digest(b); }

    private static void deleteTree(Path root) throws IOException {
        try (Stream<Path> w = Files.walk(root)) {
            for (Path p : w.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
