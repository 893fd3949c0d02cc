package ext4j.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.TreeMap;

/**
 * A writable view of a device that never writes it: written blocks are kept in memory, whole, and
 * read back from there. What journal recovery applies on top of a replay (fast commits) is worked
 * out here first, so that a failure leaves the real device untouched and a read-only open can show
 * the result; {@link #written} hands the final blocks to whoever writes them home.
 */
public final class CopyOnWriteBlockDevice implements BlockDevice {
    private final BlockDevice base;
    private final int bs;
    private final Map<Long, byte[]> written = new TreeMap<>();

    public CopyOnWriteBlockDevice(BlockDevice base, int blockSize) {
        this.base = base;
        this.bs = blockSize;
    }

    @Override public long size() throws IOException { return base.size(); }

    @Override
    public synchronized void read(long offset, ByteBuffer dst) throws IOException {
        int start = dst.position(), len = dst.remaining();
        base.read(offset, dst);
        for (long blk = offset / bs; blk * bs < offset + len; blk++) {
            byte[] over = written.get(blk);
            if (over == null) continue;
            long from = Math.max(offset, blk * bs), to = Math.min(offset + len, (blk + 1) * bs);
            dst.put(start + (int) (from - offset), over, (int) (from - blk * bs), (int) (to - from));
        }
    }

    @Override
    public synchronized void write(long offset, ByteBuffer src) throws IOException {
        int len = src.remaining(), pos = src.position();
        if (offset < 0 || offset + len > size()) throw new IOException(name() + ": write of " + len + " bytes at " + offset + " past the device's end");
        for (long blk = offset / bs; blk * bs < offset + len; blk++) {
            byte[] cur = written.get(blk);
            if (cur == null) {
                cur = new byte[bs];
                base.read(blk * bs, ByteBuffer.wrap(cur));
                written.put(blk, cur);
            }
            long from = Math.max(offset, blk * bs), to = Math.min(offset + len, (blk + 1) * bs);
            src.get(pos + (int) (from - offset), cur, (int) (from - blk * bs), (int) (to - from));
        }
        src.position(pos + len);
    }

    /** The blocks written so far, by block number (copies). */
    public synchronized Map<Long, byte[]> written() {
        Map<Long, byte[]> out = new TreeMap<>();
        written.forEach((k, v) -> out.put(k, v.clone()));
        return out;
    }

    @Override public void flush() {}
    @Override public boolean isReadOnly() { return false; }
    @Override public String name() { return base.name(); }
    /** The base device stays open: it belongs to the caller. */
    @Override public void close() {}
}
