package ext4j.mount;

import ext4j.testutil.Tools;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * e2fsprogs' 218 regression images, most of them deliberately damaged, each mounted read-only
 * through FUSE and walked by system calls (list, stat, read every file, readlink, xattrs): the
 * server must answer every request (data or an errno, never a hang), stay up, and unmount. Images
 * ext4j refuses at open are counted; none may hang or kill the JVM.
 */
class FuseCorpusTest {
    @TempDir Path tmp;

    static Path corpus() { return Tools.corpus(); }

    /** What a walk saw: entries reached and errors answered. */
    static final class Walk { int entries, errors; long bytes; }

    static void walk(Path dir, int depth, Walk w) {
        if (depth > 40) return;
        List<Path> children = new ArrayList<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            for (Path p : s) { children.add(p); if (children.size() > 20_000) break; }
        } catch (IOException | java.nio.file.DirectoryIteratorException e) {
            w.errors++;
        }
        for (Path p : children) {
            w.entries++;
            try {
                if (Files.isSymbolicLink(p)) { Files.readSymbolicLink(p); continue; }
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) { walk(p, depth + 1, w); continue; }
                if (!Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) continue;    // the JDK opens a file to list its xattrs: not a fifo
                {
                    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                        ByteBuffer b = ByteBuffer.allocate(1 << 16);
                        long pos = 0;
                        for (int n; pos < (8L << 20) && (n = ch.read(b.clear(), pos)) > 0; ) pos += n;
                        w.bytes += pos;
                    }
                }
                UserDefinedFileAttributeView x = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
                if (x != null) for (String n : x.list()) x.size(n);
            } catch (IOException | RuntimeException e) {
                w.errors++;
            }
        }
    }

    @Test
    void everyCorpusImageMountsReadOnlyAndAnswersEveryRequest() throws Exception {
        Assumptions.assumeTrue(Files.exists(Path.of("/dev/fuse")), "no /dev/fuse: skipping");
        Tools.requireMount();
        String manifest = Files.readString(corpus().resolve("MANIFEST"), StandardCharsets.UTF_8);
        Path mnt = Files.createDirectories(tmp.resolve("m"));
        int mounted = 0, refused = 0, entries = 0, errors = 0;
        List<String> bad = new ArrayList<>();
        ExecutorService ex = Executors.newSingleThreadExecutor(r -> { Thread t = new Thread(r, "corpus-walk"); t.setDaemon(true); return t; });
        try {
            for (String line : manifest.split("\n")) {
                if (line.isBlank()) continue;
                String name = line.split("\t", 2)[0];
                Path img = tmp.resolve(name + ".img");
                try (InputStream in = new GZIPInputStream(Files.newInputStream(corpus().resolve(name + ".img.gz")))) {
                    Files.copy(in, img, StandardCopyOption.REPLACE_EXISTING);
                }
                Ext4Mount m;
                try {
                    m = Ext4Mount.mount(img, mnt, MountOptions.defaults().withReadOnly(true));
                } catch (IOException refusedAtOpen) {
                    refused++;
                    Files.delete(img);
                    continue;
                }
                mounted++;
                Walk w = new Walk();
                Future<?> f = ex.submit(() -> walk(mnt, 0, w));
                try {
                    f.get(60, TimeUnit.SECONDS);
                } catch (TimeoutException hang) {
                    bad.add(name + ": a request did not complete within 60 s");
                    Tools.run("umount", "-l", mnt.toString());
                    f.cancel(true);
                    ex.shutdownNow();
                    ex = Executors.newSingleThreadExecutor(r -> { Thread t = new Thread(r, "corpus-walk"); t.setDaemon(true); return t; });
                }
                entries += w.entries;
                errors += w.errors;
                try {
                    m.close();
                } catch (IOException closing) {
                    bad.add(name + ": unmount failed: " + closing.getMessage());
                }
                if (Files.readString(Path.of("/proc/self/mounts")).contains(" " + mnt + " ")) {
                    bad.add(name + ": still mounted after close");
                    Tools.run("umount", "-l", mnt.toString());
                }
                Files.delete(img);
            }
        } finally {
            ex.shutdownNow();
        }
        System.out.println("FuseCorpusTest: " + mounted + " images mounted and walked (" + entries + " entries, " + errors
                + " answered with an error), " + refused + " refused at open");
        assertTrue(bad.isEmpty(), String.join("\n", bad));
        assertTrue(mounted > 100, "most corpus images must mount: " + mounted);
    }
}
