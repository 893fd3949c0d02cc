package ext4j.fuse;

/** Who asked: the caller's fsuid, fsgid and thread group id from the request header. */
public record FuseContext(int uid, int gid, int pid) {}
