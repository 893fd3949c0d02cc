package ext4j.cli;

import ext4j.fs.Dirent;
import ext4j.fs.Ext4Vfs;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.PriorityQueue;

/**
 * A directory's entries in name order with bounded memory, for `ls`: read by readdir cookies a
 * batch at a time; once the entries held pass {@link #BUDGET} bytes they are sorted and spilled
 * to a temporary file, and the runs are merged on the way out. A directory of any size costs about
 * BUDGET of heap plus 16 KiB a run (a million short names: about 14 runs), not its size.
 */
final class SortedListing implements Closeable {
    /** Heap for entries held before a sorted run is spilled (estimated per entry: name + 48 bytes). */
    static final long BUDGET = 4L << 20;
    private static final int BATCH = 4096;
    private static final Comparator<Dirent> BY_NAME = Comparator.comparing(Dirent::name, Arrays::compareUnsigned);

    interface EntryFilter { boolean keep(Dirent e) throws IOException; }
    interface EntrySink { void accept(Dirent e) throws IOException; }

    private final List<Dirent> held = new ArrayList<>();
    private long heldBytes;
    private final List<Path> runs = new ArrayList<>();

    /** Lists dir, keeping the entries filter keeps (it may also count them). */
    SortedListing(Ext4Vfs vfs, long dir, EntryFilter filter) throws IOException {
        try {
            long[] cookie = {0};
            boolean[] more = {true};
            List<Dirent> batch = new ArrayList<>(BATCH);
            while (more[0]) {
                more[0] = false;
                batch.clear();
                vfs.readdir(dir, cookie[0], e -> {
                    if (batch.size() == BATCH) { more[0] = true; return false; }
                    batch.add(e);
                    cookie[0] = e.nextCookie();
                    return true;
                });
                for (Dirent e : batch) if (filter.keep(e)) add(e);
            }
        } catch (IOException | RuntimeException e) {
            close();
            throw e;
        }
    }

    private void add(Dirent e) throws IOException {
        held.add(e);
        heldBytes += e.name().length + 48;
        if (heldBytes >= BUDGET) spill();
    }

    private void spill() throws IOException {
        held.sort(BY_NAME);
        Path f = Files.createTempFile("ext4j-ls", ".run");
        runs.add(f);
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(f), 1 << 16))) {
            for (Dirent e : held) {
                out.writeShort(e.name().length);
                out.write(e.name());
                out.writeLong(e.ino());
                out.writeByte(e.type());
            }
        }
        held.clear();
        heldBytes = 0;
    }

    private record Run(DataInputStream in, Dirent[] head) {
        Dirent next() throws IOException {
            int len;
            try { len = in.readUnsignedShort(); } catch (EOFException end) { return null; }
            byte[] name = in.readNBytes(len);
            long ino = in.readLong();
            int type = in.readUnsignedByte();
            return new Dirent(name, ino, type, 0);
        }
    }

    /** The kept entries in unsigned byte order of their names. */
    void forEach(EntrySink sink) throws IOException {
        held.sort(BY_NAME);
        if (runs.isEmpty()) {
            for (Dirent e : held) sink.accept(e);
            return;
        }
        PriorityQueue<Run> q = new PriorityQueue<>((a, b) -> BY_NAME.compare(a.head[0], b.head[0]));
        List<Run> open = new ArrayList<>();
        try {
            for (Path f : runs) {
                Run r = new Run(new DataInputStream(new BufferedInputStream(Files.newInputStream(f), 1 << 14)), new Dirent[1]);
                open.add(r);
                if ((r.head[0] = r.next()) != null) q.add(r);
            }
            // the entries still held are one more run, merged from memory
            int at = 0;
            while (!q.isEmpty() || at < held.size()) {
                Run r = q.peek();
                if (at < held.size() && (r == null || BY_NAME.compare(held.get(at), r.head[0]) <= 0)) {
                    sink.accept(held.get(at++));
                    continue;
                }
                q.poll();
                sink.accept(r.head[0]);
                if ((r.head[0] = r.next()) != null) q.add(r);
            }
        } finally {
            for (Run r : open) r.in.close();
        }
    }

    @Override
    public void close() throws IOException {
        for (Path f : runs) Files.deleteIfExists(f);
        runs.clear();
        held.clear();
    }
}
