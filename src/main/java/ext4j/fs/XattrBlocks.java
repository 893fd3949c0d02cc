package ext4j.fs;

import ext4j.base.Crc32c;
import ext4j.ondisk.Volume;

import java.nio.ByteBuffer;

/** Small fixes to an xattr block in place. */
final class XattrBlocks {
    private XattrBlocks() {}

    /** Recomputes the block checksum (metadata_csum): crc32c(fs seed, le64 block number, block with the checksum zeroed). */
    static void reseal(Volume vol, ByteBuffer b, long blk) {
        if (!vol.superblock().hasMetadataCsum()) return;
        b.putInt(0x10, 0);
        int c = Crc32c.updateLong(vol.superblock().checksumSeed(), blk);
        b.putInt(0x10, Crc32c.update(c, b, 0, b.capacity()));
    }
}
