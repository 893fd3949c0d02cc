package ext4j.xattr;

import ext4j.testutil.Seeds;
import ext4j.base.Errno;
import ext4j.fs.Ext4FileSystem;
import ext4j.base.FsException;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

/** Extended attribute writing against a model, e2fsck, debugfs and the kernel's getfattr. */
class XattrWriteTest {
    @TempDir Path tmp;

    private static final String[] NAMES = {"user.a", "user.mime_type", "user." + "n".repeat(60), "trusted.t", "security.s", "user.b"};

    private static Map<String, byte[]> read(Ext4FileSystem fs, String path) throws Exception {
        Map<String, byte[]> m = new TreeMap<>();
        for (Xattr x : fs.xattrs(fs.resolve(path, false))) m.put(x.name(), x.value());
        return m;
    }

    private static void assertSame(Map<String, byte[]> want, Map<String, byte[]> got, String where) {
        assertEquals(want.keySet(), got.keySet(), where);
        for (String k : want.keySet()) assertArrayEquals(want.get(k), got.get(k), where + " " + k);
    }

    private void randomOps(String label, String... mkfs) throws Exception {
        long seed = Seeds.seed("XattrWriteTest " + label);
        Random r = new Random(seed);
        Path img = tmp.resolve(label + ".img");
        Tools.mke2fs(img, null, "32M", mkfs);
        String[] files = {"/f0", "/f1", "/d"};
        Map<String, Map<String, byte[]>> model = new TreeMap<>();
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/f0", 0644, 0, 0);
            fs.createFile("/f1", 0644, 0, 0);
            fs.mkdir("/d", 0755, 0, 0);
            for (String f : files) model.put(f, new TreeMap<>());
            int bs = fs.superblock().blockSize();
            for (int i = 0; i < 600; i++) {
                String f = files[r.nextInt(files.length)], n = NAMES[r.nextInt(NAMES.length)];
                Map<String, byte[]> m = model.get(f);
                int k = r.nextInt(10);
                if (k < 6) {
                    byte[] v = new byte[r.nextInt(3) == 0 ? r.nextInt(bs / 3) : r.nextInt(40)];
                    r.nextBytes(v);
                    int flags = r.nextInt(4) == 0 ? 1 : r.nextInt(4) == 0 ? 2 : 0;
                    Errno want = flags == 1 && m.containsKey(n) ? Errno.EEXIST : flags == 2 && !m.containsKey(n) ? Errno.ENODATA : null;
                    Errno got = null;
                    try { fs.setXattr(f, n, v, flags, false); } catch (FsException e) { got = e.errno(); }
                    if (got == Errno.ENOSPC && want == null) continue; // full inode area and block: nothing changed
                    assertEquals(want, got, "seed " + seed + " op " + i + ": set " + f + " " + n + " flags " + flags);
                    if (got == null) m.put(n, v);
                } else {
                    Errno want = m.containsKey(n) ? null : Errno.ENODATA, got = null;
                    try { fs.removeXattr(f, n, false); } catch (FsException e) { got = e.errno(); }
                    assertEquals(want, got, "seed " + seed + " op " + i + ": remove " + f + " " + n);
                    m.remove(n);
                }
                if (i % 50 == 0) for (String g : files) assertSame(model.get(g), read(fs, g), "seed " + seed + " op " + i + " " + g);
            }
        }
        Tools.assertFsckClean(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            for (String g : files) assertSame(model.get(g), read(fs, g), "seed " + seed + " after reopen " + g);
        }
        for (String g : files) {
            String list = Tools.debugfs(img, "ea_list " + g);
            for (String n : model.get(g).keySet()) assertTrue(list.contains(n + " (" + model.get(g).get(n).length + ")"), "debugfs ea_list " + g + " shows " + n + ":\n" + list);
        }
        Tools.requireMount();                                   // a visible skip where the kernel cannot loop-mount
        {
            Path mnt = Files.createDirectories(tmp.resolve("mnt-" + label));
            Tools.mount(img, mnt, "ro");
            try {
                for (String g : files) {
                    String out = Tools.ok("getfattr", "-d", "-m", "-", "-e", "hex", "--absolute-names", mnt + g);
                    for (var e : model.get(g).entrySet()) {
                        String v = e.getKey() + "=0x" + HexFormat.of().formatHex(e.getValue()); // getfattr -e hex prints "=0x" for empty values
                        assertTrue(out.lines().anyMatch(l -> l.equals(v) || l.equals(e.getKey() + "=\"\"")), "Linux getfattr " + g + " shows " + e.getKey() + ":\n" + out);
                    }
                }
            } finally {
                Tools.umount(mnt);
            }
        }
    }

    @Test void fourKInodes256() throws Exception { randomOps("4k-256", "-t", "ext4", "-b", "4096"); }
    @Test void oneKInodes128BlockOnly() throws Exception { randomOps("1k-128", "-t", "ext4", "-b", "1024", "-I", "128"); }
    @Test void noChecksums() throws Exception { randomOps("nocsum", "-t", "ext4", "-b", "4096", "-O", "^metadata_csum"); }
    @Test void ext2() throws Exception { randomOps("ext2", "-t", "ext2", "-b", "2048"); }

    @Test
    void aclsAndSharedBlocks() throws Exception {
        Path img = tmp.resolve("acl.img");
        Tools.mke2fs(img, null, "32M", "-t", "ext4", "-b", "4096", "-I", "128"); // 128-byte inodes: every xattr in a block
        byte[] acl = HexFormat.of().parseHex("0200000001000700ffffffff02000500e803000004000700ffffffff10000700ffffffff20000500ffffffff");
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/a", 0644, 0, 0);
            fs.mkdir("/dir", 0755, 0, 0);
            fs.setXattr("/a", "system.posix_acl_access", acl, 0, false);
            fs.setXattr("/dir", "system.posix_acl_default", acl, 0, false);
            assertEquals(Errno.EOPNOTSUPP, assertThrows(FsException.class, () -> fs.setXattr("/a", "system.other", new byte[1], 0, false)).errno());
            assertEquals(Errno.EOPNOTSUPP, assertThrows(FsException.class, () -> fs.setXattr("/a", "nonsense.x", new byte[1], 0, false)).errno());
            assertEquals(Errno.ERANGE, assertThrows(FsException.class, () -> fs.setXattr("/a", "user." + "x".repeat(256), new byte[1], 0, false)).errno());
            assertEquals(Errno.EINVAL, assertThrows(FsException.class, () -> fs.setXattr("/a", "system.posix_acl_access", new byte[]{1, 2, 3}, 0, false)).errno());
        }
        Tools.assertFsckClean(img);
        Tools.requireMount();                                   // a visible skip where the kernel cannot loop-mount
        {
            Path mnt = Files.createDirectories(tmp.resolve("mnt"));
            Tools.mount(img, mnt, "");
            try {
                String a = Tools.ok("getfacl", "-n", "--absolute-names", mnt.resolve("a").toString());
                assertTrue(a.contains("user:1000:r-x"), a);
                assertTrue(Tools.ok("getfacl", "-n", "--absolute-names", mnt.resolve("dir").toString()).contains("default:user:1000:r-x"));
                // the kernel shares identical xattr blocks between inodes (mbcache)
                Files.writeString(mnt.resolve("s1"), "1");
                Files.writeString(mnt.resolve("s2"), "2");
                for (String f : List.of("s1", "s2")) Tools.ok("setfattr", "-n", "user.shared", "-v", "same-value", mnt.resolve(f).toString());
            } finally {
                Tools.umount(mnt);
            }
            String s1 = Tools.debugfs(img, "stat /s1"), s2 = Tools.debugfs(img, "stat /s2");
            String b1 = s1.replaceAll("(?s).*File ACL: (\\d+).*", "$1"), b2 = s2.replaceAll("(?s).*File ACL: (\\d+).*", "$1");
            if (b1.equals(b2)) {
                try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
                    fs.setXattr("/s1", "user.shared", "changed".getBytes(), 0, false); // copy on write
                    assertArrayEquals("same-value".getBytes(), read(fs, "/s2").get("user.shared"));
                    assertArrayEquals("changed".getBytes(), read(fs, "/s1").get("user.shared"));
                    fs.removeXattr("/s2", "user.shared", false); // drops the last reference
                }
                Tools.assertFsckClean(img);
                System.out.println("XattrWriteTest: a block shared by the kernel was copied on write and released");
            } else {
                System.out.println("XattrWriteTest: the kernel did not share the block this time (" + b1 + " vs " + b2 + ")");
            }
        }
    }
}
