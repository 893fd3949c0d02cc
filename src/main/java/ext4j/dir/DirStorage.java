package ext4j.dir;

import java.io.IOException;
import java.nio.ByteBuffer;

/** The blocks of one directory inode, as the editor needs them. Implemented by the fs layer over extents + a journal handle. */
public interface DirStorage {
    int blockSize();
    long blockCount();                                  // i_size / blockSize
    ByteBuffer read(long lblk) throws IOException;     // read-only little-endian view
    ByteBuffer write(long lblk) throws IOException;    // writable view of the same block, journaled (dirty) by the implementation
    long append() throws IOException;                  // allocates one zero-filled block at the end, raises i_size, returns its lblk; may throw ext4j.base.FsException(ENOSPC)
    boolean indexed();
    void setIndexed(boolean on) throws IOException;    // the inode's FL_INDEX (0x1000) flag
    Integer checksumSeed();                             // per-inode crc32c seed (Inode.checksumSeed) or null without metadata_csum
}
