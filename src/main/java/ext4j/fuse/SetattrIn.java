package ext4j.fuse;

/** A SETATTR request (struct fuse_setattr_in): valid says which fields count (FuseProto.FATTR_*). */
public record SetattrIn(int valid, long fh, long size, long atime, int atimeNs, long mtime, int mtimeNs, long ctime, int ctimeNs,
                        int mode, int uid, int gid) {
    public boolean has(int bit) { return (valid & bit) != 0; }
}
