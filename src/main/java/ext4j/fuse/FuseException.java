package ext4j.fuse;

/** A request's failure: the errno the kernel gets back (positive, Linux's numbering). */
public final class FuseException extends Exception {
    public final int errno;

    public FuseException(int errno, String message) {
        super(message, null, false, false);
        this.errno = errno;
    }

    public static final int EPERM = 1, ENOENT = 2, EIO = 5, EBADF = 9, EACCES = 13, EEXIST = 17, EINVAL = 22, ENOSPC = 28,
            EROFS = 30, ERANGE = 34, ENOSYS = 38, ENODATA = 61, EOPNOTSUPP = 95, ENOTTY = 25, EPROTO = 71, EFAULT = 14;
}
