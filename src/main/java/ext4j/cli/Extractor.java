package ext4j.cli;

import ext4j.fs.Attr;
import ext4j.fs.Caller;
import ext4j.fs.Dirent;
import ext4j.fs.Ext4Vfs;

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

    private record PendingDir(Attr inode, String imagePath, Path target) {}

    private final Ext4Vfs vfs;
    private final PrintWriter err;
    private final boolean restoreOwner;
    private final ProgressBar progress;
    private final ExecutorService pool;
    private final Semaphore inFlight = new Semaphore(16); // batches queued or running
    private final Map<Long, Path> extractedLinks = new HashMap<>();
    private final Set<Long> activeDirs = new HashSet<>();
    private final List<PendingDir> dirsDone = new ArrayList<>();
    private final AtomicInteger errors = new AtomicInteger();

    Extractor(Ext4Vfs vfs, PrintWriter err, boolean restoreOwner, ProgressBar progress, int threads) {
        this.vfs = vfs;
        this.err = err;
        this.restoreOwner = restoreOwner;
        this.progress = progress;
        this.pool = Executors.newFixedThreadPool(threads, r -> { Thread t = new Thread(r, "ext4j-extract"); t.setDaemon(true); return t; });
    }

    int errors() { return errors.get(); }

    /** Extracts inode (found at imagePath) to target, recursing into directories; returns when all is written. */
    void extract(Attr inode, String imagePath, Path target) throws IOException {
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
    private record FileJob(Attr inode, String imagePath, Path target) {}

    private static final int BATCH = 64;

    private void node(Attr inode, String imagePath, Path target, int depth) throws IOException {
        node(inode, imagePath, target, depth, null);
    }

    /** batch: where single-link regular files are queued (null: copy them right away). */
    private void node(Attr inode, String imagePath, Path target, int depth, List<FileJob> batch) throws IOException {
        boolean linked = inode.nlink() > 1 && !inode.isDirectory();
        if (linked) {
            Path first = extractedLinks.get(inode.ino());
            if (first != null) {
                createFresh(target, () -> Files.createLink(target, first));
                progress.fileDone();
                return;
            }
        }
        switch (inode.type()) {
            case Attr.S_IFDIR -> directory(inode, imagePath, target, depth);
            case Attr.S_IFREG -> {
                if (linked || batch == null) { // later links need this one on disk first: copy it now
                    regularFile(inode, imagePath, target);
                    if (linked) extractedLinks.put(inode.ino(), target);
                } else {
                    batch.add(new FileJob(inode, imagePath, target));
                    if (batch.size() >= BATCH) submit(batch);
                }
            }
            case Attr.S_IFLNK -> {
                Path link = Paths.get(new String(vfs.readlink(inode.ino()), StandardCharsets.UTF_8));
                createFresh(target, () -> Files.createSymbolicLink(target, link));
                finishNonDir(inode, imagePath, target, linked);
            }
            case Attr.S_IFCHR, Attr.S_IFBLK, Attr.S_IFIFO, Attr.S_IFSOCK -> {
                long[] dev = inode.type() == Attr.S_IFCHR || inode.type() == Attr.S_IFBLK ? Format.majorMinor(inode.rdev()) : new long[]{0, 0};
                createFresh(target, () -> Posix.mknod(target, inode.type() | inode.permissions(), dev[0], dev[1]));
                finishNonDir(inode, imagePath, target, linked);
            }
            default -> throw new IOException(imagePath + ": inode " + inode.ino() + " has unknown file type 0" + Integer.toOctalString(inode.type()));
        }
    }

    private void regularFile(Attr inode, String imagePath, Path target) throws IOException {
        createFresh(target, () -> {
            try (FileChannel out = FileChannel.open(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, NOFOLLOW)) {
                vfs.copyTo(inode.ino(), out, progress::advance);
            }
        });
        attributes(inode, imagePath, target);
        progress.fileDone();
    }

    private void finishNonDir(Attr inode, String imagePath, Path target, boolean linked) throws IOException {
        attributes(inode, imagePath, target);
        if (linked) extractedLinks.put(inode.ino(), target);
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

    private void directory(Attr dir, String imagePath, Path target, int depth) throws IOException {
        if (depth > MAX_DEPTH) throw new IOException(imagePath + ": directory tree deeper than " + MAX_DEPTH + " levels");
        if (!activeDirs.add(dir.ino())) throw new IOException(imagePath + ": directory loop (inode " + dir.ino() + " contains itself)");
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
            List<Dirent> entries = new ArrayList<>();
            vfs.readdir(dir.ino(), 0, entries::add);
            // in inode order, which is close to the order of their blocks on disk: fewer seeks than hash order
            entries.sort(java.util.Comparator.comparingLong(Dirent::ino));
            for (Dirent e : entries) {
                if (RmCommand.isDot(e.name())) continue;
                String name = e.nameString();
                String childPath = imagePath.endsWith("/") ? imagePath + name : imagePath + "/" + name;
                if (!safeName(name)) {
                    error(childPath + ": unsafe name in directory inode " + dir.ino() + ", skipped");
                    continue;
                }
                try {
                    node(vfs.getattr(e.ino()), childPath, target.resolve(name), depth + 1, batch);
                } catch (IOException ex) {
                    String m = Main.message(ex);
                    error(m.startsWith(childPath) ? m : childPath + ": " + m);
                }
            }
            submit(batch);
            dirsDone.add(new PendingDir(dir, imagePath, target));
        } finally {
            activeDirs.remove(dir.ino());
        }
    }

    static boolean safeName(String name) {
        return !name.isEmpty() && !name.equals(".") && !name.equals("..") && name.indexOf('/') < 0 && name.indexOf('\0') < 0;
    }

    /** Owner, then mode (chown clears setuid bits), xattrs, then times last. */
    private void attributes(Attr inode, String imagePath, Path target) throws IOException {
        if (restoreOwner) Posix.lchown(target, inode.uid(), inode.gid());
        if (!inode.isSymlink()) Posix.chmod(target, inode.permissions());
        for (String x : vfs.listxattr(inode.ino(), Caller.ROOT)) {
            if (x.startsWith("system.") && !x.startsWith("system.posix_acl_")) continue; // other system.* names are filesystem-internal
            byte[] value = vfs.getxattr(inode.ino(), x, Caller.ROOT);  // ACLs come in the Linux xattr format lsetxattr takes
            try {
                Posix.lsetxattr(target, x, value);
            } catch (IOException ex) {
                error(imagePath + ": cannot restore xattr " + x + ": " + ex.getMessage());
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
