package ext4j.fuse;

import ext4j.testutil.Seeds;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static ext4j.fuse.FuseProto.*;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The protocol layer without a kernel: structure sizes and offsets pinned against the system's
 * linux/fuse.h (compiled with gcc), and the dispatcher's answers to well-formed, malformed and
 * random requests, recorded through a Sink instead of /dev/fuse.
 */
class FuseProtoTest {
    @TempDir Path tmp;

    @Test
    void structureLayoutsMatchTheKernelHeader() throws Exception {
        Path header = Path.of("/usr/include/linux/fuse.h");
        Assumptions.assumeTrue(Files.exists(header), "no " + header + " (linux-libc-dev): cannot compare layouts");
        boolean gcc;
        try {
            Process p = new ProcessBuilder("gcc", "--version").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            gcc = p.waitFor() == 0;
        } catch (java.io.IOException e) {
            gcc = false; // not installed: "Cannot run program"
        }
        Assumptions.assumeTrue(gcc, "no gcc (scripts/install-test-deps.sh installs it): cannot compare layouts");
        Map<String, Integer> ours = new LinkedHashMap<>();
        ours.put("sizeof(struct fuse_in_header)", IN_HEADER);
        ours.put("sizeof(struct fuse_out_header)", OUT_HEADER);
        ours.put("sizeof(struct fuse_attr)", ATTR);
        ours.put("sizeof(struct fuse_entry_out)", ENTRY_OUT);
        ours.put("sizeof(struct fuse_attr_out)", ATTR_OUT);
        ours.put("sizeof(struct fuse_open_out)", OPEN_OUT);
        ours.put("sizeof(struct fuse_write_in)", WRITE_IN);
        ours.put("sizeof(struct fuse_read_in)", READ_IN);
        ours.put("sizeof(struct fuse_init_in)", INIT_IN);
        ours.put("sizeof(struct fuse_init_out)", INIT_OUT);
        ours.put("sizeof(struct fuse_setattr_in)", SETATTR_IN);
        ours.put("sizeof(struct fuse_statfs_out)", STATFS_OUT);
        ours.put("sizeof(struct fuse_dirent)", DIRENT);
        ours.put("sizeof(struct fuse_direntplus)", DIRENTPLUS);
        ours.put("sizeof(struct fuse_ioctl_in)", IOCTL_IN);
        ours.put("sizeof(struct fuse_ioctl_out)", IOCTL_OUT);
        ours.put("sizeof(struct fuse_copy_file_range_in)", COPY_FILE_RANGE_IN);
        ours.put("sizeof(struct fuse_fallocate_in)", FALLOCATE_IN);
        ours.put("sizeof(struct fuse_lseek_in)", LSEEK_IN);
        ours.put("sizeof(struct fuse_create_in)", CREATE_IN);
        ours.put("sizeof(struct fuse_mknod_in)", MKNOD_IN);
        ours.put("sizeof(struct fuse_setxattr_in)", SETXATTR_IN);
        ours.put("sizeof(struct fuse_rename2_in)", RENAME2_IN);
        ours.put("sizeof(struct fuse_release_in)", RELEASE_IN);
        ours.put("sizeof(struct fuse_fsync_in)", FSYNC_IN);
        ours.put("sizeof(struct fuse_getxattr_in)", GETXATTR_IN);
        ours.put("sizeof(struct fuse_forget_one)", FORGET_ONE);
        // the offsets the dispatcher reads and writes by number
        ours.put("offsetof(struct fuse_setattr_in, atimensec)", 56);
        ours.put("offsetof(struct fuse_setattr_in, mode)", 68);
        ours.put("offsetof(struct fuse_setattr_in, uid)", 76);
        ours.put("offsetof(struct fuse_setattr_in, gid)", 80);
        ours.put("offsetof(struct fuse_init_out, max_write)", 20);
        ours.put("offsetof(struct fuse_init_out, max_pages)", 28);
        ours.put("offsetof(struct fuse_init_out, flags2)", 32);
        ours.put("offsetof(struct fuse_entry_out, attr)", 40);
        ours.put("offsetof(struct fuse_attr_out, attr)", 16);
        ours.put("offsetof(struct fuse_attr, rdev)", 76);
        ours.put("offsetof(struct fuse_ioctl_in, in_size)", 24);
        ours.put("offsetof(struct fuse_copy_file_range_in, flags)", 48);
        ours.put("FUSE_DEV_IOC_CLONE", (int) Native.FUSE_DEV_IOC_CLONE);
        StringBuilder c = new StringBuilder("#include <stdio.h>\n#include <stddef.h>\n#include <linux/ioctl.h>\n#include <linux/fuse.h>\nint main(void) {\n");
        for (String k : ours.keySet()) c.append("  printf(\"%ld\\n\", (long)(int)(").append(k).append("));\n");
        c.append("  return 0;\n}\n");
        Path src = tmp.resolve("layout.c"), bin = tmp.resolve("layout");
        Files.writeString(src, c);
        Process cc = new ProcessBuilder("gcc", "-o", bin.toString(), src.toString()).redirectErrorStream(true).start();
        String ccOut = new String(cc.getInputStream().readAllBytes());
        assertEquals(0, cc.waitFor(), "gcc failed: " + ccOut);
        Process run = new ProcessBuilder(bin.toString()).start();
        String[] got = new String(run.getInputStream().readAllBytes()).trim().split("\n");
        assertEquals(0, run.waitFor());
        int i = 0;
        List<String> wrong = new ArrayList<>();
        for (Map.Entry<String, Integer> e : ours.entrySet()) {
            long kernel = Long.parseLong(got[i++].trim());
            if (kernel != e.getValue()) wrong.add(e.getKey() + ": header " + kernel + ", FuseProto " + e.getValue());
        }
        assertTrue(wrong.isEmpty(), String.join("\n", wrong));
    }

    // ---- the dispatcher, through a recording sink ----

    /** A filesystem answering a few requests the way the tests below expect. */
    static final class Toy implements FuseFilesystem {
        final List<Long> forgotten = new ArrayList<>();
        @Override public FuseEntry lookup(FuseContext c, long parent, byte[] name) throws FuseException {
            String n = new String(name, StandardCharsets.UTF_8);
            if (n.equals("boom")) throw new IllegalStateException("a bug in the filesystem");
            if (!n.equals("a")) return new FuseEntry(0, 0, null);
            return new FuseEntry(5, 7, attr(5));
        }
        @Override public void forget(long node, long nlookup) { forgotten.add(node); forgotten.add(nlookup); }
        @Override public FuseAttr getattr(FuseContext c, long node, long fh) { return attr(node); }
        @Override public byte[] getxattr(FuseContext c, long node, String name) throws FuseException {
            if (!name.equals("user.k")) throw new FuseException(FuseException.ENODATA, name);
            return "value".getBytes(StandardCharsets.UTF_8);
        }
        @Override public void readdir(FuseContext c, long node, long fh, long offset, boolean plus, DirFiller out) {
            for (long i = offset; i < 100; i++) {
                byte[] name = ("entry-" + i).getBytes(StandardCharsets.UTF_8);
                boolean taken = plus ? out.addPlus(name, 100 + i, new FuseEntry(100 + i, 1, attr(100 + i)), 8, i + 1) : out.add(name, 100 + i, 8, i + 1);
                if (!taken) return;
            }
        }
        static FuseAttr attr(long ino) { return new FuseAttr(ino, 1234, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0100644, 1, 1000, 1000, 0, 4096, 0); }
    }

    /** A reply as the kernel would read it. */
    record Reply(int len, int error, long unique, ByteBuffer body) {}

    static final class Harness implements AutoCloseable {
        final Arena arena = Arena.ofConfined();
        final MemorySegment in = arena.allocate(BUFFER, 8), out = arena.allocate(BUFFER, 8);
        final List<Reply> replies = new ArrayList<>();
        final FuseDispatcher d;
        final FuseRequest q = new FuseRequest();
        final FuseReply r;

        Harness(FuseFilesystem fs) {
            d = new FuseDispatcher(fs, 10, 10);
            r = new FuseReply(out, (buf, len) -> {
                ByteBuffer b = buf.asSlice(0, len).asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                ByteBuffer body = ByteBuffer.allocate(len - OUT_HEADER).order(ByteOrder.LITTLE_ENDIAN);
                body.put(0, b, OUT_HEADER, len - OUT_HEADER);
                replies.add(new Reply(b.getInt(0), b.getInt(4), b.getLong(8), body));
                return len;
            });
        }

        /** Sends opcode with body to the dispatcher as request number unique; returns the reply, or null if none was sent. */
        Reply send(int opcode, long nodeid, long unique, byte[] body) {
            int len = IN_HEADER + body.length;
            in.set(JAVA_INT_UNALIGNED, 0, len);
            in.set(JAVA_INT_UNALIGNED, 4, opcode);
            in.set(JAVA_LONG_UNALIGNED, 8, unique);
            in.set(JAVA_LONG_UNALIGNED, 16, nodeid);
            in.set(JAVA_INT_UNALIGNED, 24, 1000);
            in.set(JAVA_INT_UNALIGNED, 28, 1000);
            in.set(JAVA_INT_UNALIGNED, 32, 42);
            in.set(JAVA_INT_UNALIGNED, 36, 0);
            MemorySegment.copy(body, 0, in, java.lang.foreign.ValueLayout.JAVA_BYTE, IN_HEADER, body.length);
            int before = replies.size();
            assertTrue(q.decode(in, len), "a well-formed header must decode");
            d.handle(q, r);
            assertTrue(replies.size() <= before + 1, "at most one reply per request");
            return replies.size() == before ? null : replies.get(before);
        }

        @Override public void close() { arena.close(); }
    }

    static byte[] le(Object... fields) {
        ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        for (Object f : fields) {
            if (f instanceof Integer i) b.putInt(i);
            else if (f instanceof Long l) b.putLong(l);
            else if (f instanceof String s) { b.put(s.getBytes(StandardCharsets.UTF_8)); b.put((byte) 0); }
            else if (f instanceof byte[] raw) b.put(raw);
        }
        byte[] out = new byte[b.position()];
        b.get(0, out);
        return out;
    }

    @Test
    void lookupRepliesWithAnEntryOrACacheableNegativeOne() {
        try (Harness h = new Harness(new Toy())) {
            Reply ok = h.send(LOOKUP, ROOT_ID, 11, le("a"));
            assertEquals(0, ok.error());
            assertEquals(11, ok.unique());
            assertEquals(OUT_HEADER + ENTRY_OUT, ok.len());
            assertEquals(5, ok.body().getLong(0));
            assertEquals(7, ok.body().getLong(8));
            assertEquals(10, ok.body().getLong(16), "entry timeout");
            assertEquals(1234, ok.body().getLong(40 + 8), "attr.size");
            assertEquals(0100644, ok.body().getInt(40 + 60), "attr.mode");
            Reply neg = h.send(LOOKUP, ROOT_ID, 12, le("missing"));
            assertEquals(0, neg.error(), "a negative entry is a success with node id 0");
            assertEquals(0, neg.body().getLong(0));
            assertEquals(10, neg.body().getLong(16), "and the time the kernel may cache it");
        }
    }

    @Test
    void malformedRequestsGetErrorsAndTheDispatcherCarriesOn() {
        try (Harness h = new Harness(new Toy())) {
            assertEquals(-FuseException.ENOSYS, h.send(9999, ROOT_ID, 1, new byte[0]).error(), "unknown opcode");
            assertEquals(-FuseException.ENOSYS, h.send(BMAP, ROOT_ID, 2, le(0L, 4096, 0)).error(), "an opcode the filesystem does not serve");
            assertEquals(-FuseException.EINVAL, h.send(LOOKUP, ROOT_ID, 3, "unterminated".getBytes()).error(), "a name without its NUL");
            assertEquals(-FuseException.EINVAL, h.send(GETATTR, ROOT_ID, 4, new byte[3]).error(), "a body shorter than its struct");
            assertEquals(-FuseException.EINVAL, h.send(BATCH_FORGET, ROOT_ID, 5, le(1_000_000, 0)).error(), "a count beyond the body");
            assertEquals(-FuseException.EINVAL, h.send(WRITE, 5, 6, le(1L, 0L, 1 << 20, 0, 0L, 0, 0)).error(), "a write longer than its request");
            assertEquals(-FuseException.EIO, h.send(LOOKUP, ROOT_ID, 7, le("boom")).error(), "a bug in the filesystem is EIO, not a dead thread");
            assertEquals(0, h.send(LOOKUP, ROOT_ID, 8, le("a")).error(), "and the next request is served");
            assertNull(h.send(INTERRUPT, 0, 9, le(8L)), "INTERRUPT gets no reply");
        }
    }

    @Test
    void forgetsAreDeliveredWithoutReplies() {
        Toy toy = new Toy();
        try (Harness h = new Harness(toy)) {
            assertNull(h.send(FORGET, 5, 1, le(3L)));
            assertNull(h.send(BATCH_FORGET, 0, 2, le(2, 0, 6L, 1L, 7L, 2L)));
            assertEquals(List.of(5L, 3L, 6L, 1L, 7L, 2L), toy.forgotten);
        }
    }

    @Test
    void xattrSizeProtocol() {
        try (Harness h = new Harness(new Toy())) {
            Reply size = h.send(GETXATTR, 5, 1, le(0, 0, "user.k"));
            assertEquals(8, size.body().capacity());
            assertEquals(5, size.body().getInt(0), "size 0 asks for the value's length");
            assertEquals(-FuseException.ERANGE, h.send(GETXATTR, 5, 2, le(3, 0, "user.k")).error(), "a short buffer");
            Reply v = h.send(GETXATTR, 5, 3, le(64, 0, "user.k"));
            assertEquals("value", StandardCharsets.UTF_8.decode(v.body()).toString());
            assertEquals(-FuseException.ENODATA, h.send(GETXATTR, 5, 4, le(64, 0, "user.none")).error());
        }
    }

    @Test
    void readdirFillsWholeAlignedRecordsUpToTheSizeAsked() {
        for (boolean plus : new boolean[] {false, true}) {
            try (Harness h = new Harness(new Toy())) {
                long offset = 0;
                List<String> names = new ArrayList<>();
                for (int round = 0; round < 1000 && offset < 100; round++) {
                    Reply rep = h.send(plus ? READDIRPLUS : READDIR, 5, round, le(0L, offset, 300, 0, 0L, 0, 0));
                    assertEquals(0, rep.error());
                    ByteBuffer b = rep.body();
                    assertTrue(b.capacity() <= 300 && b.capacity() > 0, "a reply within the size asked, not empty while entries remain");
                    int off = 0;
                    while (off < b.capacity()) {
                        int base = plus ? off + ENTRY_OUT : off;
                        if (plus) assertEquals(b.getLong(off), b.getLong(base), "entry node id and dirent ino agree");
                        int namelen = b.getInt(base + 16);
                        byte[] n = new byte[namelen];
                        b.get(base + DIRENT, n);
                        names.add(new String(n, StandardCharsets.UTF_8));
                        offset = b.getLong(base + 8);
                        int rec = ((plus ? DIRENTPLUS : DIRENT) + namelen + 7) & ~7;
                        assertEquals(0, rec % 8);
                        off += rec;
                    }
                    assertEquals(b.capacity(), off, "records fill the reply exactly");
                }
                assertEquals(100, names.size(), "every entry exactly once (plus=" + plus + ")");
                assertEquals("entry-99", names.get(99));
            }
        }
    }

    @Test
    void randomRequestsNeverEscapeTheDispatcher() {
        long seed = Seeds.seed("FuseProtoTest random requests");
        Random rnd = new Random(seed);
        try (Harness h = new Harness(new Toy())) {
            for (int i = 0; i < 20_000; i++) {
                int op = rnd.nextInt(10) == 0 ? rnd.nextInt() : 1 + rnd.nextInt(52);
                if (op == DESTROY || op == INIT) continue;
                byte[] body = new byte[rnd.nextInt(rnd.nextBoolean() ? 16 : 300)];
                rnd.nextBytes(body);
                Reply rep = h.send(op, rnd.nextInt(200), i, body);
                if (rep != null) {
                    assertEquals(i, rep.unique(), "replies carry the request's unique");
                    assertTrue(rep.error() <= 0 && rep.error() > -4096, "errors are negative errnos: " + rep.error());
                    assertTrue(rep.len() >= OUT_HEADER && rep.len() <= BUFFER);
                }
            }
        }
    }

    /** Runs INIT negotiation on a kernel's offer; returns the reply (or the exception's message as an error reply's text). */
    private static Object[] init(int major, int minor, long offered) {
        try (Harness h = new Harness(new Toy())) {
            byte[] body = le(major, minor, 128 * 1024, (int) offered, (int) (offered >>> 32), new byte[44]);
            int len = IN_HEADER + body.length;
            h.in.set(JAVA_INT_UNALIGNED, 0, len);
            h.in.set(JAVA_INT_UNALIGNED, 4, INIT);
            h.in.set(JAVA_LONG_UNALIGNED, 8, 77L);
            h.in.set(JAVA_INT_UNALIGNED, 36, 0);
            MemorySegment.copy(body, 0, h.in, java.lang.foreign.ValueLayout.JAVA_BYTE, IN_HEADER, body.length);
            assertTrue(h.q.decode(h.in, len));
            try {
                long agreed = FuseSession.negotiate(h.q, h.r);
                h.r.send(INIT_OUT);
                return new Object[] {agreed, h.replies.get(0)};
            } catch (java.io.IOException e) {
                return new Object[] {e.getMessage(), h.replies.isEmpty() ? null : h.replies.get(0)};
            }
        }
    }

    @Test
    void initAgreesOnWhatBothSidesHave() {
        long everything = -1L >>> 1;                      // a kernel offering every flag
        Object[] r = init(7, 45, everything);
        long agreed = (Long) r[0];
        Reply rep = (Reply) r[1];
        assertEquals(FuseSession.WANTED, agreed, "everything we ask for, nothing more");
        assertEquals(0, rep.error());
        assertEquals(OUT_HEADER + INIT_OUT, rep.len());
        assertEquals(7, rep.body().getInt(0));
        assertEquals(KERNEL_MINOR, rep.body().getInt(4), "our minor when the kernel's is newer");
        assertEquals(128 * 1024, rep.body().getInt(8), "the kernel's readahead kept");
        assertEquals((int) agreed, rep.body().getInt(12));
        assertEquals(MAX_WRITE, rep.body().getInt(20));
        assertEquals(1, rep.body().getInt(24), "nanosecond times");
        assertEquals(MAX_PAGES_COUNT, Short.toUnsignedInt(rep.body().getShort(28)));
        assertEquals((int) (agreed >>> 32), rep.body().getInt(32));
        for (long f : new long[] {ASYNC_READ, ATOMIC_O_TRUNC, DO_READDIRPLUS, READDIRPLUS_AUTO, PARALLEL_DIROPS, MAX_PAGES, WRITEBACK_CACHE,
                CACHE_SYMLINKS, POSIX_ACL, EXPORT_SUPPORT})
            assertNotEquals(0, agreed & f, "asks for 0x" + Long.toHexString(f));
        assertEquals(0, agreed & (POSIX_LOCKS | FLOCK_LOCKS), "locks stay with the kernel");

        Object[] old = init(7, 31, ASYNC_READ | POSIX_ACL | WRITEBACK_CACHE);
        assertEquals(ASYNC_READ | POSIX_ACL | WRITEBACK_CACHE, (long) (Long) old[0], "only what an older kernel offers");
        assertEquals(31, ((Reply) old[1]).body().getInt(4), "and its minor");

        Object[] tooOld = init(7, 12, everything);
        assertTrue(((String) tooOld[0]).contains("too old"), (String) tooOld[0]);
        assertEquals(-FuseException.EPROTO, ((Reply) tooOld[1]).error());

        Object[] newer = init(8, 0, everything);
        assertTrue(((String) newer[0]).contains("newer major"), (String) newer[0]);
        assertEquals(7, ((Reply) newer[1]).body().getInt(0), "a newer major is told ours, so it can retry");
    }

    @Test
    void headersThatCannotBeRequestsAreRefused() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment in = a.allocate(4096, 8);
            FuseRequest q = new FuseRequest();
            assertFalse(q.decode(in, 10), "shorter than a header");
            in.set(JAVA_INT_UNALIGNED, 0, 100);
            assertFalse(q.decode(in, 60), "length disagreeing with what was read");
            in.set(JAVA_INT_UNALIGNED, 0, 48);
            in.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 36, (short) 5);
            assertFalse(q.decode(in, 48), "extensions longer than the request");
        }
    }
}
