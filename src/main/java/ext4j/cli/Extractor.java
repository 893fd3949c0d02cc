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
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
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

    /**
     * What a host directory gives the entries made in it (Linux's rules): gid, the group they get
     * (the directory's own when it is setgid, else the creator's; -1: not known), and whether
     * their mode is the one asked for less the umask (false when it has a default ACL, or unknown).
     */
    private record NewEntries(long gid, boolean umaskMode) {
        static final NewEntries UNKNOWN = new NewEntries(-1, false);
    }

    /** made: what the directory's parent gives new entries, or UNKNOWN for a directory that was already there. */
    private record PendingDir(Attr inode, String imagePath, Path target, NewEntries made) {}

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
    /** The process's umask, or -1 if unknown: a file created with mode m has m & ~umask. */
    private final int umask = Posix.umask();
    private final long euid = Posix.euid(), egid = Posix.egid();

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
            node(inode, imagePath, target, 0, null, newEntries(target.toAbsolutePath().getParent()));
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
                attributes(d.inode, d.imagePath, d.target, d.made, false);
            } catch (IOException ex) {
                error(d.imagePath + ": " + Main.message(ex));
            }
        }
    }

    /** A regular file waiting in a batch for the pool. */
    private record FileJob(Attr inode, String imagePath, Path target, NewEntries made) {}

    private static final int BATCH = 64;

    /**
     * batch: where single-link regular files are queued (null: copy them right away); made: what
     * target's directory gives new entries.
     */
    private void node(Attr inode, String imagePath, Path target, int depth, List<FileJob> batch, NewEntries made) throws IOException {
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
            case Attr.S_IFDIR -> directory(inode, imagePath, target, depth, made);
            case Attr.S_IFREG -> {
                if (linked || batch == null) { // later links need this one on disk first: copy it now
                    regularFile(inode, imagePath, target, made);
                    if (linked) extractedLinks.put(inode.ino(), target);
                } else {
                    batch.add(new FileJob(inode, imagePath, target, made));
                    if (batch.size() >= BATCH) submit(batch);
                }
            }
            case Attr.S_IFLNK -> {
                Path link = Paths.get(new String(vfs.readlink(inode.ino()), StandardCharsets.UTF_8));
                createFresh(target, () -> Files.createSymbolicLink(target, link));
                finishNonDir(inode, imagePath, target, linked, made);
            }
            case Attr.S_IFCHR, Attr.S_IFBLK, Attr.S_IFIFO, Attr.S_IFSOCK -> {
                long[] dev = inode.type() == Attr.S_IFCHR || inode.type() == Attr.S_IFBLK ? Format.majorMinor(inode.rdev()) : new long[]{0, 0};
                createFresh(target, () -> Posix.mknod(target, inode.type() | inode.permissions(), dev[0], dev[1]));
                finishNonDir(inode, imagePath, target, linked, made);
            }
            default -> throw new IOException(imagePath + ": inode " + inode.ino() + " has unknown file type 0" + Integer.toOctalString(inode.type()));
        }
    }

    private void regularFile(Attr inode, String imagePath, Path target, NewEntries made) throws IOException {
        // the permission bits given at creation, when the umask keeps them all (and no setuid, setgid
        // or sticky bit needs a chmod after the chown): one system call fewer per file
        int perms = inode.permissions();
        boolean modeAtCreate = made.umaskMode() && umask >= 0 && (perms & 07000) == 0 && (perms & umask) == 0;
        createFresh(target, () -> {
            try (FileChannel out = modeAtCreate ? FileChannel.open(target, CREATE_NEW_FILE, permissions(perms)) : FileChannel.open(target, CREATE_NEW_FILE)) {
                vfs.copyTo(inode.ino(), out, progress::advance);
            }
        });
        attributes(inode, imagePath, target, made, modeAtCreate);
        progress.fileDone();
    }

    private static final Set<OpenOption> CREATE_NEW_FILE = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, NOFOLLOW);

    /** open(2)'s mode argument for the permission bits perms (0-0777), made once per mode. */
    private static FileAttribute<?> permissions(int perms) {
        FileAttribute<?> a = PERMISSIONS[perms];
        if (a == null) {
            Set<PosixFilePermission> set = java.util.EnumSet.noneOf(PosixFilePermission.class);
            PosixFilePermission[] bits = PosixFilePermission.values(); // OWNER_READ (0400) first, OTHERS_EXECUTE (0001) last
            for (int i = 0; i < 9; i++) if ((perms & (0400 >> i)) != 0) set.add(bits[i]);
            PERMISSIONS[perms] = a = PosixFilePermissions.asFileAttribute(set);
        }
        return a;
    }

    private static final FileAttribute<?>[] PERMISSIONS = new FileAttribute<?>[01000];

    private void finishNonDir(Attr inode, String imagePath, Path target, boolean linked, NewEntries made) throws IOException {
        attributes(inode, imagePath, target, made, false);
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
                        regularFile(j.inode, j.imagePath, j.target, j.made);
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

    private void directory(Attr dir, String imagePath, Path target, int depth, NewEntries made) throws IOException {
        if (depth > MAX_DEPTH) throw new IOException(imagePath + ": directory tree deeper than " + MAX_DEPTH + " levels");
        if (!activeDirs.add(dir.ino())) throw new IOException(imagePath + ": directory loop (inode " + dir.ino() + " contains itself)");
        try {
            NewEntries inside = made; // a directory made here passes its parent's rules on (mkdir copies a setgid bit and a default ACL)
            boolean reused = false;
            try {
                Files.createDirectory(target);
            } catch (FileAlreadyExistsException e) {
                if (!Files.isDirectory(target, NOFOLLOW)) { // reuse a real directory; replace anything else
                    Files.delete(target);
                    Files.createDirectory(target);
                } else {
                    inside = newEntries(target);
                    reused = true;
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
                    node(vfs.getattr(e.ino()), childPath, target.resolve(name), depth + 1, batch, inside);
                } catch (IOException ex) {
                    String m = Main.message(ex);
                    error(m.startsWith(childPath) ? m : childPath + ": " + m);
                }
            }
            submit(batch);
            dirsDone.add(new PendingDir(dir, imagePath, target, reused ? NewEntries.UNKNOWN : made)); // a reused one's owner is not known: chown it
        } finally {
            activeDirs.remove(dir.ino());
        }
    }

    static boolean safeName(String name) {
        return !name.isEmpty() && !name.equals(".") && !name.equals("..") && name.indexOf('/') < 0 && name.indexOf('\0') < 0;
    }

    /** What the host directory dir gives the entries made in it. */
    private NewEntries newEntries(Path dir) {
        try {
            Path d = dir == null ? Path.of(".") : dir;
            Posix.Stat st = Posix.lstat(d);
            return new NewEntries((st.mode() & 02000) != 0 ? st.gid() : egid, !Posix.llistxattr(d).contains("system.posix_acl_default"));
        } catch (IOException e) {
            return NewEntries.UNKNOWN;
        }
    }

    /**
     * Owner, then mode (chown clears setuid bits), xattrs, then times last. Each is set only when
     * the new entry does not have it already: the owner when it differs from the one the entry was
     * made with (made: its directory's rules), the mode unless the file was created with it.
     */
    private void attributes(Attr inode, String imagePath, Path target, NewEntries made, boolean modeAtCreate) throws IOException {
        if (restoreOwner && (inode.uid() != euid || inode.gid() != made.gid())) Posix.lchown(target, inode.uid(), inode.gid());
        if (!inode.isSymlink() && !modeAtCreate) Posix.chmod(target, inode.permissions());
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
