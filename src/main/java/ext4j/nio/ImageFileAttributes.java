package ext4j.nio;

import ext4j.fs.Attr;
import ext4j.fs.Time;

import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserPrincipal;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** One inode's attributes as the basic, posix, unix and ext4 views give them. */
final class ImageFileAttributes implements PosixFileAttributes, Ext4FileAttributeView.Attributes {
    /** Equal for hard links of one image: the image's identity and the inode number. */
    record FileKey(Object fs, long ino) {}

    private final Attr a;
    private final Object fsIdentity;
    private final long dev;

    ImageFileAttributes(Attr a, Object fsIdentity, long dev) { this.a = a; this.fsIdentity = fsIdentity; this.dev = dev; }

    static FileTime time(Time t) { return t == null ? null : FileTime.from(t.toInstant()); }

    @Override public FileTime lastModifiedTime() { return time(a.mtime()); }
    @Override public FileTime lastAccessTime() { return time(a.atime()); }
    /** Birth time where the inode has one, else the change time (as Linux's default provider falls back). */
    @Override public FileTime creationTime() { return a.crtime() != null ? time(a.crtime()) : time(a.ctime()); }
    @Override public boolean isRegularFile() { return a.isRegular(); }
    @Override public boolean isDirectory() { return a.isDirectory(); }
    @Override public boolean isSymbolicLink() { return a.isSymlink(); }
    @Override public boolean isOther() { return !a.isRegular() && !a.isDirectory() && !a.isSymlink(); }
    @Override public long size() { return a.size(); }
    @Override public Object fileKey() { return new FileKey(fsIdentity, a.ino()); }
    @Override public UserPrincipal owner() { return new Principals.User(a.uid()); }
    @Override public GroupPrincipal group() { return new Principals.Group(a.gid()); }
    @Override public Set<PosixFilePermission> permissions() { return permissions(a.mode()); }
    @Override public int flags() { return a.flags(); }
    @Override public long generation() { return a.generation(); }
    @Override public long inode() { return a.ino(); }

    static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> s = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] order = {PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
                PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
                PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ};
        for (int i = 0; i < 9; i++) if ((mode & (1 << i)) != 0) s.add(order[i]);
        return s;
    }

    static int mode(Set<PosixFilePermission> perms) {
        int m = 0;
        for (PosixFilePermission p : perms) m |= switch (p) {
            case OWNER_READ -> 0400; case OWNER_WRITE -> 0200; case OWNER_EXECUTE -> 0100;
            case GROUP_READ -> 040; case GROUP_WRITE -> 020; case GROUP_EXECUTE -> 010;
            case OTHERS_READ -> 04; case OTHERS_WRITE -> 02; case OTHERS_EXECUTE -> 01;
        };
        return m;
    }

    /** The attributes of one view by name, as Files.readAttributes(path, "view:*") returns them. */
    Map<String, Object> asMap(String view) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("lastModifiedTime", lastModifiedTime());
        m.put("lastAccessTime", lastAccessTime());
        m.put("creationTime", creationTime());
        m.put("size", size());
        m.put("isRegularFile", isRegularFile());
        m.put("isDirectory", isDirectory());
        m.put("isSymbolicLink", isSymbolicLink());
        m.put("isOther", isOther());
        m.put("fileKey", fileKey());
        if (view.equals("basic")) return m;
        if (view.equals("owner")) return Map.of("owner", owner());
        m.put("owner", owner());
        m.put("group", group());
        m.put("permissions", permissions());
        if (view.equals("posix")) return m;
        if (view.equals("unix")) {
            m.put("ino", a.ino());
            m.put("dev", dev);
            m.put("rdev", a.rdev());
            m.put("nlink", a.nlink());
            m.put("uid", (int) a.uid());
            m.put("gid", (int) a.gid());
            m.put("mode", a.mode());
            m.put("ctime", time(a.ctime()));
            return m;
        }
        Map<String, Object> e = new LinkedHashMap<>();      // ext4
        e.put("creationTime", a.crtime() == null ? null : time(a.crtime()));
        e.put("flags", a.flags());
        e.put("generation", a.generation());
        e.put("inode", a.ino());
        return e;
    }
}
