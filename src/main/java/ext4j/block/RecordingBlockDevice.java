package ext4j.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * The power-cut recorder: a device that logs every write and flush made to it, on top of a base
 * image. {@link #stateAt} rebuilds what a disk could hold if power were cut after the first n
 * logged operations: every write before the last flush is there; writes since that flush may each
 * be missing (a volatile disk cache reorders and drops them), and the last one may be torn at a
 * sector boundary. The sector (the unit a disk writes atomically) is 4096 bytes by default, as on
 * 4Kn and 512e disks; with 512 a torn write can split a superblock, which no ext4 survives on a
 * filesystem without backup superblocks.
 */
public final class RecordingBlockDevice implements BlockDevice {
    private int sector = 4096;

    /** A write (data != null) or a flush (data == null). */
    public record Op(long offset, byte[] data) {
        public boolean isFlush() { return data == null; }
    }

    private final byte[] base;
    private final MemoryBlockDevice current;
    private final List<Op> log = new ArrayList<>();

    public RecordingBlockDevice(byte[] base, String name) {
        this.base = base.clone();
        this.current = new MemoryBlockDevice(base.clone(), name, false);
    }

    public synchronized int opCount() { return log.size(); }

    /** Sets the atomic write unit used when tearing writes (512 or 4096). */
    public void sectorSize(int bytes) { this.sector = bytes; }
    public synchronized Op op(int i) { return log.get(i); }

    @Override public long size() { return current.size(); }
    @Override public void read(long offset, ByteBuffer dst) throws IOException { current.read(offset, dst); }

    @Override
    public synchronized void write(long offset, ByteBuffer src) throws IOException {
        byte[] d = new byte[src.remaining()];
        src.duplicate().get(d);
        current.write(offset, src);
        log.add(new Op(offset, d));
    }

    @Override public synchronized void flush() { log.add(new Op(-1, null)); }
    @Override public boolean isReadOnly() { return false; }
    @Override public String name() { return current.name(); }
    @Override public void close() {}

    /** How a cut treats the writes issued after the last flush. */
    public enum CutMode {
        /** All of them reached the disk, in order. */
        IN_ORDER,
        /** A random subset reached the disk. */
        DROP_UNFLUSHED,
        /** A random subset, and the last write that made it is torn at a sector boundary. */
        DROP_AND_TEAR
    }

    /** The disk contents after a cut following the first n operations. */
    public synchronized byte[] stateAt(int n, CutMode mode, Random rnd) {
        byte[] img = base.clone();
        int lastFlush = -1;
        for (int i = 0; i < n; i++) if (log.get(i).isFlush()) lastFlush = i;
        for (int i = 0; i <= lastFlush; i++) apply(img, log.get(i), -1);
        List<Integer> pending = new ArrayList<>();
        for (int i = lastFlush + 1; i < n; i++) if (!log.get(i).isFlush()) pending.add(i);
        if (mode != CutMode.IN_ORDER) pending.removeIf(i -> rnd.nextBoolean());
        for (int k = 0; k < pending.size(); k++) {
            Op op = log.get(pending.get(k));
            boolean tear = mode == CutMode.DROP_AND_TEAR && k == pending.size() - 1 && op.data().length > sector;
            apply(img, op, tear ? sector * rnd.nextInt(op.data().length / sector) : -1);
        }
        return img;
    }

    private static void apply(byte[] img, Op op, int limit) {
        if (op.isFlush()) return;
        int len = limit < 0 ? op.data().length : limit;
        System.arraycopy(op.data(), 0, img, (int) op.offset(), len);
    }
}
