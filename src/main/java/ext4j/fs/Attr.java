package ext4j.fs;

/**
 * An inode's attributes, as stat(2) gives them: mode with the type bits, link count, owner, device
 * number (major and minor in Linux's dev_t encoding), size (the in-memory one while data is
 * cached), 512-byte blocks, the preferred I/O size, the four times (crtime null when the inode has
 * no room for it) and the ext4 inode flags.
 */
public record Attr(long ino, long generation, int mode, int nlink, long uid, long gid, long rdev, long size,
                   long blocks, int blockSize, Time atime, Time mtime, Time ctime, Time crtime, int flags) {
    public static final int S_IFMT = 0170000, S_IFSOCK = 0140000, S_IFLNK = 0120000, S_IFREG = 0100000,
            S_IFBLK = 060000, S_IFDIR = 040000, S_IFCHR = 020000, S_IFIFO = 010000;
    public static final int S_ISUID = 04000, S_ISGID = 02000, S_ISVTX = 01000;

    public int type() { return mode & S_IFMT; }
    public boolean isDirectory() { return type() == S_IFDIR; }
    public boolean isRegular() { return type() == S_IFREG; }
    public boolean isSymlink() { return type() == S_IFLNK; }
    public int permissions() { return mode & 07777; }
}
