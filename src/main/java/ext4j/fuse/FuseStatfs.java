package ext4j.fuse;

/** statfs(2) as FUSE carries it (struct fuse_kstatfs). */
public record FuseStatfs(long blocks, long bfree, long bavail, long files, long ffree, int bsize, int namelen, int frsize) {}
