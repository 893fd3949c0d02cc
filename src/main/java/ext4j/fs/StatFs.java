package ext4j.fs;

/**
 * statfs(2) as ext4 answers it: blocks free exclude delayed-allocation reservations; blocks
 * available to unprivileged users also exclude the reserved blocks and the metadata pool; fsid is
 * the two halves of the UUID XORed, as Linux derives it.
 */
public record StatFs(int blockSize, long blocks, long freeBlocks, long availableBlocks, long inodes, long freeInodes,
                     int nameMax, long fsid) {}
