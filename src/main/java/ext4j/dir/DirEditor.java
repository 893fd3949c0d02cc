package ext4j.dir;

import java.io.IOException;

/** The changes a namespace operation makes to one directory, whatever holds its entries (blocks or inline data). */
public interface DirEditor {
    /** Makes an empty directory: "." and ".." (inline: the parent's number and no entries). */
    void init(long self, long parent) throws IOException;
    /** Adds an entry the caller has checked is not there yet. */
    void add(byte[] name, long ino, int type) throws IOException;
    /** Removes an entry; returns its inode, or 0 when there was none. */
    long remove(byte[] name) throws IOException;
    /** Points an existing entry (or "..") at another inode. */
    void setInode(byte[] name, long ino, int type) throws IOException;
    /** Whether only "." and ".." are left. */
    boolean isEmpty() throws IOException;
}
