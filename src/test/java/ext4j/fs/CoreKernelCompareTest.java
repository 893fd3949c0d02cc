package ext4j.fs;

import ext4j.testutil.Seeds;
import ext4j.base.Errno;
import ext4j.base.FsException;

import ext4j.testutil.Sys;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The same random operations through a kernel loop mount (system calls through FFM) and through
 * the core API on a copy of the same image: renameat2 with every flag combination, fallocate in
 * every mode (preallocate, KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE, COLLAPSE_RANGE, INSERT_RANGE), SEEK_DATA/SEEK_HOLE, chmod/chown with set-id bits, truncate, link, unlink, rmdir,
 * writes. Every call must give the kernel's errno (or result), and at checkpoints the trees must
 * match: names, types, modes, links, owners, sizes, bytes, symlink targets. Both page caches are
 * written back and dropped before each lseek: SEEK_DATA counts cached blocks of unwritten extents as
 * data, and the kernel caches 4 KiB pages where ext4j caches blocks.
 * -Dext4j.seed=N reproduces a run, -Dext4j.compareOps=N sets its length.
 */
class CoreKernelCompareTest {
    @TempDir Path tmp;
    private static final String[] DIRS = {"", "/d1", "/d2", "/d1/d3"};
    private static final String[] LEAVES = {"a", "b", "c"};

    @Test
    void randomOperationsGiveTheKernelsAnswers() throws Exception { compare(false, Integer.getInteger("ext4j.compareOps", 1500)); }

    /** Data operations only, on three regular files: every fallocate mode, writes, truncates and seeks in depth. */
    @Test
    void randomDataOperationsGiveTheKernelsAnswers() throws Exception { compare(true, Integer.getInteger("ext4j.compareOps", 1000)); }

    private void compare(boolean dataOnly, int ops) throws Exception {
        Tools.requireMount();
        long seed = Seeds.seed("CoreKernelCompareTest " + (dataOnly ? "data " : "") + "ops=" + ops);
        for (String bs : new String[] {"4096", "1024"}) {
            Path img = tmp.resolve("e" + bs + ".img"), kimg = tmp.resolve("k" + bs + ".img"), mnt = tmp.resolve("m" + bs);
            Tools.mke2fs(img, null, "64M", "-t", "ext4", "-b", bs);
            Files.copy(img, kimg);
            Files.createDirectories(mnt);
            Tools.mount(kimg, mnt, "");
            List<String> log = new ArrayList<>();
            Map<String, Integer> outcomes = new TreeMap<>();
            try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults())) {
                Kernel k = new Kernel(mnt.toString());
                Ours o = new Ours(v);
                Random rnd = new Random(seed);
                List<Op> setup = new ArrayList<>();
                if (dataOnly) {
                    for (String f : DATA_FILES) setup.add(named("create " + f, s -> s.create(f, 0644)));
                } else {
                    for (String d : DIRS) if (!d.isEmpty()) setup.add(named("mkdir " + d, s -> s.mkdir(d, 0755)));
                    for (String d : DIRS) for (String l : LEAVES) if (rnd.nextInt(3) > 0) setup.add(named("create " + d + "/" + l, s -> s.create(d + "/" + l, 0644)));
                }
                for (int i = 0; i < ops; i++) {
                    Op op = i < setup.size() ? setup.get(i) : dataOnly ? randomDataOp(rnd, Integer.parseInt(bs)) : randomOp(rnd, Integer.parseInt(bs));
                    long kr = op.run(k), or = op.run(o);
                    log.add(i + ": " + op + " -> kernel " + kr + ", ext4j " + or);
                    String kind = op.toString().startsWith("fallocate") ? op.toString().replaceAll(".* mode (0x[0-9a-f]+).*", "fallocate $1") : op.toString().split(" ")[0];
                    outcomes.merge(kind + (kr >= 0 ? " ok" : " " + show(kr)), 1, Integer::sum);
                    if (kr != or && System.getProperty("ext4j.compareLog") != null) Files.write(Path.of(System.getProperty("ext4j.compareLog")), log);
                    if (kr != or) System.out.println("kernel tree: " + k.tree() + "\next4j tree: " + o.tree());
                    if (kr != or && System.getProperty("ext4j.compareDebug") != null) {
                        v.pathView().sync();
                        String p = System.getProperty("ext4j.compareDebug");
                        System.out.println("ext4j extents of " + p + ":\n" + Tools.debugfs(img, "ex " + p));
                        System.out.println("kernel extents of " + p + ":\n" + Tools.ok("filefrag", "-v", mnt + p));
                    }
                    if (kr != or) fail("seed " + seed + " block size " + bs + ": operation " + i + " " + op + ": kernel " + show(kr) + ", ext4j " + show(or)
                            + "\nlast operations:\n" + String.join("\n", log.subList(Math.max(0, log.size() - 25), log.size())));
                    if (i % 500 == 499 || i == ops - 1) {
                        Map<String, String> kt = k.tree(), ot = o.tree();
                        if (!kt.equals(ot) && System.getProperty("ext4j.compareLog") != null) Files.write(Path.of(System.getProperty("ext4j.compareLog")), log);
                        if (!kt.equals(ot)) fail("seed " + seed + " bs " + bs + ": trees differ after operation " + i + ": " + diff(kt, ot));
                    }
                }
            } finally {
                Tools.umount(mnt);
            }
            System.out.println("  block size " + bs + ", same answers: " + outcomes);
            Tools.assertFsckClean(img);
            // the kernel's own image: no errors (its extent trees may draw e2fsck's "could be shorter" hint, which is Linux's shape)
            Tools.Result kf = Tools.run("e2fsck", "-fn", kimg.toString());
            assertEquals(0, kf.exit(), "e2fsck -fn of the kernel's image:\n" + kf.out());
        }
    }

    /** statfs of fresh filesystems (4K, 1K, with and without a journal, ext2): every field as the kernel's statfs gives it. */
    @Test
    void statfsMatchesTheKernel() throws Exception {
        Tools.requireMount();
        String[][] layouts = {{"-t", "ext4"}, {"-t", "ext4", "-b", "1024"}, {"-t", "ext4", "-m", "0"}, {"-t", "ext2"}, {"-t", "ext4", "-O", "^has_journal"}};
        for (String[] opts : layouts) {
            Path img = tmp.resolve("sf.img"), mnt = tmp.resolve("sfm");
            Files.deleteIfExists(img);
            Tools.mke2fs(img, null, "96M", opts);
            Files.createDirectories(mnt);
            Tools.mount(img, mnt, "ro");
            String kernel;
            try {
                kernel = Tools.ok("stat", "-f", "-c", "%S %b %f %a %c %d %l %i", mnt.toString()).trim();
            } finally {
                Tools.umount(mnt);
            }
            try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults().withReadOnly(true))) {
                StatFs f = v.statfs();
                // stat prints f_fsid as the two 32-bit words, high then low, in hex without leading zeros
                String ours = f.blockSize() + " " + f.blocks() + " " + f.freeBlocks() + " " + f.availableBlocks() + " " + f.inodes() + " "
                        + f.freeInodes() + " " + f.nameMax() + " " + Long.toHexString(f.fsid() >>> 32 | f.fsid() << 32);
                assertEquals(kernel, ours, String.join(" ", opts) + ": statfs (bsize blocks bfree bavail files ffree namelen fsid)");
            }
        }
    }

    private static String diff(Map<String, String> kernel, Map<String, String> ours) {
        StringBuilder b = new StringBuilder();
        java.util.Set<String> keys = new java.util.TreeSet<>(kernel.keySet());
        keys.addAll(ours.keySet());
        for (String key : keys)
            if (!java.util.Objects.equals(kernel.get(key), ours.get(key))) b.append("\n  ").append(key).append(": kernel ").append(kernel.get(key)).append(", ext4j ").append(ours.get(key));
        return b.toString();
    }

    private static String show(long r) {
        if (r >= 0) return String.valueOf(r);
        for (Errno e : Errno.values()) if (e.code == -r) return e.name();
        return "errno " + (-r);
    }

    // ---- operations ----

    interface Side {
        long mkdir(String p, int mode);
        long create(String p, int mode);
        long write(String p, long off, byte[] data);
        long rename(String a, String b, int flags);
        long unlink(String p);
        long rmdir(String p);
        long link(String a, String b);
        long symlink(String target, String p);
        long fallocate(String p, int mode, long off, long len);
        long seek(String p, long off, int whence);
        long chmod(String p, int mode);
        long chown(String p, int uid, int gid);
        long truncate(String p, long size);
        /** path -> "type mode nlink uid gid size sha/target", sorted. */
        Map<String, String> tree() throws Exception;
    }

    interface Op { long run(Side s); }

    private static String path(Random r) { return DIRS[r.nextInt(DIRS.length)] + "/" + LEAVES[r.nextInt(LEAVES.length)]; }

    private static String anyPath(Random r) {
        return r.nextInt(5) == 0 ? DIRS[1 + r.nextInt(DIRS.length - 1)] : path(r);
    }

    private static long offset(Random r, int bs) {
        return switch (r.nextInt(4)) {
            case 0 -> 0;
            case 1 -> (long) r.nextInt(64) * bs;
            case 2 -> r.nextInt(300_000);
            default -> (long) r.nextInt(16) * 65536;
        };
    }

    private static Op randomOp(Random r, int bs) {
        int kind = r.nextInt(100);
        if (kind < 6) { String p = DIRS[1 + r.nextInt(DIRS.length - 1)]; return named("mkdir " + p, s -> s.mkdir(p, 0755)); }
        if (kind < 16) { String p = path(r); int m = 0600 | r.nextInt(0200); return named("create " + p + " 0" + Integer.toOctalString(m), s -> s.create(p, m)); }
        if (kind < 30) {
            String p = path(r); long off = offset(r, bs); byte[] d = new byte[r.nextInt(3) == 0 ? 1 + r.nextInt(100) : 1 + r.nextInt(40_000)];
            r.nextBytes(d);
            return named("write " + p + " @" + off + " +" + d.length, s -> s.write(p, off, d));
        }
        if (kind < 42) {
            String a = anyPath(r), b = anyPath(r);
            int flags = new int[] {0, 0, Ext4Vfs.RENAME_NOREPLACE, Ext4Vfs.RENAME_EXCHANGE, Ext4Vfs.RENAME_NOREPLACE | Ext4Vfs.RENAME_EXCHANGE}[r.nextInt(5)];
            return named("rename " + a + " " + b + " flags " + flags, s -> s.rename(a, b, flags));
        }
        if (kind < 47) { String p = path(r); return named("unlink " + p, s -> s.unlink(p)); }
        if (kind < 50) { String p = anyPath(r); return named("rmdir " + p, s -> s.rmdir(p)); }
        if (kind < 54) { String a = path(r), b = path(r); return named("link " + a + " " + b, s -> s.link(a, b)); }
        if (kind < 56) { String p = path(r); return named("symlink " + p, s -> s.symlink("target-" + p.length(), p)); }
        if (kind < 70) {
            String p = path(r);
            int mode = new int[] {0, 1, 2, 3, 0x10, 0x11, 0x12, 0x13, 0x08, 0x08, 0x20, 0x20, 0x09, 0x21}[r.nextInt(14)];
            long off = offset(r, bs), len = r.nextInt(8) == 0 ? 0 : r.nextBoolean() ? (1 + r.nextInt(16)) * (long) bs : 1 + r.nextInt(200_000);
            return named("fallocate " + p + " mode 0x" + Integer.toHexString(mode) + " @" + off + " +" + len, s -> s.fallocate(p, mode, off, len));
        }
        if (kind < 80) {
            String p = path(r); long off = r.nextInt(10) == 0 ? -1 : offset(r, bs); int wh = r.nextBoolean() ? Ext4Vfs.SEEK_DATA : Ext4Vfs.SEEK_HOLE;
            return named("lseek " + p + " " + off + (wh == Ext4Vfs.SEEK_DATA ? " SEEK_DATA" : " SEEK_HOLE"), s -> s.seek(p, off, wh));
        }
        if (kind < 86) {
            String p = anyPath(r); int m = new int[] {0644, 06755, 02644, 04700, 02775, 0700, 01777}[r.nextInt(7)];
            return named("chmod " + p + " 0" + Integer.toOctalString(m), s -> s.chmod(p, m));
        }
        if (kind < 92) {
            String p = anyPath(r); int uid = r.nextBoolean() ? -1 : r.nextInt(3) * 500, gid = r.nextBoolean() ? -1 : r.nextInt(3) * 500;
            return named("chown " + p + " " + uid + ":" + gid, s -> s.chown(p, uid, gid));
        }
        String p = path(r); long size = r.nextBoolean() ? offset(r, bs) : r.nextInt(500_000);
        return named("truncate " + p + " " + size, s -> s.truncate(p, size));
    }

    private static final String[] DATA_FILES = {"/f0", "/f1", "/f2"};

    private static Op randomDataOp(Random r, int bs) {
        String p = DATA_FILES[r.nextInt(DATA_FILES.length)];
        int kind = r.nextInt(100);
        if (kind < 30) {
            long off = offset(r, bs); byte[] d = new byte[1 + r.nextInt(r.nextBoolean() ? 100 : 60_000)];
            r.nextBytes(d);
            return named("write " + p + " @" + off + " +" + d.length, s -> s.write(p, off, d));
        }
        if (kind < 65) {
            int mode = new int[] {0, 1, 3, 0x10, 0x11, 0x08, 0x20, 0x12, 0x09}[r.nextInt(9)];
            long off = offset(r, bs), len = r.nextInt(4) == 0 ? 1 + r.nextInt(100_000) : (1 + r.nextInt(24)) * (long) bs;
            return named("fallocate " + p + " mode 0x" + Integer.toHexString(mode) + " @" + off + " +" + len, s -> s.fallocate(p, mode, off, len));
        }
        if (kind < 85) {
            long off = offset(r, bs); int wh = r.nextBoolean() ? Ext4Vfs.SEEK_DATA : Ext4Vfs.SEEK_HOLE;
            return named("lseek " + p + " " + off + (wh == Ext4Vfs.SEEK_DATA ? " SEEK_DATA" : " SEEK_HOLE"), s -> s.seek(p, off, wh));
        }
        long size = r.nextBoolean() ? offset(r, bs) : r.nextInt(500_000);
        return named("truncate " + p + " " + size, s -> s.truncate(p, size));
    }

    private static Op named(String what, Op op) {
        return new Op() {
            @Override public long run(Side s) { return op.run(s); }
            @Override public String toString() { return what; }
        };
    }

    // ---- the kernel through a loop mount ----

    static final class Kernel implements Side {
        private static final int O_WRONLY = 1, O_RDWR = 2, O_CREAT = 0100, O_EXCL = 0200, O_NOFOLLOW = 0400000;
        private final String root;
        Kernel(String root) { this.root = root; }
        private String p(String x) { return root + x; }

        public long mkdir(String x, int mode) { return Sys.mkdir(p(x), mode); }
        public long create(String x, int mode) {
            int fd = Sys.open(p(x), O_CREAT | O_EXCL | O_WRONLY, mode);
            if (fd < 0) return fd;
            Sys.close(fd);
            return Sys.chmod(p(x), mode);                 // the exact mode, whatever the umask
        }
        private long withFd(String x, int flags, java.util.function.IntToLongFunction f) {
            int fd = Sys.open(p(x), flags | O_NOFOLLOW, 0);
            if (fd < 0) return fd;
            try { return f.applyAsLong(fd); } finally { Sys.close(fd); }
        }
        public long write(String x, long off, byte[] d) { return withFd(x, O_WRONLY, fd -> Sys.pwrite(fd, d, off)); }
        public long rename(String a, String b, int flags) { return Sys.renameat2(p(a), p(b), flags); }
        public long unlink(String x) { return Sys.unlink(p(x)); }
        public long rmdir(String x) { return Sys.rmdir(p(x)); }
        public long link(String a, String b) { return Sys.link(p(a), p(b)); }
        public long symlink(String t, String x) { return Sys.symlink(t, p(x)); }
        public long fallocate(String x, int mode, long off, long len) { return withFd(x, O_RDWR, fd -> Sys.fallocate(fd, mode, off, len)); }
        public long seek(String x, long off, int whence) {
            dropCaches();
            return withFd(x, 0, fd -> Sys.lseek(fd, off, whence));
        }

        /** sync, then drop the clean page cache: SEEK_DATA over unwritten extents counts cached blocks as data. */
        void dropCaches() {
            try {
                if (Tools.run("sync", "-f", root).exit() != 0) throw new AssertionError("sync -f " + root + " failed");
                Files.writeString(Path.of("/proc/sys/vm/drop_caches"), "3");
            } catch (Exception e) {
                throw new AssertionError("cannot drop the page cache: " + e, e);
            }
        }
        public long chmod(String x, int mode) { return Sys.chmod(p(x), mode); }
        public long chown(String x, int uid, int gid) { return Sys.lchown(p(x), uid, gid); }
        public long truncate(String x, long size) { return Sys.truncate(p(x), size); }

        public Map<String, String> tree() throws Exception {
            Map<String, String> out = new TreeMap<>();
            Path r = Path.of(root);
            try (var w = Files.walk(r)) {
                for (Path q : w.toList()) {
                    String rel = "/" + r.relativize(q);
                    if (rel.equals("/") || rel.startsWith("/lost+found")) continue;
                    Map<String, Object> a = Files.readAttributes(q, "unix:mode,nlink,uid,gid,size", LinkOption.NOFOLLOW_LINKS);
                    int mode = (Integer) a.get("mode");
                    String content = (mode & 0170000) == 0100000 ? sha(Files.readAllBytes(q))
                            : (mode & 0170000) == 0120000 ? Files.readSymbolicLink(q).toString() : "";
                    out.put(rel, String.format("0%o %d %d %d %d %s", mode, a.get("nlink"), a.get("uid"), a.get("gid"),
                            (mode & 0170000) == 040000 ? 0L : (Long) a.get("size"), content));
                }
            }
            return out;
        }
    }

    static String sha(byte[] b) throws Exception {
        return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(b)).substring(0, 16);
    }

    // ---- ext4j through the core API ----

    static final class Ours implements Side {
        private final Ext4Vfs v;
        Ours(Ext4Vfs v) { this.v = v; }

        private interface Call { long run() throws Exception; }

        private static long errno(Call c) {
            try {
                return c.run();
            } catch (FsException e) {
                return -e.errno().code;
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        }

        private record Parent(long dir, byte[] name) {}

        /** The parent directory of an absolute path, walked like the kernel walks it (the last name not followed). */
        private Parent parent(String p) throws Exception {
            int slash = p.lastIndexOf('/');
            long dir = Ext4Vfs.ROOT;
            for (String c : p.substring(0, slash).split("/")) {
                if (c.isEmpty()) continue;
                dir = component(dir, c, p);
                dir = v.lookup(dir, c.getBytes(StandardCharsets.UTF_8)).ino();
                if (v.getattr(dir).isSymlink()) throw new FsException(Errno.ENOENT, p + " (through a dangling symlink)");
            }
            if (!v.getattr(dir).isDirectory()) throw new FsException(Errno.ENOTDIR, p);
            return new Parent(dir, p.substring(slash + 1).getBytes(StandardCharsets.UTF_8));
        }

        private long component(long dir, String c, String p) throws Exception {
            if (!v.getattr(dir).isDirectory()) throw new FsException(Errno.ENOTDIR, p);
            return dir;
        }

        private long ino(String p) throws Exception {
            Parent q = parent(p);
            return v.lookup(q.dir, q.name).ino();
        }

        /** The inode a path names, its last symlink followed: the generator's symlink targets never exist, so that is ENOENT. */
        private long followed(String p) throws Exception {
            long ino = ino(p);
            if (v.getattr(ino).isSymlink()) throw new FsException(Errno.ENOENT, p + " (dangling symlink)");
            return ino;
        }

        private long withOpen(String p, int flags, java.util.function.ToLongFunction<OpenFile> f) throws Exception {
            long ino = ino(p);
            if (v.getattr(ino).isSymlink()) throw new FsException(Errno.ELOOP, p);
            OpenFile h = v.open(ino, flags, Caller.ROOT);
            try { return f.applyAsLong(h); } finally { v.release(h); }
        }

        private static long io(Call c) {
            long r = errno(c);
            return r;
        }

        public long mkdir(String p, int mode) { return errno(() -> { Parent q = parent(p); v.mkdir(q.dir, q.name, mode, 0, Caller.ROOT); return 0; }); }
        public long create(String p, int mode) {
            return errno(() -> { Parent q = parent(p); long ino = v.create(q.dir, q.name, mode, 0, Caller.ROOT).ino(); v.setattr(ino, SetAttr.NONE.mode(mode), Caller.ROOT); return 0; });
        }
        public long write(String p, long off, byte[] d) {
            return errno(() -> withOpen(p, Ext4Vfs.O_WRONLY, h -> io(() -> v.write(h, off, ByteBuffer.wrap(d), Caller.ROOT))));
        }
        public long rename(String a, String b, int flags) {
            return errno(() -> { Ext4Vfs.checkRenameFlags(flags); Parent x = parent(a), y = parent(b); v.rename(x.dir, x.name, y.dir, y.name, flags); return 0; });
        }
        public long unlink(String p) { return errno(() -> { Parent q = parent(p); v.unlink(q.dir, q.name); return 0; }); }
        public long rmdir(String p) { return errno(() -> { Parent q = parent(p); v.rmdir(q.dir, q.name); return 0; }); }
        public long link(String a, String b) { return errno(() -> { long ino = ino(a); Parent y = parent(b); v.link(ino, y.dir, y.name); return 0; }); }
        public long symlink(String t, String p) {
            return errno(() -> { Parent q = parent(p); v.symlink(q.dir, q.name, t.getBytes(StandardCharsets.UTF_8), Caller.ROOT); return 0; });
        }
        public long fallocate(String p, int mode, long off, long len) {
            return errno(() -> withOpen(p, Ext4Vfs.O_RDWR, h -> io(() -> { v.fallocate(h, mode, off, len); return 0; })));
        }
        public long seek(String p, long off, int whence) {
            return errno(() -> { v.pathView().dropCaches(); return withOpen(p, Ext4Vfs.O_RDONLY, h -> io(() -> v.lseek(h, off, whence))); });
        }
        public long chmod(String p, int mode) { return errno(() -> { v.setattr(followed(p), SetAttr.NONE.mode(mode), Caller.ROOT); return 0; }); }
        public long chown(String p, int uid, int gid) {
            return errno(() -> {
                SetAttr a = SetAttr.NONE;
                if (uid >= 0) a = a.uid(uid);
                if (gid >= 0) a = a.gid(gid);
                if (a.mask() == 0) a = a.killSuidgid();        // chown(-1, -1) still drops the set-id bits
                v.setattr(ino(p), a, Caller.ROOT);
                return 0;
            });
        }
        public long truncate(String p, long size) {
            return errno(() -> { long ino = followed(p); if (size < 0) throw new FsException(Errno.EINVAL, p); v.setattr(ino, SetAttr.NONE.size(size), Caller.ROOT); return 0; });
        }

        public Map<String, String> tree() throws Exception {
            Map<String, String> out = new TreeMap<>();
            walk(Ext4Vfs.ROOT, "", out);
            return out;
        }

        private void walk(long dir, String at, Map<String, String> out) throws Exception {
            List<Dirent> es = new ArrayList<>();
            v.readdir(dir, 0, es::add);
            for (Dirent e : es) {
                String n = e.nameString();
                if (n.equals(".") || n.equals("..") || (at.isEmpty() && n.equals("lost+found"))) continue;
                Attr a = v.getattr(e.ino());
                String content = "";
                if (a.isRegular()) {
                    OpenFile h = v.open(e.ino(), Ext4Vfs.O_RDONLY, Caller.ROOT);
                    ByteBuffer buf = ByteBuffer.allocate((int) a.size());
                    while (buf.hasRemaining() && v.read(h, buf.position(), buf) > 0) { }
                    v.release(h);
                    content = sha(buf.array());
                } else if (a.isSymlink()) {
                    content = new String(v.readlink(e.ino()), StandardCharsets.UTF_8);
                }
                out.put(at + "/" + n, String.format("0%o %d %d %d %d %s", a.mode(), a.nlink(), a.uid(), a.gid(), a.isDirectory() ? 0L : a.size(), content));
                if (a.isDirectory()) walk(e.ino(), at + "/" + n, out);
            }
        }
    }
}
