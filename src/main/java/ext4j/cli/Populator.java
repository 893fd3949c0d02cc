package ext4j.cli;

import ext4j.base.Errno;
import ext4j.fs.Ext4FileSystem;
import ext4j.base.FsException;
import ext4j.ondisk.Inode;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Copies a host file or tree into an image through the library, like {@code mke2fs -d}: regular
 * files (all-zero blocks become holes), directories, symlinks, hard links, devices, fifos and
 * sockets, with mode, owner, times (nanoseconds) and extended attributes. Directory times are set
 * after their contents so they stick. Never follows symlinks; recursion is bounded.
 */
public final class Populator {
    private static final int MAX_DEPTH = 4096;
    private static final int CHUNK = 1 << 20;

    private final Ext4FileSystem fs;
    private final PrintWriter err;
    private final ProgressBar bar;
    private final Map<String, String> hardLinks = new HashMap<>(); // host "dev:ino" -> first image path
    private final ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
    private boolean xattrWarned;
    private long files;

    Populator(Ext4FileSystem fs, PrintWriter err, ProgressBar bar) {
        this.fs = fs;
        this.err = err;
        this.bar = bar;
    }

    /** Copies every entry of srcDir into the existing image directory destDir (mke2fs -d). */
    public static long populate(Ext4FileSystem fs, Path srcDir, String destDir, PrintWriter err, boolean progress) throws IOException {
        return run(fs, srcDir, err, progress, p -> p.copyChildren(srcDir, destDir, 0));
    }

    /** Copies src (a file, a special file, or with its contents a directory) to the new image path dest. */
    public static long copyTree(Ext4FileSystem fs, Path src, String dest, PrintWriter err, boolean progress) throws IOException {
        return run(fs, src, err, progress, p -> p.copy(src, dest, 0));
    }

    private interface Job { void run(Populator p) throws IOException; }

    private static long run(Ext4FileSystem fs, Path src, PrintWriter err, boolean progress, Job job) throws IOException {
        ProgressBar bar = new ProgressBar(err, progress ? treeBytes(src) : 0, progress);
        Populator p = new Populator(fs, err, bar);
        job.run(p);
        bar.finish();
        return p.files;
    }

    static long treeBytes(Path root) throws IOException {
        try (var s = Files.walk(root)) {
            return s.filter(x -> Files.isRegularFile(x, LinkOption.NOFOLLOW_LINKS)).mapToLong(x -> { try { return Files.size(x); } catch (IOException e) { return 0; } }).sum();
        }
    }

    private static String child(String dir, String name) { return dir.equals("/") ? "/" + name : dir + "/" + name; }

    void copyChildren(Path srcDir, String destDir, int depth) throws IOException {
        if (depth > MAX_DEPTH) throw new FsException(Errno.ELOOP, srcDir.toString());
        List<Path> kids = new ArrayList<>();
        try (var s = Files.list(srcDir)) { s.forEach(kids::add); }
        kids.sort(null);
        for (Path k : kids) copy(k, child(destDir, k.getFileName().toString()), depth + 1);
    }

    /** Copies one host entry (a tree if it is a directory) to the image path dest. */
    void copy(Path src, String dest, int depth) throws IOException {
        Map<String, Object> a = Files.readAttributes(src, "unix:mode,uid,gid,dev,ino,nlink,rdev,size,lastAccessTime,lastModifiedTime", LinkOption.NOFOLLOW_LINKS); // no owner names: no passwd lookups
        int mode = (Integer) a.get("mode");
        long uid = (Integer) a.get("uid") & 0xFFFFFFFFL, gid = (Integer) a.get("gid") & 0xFFFFFFFFL;
        int type = mode & Inode.S_IFMT;
        String key = a.get("dev") + ":" + a.get("ino");
        if (type != Inode.S_IFDIR && (Integer) a.get("nlink") > 1) {
            String first = hardLinks.get(key);
            if (first != null) { fs.link(first, dest); return; }
            hardLinks.put(key, dest);
        }
        FileTime at = (FileTime) a.get("lastAccessTime"), mt = (FileTime) a.get("lastModifiedTime");
        // creation applies all 12 permission bits (no umask), so no chmod follows
        Inode made = switch (type) {
            case Inode.S_IFDIR -> {
                Inode d = dest.equals("/") ? fs.resolve("/", true) : fs.mkdir(dest, mode & 07777, uid, gid);
                copyChildren(src, dest, depth);
                yield d;
            }
            case Inode.S_IFREG -> {
                Inode f = fs.createFile(dest, mode & 07777, uid, gid, ts(at), ts(mt));
                long size = ((Number) a.get("size")).longValue();
                boolean timesKept = size == 0 || copyData(src, f, size);
                files++;
                bar.fileDone();
                yield timesKept ? null : f;
            }
            case Inode.S_IFLNK -> fs.symlink(dest, Files.readSymbolicLink(src).toString().getBytes(java.nio.charset.StandardCharsets.UTF_8), uid, gid);
            default -> fs.mknod(dest, mode, ((Number) a.get("rdev")).longValue(), uid, gid);
        };
        copyXattrs(src, dest);
        if (made != null) fs.utimens(made, ts(at), ts(mt)); // after the contents, which touched the times
    }

    private static Inode.Timestamp ts(FileTime t) {
        java.time.Instant i = t.toInstant();
        return new Inode.Timestamp(i.getEpochSecond(), i.getNano());
    }

    /** Writes the file's non-zero blocks; runs of zero blocks stay holes. */
    /** Copies the contents; returns whether the file's times are still the ones it was created with. */
    private boolean copyData(Path src, Inode file, long expectedSize) throws IOException {
        if (expectedSize == 0) return true;
        int bs = fs.superblock().blockSize();
        try (FileChannel ch = FileChannel.open(src, StandardOpenOption.READ)) {
            long size = ch.size(), pos = 0;
            if (size > 0 && Posix.allocatedBytes(src) >= size) { // no holes to keep: copy device-side, no scan for zeros
                fs.writeFrom(file, ch, size);
                bar.advance(size);
                return true;
            }
            while (pos < size) {
                buf.clear().limit((int) Math.min(CHUNK, size - pos));
                while (buf.hasRemaining()) if (ch.read(buf, pos + buf.position()) < 0) break;
                int n = buf.position();
                if (n == 0) break;
                // write each maximal run of blocks that are not all zero
                int runStart = -1;
                for (int off = 0; off < n; off += bs) {
                    int len = Math.min(bs, n - off);
                    boolean zero = allZero(buf, off, len);
                    if (!zero && runStart < 0) runStart = off;
                    if (zero && runStart >= 0) { write(file, pos, runStart, off); runStart = -1; }
                }
                if (runStart >= 0) write(file, pos, runStart, n);
                bar.advance(n);
                pos += n;
            }
            if (fs.inode(file.number()).size() != size) fs.truncate(file, size); // ends in a hole
            return size == 0;
        }
    }

    private void write(Inode file, long chunkPos, int from, int to) throws IOException {
        fs.write(file, chunkPos + from, buf.duplicate().position(from).limit(to));
    }

    private static boolean allZero(ByteBuffer b, int off, int len) {
        int i = off, end = off + len;
        for (; i + 8 <= end; i += 8) if (b.getLong(i) != 0) return false;
        for (; i < end; i++) if (b.get(i) != 0) return false;
        return true;
    }

    private void copyXattrs(Path src, String dest) throws IOException {
        List<String> names;
        try { names = Posix.llistxattr(src); } catch (IOException e) { return; }
        for (String n : names) {
            try {
                fs.setXattr(dest, n, Posix.lgetxattr(src, n), 0, false);
            } catch (FsException e) {
                if (e.errno() != Errno.EOPNOTSUPP) throw e;
                if (!xattrWarned) err.println("ext4j: warning: extended attributes not copied: " + e.getMessage());
                xattrWarned = true;
            }
        }
    }
}
