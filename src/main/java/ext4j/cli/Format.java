package ext4j.cli;

import ext4j.fs.Attr;
import ext4j.fs.Time;

import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;

/** Text forms shared by the commands: mode strings like ls, timestamps, type names. */
final class Format {
    private static final DateTimeFormatter LS_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm").withZone(ZoneId.systemDefault());

    private Format() {}

    /** "-rw-r--r--" as ls prints it, including setuid/setgid/sticky letters. */
    static String modeString(int mode) {
        char t = switch (mode & Attr.S_IFMT) {
            case Attr.S_IFDIR -> 'd';
            case Attr.S_IFLNK -> 'l';
            case Attr.S_IFCHR -> 'c';
            case Attr.S_IFBLK -> 'b';
            case Attr.S_IFIFO -> 'p';
            case Attr.S_IFSOCK -> 's';
            case Attr.S_IFREG -> '-';
            default -> '?';
        };
        char[] s = {t, '-', '-', '-', '-', '-', '-', '-', '-', '-'};
        String rwx = "rwxrwxrwx";
        for (int i = 0; i < 9; i++) if ((mode & (1 << (8 - i))) != 0) s[i + 1] = rwx.charAt(i);
        if ((mode & 04000) != 0) s[3] = s[3] == 'x' ? 's' : 'S';
        if ((mode & 02000) != 0) s[6] = s[6] == 'x' ? 's' : 'S';
        if ((mode & 01000) != 0) s[9] = s[9] == 'x' ? 't' : 'T';
        return new String(s);
    }

    static String typeName(int mode) {
        return switch (mode & Attr.S_IFMT) {
            case Attr.S_IFDIR -> "directory";
            case Attr.S_IFLNK -> "symlink";
            case Attr.S_IFCHR -> "character device";
            case Attr.S_IFBLK -> "block device";
            case Attr.S_IFIFO -> "fifo";
            case Attr.S_IFSOCK -> "socket";
            case Attr.S_IFREG -> "regular";
            default -> "unknown";
        };
    }

    static String lsTime(Time t) { return LS_TIME.format(Instant.ofEpochSecond(t.seconds())); }

    /** "1700000000.123456789 (2023-11-14T22:13:20.123456789Z)". */
    static String fullTime(Time t) {
        return String.format("%d.%09d (%s)", t.seconds(), t.nanos(), t.toInstant());
    }

    /** A device number in glibc's dev_t encoding as {major, minor}. */
    static long[] majorMinor(long rdev) {
        return new long[] {((rdev >>> 8) & 0xFFF) | ((rdev >>> 32) & ~0xFFFL), (rdev & 0xFF) | ((rdev >>> 12) & ~0xFFL)};
    }

}
