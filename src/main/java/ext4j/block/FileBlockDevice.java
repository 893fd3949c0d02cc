package ext4j.block;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A {@link BlockDevice} over a {@link FileChannel}: an image file or a block device node.
 *
 * <p>FileChannel I/O is interruptible: interrupting a thread while it reads or writes closes the
 * channel for every thread. An interrupt must not take the filesystem down, so when an operation
 * finds the channel closed by one, the channel is reopened and the operation (positional, hence
 * idempotent) runs again; the caller's interrupt status is kept.
 */
public final class FileBlockDevice implements BlockDevice {
    private final Path path;
    private volatile FileChannel channel;
    private volatile boolean closed;
    private final Object positionLock = new Object(); // transferTo writes at the channel's position
    private final boolean readOnly;
    private final long size;

    private FileBlockDevice(Path path, FileChannel channel, boolean readOnly, long size) {
        this.path = path;
        this.channel = channel;
        this.readOnly = readOnly;
        this.size = size;
    }

    public static FileBlockDevice open(Path path, boolean readOnly) throws IOException {
        if (!Files.exists(path)) {
            throw new java.nio.file.NoSuchFileException(path.toString());
        }
        FileChannel ch = readOnly
                ? FileChannel.open(path, StandardOpenOption.READ)
                : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        long size = ch.size();
        if (size == 0 && !Files.isRegularFile(path)) {
            // FileChannel.size() is 0 for block device nodes: find the end by seeking.
            size = deviceSize(ch);
        }
        return new FileBlockDevice(path, ch, readOnly, size);
    }

    private static long deviceSize(FileChannel ch) throws IOException {
        // Binary search for the last readable byte; block devices report no size through NIO.
        long lo = 0, hi = 1L << 50;
        ByteBuffer one = ByteBuffer.allocate(1);
        while (lo < hi) {
            long mid = (lo + hi + 1) >>> 1;
            one.clear();
            if (ch.read(one, mid - 1) == 1) lo = mid; else hi = mid - 1;
        }
        return lo;
    }

    @Override public long size() { return size; }

    private interface ChannelOp<T> { T run(FileChannel ch) throws IOException; }

    /** Runs op; if the channel was closed by an interrupt (ours or another thread's), reopens it and runs op again. */
    private <T> T io(ChannelOp<T> op) throws IOException {
        boolean interrupted = false;
        try {
            for (int attempt = 0; ; attempt++) {
                FileChannel ch = channel;
                try {
                    return op.run(ch);
                } catch (ClosedChannelException e) {          // ClosedByInterrupt and AsynchronousClose too
                    if (closed || attempt >= 3) throw e;
                    interrupted |= Thread.interrupted();      // retried without the flag, restored after
                    reopen(ch);
                }
            }
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    private synchronized void reopen(FileChannel failed) throws IOException {
        if (channel != failed || closed) return;
        channel = readOnly ? FileChannel.open(path, StandardOpenOption.READ) : FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        long pos = offset;
        while (dst.hasRemaining()) {
            long at = pos;
            int n = io(ch -> ch.read(dst, at));
            if (n < 0) {
                throw new EOFException(path + ": read past end of device at byte " + pos + " (device is " + size + " bytes)");
            }
            pos += n;
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        if (readOnly) throw new IOException(path + ": device is open read-only");
        long pos = offset;
        while (src.hasRemaining()) {
            long at = pos;
            pos += io(ch -> ch.write(src, at));
        }
    }

    /** FileChannel.transferFrom: copy_file_range/sendfile in the kernel, no copy through the JVM. */
    @Override
    public void copyFrom(FileChannel src, long srcPos, long count, long offset) throws IOException {
        if (readOnly) throw new IOException(path + ": device is open read-only");
        for (long done = 0; done < count; ) {
            long at = done;
            long n = io(ch -> { synchronized (positionLock) { ch.position(offset + at); return src.transferTo(srcPos + at, count - at, ch); } });
            if (n > 0) { done += n; continue; }
            BlockDevice.super.copyFrom(src, srcPos + done, count - done, offset + done);
            return;
        }
    }

    @Override public void flush() throws IOException { if (!readOnly) io(ch -> { ch.force(false); return null; }); }
    @Override public boolean isReadOnly() { return readOnly; }
    @Override public String name() { return path.toString(); }

    /** The underlying channel, for bulk copies (transferTo) by readers that already mapped the blocks. */
    public FileChannel channel() { return channel; }

    @Override public void close() throws IOException { closed = true; channel.close(); }
}
