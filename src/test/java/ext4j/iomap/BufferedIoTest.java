package ext4j.iomap;

import ext4j.testutil.Seeds;
import ext4j.block.MemoryBlockDevice;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** The generic engine against a toy filesystem: one named case per rule carried over from the seeds. */
class BufferedIoTest {
    static final int BS = 1024;

    /** A toy filesystem: one file, a block map, delayed blocks, a bump allocator and a sequence number. */
    static final class ToyOps implements MappingOps {
        final Map<Long, Long> map = new HashMap<>();          // lblk -> pblk
        final java.util.Set<Long> unwritten = new java.util.HashSet<>(), delayed = new java.util.HashSet<>();
        long nextFree = 100, seq, diskSize, reservedReleased, mapCalls, writebackMaps;
        int invalidOnce;                                      // isValid says false this many times
        final List<long[]> completions = new ArrayList<>();   // pos, len, sizeLimit
        final List<String> completionThreads = new ArrayList<>();

        @Override public Mapping begin(CachedFile f, long pos, long len, int flags) {
            mapCalls++;
            long b = pos / BS;
            if (delayed.contains(b)) return Mapping.of(MappingType.DELALLOC, b * BS, BS, -1, seq);
            Long p = map.get(b);
            if (p != null) return Mapping.of(unwritten.contains(b) ? MappingType.UNWRITTEN : MappingType.MAPPED, b * BS, BS, p * BS, seq);
            if (flags == WRITE) {
                long n = Math.max(1, (pos + len + BS - 1) / BS - b);
                for (long k = b; k < b + n; k++) { if (map.containsKey(k)) { n = k - b; break; } delayed.add(k); }
                seq++;
                return Mapping.of(MappingType.DELALLOC, b * BS, n * BS, -1, seq);
            }
            return Mapping.of(MappingType.HOLE, b * BS, BS, -1, seq);
        }

        @Override public void end(CachedFile f, long pos, long len, long written, int flags, Mapping m) {
            if (written >= len || m.type() != MappingType.DELALLOC) return;
            for (long b = (pos + written + BS - 1) / BS; b < m.end() / BS; b++)
                if (!f.isDirty(b * BS) && delayed.remove(b)) reservedReleased++;
        }

        @Override public boolean isValid(CachedFile f, Mapping m) {
            if (invalidOnce > 0) { invalidOnce--; return false; }
            return m.cookie() == seq;
        }

        @Override public Mapping mapForWriteback(CachedFile f, long pos, long len) {
            writebackMaps++;
            long b = pos / BS;
            if (!map.containsKey(b)) { map.put(b, nextFree++); unwritten.add(b); delayed.remove(b); seq++; }
            return Mapping.of(unwritten.contains(b) ? MappingType.UNWRITTEN : MappingType.MAPPED, b * BS, BS, map.get(b) * BS, seq);
        }

        /** Files whose large writes may go straight to the device (mapForDirectWrite): holes become written blocks. */
        final java.util.Set<Long> direct = java.util.concurrent.ConcurrentHashMap.newKeySet();

        @Override public Mapping mapForDirectWrite(CachedFile f, long pos, long len, long newSize) {
            if (!direct.contains(f.id())) return null;
            long b = pos / BS, n = len / BS;
            if (delayed.contains(b) || unwritten.contains(b)) return null;
            Long p = map.get(b);
            if (p != null) {                                  // the run of written blocks contiguous on the device
                long k = b + 1;
                while (k < b + n && Long.valueOf(p + (k - b)).equals(map.get(k)) && !unwritten.contains(k)) k++;
                return Mapping.of(MappingType.MAPPED, b * BS, (k - b) * BS, p * BS, seq);
            }
            long k = b;
            for (; k < b + n && !map.containsKey(k) && !delayed.contains(k); k++) map.put(k, nextFree + (k - b));
            nextFree += k - b;
            seq++;
            return Mapping.of(MappingType.MAPPED, b * BS, (k - b) * BS, map.get(b) * BS, seq);
        }

        @Override public void ioCompleted(CachedFile f, long pos, long len, MappingType type) {
            long sizeLimit = f.safeSize(diskSize);
            for (long b = pos / BS; b < (pos + len) / BS; b++) unwritten.remove(b);
            diskSize = Math.max(diskSize, sizeLimit);
            synchronized (completions) { completions.add(new long[]{pos, len, sizeLimit}); completionThreads.add(Thread.currentThread().getName()); }
        }
    }

    private final MemoryBlockDevice dev = new MemoryBlockDevice(new byte[4 << 20], "toy", false);
    private final ToyOps ops = new ToyOps();

    private BufferedIo engine() { return new BufferedIo(dev, ops, 1 << 20, 4096); }

    private static byte[] fill(int n, int v) { byte[] b = new byte[n]; Arrays.fill(b, (byte) v); return b; }

    private byte[] read(BufferedIo io, CachedFile f, long pos, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        io.read(f, pos, b);
        return b.array();
    }

    private byte[] onDevice(long lblk) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(BS);
        dev.read(ops.map.get(lblk) * BS, b);
        return b.array();
    }

    @Test
    void dirtyBitsRoundOutWhenSetAndInWhenCleared() {
        Folio fo = new Folio(null, 0, 4096, new byte[4096], BS);
        fo.setDirty(10, 10);
        assertTrue(fo.dirty.isEmpty(), "a zero-length range changes nothing");
        fo.setDirty(1000, 1030);
        assertEquals("{0, 1}", fo.dirty.toString(), "set rounds out to whole blocks");
        fo.clearDirty(500, 1500);
        assertEquals("{0, 1}", fo.dirty.toString(), "clear rounds in: no whole block inside");
        fo.clearDirty(0, 2048);
        assertTrue(fo.dirty.isEmpty());
    }

    @Test
    void partialInvalidateClearsTheInvalidatedBlocksDirtyBits() throws Exception {
        try (BufferedIo io = engine()) {
            CachedFile f = io.file(1, BS, 0);
            io.write(f, 0, ByteBuffer.wrap(fill(3 * BS, 7)));
            io.invalidate(f, BS, BS);
            io.writeback(f, 0, Long.MAX_VALUE);
            assertTrue(ops.map.containsKey(0L) && ops.map.containsKey(2L));
            assertFalse(ops.map.containsKey(1L), "the invalidated middle block was not written back");
        }
    }

    @Test
    void zeroRangeReportsZeroingOnlyWhenItZeroed() throws Exception {
        try (BufferedIo io = engine()) {
            CachedFile f = io.file(1, BS, 4 * BS);
            assertFalse(io.zeroRange(f, 0, 2 * BS), "a hole needs no zeroing");
            ops.map.put(3L, 50L);
            dev.write(50L * BS, ByteBuffer.wrap(fill(BS, 9)));
            assertTrue(io.zeroRange(f, 3 * BS + 10, 20), "mapped data was zeroed");
            byte[] b = read(io, f, 3 * BS, BS);
            assertEquals(0, b[15]);
            assertEquals(9, b[5]);
        }
    }

    /** Seed 002: blocks UNWRITTEN on disk but dirty in the cache are zeroed in the cache, not skipped. */
    @Test
    void zeroRangeOverDirtyUnwrittenBlocks() throws Exception {
        try (BufferedIo io = engine()) {
            CachedFile f = io.file(1, BS, 4 * BS);
            for (long b = 0; b < 4; b++) { ops.map.put(b, 60 + b); ops.unwritten.add(b); } // fallocated
            io.write(f, 0, ByteBuffer.wrap(fill(4 * BS, 5)));                              // dirty over unwritten
            assertTrue(io.zeroRange(f, BS, 2 * BS), "dirty data over unwritten blocks was zeroed");
            byte[] b = read(io, f, 0, 4 * BS);
            assertEquals(5, b[0]);
            assertEquals(0, b[BS]);
            assertEquals(0, b[3 * BS - 1]);
            assertEquals(5, b[3 * BS]);
            io.fsync(f);
            assertArrayEquals(new byte[BS], onDevice(1), "zeros reached the disk");
            assertArrayEquals(fill(BS, 5), onDevice(3));
        }
    }

    @Test
    void staleCookieMakesTheWriteRemap() throws Exception {
        try (BufferedIo io = engine()) {
            CachedFile f = io.file(1, BS, 0);
            ops.invalidOnce = 1;
            io.write(f, 0, ByteBuffer.wrap(fill(2 * BS, 3)));
            assertEquals(2, ops.mapCalls, "the first mapping was stale: mapped again");
            assertArrayEquals(fill(2 * BS, 3), read(io, f, 0, 2 * BS));
        }
    }

    @Test
    void shortCopyReleasesTheReservationOfWhatWasNotWritten() throws Exception {
        try (BufferedIo io = engine()) {
            CachedFile f = io.file(1, BS, 0);
            int[] given = {0};
            long n = io.write(f, 0, 4 * BS, dst -> {          // the source fails after 1.5 blocks
                int c = Math.min(dst.remaining(), BS + BS / 2 - given[0]);
                dst.put(fill(c, 1), 0, c);
                given[0] += c;
                return c;
            });
            // half a block copied into a block that was never filled counts for nothing (as in iomap)
            assertEquals(BS, n);
            assertEquals(BS, f.size());
            assertEquals(3, ops.reservedReleased, "blocks 1 to 3 got no data: their reservations are released");
            assertEquals(java.util.Set.of(0L), ops.delayed);
        }
    }

    /** Seed 004: appending past a mid-block EOF writes the zeroed tail before the size passes it. */
    @Test
    void appendPastMidBlockEofZeroesTheOldTailFirst() throws Exception {
        ops.map.put(0L, 40L);
        dev.write(40L * BS, ByteBuffer.wrap(fill(BS, 0xEE)));   // stale bytes past EOF on disk
        ops.diskSize = 100;
        try (BufferedIo io = engine()) {
            CachedFile f = io.file(1, BS, 100);
            io.write(f, 3 * BS, ByteBuffer.wrap(fill(BS, 4)));
            assertTrue(f.isDirty(0), "the old EOF block is dirty with its zeroed tail");
            io.fsync(f);
            byte[] b0 = onDevice(0);
            assertEquals((byte) 0xEE, b0[99]);
            for (int i = 100; i < BS; i++) assertEquals(0, b0[i], "tail byte " + i);
            assertOrderedSize(0);
            assertEquals(4 * BS, ops.diskSize);
            assertArrayEquals(new byte[BS], read(io, f, BS, BS), "the gap reads as zeros");
        }
    }

    /** Truncate up, then append: the size waits for the zeroed tail the same way. */
    @Test
    void truncateUpThenAppendPostponesTheSize() throws Exception {
        ops.map.put(0L, 40L);
        dev.write(40L * BS, ByteBuffer.wrap(fill(BS, 0xEE)));
        ops.diskSize = 100;
        try (BufferedIo io = engine()) {
            CachedFile f = io.file(1, BS, 100);
            io.truncate(f, 5000);
            io.write(f, 5000, ByteBuffer.wrap(fill(500, 4)));
            io.fsync(f);
            for (int i = 100; i < BS; i++) assertEquals(0, onDevice(0)[i]);
            assertOrderedSize(0);
            assertEquals(5500, ops.diskSize);
        }
    }

    /** No completion raised the size past block b before b's own completion. */
    private void assertOrderedSize(long b) {
        boolean done = false;
        for (long[] c : ops.completions) {
            if (c[0] <= b * BS && b * BS < c[0] + c[1]) done = true;
            else if (!done) assertTrue(c[2] <= b * BS + BS, "size " + c[2] + " raised before block " + b + " was written");
        }
        assertTrue(done);
    }

    @Test
    void completionsRunOffTheWritersThreadAndMerge() throws Exception {
        try (BufferedIo io = engine()) {
            CachedFile f = io.file(1, BS, 0);
            io.write(f, 0, ByteBuffer.wrap(fill(64 * BS, 2)));
            io.fsync(f);
            assertEquals(64, ops.writebackMaps, "the toy maps one block per call: 64 I/Os");
            assertTrue(ops.completions.size() < 64, ops.completions.size() + " completion calls for 64 I/Os");
            for (String t : ops.completionThreads) assertNotEquals(Thread.currentThread().getName(), t);
            assertEquals(64 * BS, ops.diskSize);
        }
    }

    @Test
    void writebackErrorIsReportedToTheNextFsyncOnce() throws Exception {
        ext4j.block.BlockDevice failing = new ext4j.block.BlockDevice() {
            @Override public long size() { return 1 << 20; }
            @Override public void read(long offset, ByteBuffer dst) throws IOException { dev.read(offset, dst); }
            @Override public void write(long offset, ByteBuffer src) throws IOException { throw new IOException("EIO at " + offset); }
            @Override public void flush() {}
            @Override public boolean isReadOnly() { return false; }
            @Override public String name() { return "failing"; }
            @Override public void close() {}
        };
        try (BufferedIo io = new BufferedIo(failing, ops, 1 << 20, 4096)) {
            CachedFile f = io.file(1, BS, 0);
            io.write(f, 0, ByteBuffer.wrap(fill(BS, 1)));
            IOException e = assertThrows(IOException.class, () -> io.fsync(f));
            assertTrue(e.getMessage().contains("EIO"), e.getMessage());
            io.fsync(f); // reported once
        }
    }

    @Test
    void afterTurningReadOnlyWritebackStartsNothing() throws Exception {
        try (BufferedIo io = engine()) {
            CachedFile f = io.file(1, BS, 0);
            io.write(f, 0, ByteBuffer.wrap(fill(BS, 1)));
            io.setReadOnly();
            assertThrows(IOException.class, () -> io.fsync(f));
            assertEquals(0, ops.writebackMaps, "no writeback mapping (no journal handle) after the switch");
        }
    }

    @Test
    void cacheStaysUnderItsLimit() throws Exception {
        try (BufferedIo io = new BufferedIo(dev, ops, 64 << 10, 4096)) { // 16 folios
            CachedFile f = io.file(1, BS, 0);
            for (int i = 0; i < 64; i++) io.write(f, (long) i * 4096, ByteBuffer.wrap(fill(4096, i + 1)));
            assertTrue(io.cachedBytes() <= 64 << 10, io.cachedBytes() + " bytes cached");
            assertTrue(io.evictions > 0 && io.writebacks > 0, "pressure wrote back and evicted");
            for (int i = 0; i < 64; i++) assertEquals(i + 1, read(io, f, (long) i * 4096 + 7, 1)[0]);
        }
    }

    @Test
    void foliosTakeOnlyTheMemoryTheFileUses() throws Exception {
        try (BufferedIo io = new BufferedIo(dev, ops, 1 << 20, 64 << 10)) {
            CachedFile f = io.file(1, BS, 0);
            io.write(f, 0, ByteBuffer.wrap(fill(1500, 3)));
            assertEquals(2048, io.cachedBytes(), "a 1500-byte file takes two blocks' worth, not a 64 KiB folio");
            io.write(f, 1500, ByteBuffer.wrap(fill(256 * 1024 - 1500, 4))); // grows sequentially into whole folios
            assertEquals(256 * 1024, io.cachedBytes());
            assertArrayEquals(fill(1500, 3), read(io, f, 0, 1500));
            assertEquals(4, read(io, f, 256 * 1024 - 1, 1)[0]);
            io.fsync(f);
            io.dropAll();
            assertEquals(0, io.cachedBytes());
            assertEquals(3, read(io, f, 1499, 1)[0]);                     // read back from the device
            assertEquals(4, read(io, f, 1500, 1)[0]);
        }
    }

    @Test
    void randomWritesGetFoliosTheSizeOfTheWrite() throws Exception {
        long seed = Seeds.seed("BufferedIoTest randomWritesGetFoliosTheSizeOfTheWrite");
        java.util.Random r = new java.util.Random(seed);
        int fileBytes = 2 << 20;
        byte[] model = new byte[fileBytes];
        try (BufferedIo io = new BufferedIo(dev, ops, 8 << 20, 64 << 10)) {
            CachedFile f = io.file(1, BS, 0);
            io.truncate(f, fileBytes);
            // 100 random one-block writes: each caches one block, not a 64 KiB folio
            java.util.Set<Long> blocks = new java.util.TreeSet<>();
            for (int i = 0; i < 100; i++) {
                long b = 1 + r.nextInt(fileBytes / BS - 1);
                byte[] d = fill(BS, 1 + r.nextInt(250));
                io.write(f, b * BS, ByteBuffer.wrap(d));
                System.arraycopy(d, 0, model, (int) b * BS, BS);
                blocks.add(b);
            }
            assertEquals(blocks.size() * (long) BS, io.cachedBytes(), "random writes cache the blocks written");
            // then writes of random lengths and offsets, sequential runs, reads that fill around small folios
            for (int i = 0; i < 3000; i++) {
                int pos = r.nextInt(fileBytes - 1), len = 1 + r.nextInt(Math.min(fileBytes - pos, r.nextBoolean() ? 300 : 150_000));
                if (r.nextInt(3) == 0) {
                    byte[] d = new byte[len];
                    r.nextBytes(d);
                    io.write(f, pos, ByteBuffer.wrap(d));
                    System.arraycopy(d, 0, model, pos, len);
                } else {
                    assertArrayEquals(Arrays.copyOfRange(model, pos, pos + len), read(io, f, pos, len), "seed " + seed + " op " + i);
                }
                if (r.nextInt(500) == 0) io.fsync(f);
                if (r.nextInt(1000) == 0) io.dropAll();
            }
            io.dropAll();
            assertArrayEquals(model, read(io, f, 0, fileBytes), "seed " + seed + ": after writeback and a cache drop");
        }
    }

    @Test
    void recycledFolioMemoryNeverShowsThroughHolesOrPastEof() throws Exception {
        // the toy maps block numbers, not (file, block): file 1 uses [0, 1 MiB), file 2 [2 MiB, 3 MiB)
        try (BufferedIo io = new BufferedIo(dev, ops, 512 << 10, 64 << 10)) {   // 8 folios: memory is recycled at once
            CachedFile a = io.file(1, BS, 0), other = io.file(2, BS, 0);
            for (int i = 0; i < 16; i++) io.write(a, (long) i << 16, ByteBuffer.wrap(fill(1 << 16, 0xAB)));
            io.fsync(a);
            io.dropAll();                                    // the spare pool now holds memory full of 0xAB
            io.truncate(a, 0);
            ops.map.clear();                                 // the toy's truncate: no blocks left
            io.truncate(a, 1 << 20);                         // all hole
            io.write(a, 70_000, ByteBuffer.wrap(fill(100, 7))); // a delayed range in the middle
            io.truncate(a, (1 << 20) - 300);                 // EOF mid-block
            byte[] want = new byte[(1 << 20) - 300];
            Arrays.fill(want, 70_000, 70_100, (byte) 7);
            assertArrayEquals(want, read(io, a, 0, want.length), "sequential read (readahead) of holes and a delayed range");
            io.fsync(a);
            io.dropAll();
            for (int i = 32; i < 48; i++) io.write(other, (long) i << 16, ByteBuffer.wrap(fill(1 << 16, 0xCD)));
            io.fsync(other);
            io.dropAll();                                    // the pool is full of 0xCD
            assertArrayEquals(want, read(io, a, 0, want.length), "after writeback, from the device");
            io.truncate(a, 1 << 20);                         // the bytes past the old EOF read as zeros
            assertArrayEquals(new byte[300], read(io, a, want.length, 300));
        }
    }
}
