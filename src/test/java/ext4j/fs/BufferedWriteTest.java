package ext4j.fs;

import ext4j.ondisk.Inode;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Buffered writes through the engine on real images: the seeds' ext4-side rules, each a named case. */
class BufferedWriteTest {
    @TempDir Path tmp;

    private Path image(String... extra) throws Exception {
        Path img = tmp.resolve("b" + System.nanoTime() + ".img");
        String[] args = new String[4 + extra.length];
        args[0] = "-t"; args[1] = "ext4"; args[2] = "-b"; args[3] = "1024";
        System.arraycopy(extra, 0, args, 4, extra.length);
        Tools.mke2fs(img, null, "32M", args);
        return img;
    }

    static byte[] readAll(Ext4FileSystem fs, String path) throws Exception {
        Inode i = fs.resolve(path, true);
        ByteBuffer b = ByteBuffer.allocate((int) i.size());
        while (b.hasRemaining() && fs.read(i, b.position(), b) > 0) { }
        return b.array();
    }

    @Test
    void punchPastEofKeepsCachedSize() throws Exception {
        Path img = image();
        byte[] d = new byte[30566];
        new Random(1).nextBytes(d);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/f", 0644, 0, 0);
            fs.write("/f", 0, ByteBuffer.wrap(d));
            fs.punchHole("/f", 237591, 48072);
            assertEquals(d.length, fs.resolve("/f", true).size());
            assertArrayEquals(d, readAll(fs, "/f"));
        }
        Tools.assertFsckClean(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) { assertArrayEquals(d, readAll(fs, "/f")); }
    }
}
