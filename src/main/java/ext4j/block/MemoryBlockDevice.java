package ext4j.block;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;

/** A device in a byte array: test images, and states materialized by the power-cut replayer. */
public final class MemoryBlockDevice implements BlockDevice {
    private final byte[] data;
    private final String name;
    private final boolean readOnly;

    public MemoryBlockDevice(byte[] data, String name, boolean readOnly) {
        this.data = data;
        this.name = name;
        this.readOnly = readOnly;
    }

    public byte[] bytes() { return data; }

    @Override public long size() { return data.length; }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        if (offset < 0 || offset + dst.remaining() > data.length)
            throw new EOFException(name + ": read past end of device at byte " + offset + " (device is " + data.length + " bytes)");
        dst.put(data, (int) offset, dst.remaining());
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        if (readOnly) throw new IOException(name + ": device is read-only");
        if (offset < 0 || offset + src.remaining() > data.length) throw new IOException(name + ": write past end of device at byte " + offset);
        src.get(data, (int) offset, src.remaining());
    }

    @Override public void flush() {}
    @Override public boolean isReadOnly() { return readOnly; }
    @Override public String name() { return name; }
    @Override public void close() {}
}
