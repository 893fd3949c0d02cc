package ext4j.nio;

import ext4j.testutil.Tools;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.NonReadableChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.OverlappingFileLockException;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.AccessMode;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.ClosedFileSystemException;
import java.nio.file.CopyOption;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.FileSystems;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.ProviderNotFoundException;
import java.nio.file.ReadOnlyFileSystemException;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileOwnerAttributeView;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.nio.file.attribute.UserPrincipal;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static java.nio.file.LinkOption.NOFOLLOW_LINKS;
import static java.nio.file.StandardCopyOption.ATOMIC_MOVE;
import static java.nio.file.StandardCopyOption.COPY_ATTRIBUTES;
import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;
import static java.nio.file.StandardOpenOption.APPEND;
import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.DELETE_ON_CLOSE;
import static java.nio.file.StandardOpenOption.DSYNC;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.SYNC;
import static java.nio.file.StandardOpenOption.TRUNCATE_EXISTING;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The same operations through the JDK's default provider (on a host temporary directory) and
 * through ext4j's (on a directory of one image), with the outcomes compared: the exception's type,
 * or the result and the whole tree afterwards (names, types, permission bits, bytes, link
 * targets). One nested class per area; each test one rule. Where the two legitimately differ,
 * ext4j's documented behaviour is asserted on its own, with the reason.
 *
 * <p>Exception types: the default provider has types for only ENOENT, EEXIST, EACCES,
 * ENOTEMPTY (delete) and EINVAL (readlink); every other errno (ENOTDIR, ELOOP, EISDIR, EPERM, ...)
 * is a plain FileSystemException, and reading a directory a plain IOException. ext4j may give a
 * more specific subtype there (NotDirectoryException, FileSystemLoopException, ...): a caller
 * catching what the JDK throws still catches it. Anything else must be the same type.
 */
class NioContractTest {
    @TempDir static Path classTmp;
    static Path img;
    static FileSystem fs;
    static final AtomicInteger dirs = new AtomicInteger();

    @TempDir Path hostTmp;
    /** The two roots of one test: a host directory and an image directory, initially empty. */
    Path host, image;

    @BeforeAll static void openImage() throws Exception {
        img = classTmp.resolve("contract.img");
        Tools.mke2fs(img, null, "64M", "-t", "ext4", "-b", "4096", "-N", "32768", "-L", "contract");
        fs = FileSystems.newFileSystem(img);
    }

    @AfterAll static void closeImage() throws Exception {
        if (fs != null) fs.close();
        Tools.assertFsckClean(img);
    }

    @BeforeEach void roots() throws IOException {
        host = Files.createDirectory(hostTmp.resolve("t"));
        image = Files.createDirectory(fs.getPath("/t" + dirs.incrementAndGet()));
    }

    // ---- the harness ----

    interface Op { Object run(Path root) throws Exception; }

    record Outcome(String value, Throwable thrown, String tree) {
        @Override public String toString() {
            return (thrown != null ? "threw " + thrown.getClass().getName() + " (" + thrown.getMessage() + ")" : "gave " + value) + "; tree " + tree;
        }
    }

    static Outcome outcome(Op op, Path root) {
        String v = null;
        Throwable t = null;
        try { v = describe(op.run(root)); } catch (Throwable e) { t = e; }
        String tree;
        try { tree = root == null ? "-" : tree(root); } catch (IOException | RuntimeException e) { tree = "unreadable: " + e; }
        return new Outcome(v, t, tree);
    }

    /** An exception's type as the probes record it: the generic ones (see the class comment) under one name. */
    static String canonical(Throwable e) {
        Class<?> c = e.getClass();
        if (c == IOException.class || c == FileSystemException.class || c == java.nio.file.NotDirectoryException.class || c == java.nio.file.FileSystemLoopException.class)
            return "IOException(generic)";
        return c.getSimpleName();
    }

    /** JDK and ext4j exception types agree (see the class comment). */
    static boolean compatible(Class<?> jdk, Class<?> ours) {
        if (jdk == ours) return true;
        return (jdk == FileSystemException.class || jdk == IOException.class) && jdk.isAssignableFrom(ours);
    }

    /** null when the outcomes agree, else both. */
    static String mismatch(Outcome h, Outcome i) {
        boolean ok = (h.thrown == null) == (i.thrown == null)
                && (h.thrown == null ? h.value.equals(i.value) : compatible(h.thrown.getClass(), i.thrown.getClass()))
                && h.tree.equals(i.tree);
        return ok ? null : "\n  default: " + h + "\n  ext4j:   " + i;
    }

    /** Runs op on both roots; the outcomes (and the trees left) must agree. Returns ext4j's outcome. */
    Outcome same(Op op) {
        Outcome h = outcome(op, host), i = outcome(op, image);
        String m = mismatch(h, i);
        if (m != null) {
            AssertionError e = new AssertionError("the providers disagree:" + m);
            if (i.thrown != null) e.addSuppressed(i.thrown);
            throw e;
        }
        return i;
    }

    /** Runs setup on both roots; it must succeed on both. */
    void given(Op setup) throws Exception {
        setup.run(host);
        setup.run(image);
    }

    static String describe(Object v) {
        if (v == null) return "null";
        if (v instanceof byte[] b) return "bytes " + HexFormat.of().formatHex(b);
        if (v instanceof Path p) return "path " + p;
        if (v instanceof Iterable<?> l) { List<String> r = new ArrayList<>(); for (Object o : l) r.add(describe(o)); return r.toString(); }
        if (v instanceof Map<?, ?> m) { Map<String, String> r = new TreeMap<>(); m.forEach((k, x) -> r.put(String.valueOf(k), describe(x))); return r.toString(); }
        return v.getClass().getSimpleName() + " " + v;
    }

    /** Everything under root: name, type, permission bits, bytes, link target; sorted. */
    static String tree(Path root) throws IOException {
        List<String> out = new ArrayList<>();
        walk(root, "", out);
        return String.join(" ", out);
    }

    private static void walk(Path dir, String prefix, List<String> out) throws IOException {
        List<Path> kids = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) { ds.forEach(kids::add); }
        kids.sort((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()));
        for (Path k : kids) {
            String name = prefix + k.getFileName();
            PosixFileAttributes a = Files.readAttributes(k, PosixFileAttributes.class, NOFOLLOW_LINKS);
            if (a.isSymbolicLink()) out.add(name + "->" + Files.readSymbolicLink(k));
            else {
                String perms = PosixFilePermissions.toString(a.permissions());
                if (a.isDirectory()) {
                    out.add(name + "/ " + perms);
                    walk(k, name + "/", out);
                } else {
                    out.add(name + " " + perms + " [" + HexFormat.of().formatHex(Files.readAllBytes(k)) + "]");
                }
            }
        }
    }

    static byte[] bytes(String s) { return s.getBytes(StandardCharsets.UTF_8); }
    static ByteBuffer buf(String s) { return ByteBuffer.wrap(bytes(s)); }
    static String str(ByteBuffer b) { b.flip(); byte[] a = new byte[b.remaining()]; b.get(a); return new String(a, StandardCharsets.UTF_8); }
    static Path write(Path p, String s) throws IOException { return Files.write(p, bytes(s)); }

    /** file "hello"; empty dir; full/inner; link -> file; dirlink -> dir; dangling -> nowhere. */
    static Object standard(Path r) throws IOException {
        write(r.resolve("file"), "hello");
        Files.createDirectory(r.resolve("dir"));
        Files.createDirectory(r.resolve("full"));
        write(r.resolve("full/inner"), "x");
        Files.createSymbolicLink(r.resolve("link"), r.getFileSystem().getPath("file"));
        Files.createSymbolicLink(r.resolve("dirlink"), r.getFileSystem().getPath("dir"));
        Files.createSymbolicLink(r.resolve("dangling"), r.getFileSystem().getPath("nowhere"));
        return null;
    }

    static void clear(Path dir) throws IOException {
        try (Stream<Path> w = Files.walk(dir)) {
            for (Path p : w.sorted(java.util.Comparator.reverseOrder()).toList()) if (!p.equals(dir)) Files.delete(p);
        }
    }

    static final Set<PosixFilePermission> RW_R_____ = PosixFilePermissions.fromString("rw-r-----");

    // =====================================================================================

    @Nested class OpenOptions {
        enum Start { MISSING, FILE, DIRECTORY, LINK_TO_FILE, DANGLING_LINK, LINK_TO_DIRECTORY }

        static final List<OpenOption> ALL = List.of(READ, WRITE, APPEND, CREATE, CREATE_NEW, TRUNCATE_EXISTING, DELETE_ON_CLOSE, NOFOLLOW_LINKS, SYNC, DSYNC);

        static void start(Path d, Start s) throws IOException {
            switch (s) {
                case MISSING -> { }
                case FILE -> write(d.resolve("p"), "hello");
                case DIRECTORY -> Files.createDirectory(d.resolve("p"));
                case LINK_TO_FILE -> { write(d.resolve("t"), "hello"); Files.createSymbolicLink(d.resolve("p"), d.getFileSystem().getPath("t")); }
                case DANGLING_LINK -> Files.createSymbolicLink(d.resolve("p"), d.getFileSystem().getPath("t"));
                case LINK_TO_DIRECTORY -> { Files.createDirectory(d.resolve("t")); Files.createSymbolicLink(d.resolve("p"), d.getFileSystem().getPath("t")); }
            }
        }

        /** Opens, then reads 4 bytes, writes "XY", reads position and size; the outcome of each. */
        static String probe(SeekableByteChannel ch) {
            List<String> r = new ArrayList<>();
            r.add("read " + step(() -> { ByteBuffer b = ByteBuffer.allocate(4); int n = ch.read(b); return n + ":" + str(b); }));
            r.add("write " + step(() -> ch.write(buf("XY"))));
            r.add("position " + step(ch::position));
            r.add("size " + step(ch::size));
            return String.join(", ", r);
        }

        interface Step { Object run() throws Exception; }

        static String step(Step s) {
            try { return String.valueOf(s.run()); } catch (Exception e) { return "!" + canonical(e); }
        }

        /**
         * Every subset of the eight options READ ... NOFOLLOW_LINKS, through Files.newByteChannel and
         * FileChannel.open, and every subset of READ, WRITE, APPEND, CREATE, TRUNCATE_EXISTING with
         * SYNC, DSYNC or both, on each starting state: whether the open succeeds (or the
         * exception's type), what reading, writing, position and size then do, and the tree once
         * the channel is closed.
         */
        static boolean isLink(Start s) { return s == Start.LINK_TO_FILE || s == Start.LINK_TO_DIRECTORY || s == Start.DANGLING_LINK; }

        @ParameterizedTest @EnumSource(Start.class)
        void everyCombinationOfOptionsAgrees(Start s) throws Exception {
            List<String> bad = new ArrayList<>();
            Path hc = Files.createDirectory(host.resolve("c")), ic = Files.createDirectory(image.resolve("c"));
            int tried = 0;
            for (int mask = 0; mask < 1 << ALL.size(); mask++) {
                Set<OpenOption> opts = new LinkedHashSet<>();
                for (int b = 0; b < ALL.size(); b++) if ((mask & 1 << b) != 0) opts.add(ALL.get(b));
                boolean synced = opts.contains(SYNC) || opts.contains(DSYNC);
                if (synced && (opts.contains(CREATE_NEW) || opts.contains(DELETE_ON_CLOSE) || opts.contains(NOFOLLOW_LINKS))) continue;
                if (s != Start.MISSING && s != Start.FILE && opts.contains(DELETE_ON_CLOSE)) continue;     // see deleteOnClose*
                if (isLink(s) && opts.contains(CREATE_NEW) && opts.contains(NOFOLLOW_LINKS) && !opts.contains(WRITE) && !opts.contains(APPEND))
                    continue;                                                                                   // see nofollowWithAnIgnoredCreateNew
                for (int how = 0; how < 2; how++) {
                    if (how == 1 && synced) continue;          // FileChannel.open: without SYNC/DSYNC
                    int howf = how;
                    Op op = d -> {
                        try (SeekableByteChannel ch = howf == 0 ? Files.newByteChannel(d.resolve("p"), opts) : FileChannel.open(d.resolve("p"), opts)) {
                            return probe(ch);
                        }
                    };
                    start(hc, s);
                    start(ic, s);
                    Outcome h = outcome(op, hc), i = outcome(op, ic);
                    String m = mismatch(h, i);
                    if (m != null) bad.add((how == 0 ? "newByteChannel" : "FileChannel.open") + opts + ":" + m);
                    clear(hc);
                    clear(ic);
                    tried++;
                }
            }
            assertTrue(bad.isEmpty(), bad.size() + " of " + tried + " combinations on " + s + " disagree:\n" + String.join("\n", bad.subList(0, Math.min(12, bad.size()))));
        }

        @Test void createOnADanglingSymlinkCreatesItsTarget() throws Exception {
            // open(2) with O_CREAT (no O_EXCL) follows a final symlink and creates the file it names
            given(r -> Files.createSymbolicLink(r.resolve("p"), r.getFileSystem().getPath("t")));
            same(r -> { try (SeekableByteChannel ch = Files.newByteChannel(r.resolve("p"), CREATE, WRITE)) { return ch.write(buf("new")); } });
        }

        @Test void deleteOnCloseThroughASymlink() throws IOException {
            // Legitimately different ("many of the details as to when and how the file is deleted are
            // implementation specific"): the JDK opens with O_NOFOLLOW when DELETE_ON_CLOSE is given,
            // so a symlink is refused (IOException); ext4j follows it like any open and, at close,
            // deletes the path it was given: the link, not its target.
            Path t = write(image.resolve("t"), "hello"), l = Files.createSymbolicLink(image.resolve("l"), fs.getPath("t"));
            try (SeekableByteChannel ch = Files.newByteChannel(l, READ, DELETE_ON_CLOSE)) { assertEquals(5, ch.size()); }
            assertFalse(Files.exists(l, NOFOLLOW_LINKS));
            assertEquals("hello", Files.readString(t));
            Path ht = write(host.resolve("t"), "hello"), hl = Files.createSymbolicLink(host.resolve("l"), Path.of("t"));
            assertThrows(IOException.class, () -> Files.newByteChannel(hl, READ, DELETE_ON_CLOSE));
            assertTrue(Files.exists(ht));
        }

        @Test void nofollowWithAnIgnoredCreateNew() throws IOException {
            // Legitimately different: opened only for reading, CREATE_NEW is ignored, and so it is by
            // the JDK, but its presence also drops the JDK's O_NOFOLLOW, so the JDK reads through
            // the symlink. ext4j keeps NOFOLLOW_LINKS: a final symlink is refused (ELOOP).
            write(image.resolve("t"), "hello");
            Path l = Files.createSymbolicLink(image.resolve("p"), fs.getPath("t"));
            assertThrows(java.nio.file.FileSystemLoopException.class, () -> Files.newByteChannel(l, READ, CREATE_NEW, NOFOLLOW_LINKS));
            write(host.resolve("t"), "hello");
            Path hl = Files.createSymbolicLink(host.resolve("p"), Path.of("t"));
            try (SeekableByteChannel ch = Files.newByteChannel(hl, READ, CREATE_NEW, NOFOLLOW_LINKS)) { assertEquals(5, ch.size()); }
            assertThrows(IOException.class, () -> Files.newByteChannel(hl, READ, NOFOLLOW_LINKS));
        }

        @Test void createNewOnADanglingSymlinkIsFileAlreadyExists() throws Exception {
            given(r -> Files.createSymbolicLink(r.resolve("p"), r.getFileSystem().getPath("t")));
            Outcome o = same(r -> Files.newByteChannel(r.resolve("p"), CREATE_NEW, WRITE));
            assertInstanceOf(FileAlreadyExistsException.class, o.thrown());
        }

        @Test void noOptionsMeansRead() throws Exception {
            given(r -> write(r.resolve("f"), "hello"));
            same(r -> { try (SeekableByteChannel ch = Files.newByteChannel(r.resolve("f"))) { return probe(ch); } });
        }

        @Test void appendWritesGoToTheEndWhereverThePositionIs() throws Exception {
            given(r -> write(r.resolve("f"), "hello"));
            same(r -> {
                try (SeekableByteChannel ch = Files.newByteChannel(r.resolve("f"), APPEND)) {
                    ch.position(1);
                    ch.write(buf("X"));
                    long p1 = ch.position();
                    ch.position(0);
                    ch.write(buf("YZ"));
                    return p1 + "," + ch.position();
                }
            });
        }

        @Test void positionalWriteOnAnAppendChannelWritesAtThePosition() throws Exception {
            // Legitimately different: Linux's pwrite(2) on an O_APPEND descriptor appends whatever
            // the offset (pwrite(2), BUGS), and the default provider inherits that. ext4j's
            // FileChannel.write(src, position) writes at the position, as FileChannel specifies.
            Path f = write(image.resolve("f"), "hello");
            try (FileChannel ch = FileChannel.open(f, APPEND)) { ch.write(buf("J"), 0); }
            assertEquals("Jello", Files.readString(f));
            Path h = write(host.resolve("f"), "hello");
            try (FileChannel ch = FileChannel.open(h, APPEND)) { ch.write(buf("J"), 0); }
            assertEquals("helloJ", Files.readString(h), "Linux appends");
        }

        @Test void anUnknownOpenOptionIsUnsupported() throws Exception {
            given(r -> write(r.resolve("f"), "hello"));
            OpenOption odd = new OpenOption() { };
            Outcome o = same(r -> Files.newByteChannel(r.resolve("f"), Set.of(READ, odd)));
            assertInstanceOf(UnsupportedOperationException.class, o.thrown());
        }

        @Test void initialPermissionsApplyToANewFile() throws Exception {
            same(r -> {
                Files.newByteChannel(r.resolve("f"), Set.of(CREATE_NEW, WRITE), PosixFilePermissions.asFileAttribute(RW_R_____)).close();
                return Files.getPosixFilePermissions(r.resolve("f"));
            });
        }

        @Test void anUnsupportedInitialAttributeCreatesNothing() {
            FileAttribute<FileTime> t = new FileAttribute<>() {
                public String name() { return "basic:lastModifiedTime"; }
                public FileTime value() { return FileTime.fromMillis(0); }
            };
            Outcome o = same(r -> Files.newByteChannel(r.resolve("f"), Set.of(CREATE_NEW, WRITE), t));
            assertInstanceOf(UnsupportedOperationException.class, o.thrown());
        }

        @Test void readAndAppendTogetherAreIllegal() throws Exception {
            given(r -> write(r.resolve("f"), "hello"));
            Outcome o = same(r -> Files.newByteChannel(r.resolve("f"), READ, APPEND));
            assertInstanceOf(IllegalArgumentException.class, o.thrown());
        }

        @Test void truncateExistingEmptiesAFileOpenedForWriting() throws Exception {
            given(r -> write(r.resolve("f"), "hello"));
            same(r -> { try (SeekableByteChannel ch = Files.newByteChannel(r.resolve("f"), WRITE, TRUNCATE_EXISTING)) { return ch.size(); } });
        }

        @Test void deleteOnCloseRemovesTheFileByClose() throws Exception {
            given(r -> write(r.resolve("f"), "hello"));
            same(r -> {
                try (SeekableByteChannel ch = Files.newByteChannel(r.resolve("f"), READ, WRITE, DELETE_ON_CLOSE)) {
                    ch.write(buf("abc"));
                    ch.position(0);
                    ByteBuffer b = ByteBuffer.allocate(10);
                    ch.read(b);
                    return str(b);
                }
            });
        }

        @Test void deleteOnCloseOfAnEmptyDirectory() throws IOException {
            // Legitimately different: the JDK unlinks at open (unlink(2), which a directory refuses,
            // silently), so the directory stays; ext4j deletes at close through Files.delete, which
            // removes an empty directory: "a best effort attempt to delete the file when closed".
            Path d = Files.createDirectory(image.resolve("d"));
            FileChannel.open(d, READ, DELETE_ON_CLOSE).close();
            assertFalse(Files.exists(d, NOFOLLOW_LINKS));
            Path h = Files.createDirectory(host.resolve("d"));
            FileChannel.open(h, READ, DELETE_ON_CLOSE).close();
            assertTrue(Files.isDirectory(h));
        }

        @Test void streamsReadAndWriteAlike() throws Exception {
            same(r -> {
                try (OutputStream out = Files.newOutputStream(r.resolve("f"))) { out.write(bytes("line1\nline2\n")); }
                try (OutputStream out = Files.newOutputStream(r.resolve("f"), APPEND)) { out.write(bytes("line3")); }
                List<String> lines = Files.readAllLines(r.resolve("f"));
                try (InputStream in = Files.newInputStream(r.resolve("f"))) { in.skip(6); return lines + new String(in.readAllBytes(), StandardCharsets.UTF_8); }
            });
        }
    }

    // =====================================================================================

    @Nested class ChannelIo {
        FileChannel open(Path r, OpenOption... o) throws IOException { return FileChannel.open(r.resolve("f"), o); }

        @BeforeEach void file() throws Exception { given(r -> write(r.resolve("f"), "0123456789")); }

        @Test void positionalReadsAndWritesLeaveThePositionAlone() throws Exception {
            same(r -> {
                try (FileChannel ch = open(r, READ, WRITE)) {
                    ch.position(3);
                    int w = ch.write(buf("ab"), 7);
                    ByteBuffer b = ByteBuffer.allocate(4);
                    int n = ch.read(b, 6);
                    return w + "," + n + "," + str(b) + "," + ch.position();
                }
            });
        }

        @Test void readingAtOrPastTheEndGivesMinusOne() throws Exception {
            same(r -> {
                try (FileChannel ch = open(r, READ)) {
                    return ch.read(ByteBuffer.allocate(4), 10) + "," + ch.read(ByteBuffer.allocate(4), 1000) + "," + ch.position(10).read(ByteBuffer.allocate(1))
                            + "," + ch.read(ByteBuffer.allocate(0), 0);
                }
            });
        }

        @Test void writingPastTheEndLeavesZeros() throws Exception {
            same(r -> { try (FileChannel ch = open(r, WRITE)) { ch.write(buf("end"), 100_000); return ch.size(); } });
        }

        @Test void relativeIoAdvancesThePosition() throws Exception {
            same(r -> {
                try (FileChannel ch = open(r, READ, WRITE)) {
                    ByteBuffer b = ByteBuffer.allocate(3);
                    ch.read(b);
                    long p1 = ch.position();
                    ch.write(buf("XYZ"));
                    long p2 = ch.position();
                    ch.position(20).write(buf("!"));
                    return str(b) + p1 + "," + p2 + "," + ch.position() + "," + ch.size();
                }
            });
        }

        @Test void negativePositionsAreIllegal() throws Exception {
            for (int k = 0; k < 4; k++) {
                int kk = k;
                Outcome o = same(r -> {
                    try (FileChannel ch = open(r, READ, WRITE)) {
                        return switch (kk) {
                            case 0 -> ch.position(-1);
                            case 1 -> ch.read(ByteBuffer.allocate(1), -1);
                            case 2 -> ch.write(buf("x"), -1);
                            default -> ch.truncate(-1);
                        };
                    }
                });
                assertInstanceOf(IllegalArgumentException.class, o.thrown(), "case " + k);
            }
        }

        @Test void scatteringReadsAndGatheringWrites() throws Exception {
            same(r -> {
                try (FileChannel ch = open(r, READ, WRITE)) {
                    ByteBuffer[] in = {ByteBuffer.allocate(3), ByteBuffer.allocate(0), ByteBuffer.allocate(4), ByteBuffer.allocate(10)};
                    long n = ch.read(in);
                    long w = ch.write(new ByteBuffer[] {buf("ab"), buf(""), buf("cde")}, 0, 3);
                    return n + ":" + str(in[0]) + str(in[2]) + str(in[3]) + "," + w + "," + ch.position();
                }
            });
        }

        @Test void truncateShortensAndClampsThePosition() throws Exception {
            same(r -> { try (FileChannel ch = open(r, WRITE)) { ch.position(8); ch.truncate(4); return ch.size() + "," + ch.position(); } });
        }

        @Test void truncateNeverGrows() throws Exception {
            same(r -> { try (FileChannel ch = open(r, WRITE)) { ch.position(3); ch.truncate(100); return ch.size() + "," + ch.position(); } });
        }

        @Test void truncateOnAReadChannelIsNonWritable() throws Exception {
            Outcome o = same(r -> { try (FileChannel ch = open(r, READ)) { return ch.truncate(1); } });
            assertInstanceOf(NonWritableChannelException.class, o.thrown());
        }

        @Test void aReadChannelRefusesWrites() throws Exception {
            Outcome o = same(r -> { try (FileChannel ch = open(r, READ)) { return ch.write(buf("x")); } });
            assertInstanceOf(NonWritableChannelException.class, o.thrown());
        }

        @Test void aWriteChannelRefusesReads() throws Exception {
            Outcome o = same(r -> { try (FileChannel ch = open(r, WRITE)) { return ch.read(ByteBuffer.allocate(1), 0); } });
            assertInstanceOf(NonReadableChannelException.class, o.thrown());
        }

        @Test void forceWorksOnReadAndWriteChannels() throws Exception {
            same(r -> {
                try (FileChannel w = open(r, WRITE); FileChannel rd = open(r, READ)) {
                    w.write(buf("forced"));
                    w.force(true);
                    w.force(false);
                    rd.force(true);
                    rd.force(false);
                    return w.size();
                }
            });
        }

        @Test void transferToCopiesARangeIntoAnyChannel() throws Exception {
            same(r -> {
                java.io.ByteArrayOutputStream sink = new java.io.ByteArrayOutputStream();
                try (FileChannel ch = open(r, READ)) {
                    long n = ch.transferTo(2, 5, Channels.newChannel(sink));
                    return n + ":" + sink + "," + ch.position();
                }
            });
        }

        @Test void transferToAChannelOfTheSameProvider() throws Exception {
            same(r -> {
                try (FileChannel in = open(r, READ); FileChannel out = FileChannel.open(r.resolve("g"), CREATE_NEW, WRITE)) {
                    out.position(2);
                    return in.transferTo(0, 100, out) + "," + out.position();
                }
            });
        }

        @Test void transferToFromPastTheEndTransfersNothing() throws Exception {
            same(r -> { try (FileChannel ch = open(r, READ)) { return ch.transferTo(50, 5, Channels.newChannel(new java.io.ByteArrayOutputStream())); } });
        }

        @Test void transferFromWritesAtThePosition() throws Exception {
            same(r -> {
                try (FileChannel ch = open(r, WRITE)) {
                    long n = ch.transferFrom(Channels.newChannel(new java.io.ByteArrayInputStream(bytes("abcdefgh"))), 4, 6);
                    return n + "," + ch.position() + "," + ch.size();
                }
            });
        }

        @Test void transferFromPastTheEndExtendsTheFile() throws Exception {
            // Since JDK 21 FileChannel.transferFrom extends the file when the position is past its end
            same(r -> {
                try (FileChannel ch = open(r, WRITE)) {
                    return ch.transferFrom(Channels.newChannel(new java.io.ByteArrayInputStream(bytes("abc"))), 20, 3) + "," + ch.size();
                }
            });
        }

        @Test void transferFromAnotherFileChannel() throws Exception {
            same(r -> {
                write(r.resolve("g"), "source-bytes");
                try (FileChannel ch = open(r, WRITE); FileChannel src = FileChannel.open(r.resolve("g"), READ)) {
                    src.position(7);
                    return ch.transferFrom(src, 1, 100) + "," + src.position();
                }
            });
        }

        @Test void transferDirectionsNeedReadingAndWriting() throws Exception {
            Outcome o = same(r -> { try (FileChannel ch = open(r, WRITE)) { return ch.transferTo(0, 1, Channels.newChannel(new java.io.ByteArrayOutputStream())); } });
            assertInstanceOf(NonReadableChannelException.class, o.thrown());
            o = same(r -> { try (FileChannel ch = open(r, READ)) { return ch.transferFrom(Channels.newChannel(new java.io.ByteArrayInputStream(new byte[1])), 0, 1); } });
            assertInstanceOf(NonWritableChannelException.class, o.thrown());
        }

        @Test void aClosedChannelRefusesEverything() throws Exception {
            for (int k = 0; k < 11; k++) {
                int kk = k;
                Outcome o = same(r -> {
                    FileChannel ch = open(r, READ, WRITE);
                    ch.close();
                    return switch (kk) {
                        case 0 -> ch.read(ByteBuffer.allocate(1));
                        case 1 -> ch.write(buf("x"));
                        case 2 -> ch.read(ByteBuffer.allocate(1), 0);
                        case 3 -> ch.write(buf("x"), 0);
                        case 4 -> ch.position();
                        case 5 -> ch.position(1);
                        case 6 -> ch.size();
                        case 7 -> ch.truncate(0);
                        case 8 -> { ch.force(true); yield null; }
                        case 9 -> ch.lock();
                        default -> ch.transferTo(0, 1, Channels.newChannel(new java.io.ByteArrayOutputStream()));
                    };
                });
                assertInstanceOf(ClosedChannelException.class, o.thrown(), "case " + k);
            }
        }

        @Test void closingTwiceIsHarmless() throws Exception {
            same(r -> { FileChannel ch = open(r, READ); ch.close(); ch.close(); return ch.isOpen(); });
        }
    }

    // =====================================================================================

    @Nested class Locking {
        @BeforeEach void file() throws Exception { given(r -> write(r.resolve("f"), "0123456789")); }

        FileChannel open(Path r, OpenOption... o) throws IOException { return FileChannel.open(r.resolve("f"), o); }

        @Test void overlappingLocksOfTwoChannelsInOneJvmAreRefused() throws Exception {
            for (boolean blocking : new boolean[] {false, true}) {
                Outcome o = same(r -> {
                    try (FileChannel a = open(r, READ, WRITE); FileChannel b = open(r, READ, WRITE); FileLock _ = a.tryLock(0, 5, false)) {
                        return blocking ? b.lock(4, 5, false) : b.tryLock(4, 5, false);
                    }
                });
                assertInstanceOf(OverlappingFileLockException.class, o.thrown());
            }
        }

        @Test void sharedLocksOverlappingInOneJvmAreRefusedToo() throws Exception {
            Outcome o = same(r -> {
                try (FileChannel a = open(r, READ); FileChannel b = open(r, READ); FileLock _ = a.lock(0, 5, true)) { return b.tryLock(0, 5, true); }
            });
            assertInstanceOf(OverlappingFileLockException.class, o.thrown());
        }

        @Test void aChannelCannotLockARangeItHoldsTwice() throws Exception {
            Outcome o = same(r -> { try (FileChannel a = open(r, READ, WRITE); FileLock _ = a.lock()) { return a.tryLock(3, 1, false); } });
            assertInstanceOf(OverlappingFileLockException.class, o.thrown());
        }

        @Test void disjointRangesLockTogether() throws Exception {
            same(r -> {
                try (FileChannel a = open(r, READ, WRITE); FileChannel b = open(r, READ, WRITE); FileLock x = a.lock(0, 5, false); FileLock y = b.tryLock(5, 5, false)) {
                    return x.isValid() + "," + y.isValid() + "," + y.position() + "," + y.size() + "," + y.isShared() + "," + (y.channel() == b) + "," + x.overlaps(4, 2);
                }
            });
        }

        @Test void aReleasedRangeCanBeLockedAgain() throws Exception {
            same(r -> {
                try (FileChannel a = open(r, READ, WRITE); FileChannel b = open(r, READ, WRITE)) {
                    FileLock x = a.lock();
                    x.release();
                    try (FileLock y = b.tryLock()) { return x.isValid() + "," + y.isValid(); }
                }
            });
        }

        @Test void closingAChannelReleasesItsLocks() throws Exception {
            same(r -> {
                FileChannel a = open(r, READ, WRITE);
                FileLock x = a.lock(0, Long.MAX_VALUE, false);
                a.close();
                try (FileChannel b = open(r, READ, WRITE); FileLock y = b.tryLock()) { return x.isValid() + "," + y.isValid(); }
            });
        }

        @Test void aSharedLockNeedsReadingAndAnExclusiveOneWriting() throws Exception {
            Outcome o = same(r -> { try (FileChannel w = open(r, WRITE)) { return w.tryLock(0, 1, true); } });
            assertInstanceOf(NonReadableChannelException.class, o.thrown());
            o = same(r -> { try (FileChannel rd = open(r, READ)) { return rd.lock(0, 1, false); } });
            assertInstanceOf(NonWritableChannelException.class, o.thrown());
        }

        @Test void lockingAClosedChannelIsClosedChannel() throws Exception {
            Outcome o = same(r -> { FileChannel a = open(r, READ, WRITE); a.close(); return a.tryLock(); });
            assertInstanceOf(ClosedChannelException.class, o.thrown());
        }

        @Test void locksOfDifferentFilesNeverOverlap() throws Exception {
            same(r -> {
                write(r.resolve("g"), "other");
                try (FileChannel a = open(r, READ, WRITE); FileChannel b = FileChannel.open(r.resolve("g"), READ, WRITE); FileLock _ = a.lock(); FileLock y = b.tryLock()) {
                    return y != null;
                }
            });
        }
    }

    // =====================================================================================

    @Nested class Mapping {
        static final String TEXT = "mapped bytes: 0123456789abcdef";

        @BeforeEach void file() throws Exception { given(r -> write(r.resolve("f"), TEXT)); }

        static String segment(MemorySegment m) { return new String(m.toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8); }

        @Test void mapIntoAMappedByteBufferIsUnsupported() throws IOException {
            // Legitimately different: an image has no host file range to map (documented in
            // ImageFileChannel); the default provider maps the file.
            try (FileChannel ch = FileChannel.open(image.resolve("f"), READ)) {
                assertThrows(UnsupportedOperationException.class, () -> ch.map(FileChannel.MapMode.READ_ONLY, 0, 4));
            }
            try (FileChannel ch = FileChannel.open(host.resolve("f"), READ)) {
                assertEquals('m', ch.map(FileChannel.MapMode.READ_ONLY, 0, 4).get(0));
            }
        }

        @Test void mapReadOnlyIntoAnArenaGivesTheBytes() throws Exception {
            same(r -> {
                try (FileChannel ch = FileChannel.open(r.resolve("f"), READ); Arena arena = Arena.ofConfined()) {
                    MemorySegment m = ch.map(FileChannel.MapMode.READ_ONLY, 7, 12, arena);
                    return m.byteSize() + ":" + segment(m) + "," + m.isReadOnly();
                }
            });
        }

        @Test void aReadOnlySegmentRefusesWrites() throws Exception {
            Outcome o = same(r -> {
                try (FileChannel ch = FileChannel.open(r.resolve("f"), READ); Arena arena = Arena.ofConfined()) {
                    ch.map(FileChannel.MapMode.READ_ONLY, 0, 4, arena).set(ValueLayout.JAVA_BYTE, 0, (byte) 'X');
                    return null;
                }
            });
            assertNotNull(o.thrown());
        }

        @Test void mapPrivateKeepsChangesOutOfTheFile() throws Exception {
            same(r -> {
                try (FileChannel ch = FileChannel.open(r.resolve("f"), READ, WRITE); Arena arena = Arena.ofConfined()) {
                    MemorySegment m = ch.map(FileChannel.MapMode.PRIVATE, 0, 6, arena);
                    m.set(ValueLayout.JAVA_BYTE, 0, (byte) 'M');
                    return segment(m) + "," + m.isReadOnly();
                }
            });
        }

        @Test void mapPrivateNeedsAWritableChannel() throws Exception {
            // FileChannel.map: NonWritableChannelException "if the mode is READ_WRITE or PRIVATE but
            // this channel was not opened for both reading and writing"
            Outcome o = same(r -> {
                try (FileChannel ch = FileChannel.open(r.resolve("f"), READ); Arena arena = Arena.ofConfined()) { return ch.map(FileChannel.MapMode.PRIVATE, 0, 4, arena).byteSize(); }
            });
            assertInstanceOf(NonWritableChannelException.class, o.thrown());
        }

        @Test void mapReadWriteIntoAnArenaIsUnsupported() throws IOException {
            // Legitimately different: a READ_WRITE mapping would have to write back through the
            // image; ext4j offers READ_ONLY and PRIVATE copies only (documented).
            try (FileChannel ch = FileChannel.open(image.resolve("f"), READ, WRITE); Arena arena = Arena.ofConfined()) {
                assertThrows(UnsupportedOperationException.class, () -> ch.map(FileChannel.MapMode.READ_WRITE, 0, 4, arena));
            }
        }

        @Test void mappingNeedsAReadableChannel() throws Exception {
            Outcome o = same(r -> {
                try (FileChannel ch = FileChannel.open(r.resolve("f"), WRITE); Arena arena = Arena.ofConfined()) { return ch.map(FileChannel.MapMode.READ_ONLY, 0, 4, arena).byteSize(); }
            });
            assertInstanceOf(NonReadableChannelException.class, o.thrown());
        }
    }

    // =====================================================================================

    @Nested class DirectoryChannels {
        @BeforeEach void dir() throws Exception { given(r -> Files.createDirectory(r.resolve("d"))); }

        @Test void aDirectoryOpensForReadingAndForces() throws Exception {
            same(r -> {
                try (FileChannel ch = FileChannel.open(r.resolve("d"), READ)) {
                    ch.force(true);
                    ch.force(false);
                    return ch.isOpen() + "," + ch.size();
                }
            });
        }

        @Test void readingADirectoryChannelFails() throws Exception {
            Outcome o = same(r -> { try (FileChannel ch = FileChannel.open(r.resolve("d"), READ)) { return ch.read(ByteBuffer.allocate(1)); } });
            assertInstanceOf(IOException.class, o.thrown());
        }

        @Test void aDirectoryCannotBeOpenedForWriting() throws Exception {
            Outcome o = same(r -> FileChannel.open(r.resolve("d"), WRITE));
            assertInstanceOf(FileSystemException.class, o.thrown());
        }
    }

    // =====================================================================================

    @Nested class DirectoryStreams {
        static List<String> names(DirectoryStream<Path> ds) {
            List<String> l = new ArrayList<>();
            for (Path p : ds) l.add(p.getFileName().toString());
            l.sort(null);
            return l;
        }

        @BeforeEach void entries() throws Exception {
            given(r -> {
                for (String n : List.of("a.txt", "b.txt", "ab", "ba", "c.md", ".hidden", "x", "[x]", "a{b}")) write(r.resolve(n), n);
                Files.createDirectory(r.resolve("sub"));
                write(r.resolve("sub/deep.txt"), "d");
                return Files.createSymbolicLink(r.resolve("ln.txt"), r.getFileSystem().getPath("a.txt"));
            });
        }

        @Test void aListingGivesEveryEntryOnceAndNoDots() throws Exception {
            same(r -> { try (DirectoryStream<Path> ds = Files.newDirectoryStream(r)) { return names(ds); } });
        }

        @Test void aLargeListingGivesEveryEntryOnce() throws Exception {
            given(r -> { Path big = Files.createDirectory(r.resolve("big")); for (int i = 0; i < 1500; i++) Files.createFile(big.resolve("entry-" + i)); return null; });
            same(r -> {
                List<String> l = new ArrayList<>();
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(r.resolve("big"))) { for (Path p : ds) l.add(p.getFileName().toString()); }
                return l.size() + "," + new HashSet<>(l).size() + "," + new TreeSet<>(l).first() + "," + new TreeSet<>(l).last();
            });
        }

        @Test void entriesAreTheDirectoryResolvedWithTheirNames() throws Exception {
            same(r -> {
                Path d = r.resolve("sub/../sub");
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(d)) {
                    List<String> l = new ArrayList<>();
                    for (Path p : ds) l.add(p.toString().substring(r.toString().length()) + "," + p.getParent().equals(d));
                    return l;
                }
            });
        }

        @Test void globsMatchTheFileName() throws Exception {
            for (String glob : List.of("*", "*.txt", "{a,b}*", "?", "??", "[ab]?", "[!a]*", "*.{txt,md}", ".*", "\\[x\\]", "a\\{b\\}", "**", "sub*", "*/*", "")) {
                Outcome o = same(r -> { try (DirectoryStream<Path> ds = Files.newDirectoryStream(r, glob)) { return names(ds); } });
                assertNull(o.thrown(), glob);
            }
        }

        @Test void aBadGlobIsRefused() throws Exception {
            Outcome o = same(r -> Files.newDirectoryStream(r, "[ab"));
            assertInstanceOf(IllegalArgumentException.class, o.thrown());
        }

        @Test void aFilterSeesEveryEntry() throws Exception {
            same(r -> {
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(r, p -> Files.isRegularFile(p, NOFOLLOW_LINKS) && p.getFileName().toString().length() == 2)) { return names(ds); }
            });
        }

        @Test void aFilterFailureIsADirectoryIteratorException() throws Exception {
            Outcome o = same(r -> {
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(r, p -> { throw new IOException("no"); })) { return names(ds); }
            });
            assertInstanceOf(DirectoryIteratorException.class, o.thrown());
        }

        @Test void listingAFileIsNotADirectory() throws Exception {
            Outcome o = same(r -> Files.newDirectoryStream(r.resolve("x")));
            assertInstanceOf(java.nio.file.NotDirectoryException.class, o.thrown());
        }

        @Test void listingNothingIsNoSuchFile() throws Exception {
            Outcome o = same(r -> Files.newDirectoryStream(r.resolve("nothing")));
            assertInstanceOf(NoSuchFileException.class, o.thrown());
        }

        @Test void aSymlinkToADirectoryIsListed() throws Exception {
            given(r -> Files.createSymbolicLink(r.resolve("sublink"), r.getFileSystem().getPath("sub")));
            same(r -> { try (DirectoryStream<Path> ds = Files.newDirectoryStream(r.resolve("sublink"))) { return names(ds); } });
        }

        @Test void aSecondIteratorIsIllegal() throws Exception {
            Outcome o = same(r -> { try (DirectoryStream<Path> ds = Files.newDirectoryStream(r)) { ds.iterator(); return ds.iterator(); } });
            assertInstanceOf(IllegalStateException.class, o.thrown());
        }

        @Test void aClosedStreamGivesNoIterator() throws Exception {
            // the JDK throws IllegalStateException, ext4j its subtype ClosedDirectoryStreamException
            Outcome h = outcome(r -> { DirectoryStream<Path> ds = Files.newDirectoryStream(r); ds.close(); return ds.iterator(); }, host);
            Outcome i = outcome(r -> { DirectoryStream<Path> ds = Files.newDirectoryStream(r); ds.close(); return ds.iterator(); }, image);
            assertInstanceOf(IllegalStateException.class, h.thrown());
            assertInstanceOf(IllegalStateException.class, i.thrown());
        }

        @Test void walkAndFindAgree() throws Exception {
            same(r -> {
                try (Stream<Path> w = Files.walk(r); Stream<Path> f = Files.find(r, 5, (p, a) -> a.isRegularFile())) {
                    return w.map(p -> r.relativize(p).toString()).sorted().toList() + "|" + f.map(p -> r.relativize(p).toString()).sorted().toList();
                }
            });
        }

        @Test void walkFileTreeVisitsInTheSameShape() throws Exception {
            same(r -> {
                List<String> events = new ArrayList<>();
                Files.walkFileTree(r, Set.of(), 10, new SimpleFileVisitor<>() {
                    @Override public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes a) { events.add("pre " + r.relativize(d)); return FileVisitResult.CONTINUE; }
                    @Override public FileVisitResult visitFile(Path f, BasicFileAttributes a) { events.add("file " + r.relativize(f) + " " + a.isSymbolicLink() + " " + a.size()); return FileVisitResult.CONTINUE; }
                    @Override public FileVisitResult postVisitDirectory(Path d, IOException e) { events.add("post " + r.relativize(d)); return FileVisitResult.CONTINUE; }
                });
                events.sort(null);
                return events;
            });
        }
    }

    // =====================================================================================

    @Nested class Creating {
        @BeforeEach void fixture() throws Exception { given(NioContractTest::standard); }

        @Test void createDirectoryMakesAnEmptyDirectory() throws Exception {
            same(r -> Files.createDirectory(r.resolve("new")).getFileName());
        }

        @Test void createDirectoryOverAnyExistingNameIsFileAlreadyExists() throws Exception {
            for (String n : List.of("file", "dir", "link", "dirlink", "dangling")) {
                Outcome o = same(r -> Files.createDirectory(r.resolve(n)));
                assertInstanceOf(FileAlreadyExistsException.class, o.thrown(), n);
            }
        }

        @Test void createDirectoryWithoutItsParentIsNoSuchFile() throws Exception {
            Outcome o = same(r -> Files.createDirectory(r.resolve("no/new")));
            assertInstanceOf(NoSuchFileException.class, o.thrown());
        }

        @Test void createDirectoryUnderAFileFails() throws Exception {
            Outcome o = same(r -> Files.createDirectory(r.resolve("file/new")));
            assertInstanceOf(FileSystemException.class, o.thrown());
        }

        @Test void createDirectoryThroughASymlinkedParent() throws Exception {
            same(r -> Files.createDirectory(r.resolve("dirlink/new")).getFileName());
        }

        @Test void createDirectoryWithPermissions() throws Exception {
            same(r -> Files.getPosixFilePermissions(Files.createDirectory(r.resolve("new"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-x---")))));
        }

        @Test void createDirectoriesMakesEveryMissingLevel() throws Exception {
            same(r -> Files.createDirectories(r.resolve("a/b/c")).getNameCount() - r.getNameCount());
        }

        @Test void createDirectoriesOfAnExistingDirectoryIsFine() throws Exception {
            same(r -> Files.createDirectories(r.resolve("full")) != null);
        }

        @Test void createDirectoriesThroughASymlinkToADirectory() throws Exception {
            same(r -> Files.createDirectories(r.resolve("dirlink/x/y")) != null && Files.createDirectories(r.resolve("dirlink")) != null);
        }

        @Test void createDirectoriesOverAFileIsFileAlreadyExists() throws Exception {
            Outcome o = same(r -> Files.createDirectories(r.resolve("file")));
            assertInstanceOf(FileAlreadyExistsException.class, o.thrown());
        }

        @Test void createDirectoriesBelowAFileFails() throws Exception {
            Outcome o = same(r -> Files.createDirectories(r.resolve("file/x/y")));
            assertNotNull(o.thrown());
        }

        @Test void createFileMakesAnEmptyFile() throws Exception {
            same(r -> Files.size(Files.createFile(r.resolve("new"))));
        }

        @Test void createFileOverAnExistingNameIsFileAlreadyExists() throws Exception {
            for (String n : List.of("file", "dir", "link", "dangling")) {
                Outcome o = same(r -> Files.createFile(r.resolve(n)));
                assertInstanceOf(FileAlreadyExistsException.class, o.thrown(), n);
            }
        }

        @Test void createSymbolicLinkStoresTheTargetVerbatim() throws Exception {
            int k = 0;
            for (String t : List.of("file", "../x", "/abs/path", "a//b/", "dir/", ".", "..", "ü/€", "x y", "nowhere/deeper")) {
                String name = "l" + k++;
                same(r -> { Files.createSymbolicLink(r.resolve(name), r.getFileSystem().getPath(t)); return Files.readSymbolicLink(r.resolve(name)).toString() + "," + Files.isSymbolicLink(r.resolve(name)); });
            }
        }

        @Test void createSymbolicLinkOverAnExistingNameIsFileAlreadyExists() throws Exception {
            for (String n : List.of("file", "dir", "link", "dangling")) {
                Outcome o = same(r -> Files.createSymbolicLink(r.resolve(n), r.getFileSystem().getPath("t")));
                assertInstanceOf(FileAlreadyExistsException.class, o.thrown(), n);
            }
        }

        @Test void aSymlinkCannotHaveInitialAttributes() throws Exception {
            Outcome o = same(r -> Files.createSymbolicLink(r.resolve("new"), r.getFileSystem().getPath("file"), PosixFilePermissions.asFileAttribute(RW_R_____)));
            assertInstanceOf(UnsupportedOperationException.class, o.thrown());
        }

        @Test void aLongSymlinkTargetRoundTrips() throws Exception {
            String t = "x".repeat(200) + "/" + "y".repeat(250) + "/" + "z".repeat(250) + "/" + "w".repeat(250);
            same(r -> Files.readSymbolicLink(Files.createSymbolicLink(r.resolve("long"), r.getFileSystem().getPath(t))).toString().length());
        }

        @Test void createLinkSharesTheInode() throws Exception {
            same(r -> {
                Path l = Files.createLink(r.resolve("hard"), r.resolve("file"));
                write(l, "through the link");
                Object k1 = Files.readAttributes(l, BasicFileAttributes.class).fileKey(), k2 = Files.readAttributes(r.resolve("file"), BasicFileAttributes.class).fileKey();
                return k1.equals(k2) + "," + Files.getAttribute(l, "unix:nlink") + "," + Files.getAttribute(r.resolve("file"), "unix:nlink") + ","
                        + Files.getAttribute(l, "unix:ino").equals(Files.getAttribute(r.resolve("file"), "unix:ino")) + "," + Files.isSameFile(l, r.resolve("file"));
            });
        }

        @Test void createLinkOverAnExistingNameIsFileAlreadyExists() throws Exception {
            Outcome o = same(r -> Files.createLink(r.resolve("dir"), r.resolve("file")));
            assertInstanceOf(FileAlreadyExistsException.class, o.thrown());
        }

        @Test void createLinkToADirectoryIsRefused() throws Exception {
            Outcome o = same(r -> Files.createLink(r.resolve("hard"), r.resolve("dir")));
            assertInstanceOf(FileSystemException.class, o.thrown());
        }

        @Test void createLinkToNothingIsNoSuchFile() throws Exception {
            Outcome o = same(r -> Files.createLink(r.resolve("hard"), r.resolve("nothing")));
            assertInstanceOf(NoSuchFileException.class, o.thrown());
        }

        @Test void createLinkToASymlinkLinksTheSymlinkItself() throws Exception {
            same(r -> { Path l = Files.createLink(r.resolve("hard"), r.resolve("dangling")); return Files.isSymbolicLink(l) + "," + Files.getAttribute(l, "unix:nlink", NOFOLLOW_LINKS); });
        }

        @Test void directoryLinkCountsCountSubdirectories() throws Exception {
            same(r -> {
                for (String n : List.of("d/a", "d/b", "d/c")) Files.createDirectories(r.resolve(n));
                write(r.resolve("d/f"), "");
                return Files.getAttribute(r.resolve("d"), "unix:nlink") + "," + Files.getAttribute(r.resolve("d/a"), "unix:nlink");
            });
        }
    }

    // =====================================================================================

    @Nested class Deleting {
        @BeforeEach void fixture() throws Exception { given(NioContractTest::standard); }

        @Test void deleteRemovesFilesLinksAndEmptyDirectories() throws Exception {
            for (String n : List.of("file", "dir", "link", "dirlink", "dangling")) same(r -> { Files.delete(r.resolve(n)); return null; });
        }

        @Test void deletingANonEmptyDirectoryIsDirectoryNotEmpty() throws Exception {
            Outcome o = same(r -> { Files.delete(r.resolve("full")); return null; });
            assertInstanceOf(java.nio.file.DirectoryNotEmptyException.class, o.thrown());
        }

        @Test void deletingNothingIsNoSuchFile() throws Exception {
            Outcome o = same(r -> { Files.delete(r.resolve("nothing")); return null; });
            assertInstanceOf(NoSuchFileException.class, o.thrown());
            o = same(r -> { Files.delete(r.resolve("nothing/deeper")); return null; });
            assertInstanceOf(NoSuchFileException.class, o.thrown());
        }

        @Test void deleteIfExistsSaysWhetherItDeleted() throws Exception {
            same(r -> Files.deleteIfExists(r.resolve("file")) + "," + Files.deleteIfExists(r.resolve("file")));
        }

        @Test void deletingASymlinkKeepsItsTarget() throws Exception {
            same(r -> { Files.delete(r.resolve("dirlink")); return Files.isDirectory(r.resolve("dir")); });
        }

        @Test void deletingThroughAFileFails() throws Exception {
            Outcome o = same(r -> { Files.delete(r.resolve("file/x")); return null; });
            assertInstanceOf(FileSystemException.class, o.thrown());
        }

        @Test void deletingDotFails() throws Exception {
            Outcome o = same(r -> { Files.delete(r.resolve("dir/.")); return null; });
            assertInstanceOf(FileSystemException.class, o.thrown());
        }

        @Test void anOpenFileCanBeDeletedAndStillRead() throws Exception {
            same(r -> {
                try (FileChannel ch = FileChannel.open(r.resolve("file"), READ, WRITE)) {
                    Files.delete(r.resolve("file"));
                    ch.write(buf("HE"), 0);
                    ByteBuffer b = ByteBuffer.allocate(10);
                    ch.read(b, 0);
                    return str(b) + "," + Files.exists(r.resolve("file"));
                }
            });
        }
    }

    // =====================================================================================

    @Nested class Queries {
        @BeforeEach void fixture() throws Exception { given(NioContractTest::standard); }

        @Test void readSymbolicLinkGivesTheTarget() throws Exception {
            same(r -> Files.readSymbolicLink(r.resolve("link")) + "," + Files.readSymbolicLink(r.resolve("dangling")) + "," + Files.readSymbolicLink(r.resolve("dirlink")));
        }

        @Test void readSymbolicLinkOfAnythingElseIsNotLink() throws Exception {
            for (String n : List.of("file", "dir", "dirlink/.")) {
                Outcome o = same(r -> Files.readSymbolicLink(r.resolve(n)));
                assertInstanceOf(java.nio.file.NotLinkException.class, o.thrown(), n);
            }
        }

        @Test void readSymbolicLinkOfNothingIsNoSuchFile() throws Exception {
            Outcome o = same(r -> Files.readSymbolicLink(r.resolve("nothing")));
            assertInstanceOf(NoSuchFileException.class, o.thrown());
        }

        @Test void isSameFileFollowsLinksAndDots() throws Exception {
            same(r -> {
                Files.createLink(r.resolve("hard"), r.resolve("file"));
                return List.of(Files.isSameFile(r.resolve("file"), r.resolve("link")), Files.isSameFile(r.resolve("file"), r.resolve("hard")),
                        Files.isSameFile(r.resolve("dir"), r.resolve("full/../dir")), Files.isSameFile(r.resolve("dir"), r.resolve("dirlink")),
                        Files.isSameFile(r.resolve("file"), r.resolve("dir")), Files.isSameFile(r.resolve("nothing"), r.resolve("nothing")));
            });
        }

        @Test void isSameFileOfNothingAndSomethingIsNoSuchFile() throws Exception {
            Outcome o = same(r -> Files.isSameFile(r.resolve("nothing"), r.resolve("file")));
            assertInstanceOf(NoSuchFileException.class, o.thrown());
            o = same(r -> Files.isSameFile(r.resolve("dangling"), r.resolve("file")));
            assertInstanceOf(NoSuchFileException.class, o.thrown());
        }

        @Test void isHiddenMeansALeadingDot() throws Exception {
            same(r -> List.of(Files.isHidden(r.resolve(".x")), Files.isHidden(r.resolve("x")), Files.isHidden(r.resolve("a/.b")), Files.isHidden(r.resolve(".a/b")),
                    Files.isHidden(r.getFileSystem().getPath("/")), Files.isHidden(r.resolve("."))));
        }

        @Test void checkAccessOfExistingThings() throws Exception {
            given(r -> { Files.setPosixFilePermissions(r.resolve("file"), PosixFilePermissions.fromString("rw-r--r--")); return null; });
            for (String n : List.of("file", "dir", "link", "dirlink"))
                for (AccessMode[] m : List.of(new AccessMode[0], new AccessMode[] {AccessMode.READ}, new AccessMode[] {AccessMode.WRITE}, new AccessMode[] {AccessMode.EXECUTE},
                        new AccessMode[] {AccessMode.READ, AccessMode.WRITE, AccessMode.EXECUTE}))
                    same(r -> { r.getFileSystem().provider().checkAccess(r.resolve(n), m); return "ok"; });
        }

        @Test void checkAccessOfNothingIsNoSuchFile() throws Exception {
            for (String n : List.of("nothing", "dangling", "file/x")) {
                Outcome o = same(r -> { r.getFileSystem().provider().checkAccess(r.resolve(n)); return "ok"; });
                assertInstanceOf(FileSystemException.class, o.thrown(), n);
            }
        }

        @Test void existsAndFriends() throws Exception {
            same(r -> {
                List<String> l = new ArrayList<>();
                for (String n : List.of("file", "dir", "link", "dirlink", "dangling", "nothing", "file/x"))
                    l.add(n + ":" + Files.exists(r.resolve(n)) + Files.exists(r.resolve(n), NOFOLLOW_LINKS) + Files.notExists(r.resolve(n)) + Files.isRegularFile(r.resolve(n))
                            + Files.isDirectory(r.resolve(n)) + Files.isSymbolicLink(r.resolve(n)) + Files.isReadable(r.resolve(n)) + Files.isWritable(r.resolve(n))
                            + Files.isExecutable(r.resolve(n)));
                return l;
            });
        }

        @Test void toRealPathResolvesEverySymlink() throws Exception {
            same(r -> {
                Path real = r.toRealPath();
                List<String> l = new ArrayList<>();
                for (String n : List.of("file", "link", "dirlink", "dirlink/../full/inner", "full/./inner", "dir/.."))
                    l.add(real.relativize(r.resolve(n).toRealPath()).toString());
                l.add(real.relativize(r.resolve("link").toRealPath(NOFOLLOW_LINKS)).toString());
                return l;
            });
        }

        @Test void toRealPathOfNothingIsNoSuchFile() throws Exception {
            for (String n : List.of("nothing", "dangling")) {
                Outcome o = same(r -> r.resolve(n).toRealPath());
                assertInstanceOf(NoSuchFileException.class, o.thrown(), n);
            }
        }

        @Test void aSymlinkLoopIsRefused() throws Exception {
            given(r -> { Files.createSymbolicLink(r.resolve("l1"), r.getFileSystem().getPath("l2")); return Files.createSymbolicLink(r.resolve("l2"), r.getFileSystem().getPath("l1")); });
            Outcome o = same(r -> Files.readAllBytes(r.resolve("l1")));
            assertInstanceOf(FileSystemException.class, o.thrown());
        }
    }

    // =====================================================================================

    @Nested class CopyingAndMoving {
        @BeforeEach void fixture() throws Exception { given(NioContractTest::standard); }

        Outcome copy(String from, String to, CopyOption... o) { return same(r -> Files.copy(r.resolve(from), r.resolve(to), o).getFileName()); }
        Outcome move(String from, String to, CopyOption... o) { return same(r -> Files.move(r.resolve(from), r.resolve(to), o).getFileName()); }

        @Test void copyMakesAnIndependentFile() throws Exception {
            same(r -> { Files.copy(r.resolve("file"), r.resolve("copy")); write(r.resolve("copy"), "changed"); return Files.readString(r.resolve("file")); });
        }

        @Test void copyOntoAnExistingNameIsFileAlreadyExists() {
            for (String t : List.of("dir", "full/inner", "link", "dangling"))
                assertInstanceOf(FileAlreadyExistsException.class, copy("file", t).thrown(), t);
        }

        @Test void copyReplaceExistingReplacesFilesLinksAndEmptyDirectories() {
            for (String t : List.of("full/inner", "link", "dangling", "dir")) copy("file", t, REPLACE_EXISTING);
        }

        @Test void copyReplaceExistingOfANonEmptyDirectoryIsDirectoryNotEmpty() {
            assertInstanceOf(java.nio.file.DirectoryNotEmptyException.class, copy("file", "full", REPLACE_EXISTING).thrown());
        }

        @Test void copyOfADirectoryCopiesOnlyTheDirectory() { copy("full", "copy"); }

        @Test void copyFollowsASymlinkUnlessToldNot() {
            copy("link", "followed");
            copy("link", "kept", NOFOLLOW_LINKS);
            copy("dangling", "kept2", NOFOLLOW_LINKS);
        }

        @Test void copyOfADanglingSymlinkIsNoSuchFile() {
            assertInstanceOf(NoSuchFileException.class, copy("dangling", "x").thrown());
        }

        @Test void copyOntoItselfDoesNothing() {
            copy("file", "file");
            same(r -> Files.copy(r.resolve("file"), r.resolve("../" + r.getFileName() + "/file")).getFileName());
        }

        @Test void copyOntoAHardLinkOfItselfDoesNothing() throws Exception {
            given(r -> Files.createLink(r.resolve("hard"), r.resolve("file")));
            copy("file", "hard");
            same(r -> Files.getAttribute(r.resolve("file"), "unix:nlink"));
        }

        @Test void copyWithAtomicMoveIsUnsupported() {
            assertInstanceOf(UnsupportedOperationException.class, copy("file", "x", ATOMIC_MOVE).thrown());
        }

        @Test void copyIntoAMissingDirectoryIsNoSuchFile() {
            assertInstanceOf(NoSuchFileException.class, copy("file", "nothing/x").thrown());
        }

        @Test void copyOfNothingIsNoSuchFile() {
            assertInstanceOf(NoSuchFileException.class, copy("nothing", "x").thrown());
        }

        @Test void copyAttributesKeepsTimesAndPermissions() throws Exception {
            FileTime mtime = FileTime.from(Instant.parse("2011-02-03T04:05:06.123456789Z")), atime = FileTime.from(Instant.parse("2012-01-01T00:00:00.5Z"));
            given(r -> {
                Files.setPosixFilePermissions(r.resolve("file"), PosixFilePermissions.fromString("rwx--x-w-"));
                Files.getFileAttributeView(r.resolve("file"), BasicFileAttributeView.class).setTimes(mtime, atime, null);
                Files.getFileAttributeView(r.resolve("dir"), BasicFileAttributeView.class).setTimes(mtime, atime, null);
                return null;
            });
            same(r -> {
                Files.copy(r.resolve("file"), r.resolve("copy"), COPY_ATTRIBUTES);
                Files.copy(r.resolve("dir"), r.resolve("dcopy"), COPY_ATTRIBUTES);
                return List.of(Files.getLastModifiedTime(r.resolve("copy")), Files.readAttributes(r.resolve("copy"), BasicFileAttributes.class).lastAccessTime(),
                        Files.getLastModifiedTime(r.resolve("dcopy")));
            });
        }

        @Test void aPlainCopyIsANewFile() throws IOException {
            // Legitimately different ("otherwise file attributes are not required to be copied"): the
            // JDK creates the copy with the source's mode (less the umask), as cp does; ext4j creates
            // it as any new file (0666 less the umask 022); neither copies the times.
            Path f = image.resolve("file");
            Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwx--x-w-"));
            Files.setLastModifiedTime(f, FileTime.fromMillis(1000));
            Path c = Files.copy(f, image.resolve("plain"));
            assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(c)));
            assertNotEquals(FileTime.fromMillis(1000), Files.getLastModifiedTime(c));
        }

        @Test void copyAttributesOfASymlinkCopiesTheLink() throws Exception {
            given(r -> Files.copy(r.resolve("link"), r.resolve("copy"), COPY_ATTRIBUTES, NOFOLLOW_LINKS).getFileName());
        }

        @Test void copyAttributesOfASymlinkKeepsItsTimes() throws IOException {
            // Legitimately different ("the exact file attributes that are copied is platform and file
            // system dependent"): the JDK copies no times of a symlink; ext4j copies its mtime and atime
            FileTime mtime = FileTime.from(Instant.parse("2001-01-01T01:01:01.000000001Z"));
            Files.getFileAttributeView(image.resolve("link"), BasicFileAttributeView.class, NOFOLLOW_LINKS).setTimes(mtime, null, null);
            Files.copy(image.resolve("link"), image.resolve("copy"), COPY_ATTRIBUTES, NOFOLLOW_LINKS);
            assertEquals(mtime, Files.getLastModifiedTime(image.resolve("copy"), NOFOLLOW_LINKS));
            assertEquals(fs.getPath("file"), Files.readSymbolicLink(image.resolve("copy")));
        }

        @Test void moveRenames() {
            move("file", "renamed");
            move("full", "moved");
            move("dir", "full/dir");
        }

        @Test void moveOntoAnExistingNameIsFileAlreadyExists() {
            for (String t : List.of("dir", "full/inner", "link", "dangling", "full"))
                assertInstanceOf(FileAlreadyExistsException.class, move("file", t).thrown(), t);
        }

        @Test void moveReplaceExistingReplacesAFile() { move("file", "full/inner", REPLACE_EXISTING); }

        @Test void moveReplaceExistingReplacesASymlink() { move("file", "dangling", REPLACE_EXISTING); }

        @Test void moveReplaceExistingPutsADirectoryOverAFile() {
            // Files.move: "the target file is replaced if it is not a non-empty directory", whatever its type
            move("dir", "file", REPLACE_EXISTING);
        }

        @Test void moveReplaceExistingPutsAFileOverAnEmptyDirectory() { move("file", "dir", REPLACE_EXISTING); }

        @Test void moveReplaceExistingOfANonEmptyDirectoryIsDirectoryNotEmpty() {
            assertInstanceOf(java.nio.file.DirectoryNotEmptyException.class, move("dir", "full", REPLACE_EXISTING).thrown());
        }

        @Test void atomicMoveReplacesLikeRename() {
            move("file", "full/inner", ATOMIC_MOVE);
            move("dir", "dirlink", ATOMIC_MOVE);
        }

        @Test void moveIntoItsOwnSubdirectoryFails() {
            assertInstanceOf(FileSystemException.class, move("full", "full/sub").thrown());
        }

        @Test void moveOfNothingIsNoSuchFile() {
            assertInstanceOf(NoSuchFileException.class, move("nothing", "x").thrown());
            assertInstanceOf(NoSuchFileException.class, move("file", "nothing/x").thrown());
        }

        @Test void moveOfASymlinkMovesTheLink() { move("dangling", "full/moved"); }

        @Test void moveOntoItselfDoesNothing() {
            move("file", "file");
            move("dir", "dir");
        }

        @Test void moveOntoAHardLinkOfItselfDoesNothing() throws Exception {
            given(r -> Files.createLink(r.resolve("hard"), r.resolve("file")));
            move("file", "hard");
        }

        @Test void moveKeepsTheInodeAndItsTimes() throws Exception {
            FileTime mtime = FileTime.from(Instant.parse("2015-05-05T05:05:05.555555555Z"));
            given(r -> Files.setLastModifiedTime(r.resolve("file"), mtime));
            same(r -> {
                Object key = Files.readAttributes(r.resolve("file"), BasicFileAttributes.class).fileKey();
                Files.move(r.resolve("file"), r.resolve("moved"));
                return key.equals(Files.readAttributes(r.resolve("moved"), BasicFileAttributes.class).fileKey()) + "," + Files.getLastModifiedTime(r.resolve("moved"));
            });
        }

        @Test void moveAcceptsCopyAttributesAndNofollow() throws IOException {
            // Legitimately different: Files.move lists REPLACE_EXISTING and ATOMIC_MOVE; the JDK
            // refuses COPY_ATTRIBUTES (UnsupportedOperationException); ext4j accepts and ignores it
            // and NOFOLLOW_LINKS, as a rename keeps every attribute and never follows a link
            Files.move(image.resolve("file"), image.resolve("moved"), COPY_ATTRIBUTES, NOFOLLOW_LINKS);
            assertEquals("hello", Files.readString(image.resolve("moved")));
            assertThrows(UnsupportedOperationException.class, () -> Files.move(host.resolve("file"), host.resolve("moved"), COPY_ATTRIBUTES));
        }
    }

    // =====================================================================================

    @Nested class BetweenFileSystems {
        static final FileTime MTIME = FileTime.from(Instant.parse("2020-02-29T12:34:56.987654321Z"));

        @Test void copyImageToHostKeepsBytesAndWithAttributesTheTimes() throws IOException {
            byte[] data = new java.util.Random(1).ints(300_000, 0, 256).collect(java.io.ByteArrayOutputStream::new, (o, b) -> o.write(b), (a, b) -> { }).toByteArray();
            Path src = Files.write(image.resolve("src"), data);
            Files.setLastModifiedTime(src, MTIME);
            Path a = Files.copy(src, host.resolve("a")), b = Files.copy(src, host.resolve("b"), COPY_ATTRIBUTES);
            assertArrayEquals(data, Files.readAllBytes(a));
            assertArrayEquals(data, Files.readAllBytes(b));
            assertEquals(MTIME, Files.getLastModifiedTime(b));
        }

        @Test void copyHostToImageKeepsBytesAndWithAttributesTheTimes() throws IOException {
            byte[] data = new java.util.Random(2).ints(300_000, 0, 256).collect(java.io.ByteArrayOutputStream::new, (o, b) -> o.write(b), (a, b) -> { }).toByteArray();
            Path src = Files.write(host.resolve("src"), data);
            Files.setLastModifiedTime(src, MTIME);
            Path a = Files.copy(src, image.resolve("a")), b = Files.copy(src, image.resolve("b"), COPY_ATTRIBUTES);
            assertArrayEquals(data, Files.readAllBytes(a));
            assertArrayEquals(data, Files.readAllBytes(b));
            assertEquals(MTIME, Files.getLastModifiedTime(b));
        }

        @Test void copyBetweenProvidersRespectsReplaceExisting() throws IOException {
            write(host.resolve("h"), "host");
            write(image.resolve("i"), "image");
            assertThrows(FileAlreadyExistsException.class, () -> Files.copy(host.resolve("h"), image.resolve("i")));
            assertThrows(FileAlreadyExistsException.class, () -> Files.copy(image.resolve("i"), host.resolve("h")));
            Files.copy(host.resolve("h"), image.resolve("i"), REPLACE_EXISTING);
            assertEquals("host", Files.readString(image.resolve("i")));
            write(image.resolve("i"), "image");
            Files.copy(image.resolve("i"), host.resolve("h"), REPLACE_EXISTING);
            assertEquals("image", Files.readString(host.resolve("h")));
        }

        @Test void copyOfADirectoryBetweenProvidersMakesAnEmptyOne() throws IOException {
            Files.createDirectories(image.resolve("d/sub"));
            Files.copy(image.resolve("d"), host.resolve("d"));
            assertTrue(Files.isDirectory(host.resolve("d")));
            assertFalse(Files.exists(host.resolve("d/sub")));
            Files.copy(host.resolve("d"), image.resolve("e"));
            assertTrue(Files.isDirectory(image.resolve("e")));
        }

        @Test void streamsCopyBetweenProviders() throws IOException {
            write(host.resolve("h"), "streamed");
            try (InputStream in = Files.newInputStream(host.resolve("h"))) { Files.copy(in, image.resolve("i")); }
            try (OutputStream out = Files.newOutputStream(host.resolve("back"))) { Files.copy(image.resolve("i"), out); }
            assertEquals("streamed", Files.readString(host.resolve("back")));
        }

        @Test void moveBetweenProvidersCopiesAndDeletes() throws IOException {
            write(image.resolve("i"), "moving");
            Files.move(image.resolve("i"), host.resolve("h"));
            assertEquals("moving", Files.readString(host.resolve("h")));
            assertFalse(Files.exists(image.resolve("i")));
            Files.move(host.resolve("h"), image.resolve("back"));
            assertEquals("moving", Files.readString(image.resolve("back")));
            assertFalse(Files.exists(host.resolve("h")));
        }

        @Test void atomicMoveBetweenProvidersIsNotSupported() throws IOException {
            write(image.resolve("i"), "x");
            write(host.resolve("h"), "x");
            assertThrows(AtomicMoveNotSupportedException.class, () -> Files.move(image.resolve("i"), host.resolve("x"), ATOMIC_MOVE));
            assertThrows(AtomicMoveNotSupportedException.class, () -> Files.move(host.resolve("h"), image.resolve("x"), ATOMIC_MOVE));
        }

        @Test void copyBetweenTwoImagesRespectsReplaceExisting() throws Exception {
            Path img2 = hostTmp.resolve("second.img");
            Tools.mke2fs(img2, null, "16M", "-t", "ext4");
            try (FileSystem other = FileSystems.newFileSystem(img2)) {
                write(image.resolve("f"), "from the first");
                write(other.getPath("/f"), "already there");
                assertThrows(FileAlreadyExistsException.class, () -> Files.copy(image.resolve("f"), other.getPath("/f")));
                Files.copy(image.resolve("f"), other.getPath("/f"), REPLACE_EXISTING);
                assertEquals("from the first", Files.readString(other.getPath("/f")));
            }
            Tools.assertFsckClean(img2);
        }

        @Test void moveBetweenTwoImagesCopiesAndDeletes() throws Exception {
            // Two images are two file stores of one provider: as the default provider does across
            // mounts (EXDEV), a move copies and deletes; only ATOMIC_MOVE cannot be done
            Path img2 = hostTmp.resolve("second.img");
            Tools.mke2fs(img2, null, "16M", "-t", "ext4");
            try (FileSystem other = FileSystems.newFileSystem(img2)) {
                write(image.resolve("f"), "moving");
                assertThrows(AtomicMoveNotSupportedException.class, () -> Files.move(image.resolve("f"), other.getPath("/f"), ATOMIC_MOVE));
                Files.move(image.resolve("f"), other.getPath("/f"));
                assertEquals("moving", Files.readString(other.getPath("/f")));
                assertFalse(Files.exists(image.resolve("f")));
            }
        }
    }

    // =====================================================================================

    @Nested class Stores {
        @Test void theFileStoreIsTheImage() throws IOException {
            FileStore s = Files.getFileStore(image);
            assertEquals("ext4", s.type());
            assertEquals("contract", s.name());
            assertEquals(4096, s.getBlockSize());
            assertFalse(s.isReadOnly());
            assertTrue(s.getTotalSpace() > 0 && s.getUsableSpace() > 0 && s.getUnallocatedSpace() > 0);
            assertTrue(s.getUsableSpace() <= s.getUnallocatedSpace() && s.getUnallocatedSpace() <= s.getTotalSpace());
            assertTrue(s.getTotalSpace() <= 64L << 20 && s.getTotalSpace() > 48L << 20, "total " + s.getTotalSpace());
            assertEquals(s.getTotalSpace(), s.getAttribute("totalSpace"));
            assertEquals(4096L, ((Number) s.getAttribute("blockSize")).longValue());
            assertEquals(List.of(s), toList(fs.getFileStores()));
        }

        static <T> List<T> toList(Iterable<T> it) { List<T> l = new ArrayList<>(); it.forEach(l::add); return l; }

        @Test void writingUsesSpace() throws IOException {
            FileStore s = Files.getFileStore(image);
            long before = s.getUnallocatedSpace();
            try (FileChannel ch = FileChannel.open(image.resolve("big"), CREATE_NEW, WRITE)) { ch.write(ByteBuffer.allocate(4 << 20)); ch.force(true); }
            long after = s.getUnallocatedSpace();
            assertTrue(before - after >= 4 << 20, before + " -> " + after);
            Files.delete(image.resolve("big"));
        }

        @Test void theStoreSupportsItsViews() throws IOException {
            FileStore s = Files.getFileStore(image);
            for (Class<? extends java.nio.file.attribute.FileAttributeView> v : List.of(BasicFileAttributeView.class, PosixFileAttributeView.class,
                    FileOwnerAttributeView.class, UserDefinedFileAttributeView.class, Ext4FileAttributeView.class))
                assertTrue(s.supportsFileAttributeView(v), v.getName());
            for (String v : List.of("basic", "posix", "owner", "unix", "user", "ext4")) assertTrue(s.supportsFileAttributeView(v), v);
            assertFalse(s.supportsFileAttributeView("dos"));
            assertFalse(s.supportsFileAttributeView("acl"));
            assertFalse(s.supportsFileAttributeView(java.nio.file.attribute.DosFileAttributeView.class));
            assertEquals(Set.of("basic", "posix", "owner", "unix", "user", "ext4"), fs.supportedFileAttributeViews());
            for (String v : List.of("basic", "posix", "owner", "unix", "user"))
                assertEquals(Files.getFileStore(host).supportsFileAttributeView(v), s.supportsFileAttributeView(v), v);
        }

        @Test void theStoreOfNothingIsNoSuchFile() {
            Outcome o = same(r -> Files.getFileStore(r.resolve("nothing")));
            assertInstanceOf(NoSuchFileException.class, o.thrown());
        }

        @Test void anUnknownStoreAttributeIsUnsupported() throws IOException {
            assertThrows(UnsupportedOperationException.class, () -> Files.getFileStore(image).getAttribute("nosuch"));
        }
    }

    // =====================================================================================

    @Nested class Attributes {
        @BeforeEach void fixture() throws Exception { given(NioContractTest::standard); }

        @Test void basicAttributesOfEachKind() throws Exception {
            same(r -> {
                List<String> l = new ArrayList<>();
                for (String n : List.of("file", "dir", "link", "dirlink", "full"))
                    for (LinkOption[] o : List.of(new LinkOption[0], new LinkOption[] {NOFOLLOW_LINKS})) {
                        BasicFileAttributes a = Files.readAttributes(r.resolve(n), BasicFileAttributes.class, o);
                        l.add(n + o.length + ":" + a.isRegularFile() + a.isDirectory() + a.isSymbolicLink() + a.isOther() + "," + a.size());
                    }
                BasicFileAttributes d = Files.readAttributes(r.resolve("dangling"), BasicFileAttributes.class, NOFOLLOW_LINKS);
                l.add("dangling:" + d.isSymbolicLink() + d.size());
                return l;
            });
        }

        @Test void attributesOfNothingIsNoSuchFile() throws Exception {
            for (String n : List.of("nothing", "dangling", "file/x")) {
                Outcome o = same(r -> Files.readAttributes(r.resolve(n), BasicFileAttributes.class));
                assertInstanceOf(FileSystemException.class, o.thrown(), n);
            }
        }

        @Test void fileKeysAreEqualExactlyForOneInode() throws Exception {
            same(r -> {
                Files.createLink(r.resolve("hard"), r.resolve("file"));
                Object f = Files.readAttributes(r.resolve("file"), BasicFileAttributes.class).fileKey();
                return List.of(f.equals(Files.readAttributes(r.resolve("hard"), BasicFileAttributes.class).fileKey()),
                        f.equals(Files.readAttributes(r.resolve("link"), BasicFileAttributes.class).fileKey()),
                        f.equals(Files.readAttributes(r.resolve("link"), BasicFileAttributes.class, NOFOLLOW_LINKS).fileKey()),
                        f.equals(Files.readAttributes(r.resolve("dir"), BasicFileAttributes.class).fileKey()),
                        f.hashCode() == Files.readAttributes(r.resolve("hard"), BasicFileAttributes.class).fileKey().hashCode());
            });
        }

        @Test void permissionsRoundTrip() throws Exception {
            for (String p : List.of("---------", "r--------", "rwxrwxrwx", "rw-r--r--", "r-x-w---x", "-wx-wx-wx")) {
                same(r -> { Files.setPosixFilePermissions(r.resolve("file"), PosixFilePermissions.fromString(p)); return PosixFilePermissions.toString(Files.getPosixFilePermissions(r.resolve("file"))); });
            }
        }

        @Test void setPermissionsKeepsTheSpecialBits() throws Exception {
            same(r -> {
                Files.setAttribute(r.resolve("file"), "unix:mode", 06755);
                Files.setPosixFilePermissions(r.resolve("file"), RW_R_____);
                return Integer.toOctalString((Integer) Files.getAttribute(r.resolve("file"), "unix:mode"));
            });
        }

        @Test void permissionsThroughASymlinkChangeTheTarget() throws Exception {
            same(r -> { Files.setPosixFilePermissions(r.resolve("link"), RW_R_____); return Files.getPosixFilePermissions(r.resolve("file")); });
        }

        @Test void ownersAreNumbers() throws IOException {
            // Legitimately different: an image carries uids and gids, not names; ext4j's principals
            // are the numbers (documented in Principals), where the host's are names from passwd
            Path f = image.resolve("file");
            Object uid = Files.getAttribute(f, "unix:uid"), gid = Files.getAttribute(f, "unix:gid");
            assertEquals(String.valueOf(uid), Files.getOwner(f).getName());
            assertEquals(String.valueOf(gid), Files.readAttributes(f, PosixFileAttributes.class).group().getName());
            assertEquals(Files.getAttribute(host.resolve("file"), "unix:uid"), uid, "new files belong to the JVM's user on both");
            assertEquals(Files.getAttribute(host.resolve("file"), "unix:gid"), gid);
            UserPrincipal u = fs.getUserPrincipalLookupService().lookupPrincipalByName("12345");
            Files.setOwner(f, u);
            assertEquals(12345, Files.getAttribute(f, "unix:uid"));
            assertEquals("12345", Files.getOwner(f).getName());
            Files.setAttribute(f, "unix:gid", 777);
            assertEquals("777", Files.readAttributes(f, PosixFileAttributes.class).group().getName());
            assertEquals(u, Files.getFileAttributeView(f, FileOwnerAttributeView.class).getOwner());
            UserPrincipal root = fs.getUserPrincipalLookupService().lookupPrincipalByName("root");
            assertEquals("0", root.getName(), "a host name is looked up in /etc/passwd");
        }

        @Test void theUnixViewHasTheSameNamesAndTypes() throws Exception {
            same(r -> {
                Map<String, Object> m = Files.readAttributes(r.resolve("file"), "unix:*");
                Map<String, String> types = new TreeMap<>();
                m.forEach((k, v) -> types.put(k, typeOf(v)));
                return types;
            });
        }

        static String typeOf(Object v) {
            if (v == null) return "null";
            if (v instanceof java.nio.file.attribute.GroupPrincipal) return "GroupPrincipal";
            if (v instanceof UserPrincipal) return "UserPrincipal";
            if (v instanceof Set<?>) return "Set";
            if (v instanceof FileTime || v instanceof Number || v instanceof Boolean) return v.getClass().getSimpleName();
            return "Object";            // fileKey: its class is the provider's own
        }

        @Test void theUnixViewValuesAgree() throws Exception {
            same(r -> {
                List<String> l = new ArrayList<>();
                for (String n : List.of("file", "dir", "link", "full")) {
                    Map<String, Object> m = Files.readAttributes(r.resolve(n), "unix:mode,nlink,uid,gid,rdev,size", NOFOLLOW_LINKS);
                    l.add(n + ":" + Integer.toOctalString((Integer) m.get("mode")) + "," + m.get("nlink") + "," + m.get("uid") + "," + m.get("gid") + "," + m.get("rdev")
                            + (n.equals("dir") || n.equals("full") ? "" : "," + m.get("size")));
                }
                Map<String, Object> a = Files.readAttributes(r.resolve("file"), "unix:ino,dev"), b = Files.readAttributes(r.resolve("dir"), "unix:ino,dev");
                l.add("dev same " + a.get("dev").equals(b.get("dev")) + ", ino differ " + !a.get("ino").equals(b.get("ino")));
                return l;
            });
        }

        @Test void theUnixInodeIsTheExt4Inode() throws IOException {
            Path f = image.resolve("file");
            long ino = (Long) Files.getAttribute(f, "unix:ino");
            Ext4FileAttributeView.Attributes e = Files.getFileAttributeView(f, Ext4FileAttributeView.class).readAttributes();
            assertEquals(ino, e.inode());
            assertEquals(ino, ((Number) Files.getAttribute(f, "ext4:inode")).longValue());
            assertTrue((e.flags() & 0x80000) != 0, "an ext4 file has extents");
            assertNotNull(e.creationTime(), "256-byte inodes keep a birth time");
            assertEquals(e.creationTime(), Files.readAttributes(f, BasicFileAttributes.class).creationTime());
        }

        @Test void ctimeMovesOnAMetadataChange() throws Exception {
            same(r -> {
                FileTime before = (FileTime) Files.getAttribute(r.resolve("file"), "unix:ctime");
                Files.setLastModifiedTime(r.resolve("file"), FileTime.fromMillis(0));
                Files.setPosixFilePermissions(r.resolve("file"), RW_R_____);
                FileTime after = (FileTime) Files.getAttribute(r.resolve("file"), "unix:ctime");
                return after.compareTo(before) >= 0 && after.toInstant().isAfter(Instant.now().minusSeconds(60)) && !after.toInstant().isAfter(Instant.now().plusSeconds(1));
            });
        }

        @Test void readAttributesByNameGivesThoseNames() throws Exception {
            same(r -> List.of(Files.readAttributes(r.resolve("file"), "size,isDirectory").keySet().stream().sorted().toList(),
                    Files.readAttributes(r.resolve("file"), "posix:permissions,owner").keySet().stream().sorted().toList(),
                    Files.readAttributes(r.resolve("file"), "basic:*").keySet().stream().sorted().toList(),
                    Files.readAttributes(r.resolve("file"), "posix:*").keySet().stream().sorted().toList(),
                    Files.readAttributes(r.resolve("file"), "owner:*").keySet().stream().sorted().toList()));
        }

        @Test void anUnknownAttributeNameIsIllegal() throws Exception {
            Outcome o = same(r -> Files.readAttributes(r.resolve("file"), "posix:nosuch"));
            assertInstanceOf(IllegalArgumentException.class, o.thrown());
        }

        @Test void anUnknownViewIsUnsupported() throws Exception {
            Outcome o = same(r -> Files.readAttributes(r.resolve("file"), "nosuch:*"));
            assertInstanceOf(UnsupportedOperationException.class, o.thrown());
            // the host (Linux) has a "dos" view kept in xattrs; an image has none
            assertNull(Files.getFileAttributeView(image.resolve("file"), java.nio.file.attribute.DosFileAttributeView.class));
            assertThrows(UnsupportedOperationException.class, () -> Files.readAttributes(image.resolve("file"), java.nio.file.attribute.DosFileAttributes.class));
        }

        @Test void setAttributeByName() throws Exception {
            same(r -> {
                Path f = r.resolve("file");
                Files.setAttribute(f, "basic:lastModifiedTime", FileTime.from(Instant.parse("2000-01-01T00:00:00.25Z")));
                Files.setAttribute(f, "lastAccessTime", FileTime.from(Instant.parse("2001-01-01T00:00:00.75Z")));
                Files.setAttribute(f, "posix:permissions", RW_R_____);
                Files.setAttribute(f, "unix:mode", 0604);
                return describe(Files.readAttributes(f, "lastModifiedTime,lastAccessTime")) + "," + Integer.toOctalString((Integer) Files.getAttribute(f, "unix:mode"));
            });
        }

        @Test void settingAReadOnlyAttributeIsIllegal() throws Exception {
            Outcome o = same(r -> { Files.setAttribute(r.resolve("file"), "size", 3L); return null; });
            assertInstanceOf(IllegalArgumentException.class, o.thrown());
        }

        @Test void userAttributesRoundTrip() throws Exception {
            same(r -> {
                UserDefinedFileAttributeView v = Files.getFileAttributeView(r.resolve("file"), UserDefinedFileAttributeView.class);
                v.write("colour", buf("blue"));
                v.write("empty", ByteBuffer.allocate(0));
                v.write("big", ByteBuffer.wrap(new byte[2000]));
                Files.setAttribute(r.resolve("file"), "user:set", bytes("by name"));
                v.write("colour", buf("green"));
                ByteBuffer b = ByteBuffer.allocate(v.size("colour"));
                v.read("colour", b);
                List<String> names = new ArrayList<>(v.list());
                names.sort(null);
                v.delete("empty");
                List<String> after = new ArrayList<>(v.list());
                after.sort(null);
                Map<String, Object> m = Files.readAttributes(r.resolve("file"), "user:colour,set");
                return names + "," + after + "," + str(b) + "," + v.size("big") + "," + describe(m.get("colour")) + "," + describe(m.get("set"));
            });
        }

        @Test void aMissingUserAttributeFails() throws Exception {
            for (int k = 0; k < 3; k++) {
                int kk = k;
                Outcome o = same(r -> {
                    UserDefinedFileAttributeView v = Files.getFileAttributeView(r.resolve("file"), UserDefinedFileAttributeView.class);
                    return switch (kk) { case 0 -> v.size("nope"); case 1 -> v.read("nope", ByteBuffer.allocate(8)); default -> { v.delete("nope"); yield null; } };
                });
                assertInstanceOf(FileSystemException.class, o.thrown(), "case " + k);
            }
        }

        @Test void aUserAttributeReadIntoTooSmallABufferFails() throws Exception {
            // UserDefinedFileAttributeView.read: IOException "if ... there is insufficient space in
            // the buffer"; the JDK's is a FileSystemException, ext4j's a plain IOException: both fit
            for (Path r : List.of(host, image)) {
                UserDefinedFileAttributeView v = Files.getFileAttributeView(r.resolve("file"), UserDefinedFileAttributeView.class);
                v.write("x", ByteBuffer.allocate(10));
                ByteBuffer small = ByteBuffer.allocate(2);
                assertThrows(IOException.class, () -> v.read("x", small), r.toString());
                assertEquals(0, small.position(), "nothing read");
            }
        }

        @Test void userAttributesOfADirectory() throws Exception {
            same(r -> {
                UserDefinedFileAttributeView v = Files.getFileAttributeView(r.resolve("dir"), UserDefinedFileAttributeView.class);
                v.write("d", buf("dir value"));
                return v.list() + "," + v.size("d");
            });
        }
    }

    // =====================================================================================

    @Nested class Times {
        @BeforeEach void fixture() throws Exception { given(NioContractTest::standard); }

        static final List<Instant> INSTANTS = List.of(Instant.parse("2023-06-07T08:09:10.123456789Z"), Instant.parse("1970-01-01T00:00:00Z"),
                Instant.parse("1969-12-31T23:59:59.999999999Z"), Instant.parse("1901-12-14T00:00:00.5Z"), Instant.parse("2038-01-19T03:14:08.000000001Z"),
                Instant.parse("2200-02-03T04:05:06.7Z"), Instant.parse("2446-05-10T22:38:55.999999999Z"), Instant.parse("2000-01-01T00:00:00.000000999Z"));

        /**
         * The default provider turns a time before 1970 with a fraction of a second into a bad
         * timespec (the nanoseconds divided with truncation: {0, -1} for -1 ns), and carries times
         * as a long of nanoseconds (nothing after 2262-04-11T23:47:16.854775807Z), so those are
         * compared with the instant itself, not with the host. ext4 keeps 1901-12-13 to 2446-05-10.
         */
        static boolean hostCanStore(Instant t) {
            return (t.getEpochSecond() >= 0 || t.getNano() == 0) && t.isBefore(Instant.parse("2262-04-11T23:47:16Z"));
        }

        /** What ext4 stores (Linux's timestamp_truncate): at the bounds of its range, 1901 and 2446, no nanoseconds. */
        private static Instant ext4(Instant t) {
            long s = t.getEpochSecond();
            return s == 15032385535L || s == -2147483648L ? Instant.ofEpochSecond(s) : t;
        }

        @Test void modificationTimesRoundTripToTheNanosecond() throws Exception {
            for (Instant t : INSTANTS) {
                Op op = r -> { Files.setLastModifiedTime(r.resolve("file"), FileTime.from(t)); return Files.getLastModifiedTime(r.resolve("file")).toInstant(); };
                Outcome o = hostCanStore(t) ? same(op) : outcome(op, image);
                assertEquals(describe(ext4(t)), o.value(), "exact");
            }
        }

        @Test void accessTimesRoundTripToTheNanosecond() throws Exception {
            for (Instant t : INSTANTS) {
                if (!hostCanStore(t)) {
                    Files.getFileAttributeView(image.resolve("file"), BasicFileAttributeView.class).setTimes(null, FileTime.from(t), null);
                    assertEquals(ext4(t), Files.readAttributes(image.resolve("file"), BasicFileAttributes.class).lastAccessTime().toInstant());
                    continue;
                }
                same(r -> {
                    Files.getFileAttributeView(r.resolve("file"), BasicFileAttributeView.class).setTimes(null, FileTime.from(t), null);
                    return Files.readAttributes(r.resolve("file"), BasicFileAttributes.class).lastAccessTime().toInstant();
                });
            }
        }

        @Test void setTimesWithNullsChangesOnlyTheOthers() throws Exception {
            FileTime m = FileTime.from(Instant.parse("2010-10-10T10:10:10.101010101Z")), a = FileTime.from(Instant.parse("2011-11-11T11:11:11.111111111Z"));
            same(r -> {
                BasicFileAttributeView v = Files.getFileAttributeView(r.resolve("file"), BasicFileAttributeView.class);
                v.setTimes(m, a, null);
                v.setTimes(null, null, null);
                v.setTimes(FileTime.from(Instant.parse("2012-12-12T12:12:12Z")), null, null);
                BasicFileAttributes x = v.readAttributes();
                return x.lastModifiedTime() + "," + x.lastAccessTime();
            });
        }

        @Test void aCreationTimeCannotBeSet() throws Exception {
            same(r -> {
                BasicFileAttributeView v = Files.getFileAttributeView(r.resolve("file"), BasicFileAttributeView.class);
                FileTime before = v.readAttributes().creationTime();
                v.setTimes(null, null, FileTime.fromMillis(1000));
                return before.equals(v.readAttributes().creationTime());
            });
        }

        @Test void directoryTimesRoundTrip() throws Exception {
            same(r -> { Files.setLastModifiedTime(r.resolve("dir"), FileTime.from(INSTANTS.get(0))); return Files.getLastModifiedTime(r.resolve("dir")); });
        }

        @Test void aSymlinksOwnTimesWithNofollow() throws Exception {
            same(r -> {
                FileTime t = FileTime.from(INSTANTS.get(5));
                FileTime target = Files.getLastModifiedTime(r.resolve("file"));
                Files.getFileAttributeView(r.resolve("link"), BasicFileAttributeView.class, NOFOLLOW_LINKS).setTimes(t, null, null);
                return Files.getLastModifiedTime(r.resolve("link"), NOFOLLOW_LINKS) + "," + Files.getLastModifiedTime(r.resolve("file")).equals(target);
            });
        }

        @Test void timesOfNothingIsNoSuchFile() throws Exception {
            Outcome o = same(r -> Files.setLastModifiedTime(r.resolve("nothing"), FileTime.fromMillis(0)));
            assertInstanceOf(NoSuchFileException.class, o.thrown());
        }

        @Test void writingMovesTheModificationTime() throws Exception {
            same(r -> {
                Files.setLastModifiedTime(r.resolve("file"), FileTime.fromMillis(0));
                try (FileChannel ch = FileChannel.open(r.resolve("file"), WRITE)) { ch.write(buf("x")); }
                return Files.getLastModifiedTime(r.resolve("file")).toInstant().isAfter(Instant.now().minusSeconds(60));
            });
        }

        @Test void creatingAnEntryMovesTheDirectoryTimes() throws Exception {
            same(r -> {
                Files.setLastModifiedTime(r.resolve("dir"), FileTime.fromMillis(0));
                Files.createFile(r.resolve("dir/new"));
                Files.delete(r.resolve("dir/new"));
                return Files.getLastModifiedTime(r.resolve("dir")).toInstant().isAfter(Instant.now().minusSeconds(60));
            });
        }
    }

    // =====================================================================================

    @Nested class ReadOnly {
        Path roImg;
        FileSystem ro;

        @BeforeEach void openReadOnly() throws Exception {
            roImg = hostTmp.resolve("ro.img");
            Tools.mke2fs(roImg, null, "16M", "-t", "ext4");
            try (FileSystem w = FileSystems.newFileSystem(roImg)) {
                standard(w.getPath("/"));
                Files.getFileAttributeView(w.getPath("/file"), UserDefinedFileAttributeView.class).write("x", buf("y"));
            }
            ro = FileSystems.newFileSystem(URI.create("ext4j:" + roImg.toUri()), Map.of("readOnly", "true"));
        }

        @org.junit.jupiter.api.AfterEach void closeReadOnly() throws IOException { if (ro != null) ro.close(); }

        @Test void theFileSystemAndItsStoreSayReadOnly() throws IOException {
            assertTrue(ro.isReadOnly());
            assertTrue(Files.getFileStore(ro.getPath("/")).isReadOnly());
        }

        @Test void readingStillWorks() throws IOException {
            assertEquals("hello", Files.readString(ro.getPath("/file")));
            assertEquals("hello", Files.readString(ro.getPath("/link")));
            assertEquals(6, Files.list(ro.getPath("/")).filter(p -> !p.getFileName().toString().equals("lost+found")).count());
            try (FileChannel ch = FileChannel.open(ro.getPath("/file"), READ); FileLock l = ch.lock(0, 1, true)) { assertTrue(l.isShared()); }
            assertArrayEquals(bytes("y"), (byte[]) Files.getAttribute(ro.getPath("/file"), "user:x"));
        }

        @Test void everyChangeIsReadOnlyFileSystemException() {
            Path f = ro.getPath("/file"), d = ro.getPath("/dir"), n = ro.getPath("/new");
            List<Op> ops = List.of(
                    r -> Files.newByteChannel(f, WRITE), r -> Files.newByteChannel(f, APPEND), r -> Files.newByteChannel(n, CREATE, WRITE),
                    r -> FileChannel.open(f, READ, WRITE), r -> Files.newOutputStream(f), r -> Files.createFile(n), r -> Files.createDirectory(n),
                    r -> Files.createDirectories(ro.getPath("/x/y")), r -> { Files.delete(f); return null; }, r -> Files.deleteIfExists(ro.getPath("/nothing")),
                    r -> Files.move(f, n), r -> Files.move(f, n, ATOMIC_MOVE), r -> Files.copy(f, n), r -> Files.createSymbolicLink(n, f), r -> Files.createLink(n, f),
                    r -> Files.setLastModifiedTime(f, FileTime.fromMillis(0)), r -> Files.setPosixFilePermissions(f, RW_R_____), r -> Files.setAttribute(f, "unix:uid", 5),
                    r -> Files.setAttribute(f, "user:x", bytes("z")), r -> Files.setOwner(f, ro.getUserPrincipalLookupService().lookupPrincipalByName("1")),
                    r -> { Files.getFileAttributeView(f, BasicFileAttributeView.class).setTimes(FileTime.fromMillis(0), null, null); return null; },
                    r -> { Files.getFileAttributeView(f, PosixFileAttributeView.class).setPermissions(RW_R_____); return null; },
                    r -> Files.getFileAttributeView(f, UserDefinedFileAttributeView.class).write("x", buf("z")),
                    r -> { Files.getFileAttributeView(f, UserDefinedFileAttributeView.class).delete("x"); return null; },
                    r -> Files.copy(new java.io.ByteArrayInputStream(new byte[1]), n), r -> Files.move(d, ro.getPath("/d2")));
            List<String> bad = new ArrayList<>();
            for (int k = 0; k < ops.size(); k++) {
                Outcome o = outcome(ops.get(k), ro.getPath("/"));
                if (!(o.thrown() instanceof ReadOnlyFileSystemException)) bad.add("op " + k + ": " + o.thrown());
            }
            assertTrue(bad.isEmpty(), String.join("\n", bad));
        }

        @Test void checkAccessForWritingIsDenied() {
            assertThrows(AccessDeniedException.class, () -> ro.provider().checkAccess(ro.getPath("/file"), AccessMode.WRITE));
            assertDoesNotThrow(() -> ro.provider().checkAccess(ro.getPath("/file"), AccessMode.READ));
            assertFalse(Files.isWritable(ro.getPath("/file")));
        }

        @Test void theImageIsNotTouched() throws Exception {
            byte[] before = sha(roImg);
            Files.readAllBytes(ro.getPath("/file"));
            try { Files.delete(ro.getPath("/file")); } catch (ReadOnlyFileSystemException expected) { }
            ro.close();
            assertArrayEquals(before, sha(roImg));
        }

        static byte[] sha(Path p) throws Exception { return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)); }
    }

    // =====================================================================================

    @Nested class Closing {
        Path cImg;
        FileSystem c;

        @BeforeEach void openOne() throws Exception {
            cImg = hostTmp.resolve("closing.img");
            Tools.mke2fs(cImg, null, "16M", "-t", "ext4");
            c = FileSystems.newFileSystem(cImg);
            standard(c.getPath("/"));
        }

        @org.junit.jupiter.api.AfterEach void closeIt() throws IOException { c.close(); }

        @Test void aClosedFileSystemRefusesEveryAccess() throws IOException {
            Path f = c.getPath("/file");
            c.close();
            assertFalse(c.isOpen());
            List<Op> ops = List.of(r -> Files.newByteChannel(f), r -> FileChannel.open(f, WRITE), r -> Files.newDirectoryStream(c.getPath("/")),
                    r -> Files.readAttributes(f, BasicFileAttributes.class), r -> Files.readAttributes(f, "unix:*"), r -> Files.createDirectory(c.getPath("/n")),
                    r -> { Files.delete(f); return null; }, r -> Files.getFileStore(f), r -> { c.provider().checkAccess(f); return null; },
                    r -> Files.readSymbolicLink(c.getPath("/link")), r -> Files.copy(f, c.getPath("/n")), r -> Files.move(f, c.getPath("/n")),
                    r -> Files.setLastModifiedTime(f, FileTime.fromMillis(0)), r -> Files.isSameFile(f, c.getPath("/link")), r -> f.toRealPath(),
                    r -> Files.getFileAttributeView(f, BasicFileAttributeView.class).readAttributes(), r -> Files.getFileStore(f));
            List<String> bad = new ArrayList<>();
            for (int k = 0; k < ops.size(); k++) {
                Outcome o = outcome(ops.get(k), null);
                if (!(o.thrown() instanceof ClosedFileSystemException)) bad.add("op " + k + ": " + o.thrown());
            }
            assertTrue(bad.isEmpty(), String.join("\n", bad));
        }

        @Test void pathsStillWorkAfterClose() throws IOException {
            c.close();
            Path p = c.getPath("/a/b");
            assertEquals("b", p.getFileName().toString());
            assertEquals(c.getPath("/a"), p.getParent());
        }

        @Test void closeIsIdempotentAndLeavesTheImageClean() throws Exception {
            write(c.getPath("/more"), "data");
            c.close();
            c.close();
            Tools.assertFsckClean(cImg);
            try (FileSystem again = FileSystems.newFileSystem(cImg)) { assertEquals("data", Files.readString(again.getPath("/more"))); }
        }

        @Test void aClosedFileSystemIsForgotten() throws IOException {
            URI u = URI.create("ext4j:" + cImg.toUri());
            assertSame(c, FileSystems.getFileSystem(u));
            c.close();
            assertThrows(FileSystemNotFoundException.class, () -> FileSystems.getFileSystem(u));
            c = FileSystems.newFileSystem(cImg);
            assertSame(c, FileSystems.getFileSystem(u));
        }

        @Test void closingTheFileSystemClosesItsChannels() throws IOException {
            // FileSystem.close: "causes all open channels ... associated with this file system to be closed"
            FileChannel ch = FileChannel.open(c.getPath("/file"), READ, WRITE);
            c.close();
            assertFalse(ch.isOpen(), "the channel is closed with its file system");
            assertThrows(ClosedChannelException.class, () -> ch.read(ByteBuffer.allocate(1)));
            assertThrows(ClosedChannelException.class, () -> ch.write(buf("x")));
            assertThrows(ClosedChannelException.class, ch::size);
        }

        @Test void closingTheFileSystemClosesItsDirectoryStreams() throws IOException {
            DirectoryStream<Path> ds = Files.newDirectoryStream(c.getPath("/"));
            c.close();
            assertThrows(IllegalStateException.class, ds::iterator);
        }

        @Test void closingAChannelAfterItsFileSystemIsHarmless() throws IOException {
            FileChannel ch = FileChannel.open(c.getPath("/file"), READ);
            c.close();
            assertDoesNotThrow(ch::close);
        }
    }

    // =====================================================================================

    @Nested class Provider {
        @Test void anOpenImageCannotBeOpenedTwice() {
            assertThrows(FileSystemAlreadyExistsException.class, () -> FileSystems.newFileSystem(img));
            assertThrows(FileSystemAlreadyExistsException.class, () -> FileSystems.newFileSystem(URI.create("ext4j:" + img.toUri()), Map.of()));
        }

        @Test void aFileThatIsNoImageHasNoProvider() throws IOException {
            Path junk = Files.write(hostTmp.resolve("junk"), new byte[8192]);
            assertThrows(ProviderNotFoundException.class, () -> FileSystems.newFileSystem(junk));
        }

        @Test void createMakesAFreshCleanImage() throws Exception {
            Path fresh = hostTmp.resolve("fresh.img");
            try (FileSystem f = FileSystems.newFileSystem(URI.create("ext4j:" + fresh.toUri()), Map.of("create", "true", "size", "32M", "label", "fresh"))) {
                write(f.getPath("/hello"), "world");
                assertEquals("fresh", Files.getFileStore(f.getPath("/")).name());
                assertEquals("ext4", Files.getFileStore(f.getPath("/")).type());
            }
            assertEquals(32L << 20, Files.size(fresh));
            Tools.assertFsckClean(fresh);
            try (FileSystem f = FileSystems.newFileSystem(fresh)) { assertEquals("world", Files.readString(f.getPath("/hello"))); }
        }

        @Test void anUnknownEnvKeyIsIllegal() {
            Path fresh = hostTmp.resolve("never.img");
            assertThrows(IllegalArgumentException.class, () -> FileSystems.newFileSystem(URI.create("ext4j:" + fresh.toUri()), Map.of("create", "true", "size", "32M", "bogus", "1")));
            assertFalse(Files.exists(fresh));
        }

        @Test void openingAMissingImageIsNoSuchFile() {
            assertThrows(NoSuchFileException.class, () -> FileSystems.newFileSystem(URI.create("ext4j:" + hostTmp.resolve("missing.img").toUri()), Map.of()));
        }

        @Test void theProviderIsInstalled() {
            assertTrue(java.nio.file.spi.FileSystemProvider.installedProviders().stream().anyMatch(p -> p.getScheme().equals("ext4j")));
            assertInstanceOf(ImageFileSystemProvider.class, fs.provider());
        }
    }
}
