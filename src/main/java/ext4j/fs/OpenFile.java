package ext4j.fs;

import java.util.concurrent.atomic.AtomicBoolean;

/** An open file (a FUSE file handle, an NIO channel): the inode, the open(2) flags, released once. */
public final class OpenFile {
    private final long id, ino;
    private final int flags;
    private final boolean directory;
    private final AtomicBoolean closed = new AtomicBoolean();

    OpenFile(long id, long ino, int flags, boolean directory) {
        this.id = id;
        this.ino = ino;
        this.flags = flags;
        this.directory = directory;
    }

    public long id() { return id; }
    public long ino() { return ino; }
    public int flags() { return flags; }
    public boolean isDirectory() { return directory; }
    public boolean isClosed() { return closed.get(); }

    /** Marks it released; false if it already was. */
    boolean close() { return closed.compareAndSet(false, true); }

    @Override public String toString() { return "handle " + id + " (inode " + ino + ")"; }
}
