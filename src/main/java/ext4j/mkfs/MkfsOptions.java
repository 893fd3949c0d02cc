package ext4j.mkfs;

import java.util.List;
import java.util.UUID;

/**
 * What to make. Zero/null fields take mke2fs's defaults (from its mke2fs.conf): 4 KiB blocks and an
 * inode per 16 KiB, except "small" filesystems under 512 MiB (1 KiB blocks, an inode per 4 KiB)
 * and "floppy" ones under 3 MiB (1 KiB blocks, an inode per 8 KiB); 256-byte inodes; 5% reserved.
 *
 * @param type          "ext4" or "ext2"
 * @param blockSize     1024, 2048, 4096 (0: by size, as mke2fs)
 * @param inodes        total inode count wanted (0: from the inode ratio)
 * @param inodeSize     128, 256, ... up to the block size (0: 256)
 * @param label         volume label, at most 16 bytes (null: none)
 * @param uuid          filesystem UUID (null: random)
 * @param featureEdits  mke2fs -O style: names to add, "^name" to remove
 */
public record MkfsOptions(String type, int blockSize, long inodes, int inodeSize, String label, UUID uuid,
                          List<String> featureEdits) {
    public static MkfsOptions defaults() { return new MkfsOptions("ext4", 0, 0, 0, null, null, List.of()); }
}
