package ext4j.iomap;

import ext4j.block.BlockDevice;
import ext4j.block.MemoryBlockDevice;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The engine issues device I/O with its lock let go (DESIGN.md, concurrency): while one file's
 * writeback write, readahead read or cache-miss read is stuck in the device, other files' cached
 * reads, cold reads and buffered writes complete. Each case stalls the device on purpose and fails
 * (a timeout, not a timing measurement) if the other file's operation waits for the stalled I/O.
 */
class EngineUnlockedIoTest {
    static final int BS = BufferedIoTest.BS;
    /** Logical block where file A's range starts: the toy mapping is shared, so the two files use disjoint ranges (B's from 0). */
    static final long A = 1024;

    /** A device whose reads or writes of one byte range stop until released, saying when one has stopped. */
    static final class StallingDevice implements BlockDevice {
        final MemoryBlockDevice dev;
        volatile long stallFrom = -1, stallTo = -1;
        volatile boolean stallWrites, stallReads;
        final CountDownLatch stalled = new CountDownLatch(1), release = new CountDownLatch(1);

        StallingDevice(MemoryBlockDevice dev) { this.dev = dev; }

        private void maybeStall(boolean write, long off, int len) throws IOException {
            if ((write ? stallWrites : stallReads) && off < stallTo && off + len > stallFrom) {
                stalled.countDown();
                try {
                    if (!release.await(60, TimeUnit.SECONDS)) throw new IOException("stalled I/O never released");
                } catch (InterruptedException e) { throw new java.io.InterruptedIOException(); }
            }
        }

        @Override public long size() throws IOException { return dev.size(); }
        @Override public void read(long offset, ByteBuffer dst) throws IOException { maybeStall(false, offset, dst.remaining()); dev.read(offset, dst); }
        @Override public void write(long offset, ByteBuffer src) throws IOException { maybeStall(true, offset, src.remaining()); dev.write(offset, src); }
        @Override public void flush() throws IOException { dev.flush(); }
        @Override public boolean isReadOnly() { return false; }
        @Override public String name() { return "stalling"; }
        @Override public void close() throws IOException { dev.close(); }
    }

    private final BufferedIoTest.ToyOps ops = new BufferedIoTest.ToyOps();
    private final StallingDevice dev = new StallingDevice(new MemoryBlockDevice(new byte[8 << 20], "toy", false));

    /** Threads of their own: the common pool may have one thread, which the stuck operation holds. */
    private final java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newCachedThreadPool();

    @org.junit.jupiter.api.AfterEach void stopPool() { dev.release.countDown(); pool.shutdownNow(); }

    private static byte[] fill(int n, int v) { byte[] b = new byte[n]; Arrays.fill(b, (byte) v); return b; }

    /** Maps count logical blocks from lblk to physical ones from pblk, the k-th written on the device as bytes of value(k). */
    private void mapOnDevice(long lblk, int count, long pblk, java.util.function.IntUnaryOperator value) throws IOException {
        for (int k = 0; k < count; k++) {
            ops.map.put(lblk + k, pblk + k);
            dev.dev.write((pblk + k) * BS, ByteBuffer.wrap(fill(BS, value.applyAsInt(k))));
        }
    }

    /** File A: 8 blocks of 0x11 written back and cached, plus 8 more mapped on the device but not cached. */
    private CachedFile fileA(BufferedIo io) throws IOException {
        CachedFile a = io.file(1, BS, 0);
        io.write(a, A * BS, ByteBuffer.wrap(fill(8 * BS, 0x11)));
        io.writeback(a, 0, Long.MAX_VALUE);
        mapOnDevice(A + 8, 8, 3000 + A + 8, k -> 0x22);
        io.resize(a, (A + 16) * BS);
        return a;
    }

    /** With I/O of file B stuck in the device: A's cached read, cold read and buffered write complete. */
    private void othersGoOn(BufferedIo io, CachedFile a, CompletableFuture<?> stuck) throws Exception {
        assertTrue(dev.stalled.await(20, TimeUnit.SECONDS), "file B's I/O reached the device");
        assertFalse(stuck.isDone(), "file B's operation waits for its stalled I/O");
        CompletableFuture<byte[]> cached = CompletableFuture.supplyAsync(() -> read(io, a, A * BS, 4 * BS), pool);
        CompletableFuture<byte[]> cold = CompletableFuture.supplyAsync(() -> read(io, a, (A + 12) * BS, BS), pool);
        try {
            assertArrayEquals(fill(4 * BS, 0x11), cached.get(20, TimeUnit.SECONDS), "A's cached read");
            assertArrayEquals(fill(BS, 0x22), cold.get(20, TimeUnit.SECONDS), "A's cold read");
            CompletableFuture<Long> write = CompletableFuture.supplyAsync(() -> {
                try { return io.write(a, (A + 2) * BS, ByteBuffer.wrap(fill(BS, 0x33))); } catch (IOException e) { throw new RuntimeException(e); }
            }, pool);
            assertEquals(BS, write.get(20, TimeUnit.SECONDS), "A's buffered write");
        } catch (TimeoutException e) {
            fail("file A waited for file B's stalled device I/O");
        } finally {
            dev.release.countDown();
        }
        stuck.get(20, TimeUnit.SECONDS);
        assertArrayEquals(fill(BS, 0x33), read(io, a, (A + 2) * BS, BS));
    }

    private static byte[] read(BufferedIo io, CachedFile f, long pos, int n) {
        ByteBuffer b = ByteBuffer.allocate(n);
        try { io.read(f, pos, b); } catch (IOException e) { throw new RuntimeException(e); }
        return b.array();
    }

    @Test
    void writebackWriteDoesNotHoldTheEngine() throws Exception {
        try (BufferedIo io = new BufferedIo(dev, ops, 4 << 20, 64 * 1024)) {
            CachedFile a = fileA(io);
            CachedFile b = io.file(2, BS, 0);
            io.write(b, 0, ByteBuffer.wrap(fill(64 * BS, 0x44)));
            dev.stallFrom = 0; dev.stallTo = Long.MAX_VALUE; dev.stallWrites = true;
            CompletableFuture<Void> wb = CompletableFuture.runAsync(() -> {
                try { io.writeback(b, 0, Long.MAX_VALUE); } catch (IOException e) { throw new RuntimeException(e); }
            }, pool);
            othersGoOn(io, a, wb);
            dev.stallWrites = false;
            ByteBuffer on = ByteBuffer.allocate(BS);
            dev.dev.read(ops.map.get(63L) * BS, on);
            assertArrayEquals(fill(BS, 0x44), on.array(), "B's data reached the device after the stall");
        }
    }

    @Test
    void readaheadReadDoesNotHoldTheEngine() throws Exception {
        try (BufferedIo io = new BufferedIo(dev, ops, 4 << 20, 64 * 1024)) {
            CachedFile a = fileA(io);
            mapOnDevice(0, 256, 5000, k -> k);
            CachedFile b = io.file(2, BS, 256 * BS);
            dev.stallFrom = 5000L * BS; dev.stallTo = 5256L * BS; dev.stallReads = true;
            CompletableFuture<byte[]> seq = CompletableFuture.supplyAsync(() -> read(io, b, 0, 16 * BS), pool); // from the start: readahead
            othersGoOn(io, a, seq);
            byte[] got = seq.get();
            for (int k = 0; k < 16; k++) assertEquals((byte) k, got[k * BS], "B's block " + k);
        }
    }

    /** A read with a block check (fs-verity) takes the exclusive path; its cache-miss fill reads with the lock let go. */
    @Test
    void checkedCacheMissReadDoesNotHoldTheEngine() throws Exception {
        try (BufferedIo io = new BufferedIo(dev, ops, 4 << 20, 64 * 1024)) {
            CachedFile a = fileA(io);
            mapOnDevice(0, 4, 6000, k -> 0x55);
            CachedFile b = io.file(2, BS, 4 * BS);
            io.read(b, 3 * BS, ByteBuffer.allocate(BS));             // B's next read is not sequential: no readahead
            dev.stallFrom = 6000L * BS; dev.stallTo = 6003L * BS; dev.stallReads = true;
            java.util.List<Long> checked = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
            CompletableFuture<byte[]> miss = CompletableFuture.supplyAsync(() -> {
                ByteBuffer dst = ByteBuffer.allocate(2 * BS);
                try { io.read(b, BS, dst, (blk, data, off) -> checked.add(blk)); } catch (IOException e) { throw new RuntimeException(e); }
                return dst.array();
            }, pool);
            othersGoOn(io, a, miss);
            assertArrayEquals(fill(2 * BS, 0x55), miss.get());
            assertEquals(java.util.List.of(1L, 2L), checked, "each block read was checked once");
        }
    }

    /** A large read of a range nothing of which is cached streams from the device: right bytes, nothing cached, the engine free meanwhile. */
    @Test
    void largeUncachedReadStreamsWithoutHoldingTheEngine() throws Exception {
        try (BufferedIo io = new BufferedIo(dev, ops, 4 << 20, 64 * 1024)) {
            CachedFile a = fileA(io);
            mapOnDevice(0, 64, 7000, k -> k + 1);
            CachedFile b = io.file(2, BS, 80 * BS);                 // blocks 64..79: a hole inside the size
            long cachedBefore = io.cachedBytes();
            dev.stallFrom = 7000L * BS; dev.stallTo = 7064L * BS; dev.stallReads = true;
            CompletableFuture<byte[]> big = CompletableFuture.supplyAsync(() -> read(io, b, 0, 80 * BS), pool);
            othersGoOn(io, a, big);
            byte[] got = big.get();
            for (int k = 0; k < 64; k++) assertEquals((byte) (k + 1), got[k * BS + BS - 1], "B's block " + k);
            for (int k = 64 * BS; k < 80 * BS; k++) assertEquals(0, got[k], "the hole reads as zeros, byte " + k);
            assertTrue(io.stats().contains(" 1 streamed"), io.stats());
            assertEquals(0, b.foliosIn(0, 80 * BS).size(), "a streamed read caches nothing");
            assertTrue(io.cachedBytes() >= cachedBefore, "file A's cache is kept");
        }
    }

    /** A write into the range while a streamed read is in the device: the read is not returned from the stale device bytes. */
    @Test
    void aWriteDuringAStreamedReadIsNotLost() throws Exception {
        try (BufferedIo io = new BufferedIo(dev, ops, 4 << 20, 64 * 1024)) {
            mapOnDevice(0, 64, 7000, k -> 0x66);
            CachedFile b = io.file(2, BS, 64 * BS);
            dev.stallFrom = 7000L * BS; dev.stallTo = 7064L * BS; dev.stallReads = true;
            CompletableFuture<byte[]> big = CompletableFuture.supplyAsync(() -> read(io, b, 0, 64 * BS), pool);
            assertTrue(dev.stalled.await(20, TimeUnit.SECONDS), "the streamed read reached the device");
            io.write(b, 10 * BS, ByteBuffer.wrap(fill(BS, 0x77)));   // a full block: no device read, so it does not stall
            dev.stallReads = false;
            dev.release.countDown();
            byte[] got = big.get(20, TimeUnit.SECONDS);
            assertArrayEquals(fill(BS, 0x77), Arrays.copyOfRange(got, 10 * BS, 11 * BS), "the block written meanwhile");
            assertArrayEquals(fill(BS, 0x66), Arrays.copyOfRange(got, 0, BS), "a block nobody wrote");
        }
    }
    /** A large aligned write goes from the caller's buffer to the device: nothing cached, and the engine free while it is in the device. */
    @Test
    void streamingWriteDoesNotHoldTheEngine() throws Exception {
        try (BufferedIo io = new BufferedIo(dev, ops, 4 << 20, 64 * 1024)) {
            CachedFile a = fileA(io);
            CachedFile b = io.file(2, BS, 0);
            ops.direct.add(b.id());                                // A's write in othersGoOn stays buffered
            dev.stallFrom = 0; dev.stallTo = Long.MAX_VALUE; dev.stallWrites = true;
            CompletableFuture<Long> big = CompletableFuture.supplyAsync(() -> {
                try { return io.write(b, 0, ByteBuffer.wrap(fill(128 * BS, 0x44))); } catch (IOException e) { throw new RuntimeException(e); }
            }, pool);
            othersGoOn(io, a, big);
            assertEquals(128 * BS, big.get(20, TimeUnit.SECONDS));
            dev.stallWrites = false;
            assertEquals(0, b.foliosIn(0, 128 * BS).size(), "a streamed write caches nothing");
            assertFalse(b.hasPending(0, 128 * BS), "nothing is left to write back");
            assertEquals(128 * BS, b.size());
            for (long k = 0; k < 128; k += 17) {
                ByteBuffer on = ByteBuffer.allocate(BS);
                dev.dev.read(ops.map.get(k) * BS, on);
                assertArrayEquals(fill(BS, 0x44), on.array(), "block " + k + " on the device");
            }
            assertArrayEquals(fill(128 * BS, 0x44), read(io, b, 0, 128 * BS));
        }
    }

    /**
     * A read of blocks a streaming write has in the device waits for it and returns the new bytes,
     * never the old ones (cached or on the device); an unaligned write streams its whole blocks and
     * buffers its edges.
     */
    @Test
    void aReadDuringAStreamingWriteSeesTheNewBytes() throws Exception {
        try (BufferedIo io = new BufferedIo(dev, ops, 4 << 20, 64 * 1024)) {
            mapOnDevice(0, 200, 7000, k -> 0x66);
            CachedFile b = io.file(2, BS, 200 * BS);
            assertArrayEquals(fill(8 * BS, 0x66), read(io, b, 40 * BS, 8 * BS), "old bytes, now cached");
            ops.direct.add(b.id());
            dev.stallFrom = 7000L * BS; dev.stallTo = 7200L * BS; dev.stallWrites = true;
            long from = 10 * BS + 100, len = 100 * BS;               // blocks 11..109 stream, the edges go to the cache
            CompletableFuture<Long> w = CompletableFuture.supplyAsync(() -> {
                try { return io.write(b, from, ByteBuffer.wrap(fill((int) len, 0x77))); } catch (IOException e) { throw new RuntimeException(e); }
            }, pool);
            assertTrue(dev.stalled.await(20, TimeUnit.SECONDS), "the streaming write reached the device");
            CompletableFuture<byte[]> cachedRange = CompletableFuture.supplyAsync(() -> read(io, b, 40 * BS, 8 * BS), pool);
            CompletableFuture<byte[]> coldRange = CompletableFuture.supplyAsync(() -> read(io, b, 60 * BS, 2 * BS), pool);
            assertThrows(TimeoutException.class, () -> cachedRange.get(300, TimeUnit.MILLISECONDS), "the read waits for the write in the device");
            dev.stallWrites = false;
            dev.release.countDown();
            assertEquals(len, w.get(20, TimeUnit.SECONDS));
            assertArrayEquals(fill(8 * BS, 0x77), cachedRange.get(20, TimeUnit.SECONDS), "the cached old bytes were dropped");
            assertArrayEquals(fill(2 * BS, 0x77), coldRange.get(20, TimeUnit.SECONDS));
            byte[] all = read(io, b, 0, 200 * BS);
            for (int i = 0; i < 200 * BS; i++) assertEquals(i >= from && i < from + len ? 0x77 : 0x66, all[i], "byte " + i);
            assertTrue(b.hasPending(10 * BS, 11 * BS) && b.hasPending(110 * BS, 111 * BS), "the partial edge blocks are buffered");
            assertFalse(b.hasPending(11 * BS, 110 * BS), "the whole blocks were streamed");
            io.writeback(b, 0, Long.MAX_VALUE);
            io.dropAll();
            all = read(io, b, 0, 200 * BS);
            for (int i = 0; i < 200 * BS; i++) assertEquals(i >= from && i < from + len ? 0x77 : 0x66, all[i], "byte " + i + " from the device");
        }
    }
}
