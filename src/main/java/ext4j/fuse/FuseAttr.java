package ext4j.fuse;

/**
 * An inode's attributes as FUSE carries them (struct fuse_attr, plus what statx adds: the birth
 * time and the statx attribute bits). Times are seconds and nanoseconds since the epoch.
 */
public record FuseAttr(long ino, long size, long blocks, long atime, int atimeNs, long mtime, int mtimeNs, long ctime, int ctimeNs,
                       long btime, int btimeNs, int mode, int nlink, int uid, int gid, long rdev, int blksize, long statxAttributes) {}
