package ext4j.nio;

import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.block.FileBlockDevice;
import ext4j.fs.Entry;
import ext4j.fs.Ext4Vfs;
import ext4j.fs.OpenFile;
import ext4j.mkfs.Mkfs;

import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.AccessMode;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.CopyOption;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystemNotFoundException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.ProviderMismatchException;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.attribute.FileOwnerAttributeView;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.spi.FileSystemProvider;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The "ext4j" provider: {@code FileSystems.newFileSystem(Path.of("disk.img"))} for an image or a
 * block device, {@code FileSystems.newFileSystem(URI.create("ext4j:" + image.toUri()), env)}
 * (which can also create one: env create=true, size=64M, mkfs options by name), and URIs naming
 * a path inside an open image, zipfs-style: {@code ext4j:file:///images/disk.img!/etc/hosts}.
 */
public final class ImageFileSystemProvider extends FileSystemProvider {
    public static final String SCHEME = "ext4j";
    private static final int DEFAULT_UMASK = 022;
    private final Map<Path, ImageFileSystem> open = new HashMap<>();

    /** The provider; found through ServiceLoader (one instance per JVM), not constructed by hand. */
    public ImageFileSystemProvider() {}

    @Override public String getScheme() { return SCHEME; }

    // ---- opening ----

    private static Path imageOf(URI uri) {
        if (!SCHEME.equalsIgnoreCase(uri.getScheme())) throw new IllegalArgumentException("URI scheme is not '" + SCHEME + "': " + uri);
        String ssp = uri.getRawSchemeSpecificPart();
        int bang = ssp.indexOf('!');
        String img = bang < 0 ? ssp : ssp.substring(0, bang);
        return Path.of(URI.create(img)).toAbsolutePath().normalize();
    }

    @Override public FileSystem newFileSystem(URI uri, Map<String, ?> env) throws IOException { return open(imageOf(uri), env, true); }

    /** Used by FileSystems.newFileSystem(Path): a file that is not an ext2/3/4 image is not ours (UnsupportedOperationException). */
    @Override public FileSystem newFileSystem(Path path, Map<String, ?> env) throws IOException {
        if (path.getFileSystem() != java.nio.file.FileSystems.getDefault()) throw new UnsupportedOperationException("an image must be a host file");
        return open(path.toAbsolutePath().normalize(), env, false);
    }

    private FileSystem open(Path image, Map<String, ?> env, boolean byUri) throws IOException {
        ImageEnv e = ImageEnv.parse(env);
        synchronized (open) {
            if (open.containsKey(image)) throw new FileSystemAlreadyExistsException(image.toString());
        }
        if (e.create() && !Files.exists(image)) {
            try (FileChannel ch = FileChannel.open(image, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.wrap(new byte[1]), e.size() - 1);
            }
            try (FileBlockDevice dev = FileBlockDevice.open(image, false)) {
                Mkfs.format(dev, e.size(), e.mkfs(), false, what -> { });
            } catch (IllegalArgumentException | IllegalStateException bad) {
                Files.deleteIfExists(image);
                throw new IllegalArgumentException("env: " + bad.getMessage(), bad);
            }
        } else if (!Files.exists(image)) {
            throw new NoSuchFileException(image.toString());
        } else if (!byUri && !looksLikeExt(image)) {
            throw new UnsupportedOperationException(image + " is not an ext2/ext3/ext4 image");
        }
        Ext4Vfs vfs = Ext4Vfs.open(image, e.options());
        ImageFileSystem fs = new ImageFileSystem(this, image, vfs);
        synchronized (open) {
            if (open.putIfAbsent(image, fs) != null) { vfs.close(); throw new FileSystemAlreadyExistsException(image.toString()); }
        }
        return fs;
    }

    /** The ext2/3/4 superblock magic (0xEF53 at byte 1080). */
    private static boolean looksLikeExt(Path image) {
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(2).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            return ch.read(b, 1080) == 2 && (b.getShort(0) & 0xFFFF) == 0xEF53;
        } catch (IOException e) {
            return false;
        }
    }

    void closed(ImageFileSystem fs) { synchronized (open) { open.remove(fs.image(), fs); } }

    @Override public FileSystem getFileSystem(URI uri) {
        synchronized (open) {
            ImageFileSystem fs = open.get(imageOf(uri));
            if (fs == null) throw new FileSystemNotFoundException(uri.toString());
            return fs;
        }
    }

    @Override public Path getPath(URI uri) {
        String ssp = uri.getRawSchemeSpecificPart();
        int bang = ssp.indexOf('!');
        if (bang < 0) throw new IllegalArgumentException("URI names no path inside the image (expected ext4j:IMAGE-URI!/path): " + uri);
        ImageFileSystem fs = (ImageFileSystem) getFileSystem(uri);
        return fs.getPath(Uris.decodePath(ssp.substring(bang + 1)));
    }

    // ---- helpers ----

    private static ImagePath check(Path p) {
        if (!(p instanceof ImagePath ip)) throw new ProviderMismatchException(String.valueOf(p));
        ip.getFileSystem().checkOpen();
        return ip;
    }

    private static boolean follow(LinkOption... o) { return ImagePath.followLinks(o); }

    private static Entry resolve(ImagePath p, boolean follow) throws IOException {
        try { return p.getFileSystem().resolver().resolve(p.toAbsolutePath(), follow); } catch (IOException e) { throw Errors.of(e, p); }
    }

    private static Resolver.Parent parent(ImagePath p) throws IOException {
        try { return p.getFileSystem().resolver().parent(p.toAbsolutePath()); } catch (IOException e) { throw Errors.of(e, p); }
    }

    private static void readOnlyCheck(ImagePath p) {
        if (p.getFileSystem().isReadOnly()) throw new java.nio.file.ReadOnlyFileSystemException();
    }

    @SuppressWarnings("unchecked")
    private static int modeOf(FileAttribute<?>[] attrs, int dflt) {
        for (FileAttribute<?> a : attrs) {
            if (a.name().equals("posix:permissions") || a.name().equals("unix:permissions"))
                return ImageFileAttributes.mode((Set<PosixFilePermission>) a.value());
            throw new UnsupportedOperationException("initial attribute '" + a.name() + "'");
        }
        return dflt;
    }

    // ---- files ----

    @Override public SeekableByteChannel newByteChannel(Path path, Set<? extends OpenOption> options, FileAttribute<?>... attrs) throws IOException {
        return newFileChannel(path, options, attrs);
    }

    @Override public FileChannel newFileChannel(Path path, Set<? extends OpenOption> options, FileAttribute<?>... attrs) throws IOException {
        ImagePath p = check(path);
        ImageFileSystem fs = p.getFileSystem();
        boolean append = options.contains(StandardOpenOption.APPEND);
        boolean write = options.contains(StandardOpenOption.WRITE) || append;
        boolean read = options.contains(StandardOpenOption.READ) || !write;
        if (append && options.contains(StandardOpenOption.READ)) throw new IllegalArgumentException("READ + APPEND not allowed");
        if (append && options.contains(StandardOpenOption.TRUNCATE_EXISTING)) throw new IllegalArgumentException("APPEND + TRUNCATE_EXISTING not allowed");
        boolean createNew = write && options.contains(StandardOpenOption.CREATE_NEW);
        boolean create = write && (createNew || options.contains(StandardOpenOption.CREATE));
        boolean nofollow = options.contains(LinkOption.NOFOLLOW_LINKS);
        for (OpenOption o : options)
            if (!(o instanceof StandardOpenOption) && o != LinkOption.NOFOLLOW_LINKS) throw new UnsupportedOperationException("open option " + o);
        if (write) readOnlyCheck(p);
        Ext4Vfs vfs = fs.vfs();
        long ino;
        try {
            if (create) {
                Resolver.Parent pa = fs.resolver().parent(p.toAbsolutePath());
                Entry existing;
                try {
                    existing = vfs.lookup(pa.dir(), pa.name());
                } catch (FsException e) {
                    if (e.errno() != Errno.ENOENT) throw e;
                    existing = null;
                }
                if (existing != null && createNew) throw new FsException(Errno.EEXIST, p.toString());
                if (existing == null) {
                    ino = vfs.create(pa.dir(), pa.name(), modeOf(attrs, 0666), DEFAULT_UMASK, fs.caller()).ino();
                } else if (existing.attr().isSymlink()) {
                    if (nofollow) throw new FsException(Errno.ELOOP, p.toString());
                    ino = createThroughLink(fs, p, attrs);
                } else {
                    ino = existing.ino();
                }
            } else {
                Entry e = fs.resolver().resolve(p.toAbsolutePath(), !nofollow);
                if (e.attr().isSymlink()) throw new FsException(Errno.ELOOP, p.toString());
                ino = e.ino();
            }
            int flags = (read && write ? Ext4Vfs.O_RDWR : write ? Ext4Vfs.O_WRONLY : Ext4Vfs.O_RDONLY)
                    | (write && options.contains(StandardOpenOption.TRUNCATE_EXISTING) ? Ext4Vfs.O_TRUNC : 0);
            OpenFile f = vfs.open(ino, flags, fs.caller());
            Runnable onClose = options.contains(StandardOpenOption.DELETE_ON_CLOSE) ? () -> {
                try { delete(p); } catch (IOException ignored) { }
            } : null;
            return fs.track(new ImageFileChannel(fs, f, p, read, write, append, options.contains(StandardOpenOption.SYNC), options.contains(StandardOpenOption.DSYNC), onClose));
        } catch (IOException e) {
            throw Errors.of(e, p);
        }
    }

    /** O_CREAT through a symlink, as open(2) does: the file it points to, created if it does not exist (links of links followed, 40 at most). */
    private static long createThroughLink(ImageFileSystem fs, ImagePath link, FileAttribute<?>[] attrs) throws IOException {
        Ext4Vfs vfs = fs.vfs();
        ImagePath at = link.toAbsolutePath();
        for (int hops = 0; hops < Resolver.MAX_SYMLINKS; hops++) {
            Entry e = fs.resolver().resolve(at, false);
            if (!e.attr().isSymlink()) return e.ino();
            ImagePath target = (ImagePath) ((ImagePath) at.getParent()).resolve(fs.getPath(vfs.readlink(e.ino())));
            Resolver.Parent pa = fs.resolver().parent(target.toAbsolutePath());
            try {
                Entry next = vfs.lookup(pa.dir(), pa.name());
                if (!next.attr().isSymlink()) return next.ino();
                at = target.toAbsolutePath();
            } catch (FsException missing) {
                if (missing.errno() != Errno.ENOENT) throw missing;
                return vfs.create(pa.dir(), pa.name(), modeOf(attrs, 0666), DEFAULT_UMASK, fs.caller()).ino();
            }
        }
        throw new FsException(Errno.ELOOP, link.toString());
    }

    @Override public DirectoryStream<Path> newDirectoryStream(Path dir, DirectoryStream.Filter<? super Path> filter) throws IOException {
        ImagePath p = check(dir);
        Entry e = resolve(p, true);
        if (!e.attr().isDirectory()) throw new NotDirectoryException(p.toString());
        return p.getFileSystem().track(new ImageDirectoryStream(p.getFileSystem(), p, e.ino(), filter));
    }

    @Override public void createDirectory(Path dir, FileAttribute<?>... attrs) throws IOException {
        ImagePath p = check(dir);
        readOnlyCheck(p);
        Resolver.Parent pa = parent(p);
        try { p.getFileSystem().vfs().mkdir(pa.dir(), pa.name(), modeOf(attrs, 0777), DEFAULT_UMASK, p.getFileSystem().caller()); }
        catch (IOException e) { throw Errors.of(e, p); }
    }

    @Override public void createSymbolicLink(Path link, Path target, FileAttribute<?>... attrs) throws IOException {
        ImagePath p = check(link);
        if (attrs.length > 0) throw new UnsupportedOperationException("initial attributes of a symlink");
        readOnlyCheck(p);
        byte[] t = target instanceof ImagePath ip ? ip.raw() : target.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Resolver.Parent pa = parent(p);
        try { p.getFileSystem().vfs().symlink(pa.dir(), pa.name(), t, p.getFileSystem().caller()); }
        catch (IOException e) { throw Errors.of(e, p); }
    }

    @Override public void createLink(Path link, Path existing) throws IOException {
        ImagePath p = check(link), x = check(existing);
        readOnlyCheck(p);
        Entry e = resolve(x, false);                 // link(2) does not follow a final symlink
        Resolver.Parent pa = parent(p);
        try { p.getFileSystem().vfs().link(e.ino(), pa.dir(), pa.name()); }
        catch (IOException ex) { throw Errors.of(ex, p, x); }
    }

    @Override public void delete(Path path) throws IOException {
        ImagePath p = check(path);
        readOnlyCheck(p);
        Resolver.Parent pa = parent(p);
        Ext4Vfs vfs = p.getFileSystem().vfs();
        try {
            Entry e = vfs.lookup(pa.dir(), pa.name());
            if (e.attr().isDirectory()) vfs.rmdir(pa.dir(), pa.name());
            else vfs.unlink(pa.dir(), pa.name());
        } catch (IOException e) {
            throw Errors.of(e, p);
        }
    }

    @Override public Path readSymbolicLink(Path link) throws IOException {
        ImagePath p = check(link);
        Entry e = resolve(p, false);
        if (!e.attr().isSymlink()) throw Errors.notLink(p);
        try { return p.getFileSystem().getPath(p.getFileSystem().vfs().readlink(e.ino())); } catch (IOException x) { throw Errors.of(x, p); }
    }

    // ---- copy and move ----

    @Override public void copy(Path source, Path target, CopyOption... options) throws IOException {
        ImagePath s = check(source), t = check(target);
        boolean replace = false, attrs = false, nofollow = false;
        for (CopyOption o : options) {
            if (o == StandardCopyOption.REPLACE_EXISTING) replace = true;
            else if (o == StandardCopyOption.COPY_ATTRIBUTES) attrs = true;
            else if (o == LinkOption.NOFOLLOW_LINKS) nofollow = true;
            else throw new UnsupportedOperationException("copy option " + o);
        }
        readOnlyCheck(t);
        Entry src = resolve(s, !nofollow);
        if (exists(t)) {
            Entry dst = resolve(t, false);
            if (s.getFileSystem() == t.getFileSystem() && dst.ino() == src.ino()) return;   // copying a file onto itself changes nothing
            if (!replace) throw new FileAlreadyExistsException(t.toString());
            delete(t);
        }
        Ext4Vfs sv = s.getFileSystem().vfs();
        try {
            if (src.attr().isDirectory()) {
                createDirectory(t);
            } else if (src.attr().isSymlink()) {
                createSymbolicLink(t, s.getFileSystem().getPath(sv.readlink(src.ino())));
            } else if (src.attr().isRegular()) {
                try (FileChannel in = newFileChannel(s, Set.of(StandardOpenOption.READ));
                     FileChannel out = newFileChannel(t, Set.of(StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW))) {
                    long size = in.size(), done = 0;
                    while (done < size) {
                        long n = in.transferTo(done, size - done, out);
                        if (n <= 0) break;
                        done += n;
                    }
                }
            } else {
                throw new java.nio.file.FileSystemException(s.toString(), t.toString(), "copying special files is not supported");
            }
            if (attrs) {
                PosixFileAttributes a = readAttributes(s, PosixFileAttributes.class, nofollow ? new LinkOption[] {LinkOption.NOFOLLOW_LINKS} : new LinkOption[0]);
                PosixFileAttributeView v = getFileAttributeView(t, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS);
                if (!a.isSymbolicLink()) v.setPermissions(a.permissions());
                try { v.setOwner(a.owner()); v.setGroup(a.group()); } catch (IOException notOurs) { }
                v.setTimes(a.lastModifiedTime(), a.lastAccessTime(), null);
            }
        } catch (IOException e) {
            throw Errors.of(e, s, t);
        }
    }

    private static boolean exists(ImagePath p) throws IOException {
        try { resolve(p, false); return true; } catch (NoSuchFileException e) { return false; }
    }

    @Override public void move(Path source, Path target, CopyOption... options) throws IOException {
        ImagePath s = check(source), t = check(target);
        boolean replace = false, atomic = false;
        for (CopyOption o : options) {
            if (o == StandardCopyOption.REPLACE_EXISTING) replace = true;
            else if (o == StandardCopyOption.ATOMIC_MOVE) atomic = true;
            else if (o != StandardCopyOption.COPY_ATTRIBUTES && o != LinkOption.NOFOLLOW_LINKS) throw new UnsupportedOperationException("move option " + o);
        }
        if (s.getFileSystem() != t.getFileSystem()) {
            // two images: what the JDK does across mounts, a copy with the attributes, then the source removed
            if (atomic) throw new AtomicMoveNotSupportedException(s.toString(), t.toString(), "between two images");
            copy(s, t, replace ? new CopyOption[] {StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.COPY_ATTRIBUTES, LinkOption.NOFOLLOW_LINKS}
                    : new CopyOption[] {StandardCopyOption.COPY_ATTRIBUTES, LinkOption.NOFOLLOW_LINKS});
            delete(s);
            return;
        }
        readOnlyCheck(t);
        if (exists(t) && resolve(s, false).ino() == resolve(t, false).ino()) return;   // onto itself (or a hard link of itself): nothing to do, as rename(2)
        Resolver.Parent from = parent(s), to = parent(t);
        // ATOMIC_MOVE is one rename(2), replacing a target as rename does; otherwise a target is kept unless REPLACE_EXISTING
        int flags = atomic || replace ? 0 : Ext4Vfs.RENAME_NOREPLACE;
        Ext4Vfs vfs = s.getFileSystem().vfs();
        try {
            vfs.rename(from.dir(), from.name(), to.dir(), to.name(), flags);
        } catch (FsException e) {
            if (e.errno() == Errno.EEXIST) throw new FileAlreadyExistsException(t.toString());
            // REPLACE_EXISTING replaces a target of the other kind (a file by a directory, an empty directory by a file), which rename(2) refuses
            if (replace && !atomic && (e.errno() == Errno.ENOTDIR || e.errno() == Errno.EISDIR)) {
                delete(t);
                try { vfs.rename(from.dir(), from.name(), to.dir(), to.name(), Ext4Vfs.RENAME_NOREPLACE); }
                catch (IOException again) { throw Errors.of(again, s, t); }
                return;
            }
            throw Errors.of(e, s, t);
        } catch (IOException e) {
            throw Errors.of(e, s, t);
        }
    }

    // ---- queries ----

    @Override public boolean isSameFile(Path a, Path b) throws IOException {
        if (a.equals(b)) return true;
        if (!(a instanceof ImagePath x) || !(b instanceof ImagePath y) || x.getFileSystem() != y.getFileSystem()) return false;
        return resolve(check(x), true).ino() == resolve(check(y), true).ino();
    }

    @Override public boolean isHidden(Path path) {
        Path n = check(path).getFileName();
        return n != null && n.toString().startsWith(".");
    }

    @Override public FileStore getFileStore(Path path) throws IOException {
        ImagePath p = check(path);
        resolve(p, true);
        return p.getFileSystem().store();
    }

    @Override public void checkAccess(Path path, AccessMode... modes) throws IOException {
        ImagePath p = check(path);
        Entry e;
        try { e = p.getFileSystem().resolver().resolve(p.toAbsolutePath(), true); } catch (IOException x) { throw Errors.query(x, p); }
        int mask = 0;
        for (AccessMode m : modes) mask |= switch (m) { case READ -> Ext4Vfs.R_OK; case WRITE -> Ext4Vfs.W_OK; case EXECUTE -> Ext4Vfs.X_OK; };
        try { p.getFileSystem().vfs().access(e.ino(), p.getFileSystem().caller(), mask); }
        catch (IOException x) {
            if (x instanceof FsException f && f.errno() == Errno.EROFS) throw new java.nio.file.AccessDeniedException(p.toString(), null, "Read-only file system");
            throw Errors.of(x, p);
        }
    }

    // ---- attributes ----

    @SuppressWarnings("unchecked")
    @Override public <V extends FileAttributeView> V getFileAttributeView(Path path, Class<V> type, LinkOption... options) {
        ImageViews.Target t = new ImageViews.Target(check(path).getFileSystem(), check(path), follow(options));
        if (type == BasicFileAttributeView.class) return (V) new ImageViews.Posix(t, "basic");
        if (type == PosixFileAttributeView.class) return (V) new ImageViews.Posix(t, "posix");
        if (type == FileOwnerAttributeView.class) return (V) new ImageViews.Posix(t, "owner");
        if (type == UserDefinedFileAttributeView.class) return (V) new ImageViews.User(t);
        if (type == Ext4FileAttributeView.class) return (V) new ImageViews.Ext4(t);
        return null;
    }

    @SuppressWarnings("unchecked")
    @Override public <A extends BasicFileAttributes> A readAttributes(Path path, Class<A> type, LinkOption... options) throws IOException {
        if (type != BasicFileAttributes.class && type != PosixFileAttributes.class) throw new UnsupportedOperationException("attributes " + type.getName());
        ImagePath p = check(path);
        return (A) new ImageViews.Target(p.getFileSystem(), p, follow(options)).attributes();
    }

    @Override public Map<String, Object> readAttributes(Path path, String attributes, LinkOption... options) throws IOException {
        ImagePath p = check(path);
        int colon = attributes.indexOf(':');
        String view = colon < 0 ? "basic" : attributes.substring(0, colon), names = colon < 0 ? attributes : attributes.substring(colon + 1);
        if (!ImageFileStore.VIEWS.contains(view)) throw new UnsupportedOperationException("attribute view '" + view + "'");
        ImageViews.Target t = new ImageViews.Target(p.getFileSystem(), p, follow(options));
        if (view.equals("user")) {
            ImageViews.User u = new ImageViews.User(t);
            Map<String, Object> m = new LinkedHashMap<>();
            for (String n : names.equals("*") ? u.list() : java.util.List.of(names.split(","))) {
                ByteBuffer b = ByteBuffer.allocate(u.size(n));
                u.read(n, b);
                m.put(n, b.array());
            }
            return m;
        }
        Map<String, Object> all = t.attributes().asMap(view);
        if (names.equals("*")) return all;
        Map<String, Object> m = new LinkedHashMap<>();
        for (String n : names.split(",")) {
            if (n.equals("*")) { m.putAll(all); continue; }
            if (!all.containsKey(n)) throw new IllegalArgumentException("'" + n + "' is not an attribute of the " + view + " view");
            m.put(n, all.get(n));
        }
        return m;
    }

    @SuppressWarnings("unchecked")
    @Override public void setAttribute(Path path, String attribute, Object value, LinkOption... options) throws IOException {
        ImagePath p = check(path);
        readOnlyCheck(p);
        int colon = attribute.indexOf(':');
        String view = colon < 0 ? "basic" : attribute.substring(0, colon), name = colon < 0 ? attribute : attribute.substring(colon + 1);
        ImageViews.Target t = new ImageViews.Target(p.getFileSystem(), p, follow(options));
        ImageViews.Posix v = new ImageViews.Posix(t, view);
        switch (view + ":" + name) {
            case "basic:lastModifiedTime", "posix:lastModifiedTime", "unix:lastModifiedTime" -> v.setTimes((FileTime) value, null, null);
            case "basic:lastAccessTime", "posix:lastAccessTime", "unix:lastAccessTime" -> v.setTimes(null, (FileTime) value, null);
            case "basic:creationTime", "posix:creationTime", "unix:creationTime" -> { }      // ext4 cannot set a birth time
            case "posix:permissions", "unix:permissions" -> v.setPermissions((Set<PosixFilePermission>) value);
            case "posix:owner", "owner:owner", "unix:owner" -> v.setOwner((UserPrincipal) value);
            case "posix:group", "unix:group" -> v.setGroup((GroupPrincipal) value);
            case "unix:uid" -> t.set(ext4j.fs.SetAttr.NONE.uid(Integer.toUnsignedLong((Integer) value)));
            case "unix:gid" -> t.set(ext4j.fs.SetAttr.NONE.gid(Integer.toUnsignedLong((Integer) value)));
            case "unix:mode" -> t.set(ext4j.fs.SetAttr.NONE.mode((Integer) value & 07777));
            default -> {
                if (view.equals("user")) {
                    ByteBuffer b = value instanceof byte[] bytes ? ByteBuffer.wrap(bytes) : (ByteBuffer) value;
                    new ImageViews.User(t).write(name, b);
                    return;
                }
                throw new IllegalArgumentException("'" + attribute + "' cannot be set");
            }
        }
    }
}
