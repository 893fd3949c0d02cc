package ext4j.nio;

import ext4j.fs.Ext4Vfs;
import ext4j.fs.OpenFile;
import ext4j.fs.SetAttr;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.NonReadableChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;

/**
 * A FileChannel on an open core handle: positional and relative reads and writes, size,
 * truncate, force as fsync (metadata) or fdatasync, transfers through one direct buffer, locks
 * shared by every channel of the JVM ({@link Locks}). map() with a MappedByteBuffer is not
 * offered (UnsupportedOperationException: there is no file mapping to give); map() into an Arena
 * works for READ_ONLY and PRIVATE, through a copy of the range. A directory opened for reading is
 * a channel too: reads fail with "Is a directory", force syncs the directory.
 */
final class ImageFileChannel extends FileChannel {
    private final ImageFileSystem fs;
    private final OpenFile f;
    private final Object path;
    private final boolean readable, writable, append, sync, dsync;
    private final Runnable onClose;
    private long position;

    ImageFileChannel(ImageFileSystem fs, OpenFile f, Object path, boolean readable, boolean writable, boolean append, boolean sync, boolean dsync, Runnable onClose) {
        this.fs = fs;
        this.f = f;
        this.path = path;
        this.readable = readable;
        this.writable = writable;
        this.append = append;
        this.sync = sync;
        this.dsync = dsync;
        this.onClose = onClose;
    }

    long ino() { return f.ino(); }
    ImageFileSystem fileSystem() { return fs; }

    private Ext4Vfs vfs() throws ClosedChannelException {
        if (!isOpen()) throw new ClosedChannelException();
        return fs.vfs();
    }

    private void readCheck() { if (!readable) throw new NonReadableChannelException(); }
    private void writeCheck() { if (!writable) throw new NonWritableChannelException(); }

    private IOException fail(IOException e) { return Errors.of(e, path); }

    private int readAt(ByteBuffer dst, long pos) throws IOException {
        Ext4Vfs v = vfs();
        readCheck();
        if (!dst.hasRemaining()) return 0;
        try { return v.read(f, pos, dst); } catch (IOException e) { throw fail(e); }
    }

    private int writeAt(ByteBuffer src, long pos) throws IOException {
        Ext4Vfs v = vfs();
        writeCheck();
        try {
            int n = v.write(f, pos, src, fs.caller());
            if (sync || dsync) v.fsync(f, !sync);
            return n;
        } catch (IOException e) {
            throw fail(e);
        }
    }

    @Override public synchronized int read(ByteBuffer dst) throws IOException {
        int n = readAt(dst, position);
        if (n > 0) position += n;
        return n;
    }

    @Override public synchronized long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
        long total = 0;
        for (int i = offset; i < offset + length; i++) {
            if (!dsts[i].hasRemaining()) continue;
            int n = read(dsts[i]);
            if (n < 0) return total == 0 ? -1 : total;
            total += n;
            if (dsts[i].hasRemaining()) break;
        }
        return total;
    }

    @Override public synchronized int write(ByteBuffer src) throws IOException {
        if (append) position = size();
        int n = writeAt(src, position);
        position += n;
        return n;
    }

    @Override public synchronized long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
        long total = 0;
        for (int i = offset; i < offset + length; i++) total += write(srcs[i]);
        return total;
    }

    @Override public synchronized long position() throws IOException { vfs(); return position; }

    @Override public synchronized FileChannel position(long newPosition) throws IOException {
        vfs();
        if (newPosition < 0) throw new IllegalArgumentException("negative position " + newPosition);
        position = newPosition;
        return this;
    }

    @Override public long size() throws IOException {
        try { return vfs().getattr(f.ino()).size(); } catch (ClosedChannelException c) { throw c; } catch (IOException e) { throw fail(e); }
    }

    @Override public synchronized FileChannel truncate(long size) throws IOException {
        Ext4Vfs v = vfs();
        if (size < 0) throw new IllegalArgumentException("negative size " + size);
        writeCheck();
        try {
            if (size < v.getattr(f.ino()).size()) v.setattr(f.ino(), SetAttr.NONE.size(size), fs.caller());
        } catch (IOException e) {
            throw fail(e);
        }
        if (position > size) position = size;
        return this;
    }

    @Override public void force(boolean metaData) throws IOException {
        try { vfs().fsync(f, !metaData); } catch (ClosedChannelException c) { throw c; } catch (IOException e) { throw fail(e); }
    }

    @Override public long transferTo(long pos, long count, WritableByteChannel target) throws IOException {
        readCheck();
        if (pos < 0 || count < 0) throw new IllegalArgumentException("negative position or count");
        ByteBuffer b = ByteBuffer.allocateDirect((int) Math.min(count, 1 << 20));
        long done = 0;
        while (done < count) {
            b.clear().limit((int) Math.min(b.capacity(), count - done));
            int n = readAt(b, pos + done);
            if (n <= 0) break;
            b.flip();
            while (b.hasRemaining()) target.write(b);
            done += n;
        }
        return done;
    }

    @Override public long transferFrom(ReadableByteChannel src, long pos, long count) throws IOException {
        writeCheck();
        if (pos < 0 || count < 0) throw new IllegalArgumentException("negative position or count");
        ByteBuffer b = ByteBuffer.allocateDirect((int) Math.min(Math.max(count, 1), 1 << 20));
        long done = 0;
        while (done < count) {
            b.clear().limit((int) Math.min(b.capacity(), count - done));
            int n = src.read(b);
            if (n <= 0) break;
            b.flip();
            while (b.hasRemaining()) done += writeAt(b, pos + done);
        }
        return done;
    }

    @Override public int read(ByteBuffer dst, long pos) throws IOException {
        if (pos < 0) throw new IllegalArgumentException("negative position " + pos);
        return readAt(dst, pos);
    }

    @Override public int write(ByteBuffer src, long pos) throws IOException {
        if (pos < 0) throw new IllegalArgumentException("negative position " + pos);
        return writeAt(src, pos);
    }

    @Override public MappedByteBuffer map(MapMode mode, long pos, long size) {
        throw new UnsupportedOperationException("an ext4j image has no file mapping; use map(mode, offset, size, arena) for READ_ONLY or PRIVATE copies");
    }

    /** READ_ONLY and PRIVATE: the range copied into memory of the arena (PRIVATE changes stay there, as they would). */
    @Override public MemorySegment map(MapMode mode, long offset, long size, Arena arena) throws IOException {
        if (mode != MapMode.READ_ONLY && mode != MapMode.PRIVATE) throw new UnsupportedOperationException("map " + mode + ": only READ_ONLY and PRIVATE copies");
        readCheck();
        if (mode == MapMode.PRIVATE) writeCheck();          // as the default provider: a private mapping needs a writable channel
        if (offset < 0 || size < 0) throw new IllegalArgumentException("negative offset or size");
        MemorySegment m = arena.allocate(size, 4096);
        long done = 0;
        while (done < size) {
            ByteBuffer b = m.asSlice(done, Math.min(size - done, 1 << 30)).asByteBuffer();
            int n = readAt(b, offset + done);
            if (n <= 0) break;
            done += n;
        }
        return mode == MapMode.READ_ONLY ? m.asReadOnly() : m;
    }

    @Override public FileLock lock(long pos, long size, boolean shared) throws IOException {
        vfs();
        if (shared) readCheck(); else writeCheck();
        return Locks.acquire(this, pos, size, shared, true);
    }

    @Override public FileLock tryLock(long pos, long size, boolean shared) throws IOException {
        vfs();
        if (shared) readCheck(); else writeCheck();
        return Locks.acquire(this, pos, size, shared, false);
    }

    @Override protected void implCloseChannel() throws IOException {
        fs.forget(this);
        Locks.releaseAll(this);
        try {
            fs.vfs().release(f);
        } catch (java.nio.file.ClosedFileSystemException gone) {
            return;
        } catch (IOException e) {
            throw fail(e);
        }
        if (onClose != null) onClose.run();
    }
}
