package ext4j.fs;

import ext4j.base.CorruptException;
import ext4j.testutil.Tools;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A file whose extent or block pointer names the inode table or the journal (a hostile or damaged
 * image): ext4j refuses to read or write through it, naming the inode and the zone, and the zone's
 * bytes stay as they were; Linux's block_validity refuses the same read.
 */
class SystemZoneTest {
    @TempDir Path tmp;

    @ParameterizedTest(name = "{0} onto {1}")
    @CsvSource({"ext4, table", "ext2, table", "ext4, journal", "ext3, journal"})
    void aFileMappedOntoMetadataIsDamageNotData(String type, String target) throws Exception {
        Path src = Files.createDirectories(tmp.resolve("src")), img = tmp.resolve("z.img");
        byte[] data = new byte[8192];
        new java.util.Random(1).nextBytes(data);
        Files.write(src.resolve("f"), data);
        Tools.mke2fs(img, src, "32M", "-t", type, "-b", "4096");
        boolean journal = target.equals("journal");
        long table = journal ? journalBlock(img) : inodeTableOfGroup0(img);
        String zone = journal ? "the journal (inode 8)" : "inode table of group 0";
        // ext4: i_block holds the extent header (words 0-2) and the first extent (3: logical, 4: length and high bits, 5: low bits of the start);
        // ext2: i_block[0] is the first data block
        Tools.ok("debugfs", "-w", "-R", "sif /f block[" + (type.equals("ext4") ? 5 : 0) + "] " + (table + 1), img.toString());
        byte[] tableBefore = blocks(img, table, 4);

        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            var f = fs.resolve("/f", true);
            IOException e = assertThrows(IOException.class, () -> fs.read(f, 0, ByteBuffer.allocate(8192)));
            String m = messages(e);
            assertTrue(m.contains("inode " + f.number()) && m.contains(zone), m);
        }
        try (Ext4Vfs v = Ext4Vfs.open(img, Options.defaults())) {
            long ino = v.lookup(Ext4Vfs.ROOT, "f".getBytes()).ino();
            IOException e = assertThrows(IOException.class, () -> {
                OpenFile h = v.open(ino, Ext4Vfs.O_RDWR, Caller.ROOT);
                try {
                    v.write(h, 0, ByteBuffer.wrap(new byte[8192]), Caller.ROOT);
                    v.fsync(h, false);
                } finally {
                    v.release(h);
                }
            });
            assertTrue(messages(e).contains(zone), messages(e));
        } catch (IOException closing) {
            // the damage may also surface at close (writeback); what matters is below
        }
        assertArrayEquals(tableBefore, blocks(img, table, 4), zone + " is as it was");

        Tools.requireMount();                                   // the kernel's block_validity agrees: a visible skip where it cannot mount
        Path mnt = Files.createDirectories(tmp.resolve("mnt"));
        Tools.mount(img, mnt, "ro");
        try {
            IOException k = assertThrows(IOException.class, () -> Files.readAllBytes(mnt.resolve("f")), "Linux reads through the inode table");
            System.out.println("  " + type + " onto " + target + ": Linux says " + k.getMessage());
        } finally {
            Tools.umount(mnt);
        }
    }

    private static String messages(Throwable t) {
        StringBuilder b = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) b.append(c.getClass().getSimpleName()).append(": ").append(c.getMessage()).append(" / ");
        return b.toString();
    }

    private static long inodeTableOfGroup0(Path img) throws Exception {
        Matcher m = Pattern.compile("Inode table at (\\d+)").matcher(Tools.ok("dumpe2fs", img.toString()));
        assertTrue(m.find(), "dumpe2fs names group 0's inode table");
        return Long.parseLong(m.group(1));
    }

    private static long journalBlock(Path img) throws Exception {
        String out = Tools.debugfs(img, "bmap <8> 10").trim();
        return Long.parseLong(out.substring(out.lastIndexOf('\n') + 1).trim());   // after debugfs's banner
    }

    private static byte[] blocks(Path img, long first, int count) throws IOException {
        try (FileChannel ch = FileChannel.open(img)) {
            ByteBuffer b = ByteBuffer.allocate(count * 4096);
            ch.read(b, first * 4096);
            return Arrays.copyOf(b.array(), b.position());
        }
    }
}
