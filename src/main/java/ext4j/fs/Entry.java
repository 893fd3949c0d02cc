package ext4j.fs;

/** What lookup and the create calls return: the inode, its generation (for stale-handle checks) and its attributes. */
public record Entry(long ino, long generation, Attr attr) {}
