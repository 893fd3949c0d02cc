package ext4j.extent;

import java.io.IOException;
import java.util.List;

/**
 * Maps a file's logical blocks to device blocks: the read half of what the iomap engine
 * will ask the ext4 mapping ops. One implementation per on-disk scheme (extent tree, block map).
 */
public interface FileMap {
    /** Highest logical block number + 1 that any file can address. */
    long MAX_LOGICAL = 1L << 32;

    /** The run that starts at lblk: as long as the on-disk structure makes it contiguous, at least one block. */
    Run find(long lblk) throws IOException;

    /** Every mapped or unwritten run of the file in logical order (holes left out), as stored. */
    List<Run> runs() throws IOException;
}
