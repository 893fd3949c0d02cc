package ext4j.nio;

import java.io.IOException;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.attribute.FileTime;

/** The "ext4" view: what ext4 keeps beyond POSIX (birth time, inode flags, generation). */
public interface Ext4FileAttributeView extends FileAttributeView {
    /** ext4's own attributes of a file. */
    interface Attributes {
        /** i_crtime, or null when the inode has no room for it (128-byte inodes). */
        FileTime creationTime();
        /** i_flags (EXT4_*_FL: extents 0x80000, immutable 0x10, verity 0x100000, ...). */
        int flags();
        long generation();
        long inode();
    }

    @Override default String name() { return "ext4"; }

    Attributes readAttributes() throws IOException;
}
