package ext4j.fuse;

import java.nio.ByteBuffer;
import java.util.List;

/**
 * A filesystem as the FUSE protocol sees it: operations by node id (the kernel's inode), names as
 * bytes, open handles as numbers. Each method answers one request or throws {@link FuseException}
 * with the errno to return; the default answer is ENOSYS, which makes the kernel stop asking (or do
 * the work itself, as for locks). Methods are called from several server threads at once.
 */
public interface FuseFilesystem {
    /** A directory listing's consumer: false when the reply is full (the entry was not taken). */
    interface DirFiller {
        boolean add(byte[] name, long ino, int type, long nextOffset);
        /** readdirplus: entry null for "." and "..", whose attributes the kernel ignores. */
        boolean addPlus(byte[] name, long ino, FuseEntry entry, int type, long nextOffset);
    }

    record Created(FuseEntry entry, long fh) {}
    record IoctlResult(int result, byte[] out) {}

    private static FuseException nosys() { return new FuseException(FuseException.ENOSYS, "not implemented"); }

    /** The connection is up; kernelFlags are the INIT flags both sides agreed on; notifier reaches the kernel's caches. */
    default void init(long kernelFlags, FuseNotifier notifier) {}
    /** The kernel unmounted (DESTROY): nothing more will be asked. */
    default void destroy() {}

    default FuseEntry lookup(FuseContext c, long parent, byte[] name) throws FuseException { throw nosys(); }
    /** The kernel dropped nlookup references to node (no reply). */
    default void forget(long node, long nlookup) {}
    default FuseAttr getattr(FuseContext c, long node, long fh) throws FuseException { throw nosys(); }
    default FuseAttr setattr(FuseContext c, long node, SetattrIn in) throws FuseException { throw nosys(); }
    default byte[] readlink(FuseContext c, long node) throws FuseException { throw nosys(); }
    default FuseEntry mknod(FuseContext c, long parent, byte[] name, int mode, int rdev, int umask) throws FuseException { throw nosys(); }
    default FuseEntry mkdir(FuseContext c, long parent, byte[] name, int mode, int umask) throws FuseException { throw nosys(); }
    default FuseEntry symlink(FuseContext c, long parent, byte[] name, byte[] target) throws FuseException { throw nosys(); }
    default void unlink(FuseContext c, long parent, byte[] name) throws FuseException { throw nosys(); }
    default void rmdir(FuseContext c, long parent, byte[] name) throws FuseException { throw nosys(); }
    default void rename(FuseContext c, long parent, byte[] name, long newParent, byte[] newName, int flags) throws FuseException { throw nosys(); }
    default FuseEntry link(FuseContext c, long node, long newParent, byte[] newName) throws FuseException { throw nosys(); }
    /** open(2) flags as the kernel passes them; returns the handle number. */
    default long open(FuseContext c, long node, int flags) throws FuseException { throw nosys(); }
    /** Up to dst.remaining() bytes at offset; the count (0 at end of file). */
    default int read(FuseContext c, long node, long fh, long offset, ByteBuffer dst) throws FuseException { throw nosys(); }
    default int write(FuseContext c, long node, long fh, long offset, ByteBuffer src, int writeFlags) throws FuseException { throw nosys(); }
    default FuseStatfs statfs(FuseContext c, long node) throws FuseException { throw nosys(); }
    /** close(2) of one descriptor. The default ENOSYS makes the kernel stop sending it (it still writes dirty pages back first). */
    default void flush(FuseContext c, long node, long fh) throws FuseException { throw nosys(); }
    default void release(FuseContext c, long node, long fh, int flags) throws FuseException { }
    default void fsync(FuseContext c, long node, long fh, boolean datasync) throws FuseException { throw nosys(); }
    default void setxattr(FuseContext c, long node, String name, byte[] value, int flags, int setxattrFlags) throws FuseException { throw nosys(); }
    default byte[] getxattr(FuseContext c, long node, String name) throws FuseException { throw nosys(); }
    default List<String> listxattr(FuseContext c, long node) throws FuseException { throw nosys(); }
    default void removexattr(FuseContext c, long node, String name) throws FuseException { throw nosys(); }
    default long opendir(FuseContext c, long node, int flags) throws FuseException { return 0; }
    default void readdir(FuseContext c, long node, long fh, long offset, boolean plus, DirFiller out) throws FuseException { throw nosys(); }
    default void releasedir(FuseContext c, long node, long fh) throws FuseException { }
    default void fsyncdir(FuseContext c, long node, long fh, boolean datasync) throws FuseException { throw nosys(); }
    default void access(FuseContext c, long node, int mask) throws FuseException { throw nosys(); }
    default Created create(FuseContext c, long parent, byte[] name, int mode, int umask, int flags) throws FuseException { throw nosys(); }
    default void fallocate(FuseContext c, long node, long fh, int mode, long offset, long length) throws FuseException { throw nosys(); }
    default long lseek(FuseContext c, long node, long fh, long offset, int whence) throws FuseException { throw nosys(); }
    default long copyFileRange(FuseContext c, long nodeIn, long fhIn, long offIn, long nodeOut, long fhOut, long offOut, long len, long flags)
            throws FuseException { throw nosys(); }
    /** A restricted ioctl: in holds the argument the kernel copied in, outSize what it copies back. */
    default IoctlResult ioctl(FuseContext c, long node, long fh, int flags, int cmd, byte[] in, int outSize) throws FuseException { throw nosys(); }
    default FuseAttr statx(FuseContext c, long node, long fh, int flags, int mask) throws FuseException { return getattr(c, node, fh); }
    default void syncfs(FuseContext c) throws FuseException { throw nosys(); }
}
