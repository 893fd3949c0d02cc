package ext4j.nio;

import ext4j.testutil.Tools;
import ext4j.testutil.TreeDiff;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;
import static org.junit.jupiter.api.Assertions.*;

/**
 * A host tree (nested directories, files of many sizes from 0 to 3 MiB, a sparse one, symlinks
 * relative, absolute and dangling, a hard link, odd names, permission bits with setgid, user
 * xattrs, nanosecond mtimes) copied into an image with Files.walkFileTree using only the
 * java.nio.file API, then out of it again (the image opened read-only) and compared with
 * TreeDiff; e2fsck finds the image clean; and, where the kernel can loop-mount, the mounted image
 * shows the same tree.
 */
class NioTreeTest {
    @TempDir Path tmp;
    Path src, img;

    static final Instant BASE = Instant.parse("2019-03-04T05:06:07.123456789Z");

    @BeforeEach void build() throws Exception {
        src = Files.createDirectory(tmp.resolve("src"));
        Random rnd = new Random(42);
        file("empty", new byte[0]);
        file("one", new byte[] {7});
        file("block", random(rnd, 4096));
        file("odd", random(rnd, 12_345));
        file("big", random(rnd, (1 << 20) + 7));
        file("a/huge", random(rnd, 3 << 20));
        file("a/b/c/deep.txt", "deep\n".getBytes(StandardCharsets.UTF_8));
        file("a/b/text", "text ".repeat(5000).getBytes(StandardCharsets.UTF_8));
        file("spaces in name", "s".getBytes(StandardCharsets.UTF_8));
        file("ünïcødé €", "u".getBytes(StandardCharsets.UTF_8));
        file(".hidden", "h".getBytes(StandardCharsets.UTF_8));
        file("a/exec.sh", "#!/bin/sh\necho hi\n".getBytes(StandardCharsets.UTF_8));
        file("a/secret", "s3cret".getBytes(StandardCharsets.UTF_8));
        file("a/readonly", "ro".getBytes(StandardCharsets.UTF_8));
        Files.createDirectories(src.resolve("a/b/empty-dir"));
        Files.createDirectories(src.resolve("many"));
        for (int i = 0; i < 300; i++) file("many/entry-" + i, ("#" + i).getBytes(StandardCharsets.UTF_8));
        try (FileChannel ch = FileChannel.open(src.resolve("a/sparse"), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap("start".getBytes(StandardCharsets.UTF_8)));
            ch.write(ByteBuffer.wrap("end".getBytes(StandardCharsets.UTF_8)), 5 << 20);
        }
        Files.createLink(src.resolve("a/b/hard-to-odd"), src.resolve("odd"));
        Files.createSymbolicLink(src.resolve("rel"), Path.of("a/b/c/deep.txt"));
        Files.createSymbolicLink(src.resolve("a/up"), Path.of("../big"));
        Files.createSymbolicLink(src.resolve("abs"), Path.of("/nonexistent/absolute/target"));
        Files.createSymbolicLink(src.resolve("dangling"), Path.of("missing"));
        Files.createSymbolicLink(src.resolve("dirlink"), Path.of("a/b"));
        Files.createSymbolicLink(src.resolve("a/longlink"), Path.of("x".repeat(100) + "/" + "y".repeat(200)));
        Files.setAttribute(src.resolve("a/exec.sh"), "unix:mode", 0755);
        Files.setAttribute(src.resolve("a/secret"), "unix:mode", 0600);
        Files.setAttribute(src.resolve("a/readonly"), "unix:mode", 0444);
        Files.setAttribute(src.resolve("a/b"), "unix:mode", 0750);
        Files.setAttribute(src.resolve("a/b/c"), "unix:mode", 0700);
        Files.setAttribute(src.resolve("many"), "unix:mode", 02775);
        xattr(src.resolve("odd"), "colour", "blue");
        xattr(src.resolve("a"), "dir.attr", "on a directory");
        xattr(src.resolve("big"), "empty", "");
        // distinct nanosecond mtimes everywhere, children before their directories
        int[] k = {0};
        Files.walkFileTree(src, new SimpleFileVisitor<>() {
            @Override public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException { stamp(f, k[0]++); return FileVisitResult.CONTINUE; }
            @Override public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException { stamp(d, k[0]++); return FileVisitResult.CONTINUE; }
        });
        img = tmp.resolve("tree.img");
        Tools.mke2fs(img, null, "96M", "-t", "ext4");
    }

    private void file(String rel, byte[] data) throws IOException {
        Path p = src.resolve(rel);
        Files.createDirectories(p.getParent());
        Files.write(p, data);
    }

    private static byte[] random(Random rnd, int n) { byte[] b = new byte[n]; rnd.nextBytes(b); return b; }

    private static void xattr(Path p, String name, String value) throws IOException {
        Files.getFileAttributeView(p, UserDefinedFileAttributeView.class).write(name, ByteBuffer.wrap(value.getBytes(StandardCharsets.UTF_8)));
    }

    private static void stamp(Path p, int k) throws IOException {
        FileTime t = FileTime.from(BASE.plusSeconds(k * 3607L).plusNanos(k * 1_000_003L));
        Files.getFileAttributeView(p, BasicFileAttributeView.class, NOFOLLOW_LINKS).setTimes(t, t, null);
    }

    /**
     * Copies the tree at from to the new path to, with the java.nio.file API alone, whichever
     * providers they belong to: directories, files (a hard link where an inode was seen before),
     * symlinks (their target text), then mode (with the setuid/setgid/sticky bits, through
     * "unix:mode"), user xattrs and times, each directory's after its entries.
     */
    static void copyTree(Path from, Path to) throws IOException {
        Map<Object, Path> inodes = new HashMap<>();
        Files.walkFileTree(from, new SimpleFileVisitor<Path>() {
            private Path target(Path p) { return to.resolve(from.relativize(p).toString()); }

            @Override public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes a) throws IOException {
                Files.createDirectory(target(d));
                return FileVisitResult.CONTINUE;
            }

            @Override public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
                Path t = target(f);
                if (a.isSymbolicLink()) {
                    Files.createSymbolicLink(t, t.getFileSystem().getPath(Files.readSymbolicLink(f).toString()));
                    times(f, t, a);
                    return FileVisitResult.CONTINUE;
                }
                int nlink = (Integer) Files.getAttribute(f, "unix:nlink", NOFOLLOW_LINKS);
                Path seen = nlink > 1 ? inodes.get(a.fileKey()) : null;
                if (seen != null) {
                    Files.createLink(t, seen);
                    return FileVisitResult.CONTINUE;
                }
                Files.copy(f, t);
                if (nlink > 1) inodes.put(a.fileKey(), t);
                attributes(f, t, a);
                return FileVisitResult.CONTINUE;
            }

            @Override public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) throw e;
                attributes(d, target(d), Files.readAttributes(d, BasicFileAttributes.class, NOFOLLOW_LINKS));
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static void attributes(Path f, Path t, BasicFileAttributes a) throws IOException {
        Files.setAttribute(t, "unix:mode", Files.getAttribute(f, "unix:mode", NOFOLLOW_LINKS), NOFOLLOW_LINKS);
        UserDefinedFileAttributeView from = Files.getFileAttributeView(f, UserDefinedFileAttributeView.class, NOFOLLOW_LINKS);
        UserDefinedFileAttributeView to = Files.getFileAttributeView(t, UserDefinedFileAttributeView.class, NOFOLLOW_LINKS);
        for (String n : from.list()) {
            ByteBuffer b = ByteBuffer.allocate(from.size(n));
            from.read(n, b);
            to.write(n, b.flip());
        }
        times(f, t, a);
    }

    private static void times(Path f, Path t, BasicFileAttributes a) throws IOException {
        Files.getFileAttributeView(t, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).setTimes(a.lastModifiedTime(), a.lastAccessTime(), null);
    }

    private static TreeDiff.Options everything() {
        TreeDiff.Options o = new TreeDiff.Options();
        o.owners = true;
        o.mtimes = true;
        o.dirMtimes = true;
        o.xattrs = true;
        o.nanos = true;
        return o;
    }

    private void copyIn() throws IOException {
        try (FileSystem fs = FileSystems.newFileSystem(img)) { copyTree(src, fs.getPath("/tree")); }
    }

    @Test void aTreeCopiedInAndOutIsTheSame() throws Exception {
        copyIn();
        Path out = tmp.resolve("out");
        try (FileSystem fs = FileSystems.newFileSystem(URI.create("ext4j:" + img.toUri()), Map.of("readOnly", "true"))) {
            copyTree(fs.getPath("/tree"), out);
        }
        List<String> diff = TreeDiff.diff(src, out, everything());
        assertTrue(diff.isEmpty(), "the tree came back different:\n" + String.join("\n", diff));
    }

    @Test void theImageIsCleanAfterTheCopy() throws Exception {
        copyIn();
        Tools.assertFsckClean(img);
    }

    @Test void theImageHoldsTheTreeAsNioSeesIt() throws Exception {
        copyIn();
        try (FileSystem fs = FileSystems.newFileSystem(img)) {
            Path t = fs.getPath("/tree");
            assertArrayEquals(Files.readAllBytes(src.resolve("big")), Files.readAllBytes(t.resolve("big")));
            assertEquals(Files.size(src.resolve("a/sparse")), Files.size(t.resolve("a/sparse")));
            assertEquals(Files.getAttribute(t.resolve("odd"), "unix:ino"), Files.getAttribute(t.resolve("a/b/hard-to-odd"), "unix:ino"));
            assertEquals(2, Files.getAttribute(t.resolve("odd"), "unix:nlink"));
            assertEquals(fs.getPath("a/b/c/deep.txt"), Files.readSymbolicLink(t.resolve("rel")));
            assertEquals("deep\n", Files.readString(t.resolve("rel")));
            assertEquals(02775, (Integer) Files.getAttribute(t.resolve("many"), "unix:mode") & 07777);
            List<Path> all;
            try (var w = Files.walk(t)) { all = w.toList(); }
            List<Path> expected;
            try (var w = Files.walk(src)) { expected = w.toList(); }
            assertEquals(expected.size(), all.size());
            long blocks = Files.getFileStore(t).getTotalSpace() - Files.getFileStore(t).getUnallocatedSpace();
            assertTrue(blocks < 40L << 20, "the sparse file's hole takes no space (" + blocks + " bytes used)");
        }
    }

    @Test void theKernelSeesTheSameTree() throws Exception {
        Tools.requireMount();
        copyIn();
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Tools.mount(img, mnt, "ro");
        try {
            List<String> diff = TreeDiff.diff(src, mnt.resolve("tree"), everything());
            assertTrue(diff.isEmpty(), "the kernel sees a different tree:\n" + String.join("\n", diff));
        } finally {
            Tools.umount(mnt);
        }
        Tools.assertFsckClean(img);
    }

    @Test void aTreeTheKernelWroteComesOutTheSame() throws Exception {
        Tools.requireMount();
        Path mnt = Files.createDirectory(tmp.resolve("mnt"));
        Tools.mount(img, mnt, "");
        try {
            copyTree(src, mnt.resolve("tree"));
        } finally {
            Tools.umount(mnt);
        }
        Path out = tmp.resolve("out");
        try (FileSystem fs = FileSystems.newFileSystem(img)) { copyTree(fs.getPath("/tree"), out); }
        List<String> diff = TreeDiff.diff(src, out, everything());
        assertTrue(diff.isEmpty(), "the kernel's tree read through ext4j differs:\n" + String.join("\n", diff));
        Tools.assertFsckClean(img);
    }
}
