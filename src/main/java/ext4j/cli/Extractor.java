package ext4j.cli;

import ext4j.dir.DirEntry;
import ext4j.fs.Ext4FileSystem;
import ext4j.ondisk.Inode;
import ext4j.xattr.PosixAcl;
import ext4j.xattr.Xattr;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Copies files and trees out of an image onto the host: contents with holes kept, mode, owner (as
 * root), atime/mtime with nanoseconds, symlinks, hard links, device nodes, fifos, sockets, xattrs.
 * Safety: every name is a single path component (no '/', '.', '..'), nothing is opened through a
 * symlink in DEST, and a directory cycle in a corrupt image is detected rather than followed.
 */
final class Extractor {
    private static final int MAX_DEPTH = 2048;
    private static final LinkOption NOFOLLOW = LinkOption.NOFOLLOW_LINKS;

    private final Ext4FileSystem fs;
    private final PrintWriter err;
    private final boolean restoreOwner;
    private final ProgressBar progress;
    private final Map<Long, Path> extractedLinks = new HashMap<>();
    private final Set<Long> activeDirs = new HashSet<>();
    private int errors;

    Extractor(Ext4FileSystem fs, PrintWriter err, boolean restoreOwner, ProgressBar progress) {
        this.fs = fs;
        this.err = err;
        this.restoreOwner = restoreOwner;
        this.progress = progress;
    }

    int errors() { return errors; }

    /** Extracts inode (found at imagePath) to target, recursing into directories. */
    void extract(Inode inode, String imagePath, Path target) throws IOException {
        node(inode, imagePath, target, 0);
    }

    private void node(Inode inode, String imagePath, Path target, int depth) throws IOException {
        if (inode.linksCount() > 1 && !inode.isDir()) {
            Path first = extractedLinks.get(inode.number());
            if (first != null) {
                replace(target);
                Files.createLink(target, first);
                progress.fileDone();
                return;
            }
        }
        switch (inode.type()) {
            case Inode.S_IFDIR -> directory(inode, imagePath, target, depth);
            case Inode.S_IFREG -> {
                replace(target);
                try (FileChannel out = FileChannel.open(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, NOFOLLOW)) {
                    fs.copyTo(inode, out, progress::advance);
                }
            }
            case Inode.S_IFLNK -> {
                replace(target);
                Files.createSymbolicLink(target, Paths.get(new String(fs.readlink(inode), java.nio.charset.StandardCharsets.UTF_8)));
            }
            case Inode.S_IFCHR, Inode.S_IFBLK, Inode.S_IFIFO, Inode.S_IFSOCK -> {
                replace(target);
                long[] dev = inode.type() == Inode.S_IFCHR || inode.type() == Inode.S_IFBLK ? Format.deviceNumbers(inode) : new long[]{0, 0};
                Posix.mknod(target, inode.type() | inode.permissions(), dev[0], dev[1]);
            }
            default -> throw new IOException(imagePath + ": inode " + inode.number() + " has unknown file type 0" + Integer.toOctalString(inode.type()));
        }
        if (!inode.isDir()) {
            attributes(inode, imagePath, target);
            if (inode.linksCount() > 1) extractedLinks.put(inode.number(), target);
            progress.fileDone();
        }
    }

    private void directory(Inode dir, String imagePath, Path target, int depth) throws IOException {
        if (depth > MAX_DEPTH) throw new IOException(imagePath + ": directory tree deeper than " + MAX_DEPTH + " levels");
        if (!activeDirs.add(dir.number())) throw new IOException(imagePath + ": directory loop (inode " + dir.number() + " contains itself)");
        try {
            if (Files.isDirectory(target, NOFOLLOW)) {
                // reuse an existing real directory
            } else {
                replace(target);
                Files.createDirectory(target);
            }
            List<DirEntry> entries = fs.list(dir);
            for (DirEntry e : entries) {
                if (e.isDotOrDotDot()) continue;
                String name = e.name();
                String childPath = imagePath.endsWith("/") ? imagePath + name : imagePath + "/" + name;
                if (!safeName(name)) {
                    error(childPath + ": unsafe name in directory inode " + dir.number() + ", skipped");
                    continue;
                }
                try {
                    node(fs.inode(e.inode()), childPath, target.resolve(name), depth + 1);
                } catch (IOException ex) {
                    error(Main.message(ex).startsWith(childPath) ? Main.message(ex) : childPath + ": " + Main.message(ex));
                }
            }
            attributes(dir, imagePath, target);
        } finally {
            activeDirs.remove(dir.number());
        }
    }

    static boolean safeName(String name) {
        return !name.isEmpty() && !name.equals(".") && !name.equals("..") && name.indexOf('/') < 0 && name.indexOf('\0') < 0;
    }

    /** Removes whatever is at target (a file, a symlink, an empty directory) without following symlinks. */
    private static void replace(Path target) throws IOException {
        Files.deleteIfExists(target);
    }

    /** Owner, mode, xattrs, then times last (setting the others changes ctime only, but chmod after chown keeps setuid). */
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
        errors++;
        err.println("ext4j: " + msg);
        err.flush();
    }
}
