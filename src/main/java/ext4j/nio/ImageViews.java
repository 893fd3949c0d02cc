package ext4j.nio;

import ext4j.fs.Entry;
import ext4j.fs.SetAttr;
import ext4j.fs.Time;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.nio.file.attribute.UserPrincipal;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/** The attribute views of one path: each call resolves the path again, as the default provider's views do. */
final class ImageViews {
    private ImageViews() {}

    /** What every view needs: the filesystem, the path, whether a final symlink is followed. */
    record Target(ImageFileSystem fs, ImagePath path, boolean follow) {
        Entry entry() throws IOException {
            try { return fs.resolver().resolve(path.toAbsolutePath(), follow); } catch (IOException e) { throw Errors.query(e, path); }
        }

        void writable() { if (fs.isReadOnly()) throw new java.nio.file.ReadOnlyFileSystemException(); }

        ImageFileAttributes attributes() throws IOException { return new ImageFileAttributes(entry().attr(), fs, fs.deviceId()); }

        void set(SetAttr a) throws IOException {
            writable();
            try { fs.vfs().setattr(entry().ino(), a, fs.caller()); } catch (IOException e) { throw Errors.of(e, path); }
        }
    }


    /** basic, posix and owner in one: what PosixFileAttributeView includes. */
    static final class Posix implements PosixFileAttributeView {
        private final Target t;
        private final String name;
        Posix(Target t, String name) { this.t = t; this.name = name; }

        @Override public String name() { return name; }
        @Override public PosixFileAttributes readAttributes() throws IOException { return t.attributes(); }

        @Override public void setTimes(FileTime lastModifiedTime, FileTime lastAccessTime, FileTime createTime) throws IOException {
            SetAttr a = SetAttr.NONE;
            if (lastModifiedTime != null) a = a.mtime(Time.of(lastModifiedTime.toInstant()));
            if (lastAccessTime != null) a = a.atime(Time.of(lastAccessTime.toInstant()));
            if (a.mask() != 0) t.set(a);       // a birth time cannot be set on ext4; like Linux's provider, it is ignored
        }

        /** As chmod with the nine bits: set-id and sticky bits are cleared, as the default provider does. */
        @Override public void setPermissions(Set<PosixFilePermission> perms) throws IOException {
            t.set(SetAttr.NONE.mode(ImageFileAttributes.mode(perms)));
        }

        @Override public UserPrincipal getOwner() throws IOException { return t.attributes().owner(); }
        @Override public void setOwner(UserPrincipal owner) throws IOException { t.set(SetAttr.NONE.uid(Principals.idOf(owner))); }
        @Override public void setGroup(GroupPrincipal group) throws IOException { t.set(SetAttr.NONE.gid(Principals.idOf(group))); }
    }

    /** user.* xattrs by their names without the prefix. */
    static final class User implements UserDefinedFileAttributeView {
        private final Target t;
        User(Target t) { this.t = t; }

        @Override public String name() { return "user"; }

        @Override public List<String> list() throws IOException {
            List<String> out = new ArrayList<>();
            try {
                for (String n : t.fs().vfs().listxattr(t.entry().ino(), t.fs().caller())) if (n.startsWith("user.")) out.add(n.substring(5));
            } catch (IOException e) { throw Errors.of(e, t.path()); }
            return out;
        }

        private byte[] value(String name) throws IOException {
            try { return t.fs().vfs().getxattr(t.entry().ino(), "user." + name, t.fs().caller()); } catch (IOException e) { throw Errors.of(e, t.path()); }
        }

        @Override public int size(String name) throws IOException { return value(name).length; }

        @Override public int read(String name, ByteBuffer dst) throws IOException {
            byte[] v = value(name);
            if (dst.remaining() < v.length) throw new IOException("user xattr '" + name + "' of " + t.path() + " has " + v.length + " bytes, the buffer " + dst.remaining());
            dst.put(v);
            return v.length;
        }

        @Override public int write(String name, ByteBuffer src) throws IOException {
            t.writable();
            byte[] v = new byte[src.remaining()];
            src.get(v);
            try { t.fs().vfs().setxattr(t.entry().ino(), "user." + name, v, 0, t.fs().caller()); } catch (IOException e) { throw Errors.of(e, t.path()); }
            return v.length;
        }

        @Override public void delete(String name) throws IOException {
            t.writable();
            try { t.fs().vfs().removexattr(t.entry().ino(), "user." + name, t.fs().caller()); } catch (IOException e) { throw Errors.of(e, t.path()); }
        }
    }

    static final class Ext4 implements Ext4FileAttributeView {
        private final Target t;
        Ext4(Target t) { this.t = t; }
        @Override public Attributes readAttributes() throws IOException { return t.attributes(); }
    }
}
