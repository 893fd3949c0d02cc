package ext4j.fs;

import java.nio.charset.StandardCharsets;

/**
 * One entry of a directory listing: the name's bytes, the inode, the type as readdir's d_type
 * (DT_REG 8, DT_DIR 4, ...; 0 when the filesystem stores no types) and the cookie that resumes the
 * listing after this entry.
 */
public record Dirent(byte[] name, long ino, int type, long nextCookie) {
    public static final int DT_UNKNOWN = 0, DT_FIFO = 1, DT_CHR = 2, DT_DIR = 4, DT_BLK = 6, DT_REG = 8, DT_LNK = 10, DT_SOCK = 12;

    /** The name decoded as UTF-8 (for messages and tests; names are bytes). */
    public String nameString() { return new String(name, StandardCharsets.UTF_8); }

    @Override public String toString() { return nameString() + "->" + ino; }

    @Override public boolean equals(Object o) {
        return o instanceof Dirent d && d.ino == ino && d.type == type && d.nextCookie == nextCookie && java.util.Arrays.equals(d.name, name);
    }

    @Override public int hashCode() { return java.util.Arrays.hashCode(name) * 31 + Long.hashCode(ino); }
}
