package ext4j.fs;

/**
 * What a setattr changes (FUSE's SETATTR, utimensat, chmod, chown, truncate in one request): only
 * the fields whose bit is in the mask. A time may be "now" (UTIME_NOW) instead of a value; a time
 * left out is UTIME_OMIT. ctime becomes now whenever anything changes, unless given.
 */
public record SetAttr(int mask, int mode, long uid, long gid, long size, Time atime, Time mtime, Time ctime) {
    public static final int MODE = 1, UID = 2, GID = 4, SIZE = 8, ATIME = 16, MTIME = 32, ATIME_NOW = 64, MTIME_NOW = 128, CTIME = 256,
            // drop set-id bits as a chown does, with no owner change (chown(path, -1, -1); FUSE's FATTR_KILL_SUIDGID)
            KILL_SUIDGID = 512;

    public static final SetAttr NONE = new SetAttr(0, 0, 0, 0, 0, null, null, null);

    public boolean has(int bit) { return (mask & bit) != 0; }

    public SetAttr mode(int perm) { return new SetAttr(mask | MODE, perm & 07777, uid, gid, size, atime, mtime, ctime); }
    public SetAttr uid(long v) { return new SetAttr(mask | UID, mode, v, gid, size, atime, mtime, ctime); }
    public SetAttr gid(long v) { return new SetAttr(mask | GID, mode, uid, v, size, atime, mtime, ctime); }
    public SetAttr size(long v) { return new SetAttr(mask | SIZE, mode, uid, gid, v, atime, mtime, ctime); }
    public SetAttr atime(Time t) { return new SetAttr((mask | ATIME) & ~ATIME_NOW, mode, uid, gid, size, t, mtime, ctime); }
    public SetAttr mtime(Time t) { return new SetAttr((mask | MTIME) & ~MTIME_NOW, mode, uid, gid, size, atime, t, ctime); }
    public SetAttr atimeNow() { return new SetAttr((mask | ATIME_NOW) & ~ATIME, mode, uid, gid, size, null, mtime, ctime); }
    public SetAttr mtimeNow() { return new SetAttr((mask | MTIME_NOW) & ~MTIME, mode, uid, gid, size, atime, null, ctime); }
    public SetAttr killSuidgid() { return new SetAttr(mask | KILL_SUIDGID, mode, uid, gid, size, atime, mtime, ctime); }
    public SetAttr ctime(Time t) { return new SetAttr(mask | CTIME, mode, uid, gid, size, atime, mtime, t); }
}
