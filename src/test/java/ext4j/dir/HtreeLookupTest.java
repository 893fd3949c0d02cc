package ext4j.dir;

import ext4j.testutil.Seeds;
import ext4j.fs.Ext4FileSystem;
import ext4j.ondisk.Inode;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * htree lookups for every hash e2fsprogs can index with (legacy, half_md4, tea) in both signed and
 * unsigned char flavours: e2fsck -D rebuilds the directories with that hash, then every name
 * (many with bytes >= 0x80, where the flavours differ) must be found through the hash tree with
 * the inode number the linear listing gives, and absent names must not be found.
 */
class HtreeLookupTest {
    private Path work;

    @BeforeEach void setUp() throws Exception { work = Files.createTempDirectory("ext4j-htree"); }
    @AfterEach void tearDown() throws Exception { Tools.deleteTree(work); }

    @ParameterizedTest(name = "{0} hash, s_flags {1}, {2}")
    @CsvSource({
            "legacy, 1, -b 4096", "legacy, 2, -b 4096",
            "half_md4, 1, -b 4096", "half_md4, 2, -b 4096",
            "tea, 1, -b 4096", "tea, 2, -b 4096",
            "half_md4, 1, -b 1024", "tea, 2, -b 1024",
    })
    void everyNameIsFoundThroughTheHashTree(String alg, int flags, String blockOpt) throws Exception {
        Tools.requireTool("e2fsck");
        long seed = Seeds.seed("HtreeLookupTest " + alg + " flags=" + flags + " " + blockOpt);
        Random r = new Random(seed);
        Path src = Files.createDirectory(work.resolve("src"));
        Path dir = Files.createDirectory(src.resolve("d"));
        String[] alphabet = {"a", "b", "Z", "_", "-", "0", "ü", "Ω", "é", "漢", "x"};
        int count = blockOpt.contains("1024") ? 6000 : 4000;
        for (int i = 0; i < count; i++) {
            StringBuilder n = new StringBuilder();
            int len = 1 + r.nextInt(40);
            for (int k = 0; k < len; k++) n.append(alphabet[r.nextInt(alphabet.length)]);
            n.append('.').append(i);
            Files.createFile(dir.resolve(n.toString()));
        }
        Path img = work.resolve("h.img");
        Tools.mke2fs(img, src, "64M", ("-t ext4 " + blockOpt).split(" "));
        Tools.ok("tune2fs", "-E", "hash_alg=" + alg, img.toString());
        Tools.ok("debugfs", "-w", "-R", "ssv flags " + flags, img.toString());
        int rc = Tools.run("e2fsck", "-fyD", img.toString()).exit();
        assertTrue(rc == 0 || rc == 1, "e2fsck -fyD exit " + rc);
        Tools.assertFsckClean(img);

        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            Inode d = fs.resolve("/d", true);
            assertTrue(d.hasFlag(Inode.FL_INDEX), "e2fsck -D made /d an htree directory");
            Directory directory = fs.directory(d);
            Map<String, Long> linear = new HashMap<>();
            for (DirEntry e : directory.list()) linear.put(e.name(), e.inode());
            assertEquals(count + 2, linear.size());
            for (var e : linear.entrySet()) {
                DirEntry hit = directory.lookup(e.getKey().getBytes(StandardCharsets.UTF_8));
                assertNotNull(hit, "seed " + seed + ": " + e.getKey() + " not found by hash");
                assertEquals(e.getValue(), hit.inode(), e.getKey());
            }
            for (int k = 0; k < 200; k++) assertNull(directory.lookup(("absent-" + k + "-ü").getBytes(StandardCharsets.UTF_8)));
        }
    }
}
