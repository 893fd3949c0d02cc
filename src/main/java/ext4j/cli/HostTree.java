package ext4j.cli;

import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.fs.Attr;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The host side of a bulk copy (put -r, mkfs -d), read ahead on its own thread: a depth-first walk
 * of a host tree in the order the copy makes it (each directory's entries sorted by name, a
 * directory's contents followed by an {@link #END} mark), each entry with its lstat, symlink
 * target, extended attributes and, for regular files with data, the file already open. So the
 * thread writing the image never waits for the host's system calls: the two run on two cores.
 *
 * <p>A failure reading an entry travels with it and is thrown where the copy reaches that entry,
 * as if it were read there. Closing the walk (the copy ended or failed) stops the thread and closes
 * the files it opened that nobody took.
 */
final class HostTree implements AutoCloseable {
    /** One host entry. ch: the open file (regular files with data; null if not opened here). */
    record Node(Path path, String name, Posix.Stat st, byte[] link, List<String> xattrNames, List<byte[]> xattrValues,
                IOException xattrError, FileChannel ch, long chSize, IOException error) {
        int type() { return st.mode() & Attr.S_IFMT; }
        boolean isDir() { return type() == Attr.S_IFDIR; }
    }

    /** Marks the end of a directory's entries. */
    static final Node END = new Node(null, null, null, null, null, null, null, null, 0, null);
    private static final Node DONE = new Node(null, null, null, null, null, null, null, null, 0, null);
    private static final int MAX_DEPTH = 4096, BATCH = 64, MAX_OPEN = 512;

    private final BlockingQueue<List<Node>> queue = new ArrayBlockingQueue<>(8);
    private final AtomicInteger open = new AtomicInteger();
    private final Thread thread;
    private volatile boolean closed;
    private List<Node> out = new ArrayList<>(BATCH);
    private List<Node> in = List.of();
    private int inPos;
    private Throwable walkFailure;

    /** Walks src itself (whole: a directory, then its contents and END) or, with childrenOnly, only src's entries then END. */
    HostTree(Path src, boolean childrenOnly) {
        thread = Thread.ofPlatform().daemon().name("ext4j-host-reader").unstarted(() -> {
            try {
                if (childrenOnly) children(src, 0);
                else entry(src, src.getFileName() == null ? "" : src.getFileName().toString(), 0);
                emit(DONE);
                flush();
            } catch (InterruptedException _) {
                // closed
            } catch (Throwable t) {
                walkFailure = t;
                try { emit(DONE); flush(); } catch (InterruptedException _) { }
            }
        });
        thread.start();
    }

    /** The next entry in copy order (END after a directory's last entry); null when the walk is over. */
    Node next() throws IOException {
        while (inPos == in.size()) {
            try {
                in = queue.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted");
            }
            inPos = 0;
        }
        Node n = in.get(inPos++);
        if (n == DONE) {
            inPos--; // stays done
            if (walkFailure instanceof IOException e) throw e;
            if (walkFailure instanceof RuntimeException e) throw e;
            if (walkFailure instanceof Error e) throw e;
            return null;
        }
        return n;
    }

    /** The copy took n's open file and closes it. */
    void taken(Node n) { if (n.ch != null) open.decrementAndGet(); }

    private void children(Path dir, int depth) throws InterruptedException {
        if (depth > MAX_DEPTH) {
            emit(new Node(dir, null, null, null, null, null, null, null, 0, new FsException(Errno.ELOOP, dir.toString())));
            return;
        }
        List<Path> kids = new ArrayList<>();
        IOException listing = null;
        try (var s = Files.newDirectoryStream(dir)) {
            for (Path k : s) kids.add(k);
        } catch (IOException e) {
            listing = e;
        }
        if (listing != null) {
            emit(new Node(dir, null, null, null, null, null, null, null, 0, listing));
            return;
        }
        kids.sort(null);
        for (Path k : kids) entry(k, k.getFileName().toString(), depth + 1);
        emit(END);
    }

    private void entry(Path p, String name, int depth) throws InterruptedException {
        if (closed) throw new InterruptedException();
        Posix.Stat st;
        try {
            st = Posix.lstat(p);
        } catch (IOException e) {
            emit(new Node(p, name, null, null, null, null, null, null, 0, e));
            return;
        }
        int type = st.mode() & Attr.S_IFMT;
        byte[] link = null;
        FileChannel ch = null;
        long chSize = 0;
        IOException error = null;
        try {
            if (type == Attr.S_IFLNK) link = Files.readSymbolicLink(p).toString().getBytes(StandardCharsets.UTF_8);
            if (type == Attr.S_IFREG && st.size() > 0 && open.get() < MAX_OPEN) {
                ch = FileChannel.open(p, StandardOpenOption.READ);
                open.incrementAndGet();
                chSize = ch.size();
            }
        } catch (IOException e) {
            error = e;
        }
        List<String> names = List.of();
        List<byte[]> values = List.of();
        IOException xattrError = null;
        try {
            names = Posix.llistxattr(p);
        } catch (IOException e) {
            names = List.of(); // unreadable names: nothing copied, as before
        }
        if (!names.isEmpty()) {
            values = new ArrayList<>(names.size());
            try {
                for (String n : names) values.add(Posix.lgetxattr(p, n));
            } catch (IOException e) {
                xattrError = e;
            }
        }
        emit(new Node(p, name, st, link, names, values, xattrError, ch, chSize, error));
        if (type == Attr.S_IFDIR && error == null) children(p, depth);
    }

    private void emit(Node n) throws InterruptedException {
        out.add(n);
        if (out.size() >= BATCH || n == DONE) flush();
    }

    private void flush() throws InterruptedException {
        if (out.isEmpty()) return;
        List<Node> b = out;
        out = new ArrayList<>(BATCH);
        while (!queue.offer(b, 100, TimeUnit.MILLISECONDS)) if (closed) { closeAll(b); throw new InterruptedException(); }
    }

    private static void closeAll(List<Node> batch) {
        for (Node n : batch) {
            if (n.ch == null) continue;
            try { n.ch.close(); } catch (IOException _) { }
        }
    }

    @Override
    public void close() {
        closed = true;
        // the entries not yet taken hold open files: close them
        for (int i = inPos; i < in.size(); i++) closeAll(List.of(in.get(i)));
        in = List.of();
        inPos = 0;
        try {
            while (thread.isAlive()) {
                List<Node> b = queue.poll(50, TimeUnit.MILLISECONDS);
                if (b != null) closeAll(b);
            }
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<Node> b;
        while ((b = queue.poll()) != null) closeAll(b);
        closeAll(out);
    }
}
