package ext4j.block;

/**
 * A handle asked to edit a metadata block that another running handle already edits (each block
 * has one editing handle at a time, from its first write access until it stops). Not an error of
 * the filesystem: the asking handle is undone and its operation run again once the owner stopped.
 */
public final class BlockBusyException extends RuntimeException {
    private final transient Thread owner;
    private final long block;

    public BlockBusyException(long block, Thread owner) {
        super("block " + block + " is being edited by " + owner.getName() + "'s handle", null, false, false);
        this.block = block;
        this.owner = owner;
    }

    /** The thread whose running handle edits the block. */
    public Thread owner() { return owner; }

    public long block() { return block; }
}
