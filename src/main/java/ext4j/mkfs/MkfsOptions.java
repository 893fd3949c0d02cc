package ext4j.mkfs;

import java.util.List;
import java.util.UUID;

/**
 * What to make. Zero/null fields take mke2fs's defaults from its profile (see {@link Mke2fsConf}:
 * $MKE2FS_CONFIG, else /etc/mke2fs.conf, else mke2fs 1.47's built-in profile): with the built-in
 * one, 4 KiB blocks and an inode per 16 KiB, except "small" filesystems under 512 MiB (1 KiB blocks,
 * an inode per 4 KiB) and "floppy" ones under 3 MiB (1 KiB blocks, an inode per 8 KiB); 256-byte
 * inodes; 5% reserved.
 *
 * @param type          "ext4" or "ext2"
 * @param blockSize     1024, 2048, 4096 (0: from the profile, by size, as mke2fs)
 * @param inodes        total inode count wanted (0: from the profile's inode ratio)
 * @param inodeSize     128, 256, ... up to the block size (0: from the profile)
 * @param label         volume label, at most 16 bytes (null: none)
 * @param uuid          filesystem UUID (null: random)
 * @param featureEdits  mke2fs -O style: names to add, "^name" to remove (given, they replace the
 *                      profile's default_features, as mke2fs's -O does)
 * @param usageTypes    mke2fs -T: comma-separated usage types (null: the size type)
 * @param conf          the profile (null: {@link Mke2fsConf#load()})
 */
public record MkfsOptions(String type, int blockSize, long inodes, int inodeSize, String label, UUID uuid,
                          List<String> featureEdits, String usageTypes, Mke2fsConf conf) {
    public MkfsOptions(String type, int blockSize, long inodes, int inodeSize, String label, UUID uuid, List<String> featureEdits) {
        this(type, blockSize, inodes, inodeSize, label, uuid, featureEdits, null, null);
    }

    public static MkfsOptions defaults() { return new MkfsOptions("ext4", 0, 0, 0, null, null, List.of()); }

    public MkfsOptions withConf(Mke2fsConf c) { return new MkfsOptions(type, blockSize, inodes, inodeSize, label, uuid, featureEdits, usageTypes, c); }
    public MkfsOptions withUsageTypes(String t) { return new MkfsOptions(type, blockSize, inodes, inodeSize, label, uuid, featureEdits, t, conf); }
}
