package ext4j.dir;

import ext4j.testutil.Seeds;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * DxHash against debugfs's dx_hash command, for random names (lengths 1..255, bytes >= 0x80 where
 * signed and unsigned differ, edge lengths around the 16- and 32-byte blocks of TEA and half-MD4),
 * random seeds and the all-zero (default) seed, in every hash version e2fsprogs computes.
 */
class DxHashTest {
    private static Path img;

    @BeforeAll
    static void image() throws Exception {
        Tools.requireTool("debugfs");
        img = Files.createTempFile("ext4j-dxhash", ".img");
        Tools.mke2fs(img, null, "8M", "-t", "ext4");
        img.toFile().deleteOnExit();
    }

    @Test
    void knownVectors() {
        byte[] hello = "hello".getBytes(StandardCharsets.US_ASCII);
        int[] zero = new int[4];
        // values printed by: debugfs -R 'dx_hash -h ALG hello'
        assertEquals(0x32252546, DxHash.hash(hello, 0, 5, DxHash.LEGACY, zero));
        assertEquals(0x1746da32, DxHash.hash(hello, 0, 5, DxHash.HALF_MD4, zero));
        assertEquals(0x420013b5, DxHash.minorHash(hello, 0, 5, DxHash.HALF_MD4, zero));
        assertEquals(0x6f5bb1a8, DxHash.hash(hello, 0, 5, DxHash.TEA, zero));
        assertEquals(0x231917c2, DxHash.minorHash(hello, 0, 5, DxHash.TEA, zero));
        assertThrows(UnsupportedOperationException.class, () -> DxHash.hash(hello, 0, 5, DxHash.SIPHASH, zero));
    }

    @Test
    void matchesDebugfsOnRandomNamesAndSeeds() throws Exception {
        long seed = Seeds.seed("DxHashTest");
        Random r = new Random(seed);
        // by number: debugfs 1.47 knows only the signed names and silently falls back to legacy for "tea_unsigned" & co.
        String[] algs = {"0", "1", "2", "3", "4", "5"};
        int[] lengths = {1, 3, 4, 15, 16, 17, 31, 32, 33, 64, 255};
        List<String> names = new ArrayList<>();
        for (int len : lengths) names.add(randomName(r, len));
        for (int i = 0; i < 150; i++) names.add(randomName(r, 1 + r.nextInt(255)));
        int compared = 0;
        for (int a = 0; a < algs.length; a++) {
            for (int s = 0; s < 3; s++) {
                int[] hashSeed = s == 0 ? new int[4] : new int[]{r.nextInt(), r.nextInt(), r.nextInt(), r.nextInt()};
                String seedArg = s == 0 ? "" : " -s " + uuid(hashSeed);
                StringBuilder cmds = new StringBuilder();
                for (String n : names) cmds.append("dx_hash -h ").append(algs[a]).append(seedArg).append(" ").append(n).append('\n');
                Path cmdFile = Files.createTempFile("dxcmds", ".txt");
                Files.writeString(cmdFile, cmds);
                String out = Tools.ok("debugfs", "-f", cmdFile.toString(), img.toString());
                Files.delete(cmdFile);
                Matcher m = Pattern.compile("Hash of (.*) is 0x([0-9a-f]+) \\(minor 0x([0-9a-f]+)\\)").matcher(out);
                int k = 0;
                while (m.find()) {
                    byte[] name = names.get(k).getBytes(StandardCharsets.UTF_8);
                    String what = "seed " + seed + " " + algs[a] + seedArg + " name '" + names.get(k) + "'";
                    assertEquals(Long.parseLong(m.group(2), 16), Integer.toUnsignedLong(DxHash.hash(name, 0, name.length, a, hashSeed)), what);
                    if (a % 3 != 0) assertEquals(Long.parseLong(m.group(3), 16), Integer.toUnsignedLong(DxHash.minorHash(name, 0, name.length, a, hashSeed)), what + " minor");
                    k++;
                    compared++;
                }
                assertEquals(names.size(), k, "debugfs answered every name:\n" + out);
            }
        }
        System.out.println("DxHashTest: " + compared + " hashes compared with debugfs");
    }

    /** Names debugfs's command parser passes through unchanged: no spaces, quotes, slashes or leading '-'; many UTF-8 bytes >= 0x80. */
    private static String randomName(Random r, int bytes) {
        String[] pieces = {"a", "Z", "9", "_", "-", ".", "é", "Ω", "漢", "ü", "~", "x"};
        StringBuilder s = new StringBuilder("n"); // never a leading '-': debugfs would take it for an option
        while (s.toString().getBytes(StandardCharsets.UTF_8).length < bytes) {
            String p = pieces[r.nextInt(pieces.length)];
            if (s.toString().getBytes(StandardCharsets.UTF_8).length + p.getBytes(StandardCharsets.UTF_8).length > bytes) p = "a";
            s.append(p);
        }
        return s.toString();
    }

    /** s_hash_seed as the UUID text debugfs -s takes (the seed words are the UUID's bytes, little-endian). */
    private static String uuid(int[] w) {
        byte[] b = new byte[16];
        for (int i = 0; i < 4; i++) for (int k = 0; k < 4; k++) b[i * 4 + k] = (byte) (w[i] >>> (8 * k));
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < 16; i++) {
            if (i == 4 || i == 6 || i == 8 || i == 10) s.append('-');
            s.append(String.format("%02x", b[i]));
        }
        return s.toString();
    }
}
