package ext4j.fs;

import ext4j.testutil.Sys;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The core API's permission rules against the host kernel: the same steps on a loop mount of one
 * ext4 image and through {@link Ext4Vfs} on a copy of it, unprivileged steps run on the kernel side
 * through setpriv. Compared: each inode's mode (and gid) right after its step, then both whole trees
 * ({@code stat} and {@code getfacl -p -n} of every file) with the ext4j image itself loop-mounted
 * after e2fsck -fn has passed on it. Every difference is collected and reported at once.
 */
class CorePermissionKernelTest {
    @TempDir Path tmp;

    private static final Caller ROOT = Caller.ROOT;
    /** uid 1000, primary group 1000, no other groups. */
    private static final Caller U1000 = user(1000, 1000);
    /** uid 1001, group 1001 only: outside group 1000. */
    private static final Caller OUT = user(1001, 1001);
    /** uid 1001, group 1001, supplementary group 1000. */
    private static final Caller IN = user(1001, 1001, 1000);

    private static Caller user(long uid, long gid, long... groups) { return new Caller(uid, gid, groups); }

    // ---- 1. set-id bits ----

    /**
     * Linux (file_remove_privs, setattr_should_drop_suidgid): a write by a caller without CAP_FSETID
     * drops S_ISUID always, and S_ISGID when the group may execute or the writer is not in the
     * file's group (a setgid file without group execute keeps S_ISGID for a member of its group).
     */
    @Test
    void writeByUnprivilegedUserDropsSetIdBits() throws Exception {
        try (Both b = new Both()) {
            unprivilegedCases(b, WRITE);
            b.finish();
        }
    }

    /** Linux (do_truncate): truncate(2)/ftruncate(2) by a caller without CAP_FSETID drops the bits exactly as a write does. */
    @Test
    void truncateByUnprivilegedUserDropsSetIdBits() throws Exception {
        try (Both b = new Both()) {
            unprivilegedCases(b, truncate(3));
            b.finish();
        }
    }

    private static void unprivilegedCases(Both b, Op op) throws Exception {
        b.setId(false, 06777, 0, 0, U1000, op);          // -> 0777
        b.setId(false, 04777, 0, 0, U1000, op);          // -> 0777
        b.setId(false, 02777, 0, 0, U1000, op);          // -> 0777: the group may execute
        b.setId(false, 06755, 1000, 1000, U1000, op);    // the owner writes -> 0755
        b.setId(false, 02677, 0, 1000, IN, op);          // 02677 is group rwx: -> 0677 even for a member
        b.setId(false, 02767, 0, 1000, IN, op);          // no group execute, a member (supplementary): keeps 02767
        b.setId(false, 02767, 0, 1000, U1000, op);       // a member (primary group): keeps 02767
        b.setId(false, 02767, 0, 1000, OUT, op);         // not a member: -> 0767
        b.setId(false, 06767, 0, 1000, IN, op);          // -> 02767
        b.setId(false, 06766, 1000, 3000, U1000, op);    // the owner, not in the file's group: -> 0766
    }

    /** Linux: root has CAP_FSETID, so its writes and truncates leave every set-id bit alone. */
    @Test
    void writeAndTruncateByRootKeepSetIdBits() throws Exception {
        try (Both b = new Both()) {
            for (Op op : List.of(WRITE, truncate(5))) {
                b.setId(false, 06777, 0, 0, ROOT, op);
                b.setId(false, 06767, 0, 1000, ROOT, op);
                b.setId(false, 06755, 1000, 1000, ROOT, op);
                b.setId(false, 02767, 1000, 3000, ROOT, op);
                b.setId(false, 04755, 1000, 1000, ROOT, op);
            }
            b.finish();
        }
    }

    /**
     * Linux (chown_common): a chown of a non-directory, even by root, even to the same owner, even
     * chown(-1, -1), drops S_ISUID, and S_ISGID when the group may execute or the caller is neither
     * in the file's (old) group nor has CAP_FSETID. Directories keep both.
     */
    @Test
    void chownDropsSetIdBitsOfNonDirectories() throws Exception {
        try (Both b = new Both()) {
            b.setId(false, 06777, 0, 0, ROOT, chown(1000, -1));        // -> 0777
            b.setId(false, 06767, 0, 1000, ROOT, chown(1000, -1));     // root keeps S_ISGID without group execute: -> 02767
            b.setId(false, 06755, 1000, 1000, ROOT, chown(1000, -1));  // the same owner: -> 0755
            b.setId(false, 06755, 1000, 1000, ROOT, chown(1000, 1000));
            b.setId(false, 04777, 0, 0, ROOT, chown(-1, -1));          // no change of owner at all: -> 0777
            b.setId(false, 02767, 1000, 3000, ROOT, chown(-1, -1));    // -> 02767
            b.setId(false, 02777, 0, 0, ROOT, chown(-1, 1000));        // -> 0777
            b.setId(true, 06775, 0, 0, ROOT, chown(1000, 1000));       // a directory: keeps 06775
            b.setId(true, 02775, 0, 1000, ROOT, chown(-1, -1));
            // by the owner (chgrp needs membership of the new group)
            b.setId(false, 04755, 1000, 1000, U1000, chown(-1, -1));                   // -> 0755
            b.setId(false, 06767, 1000, 3000, user(1000, 1000, 2000), chown(-1, 2000)); // not in the old group 3000: -> 0767
            b.setId(false, 02767, 1000, 1000, user(1000, 1000, 2000), chown(-1, 2000)); // in the old group: keeps 02767
            b.finish();
        }
    }

    /**
     * Linux (setattr_prepare): a chmod that sets S_ISGID by a caller who is neither in the file's
     * group nor has CAP_FSETID loses S_ISGID, on files and directories alike; S_ISUID stays.
     */
    @Test
    void chmodBySomeoneOutsideTheGroupDropsSetgid() throws Exception {
        try (Both b = new Both()) {
            b.setId(false, 0644, 1000, 0, U1000, chmod(02755));                    // -> 0755
            b.setId(false, 0644, 1000, 0, U1000, chmod(06755));                    // -> 04755
            b.setId(false, 0644, 1000, 0, U1000, chmod(04755));                    // -> 04755
            b.setId(false, 0644, 1000, 2000, user(1000, 1000, 2000), chmod(02755)); // a member: 02755
            b.setId(false, 0644, 1000, 1000, U1000, chmod(02755));                 // primary group: 02755
            b.setId(true, 0755, 1000, 0, U1000, chmod(02755));                     // a directory: -> 0755
            b.setId(true, 0755, 1000, 1000, U1000, chmod(03755));                  // 03755
            b.setId(false, 0644, 1000, 3000, ROOT, chmod(02755));                  // root: 02755
            b.finish();
        }
    }

    // ---- 2. new inodes ----

    /**
     * Linux (posix_acl_create): under a default ACL the umask is ignored; the new inode's access ACL
     * is the default ACL with the owner, group-class (mask, else group) and other entries limited
     * by the requested mode, and the mode follows them; an ACL the mode can say is not stored; a new
     * directory also gets the default ACL. In a setgid directory the group is the directory's.
     */
    @Test
    void newInodesInheritDefaultAcls() throws Exception {
        try (Both b = new Both()) {
            b.directory("named", 0777, -1, "u:1234:rwx,g::r-x,m::rwx,o::---");
            b.directory("minimal", 0777, -1, "u::rwx,g::r-x,o::r-x");
            b.directory("narrow", 0777, -1, "u::rw-,g::r--,o::---");
            b.directory("sgidacl", 02777, 1000, "u::rwx,g::rwx,g:2000:r-x,m::rw-,o::r-x");
            for (String dir : List.of("named", "minimal", "narrow", "sgidacl"))
                for (Caller who : List.of(ROOT, OUT, IN))
                    for (int umask : new int[] {022, 077}) b.createIn(dir, who, umask);
            b.finish();
        }
    }

    /**
     * Linux (inode_init_owner, vfs_prepare_mode, mode_strip_sgid): in a setgid directory a new
     * inode takes the directory's group and a new directory S_ISGID; a new non-directory asking for
     * S_ISGID with group execute loses S_ISGID when its creator is neither in that group nor has
     * CAP_FSETID (judged on the mode asked for, before the umask); mkdir keeps only the permission
     * bits and S_ISVTX of the mode asked for (S_ISGID only from the parent).
     */
    @Test
    void newInodesInSetgidAndPlainDirectories() throws Exception {
        try (Both b = new Both()) {
            b.directory("plain", 0777, -1, null);
            b.directory("sgid", 02777, 1000, null);
            for (String dir : List.of("plain", "sgid"))
                for (Caller who : List.of(ROOT, OUT, IN))
                    for (int umask : new int[] {022, 077}) b.createIn(dir, who, umask);
            b.finish();
        }
    }

    // ---- operations, as a shell command on "$1" for the kernel and as core API calls ----

    interface Step { void run(Ext4Vfs v, long ino, Caller who) throws IOException; }

    record Op(String name, String shell, Step ext) {}

    /** printf x >> FILE: an O_APPEND write of one byte. */
    private static final Op WRITE = new Op("write of 1 byte", "printf x >> \"$1\"", (v, ino, who) -> {
        OpenFile h = v.open(ino, Ext4Vfs.O_WRONLY | Ext4Vfs.O_APPEND, who);
        try { v.write(h, 0, ByteBuffer.wrap(new byte[] {'x'}), who); } finally { v.release(h); }
    });

    private static Op truncate(long size) {
        return new Op("truncate -s " + size, "truncate -s " + size + " \"$1\"", (v, ino, who) -> v.setattr(ino, SetAttr.NONE.size(size), who));
    }

    /** chown(2) with -1 for "unchanged" (perl's chown is the bare system call). */
    private static Op chown(int uid, int gid) {
        return new Op("chown " + uid + ":" + gid, "perl -e 'chown(" + uid + ", " + gid + ", $ARGV[0]) or die \"$!\\n\"' \"$1\"", (v, ino, who) -> {
            SetAttr a = SetAttr.NONE;
            if (uid >= 0) a = a.uid(uid);
            if (gid >= 0) a = a.gid(gid);
            v.setattr(ino, a.mask() == 0 ? a.killSuidgid() : a, who);
        });
    }

    /** chmod(2) with exactly this mode (GNU chmod keeps a directory's set-id bits unless told otherwise). */
    private static Op chmod(int mode) {
        String m = "0" + Integer.toOctalString(mode);
        return new Op("chmod " + m, "perl -e 'chmod(" + m + ", $ARGV[0]) or die \"$!\\n\"' \"$1\"", (v, ino, who) -> v.setattr(ino, SetAttr.NONE.mode(mode), who));
    }

    private static String show(Caller who) {
        if (who.privileged()) return "root";
        return who.uid() + ":" + who.gid() + (who.groups().length == 0 ? "" : " (groups " + Arrays.toString(who.groups()) + ")");
    }

    private static String octal(int mode) { return "0" + Integer.toOctalString(mode & 07777); }

    private static byte[] bytes(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    // ---- the two sides ----

    /** A kernel loop mount of one fresh image and the core API on a copy of it; the same steps go to both. */
    private final class Both implements AutoCloseable {
        final Path kimg = tmp.resolve("kernel.img"), img = tmp.resolve("ext4j.img"), kmnt = tmp.resolve("k"), emnt = tmp.resolve("e");
        final List<String> differences = new ArrayList<>();
        final Ext4Vfs v;
        boolean kernelMounted, open;
        int cases;

        Both() throws Exception {
            Tools.requireMount();
            for (String t : List.of("setpriv", "setfacl", "getfacl", "getfattr", "perl", "truncate", "mkfifo", "e2fsck")) Tools.requireTool(t);
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));   // other users must reach the mount
            Tools.mke2fs(img, null, "64M", "-t", "ext4");
            Files.copy(img, kimg);
            Files.createDirectories(kmnt);
            Files.createDirectories(emnt);
            Tools.mount(kimg, kmnt, "");
            kernelMounted = true;
            try {
                v = Ext4Vfs.open(img, Options.defaults());
            } catch (IOException | RuntimeException e) {
                Tools.umount(kmnt);
                throw e;
            }
            open = true;
        }

        /** A script run by sh in the kernel mount's root, by root directly or as who through setpriv; it must exit 0. */
        String kernel(Caller who, String script, String... args) throws Exception {
            List<String> cmd = new ArrayList<>();
            if (!who.privileged()) {
                cmd.addAll(List.of("setpriv", "--reuid=" + who.uid(), "--regid=" + who.gid()));
                cmd.add(who.groups().length == 0 ? "--clear-groups"
                        : "--groups=" + Arrays.stream(who.groups()).mapToObj(Long::toString).collect(Collectors.joining(",")));
            }
            cmd.addAll(List.of("sh", "-c", script, "sh"));
            cmd.addAll(List.of(args));
            return run(kmnt, cmd);
        }

        private static String run(Path dir, List<String> cmd) throws Exception {
            ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true);
            pb.environment().put("LC_ALL", "C");
            Process p = pb.start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int exit = p.waitFor();
            if (exit != 0) throw new AssertionError(cmd + " in " + dir + " exited " + exit + ":\n" + out);
            return out;
        }

        long ino(String rel) throws IOException {
            long ino = Ext4Vfs.ROOT;
            for (String c : rel.split("/")) if (!c.isEmpty()) ino = v.lookup(ino, bytes(c)).ino();
            return ino;
        }

        /** Mode and gid of rel on both sides; a difference is recorded under what. */
        void compare(String what, String rel) throws IOException {
            Path p = kmnt.resolve(rel);
            int kmode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            int kgid = (Integer) Files.getAttribute(p, "unix:gid", LinkOption.NOFOLLOW_LINKS);
            Attr a = v.getattr(ino(rel));
            String k = octal(kmode) + " gid " + kgid, o = octal(a.mode()) + " gid " + a.gid();
            if (!k.equals(o)) differences.add(what + ": kernel " + k + ", ext4j " + o);
        }

        /** A file (or directory) made by root with this owner and mode, then op by who; the resulting modes must agree. */
        void setId(boolean dir, int mode, int uid, int gid, Caller who, Op op) throws Exception {
            String name = "c" + (++cases);
            String what = name + ": " + op.name() + " by " + show(who) + " on a " + (dir ? "directory " : "file ") + octal(mode) + " " + uid + ":" + gid;
            Path p = kmnt.resolve(name);
            if (dir) Files.createDirectory(p); else Files.createFile(p);
            assertEquals(0, Sys.lchown(p.toString(), uid, gid), "lchown " + p);
            assertEquals(0, Sys.chmod(p.toString(), mode), "chmod " + p);
            long ino = (dir ? v.mkdir(Ext4Vfs.ROOT, bytes(name), 0755, 0, ROOT) : v.create(Ext4Vfs.ROOT, bytes(name), 0644, 0, ROOT)).ino();
            v.setattr(ino, SetAttr.NONE.uid(uid).gid(gid), ROOT);
            v.setattr(ino, SetAttr.NONE.mode(mode), ROOT);
            compare(what + " (before it)", name);
            kernel(who, op.shell(), name);
            op.ext().run(v, ino, who);
            compare(what, name);
        }

        /** A directory made by root in the root: its mode, then its group (-1: root's), then a default ACL (setfacl -d -m text) or none. */
        void directory(String name, int mode, int gid, String defaultAcl) throws Exception {
            Path p = kmnt.resolve(name);
            Files.createDirectory(p);
            if (gid >= 0) assertEquals(0, Sys.lchown(p.toString(), -1, gid), "chgrp " + p);
            assertEquals(0, Sys.chmod(p.toString(), mode), "chmod " + p);
            long ino = v.mkdir(Ext4Vfs.ROOT, bytes(name), 0777, 0, ROOT).ino();
            if (gid >= 0) v.setattr(ino, SetAttr.NONE.gid(gid), ROOT);
            v.setattr(ino, SetAttr.NONE.mode(mode), ROOT);
            if (defaultAcl != null) {
                kernel(ROOT, "setfacl -d -m \"$1\" \"$2\"", defaultAcl, name);
                // the kernel's own value (Linux xattr format), set the same way through the core API
                String out = kernel(ROOT, "getfattr --absolute-names -n system.posix_acl_default -e hex \"$1\"", name);
                String hex = out.lines().filter(l -> l.startsWith("system.posix_acl_default=0x")).findFirst()
                        .orElseThrow(() -> new AssertionError("no default ACL on " + name + ":\n" + out)).substring("system.posix_acl_default=0x".length());
                v.setxattr(ino, "system.posix_acl_default", HexFormat.of().parseHex(hex), 0, ROOT);
            }
            compare("directory " + name, name);
        }

        /**
         * In dir, as who with this umask: touch f (0666), mkdir d (0777), mkfifo p (0666), and two
         * asking for set-id bits: open(O_CREAT) of g with 02777, mkdir of x with 07777.
         */
        void createIn(String dir, Caller who, int umask) throws Exception {
            String base = (who.privileged() ? "root" : who.groups().length == 0 ? "out" : "in") + "-" + String.format("%03o", umask);
            String script = "cd \"$1\" && umask $2 && touch \"$3-f\" && mkdir \"$3-d\" && mkfifo \"$3-p\""
                    + " && perl -e 'use Fcntl; sysopen(my $f, \"$ARGV[0]-g\", O_CREAT|O_EXCL|O_WRONLY, 02777) or die \"g: $!\\n\";"
                    + " mkdir(\"$ARGV[0]-x\", 07777) or die \"x: $!\\n\"' \"$3\"";
            kernel(who, script, dir, String.format("%03o", umask), base);
            long d = ino(dir);
            v.create(d, bytes(base + "-f"), 0666, umask, who);
            v.mkdir(d, bytes(base + "-d"), 0777, umask, who);
            v.mknod(d, bytes(base + "-p"), Attr.S_IFIFO | 0666, 0, umask, who);
            v.create(d, bytes(base + "-g"), 02777, umask, who);
            v.mkdir(d, bytes(base + "-x"), 07777, umask, who);
            String as = " by " + show(who) + " with umask " + String.format("%03o", umask) + " in " + dir;
            compare("touch (0666)" + as, dir + "/" + base + "-f");
            compare("mkdir (0777)" + as, dir + "/" + base + "-d");
            compare("mkfifo (0666)" + as, dir + "/" + base + "-p");
            compare("open O_CREAT 02777" + as, dir + "/" + base + "-g");
            compare("mkdir 07777" + as, dir + "/" + base + "-x");
        }

        private static final String FILES = "find . -path ./lost+found -prune -o -print0 | sort -z | xargs -0 ";
        private static final String STAT = FILES + "stat -c '%n %F %a %u %g %s'", ACLS = FILES + "getfacl -p -n";

        /**
         * Both trees compared whole: stat and getfacl of every file on the kernel mount, then the
         * ext4j image closed, checked with e2fsck -fn, loop-mounted and listed the same way.
         * Fails with every difference found (here and in the steps before).
         */
        void finish() throws Exception {
            String kStat = run(kmnt, List.of("sh", "-c", STAT)), kAcl = run(kmnt, List.of("sh", "-c", ACLS));
            Tools.umount(kmnt);
            kernelMounted = false;
            v.close();
            open = false;
            Tools.assertFsckClean(img);
            Tools.mount(img, emnt, "ro");
            String eStat, eAcl;
            try {
                eStat = run(emnt, List.of("sh", "-c", STAT));
                eAcl = run(emnt, List.of("sh", "-c", ACLS));
            } finally {
                Tools.umount(emnt);
            }
            Tools.assertFsckClean(img);
            Tools.assertFsckClean(kimg);
            compareKeyed("stat", List.of(kStat.split("\n")), List.of(eStat.split("\n")));
            compareKeyed("getfacl", List.of(kAcl.strip().split("\n\n")), List.of(eAcl.strip().split("\n\n")));
            if (!differences.isEmpty())
                fail(differences.size() + " difference(s) from the kernel:\n" + String.join("\n", differences));
        }

        /** Lines (or blocks) keyed by their first word after "# file: " or their first word. */
        private void compareKeyed(String what, List<String> kernel, List<String> ours) {
            Map<String, String> k = byKey(kernel), o = byKey(ours);
            TreeSet<String> keys = new TreeSet<>(k.keySet());
            keys.addAll(o.keySet());
            for (String key : keys)
                if (!Objects.equals(k.get(key), o.get(key)))
                    differences.add(what + " " + key + ":\n    kernel: " + shown(k.get(key)) + "\n    ext4j:  " + shown(o.get(key)));
        }

        private static Map<String, String> byKey(List<String> items) {
            Map<String, String> m = new LinkedHashMap<>();
            for (String s : items) {
                String t = s.strip();
                if (t.isEmpty()) continue;
                String first = t.lines().findFirst().orElse("");
                String key = first.startsWith("# file: ") ? first.substring(8) : first.split(" ", 2)[0];
                m.put(key, t);
            }
            return m;
        }

        private static String shown(String s) { return s == null ? "(absent)" : s.replace("\n", " | "); }

        @Override public void close() throws IOException {
            if (kernelMounted) Tools.umount(kmnt);
            if (open) v.close();
        }
    }
}
