package ext4j.fuse;

/**
 * The kernel's FUSE protocol numbers (include/uapi/linux/fuse.h, protocol 7.39): opcodes, INIT
 * flags, setattr bits and the sizes of the structures this server reads and writes. The sizes are
 * pinned by FuseProtoTest against the header's definitions.
 */
public final class FuseProto {
    private FuseProto() {}

    public static final int KERNEL_VERSION = 7, KERNEL_MINOR = 39;
    public static final long ROOT_ID = 1;

    // opcodes
    public static final int LOOKUP = 1, FORGET = 2, GETATTR = 3, SETATTR = 4, READLINK = 5, SYMLINK = 6, MKNOD = 8, MKDIR = 9,
            UNLINK = 10, RMDIR = 11, RENAME = 12, LINK = 13, OPEN = 14, READ = 15, WRITE = 16, STATFS = 17, RELEASE = 18,
            FSYNC = 20, SETXATTR = 21, GETXATTR = 22, LISTXATTR = 23, REMOVEXATTR = 24, FLUSH = 25, INIT = 26, OPENDIR = 27,
            READDIR = 28, RELEASEDIR = 29, FSYNCDIR = 30, GETLK = 31, SETLK = 32, SETLKW = 33, ACCESS = 34, CREATE = 35,
            INTERRUPT = 36, BMAP = 37, DESTROY = 38, IOCTL = 39, POLL = 40, NOTIFY_REPLY = 41, BATCH_FORGET = 42,
            FALLOCATE = 43, READDIRPLUS = 44, RENAME2 = 45, LSEEK = 46, COPY_FILE_RANGE = 47, SETUPMAPPING = 48,
            REMOVEMAPPING = 49, SYNCFS = 50, TMPFILE = 51, STATX = 52;

    // INIT flags (flags; bits 32.. go to flags2)
    public static final long ASYNC_READ = 1L, POSIX_LOCKS = 1L << 1, ATOMIC_O_TRUNC = 1L << 3, EXPORT_SUPPORT = 1L << 4,
            BIG_WRITES = 1L << 5, DONT_MASK = 1L << 6, FLOCK_LOCKS = 1L << 10, HAS_IOCTL_DIR = 1L << 11,
            AUTO_INVAL_DATA = 1L << 12, DO_READDIRPLUS = 1L << 13, READDIRPLUS_AUTO = 1L << 14, ASYNC_DIO = 1L << 15,
            WRITEBACK_CACHE = 1L << 16, PARALLEL_DIROPS = 1L << 18, HANDLE_KILLPRIV = 1L << 19, POSIX_ACL = 1L << 20,
            MAX_PAGES = 1L << 22, CACHE_SYMLINKS = 1L << 23, HANDLE_KILLPRIV_V2 = 1L << 28, SETXATTR_EXT = 1L << 29,
            INIT_EXT = 1L << 30;

    // setattr valid bits
    public static final int FATTR_MODE = 1, FATTR_UID = 1 << 1, FATTR_GID = 1 << 2, FATTR_SIZE = 1 << 3, FATTR_ATIME = 1 << 4,
            FATTR_MTIME = 1 << 5, FATTR_FH = 1 << 6, FATTR_ATIME_NOW = 1 << 7, FATTR_MTIME_NOW = 1 << 8,
            FATTR_LOCKOWNER = 1 << 9, FATTR_CTIME = 1 << 10, FATTR_KILL_SUIDGID = 1 << 11;

    // open reply flags
    public static final int FOPEN_DIRECT_IO = 1, FOPEN_KEEP_CACHE = 1 << 1, FOPEN_CACHE_DIR = 1 << 3;
    public static final int FUSE_OPEN_KILL_SUIDGID = 1;
    public static final int WRITE_CACHE = 1, WRITE_KILL_SUIDGID = 1 << 2;
    public static final int FSYNC_FDATASYNC = 1;
    public static final int GETATTR_FH = 1;
    public static final int SETXATTR_ACL_KILL_SGID = 1;
    public static final int IOCTL_UNRESTRICTED = 1 << 1, IOCTL_DIR = 1 << 4;

    // notifications
    public static final int NOTIFY_INVAL_INODE = 2, NOTIFY_INVAL_ENTRY = 3, NOTIFY_DELETE = 6;

    // structure sizes
    public static final int IN_HEADER = 40, OUT_HEADER = 16, ATTR = 88, ENTRY_OUT = 128, ATTR_OUT = 104, OPEN_OUT = 16,
            WRITE_IN = 40, READ_IN = 40, INIT_IN = 64, INIT_OUT = 64, SETATTR_IN = 88, STATFS_OUT = 80, DIRENT = 24,
            DIRENTPLUS = ENTRY_OUT + DIRENT, STATX_SIZE = 256, STATX_OUT = 32 + STATX_SIZE, IOCTL_IN = 32, IOCTL_OUT = 16,
            COPY_FILE_RANGE_IN = 56, FALLOCATE_IN = 32, LSEEK_IN = 24, CREATE_IN = 16, MKNOD_IN = 16, SETXATTR_IN = 16,
            RENAME2_IN = 16, RELEASE_IN = 24, FSYNC_IN = 16, GETXATTR_IN = 8, FORGET_ONE = 16;

    /** The largest WRITE payload (max_pages of 4 KiB); request buffers hold that plus the headers. */
    public static final int MAX_WRITE = 1 << 20, MAX_PAGES_COUNT = MAX_WRITE / 4096, BUFFER = MAX_WRITE + 4096;

    public static String opcodeName(int op) {
        return switch (op) {
            case LOOKUP -> "LOOKUP"; case FORGET -> "FORGET"; case GETATTR -> "GETATTR"; case SETATTR -> "SETATTR";
            case READLINK -> "READLINK"; case SYMLINK -> "SYMLINK"; case MKNOD -> "MKNOD"; case MKDIR -> "MKDIR";
            case UNLINK -> "UNLINK"; case RMDIR -> "RMDIR"; case RENAME -> "RENAME"; case LINK -> "LINK"; case OPEN -> "OPEN";
            case READ -> "READ"; case WRITE -> "WRITE"; case STATFS -> "STATFS"; case RELEASE -> "RELEASE"; case FSYNC -> "FSYNC";
            case SETXATTR -> "SETXATTR"; case GETXATTR -> "GETXATTR"; case LISTXATTR -> "LISTXATTR"; case REMOVEXATTR -> "REMOVEXATTR";
            case FLUSH -> "FLUSH"; case INIT -> "INIT"; case OPENDIR -> "OPENDIR"; case READDIR -> "READDIR";
            case RELEASEDIR -> "RELEASEDIR"; case FSYNCDIR -> "FSYNCDIR"; case GETLK -> "GETLK"; case SETLK -> "SETLK";
            case SETLKW -> "SETLKW"; case ACCESS -> "ACCESS"; case CREATE -> "CREATE"; case INTERRUPT -> "INTERRUPT";
            case BMAP -> "BMAP"; case DESTROY -> "DESTROY"; case IOCTL -> "IOCTL"; case POLL -> "POLL";
            case BATCH_FORGET -> "BATCH_FORGET"; case FALLOCATE -> "FALLOCATE"; case READDIRPLUS -> "READDIRPLUS";
            case RENAME2 -> "RENAME2"; case LSEEK -> "LSEEK"; case COPY_FILE_RANGE -> "COPY_FILE_RANGE"; case SYNCFS -> "SYNCFS";
            case TMPFILE -> "TMPFILE"; case STATX -> "STATX";
            default -> "opcode " + op;
        };
    }
}
