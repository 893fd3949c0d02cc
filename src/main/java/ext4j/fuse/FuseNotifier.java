package ext4j.fuse;

/** What a filesystem may tell the kernel on its own: that cached attributes, data or names are stale. */
public interface FuseNotifier {
    /** Drops node's cached attributes, and for len != 0 its cached data from off (off < 0: attributes only). */
    void invalidateInode(long node, long off, long len);

    /** Drops the kernel's cached lookup of name in parent. */
    void invalidateEntry(long parent, byte[] name);

    FuseNotifier NONE = new FuseNotifier() {
        @Override public void invalidateInode(long node, long off, long len) { }
        @Override public void invalidateEntry(long parent, byte[] name) { }
    };
}
