package ext4j.fs;

/**
 * A new inode exactly as a bulk copy (`mkfs -d`, `put -r`) wants it, the way mke2fs -d builds a
 * tree: the type and all twelve permission bits, the owner, a device number (glibc's dev_t
 * encoding), a symlink's target, and atime/mtime (null: now). No umask, no inherited ACL, no
 * setgid-directory group: the source says it all.
 */
public record NodeSpec(int mode, long uid, long gid, long rdev, byte[] symlinkTarget, Time atime, Time mtime) {
    public static NodeSpec directory(int perm, long uid, long gid) { return new NodeSpec(Attr.S_IFDIR | (perm & 07777), uid, gid, 0, null, null, null); }

    public static NodeSpec file(int perm, long uid, long gid, Time atime, Time mtime) {
        return new NodeSpec(Attr.S_IFREG | (perm & 07777), uid, gid, 0, null, atime, mtime);
    }

    public static NodeSpec symlink(byte[] target, long uid, long gid) { return new NodeSpec(Attr.S_IFLNK | 0777, uid, gid, 0, target, null, null); }

    /** A device, fifo or socket: mode carries the type bits. */
    public static NodeSpec special(int mode, long rdev, long uid, long gid) { return new NodeSpec(mode, uid, gid, rdev, null, null, null); }
}
