package ext4j.nio;

import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.fs.Attr;
import ext4j.fs.Entry;
import ext4j.fs.Ext4Vfs;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;

/**
 * Path walking over the core API, as Linux's namei walks: component by component from the root,
 * "." and ".." through the directory entries (physical, after symlinks), symlinks followed in the
 * middle of a path always and at its end when asked, at most 40 of them (ELOOP), ENOTDIR for a
 * non-directory in the middle.
 */
final class Resolver {
    static final int MAX_SYMLINKS = 40;
    private final Ext4Vfs vfs;

    Resolver(Ext4Vfs vfs) { this.vfs = vfs; }

    /** The entry an absolute path names (followLast: a final symlink is followed). */
    Entry resolve(ImagePath abs, boolean followLast) throws IOException {
        return walk(Ext4Vfs.ROOT, new ArrayDeque<>(abs.names()), followLast, new int[1]);
    }

    /** Where a path's last name lives: its directory (symlinks on the way followed) and the name. */
    record Parent(long dir, byte[] name) {}

    Parent parent(ImagePath abs) throws IOException {
        List<byte[]> names = abs.names();
        if (abs.getNameCount() == 0 || names.isEmpty()) throw new FsException(Errno.EBUSY, "/");   // the root has no parent entry
        byte[] last = names.get(names.size() - 1);
        Entry dir = walk(Ext4Vfs.ROOT, new ArrayDeque<>(names.subList(0, names.size() - 1)), true, new int[1]);
        if (!dir.attr().isDirectory()) throw new FsException(Errno.ENOTDIR, abs.toString());
        return new Parent(dir.ino(), last);
    }

    private Entry walk(long start, Deque<byte[]> names, boolean followLast, int[] links) throws IOException {
        Entry cur = entry(start);
        while (!names.isEmpty()) {
            byte[] n = names.removeFirst();
            if (n.length == 0 || Arrays.equals(n, new byte[] {'.'})) {
                if (!cur.attr().isDirectory()) throw new FsException(Errno.ENOTDIR, new String(n));
                continue;
            }
            if (!cur.attr().isDirectory()) throw new FsException(Errno.ENOTDIR, new String(n));
            Entry next = vfs.lookup(cur.ino(), n);
            if (next.attr().isSymlink() && (followLast || !names.isEmpty())) {
                if (++links[0] > MAX_SYMLINKS) throw new FsException(Errno.ELOOP, new String(n));
                byte[] target = vfs.readlink(next.ino());
                if (target.length == 0) throw new FsException(Errno.ENOENT, new String(n));
                Deque<byte[]> rest = new ArrayDeque<>();
                int i = 0;
                boolean absolute = target[0] == '/';
                while (i < target.length) {
                    int j = i;
                    while (j < target.length && target[j] != '/') j++;
                    if (j > i) rest.add(Arrays.copyOfRange(target, i, j));
                    i = j + 1;
                }
                rest.addAll(names);
                names = rest;
                if (absolute) cur = entry(Ext4Vfs.ROOT);
                continue;
            }
            cur = next;
        }
        return cur;
    }

    private Entry entry(long ino) throws IOException {
        Attr a = vfs.getattr(ino);
        return new Entry(ino, a.generation(), a);
    }
}
