package ext4j.testutil;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Compares two host trees the way a careful diff -r plus stat would: same names, types, bytes,
 * permission bits, owners, mtimes (to the nanosecond), symlink targets, hard-link grouping,
 * user xattrs. Returns every difference found.
 */
public final class TreeDiff {
    public static final class Options {
        public boolean owners = true, mtimes = true, dirMtimes = true, xattrs = true, atimes = false;
        /** false: compare times to the second (mke2fs -d 1.47 stores no nanoseconds). */
        public boolean nanos = true;
    }

    private TreeDiff() {}

    public static List<String> diff(Path expected, Path actual, Options o) throws Exception {
        List<String> bad = new ArrayList<>();
        Map<String, Path> a = index(expected), b = index(actual);
        if (!a.keySet().equals(b.keySet())) {
            List<String> missing = new ArrayList<>(a.keySet()); missing.removeAll(b.keySet());
            List<String> extra = new ArrayList<>(b.keySet()); extra.removeAll(a.keySet());
            if (!missing.isEmpty()) bad.add("missing: " + missing.subList(0, Math.min(10, missing.size())) + (missing.size() > 10 ? " and " + (missing.size() - 10) + " more" : ""));
            if (!extra.isEmpty()) bad.add("extra: " + extra.subList(0, Math.min(10, extra.size())));
        }
        Map<Object, String> linkGroupA = new HashMap<>(), linkGroupB = new HashMap<>();
        for (var e : a.entrySet()) {
            String rel = e.getKey();
            Path pa = e.getValue(), pb = b.get(rel);
            if (pb == null) continue;
            boolean la = Files.isSymbolicLink(pa), lb = Files.isSymbolicLink(pb);
            if (la != lb) { bad.add(rel + ": symlink " + la + " vs " + lb); continue; }
            Map<String, Object> sa = Files.readAttributes(pa, "unix:*", LinkOption.NOFOLLOW_LINKS);
            Map<String, Object> sb = Files.readAttributes(pb, "unix:*", LinkOption.NOFOLLOW_LINKS);
            if (la) {
                if (!Files.readSymbolicLink(pa).equals(Files.readSymbolicLink(pb))) bad.add(rel + ": symlink target differs");
            } else if (!sa.get("mode").equals(sb.get("mode"))) {
                bad.add(rel + String.format(": mode 0%o vs 0%o", (Integer) sa.get("mode"), (Integer) sb.get("mode")));
            }
            if (o.owners && (!sa.get("uid").equals(sb.get("uid")) || !sa.get("gid").equals(sb.get("gid"))))
                bad.add(rel + ": owner " + sa.get("uid") + ":" + sa.get("gid") + " vs " + sb.get("uid") + ":" + sb.get("gid"));
            boolean dir = Files.isDirectory(pa, LinkOption.NOFOLLOW_LINKS);
            if (o.mtimes && (!dir || o.dirMtimes)) {
                FileTime ma = (FileTime) sa.get("lastModifiedTime"), mb = (FileTime) sb.get("lastModifiedTime");
                if (!sameTime(ma, mb, o.nanos)) bad.add(rel + ": mtime " + ma.toInstant() + " vs " + mb.toInstant());
            }
            if (o.atimes && !la) {
                FileTime ta = (FileTime) sa.get("lastAccessTime"), tb = (FileTime) sb.get("lastAccessTime");
                if (!sameTime(ta, tb, o.nanos)) bad.add(rel + ": atime " + ta.toInstant() + " vs " + tb.toInstant());
            }
            if (Files.isRegularFile(pa, LinkOption.NOFOLLOW_LINKS)) {
                if (Files.size(pa) != Files.size(pb)) bad.add(rel + ": size " + Files.size(pa) + " vs " + Files.size(pb));
                else if (!Arrays.equals(sha(pa), sha(pb))) bad.add(rel + ": contents differ");
                if (!sa.get("nlink").equals(sb.get("nlink"))) bad.add(rel + ": nlink " + sa.get("nlink") + " vs " + sb.get("nlink"));
                // hard-link grouping: paths sharing an inode on one side share one on the other
                String ga = linkGroupA.putIfAbsent(sa.get("ino"), rel), gb = linkGroupB.putIfAbsent(sb.get("ino"), rel);
                if (ga != null || gb != null) { if (ga == null || !ga.equals(gb)) bad.add(rel + ": hard link grouping differs (" + ga + " vs " + gb + ")"); }
            }
            if (!la && !dir && !Files.isRegularFile(pa, LinkOption.NOFOLLOW_LINKS) && !sa.get("rdev").equals(sb.get("rdev")))
                bad.add(rel + ": device number " + sa.get("rdev") + " vs " + sb.get("rdev"));
            if (o.xattrs && (dir || Files.isRegularFile(pa, LinkOption.NOFOLLOW_LINKS))) { // opening a device node to list xattrs would open the device
                Map<String, String> xa = userXattrs(pa), xb = userXattrs(pb);
                if (!xa.equals(xb)) bad.add(rel + ": user xattrs " + xa + " vs " + xb);
            }
        }
        return bad;
    }

    private static boolean sameTime(FileTime a, FileTime b, boolean nanos) {
        return nanos ? a.toInstant().equals(b.toInstant()) : a.toInstant().getEpochSecond() == b.toInstant().getEpochSecond();
    }

    private static Map<String, Path> index(Path root) throws IOException {
        Map<String, Path> m = new TreeMap<>();
        try (Stream<Path> w = Files.walk(root)) {
            w.forEach(p -> m.put("/" + root.relativize(p), p));
        }
        return m;
    }

    private static byte[] sha(Path p) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (var in = Files.newInputStream(p)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
        }
        return md.digest();
    }

    private static Map<String, String> userXattrs(Path p) throws IOException {
        Map<String, String> m = new TreeMap<>();
        UserDefinedFileAttributeView v = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
        if (v == null) return m;
        for (String n : v.list()) {
            ByteBuffer b = ByteBuffer.allocate(v.size(n));
            v.read(n, b);
            m.put(n, new String(b.array(), java.nio.charset.StandardCharsets.ISO_8859_1));
        }
        return m;
    }
}
