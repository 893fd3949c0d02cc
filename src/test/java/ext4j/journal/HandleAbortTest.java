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
}
