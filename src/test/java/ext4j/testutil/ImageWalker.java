package ext4j.testutil;

import ext4j.dir.DirEntry;
import ext4j.dir.Directory;
import ext4j.fs.Ext4FileSystem;
import ext4j.base.CorruptException;
import ext4j.ondisk.Inode;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Reads everything in an image through the library: bitmaps, journal superblock, every directory
 * (listing and a lookup of each name, which must find the listed inode), every file's bytes (up
 * to 64 MiB), every symlink and xattr. Used on damaged images, where it must end in a clean
 * IOException or succeed, and on sound ones, where it must succeed.
 */
public final class ImageWalker {
    private static final ExecutorService POOL = Executors.newCachedThreadPool(r -> { Thread t = new Thread(r, "walker"); t.setDaemon(true); return t; });

    private ImageWalker() {}

    /** Walks img in a worker thread; returns the IOException it ended with, or null. Fails on anything else or a hang. */
    public static IOException walkWithTimeout(Path img, String what, int seconds) throws Exception {
        Future<?> f = POOL.submit(() -> { walk(img); return null; });
        try {
            f.get(seconds, TimeUnit.SECONDS);
            return null;
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                if (io.getMessage() == null || io.getMessage().isBlank()) throw new AssertionError(what + ": error without a message", io);
                return io;
            }
            throw new AssertionError(what + ": unexpected " + e.getCause(), e.getCause());
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new AssertionError(what + ": walk did not finish in " + seconds + " s (hang?)");
        }
    }

    public static void walk(Path img) throws IOException {
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(img)) {
            fs.volume().verifyBitmaps();
            fs.journalSuperblock();
            walkDir(fs, fs.inode(Inode.ROOT), new HashSet<>());
        }
    }

    private static void walkDir(Ext4FileSystem fs, Inode dir, Set<Long> seen) throws IOException {
        if (!seen.add(dir.number())) return;
        Directory d = fs.directory(dir);
        for (DirEntry e : d.list()) {
            DirEntry hit = d.lookup(e.nameBytes());
            if (hit == null || (hit.inode() != e.inode() && !e.isDotOrDotDot()))
                throw new CorruptException("lookup of '" + e.name() + "' in directory inode " + dir.number() + " found " + hit + ", listing says inode " + e.inode());
            if (e.isDotOrDotDot()) continue;
            Inode i = fs.inode(e.inode());
            fs.xattrs(i);
            if (i.isDir()) walkDir(fs, i, seen);
            else if (i.isSymlink()) fs.readlink(i);
            else if (i.isRegular() && seen.add(i.number())) {
                ByteBuffer b = ByteBuffer.allocate(1 << 16);
                for (long pos = 0; pos < Math.min(i.size(), 64L << 20); pos += b.capacity()) {
                    b.clear();
                    if (fs.read(i, pos, b) < 0) break;
                }
                if (!i.hasFlag(Inode.FL_INLINE_DATA)) fs.fileMap(i).runs();
            }
        }
    }
}
