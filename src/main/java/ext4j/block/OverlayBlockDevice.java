package ext4j.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;

/**
 * A read-only view of a device with some blocks replaced from memory: how a read-only open shows
 * a journal's replayed state without writing anything.
 */
public final class OverlayBlockDevice implements BlockDevice {
    private final BlockDevice base;
    private final Map<Long, byte[]> blocks;
    private final int bs;

    public OverlayBlockDevice(BlockDevice base, Map<Long, byte[]> blocks, int blockSize) {
        this.base = base;
        this.blocks = blocks;
        this.bs = blockSize;
    }

    @Override public long size() throws IOException { return base.size(); }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        int start = dst.position();
        base.read(offset, dst);
        int len = dst.position() - start;
        for (long blk = offset / bs; blk * bs < offset + len; blk++) {
            byte[] over = blocks.get(blk);
            if (over == null) continue;
            long from = Math.max(offset, blk * bs), to = Math.min(offset + len, (blk + 1) * bs);
            dst.put(start + (int) (from - offset), over, (int) (from - blk * bs), (int) (to - from));
        }
    }

    @Override public void write(long offset, ByteBuffer src) throws IOException { throw new IOException(name() + ": read-only view"); }
    @Override public void flush() {}
    @Override public boolean isReadOnly() { return true; }
    @Override public String name() { return base.name(); }
    @Override public void close() throws IOException { base.close(); }
}
