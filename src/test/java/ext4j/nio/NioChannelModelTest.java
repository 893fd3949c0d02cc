package ext4j.nio;

import ext4j.testutil.Seeds;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.NonReadableChannelException;
import java.nio.channels.NonWritableChannelException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.Random;

import static java.nio.file.StandardOpenOption.APPEND;
import static java.nio.file.StandardOpenOption.CREATE;
import static java.nio.file.StandardOpenOption.READ;
import static java.nio.file.StandardOpenOption.TRUNCATE_EXISTING;
import static java.nio.file.StandardOpenOption.WRITE;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Randomized FileChannels on several files of one image against a byte model: positional and
 * relative reads and writes, position(), truncate, force, transfers between the files, scatter
 * and gather, channels closed and reopened (read-write, read-only, append, truncating), the whole
 * file system closed, checked by e2fsck and reopened halfway, and again at the end, where every
 * file must equal its model. Seed printed; rerun with -Dext4j.seed=N, longer with -Dext4j.nioOps=N.
 */
class NioChannelModelTest {
    @TempDir Path tmp;

    static final int OPS = Integer.getInteger("ext4j.nioOps", 20_000);
    static final int FILES = 6;
    static final int MAX_OFFSET = 3 << 20;

    /** A file's expected bytes. */
    static final class Model {
        byte[] data = new byte[0];
        int size;

        void write(long pos, byte[] b) {
            int end = Math.toIntExact(pos + b.length);
            if (end > data.length) data = Arrays.copyOf(data, Math.max(end, data.length * 2));
            if (pos > size) Arrays.fill(data, size, (int) pos, (byte) 0);
            System.arraycopy(b, 0, data, (int) pos, b.length);
            size = Math.max(size, end);
        }

        void truncate(long n) {
            if (n < size) size = (int) n;
        }

        byte[] read(long pos, int len) {
            if (pos >= size) return null;
            return Arrays.copyOfRange(data, (int) pos, (int) Math.min(size, pos + len));
        }

        byte[] all() { return Arrays.copyOf(data, size); }
    }

    enum Mode { READ_WRITE, READ_ONLY, APPEND_ONLY }

    private Random rnd;
    private final Model[] models = new Model[FILES];
    private final FileChannel[] channels = new FileChannel[FILES];
    private final Mode[] modes = new Mode[FILES];
    private final long[] positions = new long[FILES];
    private final Deque<String> recent = new ArrayDeque<>();
    private FileSystem fs;
    private int op;
    private long seed;

    private Path path(int i) { return fs.getPath(i % 2 == 0 ? "/model/f" + i : "/model/sub/f" + i); }

    private void log(String s) {
        recent.addLast(op + ": " + s);
        if (recent.size() > 40) recent.removeFirst();
    }

    private String context() { return "seed " + seed + " (rerun: " + Seeds.rerun(seed) + "), op " + op + "; recent operations:\n" + String.join("\n", recent); }

    private void check(boolean ok, String what) { if (!ok) fail(what + "\n" + context()); }

    private byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        if (rnd.nextInt(4) == 0) Arrays.fill(b, (byte) rnd.nextInt(256));       // runs compress badly and well alike; mix both
        else rnd.nextBytes(b);
        return b;
    }

    private int length() {
        int r = rnd.nextInt(100);
        if (r < 60) return 1 + rnd.nextInt(512);
        if (r < 90) return 1 + rnd.nextInt(16 << 10);
        return 1 + rnd.nextInt(300 << 10);
    }

    private long offset(int i) {
        int r = rnd.nextInt(100), size = models[i].size;
        if (r < 70) return rnd.nextInt(size + 1);
        if (r < 95) return Math.min(MAX_OFFSET, size + rnd.nextInt(64 << 10));
        return rnd.nextInt(MAX_OFFSET);
    }

    private void open(int i, Mode m, boolean truncate) throws IOException {
        OpenOption[] o = switch (m) {
            case READ_WRITE -> truncate ? new OpenOption[] {READ, WRITE, CREATE, TRUNCATE_EXISTING} : new OpenOption[] {READ, WRITE, CREATE};
            case READ_ONLY -> new OpenOption[] {READ};
            case APPEND_ONLY -> new OpenOption[] {APPEND};
        };
        channels[i] = FileChannel.open(path(i), o);
        modes[i] = m;
        positions[i] = 0;
        if (truncate) models[i].truncate(0);
        log("open f" + i + " " + m + (truncate ? " truncating" : ""));
    }

    private void closeAll() throws IOException {
        for (int i = 0; i < FILES; i++) if (channels[i] != null) { channels[i].close(); channels[i] = null; }
    }

    private void compareAll(String when) throws IOException {
        for (int i = 0; i < FILES; i++) {
            byte[] actual = Files.readAllBytes(path(i)), expected = models[i].all();
            if (!Arrays.equals(expected, actual)) {
                int at = Arrays.mismatch(expected, actual);
                fail(when + ": f" + i + " differs at byte " + at + " (sizes " + expected.length + " expected, " + actual.length + " actual)\n" + context());
            }
        }
    }

    @Test void randomChannelOperationsMatchAByteModel() throws Exception {
        seed = Seeds.seed("NioChannelModelTest " + OPS + " operations");
        rnd = new Random(seed);
        Path img = tmp.resolve("model.img");
        Tools.mke2fs(img, null, "64M", "-t", "ext4");
        fs = FileSystems.newFileSystem(img);
        Files.createDirectories(fs.getPath("/model/sub"));
        for (int i = 0; i < FILES; i++) { models[i] = new Model(); open(i, Mode.READ_WRITE, false); }
        int[] counts = new int[16];

        for (op = 0; op < OPS; op++) {
            if (op == OPS / 2) {
                closeAll();
                fs.close();
                Tools.assertFsckClean(img);
                fs = FileSystems.newFileSystem(img);
                log("file system closed, checked and reopened");
                compareAll("after the reopen halfway");
                for (int i = 0; i < FILES; i++) open(i, Mode.READ_WRITE, false);
            }
            int i = rnd.nextInt(FILES);
            FileChannel ch = channels[i];
            Model m = models[i];
            boolean canRead = modes[i] != Mode.APPEND_ONLY, canWrite = modes[i] != Mode.READ_ONLY;
            int kind = rnd.nextInt(100);
            if (kind < 28) {                                                     // positional write
                counts[0]++;
                long pos = offset(i);
                byte[] b = randomBytes(length());
                log("f" + i + " write " + b.length + " at " + pos);
                if (!canWrite) { expectThrows(NonWritableChannelException.class, () -> ch.write(ByteBuffer.wrap(b), pos)); continue; }
                int n = ch.write(ByteBuffer.wrap(b), pos);
                check(n == b.length, "short write " + n);
                m.write(pos, b);           // ext4j writes at the position even in append mode (see NioContractTest)
                if (modes[i] != Mode.APPEND_ONLY) check(ch.position() == positions[i], "a positional write moved the position");
            } else if (kind < 48) {                                              // positional read
                counts[1]++;
                long pos = rnd.nextInt(20) == 0 ? m.size + rnd.nextInt(1000) : offset(i);
                int len = length();
                log("f" + i + " read " + len + " at " + pos);
                ByteBuffer b = rnd.nextBoolean() ? ByteBuffer.allocate(len) : ByteBuffer.allocateDirect(len);
                if (!canRead) { expectThrows(NonReadableChannelException.class, () -> ch.read(b, pos)); continue; }
                int n = ch.read(b, pos);
                byte[] want = m.read(pos, len);
                if (want == null) { check(n == -1, "read at " + pos + " of a " + m.size + "-byte file gave " + n + ", not -1"); continue; }
                // a read may return fewer bytes than are there; it must return at least one and the right ones
                check(n > 0 && n <= want.length, "read gave " + n + " of " + want.length);
                byte[] got = new byte[n];
                b.flip().get(got);
                check(Arrays.equals(Arrays.copyOf(want, n), got), "read at " + pos + " differs at " + Arrays.mismatch(Arrays.copyOf(want, n), got));
            } else if (kind < 58) {                                              // relative write
                counts[2]++;
                byte[] b = randomBytes(length());
                if (!canWrite) { log("f" + i + " relative write on a read-only channel"); expectThrows(NonWritableChannelException.class, () -> ch.write(ByteBuffer.wrap(b))); continue; }
                long at;
                if (modes[i] == Mode.APPEND_ONLY) {
                    if (rnd.nextBoolean()) ch.position(offset(i));               // an append ignores the position
                    at = m.size;
                } else {
                    at = rnd.nextBoolean() ? positions[i] : offset(i);
                    ch.position(at);
                }
                log("f" + i + " relative write " + b.length + " at " + at);
                int n = ch.write(ByteBuffer.wrap(b));
                check(n == b.length, "short relative write " + n);
                m.write(at, b);
                positions[i] = at + n;
                check(ch.position() == positions[i], "position after a relative write: " + ch.position() + ", expected " + positions[i]);
            } else if (kind < 68) {                                              // relative read
                counts[3]++;
                if (!canRead) { expectThrows(NonReadableChannelException.class, () -> ch.read(ByteBuffer.allocate(1))); continue; }
                long pos = rnd.nextBoolean() ? positions[i] : offset(i);
                ch.position(pos);
                positions[i] = pos;
                int len = length();
                log("f" + i + " relative read " + len + " at " + pos);
                ByteBuffer b = ByteBuffer.allocate(len);
                int n = ch.read(b);
                byte[] want = m.read(pos, len);
                if (want == null) { check(n == -1, "relative read at the end gave " + n); check(ch.position() == pos, "position moved at the end"); continue; }
                check(n > 0 && n <= want.length, "relative read gave " + n + " of " + want.length);
                check(Arrays.equals(Arrays.copyOf(want, n), Arrays.copyOf(b.array(), n)), "relative read at " + pos + " differs");
                positions[i] = pos + n;
                check(ch.position() == positions[i], "position after a relative read: " + ch.position() + ", expected " + positions[i]);
            } else if (kind < 74) {                                              // truncate
                counts[4]++;
                long n = rnd.nextInt(5) == 0 ? m.size + rnd.nextInt(5000) : rnd.nextInt(m.size + 1);
                log("f" + i + " truncate " + n + " (size " + m.size + ")");
                if (!canWrite) { expectThrows(NonWritableChannelException.class, () -> ch.truncate(n)); continue; }
                ch.truncate(n);
                m.truncate(n);
                if (modes[i] != Mode.APPEND_ONLY) {
                    if (positions[i] > n) positions[i] = n;
                    check(ch.position() == positions[i], "position after truncate: " + ch.position() + ", expected " + positions[i]);
                }
                check(ch.size() == m.size, "size after truncate: " + ch.size() + ", expected " + m.size);
            } else if (kind < 79) {                                              // size
                counts[5]++;
                log("f" + i + " size");
                check(ch.size() == m.size, "size " + ch.size() + ", expected " + m.size);
            } else if (kind < 82) {                                              // force
                counts[6]++;
                boolean meta = rnd.nextBoolean();
                log("f" + i + " force " + meta);
                ch.force(meta);
            } else if (kind < 88) {                                              // close and reopen
                counts[7]++;
                ch.close();
                check(!ch.isOpen(), "closed channel still open");
                int r = rnd.nextInt(20);
                open(i, r < 13 ? Mode.READ_WRITE : r < 16 ? Mode.READ_ONLY : r < 19 ? Mode.APPEND_ONLY : Mode.READ_WRITE, r == 19);
            } else if (kind < 93) {                                              // transferTo another file
                counts[8]++;
                int j = (i + 1 + rnd.nextInt(FILES - 1)) % FILES;
                if (!canRead || modes[j] == Mode.READ_ONLY) continue;
                long from = offset(i);
                long count = rnd.nextInt(200 << 10);
                long dstPos = modes[j] == Mode.APPEND_ONLY ? models[j].size : rnd.nextBoolean() ? positions[j] : offset(j);
                if (modes[j] != Mode.APPEND_ONLY) channels[j].position(dstPos);
                log("f" + i + " transferTo f" + j + " " + count + " from " + from + " to " + dstPos);
                long n = ch.transferTo(from, count, channels[j]);
                byte[] moved = m.read(from, (int) count);
                long want = moved == null ? 0 : moved.length;
                check(n == want, "transferTo moved " + n + ", expected " + want);
                if (moved != null) models[j].write(dstPos, moved);
                positions[j] = dstPos + n;
                if (modes[j] != Mode.APPEND_ONLY) check(channels[j].position() == positions[j], "target position after transferTo");
            } else if (kind < 97) {                                              // transferFrom another file
                counts[9]++;
                int j = (i + 1 + rnd.nextInt(FILES - 1)) % FILES;
                if (!canWrite || modes[i] == Mode.APPEND_ONLY || modes[j] == Mode.APPEND_ONLY) continue;
                long srcPos = offset(j), dst = offset(i), count = rnd.nextInt(200 << 10);
                channels[j].position(srcPos);
                positions[j] = srcPos;
                log("f" + i + " transferFrom f" + j + " " + count + " from " + srcPos + " to " + dst);
                long n = ch.transferFrom(channels[j], dst, count);
                byte[] moved = models[j].read(srcPos, (int) count);
                long want = moved == null ? 0 : moved.length;
                check(n == want, "transferFrom moved " + n + ", expected " + want);
                if (moved != null) m.write(dst, moved);
                positions[j] = srcPos + n;
                check(channels[j].position() == positions[j], "source position after transferFrom");
                check(ch.position() == positions[i], "transferFrom moved the target's position");
            } else {                                                             // gather write / scatter read
                counts[10]++;
                if (canWrite && modes[i] == Mode.READ_WRITE && rnd.nextBoolean()) {
                    long pos = offset(i);
                    ch.position(pos);
                    ByteBuffer[] parts = new ByteBuffer[1 + rnd.nextInt(4)];
                    java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
                    for (int k = 0; k < parts.length; k++) { byte[] b = randomBytes(rnd.nextInt(3000)); all.writeBytes(b); parts[k] = ByteBuffer.wrap(b); }
                    log("f" + i + " gather write " + all.size() + " at " + pos);
                    long n = ch.write(parts);
                    check(n == all.size(), "gather write " + n + " of " + all.size());
                    m.write(pos, all.toByteArray());
                    positions[i] = pos + n;
                    check(ch.position() == positions[i], "position after gather write");
                } else if (canRead) {
                    long pos = offset(i);
                    ch.position(pos);
                    ByteBuffer[] parts = new ByteBuffer[1 + rnd.nextInt(4)];
                    int total = 0;
                    for (int k = 0; k < parts.length; k++) { parts[k] = ByteBuffer.allocate(rnd.nextInt(3000)); total += parts[k].capacity(); }
                    log("f" + i + " scatter read " + total + " at " + pos);
                    long n = ch.read(parts);
                    byte[] want = m.read(pos, total);
                    if (want == null) { check(n == -1 || (n == 0 && total == 0), "scatter read at the end gave " + n); positions[i] = pos; continue; }
                    if (total == 0) { check(n == 0, "empty scatter read gave " + n); positions[i] = pos; continue; }
                    java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
                    for (ByteBuffer p : parts) got.write(p.array(), 0, p.position());
                    check(n == got.size() && n > 0 && n <= want.length, "scatter read gave " + n + " (" + got.size() + " in buffers) of " + want.length);
                    check(Arrays.equals(Arrays.copyOf(want, (int) n), got.toByteArray()), "scatter read at " + pos + " differs");
                    positions[i] = pos + n;
                    check(ch.position() == positions[i], "position after scatter read");
                }
            }
            if (op % 2500 == 2499) compareAll("at op " + op);
        }
        closeAll();
        compareAll("before close");
        fs.close();
        Tools.assertFsckClean(img);
        try (FileSystem again = FileSystems.newFileSystem(img)) {
            fs = again;
            compareAll("after reopening");
        }
        System.out.println("NioChannelModelTest: " + Arrays.toString(Arrays.copyOf(counts, 11)) + " (pwrite, pread, write, read, truncate, size, force, reopen, transferTo, transferFrom, scatter/gather)");
    }

    private <T extends Throwable> void expectThrows(Class<T> type, org.junit.jupiter.api.function.Executable e) {
        try {
            e.execute();
        } catch (Throwable t) {
            if (type.isInstance(t)) return;
            fail("expected " + type.getSimpleName() + ", got " + t + "\n" + context());
        }
        fail("expected " + type.getSimpleName() + ", nothing thrown\n" + context());
    }
}
