package ext4j.fs;

import ext4j.testutil.Seeds;
import ext4j.base.Errno;
import ext4j.base.FsException;

import ext4j.dir.DirEntry;
import ext4j.ondisk.Inode;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Random namespace and data operations against ext4j and an in-memory model: every operation must
 * give the model's errno (or ENOSPC, after which nothing changed), the trees must be equal at
 * intervals, and e2fsck -fn must find the image clean at every close. Seed printed; rerun with
 * -Dext4j.seed=N, longer with -Dext4j.modelOps=N.
 */
class WriteModelTest {
    @TempDir Path tmp;

    // ---- the model: a tree of nodes; files are shared objects so hard links see one another ----
    static final class Node {
        final int type;          // Inode.S_IFDIR / S_IFREG / S_IFLNK
        int perm;
        long uid, gid;
        byte[] data = new byte[0];           // file bytes
        byte[] target;                       // symlink
        final TreeMap<String, Node> kids;    // directory entries
        int links;
        Node(int type, int perm) {
            this.type = type; this.perm = perm;
            this.kids = type == Inode.S_IFDIR ? new TreeMap<>() : null;
            this.links = type == Inode.S_IFDIR ? 2 : 1;
        }
    }

    private final Node root = new Node(Inode.S_IFDIR, 0755);
    /** Regular files changed since the last sync, and files whose data a failed writeback may have lost (compared by size only). */
    private final java.util.Set<Node> dirty = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>()),
            contentUnsure = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>()),
            sizeUnsure = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    private final List<String> log = new ArrayList<>();
    private Random rnd;
    private int noSpace;
    private boolean extents = true;
    private long seed;

    private Node lookup(String path) {
        Node n = root;
        for (String c : parts(path)) {
            if (n == null || n.type != Inode.S_IFDIR) return null;
            n = n.kids.get(c);
        }
        return n;
    }

    private static List<String> parts(String path) {
        List<String> l = new ArrayList<>();
        for (String c : path.split("/")) if (!c.isEmpty()) l.add(c);
        return l;
    }

    private static String parentOf(String p) { int i = p.lastIndexOf('/'); return i == 0 ? "/" : p.substring(0, i); }
    private static String nameOf(String p) { return p.substring(p.lastIndexOf('/') + 1); }

    /**
     * Errno the model expects for reaching the parent of path, or null if the parent is a directory.
     * Symlink targets are made of "tt" components that never exist, so going through one is ENOENT.
     */
    private Errno parentError(String path) {
        Node n = root;
        for (String c : parts(parentOf(path))) {
            if (n.type == Inode.S_IFLNK) return Errno.ENOENT;
            if (n.type != Inode.S_IFDIR) return Errno.ENOTDIR;
            if (c.getBytes(StandardCharsets.UTF_8).length > 255) return Errno.ENAMETOOLONG;
            n = n.kids.get(c);
            if (n == null) return Errno.ENOENT;
        }
        if (n.type == Inode.S_IFLNK) return Errno.ENOENT;
        return n.type != Inode.S_IFDIR ? Errno.ENOTDIR : null;
    }

    private final List<String> names = new ArrayList<>();

    private void allPaths(String at, Node n, List<String> out) {
        out.add(at);
        if (n.type == Inode.S_IFDIR) for (var e : n.kids.entrySet()) allPaths(at.equals("/") ? "/" + e.getKey() : at + "/" + e.getKey(), e.getValue(), out);
    }

    private String existingPath() {
        List<String> all = new ArrayList<>();
        allPaths("/", root, all);
        return all.get(rnd.nextInt(all.size()));
    }

    private String anyPath() {
        if (rnd.nextInt(4) > 0) {
            String p = existingPath();
            if (rnd.nextInt(3) == 0) return p;
            Node n = lookup(p);
            String name = newName();
            return n.type == Inode.S_IFDIR ? (p.equals("/") ? "/" + name : p + "/" + name) : p + "/" + name; // through a file: ENOTDIR
        }
        return "/" + newName() + "/" + newName(); // usually a missing parent
    }

    private String newName() {
        int k = rnd.nextInt(20);
        if (k == 0) return "L" + "x".repeat(200 + rnd.nextInt(60)); // around the 255-byte limit
        return "n" + rnd.nextInt(60);
    }

    // ---- running one operation on both sides ----

    interface Op { void run() throws IOException; }

    /** Runs op on ext4j, expecting `want` (null = success). ENOSPC is accepted for allocating ops; the model is then left as is. */
    private boolean expect(String what, Errno want, boolean mayNoSpace, Op op) throws IOException {
        log.add(what + " -> " + (want == null ? "ok" : want));
        if (log.size() > Integer.getInteger("ext4j.logOps", 40)) log.remove(0);
        Errno got = null;
        try { op.run(); } catch (FsException e) { got = e.errno(); }
        if (got == Errno.ENOSPC && mayNoSpace && want == null) { noSpace++; return false; }
        if (got != want) fail("seed " + seed + ": " + what + ": ext4j gave " + got + ", model expects " + want + "\nlast ops:\n" + String.join("\n", log));
        return want == null;
    }

    private void step(Ext4FileSystem fs) throws IOException {
        int k = rnd.nextInt(100);
        if (k < 14) create(fs, anyPath());
        else if (k < 22) mkdir(fs, anyPath());
        else if (k < 40) write(fs, existingPath());
        else if (k < 46) truncate(fs, existingPath());
        else if (k < 54) unlink(fs, existingPath());
        else if (k < 58) rmdir(fs, existingPath());
        else if (k < 70) rename(fs, existingPath(), rnd.nextBoolean() ? existingPath() : anyPath());
        else if (k < 76) link(fs, existingPath(), anyPath());
        else if (k < 81) symlink(fs, anyPath());
        else if (k < 86) chmod(fs, existingPath());
        else if (k < 89) chown(fs, existingPath());
        else if (k < 94) fallocate(fs, existingPath());
        else punch(fs, existingPath());
    }

    private Errno createError(String p) {
        Errno e = parentError(p);
        if (e != null) return e;
        if (nameOf(p).getBytes(StandardCharsets.UTF_8).length > 255) return Errno.ENAMETOOLONG;
        if (lookup(p) != null || p.equals("/")) return Errno.EEXIST;
        return null;
    }

    private void create(Ext4FileSystem fs, String p) throws IOException {
        Errno e = createError(p);
        int perm = rnd.nextInt(01000);
        if (expect("create " + p, e, true, () -> fs.createFile(p, perm, 0, 0)))
            lookup(parentOf(p)).kids.put(nameOf(p), new Node(Inode.S_IFREG, perm));
    }

    private void mkdir(Ext4FileSystem fs, String p) throws IOException {
        Errno e = createError(p);
        if (expect("mkdir " + p, e, true, () -> fs.mkdir(p, 0750, 0, 0))) {
            Node parent = lookup(parentOf(p));
            parent.kids.put(nameOf(p), new Node(Inode.S_IFDIR, 0750));
            parent.links++;
        }
    }

    private void symlink(Ext4FileSystem fs, String p) throws IOException {
        Errno e = createError(p);
        byte[] t = ("tt/".repeat(200).substring(0, rnd.nextBoolean() ? 2 + rnd.nextInt(40) : 60 + rnd.nextInt(300))).getBytes(StandardCharsets.UTF_8);
        if (expect("symlink " + p + " (" + t.length + ")", e, true, () -> fs.symlink(p, t, 0, 0))) {
            Node n = new Node(Inode.S_IFLNK, 0777);
            n.target = t;
            lookup(parentOf(p)).kids.put(nameOf(p), n);
        }
    }

    /** Errno of resolving p to an existing node (following nothing: the model has no symlinks in paths). */
    private Errno existError(String p) {
        Errno e = p.equals("/") ? null : parentError(p);
        if (e != null) return e;
        if (nameOf(p).getBytes(StandardCharsets.UTF_8).length > 255) return Errno.ENAMETOOLONG;
        return lookup(p) == null ? Errno.ENOENT : null;
    }

    private void write(Ext4FileSystem fs, String p) throws IOException {
        Node n = lookup(p);
        Errno e = fileError(p, n);
        if (e == SKIP) return; // writing through a symlink: not modelled
        long off = rnd.nextInt(4) == 0 ? rnd.nextInt(300_000) : n == null ? 0 : rnd.nextInt(n.data.length + 1);
        byte[] b = new byte[rnd.nextInt(3) == 0 ? rnd.nextInt(70_000) : rnd.nextInt(3000)];
        rnd.nextBytes(b);
        if (expect("write " + p + " @" + off + " +" + b.length, e, true, () -> fs.write(p, off, ByteBuffer.wrap(b)))) {
            if (b.length > 0 && n.data.length < off + b.length) n.data = Arrays.copyOf(n.data, (int) (off + b.length)); // a 0-byte write extends nothing
            if (b.length > 0) System.arraycopy(b, 0, n.data, (int) off, b.length);
            dirty.add(n);
        }
    }

    /** Marks operations the model does not cover (data ops through a symlink). */
    private static final Errno SKIP = Errno.EPERM;

    /** The errno of a data operation on p (EISDIR for directories), SKIP for symlinks, null for a regular file. */
    private Errno fileError(String p, Node n) {
        Errno e = existError(p);
        if (e == null && n.type == Inode.S_IFDIR) return Errno.EISDIR;
        if (e == null && n.type != Inode.S_IFREG) return SKIP;
        return e;
    }

    private void truncate(Ext4FileSystem fs, String p) throws IOException {
        Node n = lookup(p);
        Errno e = fileError(p, n);
        if (e == SKIP) return;
        long size = rnd.nextInt(3) == 0 ? 0 : rnd.nextInt(400_000);
        if (expect("truncate " + p + " " + size, e, true, () -> fs.truncate(p, size))) { n.data = Arrays.copyOf(n.data, (int) size); dirty.add(n); }
    }

    private void fallocate(Ext4FileSystem fs, String p) throws IOException {
        Node n = lookup(p);
        Errno e = fileError(p, n);
        if (e == SKIP) return;
        long off = rnd.nextInt(300_000), len = 1 + rnd.nextInt(100_000);
        boolean keep = rnd.nextBoolean();
        if (e == null && !extents) e = Errno.EOPNOTSUPP; // like Linux: no unwritten blocks without extents
        if (expect("fallocate " + p + " @" + off + " +" + len + (keep ? " keep" : ""), e, true, () -> fs.fallocate(p, off, len, keep)))
            if (!keep && off + len > n.data.length) { n.data = Arrays.copyOf(n.data, (int) (off + len)); dirty.add(n); }
    }

    private void punch(Ext4FileSystem fs, String p) throws IOException {
        Node n = lookup(p);
        Errno e = fileError(p, n);
        if (e == SKIP) return;
        long off = rnd.nextInt(300_000), len = 1 + rnd.nextInt(100_000);
        if (expect("punch " + p + " @" + off + " +" + len, e, true, () -> fs.punchHole(p, off, len)))
            if (off < n.data.length) { Arrays.fill(n.data, (int) off, (int) Math.min(n.data.length, off + len), (byte) 0); dirty.add(n); }
    }

    private void unlink(Ext4FileSystem fs, String p) throws IOException {
        Node n = lookup(p);
        Errno e = existError(p);
        if (p.equals("/")) return;
        if (e == null && n.type == Inode.S_IFDIR) e = Errno.EISDIR;
        if (expect("unlink " + p, e, false, () -> fs.unlink(p))) {
            lookup(parentOf(p)).kids.remove(nameOf(p));
            n.links--;
        }
    }

    private void rmdir(Ext4FileSystem fs, String p) throws IOException {
        Node n = lookup(p);
        Errno e = existError(p);
        if (e == null && n.type != Inode.S_IFDIR) e = Errno.ENOTDIR;
        if (e == null && p.equals("/")) e = Errno.EBUSY;
        if (e == null && !n.kids.isEmpty()) e = Errno.ENOTEMPTY;
        if (e == Errno.EBUSY) return; // removing the root: not modelled
        if (expect("rmdir " + p, e, false, () -> fs.rmdir(p))) {
            Node parent = lookup(parentOf(p));
            parent.kids.remove(nameOf(p));
            parent.links--;
        }
    }

    private void link(Ext4FileSystem fs, String from, String to) throws IOException {
        Node n = lookup(from);
        Errno e = existError(from);
        if (e == null) e = createError(to);                        // Linux: the new name (filename_create) before the type (vfs_link)
        if (e == null && n.type == Inode.S_IFDIR) e = Errno.EPERM;
        if (from.equals("/")) return;
        if (expect("link " + from + " " + to, e, true, () -> fs.link(from, to))) {
            lookup(parentOf(to)).kids.put(nameOf(to), n);
            n.links++;
        }
    }

    private boolean isAncestor(String a, String b) { return !a.equals(b) && (a.equals("/") || b.startsWith(a + "/")); }

    private void rename(Ext4FileSystem fs, String from, String to) throws IOException {
        if (from.equals("/") || to.equals("/")) return; // renaming the root: not modelled
        Node s = lookup(from);
        Errno e = existError(from);
        if (e == null) e = parentError(to);
        if (e == null && nameOf(to).getBytes(StandardCharsets.UTF_8).length > 255) e = Errno.ENAMETOOLONG;
        Node d = e == null ? lookup(to) : null;
        if (e == null && s.type == Inode.S_IFDIR && isAncestor(from, to)) e = Errno.EINVAL;
        if (e == null && d != null && d != s && d.type == Inode.S_IFDIR && isAncestor(to, from)) e = Errno.ENOTEMPTY; // onto its own ancestor
        if (e == null && d != null && d != s) {
            if (s.type == Inode.S_IFDIR && d.type != Inode.S_IFDIR) e = Errno.ENOTDIR;
            else if (s.type != Inode.S_IFDIR && d.type == Inode.S_IFDIR) e = Errno.EISDIR;
            else if (d.type == Inode.S_IFDIR && !d.kids.isEmpty()) e = Errno.ENOTEMPTY;
        }
        if (!expect("rename " + from + " " + to, e, true, () -> fs.rename(from, to))) return;
        if (d == s) return; // same inode (same path or hard links): nothing happens
        Node sp = lookup(parentOf(from)), dp = lookup(parentOf(to));
        sp.kids.remove(nameOf(from));
        if (d != null) {
            d.links--;
            if (d.type == Inode.S_IFDIR) dp.links--;
        }
        dp.kids.put(nameOf(to), s);
        if (s.type == Inode.S_IFDIR) { sp.links--; dp.links++; }
    }

    private void chmod(Ext4FileSystem fs, String p) throws IOException {
        Node n = lookup(p);
        Errno e = existError(p);
        if (e == null && n.type == Inode.S_IFLNK) return; // chmod follows symlinks: not modelled
        int perm = rnd.nextInt(010000);
        if (expect("chmod " + p + " " + Integer.toOctalString(perm), e, false, () -> fs.chmod(p, perm))) n.perm = perm;
    }

    private void chown(Ext4FileSystem fs, String p) throws IOException {
        Node n = lookup(p);
        Errno e = existError(p);
        long uid = rnd.nextInt(3) == 0 ? 70_000 + rnd.nextInt(100_000) : rnd.nextInt(2000), gid = rnd.nextInt(2000);
        if (expect("chown " + p + " " + uid + ":" + gid, e, false, () -> fs.chown(p, uid, gid, false))) { n.uid = uid; n.gid = gid; }
    }

    // ---- comparing ----

    private void compare(Ext4FileSystem fs, String path, Inode ino, Node n, int depth) throws IOException {
        assertTrue(depth < 100);
        String where = "seed " + seed + ": " + path;
        assertEquals(n.type, ino.type(), where + " type");
        if (n.type != Inode.S_IFLNK) assertEquals(n.perm, ino.permissions(), where + " permissions");
        assertEquals(n.uid, ino.uid(), where + " uid");
        assertEquals(n.gid, ino.gid(), where + " gid");
        assertEquals(n.links, ino.linksCount(), where + " links");
        if (n.type == Inode.S_IFREG && sizeUnsure.contains(n)) {
            // changed since the last sync and recovered to a commit in between: its size and bytes may be of any moment since
        } else if (n.type == Inode.S_IFREG) {
            assertEquals(n.data.length, ino.size(), where + " size");
            ByteBuffer b = ByteBuffer.allocate(n.data.length);
            while (b.hasRemaining() && fs.read(ino, b.position(), b) > 0) { }
            if (!contentUnsure.contains(n) && !Arrays.equals(n.data, b.array())) {
                int i = Arrays.mismatch(n.data, b.array());
                fail(where + " content differs at byte " + i + " of " + n.data.length + "\nlast ops:\n" + String.join("\n", log));
            }
        } else if (n.type == Inode.S_IFLNK) {
            assertArrayEquals(n.target, fs.readlink(ino), where + " symlink target");
        } else {
            Map<String, Long> seen = new TreeMap<>();
            for (DirEntry de : fs.list(ino)) if (!de.isDotOrDotDot()) seen.put(de.name(), de.inode());
            assertEquals(n.kids.keySet(), seen.keySet(), where + " entries");
            for (var k : n.kids.entrySet())
                compare(fs, path.equals("/") ? "/" + k.getKey() : path + "/" + k.getKey(), fs.inode(seen.get(k.getKey())), k.getValue(), depth + 1);
        }
    }

    private void run(String label, String size, long ops, String... mkfsOpts) throws Exception {
        seed = Seeds.seed("WriteModelTest " + label);
        rnd = new Random(seed);
        Path img = tmp.resolve(label + ".img");
        Tools.mke2fs(img, null, size, mkfsOpts);
        try (Ext4FileSystem ro = Ext4FileSystem.openReadOnly(img)) { extents = ro.superblock().hasIncompat(ext4j.ondisk.Features.INCOMPAT_EXTENTS); }
        // lost+found is part of the tree from the start
        Node lf = new Node(Inode.S_IFDIR, 0700);
        root.kids.put("lost+found", lf);
        root.links++;
        int closes = 0;
        Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false);
        try {
            for (long i = 1; i <= ops; i++) {
                step(fs);
                if (i % COMPARE_EVERY == 0) {
                    try { compare(fs, "/", fs.inode(2), root, 0); }
                    catch (AssertionError e) {
                        fs.close();
                        String fsck = Tools.run("e2fsck", "-fn", img.toString()).out();
                        throw new AssertionError(e.getMessage() + "\nafter operation " + i + "; last ops:\n" + String.join("\n", log) + "\ne2fsck -fn now says:\n" + fsck, e);
                    }
                }
                if (i % 1000 == 0) {
                    fs.close();
                    Tools.assertFsckClean(img);
                    closes++;
                    fs = Ext4FileSystem.openReadWrite(img, false);
                    compare(fs, "/", fs.inode(2), root, 0);
                }
            }
        } finally {
            fs.close();
        }
        Tools.assertFsckClean(img);
        try (Ext4FileSystem ro = Ext4FileSystem.openReadOnly(img)) { compare(ro, "/", ro.inode(2), root, 0); }
        System.out.println("  " + ops + " operations, " + closes + " close/e2fsck/reopen cycles, " + noSpace + " ENOSPC (nothing changed), all equal to the model");
    }

    // ---- kernel round trip: ext4j writes, Linux checks and writes more, ext4j reads it and goes on ----

    /** Compares the model with a host directory tree (a kernel mount). */
    private void compareHost(Path at, Node n, String where) throws IOException {
        var a = java.nio.file.Files.readAttributes(at, "unix:*", java.nio.file.LinkOption.NOFOLLOW_LINKS);
        int mode = (Integer) a.get("mode");
        assertEquals(n.type, mode & Inode.S_IFMT, where + " type (kernel)");
        if (n.type != Inode.S_IFLNK) assertEquals(n.perm, mode & 07777, where + " permissions (kernel)");
        assertEquals(n.uid, (Integer) a.get("uid") & 0xFFFFFFFFL, where + " uid (kernel)");
        assertEquals(n.gid, (Integer) a.get("gid") & 0xFFFFFFFFL, where + " gid (kernel)");
        assertEquals(n.links, (Integer) a.get("nlink"), where + " links (kernel)");
        if (n.type == Inode.S_IFREG) assertArrayEquals(n.data, java.nio.file.Files.readAllBytes(at), where + " content (kernel)");
        else if (n.type == Inode.S_IFLNK) assertEquals(new String(n.target, StandardCharsets.UTF_8), java.nio.file.Files.readSymbolicLink(at).toString(), where + " target (kernel)");
        else {
            java.util.TreeSet<String> seen = new java.util.TreeSet<>();
            try (var l = java.nio.file.Files.list(at)) { l.forEach(x -> seen.add(x.getFileName().toString())); }
            assertEquals(n.kids.keySet(), seen, where + " entries (kernel)");
            for (var k : n.kids.entrySet()) compareHost(at.resolve(k.getKey()), k.getValue(), where + "/" + k.getKey());
        }
    }

    /** What the kernel gave a new inode (setgid directories pass their group and setgid on). */
    private static Node hostNode(Path p, int type) throws IOException {
        var a = java.nio.file.Files.readAttributes(p, "unix:*", java.nio.file.LinkOption.NOFOLLOW_LINKS);
        Node n = new Node(type, (Integer) a.get("mode") & 07777);
        n.uid = (Integer) a.get("uid") & 0xFFFFFFFFL;
        n.gid = (Integer) a.get("gid") & 0xFFFFFFFFL;
        return n;
    }

    /** Changes made through the kernel, mirrored in the model. */
    private void kernelWrites(Path mnt) throws IOException {
        Path d = mnt.resolve("kdir");
        java.nio.file.Files.createDirectory(d);
        java.nio.file.Files.setPosixFilePermissions(d, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-x---"));
        Node kd = hostNode(d, Inode.S_IFDIR);
        root.kids.put("kdir", kd);
        root.links++;
        for (int i = 0; i < 300; i++) {
            byte[] b = new byte[rnd.nextInt(20_000)];
            rnd.nextBytes(b);
            Path f = d.resolve("k" + i);
            java.nio.file.Files.write(f, b);
            java.nio.file.Files.setPosixFilePermissions(f, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            Node n = hostNode(f, Inode.S_IFREG);
            n.data = b;
            kd.kids.put("k" + i, n);
        }
        for (int i = 0; i < 300; i += 3) { java.nio.file.Files.delete(d.resolve("k" + i)); kd.kids.remove("k" + i); }
        java.nio.file.Files.move(d.resolve("k1"), mnt.resolve("k1moved"));
        root.kids.put("k1moved", kd.kids.remove("k1"));
        java.nio.file.Files.createSymbolicLink(d.resolve("klink"), Path.of("tt/tt"));
        Node l = hostNode(d.resolve("klink"), Inode.S_IFLNK);
        l.target = "tt/tt".getBytes(StandardCharsets.UTF_8);
        kd.kids.put("klink", l);
    }

    /** Also on a fast_commit image (Linux fsyncs what it wrote, logging fast commits, between ext4j's rounds) and a metadata_csum_seed one. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"", "fast_commit", "metadata_csum_seed"})
    void kernelRoundTrip(String feature) throws Exception {
        Tools.requireMount();                                   // a visible skip where the kernel cannot loop-mount
        seed = Seeds.seed("WriteModelTest kernelRoundTrip " + feature);
        rnd = new Random(seed);
        Path img = tmp.resolve("k.img"), mnt = tmp.resolve("mnt");
        java.nio.file.Files.createDirectories(mnt);
        if (feature.isEmpty()) Tools.mke2fs(img, null, "128M", "-t", "ext4");
        else Tools.mke2fs(img, null, "128M", "-t", "ext4", "-O", feature);
        root.kids.put("lost+found", new Node(Inode.S_IFDIR, 0700));
        root.links++;
        for (int round = 0; round < 2; round++) {
            try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
                compare(fs, "/", fs.inode(2), root, 0);
                for (int i = 0; i < 1500; i++) step(fs);
            }
            Tools.assertFsckClean(img);
            Tools.mount(img, mnt, "");
            try {
                compareHost(mnt, root, "");
                if (round == 0) kernelWrites(mnt);
                if (round == 0 && feature.equals("fast_commit")) fsyncAll(mnt);    // Linux logs fast commits for these
            } finally {
                Tools.umount(mnt);
            }
            Tools.assertFsckClean(img);
        }
        System.out.println("  ext4j -> kernel -> ext4j -> kernel: trees equal to the model at every step, e2fsck clean");
    }

    private static void fsyncAll(Path root) throws IOException {
        try (var w = java.nio.file.Files.walk(root)) {
            for (Path p : w.filter(java.nio.file.Files::isRegularFile).toList())
                try (var ch = java.nio.channels.FileChannel.open(p, java.nio.file.StandardOpenOption.WRITE)) { ch.force(true); }
        }
    }

    /** -Dext4j.compareEvery=1 to find the first operation that goes wrong. */
    private static final long COMPARE_EVERY = Long.getLong("ext4j.compareEvery", 250);

    private static long ops(long dflt) { return Long.getLong("ext4j.modelOps", dflt); }

    @Test void fourKBlocks() throws Exception { run("4k", "128M", ops(3000), "-t", "ext4", "-b", "4096"); }
    @Test void oneKBlocksNoChecksums() throws Exception { run("1k", "64M", ops(3000), "-t", "ext4", "-b", "1024", "-O", "^metadata_csum,^64bit"); }
    @Test void ext2BlockMapped() throws Exception { run("ext2", "64M", ops(3000), "-t", "ext2", "-b", "1024"); }
    @Test void ext3BlockMappedJournaled() throws Exception { run("ext3", "64M", ops(3000), "-t", "ext3", "-b", "4096"); }
    /** metadata_csum_seed: checksums seeded from s_checksum_seed, not the UUID. */
    @Test void checksumSeed() throws Exception { run("csumseed", "64M", ops(1500), "-t", "ext4", "-O", "metadata_csum_seed"); }
    /** A fast_commit image: ext4j writes full commits only, which Linux and e2fsck replay as any. */
    @Test void fastCommitImage() throws Exception { run("fastcommit", "64M", ops(1500), "-t", "ext4", "-O", "fast_commit"); }
    @Test void tinyImageRunsOutOfSpace() throws Exception { run("tiny", "3M", ops(3000), "-t", "ext4", "-b", "1024", "-N", "64"); }

    // ---- a failing disk at a sync (issue 17) ----

    /** A deep copy of a model tree, hard links kept shared; back maps each copy to its original. */
    private static Node copy(Node n, java.util.IdentityHashMap<Node, Node> back, java.util.IdentityHashMap<Node, Node> made) {
        Node c = made.get(n);
        if (c != null) return c;
        c = new Node(n.type, n.perm);
        made.put(n, c);
        back.put(c, n);
        c.uid = n.uid; c.gid = n.gid; c.links = n.links; c.data = n.data.clone(); c.target = n.target;
        if (n.kids != null) for (var k : n.kids.entrySet()) c.kids.put(k.getKey(), copy(k.getValue(), back, made));
        return c;
    }

    /** A model state after one operation since the last sync: its tree (file bytes shared, compared only for files unchanged since the sync) and its copies' originals. */
    private record State(Node root, java.util.IdentityHashMap<Node, Node> back) {}

    private State state() {
        var back = new java.util.IdentityHashMap<Node, Node>();
        Node r = copy(root, back, new java.util.IdentityHashMap<>());
        return new State(r, back);
    }

    /**
     * The model run over a FaultyBlockDevice: a sync every 25 operations, and at random syncs one
     * write or flush fails (EIO, ENOSPC, short or torn). A sync that fails must say EIO or ENOSPC.
     * If only file data was lost, the metadata is committed all the same and the run goes on (those
     * files are then compared by size). If the journal failed, every change, sync and close gets
     * EROFS, the in-memory tree is still the model's, and on a healthy device recovery gives an
     * e2fsck-clean image holding the tree of the last sync or the tree of the failed one (its
     * commit block may have landed).
     */
    private void runWithFaults(String label, String size, long ops, String... mkfsOpts) throws Exception {
        seed = Long.getLong("ext4j.seed", System.nanoTime());
        rnd = new Random(seed);
        System.out.println("WriteModelTest faults " + label + " seed=" + seed + " (rerun with -Dext4j.seed=" + seed + ")");
        Path img = tmp.resolve(label + ".img");
        Tools.mke2fs(img, null, size, mkfsOpts);
        try (Ext4FileSystem ro = Ext4FileSystem.openReadOnly(img)) { extents = ro.superblock().hasIncompat(ext4j.ondisk.Features.INCOMPAT_EXTENTS); }
        root.kids.put("lost+found", new Node(Inode.S_IFDIR, 0700));
        root.links++;
        var faults = new ext4j.block.FaultyBlockDevice.Faults(rnd.nextLong()).writeEffects(ext4j.block.FaultyBlockDevice.Effect.values());
        faults.stop();
        Ext4FileSystem fs = Ext4FileSystem.openReadWrite(new ext4j.block.FaultyBlockDevice(ext4j.block.FileBlockDevice.open(img, false), faults),
                Options.defaults().withCommitMillis(0));
        int bs = Integer.parseInt(mkfsOpts[java.util.Arrays.asList(mkfsOpts).indexOf("-b") + 1]);
        var journal = ext4j.testutil.Faults.journal(img, bs);
        var back = new java.util.IdentityHashMap<Node, Node>();
        Node synced = copy(root, back, new java.util.IdentityHashMap<>());
        int syncs = 0, armAt = 2 + rnd.nextInt(6), dataFaults = 0;
        boolean readOnly = false;
        List<State> since = new ArrayList<>();           // the model after each operation since the last sync (commits happen in between: a full log)
        for (long i = 1; i <= ops && !readOnly; i++) {
            step(fs);
            since.add(state());
            if (i % 25 != 0) continue;
            boolean armed = ++syncs >= armAt;
            int before = faults.injected().size();
            if (armed) {
                var kind = rnd.nextInt(4) == 0 ? ext4j.block.FaultyBlockDevice.Kind.FLUSH : ext4j.block.FaultyBlockDevice.Kind.WRITE;
                boolean dataOnly = kind == ext4j.block.FaultyBlockDevice.Kind.WRITE && rnd.nextBoolean(); // file data (or a checkpoint's home writes)
                faults.region(dataOnly ? ext4j.testutil.Faults.outside(journal) : (o, l) -> true);
                faults.at(kind, 1 + rnd.nextInt(kind == ext4j.block.FaultyBlockDevice.Kind.FLUSH ? 3 : dataOnly ? 4 : 30));
                faults.start();
            }
            Errno e = null;
            try { fs.sync(); } catch (FsException x) { e = x.errno(); } catch (IOException x) { throw new AssertionError("seed " + seed + ": sync failed without an errno", x); }
            faults.stop();
            log.add("sync -> " + (e == null ? "ok" : e) + (armed ? " (armed: " + faults.injected().size() + " faults)" : ""));
            String at = "seed " + seed + " " + label + " sync " + syncs + " after operation " + i;
            if (e == null) {
                assertEquals(before, faults.injected().size(), at + ": a fault was injected and the sync said nothing");
                back.clear();
                synced = copy(root, back, new java.util.IdentityHashMap<>());
                dirty.clear();
                since.clear();
                if (armed) armAt = syncs + 1 + rnd.nextInt(4);
                continue;
            }
            assertTrue(faults.injected().size() > before, at + ": sync failed (" + e + ") with no fault injected");
            assertTrue(e == Errno.EIO || e == Errno.ENOSPC, at + ": a failed sync says EIO or ENOSPC, not " + e);
            if (fs.readOnlyCause() == null) {                   // data lost, metadata committed: go on
                dataFaults++;
                contentUnsure.addAll(dirty);
                dirty.clear();
                back.clear();
                synced = copy(root, back, new java.util.IdentityHashMap<>());
                since.clear();
                armAt = syncs + 1 + rnd.nextInt(6);
                continue;
            }
            readOnly = true;
            for (Op change : List.<Op>of(() -> fs.createFile("/ro-file", 0644, 0, 0), () -> fs.mkdir("/ro-dir", 0755, 0, 0),
                    () -> fs.chmod("/", 0700), fs::sync)) {
                Errno got = null;
                try { change.run(); } catch (FsException x) { got = x.errno(); }
                assertEquals(Errno.EROFS, got, at + ": a change after the journal failed");
            }
            compare(fs, "/", fs.inode(2), root, 0);             // the cache still serves the model's tree
            Errno closed = null;
            try { fs.close(); } catch (FsException x) { closed = x.errno(); }
            assertEquals(Errno.EROFS, closed, at + ": close after the journal failed");
            System.out.println("  journal failed at sync " + syncs + " (" + faults.injected().get(faults.injected().size() - 1) + ")");
        }
        if (!readOnly) fs.close();
        else try (Ext4FileSystem rec = Ext4FileSystem.openReadWrite(img, false)) { assertNull(rec.readOnlyCause()); }
        Tools.assertFsckClean(img);
        try (Ext4FileSystem ro = Ext4FileSystem.openReadOnly(img)) {
            try {
                compare(ro, "/", ro.inode(2), root, 0);
            } catch (AssertionError newest) {
                if (!readOnly) throw newest;
                // a state from the last sync on (a full log commits between syncs); files changed since the sync may hold
                // any of their sizes and bytes since (overwrites in place are not journaled), the rest exactly
                List<State> candidates = new ArrayList<>(since);
                java.util.Collections.reverse(candidates);
                candidates.add(new State(synced, back));
                AssertionError first = null;
                boolean matched = false;
                for (State st : candidates) {
                    for (var c : st.back().entrySet()) {
                        if (dirty.contains(c.getValue()) || contentUnsure.contains(c.getValue())) sizeUnsure.add(c.getKey());
                    }
                    try { compare(ro, "/", ro.inode(2), st.root(), 0); matched = true; break; }
                    catch (AssertionError miss) { if (first == null) first = miss; }
                }
                if (!matched) { first.addSuppressed(newest); throw new AssertionError("seed " + seed + ": recovered tree is no state from the last sync to the failed one: " + first.getMessage(), first); }
            }
        }
        System.out.println("  " + syncs + " syncs, " + faults.injected().size() + " faults, " + dataFaults + " lost only data, "
                + (readOnly ? "journal failed: recovered" : "closed") + ", e2fsck clean, tree equal");
    }

    @Test void fourKBlocksOverAFailingDisk() throws Exception { runWithFaults("faults-4k", "128M", ops(2000), "-t", "ext4", "-b", "4096"); }
    @Test void ext3OverAFailingDisk() throws Exception { runWithFaults("faults-ext3", "64M", ops(2000), "-t", "ext3", "-b", "1024"); }
}
