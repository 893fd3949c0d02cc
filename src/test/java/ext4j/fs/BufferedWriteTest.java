package ext4j.fs;

import ext4j.base.Errno;
import ext4j.base.FsException;

import ext4j.block.BlockDevice;
import ext4j.block.FileBlockDevice;
import ext4j.base.LockOrder;
import ext4j.ondisk.Inode;
import ext4j.testutil.TestThread;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Buffered writes through the engine on real images: the seeds' ext4-side rules, each a named case. */
class BufferedWriteTest {
    @TempDir Path tmp;

    private Path image(String... extra) throws Exception {
        Path img = tmp.resolve("b" + System.nanoTime() + ".img");
        String[] args = new String[4 + extra.length];
        args[0] = "-t"; args[1] = "ext4"; args[2] = "-b"; args[3] = "1024";
        System.arraycopy(extra, 0, args, 4, extra.length);
        Tools.mke2fs(img, null, "32M", args);
        return img;
    }

    static byte[] readAll(Ext4FileSystem fs, String path) throws Exception {
        Inode i = fs.resolve(path, true);
        ByteBuffer b = ByteBuffer.allocate((int) i.size());
        while (b.hasRemaining() && fs.read(i, b.position(), b) > 0) { }
        return b.array();
    }

    @Test
    void punchPastEofKeepsCachedSize() throws Exception {
        Path img = image();
        byte[] d = new byte[30566];
        new Random(1).nextBytes(d);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/f", 0644, 0, 0);
            fs.write("/f", 0, ByteBuffer.wrap(d));
            fs.punchHole("/f", 237591, 48072);
            assertEquals(d.length, fs.resolve("/f", true).size());
            assertArrayEquals(d, readAll(fs, "/f"));
        }
        Tools.assertFsckClean(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) { assertArrayEquals(d, readAll(fs, "/f")); }
    }

    /**
     * ext3 (indirect blocks, no unwritten state) without delalloc: a write into a hole allocates
     * blocks mapped as written at once. Found by FaultInjectionTest's ext3 rounds, faults or none:
     * the bytes of such a block around a partial write were read from the disk (someone's old
     * data) instead of zeroed, and a truncate below data still in the cache left its blocks mapped
     * past the on-disk size (it grew there), so a later extension showed their stale bytes. Such
     * files now reserve and allocate at writeback even without delalloc (blocks mapped as written
     * before their data must not be committed); allocation at write time is left for a full disk
     * that cannot promise the reservation, and both fixes stay for it.
     */
    @Test
    void indirectWritesWithoutDelallocNeverShowStaleBlocks() throws Exception {
        Path img = tmp.resolve("ext3.img");
        Tools.mke2fs(img, null, "32M", "-t", "ext3", "-b", "4096");
        byte[] junk = new byte[12 << 20];                                    // most of the free space
        java.util.Arrays.fill(junk, (byte) 0x5A);
        Options o = Options.defaults().withDelalloc(false).withCommitMillis(0);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, o)) {  // free blocks full of old bytes
            fs.createFile("/junk", 0644, 0, 0);
            fs.write("/junk", 0, ByteBuffer.wrap(junk));
            fs.sync();
            fs.unlink("/junk");
            fs.sync();
        }
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, o)) {
            fs.createFile("/a", 0644, 0, 0);
            fs.truncate("/a", 100_000);                                       // a hole below EOF
            fs.write("/a", 10_000, ByteBuffer.wrap(new byte[] {1, 2, 3}));      // mid-block, into it
            byte[] a = readAll(fs, "/a");
            assertEquals(100_000, a.length);
            for (int i = 0; i < a.length; i++) assertEquals(i < 10_000 || i >= 10_003 ? 0 : i - 9_999, a[i], "byte " + i + " around a partial write into a new block");
            fs.dropCaches();
            assertArrayEquals(a, readAll(fs, "/a"), "after writeback and a cache drop");

            fs.createFile("/b", 0644, 0, 0);
            fs.write("/b", 0, ByteBuffer.wrap(new byte[100]));
            fs.fsync("/b");                                                   // on disk: 100 bytes
            fs.write("/b", 600_000, ByteBuffer.wrap(new byte[] {9, 9, 9}));   // blocks mapped now, data only in the cache
            fs.truncate("/b", 200_000);                                       // the cache drops them; the disk size grows
            fs.truncate("/b", 1_000_000);
            fs.dropCaches();
            byte[] b = readAll(fs, "/b");
            for (int i = 0; i < b.length; i++) assertEquals(0, b[i], "byte " + i + " of a file truncated and extended");
        }
        Tools.assertFsckClean(img);
    }

    /** Seed rule: the lock order inode -> writer -> folio -> handle -> extent is enforced in the debug mode the suite runs in. */
    @Test
    void lockOrderViolationsAreCaught() throws Exception {
        assumeTrue(LockOrder.ENABLED, "needs -Dext4j.lockcheck=true (set by the build for tests)");
        Path img = image();
        byte[] d = new byte[5000];
        new Random(2).nextBytes(d);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/f", 0644, 0, 0);
            fs.write("/f", 0, ByteBuffer.wrap(d));
            FsWriter w = fs.writerForTest();
            // an fsync (writer lock, then folio lock, then a wait for writeback) from inside a handle
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> w.txn("test", 1, h -> { fs.fsync("/f"); return null; }));
            assertTrue(e.getMessage().contains("taking WRITER while holding HANDLE"), e.getMessage());
            // the core API's inode locks come before the writer lock and everything after it
            Ext4Vfs v = Ext4Vfs.over(fs);
            e = assertThrows(IllegalStateException.class, () -> w.txn("test", 1, h -> { v.lookup(Ext4Vfs.ROOT, "f".getBytes()); return null; }));
            assertTrue(e.getMessage().contains("taking INODE while holding HANDLE"), e.getMessage());
            // waiting for a commit while holding a handle would never end: refused
            e = assertThrows(IllegalStateException.class, () -> w.txn("test", 1, h -> { w.journal().commit(); return null; }));
            assertTrue(e.getMessage().contains("waiting for a journal commit while holding HANDLE"), e.getMessage());
            assertFalse(LockOrder.holds(LockOrder.Level.HANDLE));
            fs.fsync("/f");                                       // nothing is left held: the filesystem goes on
            assertArrayEquals(d, readAll(fs, "/f"));
        }
        Tools.assertFsckClean(img);
    }

    /**
     * Seed rule: ENOSPC at writeback allocation commits the running transaction (whose freed blocks
     * then become allocatable) and retries once. Blocks freed by an uncommitted unlink count as free
     * for the reservation but may not be reused before the commit.
     */
    @Test
    void enospcAtWritebackCommitsAndRetries() throws Exception { enospcCommitsAndRetries(false); }

    /** The same rule where a streaming write (large, aligned) allocates: at the write, not at writeback. */
    @Test
    void enospcAtStreamingWriteCommitsAndRetries() throws Exception { enospcCommitsAndRetries(true); }

    private void enospcCommitsAndRetries(boolean streamed) throws Exception {
        Path img = tmp.resolve("enospc.img");
        Tools.mke2fs(img, null, "8M", "-t", "ext4", "-b", "1024", "-m", "0");
        byte[] a, b;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, Options.defaults().withCommitMillis(600_000))) {   // no timed commit in between
            long free = fs.volume().superblock().freeBlocksCount();
            a = new byte[(int) (free - 400) * 1024];
            new Random(3).nextBytes(a);
            fs.createFile("/a", 0644, 0, 0);
            fs.write("/a", 0, ByteBuffer.wrap(a));
            fs.fsync("/a");
            fs.unlink("/a");                                      // frees ~free-400 blocks in the running transaction
            b = new byte[a.length - 100 * 1024];
            new Random(4).nextBytes(b);
            fs.createFile("/b", 0644, 0, 0);
            long before = fs.writerForTest().tx.enospcRetries;
            if (streamed) fs.write("/b", 0, ByteBuffer.wrap(b));  // allocated at the write, straight from the buffer
            else for (int at = 0; at < b.length; at += 8192)       // small writes are reserved: counted against free space, allocated at writeback
                fs.write("/b", at, ByteBuffer.wrap(b, at, Math.min(8192, b.length - at)));
            assertEquals(streamed, fs.writerForTest().tx.enospcRetries > before, "retried at the write");
            fs.fsync("/b");
            assertTrue(fs.writerForTest().tx.enospcRetries > before, "the allocation did not need the commit-and-retry");
            assertArrayEquals(b, readAll(fs, "/b"));
        }
        Tools.assertFsckClean(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            assertArrayEquals(b, readAll(fs, "/b"));
            assertThrows(FsException.class, () -> fs.resolve("/a", true));
        }
    }

    /**
     * A large append streams from the caller's buffer to new blocks whose handle also stores the
     * size and the mtime: nothing is cached and no completion runs for it, yet the size and mtime
     * are visible at once and on disk after close, and the kernel reads the same bytes.
     */
    @Test
    void streamedAppendStoresSizeAndMtimeWithItsAllocation() throws Exception {
        Path img = tmp.resolve("stream.img");
        Tools.mke2fs(img, null, "64M", "-t", "ext4", "-b", "4096");
        byte[] d = new byte[3 << 20];
        new Random(7).nextBytes(d);
        Inode.Timestamp before;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, Options.defaults())) {
            fs.createFile("/big", 0644, 0, 0);
            before = fs.resolve("/big", true).mtime();
            Thread.sleep(20);
            for (int at = 0; at < d.length; at += 1 << 20) fs.write("/big", at, ByteBuffer.wrap(d, at, 1 << 20));
            Inode live = fs.resolve("/big", true);
            assertEquals(d.length, live.size());
            assertTrue(live.mtime().toInstant().isAfter(before.toInstant()), "mtime moved: " + before + " -> " + live.mtime());
            String stats = fs.ioStats();
            assertTrue(stats.contains(" 0 completions") && stats.contains("0 KiB cached"), stats);
            fs.fsync("/big");
        }
        Tools.assertFsckClean(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            Inode f = fs.resolve("/big", true);
            assertEquals(d.length, f.size());
            assertTrue(f.mtime().toInstant().isAfter(before.toInstant()), "mtime on disk");
            assertArrayEquals(d, readAll(fs, "/big"));
        }
        Tools.requireMount();
        Path mnt = java.nio.file.Files.createDirectories(tmp.resolve("mnt"));
        Tools.mount(img, mnt, "ro");
        try {
            assertArrayEquals(d, java.nio.file.Files.readAllBytes(mnt.resolve("big")), "the kernel's bytes");
        } finally {
            Tools.umount(mnt);
        }
    }

    /** A device whose writes can be made to fail, counting the writes tried. */
    static class FailingDevice implements BlockDevice {
        final BlockDevice inner;
        volatile boolean fail;
        volatile int writesTried;
        FailingDevice(BlockDevice inner) { this.inner = inner; }
        @Override public long size() throws java.io.IOException { return inner.size(); }
        @Override public void read(long offset, ByteBuffer dst) throws java.io.IOException { inner.read(offset, dst); }
        @Override public void write(long offset, ByteBuffer src) throws java.io.IOException {
            writesTried++;
            if (fail) throw new java.io.IOException("injected write error at byte " + offset);
            inner.write(offset, src);
        }
        @Override public void flush() throws java.io.IOException { if (fail) throw new java.io.IOException("injected flush error"); inner.flush(); }
        @Override public boolean isReadOnly() { return false; }
        @Override public String name() { return "failing:" + inner.name(); }
        @Override public void close() throws java.io.IOException { inner.close(); }
    }

    /**
     * Seed rule: after the filesystem turns read-only (a commit failed), writeback starts nothing,
     * fsync, sync and close report EROFS, cached data stays readable, and the image recovers to
     * the last commit that reached the disk.
     */
    @Test
    void failedCommitTurnsTheFilesystemReadOnly() throws Exception {
        Path img = image();
        byte[] first = new byte[100_000], later = new byte[50_000];
        new Random(5).nextBytes(first);
        new Random(6).nextBytes(later);
        FailingDevice dev = new FailingDevice(FileBlockDevice.open(img, false));
        Ext4FileSystem fs = Ext4FileSystem.openReadWrite(dev, false);
        try {
            fs.createFile("/f", 0644, 0, 0);
            fs.write("/f", 0, ByteBuffer.wrap(first));
            fs.fsync("/f");
            fs.write("/f", first.length, ByteBuffer.wrap(later));    // dirty in the cache
            fs.mkdir("/g", 0755, 0, 0);                               // in the running transaction
            dev.fail = true;
            // the data write fails: reported to sync, and the filesystem stays writable (as in ext4)
            java.io.IOException dataError = assertThrows(java.io.IOException.class, fs::sync);
            assertTrue(dataError.getMessage().contains("injected write error"), dataError.getMessage());
            assertThrows(java.io.IOException.class, fs::sync);        // the commit of /g fails: the journal aborts
            int tried = dev.writesTried;
            FsException e = assertThrows(FsException.class, () -> fs.mkdir("/h", 0755, 0, 0));
            assertEquals(ext4j.base.Errno.EROFS, e.errno());
            assertTrue(e.getMessage().contains("read-only after an error"), e.getMessage());
            assertEquals(ext4j.base.Errno.EROFS, assertThrows(FsException.class, () -> fs.fsync("/f")).errno());
            assertEquals(ext4j.base.Errno.EROFS, assertThrows(FsException.class, fs::sync).errno());
            byte[] all = readAll(fs, "/f");                           // the cache still serves what was written
            assertEquals(first.length + later.length, all.length);
            assertArrayEquals(later, Arrays.copyOfRange(all, first.length, all.length));
            assertEquals(ext4j.base.Errno.EROFS, assertThrows(FsException.class, fs::close).errno());
            assertEquals(tried, dev.writesTried, "writes were tried after the filesystem turned read-only");
        } finally {
            dev.fail = false;
            try { fs.close(); } catch (Exception ignored) { }
        }
        Ext4FileSystem.recover(img);
        Tools.assertFsckClean(img);
        try (Ext4FileSystem r = Ext4FileSystem.openReadOnly(img)) {
            assertArrayEquals(first, readAll(r, "/f"));               // the last commit that reached the disk
            assertThrows(FsException.class, () -> r.resolve("/g", true));
        }
    }

    /**
     * A sequential write through the engine becomes a few long extents (delayed allocation then one
     * allocation per dirty run at writeback), and the Linux kernel reads the file back identically.
     */
    @Test
    void sequentialWriteGivesLongExtentsTheKernelReads() throws Exception {
        Path img = tmp.resolve("seq.img");
        Tools.mke2fs(img, null, "300M", "-t", "ext4", "-b", "4096");
        byte[] chunk = new byte[1 << 20];
        java.security.MessageDigest want = java.security.MessageDigest.getInstance("SHA-256");
        Random r = new Random(8);
        int mib = 160;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/big", 0644, 0, 0);
            for (int i = 0; i < mib; i++) {
                r.nextBytes(chunk);
                want.update(chunk);
                fs.write("/big", (long) i << 20, ByteBuffer.wrap(chunk));
            }
            fs.fsync("/big");
        }
        Tools.assertFsckClean(img);
        String ex = Tools.debugfs(img, "ex /big");
        long extents = ex.lines().map(String::trim).filter(l -> l.matches("(\\d+)/ *\\1 .*")).count(); // leaf level: level == depth
        assertTrue(extents >= 2 && extents <= 4, mib + " MiB written sequentially should be 2 to 4 extents of at most 32768 blocks:\n" + ex);
        String hex = java.util.HexFormat.of().formatHex(want.digest());
        Tools.requireMount();                                   // a visible skip where the kernel cannot loop-mount
        Path mnt = java.nio.file.Files.createDirectory(tmp.resolve("mnt"));
        Tools.mount(img, mnt, "ro");
        try {
            assertEquals(hex + "  " + mnt.resolve("big"), Tools.ok("sha256sum", mnt.resolve("big").toString()).trim());
        } finally {
            Tools.umount(mnt);
        }
    }

    /**
     * Ordered data on an indirect-mapped (ext3) file, which has no unwritten state: blocks the
     * writeback maps as written must not be committed before their data is written, so a commit
     * asked for by another thread at that moment waits until the data write is issued.
     */
    @Test
    void indirectWritebackHoldsCommitsUntilTheDataIsWritten() throws Exception {
        Path img = tmp.resolve("ext3.img");
        Tools.mke2fs(img, null, "32M", "-t", "ext3", "-b", "1024");
        byte[] d = new byte[64 * 1024];
        Arrays.fill(d, (byte) 0x5A);
        java.util.concurrent.atomic.AtomicReference<TestThread> committer = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.atomic.AtomicBoolean committedTooEarly = new java.util.concurrent.atomic.AtomicBoolean();
        Ext4FileSystem[] fsRef = new Ext4FileSystem[1];
        BlockDevice inner = FileBlockDevice.open(img, false);
        BlockDevice dev = new FailingDevice(inner) {
            @Override public void write(long offset, ByteBuffer src) throws java.io.IOException {
                boolean data = src.remaining() >= 4096 && src.get(src.position()) == 0x5A && src.get(src.position() + 4095) == 0x5A;
                if (data && committer.get() == null) {           // the first data write of the writeback: another thread asks for a commit now
                    TestThread t = TestThread.start("committer", () -> Ext4FileSystemAccess.journal(fsRef[0]).commit());
                    committer.set(t);
                    try { t.join(300); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
                    committedTooEarly.set(!t.isAlive());
                }
                super.write(offset, src);
            }
        };
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(dev, false)) {
            fsRef[0] = fs;
            fs.createFile("/f", 0644, 0, 0);
            fs.fsync("/f");
            fs.write("/f", 0, ByteBuffer.wrap(d));
            fs.fsync("/f");
            assertNotNull(committer.get(), "the data write was not seen");
            assertFalse(committedTooEarly.get(), "a commit went through between the allocation and the data write");
            committer.get().joinAndCheck(10_000);                // the held commit went through, and without an exception
            assertArrayEquals(d, readAll(fs, "/f"));
        }
        Tools.assertFsckClean(img);
    }

    /**
     * A file of thousands of extents (every other block written, back to front, so each new
     * extent goes in at the start): the packed extent tree is rewritten past 64 nodes in one
     * handle, which asks for the credits it needs. e2fsck and the bytes check the result.
     */
    @Test
    void writebackIntoAFileOfManyExtents() throws Exception {
        Path img = image();
        int n = 6000;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            fs.createFile("/sparse", 0644, 0, 0);
            for (int i = n - 1; i >= 0; i--) {
                fs.write("/sparse", 2L * i * 1024, ByteBuffer.wrap(fill1k(i)));
                if (i % 500 == 0) fs.fsync("/sparse");            // several writebacks, each inserting before the last
            }
            fs.fsync("/sparse");
        }
        Tools.assertFsckClean(img);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            byte[] all = readAll(fs, "/sparse");
            for (int i = 0; i < n; i++) {
                assertArrayEquals(fill1k(i), Arrays.copyOfRange(all, 2 * i * 1024, 2 * i * 1024 + 1024), "block " + 2 * i);
                if (i + 1 < n) assertEquals(0, all[(2 * i + 1) * 1024], "hole at block " + (2 * i + 1));
            }
        }
    }

    private static byte[] fill1k(int i) { byte[] b = new byte[1024]; Arrays.fill(b, (byte) (i % 251 + 1)); return b; }

    /**
     * fdatasync commits only when the file's size or mapping changed since the last commit: an
     * overwrite in place (a new mtime only) is made durable by a flush alone, and survives a cut.
     */
    @Test
    void fdatasyncCommitsOnlyForSizeOrMappingChanges() throws Exception {
        Path img = image();
        byte[] a = new byte[8192], b = new byte[4096], c = new byte[4096], d = new byte[4096];
        Random r = new Random(9);
        r.nextBytes(a); r.nextBytes(b); r.nextBytes(c); r.nextBytes(d);
        Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, Options.defaults().withCommitMillis(600_000));
        ext4j.journal.JbdJournal j = (ext4j.journal.JbdJournal) fs.journalForTest();
        fs.createFile("/f", 0644, 0, 0);
        fs.write("/f", 0, ByteBuffer.wrap(a));
        long before = j.commits();
        fs.fdatasync("/f");
        assertTrue(j.commits() > before, "a new file's blocks and size need a commit");
        before = j.commits();
        fs.write("/f", 0, ByteBuffer.wrap(b));                     // in place: only the mtime changes
        fs.fdatasync("/f");
        assertEquals(before, j.commits(), "an overwrite in place needs no commit");
        fs.write("/f", a.length, ByteBuffer.wrap(c));              // append: new blocks and size
        fs.fdatasync("/f");
        assertTrue(j.commits() > before, "an append needs a commit");
        before = j.commits();
        fs.write("/f", 4096, ByteBuffer.wrap(d));
        fs.fdatasync("/f");
        assertEquals(before, j.commits());
        Ext4FileSystemAccess.abandon(fs);                          // power cut right after
        Ext4FileSystem.recover(img);
        Tools.assertFsckClean(img);
        byte[] want = new byte[a.length + c.length];
        System.arraycopy(b, 0, want, 0, 4096);
        System.arraycopy(d, 0, want, 4096, 4096);
        System.arraycopy(c, 0, want, a.length, c.length);
        try (Ext4FileSystem ro = Ext4FileSystem.openReadOnly(img)) { assertArrayEquals(want, readAll(ro, "/f")); }
    }
}
