package ext4j.testutil;

import ext4j.fs.Ext4FileSystem;
import ext4j.ondisk.Inode;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Compares ext4j's view of an inode with `debugfs -R 'stat PATH'`, field by field. */
public final class DebugfsStat {
    private DebugfsStat() {}

    public static void assertMatches(Path img, Ext4FileSystem fs, String path) throws Exception {
        String d = Tools.debugfs(img, "stat \"" + path + "\"");
        Inode i = fs.resolve(path, false);
        String at = path + " in\n" + d;
        assertEquals(Long.parseLong(field(d, "Inode: (\\d+)", at)), i.number(), "inode " + at);
        assertEquals(Integer.parseInt(field(d, "Mode:\\s+(\\d+)", at), 8), i.permissions(), "mode " + at);
        assertEquals(Long.parseLong(field(d, "Size: (\\d+)", at)), i.size(), "size " + at);
        assertEquals(Integer.parseInt(field(d, "Links: (\\d+)", at)), i.linksCount(), "links " + at);
        assertEquals(Long.parseLong(field(d, "User:\\s+(\\d+)", at)), i.uid(), "uid " + at);
        assertEquals(Long.parseLong(field(d, "Group:\\s+(\\d+)", at)), i.gid(), "gid " + at);
        assertEquals(Long.parseLong(field(d, "Blockcount: (\\d+)", at)), i.blocks512(fs.superblock().blockSize()), "blockcount " + at);
        assertEquals(Long.parseLong(field(d, "Flags: 0x([0-9a-f]+)", at), 16), Integer.toUnsignedLong(i.flags()), "flags " + at);
        assertEquals(Long.parseLong(field(d, "Generation: (\\d+)", at)), Integer.toUnsignedLong(i.generation()), "generation " + at);
        assertEquals(Long.parseLong(field(d, "File ACL: (\\d+)", at)), i.fileAcl(), "file acl " + at);
        for (String t : new String[]{"mtime", "atime", "ctime"}) {
            Inode.Timestamp ts = switch (t) { case "mtime" -> i.mtime(); case "atime" -> i.atime(); default -> i.ctime(); };
            Matcher m = Pattern.compile("(?m)^\\s*" + t + ": 0x([0-9a-f]+)(?::([0-9a-f]+))?").matcher(d);
            assertTrue(m.find(), t + " " + at);
            assertEquals(Long.parseLong(m.group(1), 16), ts.seconds() & 0xFFFFFFFFL, t + " seconds " + at);
            if (m.group(2) != null) assertEquals(Long.parseLong(m.group(2), 16) >>> 2, ts.nanos(), t + " nanoseconds " + at);
        }
    }

    private static String field(String text, String regex, String at) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertTrue(m.find(), "no " + regex + " for " + at);
        return m.group(1);
    }
}
