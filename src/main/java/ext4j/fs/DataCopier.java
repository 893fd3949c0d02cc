package ext4j.fs;

import ext4j.block.BlockDevice;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;

/**
 * File data of a filesystem being filled (mkfs -d) copied on its own thread: the writer allocates
 * and maps a file's blocks and goes on with the next file while this thread moves the bytes
 * (copy_file_range) and closes the source. Only where no order between data and metadata is owed
 * (no journal, nobody reads the filesystem before it is closed); {@link #drain} before anything
 * reads those blocks back, flushes or closes the device. The first failure is kept and thrown by
 * the next submit or drain, so it fails the fill.
 */
final class DataCopier {
    /** One run of a file: count bytes of the source at srcPos to the device at devOffset, then tail zero bytes. */
    record Run(long srcPos, long count, long devOffset, int tail) {}

    private record Job(FileChannel src, List<Run> runs) {}

    private static final Job STOP = new Job(null, List.of());
    private final BlockDevice dev;
    private final BlockingQueue<Job> queue = new ArrayBlockingQueue<>(256);
    private final Thread thread;
    private int submitted, done; // guarded by this
    private volatile IOException failure;

    DataCopier(BlockDevice dev) {
        this.dev = dev;
        thread = Thread.ofPlatform().daemon().name("ext4j-data-copier").start(this::loop);
    }

    private void loop() {
        ByteBuffer zeros = null;
        while (true) {
            Job j;
            try { j = queue.take(); } catch (InterruptedException e) { return; }
            if (j == STOP) return;
            try {
                if (failure == null) {
                    for (Run r : j.runs) {
                        dev.copyFrom(j.src, r.srcPos, r.count, r.devOffset);
                        if (r.tail > 0) {
                            if (zeros == null || zeros.capacity() < r.tail) zeros = ByteBuffer.allocateDirect(Math.max(r.tail, 65536));
                            dev.write(r.devOffset + r.count, zeros.clear().limit(r.tail));
                        }
                    }
                }
            } catch (IOException | RuntimeException e) {
                if (failure == null) failure = e instanceof IOException io ? io : new IOException(e);
            } finally {
                try { j.src.close(); } catch (IOException _) { }
                synchronized (this) { done++; notifyAll(); }
            }
        }
    }

    /** Queues the runs of src (closed once copied, or at once after a failure). */
    void submit(FileChannel src, List<Run> runs) throws IOException {
        IOException f = failure;
        if (f != null) { src.close(); throw new IOException("copying file data failed: " + f.getMessage(), f); }
        synchronized (this) { submitted++; }
        try {
            queue.put(new Job(src, runs));
        } catch (InterruptedException e) {
            synchronized (this) { submitted--; }
            src.close();
            Thread.currentThread().interrupt();
            throw new java.io.InterruptedIOException("interrupted");
        }
    }

    /** Waits until every queued copy is on the device; throws the first failure. */
    void drain() throws IOException {
        synchronized (this) {
            boolean interrupted = false;
            while (done < submitted) {
                try { wait(); } catch (InterruptedException e) { interrupted = true; }
            }
            if (interrupted) Thread.currentThread().interrupt();
        }
        IOException f = failure;
        if (f != null) throw new IOException("copying file data failed: " + f.getMessage(), f);
    }

    /** Drains, then ends the thread. */
    void close() throws IOException {
        try {
            drain();
        } finally {
            queue.offer(STOP);
        }
    }
}
