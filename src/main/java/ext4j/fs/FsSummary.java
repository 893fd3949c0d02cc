package ext4j.fs;

import java.util.List;

/**
 * The superblock as `ext4j info` shows it (what dumpe2fs -h prints): sizes, counts, features,
 * identity, state, times and the journal. Read-only inspection: nothing here is needed to use the
 * filesystem, so it is a summary in the core's own types rather than the on-disk superblock.
 */
public record FsSummary(String kind, String label, String uuid, boolean clean, boolean errors, boolean orphansRecovering,
                        int blockSize, int clusterSize, long blocks, long freeBlocks, long reservedBlocks,
                        long inodes, long freeInodes, long firstInode, int inodeSize,
                        long groups, long blocksPerGroup, long inodesPerGroup, int flexGroupSize, int descSize,
                        List<String> features, String defaultHash, boolean metadataCsum, long checksumSeed,
                        long created, long lastMounted, String lastMountedOn, long lastWritten, int mountCount, int maxMountCount,
                        Journal journal) {

    /**
     * The journal: internal (its inode and jbd2 superblock), external (the device number only) or
     * none (kind "none"; the other fields zero).
     */
    public record Journal(String kind, long inode, long device, long blocks, int blockSize, boolean clean, long sequence,
                          long start, String features, int errno) {}
}
