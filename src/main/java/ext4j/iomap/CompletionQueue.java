package ext4j.iomap;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Finished writeback I/O waiting for the filesystem's completion work (iomap ioends). One worker
 * thread drains the queue, sorts what it took by file and offset, merges adjacent ranges of the same
 * type into one, and hands each file's merged ranges of one type to {@link MappingOps#ioCompleted}
 * together: the writer's thread never runs filesystem completion work, a long sequential writeback
 * costs a few conversions, not one per I/O, and scattered ranges are converted in one go.
 */
final class CompletionQueue implements AutoCloseable {
    /** A finished write; streamed: written from the caller's buffer (no folio of the range is under writeback for it). */
    record IoEnd(CachedFile file, long pos, long len, MappingType type, boolean streamed) {
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

    void submit(List<IoEnd> ends) {
        if (ends.isEmpty()) return;
        synchronized (queue) {
            queue.addAll(ends);
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
            List<IoEnd> group = new ArrayList<>();
            int groupCount = 0;
            for (int i = 0; i < batch.size(); ) {
                IoEnd m = batch.get(i);
                int j = i + 1;
                while (j < batch.size() && batch.get(j).file() == m.file() && batch.get(j).type() == m.type() && batch.get(j).streamed() == m.streamed() && batch.get(j).pos() == m.end()) {
                    m = new IoEnd(m.file(), m.pos(), m.len() + batch.get(j).len(), m.type(), m.streamed());
                    j++;
                }
                if (!group.isEmpty() && (group.get(0).file() != m.file() || group.get(0).type() != m.type() || group.get(0).streamed() != m.streamed())) {
                    complete(group, groupCount);
                    group.clear();
                    groupCount = 0;
                }
                group.add(m);
                groupCount += j - i;
                merged += j - i - 1;
                i = j;
            }
            if (!group.isEmpty()) complete(group, groupCount);
        }
    }

    /**
     * The completion work of one file's merged ranges of one type and origin (count I/Os in all), done
     * together, then the waiting writeback is told.
     */
    private void complete(List<IoEnd> group, int count) {
        CachedFile f = group.get(0).file();
        if (!group.get(0).streamed()) engine.finishWriteback(f, group);   // one lock for the lot (scattered 4 KiB runs are many)
        IOException failure = null;
        try {
            if (group.size() == 1) ops.ioCompleted(f, group.get(0).pos(), group.get(0).len(), group.get(0).type());
            else {
                List<long[]> ranges = new ArrayList<>(group.size());
                for (IoEnd e : group) ranges.add(new long[] {e.pos(), e.len()});
                ops.ioCompleted(f, ranges, group.get(0).type());
            }
        } catch (IOException | RuntimeException x) {
            failure = x instanceof IOException io ? io : new IOException("completing writeback of " + f + " at " + group.get(0).pos() + ": " + x, x);
        }
        processed += count;
        engine.completed(f, count, group.get(0).streamed(), failure);
    }

    @Override
    public void close() {
        synchronized (queue) { closed = true; queue.notifyAll(); }
        try { worker.join(); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
    }
}
