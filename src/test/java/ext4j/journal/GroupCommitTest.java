package ext4j.journal;

import ext4j.block.BlockDevice;
import ext4j.block.FileBlockDevice;
import ext4j.fs.Ext4FileSystem;
import ext4j.fs.Ext4FileSystemAccess;
import ext4j.fs.Options;
import ext4j.ondisk.Inode;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Group commit: threads that create, write and fsync files at the same time share journal commits
 * (an fsync that queued behind a commit finds its changes in the next one), and every fsync that
 * returned is durable: a power cut right after the last one loses nothing.
 */
class GroupCommitTest {
    @TempDir Path tmp;

    /** A device whose flush takes a few milliseconds, like a disk's cache flush. */
    private static BlockDevice slowFlush(BlockDevice d) {
        return new BlockDevice() {
            @Override public long size() throws IOException { return d.size(); }
            @Override public void read(long o, ByteBuffer b) throws IOException { d.read(o, b); }
            @Override public void write(long o, ByteBuffer b) throws IOException { d.write(o, b); }
            @Override public void flush() throws IOException {
                d.flush();
                try { Thread.sleep(3); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
            }
            @Override public boolean isReadOnly() { return false; }
            @Override public String name() { return d.name(); }
            @Override public void close() throws IOException { d.close(); }
        };
    }

    interface ThreadBody { void run(int thread) throws Exception; }

    /** Runs body on n threads at once and waits for all of them (rethrowing the first failure). */
    private static void inThreads(int n, ThreadBody body) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < n; t++) {
                int tt = t;
                done.add(pool.submit(() -> { body.run(tt); return null; }));
            }
            for (Future<?> f : done) f.get();
        } finally {
            pool.shutdown();
        }
    }

    private static byte[] contents(int t, int i) {
        byte[] b = new byte[1 + new Random(t * 1000L + i).nextInt(9000)];
        new Random(t * 7919L + i).nextBytes(b);
        return b;
    }

    @Test
    void concurrentFsyncsShareCommitsAndAllSurviveACut() throws Exception {
        Path img = tmp.resolve("g.img");
        Tools.mke2fs(img, null, "64M", "-t", "ext4");
        int threads = 4, each = 40;
        long commits;
        // commits come from the fsyncs only
        Ext4FileSystem fs = Ext4FileSystem.openReadWrite(slowFlush(FileBlockDevice.open(img, false)), Options.defaults().withCommitMillis(600_000));
        JbdJournal j = (JbdJournal) Ext4FileSystemAccess.journal(fs);
        long before = j.commits();
        inThreads(threads, tt -> {
            for (int i = 0; i < each; i++) {
                String p = "/t" + tt + "-" + i;
                fs.createFile(p, 0644, 0, 0);
                fs.write(p, 0, ByteBuffer.wrap(contents(tt, i)));
                fs.fsync(p);
            }
        });
        commits = j.commits() - before;
        Ext4FileSystemAccess.abandon(fs);                 // power cut right after the last fsync returned
        int fsyncs = threads * each;
        System.out.println("GroupCommitTest: " + fsyncs + " fsyncs from " + threads + " threads took " + commits + " commits");
        assertTrue(commits * 4 < fsyncs * 3, fsyncs + " fsyncs took " + commits + " commits: too few were shared");
        Ext4FileSystem.recover(img);
        Tools.assertFsckClean(img);
        try (Ext4FileSystem r = Ext4FileSystem.openReadOnly(img)) {
            for (int t = 0; t < threads; t++)
                for (int i = 0; i < each; i++) {
                    Inode in = r.resolve("/t" + t + "-" + i, true);
                    ByteBuffer b = ByteBuffer.allocate((int) in.size());
                    while (b.hasRemaining() && r.read(in, b.position(), b) > 0) { }
                    assertArrayEquals(contents(t, i), b.array(), "/t" + t + "-" + i);
                }
        }
    }

    /**
     * Threads create, write, fsync and unlink files while the timer commits every millisecond, so
     * blocks are freed and revoked while a commit is in flight and reused after it: the image is
     * e2fsck-clean after recovery and every file left holds its bytes.
     */
    @Test
    void concurrentChangesWithTimedCommitsStayConsistent() throws Exception {
        Path img = tmp.resolve("c.img");
        Tools.mke2fs(img, null, "32M", "-t", "ext4", "-b", "1024");
        int threads = 4, each = 60;
        java.util.Map<String, byte[]> expect = new java.util.concurrent.ConcurrentHashMap<>();
        Ext4FileSystem fs = Ext4FileSystem.openReadWrite(slowFlush(FileBlockDevice.open(img, false)), Options.defaults().withCommitMillis(1));
        inThreads(threads, tt -> {
            for (int i = 0; i < each; i++) {
                String p = "/c" + tt + "-" + i;
                byte[] b = contents(tt + 10, i);
                fs.createFile(p, 0644, 0, 0);
                fs.write(p, 0, ByteBuffer.wrap(b));
                if (i % 2 == 0) fs.fsync(p);
                expect.put(p, b);
                if (i % 3 == 2) { String old = "/c" + tt + "-" + (i - 2); fs.unlink(old); expect.remove(old); }
            }
        });
        fs.sync();
        Ext4FileSystemAccess.abandon(fs);
        Ext4FileSystem.recover(img);
        Tools.assertFsckClean(img);
        try (Ext4FileSystem r = Ext4FileSystem.openReadOnly(img)) {
            int files = 0;
            for (var e : r.list(r.inode(Inode.ROOT))) if (e.name().startsWith("c")) files++;
            assertEquals(expect.size(), files, "files after recovery");
            for (var e : expect.entrySet()) {
                Inode in = r.resolve(e.getKey(), true);
                ByteBuffer b = ByteBuffer.allocate((int) in.size());
                while (b.hasRemaining() && r.read(in, b.position(), b) > 0) { }
                assertArrayEquals(e.getValue(), b.array(), e.getKey());
            }
        }
    }
}
