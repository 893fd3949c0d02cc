package ext4j.cli;

import ext4j.testutil.Tools;
import ext4j.testutil.TreeDiff;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * get -r leaves out the chown and chmod of a file when creating it already gave it that owner
 * and mode. What creation gives depends on the host directory (a setgid one gives its group, a
 * default ACL replaces the umask), so the same image is extracted under a plain directory, a
 * setgid directory of another group and a directory with a restrictive default ACL, and each copy
 * must carry exactly the source's owners and modes. As root (owners are kept only as root).
 */
class ExtractOwnershipTest {
    private Path work;

    @BeforeEach void setUp() throws Exception { work = Files.createTempDirectory("ext4j-owner"); }
    @AfterEach void tearDown() throws Exception { Tools.deleteTree(work); }

    @Test
    void ownersAndModesSurviveSetgidAndDefaultAclDestinations() throws Exception {
        Assumptions.assumeTrue(Posix.isRoot(), "owners are restored only as root");
        Tools.requireTool("setfacl");
        Path src = Files.createDirectory(work.resolve("src"));
        Path sub = Files.createDirectory(src.resolve("sub"));
        // owners and modes creation gives as they are (root:root, 0644 / 0755), and ones it does not
        Object[][] files = {
                {"plain", "0:0", "644"}, {"exec", "0:0", "755"}, {"private", "0:0", "600"}, {"groupw", "0:0", "664"},
                {"other-group", "0:3000", "640"}, {"other-user", "1000:2000", "644"}, {"setuid", "0:0", "4755"},
                {"sub/plain", "0:0", "644"}, {"sub/other-group", "0:3000", "644"},
        };
        for (Object[] f : files) {
            Path p = src.resolve((String) f[0]);
            Files.writeString(p, "data of " + f[0]);
            Tools.ok("chown", (String) f[1], p.toString());
            Tools.ok("chmod", (String) f[2], p.toString());
        }
        Tools.ok("chown", "0:5000", sub.toString());
        Tools.ok("chmod", "2775", sub.toString()); // a setgid directory in the image: its mode comes back too
        Path img = work.resolve("fs.img");
        Tools.mke2fs(img, src, "16M", "-t", "ext4");

        Path plain = Files.createDirectory(work.resolve("plain"));
        Path setgid = Files.createDirectory(work.resolve("setgid"));
        Tools.ok("chown", "0:4321", setgid.toString());
        Tools.ok("chmod", "2755", setgid.toString());
        Path acl = Files.createDirectory(work.resolve("acl"));
        Tools.ok("setfacl", "-d", "-m", "u::rwx,g::---,o::---", acl.toString()); // new files get 0600/0700, whatever the umask
        for (Path dest : List.of(plain, setgid, acl)) {
            Path out = dest.resolve("out");
            var r = CliRunner.run("get", "-r", img.toString(), "/", out.toString());
            assertEquals(0, r.exit(), dest + ": get -r failed: " + r.err());
            Tools.deleteTree(out.resolve("lost+found"));
            TreeDiff.Options o = new TreeDiff.Options();
            o.dirMtimes = false;
            o.nanos = false;
            o.xattrs = false; // the destination's inherited default ACL is the host's, not the image's
            List<String> diffs = TreeDiff.diff(src, out, o);
            assertTrue(diffs.isEmpty(), dest + ": " + String.join("\n", diffs));
        }
    }
}
