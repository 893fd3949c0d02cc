package ext4j.fs;

import ext4j.testutil.Tools;

import ext4j.testutil.ImageWalker;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * e2fsprogs' own regression images, read from ../shared/corpus/e2fsprogs beside the project
 * (-Dext4j.corpus=DIR elsewhere; nothing fetched from a public repository is committed here): 200-odd small filesystems, most
 * deliberately damaged. Every one must be read fully or refused with a clean IOException, never a
 * crash or hang; the ones e2fsck passes without a single complaint ("clean" in MANIFEST) must read
 * with no error at all, unless they use a feature ext4j refuses by design.
 */
class E2fsprogsCorpusTest {
    private static Path work;

    @BeforeAll static void setUp() throws IOException { work = Files.createTempDirectory("ext4j-corpus"); }

    /** The corpus folder; missing is a failure that says where it is expected, not a skip. */
    static Path corpus() { return Tools.corpus(); }
    private static int readFully, refused;

    @AfterAll static void tearDown() throws IOException {
        System.out.println("E2fsprogsCorpusTest: " + readFully + " images read completely, " + refused + " refused with a clean error");
        ext4j.testutil.Tools.deleteTree(work);
    }

    @TestFactory
    List<DynamicTest> everyImage() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        String manifest = Files.readString(corpus().resolve("MANIFEST"), StandardCharsets.UTF_8);
        for (String line : manifest.split("\n")) {
            if (line.isBlank()) continue;
            String[] f = line.split("\t", 3);
            String name = f[0], status = f[1], desc = f.length > 2 ? f[2] : "";
            tests.add(DynamicTest.dynamicTest(name + " (e2fsck " + status + "): " + desc, () -> check(name, status)));
        }
        return tests;
    }

    private void check(String name, String status) throws Exception {
        Path img = work.resolve(name + ".img");
        try (InputStream in = new GZIPInputStream(Files.newInputStream(corpus().resolve(name + ".img.gz")))) {
            Files.copy(in, img, StandardCopyOption.REPLACE_EXISTING);
        }
        try {
            IOException e = ImageWalker.walkWithTimeout(img, name, 30);
            synchronized (E2fsprogsCorpusTest.class) { if (e == null) readFully++; else refused++; }
            if (name.equals("f_verity")) {
                // a 2019 pre-merge verity layout (metadata right after EOF, not at the next 64 KiB):
                // Linux 6.1 refuses it too ("verity file corrupted; can't find descriptor", checked
                // with the kernel oracle), so ext4j must refuse reading it, naming why
                assertNotNull(e, name + ": reading a verity file whose descriptor cannot be found must fail");
                assertTrue(e.getMessage().contains("verity metadata missing"), e.getMessage());
            } else if (status.equals("clean") && !(e instanceof ext4j.ondisk.UnsupportedFeatureException)) {
                assertNull(e, name + " passes e2fsck untouched, but ext4j failed: " + (e == null ? "" : e.getMessage()));
            }
        } finally {
            Files.deleteIfExists(img);
        }
    }
}
