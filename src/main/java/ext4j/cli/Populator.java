package ext4j.cli;

import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.fs.Attr;
import ext4j.fs.Caller;
import ext4j.fs.Entry;
import ext4j.fs.Ext4Paths;
import ext4j.fs.Ext4Vfs;
import ext4j.fs.NodeSpec;
import ext4j.fs.OpenFile;
import ext4j.fs.SetAttr;
import ext4j.fs.Time;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
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
 * Copies a host file or tree into an image through the core API, like {@code mke2fs -d}: regular
 * files (all-zero blocks become holes), directories, symlinks, hard links, devices, fifos and
 * sockets, with mode, owner, times (nanoseconds) and extended attributes. Directory times are set
 * after their contents so they stick. Never follows symlinks; recursion is bounded. Works by
 * directory inode and name, so no path is walked per file.
 */
public final class Populator {
    private static final int CHUNK = 1 << 20;
    /** A copy is made as mke2fs -d makes it: anything the source has is stored (trusted.* xattrs too). */
    private static final Caller AS_ROOT = Caller.ROOT;

    private final Ext4Vfs vfs;
    private final PrintWriter err;
    private final ProgressBar bar;
    private final int blockSize;
    private final Map<String, Long> hardLinks = new HashMap<>(); // host "dev:ino" -> the image inode copied first
    private final ByteBuffer buf = ByteBuffer.allocateDirect(CHUNK);
    private boolean xattrWarned;
    private long files;

    Populator(Ext4Vfs vfs, PrintWriter err, ProgressBar bar) throws IOException {
        this.vfs = vfs;
        this.err = err;
        this.bar = bar;
        this.blockSize = vfs.getattr(Ext4Vfs.ROOT).blockSize();
    }

    /** Copies every entry of srcDir into the existing image directory dir, shown as destDir (mke2fs -d). */
    public static long populate(Ext4Vfs vfs, Path srcDir, long dir, String destDir, PrintWriter err, boolean progress) throws IOException {
        return run(vfs, srcDir, true, err, progress, (p, t) -> p.copyChildren(t, dir, destDir, false));
    }

    /** Copies src (a file, a special file, or with its contents a directory) to the new image name at. */
    public static long copyTree(Ext4Vfs vfs, Path src, Ext4Paths.Parent at, PrintWriter err, boolean progress) throws IOException {
        return run(vfs, src, false, err, progress, (p, t) -> {
            HostTree.Node n = t.next();
            if (n == null || n == HostTree.END) throw new IOException(src + ": nothing to copy");
            p.copy(t, n, at, false);
        });
    }

    private interface Job { void run(Populator p, HostTree t) throws IOException; }

    private static long run(Ext4Vfs vfs, Path src, boolean childrenOnly, PrintWriter err, boolean progress, Job job) throws IOException {
        ProgressBar bar = new ProgressBar(err, 0, progress);
        // the bar's total from a walk of its own, alongside the copy (which does not wait for it)
        Thread sizer = progress ? Thread.ofPlatform().daemon().name("ext4j-tree-size").start(() -> treeSize(src, bar)) : null;
        Populator p = new Populator(vfs, err, bar);
        try (HostTree t = new HostTree(src, childrenOnly)) {
            job.run(p, t);
        } finally {
            if (sizer != null) sizer.interrupt();
        }
        bar.finish();
        return p.files;
    }

    /** Bytes and files of the tree's regular files, for the progress bar (a file that cannot be read counts nothing). */
    private static void treeSize(Path root, ProgressBar bar) {
        long[] sum = new long[2];
        try (var s = Files.walk(root)) {
            s.forEach(x -> {
                if (Thread.currentThread().isInterrupted()) throw new java.util.concurrent.CancellationException();
                try {
                    var a = Files.readAttributes(x, java.nio.file.attribute.BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                    if (a.isRegularFile()) { sum[0] += a.size(); sum[1]++; }
                } catch (IOException e) { /* not counted */ }
            });
            bar.total(sum[0], sum[1]);
        } catch (IOException | RuntimeException e) {
            // no total: the bar shows no percentage
        }
    }

    /**
     * Copies the walk's entries up to the END of the directory being walked into the image directory
     * dir. made: this copy created dir, so only the names it adds are in it: each name seen for the
     * first time is created without an EEXIST lookup (a second one, two host names that read as the
     * same bytes, is looked up and refused).
     */
    void copyChildren(HostTree t, long dir, String destDir, boolean made) throws IOException {
        java.util.Set<ByteBuffer> names = made ? new java.util.HashSet<>() : null;
        for (HostTree.Node k; (k = t.next()) != HostTree.END; ) {
            if (k == null) throw new IOException(destDir + ": the host tree walk ended early");
            if (k.st() == null && k.error() != null) throw k.error(); // a directory that could not be listed, or an entry not lstat'ed
            byte[] name = k.name().getBytes(StandardCharsets.UTF_8);
            boolean newName = names != null && names.add(ByteBuffer.wrap(name));
            copy(t, k, new Ext4Paths.Parent(dir, name, ImagePaths.child(destDir, k.name())), newName);
        }
    }

    /** Copies one host entry (a tree if it is a directory: its entries follow in the walk) to the image name at (newName: see copyChildren). */
    void copy(HostTree t, HostTree.Node n, Ext4Paths.Parent at, boolean newName) throws IOException {
        FileChannel ch = n.ch();
        if (ch != null) t.taken(n);
        handedOver = false;
        try {
            if (n.error() != null) throw n.error();
            copyNode(t, n, at, newName);
        } finally {
            if (ch != null && !handedOver) ch.close();
        }
    }

    /** Whether the current entry's open host file went to the image with its data (writeFromTaking closes it). */
    private boolean handedOver;

    private void copyNode(HostTree t, HostTree.Node n, Ext4Paths.Parent at, boolean newName) throws IOException {
        Posix.Stat st = n.st();
        Path src = n.path();
        int mode = st.mode();
        long uid = st.uid(), gid = st.gid();
        int type = mode & Attr.S_IFMT;
        boolean linked = type != Attr.S_IFDIR && st.nlink() > 1;
        String key = linked ? st.dev() + ":" + st.ino() : null; // only hard-linked files are looked up
        if (linked) {
            Long first = hardLinks.get(key);
            if (first != null) {
                Ext4Paths.at(at, () -> vfs.link(first, at.dir(), at.name()));
                return;
            }
        }
        Time atime = new Time(st.atimeSec(), st.atimeNsec()), mtime = new Time(st.mtimeSec(), st.mtimeNsec());
        // creation applies all 12 permission bits (no umask), so no chmod follows
        Entry made;
        boolean timesKept = false;
        switch (type) {
            case Attr.S_IFDIR -> {
                made = create(at, NodeSpec.directory(mode, uid, gid), newName);
                copyChildren(t, made.ino(), at.path(), true);
            }
            case Attr.S_IFREG -> {
                NodeSpec spec = NodeSpec.file(mode, uid, gid, atime, mtime);
                FileChannel ch = n.ch();
                long size = n.chSize();
                if (ch == null && st.size() > 0) { // not opened ahead (too many open): open it now
                    ch = FileChannel.open(src, StandardOpenOption.READ);
                    try { size = ch.size(); } catch (IOException e) { ch.close(); throw e; }
                }
                if (ch != null && size > 0 && st.allocated() >= size) { // no holes to keep: created with its data, copied device-side
                    FileChannel data = ch;
                    long len = size;
                    handedOver = true;
                    made = Ext4Paths.at(at, () -> vfs.createAsIsTaking(at.dir(), at.name(), spec, data, len, newName));
                    bar.advance(len);
                    timesKept = true;
                } else {
                    Entry f = create(at, spec, newName);
                    made = f;
                    if (ch != null && ch != n.ch()) ch.close(); // opened here: holes to keep, copied the slow way
                    timesKept = st.size() == 0 || Ext4Paths.at(at.path(), f.ino(), () -> copyData(n, f.ino()));
                }
                files++;
                bar.fileDone();
            }
            case Attr.S_IFLNK -> made = create(at, NodeSpec.symlink(n.link(), uid, gid), newName);
            default -> made = create(at, NodeSpec.special(mode, st.rdev(), uid, gid), newName);
        }
        long ino = made.ino();
        if (linked) hardLinks.put(key, ino);
        copyXattrs(n, ino, at.path());
        if (!timesKept) // after the contents, which touched the times
            Ext4Paths.at(at.path(), ino, () -> vfs.setattr(ino, SetAttr.NONE.atime(atime).mtime(mtime), AS_ROOT));
    }

    private Entry create(Ext4Paths.Parent at, NodeSpec what, boolean newName) throws IOException {
        return Ext4Paths.at(at, () -> vfs.createAsIs(at.dir(), at.name(), what, newName));
    }

    private static Time ts(FileTime t) { return Time.of(t.toInstant()); }

    /** Copies the contents, runs of zero blocks left as holes; returns whether the file's times are still the ones it was created with. */
    private boolean copyData(HostTree.Node n, long ino) throws IOException {
        if (n.st().size() == 0) return true;
        if (n.ch() != null) {
            return copyData(n.ch(), n.chSize(), n.st().allocated(), ino);
        }
        try (FileChannel ch = FileChannel.open(n.path(), StandardOpenOption.READ)) {
            return copyData(ch, ch.size(), Posix.allocatedBytes(n.path()), ino);
        }
    }

    private boolean copyData(FileChannel ch, long size, long allocated, long ino) throws IOException {
        OpenFile file = vfs.open(ino, Ext4Vfs.O_WRONLY, AS_ROOT);
        try {
            long pos = 0;
            if (size > 0 && allocated >= size) { // no holes to keep: copy device-side, no scan for zeros
                vfs.writeFrom(file, ch, size);
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
                for (int off = 0; off < n; off += blockSize) {
                    int len = Math.min(blockSize, n - off);
                    boolean zero = allZero(buf, off, len);
                    if (!zero && runStart < 0) runStart = off;
                    if (zero && runStart >= 0) { write(file, pos, runStart, off); runStart = -1; }
                }
                if (runStart >= 0) write(file, pos, runStart, n);
                bar.advance(n);
                pos += n;
            }
            if (vfs.getattr(ino).size() != size) vfs.setattr(ino, SetAttr.NONE.size(size), AS_ROOT); // ends in a hole
            return size == 0;
        } finally {
            vfs.release(file);
        }
    }

    private void write(OpenFile file, long chunkPos, int from, int to) throws IOException {
        vfs.write(file, chunkPos + from, buf.duplicate().position(from).limit(to), AS_ROOT);
    }

    private static boolean allZero(ByteBuffer b, int off, int len) {
        int i = off, end = off + len;
        for (; i + 8 <= end; i += 8) if (b.getLong(i) != 0) return false;
        for (; i < end; i++) if (b.get(i) != 0) return false;
        return true;
    }

    private void copyXattrs(HostTree.Node n, long ino, String dest) throws IOException {
        for (int i = 0; i < n.xattrValues().size(); i++) {
            String name = n.xattrNames().get(i);
            byte[] v = n.xattrValues().get(i);
            try {
                Ext4Paths.at(dest, ino, () -> { vfs.setxattr(ino, name, v, 0, AS_ROOT); return null; });
            } catch (FsException e) {
                if (e.errno() != Errno.EOPNOTSUPP) throw e;
                if (!xattrWarned) err.println("ext4j: warning: extended attributes not copied: " + e.getMessage());
                xattrWarned = true;
            }
        }
        if (n.xattrError() != null) throw n.xattrError();
    }
}
