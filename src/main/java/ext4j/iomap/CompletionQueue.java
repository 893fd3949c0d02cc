package ext4j.iomap;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Finished writeback I/O waiting for the filesystem's completion work (iomap ioends). One worker
 * thread drains the queue, sorts what it took by file and offset, merges adjacent ranges of the same
 * type into one, and hands each merged range to {@link MappingOps#ioCompleted}: the writer's thread
 * never runs filesystem completion work, and a long sequential writeback costs a few conversions,
 * not one per I/O.
 */
final class CompletionQueue implements AutoCloseable {
    record IoEnd(CachedFile file, long pos, long len, MappingType type) {
        long end() { return pos + len; }
    }

    private final BufferedIo engine;
    private final MappingOps ops;
    private final List<IoEnd> queue = new ArrayList<>();
    private final Thread worker;
    private boolean closed;
    long processed, merged;

    CompletionQueue(BufferedIo engine, MappingOps ops) {
        this.engine = engine;
        this.ops = ops;
        worker = Thread.ofPlatform().daemon().name("ext4j-io-completion").start(this::run);
    }

    void submit(IoEnd e) {
        synchronized (queue) {
            queue.add(e);
            queue.notifyAll();
        }
    }

    private void run() {
        while (true) {
            List<IoEnd> batch;
            synchronized (queue) {
                while (queue.isEmpty() && !closed) {
                    try { queue.wait(); } catch (InterruptedException e) { return; }
                }
                if (queue.isEmpty()) return;
                batch = new ArrayList<>(queue);
                queue.clear();
            }
            batch.sort(Comparator.comparingLong((IoEnd e) -> e.file().id).thenComparingLong(IoEnd::pos));
            for (int i = 0; i < batch.size(); ) {
                IoEnd m = batch.get(i);
                int j = i + 1;
                while (j < batch.size() && batch.get(j).file() == m.file() && batch.get(j).type() == m.type() && batch.get(j).pos() == m.end()) {
                    m = new IoEnd(m.file(), m.pos(), m.len() + batch.get(j).len(), m.type());
                    j++;
                }
                complete(m, j - i);
                merged += j - i - 1;
                i = j;
            }
        }
    }

    /** The completion work of one merged range (count I/Os), then the waiting writeback is told. */
    private void complete(IoEnd e, int count) {
        engine.finishWriteback(e.file(), e.pos(), e.end());
        IOException failure = null;
        try {
            ops.ioCompleted(e.file(), e.pos(), e.len(), e.type());
        } catch (IOException | RuntimeException x) {
            failure = x instanceof IOException io ? io : new IOException("completing writeback of " + e.file() + " at " + e.pos() + ": " + x, x);
        }
        processed += count;
        engine.completed(e.file(), count, failure);
    }

    @Override
    public void close() {
        synchronized (queue) { closed = true; queue.notifyAll(); }
        try { worker.join(); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
    }
}
