package ext4j.block;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The metadata rule for readers: a block a running handle edits is seen by other threads as it was
 * before the handle until the handle stops (then all its blocks at once), and never if it aborts;
 * the handle's own thread sees its edits; a view handed out earlier never changes.
 */
class BufferCacheCowTest {
    private static byte other(BufferCache c, long block, int off) throws Exception {
        return CompletableFuture.supplyAsync(() -> {
            try { return c.read(block).get(off); } catch (Exception e) { throw new RuntimeException(e); }
        }).get();
    }

    @Test
    void otherThreadsSeeOnlyPublishedBlocks() throws Exception {
        MemoryBlockDevice dev = new MemoryBlockDevice(new byte[1024 * 64], "mem", false);
        BufferCache c = new BufferCache(dev, 1024, 16);
        ByteBuffer before = c.read(3);                           // a reader's view from before the edit
        ByteBuffer w = c.writable(3, false);
        w.put(10, (byte) 7);
        c.writable(4, false).put(0, (byte) 9);
        assertEquals(7, c.read(3).get(10), "the editing thread sees its edit");
        assertEquals(0, other(c, 3, 10), "another thread sees the block as before the handle");
        assertEquals(0, other(c, 4, 0));
        c.publish();
        assertEquals(7, other(c, 3, 10), "published at the handle's stop");
        assertEquals(9, other(c, 4, 0), "every block of the handle together");
        assertEquals(0, before.get(10), "a view taken earlier never changes under its reader");
        assertTrue(c.isDirty(3) && c.isDirty(4));

        c.writable(3, false).put(10, (byte) 8);
        c.discard();                                             // an aborted handle
        assertEquals(7, c.read(3).get(10));
        assertEquals(7, other(c, 3, 10));
        assertEquals(7, c.copyOf(3)[10]);
    }

    /** Two threads' handles edit different blocks at once; a block another thread's handle edits is refused until that handle stops. */
    @Test
    void aBlockHasOneEditingHandleAtATime() throws Exception {
        BufferCache c = new BufferCache(new MemoryBlockDevice(new byte[1024 * 16], "mem", false), 1024, 16);
        c.writable(1, false).put(0, (byte) 1);
        CompletableFuture.runAsync(() -> {                      // another thread's handle: its own block, then mine
            try {
                c.writable(2, false).put(0, (byte) 2);
                var busy = assertThrows(BlockBusyException.class, () -> c.writable(1, false));
                assertEquals(1, busy.block());
                assertEquals(0, c.read(1).get(0), "it sees my block as published");
                assertThrows(BlockBusyException.class, () -> c.forget(1));
                c.publish();
            } catch (java.io.IOException e) { throw new java.io.UncheckedIOException(e); }
        }).get();
        assertEquals(2, c.read(2).get(0), "its handle stopped: published");
        assertEquals(1, c.read(1).get(0), "mine still is mine");
        assertEquals(0, other(c, 1, 0));
        c.publish();
        CompletableFuture.runAsync(() -> {                      // now free again for another thread's handle
            try {
                assertEquals(1, c.writable(1, false).get(0));
                c.discard();
            } catch (java.io.IOException e) { throw new java.io.UncheckedIOException(e); }
        }).get();
        assertEquals(1, other(c, 1, 0));
    }
    /**
     * Merged access (bitmaps, inode tables): two threads' handles change different bits of one
     * block at once; each sees the other's only once published, each stop publishes only its own
     * bits over the latest bytes, an abort drops only its own; editing alone is refused while
     * another handle edits merged, and the reverse.
     */
    @Test
    void mergedEditsKeepEachHandlesBits() throws Exception {
        BufferCache c = new BufferCache(new MemoryBlockDevice(new byte[1024 * 16], "mem", false), 1024, 16);
        c.writableMerged(5).put(0, (byte) 0x01);
        CompletableFuture.runAsync(() -> {
            try {
                ByteBuffer o = c.writableMerged(5);
                assertEquals(0, o.get(0), "my unpublished bit is not in its copy");
                o.put(0, (byte) 0x02).put(100, (byte) 7);
                assertThrows(BlockBusyException.class, () -> c.writable(5, false));
                c.publish();
            } catch (java.io.IOException e) { throw new java.io.UncheckedIOException(e); }
        }).get();
        assertEquals(0x03, c.read(5).get(0), "my copy has its published bit beside mine");
        assertEquals(7, c.read(5).get(100));
        assertEquals(0x02, other(c, 5, 0), "readers: only what was published");
        c.publish();
        assertEquals(0x03, other(c, 5, 0), "mine published over its");
        assertEquals(7, other(c, 5, 100));

        c.writableMerged(5).put(0, (byte) 0x07);
        CompletableFuture.runAsync(() -> {
            try { c.writableMerged(5).put(1, (byte) 9); c.publish(); } catch (java.io.IOException e) { throw new java.io.UncheckedIOException(e); }
        }).get();
        c.discard();                                             // my handle aborted: its bit goes, the other's stays
        assertEquals(0x03, other(c, 5, 0));
        assertEquals(9, other(c, 5, 1));

        c.writable(6, false).put(0, (byte) 1);
        CompletableFuture.runAsync(() -> assertThrows(BlockBusyException.class, () -> c.writableMerged(6))).get();
        c.publish();
        assertEquals(1, other(c, 6, 0));
    }
}
