package ext4j.journal;

/**
 * One tag of ext4's fast-commit area (Documentation/filesystems/ext4/journal.rst, "Fast commits"),
 * decoded and length-checked by {@link FastCommitArea}. Values are little-endian on disk; names are
 * raw bytes. Only the tags that change the filesystem have records here: HEAD, PAD and TAIL are
 * consumed by the scan.
 */
public sealed interface FastCommitTag {
    int ADD_RANGE = 1, DEL_RANGE = 2, CREAT = 3, LINK = 4, UNLINK = 5, INODE = 6, PAD = 7, TAIL = 8, HEAD = 9;

    long ino();

    /** Maps logical blocks [lblk, lblk+len) of ino to pblk.. (an ext4 extent, unwritten or not). */
    record AddRange(long ino, long lblk, int len, long pblk, boolean unwritten) implements FastCommitTag {}

    /** Unmaps logical blocks [lblk, lblk+len) of ino. */
    record DelRange(long ino, long lblk, long len) implements FastCommitTag {}

    /** A directory entry: CREAT (a new inode gets its first name), LINK (one more name) or UNLINK. */
    record Dentry(int kind, long parent, long ino, byte[] name) implements FastCommitTag {}

    /** The inode as Linux had it (the first {@code raw.length} bytes of the on-disk inode). */
    record InodeImage(long ino, byte[] raw) implements FastCommitTag {}
}
