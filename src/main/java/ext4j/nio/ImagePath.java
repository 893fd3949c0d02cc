package ext4j.nio;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.ProviderMismatchException;
import java.nio.file.WatchEvent;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A path inside an image: a byte string like Linux's (names that are not UTF-8 round-trip),
 * '/'-separated, kept without repeated or trailing slashes. Absolute paths start at the image's
 * root. Strings convert through UTF-8; {@link #bytes} gives the raw bytes.
 */
public final class ImagePath implements Path {
    private final ImageFileSystem fs;
    private final byte[] path;          // normalized: no "//", no trailing "/" (except the root "/")
    private volatile int[] offsets;     // start of each name

    ImagePath(ImageFileSystem fs, byte[] path) {
        this.fs = fs;
        this.path = clean(path);
    }

    static ImagePath of(ImageFileSystem fs, String first, String... more) {
        StringBuilder b = new StringBuilder(first);
        for (String m : more) if (!m.isEmpty()) { if (!b.isEmpty()) b.append('/'); b.append(m); }
        String s = b.toString();
        if (s.indexOf('\0') >= 0) throw new InvalidPathException(s, "NUL character not allowed");
        return new ImagePath(fs, s.getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] clean(byte[] p) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(p.length);
        byte prev = 0;
        for (byte c : p) {
            if (c == 0) throw new InvalidPathException(new String(p, StandardCharsets.UTF_8), "NUL byte not allowed");
            if (c == '/' && prev == '/') continue;
            out.write(c);
            prev = c;
        }
        byte[] r = out.toByteArray();
        if (r.length > 1 && r[r.length - 1] == '/') r = Arrays.copyOf(r, r.length - 1);
        return r;
    }

    /** The path's bytes, as the image stores names. */
    public byte[] bytes() { return path.clone(); }

    byte[] raw() { return path; }

    private int[] offsets() {
        int[] o = offsets;
        if (o == null) {
            List<Integer> l = new ArrayList<>();
            int i = 0;
            if (path.length > 0 && path[0] == '/') i = 1;
            while (i < path.length) {
                l.add(i);
                while (i < path.length && path[i] != '/') i++;
                i++;
            }
            o = l.stream().mapToInt(Integer::intValue).toArray();
            offsets = o;
        }
        return o;
    }

    private byte[] name(int i) {
        if (path.length == 0) return new byte[0];
        int[] o = offsets();
        int end = i + 1 < o.length ? o[i + 1] - 1 : path.length;
        return Arrays.copyOfRange(path, o[i], end);
    }

    /** The name bytes of each element. */
    List<byte[]> names() {
        List<byte[]> l = new ArrayList<>();
        for (int i = 0; i < getNameCount(); i++) l.add(name(i));
        return l;
    }

    private static ImagePath check(Path p) {
        if (!(p instanceof ImagePath ip)) throw new ProviderMismatchException(String.valueOf(p));
        return ip;
    }

    @Override public ImageFileSystem getFileSystem() { return fs; }
    @Override public boolean isAbsolute() { return path.length > 0 && path[0] == '/'; }
    @Override public Path getRoot() { return isAbsolute() ? new ImagePath(fs, new byte[] {'/'}) : null; }

    @Override public Path getFileName() {
        int n = getNameCount();
        if (n == 0) return path.length == 0 ? this : null;
        if (n == 1 && !isAbsolute()) return this;
        return new ImagePath(fs, name(n - 1));
    }

    @Override public Path getParent() {
        int n = getNameCount();
        if (n == 0) return null;
        if (n == 1) return getRoot();
        return new ImagePath(fs, Arrays.copyOf(path, offsets()[n - 1] - 1));
    }

    @Override public int getNameCount() { return path.length == 0 ? 1 : offsets().length; }

    @Override public Path getName(int index) {
        if (path.length == 0 && index == 0) return this;
        if (index < 0 || index >= getNameCount()) throw new IllegalArgumentException("name index " + index);
        return new ImagePath(fs, name(index));
    }

    @Override public Path subpath(int begin, int end) {
        if (begin < 0 || end > getNameCount() || begin >= end) throw new IllegalArgumentException("subpath " + begin + ".." + end);
        if (path.length == 0) return this;
        int[] o = offsets();
        int to = end < o.length ? o[end] - 1 : path.length;
        return new ImagePath(fs, Arrays.copyOfRange(path, o[begin], to));
    }

    @Override public boolean startsWith(Path other) {
        if (!(other instanceof ImagePath p) || p.fs != fs) return false;
        if (p.isAbsolute() != isAbsolute()) return false;
        int n = p.getNameCount();
        if (p.path.length == 0) return path.length == 0;
        if (p.getNameCount() == 0) return true;                 // "/" starts every absolute path
        if (n > getNameCount()) return false;
        for (int i = 0; i < n; i++) if (!Arrays.equals(name(i), p.name(i))) return false;
        return true;
    }

    @Override public boolean endsWith(Path other) {
        if (!(other instanceof ImagePath p) || p.fs != fs) return false;
        if (p.isAbsolute()) return equals(p);
        int n = p.getNameCount(), m = getNameCount();
        if (p.path.length == 0) return path.length == 0;
        if (n > m) return false;
        for (int i = 0; i < n; i++) if (!Arrays.equals(name(m - n + i), p.name(i))) return false;
        return true;
    }

    @Override public Path normalize() {
        List<byte[]> out = new ArrayList<>();
        for (byte[] n : names()) {
            if (n.length == 0 || Arrays.equals(n, DOT)) continue;
            if (Arrays.equals(n, DOTDOT)) {
                if (!out.isEmpty() && !Arrays.equals(out.get(out.size() - 1), DOTDOT)) { out.remove(out.size() - 1); continue; }
                if (isAbsolute()) continue;                     // "/.." is "/"
            }
            out.add(n);
        }
        return join(isAbsolute(), out);
    }

    private static final byte[] DOT = {'.'}, DOTDOT = {'.', '.'};

    private ImagePath join(boolean absolute, List<byte[]> names) {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        if (absolute) b.write('/');
        for (int i = 0; i < names.size(); i++) {
            if (i > 0) b.write('/');
            b.writeBytes(names.get(i));
        }
        return new ImagePath(fs, b.toByteArray());
    }

    @Override public Path resolve(Path other) {
        ImagePath o = check(other);
        if (o.isAbsolute()) return o;
        if (o.path.length == 0) return this;
        if (path.length == 0) return o;
        byte[] r = new byte[path.length + 1 + o.path.length];
        System.arraycopy(path, 0, r, 0, path.length);
        r[path.length] = '/';
        System.arraycopy(o.path, 0, r, path.length + 1, o.path.length);
        return new ImagePath(fs, r);
    }

    private boolean hasDots() {
        for (byte[] n : names()) if (Arrays.equals(n, DOT) || Arrays.equals(n, DOTDOT)) return true;
        return false;
    }

    /** As Linux's default provider: with "." or ".." in either path both are normalized first; a ".." left in this path cannot be undone. */
    @Override public Path relativize(Path other) {
        ImagePath o = check(other);
        if (o.isAbsolute() != isAbsolute()) throw new IllegalArgumentException("'" + other + "' is not of the same kind as '" + this + "'");
        if (hasDots() || o.hasDots()) return ((ImagePath) normalize()).relativizeNormal((ImagePath) o.normalize());
        return relativizeNormal(o);
    }

    private Path relativizeNormal(ImagePath o) {
        if (equals(o)) return new ImagePath(fs, new byte[0]);
        List<byte[]> a = path.length == 0 ? List.of() : names(), b = o.path.length == 0 ? List.of() : o.names();
        int common = 0;
        while (common < a.size() && common < b.size() && Arrays.equals(a.get(common), b.get(common))) common++;
        List<byte[]> r = new ArrayList<>();
        for (int i = common; i < a.size(); i++) {
            if (Arrays.equals(a.get(i), DOTDOT)) throw new IllegalArgumentException("unable to compute a relative path from '" + this + "' to '" + o + "'");
            r.add(DOTDOT);
        }
        for (int i = common; i < b.size(); i++) r.add(b.get(i));
        return join(false, r);
    }

    @Override public URI toUri() { return fs.uriOf(toAbsolutePath()); }

    @Override public ImagePath toAbsolutePath() {
        if (isAbsolute()) return this;
        return (ImagePath) new ImagePath(fs, new byte[] {'/'}).resolve(this);
    }

    @Override public Path toRealPath(LinkOption... options) throws IOException { return fs.realPath(toAbsolutePath(), followLinks(options)); }

    static boolean followLinks(LinkOption... options) {
        for (LinkOption o : options) if (o == LinkOption.NOFOLLOW_LINKS) return false;
        return true;
    }

    @Override public WatchKey register(WatchService watcher, WatchEvent.Kind<?>[] events, WatchEvent.Modifier... modifiers) {
        throw new UnsupportedOperationException("WatchService is not supported by ext4j images");
    }

    @Override public int compareTo(Path other) { return Arrays.compareUnsigned(path, check(other).path); }

    @Override public boolean equals(Object o) { return o instanceof ImagePath p && p.fs == fs && Arrays.equals(p.path, path); }

    @Override public int hashCode() { return Arrays.hashCode(path) * 31 + System.identityHashCode(fs); }

    @Override public String toString() { return new String(path, StandardCharsets.UTF_8); }

}
