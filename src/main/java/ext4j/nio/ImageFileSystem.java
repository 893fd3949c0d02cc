package ext4j.nio;

import ext4j.fs.Caller;
import ext4j.fs.Entry;
import ext4j.fs.Ext4Vfs;

import java.io.IOException;
import java.net.URI;
import java.nio.file.ClosedFileSystemException;
import java.nio.file.FileStore;
import java.nio.file.FileSystem;
import java.nio.file.Path;
import java.nio.file.PathMatcher;
import java.nio.file.WatchService;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * An ext4 image opened as a java.nio.file FileSystem: a thin skin over the core API. Paths are
 * byte strings; operations resolve them to inodes ({@link Resolver}) and call {@link Ext4Vfs}.
 * Many threads may use one instance; {@link #close} writes back, commits, checkpoints and marks the
 * image clean. Permission checks are not made (like zipfs: the image file's own permissions guard
 * it) except by checkAccess, which answers for the JVM's user; new files belong to that user.
 */
public final class ImageFileSystem extends FileSystem {
    private final ImageFileSystemProvider provider;
    private final Path image;
    private final Ext4Vfs vfs;
    private final Resolver resolver;
    private final ImageFileStore store;
    private final Caller caller;
    private final long deviceId;
    private volatile boolean open = true;

    ImageFileSystem(ImageFileSystemProvider provider, Path image, Ext4Vfs vfs) {
        this.provider = provider;
        this.image = image;
        this.vfs = vfs;
        this.resolver = new Resolver(vfs);
        this.store = new ImageFileStore(this);
        this.caller = jvmUser();
        long id;
        try { id = vfs.statfs().fsid(); } catch (IOException e) { id = image.hashCode(); }
        this.deviceId = id;
    }

    /** st_dev for the unix view: the filesystem id statfs gives. */
    long deviceId() { return deviceId; }

    /** The JVM's user, as the kernel would see it (uid, gid, supplementary groups). */
    private static Caller jvmUser() {
        try {
            com.sun.security.auth.module.UnixSystem u = new com.sun.security.auth.module.UnixSystem();
            return new Caller(u.getUid(), u.getGid(), u.getGroups());
        } catch (RuntimeException | LinkageError e) {
            return Caller.ROOT;
        }
    }

    Ext4Vfs vfs() { checkOpen(); return vfs; }

    /** Damage found while open: what was written is committed, then the filesystem is read-only (errors=remount-ro). */
    void damaged(ext4j.base.CorruptException damage) {
        if (isOpen() && !vfs.isReadOnly()) vfs.reportCorruption(damage);
    }
    Resolver resolver() { checkOpen(); return resolver; }
    Caller caller() { return caller; }
    /** The image file (or block device) this filesystem lives in. */
    public Path image() { return image; }
    String label() { return vfs.label(); }
    String type() { return vfs.kind(); }

    void checkOpen() { if (!open) throw new ClosedFileSystemException(); }

    @Override public ImageFileSystemProvider provider() { return provider; }

    /** Channels and directory streams open on this filesystem: close() closes them, as the contract asks. */
    private final java.util.Set<java.io.Closeable> openThings = java.util.concurrent.ConcurrentHashMap.newKeySet();

    <T extends java.io.Closeable> T track(T c) { openThings.add(c); return c; }
    void forget(java.io.Closeable c) { openThings.remove(c); }

    @Override public synchronized void close() throws IOException {
        if (!open) return;
        for (java.io.Closeable c : java.util.List.copyOf(openThings)) {
            try { c.close(); } catch (IOException ignored) { }
        }
        open = false;
        provider.closed(this);
        try { vfs.close(); } catch (IOException e) { throw Errors.of(e, image()); } // NIO's exception types, as every other call
    }

    @Override public boolean isOpen() { return open; }
    @Override public boolean isReadOnly() { return vfs.isReadOnly(); }
    @Override public String getSeparator() { return "/"; }
    @Override public Iterable<Path> getRootDirectories() { return List.of(new ImagePath(this, new byte[] {'/'})); }
    @Override public Iterable<FileStore> getFileStores() { return List.of(store); }
    ImageFileStore store() { return store; }
    @Override public Set<String> supportedFileAttributeViews() { return ImageFileStore.VIEWS; }

    @Override public ImagePath getPath(String first, String... more) { return ImagePath.of(this, first, more); }

    /** A path from raw name bytes (names that are not UTF-8). */
    public ImagePath getPath(byte[] path) { return new ImagePath(this, path); }

    @Override public PathMatcher getPathMatcher(String syntaxAndPattern) {
        int colon = syntaxAndPattern.indexOf(':');
        if (colon <= 0) throw new IllegalArgumentException("'" + syntaxAndPattern + "': expected syntax:pattern");
        String syntax = syntaxAndPattern.substring(0, colon), pattern = syntaxAndPattern.substring(colon + 1);
        Pattern p = switch (syntax) {
            case "glob" -> Pattern.compile(Globs.toRegex(pattern));
            case "regex" -> Pattern.compile(pattern);
            default -> throw new UnsupportedOperationException("path matcher syntax '" + syntax + "'");
        };
        return path -> p.matcher(path.toString()).matches();
    }

    @Override public UserPrincipalLookupService getUserPrincipalLookupService() { return Principals.LOOKUP; }

    @Override public WatchService newWatchService() { throw new UnsupportedOperationException("WatchService is not supported by ext4j images"); }

    /** ext4j:file:///image.img!/path/inside */
    URI uriOf(ImagePath abs) {
        return URI.create(ImageFileSystemProvider.SCHEME + ":" + image.toUri() + "!" + Uris.encodePath(abs.raw()));
    }

    /** toRealPath: every symlink resolved, "." and ".." gone, checked to exist. */
    Path realPath(ImagePath abs, boolean follow) throws IOException {
        List<byte[]> out = new ArrayList<>();
        ImagePath cur = new ImagePath(this, new byte[] {'/'});
        for (byte[] name : abs.names()) {
            if (name.length == 0 || (name.length == 1 && name[0] == '.')) continue;
            if (name.length == 2 && name[0] == '.' && name[1] == '.') {
                if (!out.isEmpty()) out.remove(out.size() - 1);
                cur = rebuild(out);
                continue;
            }
            ImagePath next = (ImagePath) cur.resolve(new ImagePath(this, name));
            Entry e;
            try { e = resolver().resolve(next, false); } catch (IOException x) { throw Errors.of(x, abs); }
            if (e.attr().isSymlink() && follow) {
                ImagePath target;
                try { target = (ImagePath) cur.resolve(new ImagePath(this, vfs.readlink(e.ino()))); } catch (IOException x) { throw Errors.of(x, abs); }
                ImagePath real = (ImagePath) realPath(target.toAbsolutePath(), true);
                out = new ArrayList<>(real.names().stream().filter(n -> n.length > 0).toList());
                cur = real;
                continue;
            }
            out.add(name);
            cur = next;
        }
        return rebuild(out);
    }

    private ImagePath rebuild(List<byte[]> names) {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        b.write('/');
        for (int i = 0; i < names.size(); i++) { if (i > 0) b.write('/'); b.writeBytes(names.get(i)); }
        return new ImagePath(this, b.toByteArray());
    }

    @Override public String toString() { return image.toString(); }
}
