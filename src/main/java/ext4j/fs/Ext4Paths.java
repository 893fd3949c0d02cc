package ext4j.fs;

import ext4j.base.Errno;
import ext4j.base.FsException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.List;

/**
 * The path layer over {@link Ext4Vfs} for the CLI: absolute '/'-separated paths walked as
 * Linux's namei walks them (component by component from the root, "." skipped, ".." through the
 * directory's own entry, symlinks followed in the middle always and at the end when asked, at
 * most 40 of them: ELOOP; ENOTDIR for a non-directory in the middle, ENAMETOOLONG for a name over
 * 255 bytes or a path of more than 4096 names), then the call by inode.
 *
 * <p>Errors name the path the caller gave: the core names inodes ("inode 12", "directory inode 2,
 * name 'x'"), and this layer puts the path in their place, keeping the rest of the message.
 * Uses only the core API's public calls.
 */
public final class Ext4Paths {
    public static final int MAX_SYMLINKS = 40;
    private static final int MAX_COMPONENTS = 4096;
    private static final byte[] DOT = {'.'};

    private final Ext4Vfs vfs;
    private final Caller who;

    /** Paths over vfs; who is the caller of the calls that create or change (owner of new inodes, set-id rules). */
    public Ext4Paths(Ext4Vfs vfs, Caller who) {
        this.vfs = vfs;
        this.who = who;
    }

    public Ext4Vfs vfs() { return vfs; }

    public Caller caller() { return who; }

    // ---- walking ----

    /** The entry an absolute path names; a final symlink is followed only if followLast. */
    public Entry resolve(String path, boolean followLast) throws IOException {
        if (!path.startsWith("/")) throw new FsException(Errno.EINVAL, path);
        List<byte[]> names = split(path.getBytes(StandardCharsets.UTF_8));
        if (names.stream().filter(n -> n.length > 0).count() > MAX_COMPONENTS) throw new FsException(Errno.ENAMETOOLONG, path);
        try {
            return walk(new ArrayDeque<>(names), followLast);
        } catch (FsException e) {
            throw whole(e, path);
        }
    }

    /** resolve, or null when the path does not exist (ENOENT, also for a missing directory on the way). */
    public Entry find(String path, boolean followLast) throws IOException {
        try {
            return resolve(path, followLast);
        } catch (FsException e) {
            if (e.errno() == Errno.ENOENT) return null;
            throw e;
        }
    }

    private Entry walk(Deque<byte[]> names, boolean followLast) throws IOException {
        Entry cur = entry(Ext4Vfs.ROOT);
        int links = 0;
        while (!names.isEmpty()) {
            byte[] n = names.removeFirst();
            if (n.length == 0 || Arrays.equals(n, DOT)) continue;
            if (!cur.attr().isDirectory()) throw new FsException(Errno.ENOTDIR, "");
            if (n.length > 255) throw new FsException(Errno.ENAMETOOLONG, "");
            Entry next = vfs.lookup(cur.ino(), n);
            if (next.attr().isSymlink() && (followLast || !onlyDots(names))) {
                if (++links > MAX_SYMLINKS) throw new FsException(Errno.ELOOP, "");
                byte[] target = vfs.readlink(next.ino());
                if (target.length == 0) throw new FsException(Errno.ENOENT, "");
                List<byte[]> expanded = split(target);
                for (int i = expanded.size() - 1; i >= 0; i--) names.addFirst(expanded.get(i));
                if (target[0] == '/') cur = entry(Ext4Vfs.ROOT);   // else on from the link's directory
                continue;
            }
            cur = next;
        }
        return cur;
    }

    /** Whether what is left of a path names nothing more ("", "."): the name before it is the last one. */
    private static boolean onlyDots(Deque<byte[]> names) {
        for (byte[] n : names) if (n.length != 0 && !Arrays.equals(n, DOT)) return false;
        return true;
    }

    private static List<byte[]> split(byte[] p) {
        List<byte[]> out = new ArrayList<>();
        for (int i = 0; i <= p.length; ) {
            int j = i;
            while (j < p.length && p[j] != '/') j++;
            out.add(Arrays.copyOfRange(p, i, j));
            i = j + 1;
        }
        return out;
    }

    private Entry entry(long ino) throws IOException {
        Attr a = vfs.getattr(ino);
        return new Entry(ino, a.generation(), a);
    }

    /** Where a path's last name goes: its directory and the name (the path as given, for messages). */
    public record Parent(long dir, byte[] name, String path) {}

    /**
     * The directory of a path's last name (trailing slashes ignored), resolved with its symlinks
     * followed; as Linux does, the directory's errors (naming the directory's path) come before the
     * name's. EEXIST for the root, which has no name.
     */
    public Parent parent(String path) throws IOException {
        if (!path.startsWith("/")) throw new FsException(Errno.EINVAL, path);
        String trimmed = path.replaceAll("/+$", "");
        if (trimmed.isEmpty()) throw new FsException(Errno.EEXIST, path);
        int slash = trimmed.lastIndexOf('/');
        Entry dir = resolve(slash == 0 ? "/" : trimmed.substring(0, slash), true);
        byte[] name = trimmed.substring(slash + 1).getBytes(StandardCharsets.UTF_8);
        if (!dir.attr().isDirectory()) throw new FsException(Errno.ENOTDIR, path);
        if (name.length > 255) throw new FsException(Errno.ENAMETOOLONG, path);
        return new Parent(dir.ino(), name, path);
    }

    /** A whole directory listing, "." and ".." included (for commands that sort or walk it; the core streams it by cookie). */
    public List<Dirent> list(long dir) throws IOException {
        List<Dirent> out = new ArrayList<>();
        vfs.readdir(dir, 0, out::add);
        return out;
    }

    // ---- calls by path ----

    /** A call of the core API whose errors are to name a path. */
    public interface Call<T> { T run() throws IOException; }

    /** Runs a core call on the inode ino found at path: its errors name path instead of the inode. */
    public static <T> T at(String path, long ino, Call<T> call) throws IOException {
        try {
            return call.run();
        } catch (FsException e) {
            throw renamed(e, "inode " + ino, path);
        }
    }

    /** Runs a core call on a directory entry (dir, name): its errors name path instead of the entry or the directory. */
    public static <T> T at(Parent p, Call<T> call) throws IOException {
        try {
            return call.run();
        } catch (FsException e) {
            throw renamed(e, shown(p.dir(), p.name()), p.path(), "inode " + p.dir(), p.path());
        }
    }

    public Entry mkdir(String path, int perm) throws IOException {
        Parent p = parent(path);
        return at(p, () -> vfs.mkdir(p.dir(), p.name(), perm, 0, who));
    }

    /** A new empty regular file with exactly these permission bits (no umask). */
    public Entry create(String path, int perm) throws IOException {
        Parent p = parent(path);
        return at(p, () -> vfs.create(p.dir(), p.name(), perm, 0, who));
    }

    public Entry symlink(String path, byte[] target) throws IOException {
        Parent p = parent(path);
        return at(p, () -> vfs.symlink(p.dir(), p.name(), target, who));
    }

    /** A hard link newPath to what existing names (a final symlink itself, not followed, as link(2)). */
    public Entry link(String existing, String newPath) throws IOException {
        Entry src = resolve(existing, false);
        Parent p = parent(newPath);
        try {
            return vfs.link(src.ino(), p.dir(), p.name());
        } catch (FsException e) {
            throw renamed(e, shown(p.dir(), p.name()), newPath, "inode " + src.ino(), existing);
        }
    }

    public void unlink(String path) throws IOException {
        Parent p = parent(path);
        at(p, () -> { vfs.unlink(p.dir(), p.name()); return null; });
    }

    public void rmdir(String path) throws IOException {
        Parent p = parent(path);
        at(p, () -> { vfs.rmdir(p.dir(), p.name()); return null; });
    }

    /** rename(2): to is replaced if it exists (and is compatible). */
    public void rename(String from, String to) throws IOException {
        Parent a = parent(from), b = parent(to);
        try {
            vfs.rename(a.dir(), a.name(), b.dir(), b.name(), 0);
        } catch (FsException e) {
            throw renamed(e, shown(a.dir(), a.name()), from, shown(b.dir(), b.name()), to);
        }
    }

    /** setattr of what path names (follow: a final symlink is followed). */
    public Attr setattr(String path, boolean follow, SetAttr change) throws IOException {
        Entry e = resolve(path, follow);
        return at(path, e.ino(), () -> vfs.setattr(e.ino(), change, who));
    }

    // ---- messages ----

    /** A walk's error: the whole path is its subject (the core's names of inodes on the way mean nothing to the caller). */
    private static FsException whole(FsException e, String path) {
        if (e.getClass() != FsException.class) return e;           // subclasses carry their own message
        FsException out = new FsException(e.errno(), path);
        out.initCause(e);
        return out;
    }

    /**
     * The error with a path in place of the core's subject: pairs of (subject, path). The rest of
     * the core's message is kept (": already a verity file"); an error about something else (a
     * directory at its link limit) is left as it is.
     */
    private static FsException renamed(FsException e, String... subjectAndPath) {
        if (e.getClass() != FsException.class) return e;
        String s = e.path();
        for (int k = 0; k + 1 < subjectAndPath.length; k += 2) {
            String subj = subjectAndPath[k];
            if (s.startsWith(subj) && (s.length() == subj.length() || !Character.isDigit(s.charAt(subj.length())))) {
                FsException out = new FsException(e.errno(), subjectAndPath[k + 1] + s.substring(subj.length()));
                out.initCause(e);
                return out;
            }
        }
        return e;
    }

    /** How the core names a directory entry in its messages: the directory's inode, then the name, bytes that are not printable ASCII escaped. */
    static String shown(long dir, byte[] name) {
        StringBuilder b = new StringBuilder("directory inode ").append(dir).append(", name '");
        for (byte c : name) {
            if (c >= 0x20 && c < 0x7F && c != '\\') b.append((char) c);
            else b.append(String.format("\\x%02x", c & 0xFF));
        }
        return b.append('\'').toString();
    }
}
