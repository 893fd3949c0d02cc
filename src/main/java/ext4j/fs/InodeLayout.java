package ext4j.fs;

import java.util.List;

/**
 * Where an inode's data lives on disk, for `ext4j stat` (an on-disk inspector, like debugfs stat):
 * the xattr block, the project id, and either inline bytes or the block mapping, an extent tree
 * (with its index and leaf blocks) or an ext2/3 block map, as runs of blocks. Nothing a front end
 * needs to use a file; it exists so inspection does not reach below the core API.
 */
public record InodeLayout(long xattrBlock, long projectId, Kind kind, int inlineBytes, List<Long> treeBlocks, List<Piece> pieces) {
    public enum Kind { NONE, INLINE, EXTENTS, BLOCKS }

    /** length blocks from logical block logical at physical block physical; unwritten: allocated, reads as zeros. */
    public record Piece(long logical, long physical, long length, boolean unwritten) {}
}
