package ext4j.extent;

import ext4j.alloc.BlockAllocator;
import ext4j.journal.Handle;

import java.io.IOException;
import java.util.List;

/**
 * The editable block mapping of one inode, whatever its on-disk form (extent tree or ext2/ext3
 * indirect blocks): edited in memory, then {@link #store stored} inside a journal handle.
 */
public interface BlockMapping {
    /** The mapping at lblk, or null in a hole. */
    Extent find(long lblk);
    /** The first mapping starting after lblk, or null. */
    Extent next(long lblk);
    /** A physical goal for new data at lblk (0: none). */
    long goalFor(long lblk);
    /** The longest run one insert of this kind may map in one piece. */
    int maxRun(boolean unwritten);
    /** Maps the hole [lblk, lblk+len) to pblk.. (unwritten: preallocated, reads as zeros). */
    void insert(long lblk, long pblk, long len, boolean unwritten) throws IOException;
    /** Unmaps [from, to); returns the data ranges unmapped, which the caller frees. */
    List<BlockAllocator.Range> remove(long from, long to) throws IOException;
    /** Data is now on disk in [from, to): unwritten mappings there become written. */
    void markWritten(long from, long to);
    List<Extent> extents();
    long mappedBlocks();
    /** Writes the mapping's metadata; returns the change in metadata blocks (for i_blocks). */
    int store(Handle h, BlockAllocator alloc) throws IOException;
}
