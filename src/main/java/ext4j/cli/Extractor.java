package ext4j.cli;

import ext4j.dir.DirEntry;
import ext4j.fs.Ext4FileSystem;
import ext4j.ondisk.Inode;
import ext4j.xattr.PosixAcl;
import ext4j.xattr.Xattr;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Copies files and trees out of an image onto the host: contents with holes kept, mode, owner (as
 * root), atime/mtime with nanoseconds, symlinks, hard links, device nodes, fifos, sockets, xattrs.
 *
 * <p>One thread walks the tree and creates directories, links and special files; regular files
 * are copied by a small pool (the image and the host both gain from several requests in flight).
 * Directory attributes are applied last, once nothing more is written inside them.
 *
 * <p>Safety: every name is a single path component (no '/', '.', '..'); anything already at a
 * target is removed, not followed; a directory cycle in a corrupt image is detected.
 */
final class Extractor {
    private static final int MAX_DEPTH = 2048;
    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;

    private record PendingDir(Inode inode, String imagePath, Path target) {}

    private final Ext4FileSystem fs;
    private final PrintWriter err;
    private final boolean restoreOwner;
    private final ProgressBar progress;
    private final ExecutorService pool;
    private final Semaphore inFlight = new Semaphore(16); // batches queued or running
    private final Map<Long, Path> extractedLinks = new HashMap<>();
    private final Set<Long> activeDirs = new HashSet<>();
    private final List<PendingDir> dirsDone = new ArrayList<>();
    private final AtomicInteger errors = new AtomicInteger();

    Extractor(Ext4FileSystem fs, PrintWriter err, boolean restoreOwner, ProgressBar progress, int threads) {
        this.fs = fs;
        this.err = err;
        this.restoreOwner = restoreOwner;
        this.progress = progress;
        this.pool = Executors.newFixedThreadPool(threads, r -> { Thread t = new Thread(r, "ext4j-extract"); t.setDaemon(true); return t; });
    }

    int errors() { return errors.get(); }

    /** Extracts inode (found at imagePath) to target, recursing into directories; returns when all is written. */
    void extract(Inode inode, String imagePath, Path target) throws IOException {
        try {
            node(inode, imagePath, target, 0);
        } finally {
            pool.shutdown();
            try {
                if (!pool.awaitTermination(365, TimeUnit.DAYS)) throw new IOException("extraction did not finish");
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
        }
        for (PendingDir d : dirsDone) {
            try {
                attributes(d.inode, d.imagePath, d.target);
            } catch (IOException ex) {
                error(d.imagePath + ": " + Main.message(ex));
            }
        }
    }

    /** A regular file waiting in a batch for the pool. */
    private record FileJob(Inode inode, String imagePath, Path target) {}

    private static final int BATCH = 64;

    private void node(Inode inode, String imagePath, Path target, int depth) throws IOException {
        node(inode, imagePath, target, depth, null);
    }

    /** batch: where single-link regular files are queued (null: copy them right away). */
    private void node(Inode inode, String imagePath, Path target, int depth, List<FileJob> batch) throws IOException {
        boolean linked = inode.linksCount() > 1 && !inode.isDir();
        if (linked) {
            Path first = extractedLinks.get(inode.number());
            if (first != null) {
                createFresh(target, () -> Files.createLink(target, first));
                progress.fileDone();
                return;
            }
        }
        switch (inode.type()) {
            case Inode.S_IFDIR -> directory(inode, imagePath, target, depth);
            case Inode.S_IFREG -> {
                if (linked || batch == null) { // later links need this one on disk first: copy it now
                    regularFile(inode, imagePath, target);
                    if (linked) extractedLinks.put(inode.number(), target);
                } else {
                    batch.add(new FileJob(inode, imagePath, target));
                    if (batch.size() >= BATCH) submit(batch);
                }
            }
            case Inode.S_IFLNK -> {
                Path link = Paths.get(new String(fs.readlink(inode), StandardCharsets.UTF_8));
                createFresh(target, () -> Files.createSymbolicLink(target, link));
                finishNonDir(inode, imagePath, target, linked);
            }
            case Inode.S_IFCHR, Inode.S_IFBLK, Inode.S_IFIFO, Inode.S_IFSOCK -> {
                long[] dev = inode.type() == Inode.S_IFCHR || inode.type() == Inode.S_IFBLK ? inode.deviceNumbers() : new long[]{0, 0};
                createFresh(target, () -> Posix.mknod(target, inode.type() | inode.permissions(), dev[0], dev[1]));
                finishNonDir(inode, imagePath, target, linked);
            }
            default -> throw new IOException(imagePath + ": inode " + inode.number() + " has unknown file type 0" + Integer.toOctalString(inode.type()));
        }
    }

    private void regularFile(Inode inode, String imagePath, Path target) throws IOException {
        createFresh(target, () -> {
            try (FileChannel out = FileChannel.open(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, NOFOLLOW)) {
                fs.copyTo(inode, out, progress::advance);
            }
        });
        attributes(inode, imagePath, target);
        progress.fileDone();
    }

    private void finishNonDir(Inode inode, String imagePath, Path target, boolean linked) throws IOException {
        attributes(inode, imagePath, target);
        if (linked) extractedLinks.put(inode.number(), target);
        progress.fileDone();
    }

    private interface IoAction { void run() throws IOException; }

    /** Hands the queued files to the pool as one job (one hand-off per batch, not per file) and empties the queue. */
    private void submit(List<FileJob> batch) throws IOException {
        if (batch.isEmpty()) return;
        List<FileJob> jobs = List.copyOf(batch);
        batch.clear();
        try {
            inFlight.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
        pool.execute(() -> {
            try {
                for (FileJob j : jobs) {
                    try {
                        regularFile(j.inode, j.imagePath, j.target);
                    } catch (IOException | RuntimeException ex) {
                        String m = Main.message(ex);
                        error(m.startsWith(j.imagePath) ? m : j.imagePath + ": " + m);
                    }
                }
            } finally {
                inFlight.release();
            }
        });
    }

    /** Runs create; if something is already at target (a file, a symlink, an empty dir), removes it without following and retries once. */
    private static void createFresh(Path target, IoAction create) throws IOException {
        try {
            create.run();
        } catch (FileAlreadyExistsException e) {
            Files.delete(target);
            create.run();
        }
    }

    private void directory(Inode dir, String imagePath, Path target, int depth) throws IOException {
        if (depth > MAX_DEPTH) throw new IOException(imagePath + ": directory tree deeper than " + MAX_DEPTH + " levels");
        if (!activeDirs.add(dir.number())) throw new IOException(imagePath + ": directory loop (inode " + dir.number() + " contains itself)");
        try {
            try {
                Files.createDirectory(target);
            } catch (FileAlreadyExistsException e) {
                if (!Files.isDirectory(target, NOFOLLOW)) { // reuse a real directory; replace anything else
                    Files.delete(target);
                    Files.createDirectory(target);
                }
            }
            List<FileJob> batch = new ArrayList<>();
            for (DirEntry e : fs.list(dir)) {
                if (e.isDotOrDotDot()) continue;
                String name = e.name();
                String childPath = imagePath.endsWith("/") ? imagePath + name : imagePath + "/" + name;
                if (!safeName(name)) {
                    error(childPath + ": unsafe name in directory inode " + dir.number() + ", skipped");
                    continue;
                }
                try {
                    node(fs.inode(e.inode()), childPath, target.resolve(name), depth + 1, batch);
                } catch (IOException ex) {
                    String m = Main.message(ex);
                    error(m.startsWith(childPath) ? m : childPath + ": " + m);
                }
            }
            submit(batch);
            dirsDone.add(new PendingDir(dir, imagePath, target));
        } finally {
            activeDirs.remove(dir.number());
        }
    }

    static boolean safeName(String name) {
        return !name.isEmpty() && !name.equals(".") && !name.equals("..") && name.indexOf('/') < 0 && name.indexOf('\0') < 0;
    }

    /** Owner, then mode (chown clears setuid bits), xattrs, then times last. */
    private void attributes(Inode inode, String imagePath, Path target) throws IOException {
        if (restoreOwner) Posix.lchown(target, inode.uid(), inode.gid());
        if (!inode.isSymlink()) Posix.chmod(target, inode.permissions());
        for (Xattr x : fs.xattrs(inode)) {
            byte[] value = x.value();
            if (x.name().startsWith("system.posix_acl_")) value = PosixAcl.fromExt4(value, imagePath + " " + x.name()).toXattr();
            else if (x.name().startsWith("system.")) continue; // other system.* names are filesystem-internal
            try {
                Posix.lsetxattr(target, x.name(), value);
            } catch (IOException ex) {
                error(imagePath + ": cannot restore xattr " + x.name() + ": " + ex.getMessage());
            }
        }
        Posix.utimes(target, inode.atime().seconds(), inode.atime().nanos(), inode.mtime().seconds(), inode.mtime().nanos());
    }

    private void error(String msg) {
        errors.incrementAndGet();
        synchronized (err) {
            err.println("ext4j: " + msg);
            err.flush();
        }
    }
}
