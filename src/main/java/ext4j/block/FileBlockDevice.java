package ext4j.block;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** A {@link BlockDevice} over a {@link FileChannel}: an image file or a block device node. */
public final class FileBlockDevice implements BlockDevice {
    private final Path path;
    private final FileChannel channel;
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

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        long pos = offset;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
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
        while (src.hasRemaining()) pos += channel.write(src, pos);
    }

    /** FileChannel.transferFrom: copy_file_range/sendfile in the kernel, no copy through the JVM. */
    @Override
    public void copyFrom(FileChannel src, long srcPos, long count, long offset) throws IOException {
        if (readOnly) throw new IOException(path + ": device is open read-only");
        for (long done = 0; done < count; ) {
            synchronized (channel) { // transferTo writes at the target's position
                channel.position(offset + done);
                long n = src.transferTo(srcPos + done, count - done, channel);
                if (n > 0) { done += n; continue; }
            }
            BlockDevice.super.copyFrom(src, srcPos + done, count - done, offset + done);
            return;
        }
    }

    @Override public void flush() throws IOException { if (!readOnly) channel.force(false); }
    @Override public boolean isReadOnly() { return readOnly; }
    @Override public String name() { return path.toString(); }

    /** The underlying channel, for bulk copies (transferTo) by readers that already mapped the blocks. */
    public FileChannel channel() { return channel; }

    @Override public void close() throws IOException { channel.close(); }
}
