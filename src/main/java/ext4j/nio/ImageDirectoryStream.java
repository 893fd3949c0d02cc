package ext4j.nio;

import ext4j.fs.Dirent;

import java.io.IOException;
import java.nio.file.ClosedDirectoryStreamException;
import java.nio.file.DirectoryIteratorException;
import java.nio.file.DirectoryStream;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * A lazy listing: entries fetched from the core a batch at a time, resuming from the last
 * cookie, so a directory of millions of entries costs one batch of memory; "." and ".." left out;
 * the filter applied as entries arrive. An entry present for the whole listing comes once.
 */
final class ImageDirectoryStream implements DirectoryStream<Path> {
    static final int BATCH = 512;
    private final ImageFileSystem fs;
    private final ImagePath dir;
    private final long ino;
    private final Filter<? super Path> filter;
    private boolean open = true, iterated;

    ImageDirectoryStream(ImageFileSystem fs, ImagePath dir, long ino, Filter<? super Path> filter) {
        this.fs = fs;
        this.dir = dir;
        this.ino = ino;
        this.filter = filter;
    }

    @Override public synchronized void close() { open = false; fs.forget(this); }

    @Override public synchronized Iterator<Path> iterator() {
        if (!open) throw new ClosedDirectoryStreamException();
        fs.checkOpen();
        if (iterated) throw new IllegalStateException("iterator already obtained");
        iterated = true;
        return new Iterator<>() {
            private final ArrayDeque<Path> ready = new ArrayDeque<>();
            private long cookie = 0;
            private boolean end;

            private void fill() {
                while (ready.isEmpty() && !end) {
                    synchronized (ImageDirectoryStream.this) { if (!open) { end = true; return; } }
                    java.util.List<Path> batch = new java.util.ArrayList<>();
                    long[] next = {cookie};
                    try {
                        fs.vfs().readdir(ino, cookie, (Dirent d) -> {
                            if (batch.size() == BATCH) return false;
                            next[0] = d.nextCookie();
                            byte[] n = d.name();
                            boolean dots = (n.length == 1 && n[0] == '.') || (n.length == 2 && n[0] == '.' && n[1] == '.');
                            batch.add(dots ? null : dir.resolve(new ImagePath(fs, n)));
                            return true;
                        });
                    } catch (IOException e) {
                        throw new DirectoryIteratorException(Errors.of(e, dir));
                    }
                    cookie = next[0];
                    if (batch.size() < BATCH) end = true;
                    // the filter runs outside the listing: it may use the filesystem (stat the entry) without re-entering its locks
                    for (Path p : batch) {
                        if (p == null) continue;
                        try {
                            if (filter == null || filter.accept(p)) ready.add(p);
                        } catch (IOException e) {
                            throw new DirectoryIteratorException(e);
                        }
                    }
                }
            }

            @Override public boolean hasNext() { fill(); return !ready.isEmpty(); }

            @Override public Path next() {
                if (!hasNext()) throw new NoSuchElementException();
                return ready.removeFirst();
            }
        };
    }
}
