package ext4j.dir;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/** One directory entry: inode number, raw name bytes, and the filetype byte (0 when the fs has no filetype feature). */
public record DirEntry(long inode, byte[] nameBytes, int fileType) {
    public static final int FT_UNKNOWN = 0, FT_REG = 1, FT_DIR = 2, FT_CHR = 3, FT_BLK = 4, FT_FIFO = 5, FT_SOCK = 6, FT_SYMLINK = 7;

    public String name() { return new String(nameBytes, StandardCharsets.UTF_8); }

    public boolean isDotOrDotDot() {
        return (nameBytes.length == 1 && nameBytes[0] == '.') || (nameBytes.length == 2 && nameBytes[0] == '.' && nameBytes[1] == '.');
    }

    public boolean nameEquals(byte[] other) { return Arrays.equals(nameBytes, other); }

    @Override public boolean equals(Object o) {
        return o instanceof DirEntry d && d.inode == inode && d.fileType == fileType && Arrays.equals(d.nameBytes, nameBytes);
    }

    @Override public int hashCode() { return Long.hashCode(inode) * 31 + Arrays.hashCode(nameBytes); }

    @Override public String toString() { return name() + "->" + inode; }
}
