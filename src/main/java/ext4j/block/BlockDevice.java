package ext4j.block;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A byte-addressed device: an image file, a /dev node, or a test double.
 * Offsets are absolute bytes; the filesystem above decides the block size.
 */
public interface BlockDevice extends Closeable {
    /** Size in bytes. */
    long size() throws IOException;

    /** Fills dst completely from offset, or throws EOFException naming the offset if the device ends first. */
    void read(long offset, ByteBuffer dst) throws IOException;

    /** Writes all of src at offset. */
    void write(long offset, ByteBuffer src) throws IOException;

    /** Makes every completed write durable (a disk cache flush). */
    void flush() throws IOException;

    boolean isReadOnly();

    /** A name for messages: the image path or device node. */
    String name();

    /** Copies count bytes of src from srcPos to offset on this device (file data; a kernel-side copy where possible). */
    default void copyFrom(java.nio.channels.FileChannel src, long srcPos, long count, long offset) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((int) Math.min(count, 1 << 20));
        for (long done = 0; done < count; ) {
            b.clear().limit((int) Math.min(b.capacity(), count - done));
            while (b.hasRemaining()) if (src.read(b, srcPos + done + b.position()) < 0) throw new java.io.EOFException("source ended early");
            write(offset + done, b.flip());
            done += b.limit();
        }
    }
}
