package ext4j.nio;

import ext4j.testutil.Tools;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.ProviderMismatchException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;

import static org.junit.jupiter.api.Assertions.*;

/**
 * ImagePath's rules, each checked against the default provider's UnixPath on the same strings
 * wherever the java.nio.file.Path contract (or plain POSIX lexical rules) says they must agree:
 * both are '/'-separated byte strings with a single root "/".
 */
class NioPathTest {
    @TempDir static Path tmp;
    static FileSystem fs;

    @BeforeAll static void open() throws Exception {
        Path img = tmp.resolve("path.img");
        Tools.mke2fs(img, null, "16M", "-t", "ext4");
        fs = FileSystems.newFileSystem(img);
    }

    @AfterAll static void close() throws IOException { if (fs != null) fs.close(); }

    /** Strings both providers accept, covering roots, dots, repeated and trailing slashes. */
    static final List<String> STRINGS = List.of(
            "", "/", "a", "/a", "b", "a/b", "/a/b", "a/b/c", "/a/b/c", "a/b/c/d", "c/d", "b/c", "/a/c", "/b",
            ".", "..", "./a", "../a", "a/.", "a/..", "a/./b", "a/../b", "a/b/..", "/..", "/../a", "/./a", "/a/..",
            "x/../../y", "a/b/../../..", "/a/b/../c/./d", "...", ".a/b.", "a//b/", "//a", "a/", "/a//b///",
            "a b/ü", "ab", "a/bc", "abc/d");

    static Path host(String s) { return Path.of(s); }
    static Path image(String s) { return fs.getPath(s); }

    /** A result compared across providers: the value's string form or "!" and the exception's type. */
    static String outcome(Callable<Object> c) {
        try {
            Object v = c.call();
            return v instanceof Path p ? "path:" + p : String.valueOf(v);
        } catch (Exception e) {
            return "!" + e.getClass().getSimpleName();
        }
    }

    static boolean hasDots(String s) {
        for (String n : s.split("/")) if (n.equals(".") || n.equals("..")) return true;
        return false;
    }

    /** Runs rule on every string, collects each disagreement between the providers and fails with all of them. */
    static void agreeOnEach(String what, java.util.function.Function<Path, Object> rule) {
        List<String> bad = new ArrayList<>();
        for (String s : STRINGS) {
            String h = outcome(() -> rule.apply(host(s))), i = outcome(() -> rule.apply(image(s)));
            if (!h.equals(i)) bad.add("'" + s + "': default " + h + ", ext4j " + i);
        }
        assertTrue(bad.isEmpty(), what + " differs:\n" + String.join("\n", bad));
    }

    interface PairRule { Object apply(Path a, Path b); }

    static void agreeOnPairs(String what, PairRule rule, java.util.function.BiPredicate<String, String> which) {
        List<String> bad = new ArrayList<>();
        for (String a : STRINGS)
            for (String b : STRINGS) {
                if (!which.test(a, b)) continue;
                String h = outcome(() -> rule.apply(host(a), host(b))), i = outcome(() -> rule.apply(image(a), image(b)));
                if (!h.equals(i)) bad.add("'" + a + "', '" + b + "': default " + h + ", ext4j " + i);
            }
        assertTrue(bad.isEmpty(), what + " differs:\n" + String.join("\n", bad.subList(0, Math.min(40, bad.size()))) + (bad.size() > 40 ? "\n... " + (bad.size() - 40) + " more" : ""));
    }

    // ---- single paths ----

    @Test void toStringDropsRepeatedAndTrailingSlashesOnly() { agreeOnEach("toString", Path::toString); }

    @Test void isAbsoluteMeansALeadingSlash() { agreeOnEach("isAbsolute", Path::isAbsolute); }

    @Test void nameCountCountsTheEmptyPathAsOneName() { agreeOnEach("getNameCount", Path::getNameCount); }

    @Test void getNameGivesEachElement() {
        agreeOnEach("getName", p -> {
            List<String> l = new ArrayList<>();
            for (int i = 0; i < p.getNameCount(); i++) l.add(p.getName(i).toString());
            return l;
        });
    }

    @Test void getNameOutOfRangeIsIllegalArgument() {
        agreeOnEach("getName(-1)", p -> p.getName(-1));
        agreeOnEach("getName(count)", p -> p.getName(p.getNameCount()));
    }

    @Test void iteratorGivesTheNames() {
        agreeOnEach("iterator", p -> {
            List<String> l = new ArrayList<>();
            for (Path n : p) l.add(n.toString() + (n.isAbsolute() ? "(abs)" : ""));
            return l;
        });
    }

    @Test void getFileNameIsTheLastName() { agreeOnEach("getFileName", Path::getFileName); }

    @Test void getParentDropsTheLastName() { agreeOnEach("getParent", Path::getParent); }

    @Test void getRootIsSlashForAbsolutePathsOnly() { agreeOnEach("getRoot", Path::getRoot); }

    @Test void subpathTakesAnyRangeOfNames() {
        agreeOnEach("subpath", p -> {
            List<String> l = new ArrayList<>();
            for (int b = -1; b <= p.getNameCount() + 1; b++)
                for (int e = -1; e <= p.getNameCount() + 1; e++) {
                    int bb = b, ee = e;
                    l.add(bb + ".." + ee + "=" + outcome(() -> p.subpath(bb, ee)));
                }
            return l;
        });
    }

    @Test void normalizeRemovesDotsLexically() { agreeOnEach("normalize", Path::normalize); }

    @Test void normalizeIsIdempotent() {
        for (String s : STRINGS) assertEquals(outcome(() -> image(s).normalize()), outcome(() -> image(s).normalize().normalize()), s);
    }

    @Test void toAbsolutePathResolvesAgainstTheRoot() {
        for (String s : STRINGS) {
            Path p = image(s).toAbsolutePath();
            assertTrue(p.isAbsolute(), s);
            assertEquals(s.startsWith("/") ? image(s) : image("/").resolve(image(s)), p, s);
        }
    }

    @Test void resolveSiblingAgrees() { agreeOnEach("resolveSibling", p -> p.resolveSibling("x/y")); }

    // ---- pairs ----

    @Test void resolveAppendsARelativePathAndReturnsAnAbsoluteOne() { agreeOnPairs("resolve", Path::resolve, (a, b) -> true); }

    @Test void resolveOfAStringIsResolveOfItsPath() { agreeOnPairs("resolve(String)", (a, b) -> a.resolve(b.toString()), (a, b) -> true); }

    @Test void relativizeOfNormalPathsAgrees() {
        // no "." or "..": the lexical answer is unique, and the default provider's is it
        agreeOnPairs("relativize", Path::relativize, (a, b) -> !hasDots(a) && !hasDots(b));
    }

    @Test void relativizeOfPathsOfDifferentKindsIsIllegalArgument() {
        agreeOnPairs("relativize (absolute vs relative)", Path::relativize, (a, b) -> !a.startsWith("/") != !b.startsWith("/"));
    }

    @Test void relativizeIsTheInverseOfResolve() {
        // The contract: for normalized p and relative normalized q, p.relativize(p.resolve(q)).equals(q)
        List<String> bad = new ArrayList<>();
        for (String a : STRINGS)
            for (String b : STRINGS) {
                if (hasDots(a) || hasDots(b) || b.startsWith("/")) continue;
                try {
                    Path p = image(a).normalize(), q = image(b).normalize();
                    Path r = p.relativize(p.resolve(q));
                    if (!r.equals(q)) bad.add("'" + p + "'.relativize('" + p.resolve(q) + "') = '" + r + "'");
                } catch (RuntimeException e) {
                    bad.add("'" + a + "', '" + b + "': " + e);
                }
            }
        assertTrue(bad.isEmpty(), String.join("\n", bad));
    }

    @Test void relativizeWithDotsGivesAPathThatResolvesBackOrRefuses() {
        // Where "." or ".." appear the default provider normalizes both paths first and throws
        // IllegalArgumentException when no lexical answer exists (".." left in the base). Whatever
        // an implementation chooses, an answer r must lead back: p.resolve(r) names q (lexically).
        List<String> bad = new ArrayList<>();
        for (String a : STRINGS)
            for (String b : STRINGS) {
                if (!hasDots(a) && !hasDots(b)) continue;
                if (a.startsWith("/") != b.startsWith("/")) continue;
                Path p = image(a), q = image(b);
                try {
                    Path r;
                    try { r = p.relativize(q); } catch (IllegalArgumentException refused) { continue; }
                    if (!p.resolve(r).normalize().equals(q.normalize()))
                        bad.add("'" + a + "'.relativize('" + b + "') = '" + r + "', but '" + a + "'.resolve(it).normalize() = '" + p.resolve(r).normalize() + "'");
                } catch (RuntimeException e) {
                    bad.add("'" + a + "', '" + b + "': " + e);
                }
            }
        assertTrue(bad.isEmpty(), bad.size() + " wrong answers:\n" + String.join("\n", bad.subList(0, Math.min(30, bad.size()))));
    }

    @Test void startsWithMatchesWholeNames() { agreeOnPairs("startsWith", Path::startsWith, (a, b) -> true); }

    @Test void startsWithOfAStringIsStartsWithOfItsPath() { agreeOnPairs("startsWith(String)", (a, b) -> a.startsWith(b.toString()), (a, b) -> true); }

    @Test void endsWithMatchesWholeNames() { agreeOnPairs("endsWith", Path::endsWith, (a, b) -> true); }

    @Test void endsWithOfAStringIsEndsWithOfItsPath() { agreeOnPairs("endsWith(String)", (a, b) -> a.endsWith(b.toString()), (a, b) -> true); }

    @Test void equalsComparesTheCleanedBytes() { agreeOnPairs("equals", Path::equals, (a, b) -> true); }

    @Test void equalPathsHaveEqualHashCodes() {
        for (String a : STRINGS)
            for (String b : STRINGS)
                if (image(a).equals(image(b))) assertEquals(image(a).hashCode(), image(b).hashCode(), a + " / " + b);
    }

    @Test void compareToOrdersByUnsignedBytes() {
        agreeOnPairs("compareTo", (a, b) -> Integer.signum(a.compareTo(b)), (a, b) -> true);
        byte[] hi = {(byte) 0xC3, (byte) 0xBC}, lo = {'z'};
        assertTrue(((ImageFileSystem) fs).getPath(hi).compareTo(((ImageFileSystem) fs).getPath(lo)) > 0, "0xC3 sorts after 'z'");
    }

    @Test void compareToIsConsistentWithEquals() {
        for (String a : STRINGS)
            for (String b : STRINGS)
                assertEquals(image(a).equals(image(b)), image(a).compareTo(image(b)) == 0, a + " / " + b);
    }

    // ---- other file systems ----

    @Test void pathsOfTwoFileSystemsAreNeverEqual() throws Exception {
        Path img2 = tmp.resolve("other.img");
        Tools.mke2fs(img2, null, "8M", "-t", "ext4");
        try (FileSystem other = FileSystems.newFileSystem(img2)) {
            assertNotEquals(fs.getPath("/a"), other.getPath("/a"));
            assertFalse(fs.getPath("/a/b").startsWith(other.getPath("/a")));
            assertFalse(fs.getPath("/a/b").endsWith(other.getPath("b")));
            assertNotEquals(fs.getPath("/a"), Path.of("/a"));
            assertNotEquals(Path.of("/a"), fs.getPath("/a"));
        }
    }

    @Test void resolvingAPathOfAnotherProviderIsProviderMismatch() {
        assertThrows(ProviderMismatchException.class, () -> fs.getPath("/a").resolve(Path.of("b")));
        assertThrows(ProviderMismatchException.class, () -> fs.getPath("/a").relativize(Path.of("/b")));
        assertThrows(ProviderMismatchException.class, () -> Path.of("/a").resolve(fs.getPath("b")));
        assertThrows(ProviderMismatchException.class, () -> Path.of("/a").relativize(fs.getPath("/b")));
    }

    @Test void startsWithAPathOfAnotherProviderIsFalse() {
        assertFalse(fs.getPath("/a/b").startsWith(Path.of("/a")));
        assertFalse(Path.of("/a/b").startsWith(fs.getPath("/a")));
    }

    @Test void aNulCharacterIsAnInvalidPath() {
        assertThrows(InvalidPathException.class, () -> Path.of("a\0b"));
        assertThrows(InvalidPathException.class, () -> fs.getPath("a\0b"));
        assertThrows(InvalidPathException.class, () -> fs.getPath("a", "b\0"));
        assertThrows(InvalidPathException.class, () -> ((ImageFileSystem) fs).getPath(new byte[] {'a', 0, 'b'}));
    }

    @Test void getPathJoinsWithSlashesSkippingEmptyParts() {
        List<String[]> cases = List.of(new String[] {"a", "b"}, new String[] {"/", "a"}, new String[] {"", "a"}, new String[] {"a", ""},
                new String[] {"a/", "/b"}, new String[] {"", ""}, new String[] {"/a", "b", "c"}, new String[] {"a", "", "b"});
        for (String[] c : cases) {
            String[] more = Arrays.copyOfRange(c, 1, c.length);
            assertEquals(Path.of(c[0], more).toString(), fs.getPath(c[0], more).toString(), Arrays.toString(c));
        }
    }

    @Test void theFileSystemHasOneRootAndOneSeparator() {
        List<Path> roots = new ArrayList<>();
        fs.getRootDirectories().forEach(roots::add);
        assertEquals(List.of(fs.getPath("/")), roots);
        assertEquals("/", fs.getSeparator());
        assertSame(fs, fs.getPath("a").getFileSystem());
    }

    // ---- path matchers ----

    @Test void globAndRegexMatchersAgree() {
        List<String> patterns = List.of("glob:*", "glob:*.txt", "glob:**", "glob:**/*.txt", "glob:a/*", "glob:a/**", "glob:?", "glob:??",
                "glob:{a,b}*", "glob:{a,b/c}", "glob:[a-c]", "glob:[abc]*", "glob:[!a]*", "glob:[!a-b]", "glob:\\*", "glob:a\\?",
                "glob:*.{txt,md}", "glob:.*", "glob:a.b", "glob:[.]*", "glob:(a)", "glob:a+", "glob:$", "regex:a.*", "regex:[^/]*",
                "regex:.*/c");
        List<String> names = List.of("a", "b", "c", "ab", "a.txt", "b.md", "a/b", "a/b/c", "a/b.txt", "x/y/z.txt", ".hidden", "*", "a?", "a.b", "axb",
                "(a)", "a+", "aa+", "$", "", "-", "d", "/a", "/a/b.txt", "ü.txt");
        List<String> bad = new ArrayList<>();
        for (String pat : patterns) {
            PathMatcher h = FileSystems.getDefault().getPathMatcher(pat), i = fs.getPathMatcher(pat);
            for (String n : names) {
                boolean hm = h.matches(Path.of(n)), im = i.matches(fs.getPath(n));
                if (hm != im) bad.add(pat + " on '" + n + "': default " + hm + ", ext4j " + im);
            }
        }
        assertTrue(bad.isEmpty(), String.join("\n", bad));
    }

    @Test void badMatcherSyntaxIsRefusedAlike() {
        for (String pat : List.of("glob:[abc", "glob:{a,{b}}", "glob:{a", "glob:a\\", "nosuch:a", "noColon", "regex:(")) {
            String h = outcome(() -> { FileSystems.getDefault().getPathMatcher(pat); return "ok"; });
            String i = outcome(() -> { fs.getPathMatcher(pat); return "ok"; });
            assertEquals(h, i, pat);
        }
    }

    @Test void aBracketExpressionNeverMatchesTheSeparator() {
        // The default provider refuses "[a/b]" (PatternSyntaxException); ext4j accepts it but, as
        // the glob rules require, no bracket expression matches the name separator.
        for (String pat : List.of("glob:[a/b]", "glob:[!a]", "glob:[!a-c]", "glob:[^a]", "glob:[--0]"))
            assertFalse(fs.getPathMatcher(pat).matches(fs.getPath("/")), pat + " matched '/'");
        assertTrue(fs.getPathMatcher("glob:[a/b]").matches(fs.getPath("b")));
    }

    // ---- URIs ----

    @Test void toUriAndPathOfRoundTripWhileOpen() {
        for (String s : List.of("/", "/a", "/a/b c", "/ü/€", "/%41", "/a#b?c", "/a;b", "/[x]", "rel/ative", "/a+b&c=d", "/~tilde/.dot")) {
            Path p = fs.getPath(s);
            URI u = p.toUri();
            assertEquals("ext4j", u.getScheme(), s);
            assertTrue(u.isAbsolute(), s);
            assertEquals(p.toAbsolutePath(), Path.of(u), s + " via " + u);
            assertEquals(p.toAbsolutePath(), fs.provider().getPath(u), s + " via " + u);
            assertSame(fs, FileSystems.getFileSystem(u));
        }
    }

    @Test void aUriOfAClosedImageFindsNoFileSystem() throws Exception {
        Path img2 = tmp.resolve("uri.img");
        Tools.mke2fs(img2, null, "8M", "-t", "ext4");
        URI u;
        try (FileSystem other = FileSystems.newFileSystem(img2)) {
            u = other.getPath("/x").toUri();
            assertEquals(other.getPath("/x"), Path.of(u));
        }
        assertThrows(FileSystemNotFoundException.class, () -> Path.of(u));
        assertThrows(FileSystemNotFoundException.class, () -> FileSystems.getFileSystem(u));
    }

    @Test void aUriWithoutAPathInsideIsIllegalForPathOf() {
        URI img = URI.create("ext4j:" + ((ImageFileSystem) fs).image().toUri());
        assertSame(fs, FileSystems.getFileSystem(img));
        assertThrows(IllegalArgumentException.class, () -> fs.provider().getPath(img));
    }

    // ---- names that are not UTF-8 ----

    static final byte[] LATIN1_NAME = {'c', 'a', 'f', (byte) 0xE9};                // "café" in ISO-8859-1: not UTF-8
    static final byte[] BROKEN_NAME = {(byte) 0xFF, (byte) 0xFE, 'x', (byte) 0x80};

    @Test void aNonUtf8NameRoundTripsThroughCreateListAndDelete() throws IOException {
        ImageFileSystem ifs = (ImageFileSystem) fs;
        Path dir = Files.createDirectories(fs.getPath("/nonutf8"));
        for (byte[] name : List.of(LATIN1_NAME, BROKEN_NAME)) {
            byte[] full = concat("/nonutf8/".getBytes(StandardCharsets.US_ASCII), name);
            ImagePath p = ifs.getPath(full);
            Files.write(p, name);
            List<Path> listed = new ArrayList<>();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) { ds.forEach(listed::add); }
            assertEquals(1, listed.size(), "one entry");
            ImagePath got = (ImagePath) listed.get(0);
            assertArrayEquals(full, got.bytes(), "the listed path has the name's bytes");
            assertArrayEquals(name, ((ImagePath) got.getFileName()).bytes());
            assertEquals(p, got);
            assertArrayEquals(name, Files.readAllBytes(got));
            assertEquals(p, Path.of(p.toUri()), "the URI keeps the bytes");
            Files.delete(got);
            assertFalse(Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS));
        }
    }

    @Test void aNonUtf8NameDoesNotRoundTripThroughItsString() {
        // Strings convert through UTF-8 (documented): undecodable bytes become U+FFFD, so the string names another file
        ImagePath p = ((ImageFileSystem) fs).getPath(BROKEN_NAME);
        assertNotEquals(p, fs.getPath(p.toString()));
        assertArrayEquals(BROKEN_NAME, p.bytes());
        assertEquals(1, p.getNameCount());
    }

    @Test void nonUtf8PathsSplitAtSlashBytesOnly() {
        ImagePath p = ((ImageFileSystem) fs).getPath(concat(concat(new byte[] {'/'}, BROKEN_NAME), concat(new byte[] {'/'}, LATIN1_NAME)));
        assertEquals(2, p.getNameCount());
        assertArrayEquals(BROKEN_NAME, ((ImagePath) p.getName(0)).bytes());
        assertArrayEquals(LATIN1_NAME, ((ImagePath) p.getFileName()).bytes());
        assertArrayEquals(concat(new byte[] {'/'}, BROKEN_NAME), ((ImagePath) p.getParent()).bytes());
        assertEquals(p, p.getParent().resolve(p.getFileName()));
        assertEquals(p.getFileName(), p.getParent().relativize(p));
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
