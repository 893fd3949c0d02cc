package ext4j.journal;

import ext4j.fs.Ext4FileSystem;
import ext4j.fs.Ext4FileSystemAccess;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** An aborted handle leaves the running transaction committable, even when it had created new blocks. */
class HandleAbortTest {
    @TempDir Path tmp;

    @Test
    void abortAfterCreatingABlockThenCommit() throws Exception {
        Path img = tmp.resolve("a.img");
        Tools.mke2fs(img, null, "32M", "-t", "ext4");
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.mkdir("/before", 0755, 0, 0);              // something in the running transaction
            Journal j = Ext4FileSystemAccess.journal(fs);
            long free = fs.superblock().blocksCount() - 1; // the last block: free in a fresh image
            Handle h = j.start("test", 4);
            ByteBuffer b = h.getCreateAccess(free);
            b.put(0, (byte) 0x5A);
            h.abort();                                   // the created block leaves the cache with the abort
            fs.mkdir("/after", 0755, 0, 0);
            j.commit();                                  // failed before: "journaled block ... is not in the cache"
        }
        Tools.assertFsckClean(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            assertNotNull(fs.resolve("/before", true));
            assertNotNull(fs.resolve("/after", true));
        }
    }

    /**
     * An abort puts back exactly what readers saw before the handle: blocks it edited (copy-on-write:
     * their published bytes never changed), blocks it freed (dropped from the cache, restored), and
     * blocks it made that were not cached (forgotten again).
     */
    @Test
    void abortPutsBackEditedFreedAndMadeBlocks() throws Exception {
        ext4j.block.MemoryBlockDevice dev = new ext4j.block.MemoryBlockDevice(new byte[1 << 20], "mem", false);
        for (int b = 0; b < 8; b++) dev.write(b * 1024L, ByteBuffer.wrap(new byte[1024]).put(0, (byte) (b + 1)));
        ext4j.block.BufferCache cache = new ext4j.block.BufferCache(dev, 1024, 64);
        cache.read(2);
        cache.read(3);
        Handle.HandleOwner owner = new Handle.HandleOwner() {
            @Override public void stopped(Handle h) { }
            @Override public void aborted(Handle h) { }
        };
        Handle h = new Handle(owner, cache, "test", 8);
        h.getWriteAccess(2).put(0, (byte) 0x22);                  // edited
        h.getWriteAccess(3).put(0, (byte) 0x33);
        h.forget(3);                                               // edited, then freed
        h.getCreateAccess(5).put(0, (byte) 0x55);                  // made, not cached before
        h.getWriteAccess(6).put(0, (byte) 0x66);                   // edited, not cached before
        assertEquals(3, cache.publishedCopy(2)[0], "readers still see block 2 as it was while the handle runs");
        h.abort();
        assertEquals(3, cache.read(2).get(0), "edited block: its published bytes");
        assertEquals(4, cache.read(3).get(0), "freed block: back in the cache with its bytes");
        assertFalse(cache.contains(5), "made block: not cached after the abort");
        assertEquals(6, cache.read(5).get(0), "made block: the device's bytes again");
        assertEquals(7, cache.read(6).get(0));
    }
}
