package ext4j.fs;

import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The CLI's path layer over the core API: namei as Ext4FileSystem.resolve walks (the oracle, on the
 * same open), messages naming the caller's path, and the bulk-copy calls beneath put -r and get -r.
 */
class Ext4PathsTest {
    @TempDir Path tmp;

    private static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    private Path image() throws Exception {
        Path img = tmp.resolve("p.img");
        Tools.mke2fs(img, null, "32M", "-t", "ext4");
        return img;
    }

    private static FsException fails(ThrowingRunnable r) {
        return assertThrows(FsException.class, r::run);
    }

    interface ThrowingRunnable { void run() throws Exception; }

    @Test
    void walksLikeTheOldResolve() throws Exception {
        try (Ext4Vfs v = Ext4Vfs.open(image(), Options.defaults())) {
            Ext4Paths p = new Ext4Paths(v, Caller.ROOT);
            p.mkdir("/a", 0755);
            p.mkdir("/a/b", 0755);
            p.create("/a/b/f", 0644);
            p.symlink("/a/rel", b("b/f"));
            p.symlink("/a/abs", b("/a/b"));
            p.symlink("/a/up", b("../a/b/.."));
            p.symlink("/a/dangling", b("nothere"));
            p.symlink("/a/self", b("self"));
            p.symlink("/loop0", b("/a/b/f"));
            for (int i = 1; i <= 41; i++) p.symlink("/loop" + i, b("loop" + (i - 1)));
            String[] paths = {"/", "/a", "/a/", "//a//b/./f", "/a/b/../b/f", "/..", "/a/rel", "/a/abs/f", "/a/up", "/a/up/b/f",
                    "/a/dangling", "/a/self", "/a/self/x", "/a/b/f/x", "/a/b/f/.", "/nope", "/nope/x", "/a/" + "n".repeat(256),
                    "/loop39", "/loop40", "/loop41", "/loop39/x", "/a/abs/../b/f"};
            Ext4FileSystem old = v.pathView();
            for (String path : paths) {
                for (boolean follow : new boolean[] {true, false}) {
                    String want, got;
                    try { want = Long.toString(old.resolve(path, follow).number()); } catch (FsException e) { want = e.getMessage(); }
                    try { got = Long.toString(p.resolve(path, follow).ino()); } catch (FsException e) { got = e.getMessage(); }
                    assertEquals(want, got, path + " follow=" + follow);
                }
            }
            assertEquals(Errno.ELOOP, fails(() -> p.resolve("/loop41", true)).errno());
            assertEquals(p.resolve("/a/b/f", true).ino(), p.resolve("/loop39", true).ino()); // 40 follows are allowed
            assertEquals(Errno.ELOOP, fails(() -> p.resolve("/loop40", true)).errno());      // the 41st is not
            assertEquals("relative: Invalid argument", fails(() -> p.resolve("relative", true)).getMessage());
            assertNull(p.find("/nope/x", true));
            assertEquals(Errno.ENOTDIR, fails(() -> p.find("/a/b/f/x", true)).errno());
        }
    }

    @Test
    void callsNameThePathNotTheInode() throws Exception {
        try (Ext4Vfs v = Ext4Vfs.open(image(), Options.defaults())) {
            Ext4Paths p = new Ext4Paths(v, Caller.ROOT);
            p.mkdir("/d", 0755);
            p.create("/d/f", 0644);
            assertEquals("/d: File exists", fails(() -> p.mkdir("/d", 0755)).getMessage());
            assertEquals("/d: Directory not empty", fails(() -> p.rmdir("/d")).getMessage());
            assertEquals("/nope: No such file or directory", fails(() -> p.mkdir("/nope/x", 0755)).getMessage());
            assertEquals("/d/f/x: Not a directory", fails(() -> p.create("/d/f/x", 0644)).getMessage());
            assertEquals("/d/gone: No such file or directory", fails(() -> p.unlink("/d/gone")).getMessage());
            assertEquals("/d: Operation not permitted", fails(() -> p.link("/d", "/dl")).getMessage());
            assertEquals("/: File exists", fails(() -> p.mkdir("/", 0755)).getMessage());
            assertEquals(Errno.EINVAL, fails(() -> p.rename("/d", "/d/sub")).errno());
            FsException big = fails(() -> p.setattr("/d", true, SetAttr.NONE.size(1)));
            assertEquals("/d: Is a directory", big.getMessage());
            p.rename("/d/f", "/g");
            assertNull(p.find("/d/f", false));
            p.link("/g", "/d/h");
            assertEquals(2, p.resolve("/g", false).attr().nlink());
            p.unlink("/g");
            p.unlink("/d/h");
            p.rmdir("/d");
            assertEquals(List.of(".", "..", "lost+found"), p.list(Ext4Vfs.ROOT).stream().map(Dirent::nameString).sorted().toList());
        }
    }

    @Test
    void createAsIsTakesTheSourceAsItIs() throws Exception {
        try (Ext4Vfs v = Ext4Vfs.open(image(), Options.defaults())) {
            Ext4Paths p = new Ext4Paths(v, Caller.ROOT);
            Entry sg = p.mkdir("/sg", 02775);
            v.setattr(sg.ino(), SetAttr.NONE.gid(50), Caller.ROOT);
            // a default ACL on the directory: the core's create would inherit it; a copy must not
            byte[] acl = {2, 0, 0, 0, 1, 0, 7, 0, -1, -1, -1, -1, 4, 0, 5, 0, -1, -1, -1, -1, 32, 0, 0, 0, -1, -1, -1, -1};
            v.setxattr(sg.ino(), "system.posix_acl_default", acl, 0, Caller.ROOT);
            Time at = new Time(1_000_000_000L, 123), mt = new Time(1_100_000_000L, 456);
            Entry f = v.createAsIs(sg.ino(), b("f"), NodeSpec.file(06750, 1234, 99, at, mt));
            assertEquals(Attr.S_IFREG | 06750, f.attr().mode());
            assertEquals(1234, f.attr().uid());
            assertEquals(99, f.attr().gid());                       // not the setgid directory's 50
            assertEquals(at, f.attr().atime());
            assertEquals(mt, f.attr().mtime());
            assertEquals(List.of(), v.listxattr(f.ino(), Caller.ROOT));
            Entry d = v.createAsIs(sg.ino(), b("sub"), NodeSpec.directory(0700, 5, 6));
            assertEquals(Attr.S_IFDIR | 0700, d.attr().mode());     // no S_ISGID from the parent
            Entry dev = v.createAsIs(sg.ino(), b("null"), NodeSpec.special(Attr.S_IFCHR | 0666, (1 << 8) | 3, 0, 0));
            assertEquals((1 << 8) | 3, dev.attr().rdev());
            Entry l = v.createAsIs(sg.ino(), b("l"), NodeSpec.symlink(b("f"), 7, 8));
            assertArrayEquals(b("f"), v.readlink(l.ino()));
            assertEquals(Errno.EEXIST, fails(() -> v.createAsIs(sg.ino(), b("f"), NodeSpec.file(0644, 0, 0, null, null))).errno());
            assertEquals(Errno.EINVAL, fails(() -> v.createAsIs(sg.ino(), b("x"), new NodeSpec(0644, 0, 0, 0, null, null, null))).errno());
        }
    }

    @Test
    void writeFromAndCopyToKeepBytesAndHoles() throws Exception {
        Path img = image();
        Path src = tmp.resolve("src"), sparse = tmp.resolve("sparse"), out = tmp.resolve("out"), out2 = tmp.resolve("out2");
        byte[] data = new byte[3 * 1024 * 1024 + 123];
        new Random(7).nextBytes(data);
        Files.write(src, data);
        try (FileChannel c = FileChannel.open(sparse, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            c.write(ByteBuffer.wrap(data, 0, 5000), 0);
            c.write(ByteBuffer.wrap(data, 0, 5000), 2_000_000);   // a hole between, ending mid-block
        }
        long ino;
        try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults())) {
            Ext4Paths p = new Ext4Paths(v, Caller.ROOT);
            ino = p.create("/f", 0644).ino();
            OpenFile f = v.open(ino, Ext4Vfs.O_WRONLY, Caller.ROOT);
            try (FileChannel in = FileChannel.open(src)) {
                v.writeFrom(f, in, data.length);
            } finally {
                v.release(f);
            }
            assertEquals(data.length, v.getattr(ino).size());
            // a file written through the cache: copyTo writes it back first and copies what a read returns
            long s = p.create("/s", 0644).ino();
            OpenFile g = v.open(s, Ext4Vfs.O_RDWR, Caller.ROOT);
            v.write(g, 0, ByteBuffer.wrap(data, 0, 5000), Caller.ROOT);
            v.write(g, 2_000_000, ByteBuffer.wrap(data, 0, 5000), Caller.ROOT);
            v.release(g);
            try (FileChannel o = FileChannel.open(out2, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                long[] done = {0};
                v.copyTo(s, o, n -> done[0] += n);
                assertTrue(done[0] >= 10_000 && done[0] <= 4 * 4096, "copied " + done[0]); // the mapped blocks only: the hole is skipped
            }
            assertArrayEquals(Files.readAllBytes(sparse), Files.readAllBytes(out2));
            assertEquals(Errno.EISDIR, fails(() -> v.copyTo(Ext4Vfs.ROOT, null, n -> { })).errno());
        }
        Tools.assertFsckClean(img);
        try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults().withReadOnly(true))) {
            try (FileChannel o = FileChannel.open(out, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                v.copyTo(ino, o, n -> { });
            }
            assertArrayEquals(data, Files.readAllBytes(out));
        }
    }
}
