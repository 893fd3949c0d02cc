package ext4j.cli;

import ext4j.testutil.Tools;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Feature policy at open, and reading through a block device node rather than an image file. */
class FeaturePolicyTest {
    private Path work, img;

    @BeforeEach
    void setUp() throws Exception {
        Tools.requireTool("mke2fs");
        work = Files.createTempDirectory("ext4j-features");
        Path src = Files.createDirectory(work.resolve("src"));
        Files.writeString(src.resolve("f"), "content\n");
        img = work.resolve("f.img");
        Tools.mke2fs(img, src, "16M", "-t", "ext4");
    }

    @AfterEach void tearDown() throws Exception { Tools.deleteTree(work); }

    @Test
    void unsupportedIncompatFeatureRefusesToOpen() throws Exception {
        Tools.ok("debugfs", "-w", "-R", "feature encrypt", img.toString());
        var r = CliRunner.run("ls", img.toString(), "/");
        assertEquals(1, r.exit());
        assertEquals("ext4j: " + img + ": unsupported incompat feature(s): encrypt; refusing to open\n", r.err());
    }

    @Test
    void unknownIncompatFeatureRefusesToOpen() throws Exception {
        Tools.ok("debugfs", "-w", "-R", "feature FEATURE_I30", img.toString());
        var r = CliRunner.run("info", img.toString());
        assertEquals(1, r.exit());
        assertTrue(r.err().contains("unsupported incompat feature(s): FEATURE_I30; refusing to open"), r.err());
    }

    @Test
    void unknownRoCompatFeatureOpensReadOnlyWithWarning() throws Exception {
        Tools.ok("debugfs", "-w", "-R", "feature FEATURE_R30", img.toString());
        var r = CliRunner.run("cat", img.toString(), "/f");
        assertEquals(0, r.exit(), r.err());
        assertEquals("content\n", CliRunner.utf8(r.raw()));
        assertEquals("ext4j: " + img + ": warning: unknown ro_compat feature(s) FEATURE_R30: the filesystem can only be opened read-only\n", r.err());
    }

    @Test
    void readsThroughALoopDeviceNode() throws Exception {
        Tools.requireMount();
        String dev = Tools.ok("losetup", "-f", "--show", "-r", img.toString()).trim();
        try {
            var r = CliRunner.run("cat", dev, "/f");
            assertEquals(0, r.exit(), r.err());
            assertEquals("content\n", CliRunner.utf8(r.raw()));
            var info = CliRunner.run("info", dev);
            assertTrue(info.out().contains("blocks:            16384"), info.out());
        } finally {
            Tools.run("losetup", "-d", dev);
        }
    }
}
