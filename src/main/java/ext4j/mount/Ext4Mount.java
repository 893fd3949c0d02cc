package ext4j.mount;

import ext4j.fs.Ext4Vfs;
import ext4j.fs.Options;
import ext4j.fuse.FuseSession;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An ext4 image served at a mountpoint: opens it (a dirty journal is replayed first, as the kernel
 * does at mount), takes the image's lock (a second mount of the same image is refused), mounts and
 * serves FUSE requests on background threads. {@link #close} unmounts and returns once the image
 * is written back, committed, checkpointed and marked clean; so does the kernel's unmount (umount,
 * fusermount3 -u), after which {@link #awaitUnmount} returns.
 */
public final class Ext4Mount implements AutoCloseable {
    private final Path image, mountpoint;
    private final Ext4Vfs vfs;
    private final Ext4Fuse adapter;
    private final FuseSession session;
    private final FileChannel lockChannel;
    private final FileLock lock;
    private boolean closed;

    private Ext4Mount(Path image, Path mountpoint, Ext4Vfs vfs, Ext4Fuse adapter, FuseSession session, FileChannel lockChannel, FileLock lock) {
        this.image = image;
        this.mountpoint = mountpoint;
        this.vfs = vfs;
        this.adapter = adapter;
        this.session = session;
        this.lockChannel = lockChannel;
        this.lock = lock;
    }

    /** Mounts image at mountpoint; returns once the mountpoint serves requests. */
    public static Ext4Mount mount(Path image, Path mountpoint, MountOptions o) throws IOException { return mount(image, mountpoint, o, null); }

    /** The same over a failing disk (tests: faults planned by the caller, null for none). */
    public static Ext4Mount mount(Path image, Path mountpoint, MountOptions o, ext4j.block.FaultyBlockDevice.Faults faults) throws IOException {
        if (!Files.isDirectory(mountpoint)) throw new IOException(mountpoint + ": mountpoint is not a directory");
        FileChannel lc = FileChannel.open(image, o.readOnly() ? new StandardOpenOption[] {StandardOpenOption.READ}
                : new StandardOpenOption[] {StandardOpenOption.READ, StandardOpenOption.WRITE});
        FileLock lock;
        try {
            lock = lc.tryLock(0, Long.MAX_VALUE, o.readOnly());
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock == null) {
            lc.close();
            throw new IOException(image + ": the image is in use (mounted or opened by another ext4j)");
        }
        Ext4Vfs vfs = null;
        try {
            Options opts = Options.defaults().withReadOnly(o.readOnly()).withCommitMillis(o.commitSeconds() * 1000).withCacheBytes(o.cacheBytes()).withFaults(faults);
            vfs = Ext4Vfs.open(image, opts);
            for (String w : vfs.warnings()) System.err.println("ext4j mount: " + w);
            Ext4Fuse adapter = new Ext4Fuse(vfs);
            String fsName = o.fsName() != null ? o.fsName() : image.toAbsolutePath().normalize().toString();
            FuseSession.Options so = new FuseSession.Options(fsName, "ext4j", o.allowOther(), o.readOnly() || vfs.isReadOnly(), o.threads(), 3600, 3600);
            FuseSession s = FuseSession.mount(mountpoint, adapter, so);
            return new Ext4Mount(image, mountpoint, vfs, adapter, s, lc, lock);
        } catch (IOException | RuntimeException e) {
            if (vfs != null) try { vfs.close(); } catch (IOException ignored) { }
            lock.release();
            lc.close();
            throw e;
        }
    }

    public Path mountpoint() { return mountpoint; }
    public Path image() { return image; }

    /** The core under the mount (tests, and the server's own invalidations). */
    public Ext4Vfs vfs() { return vfs; }

    /** The INIT flags the kernel granted. */
    public long grantedFlags() { return session.grantedFlags(); }

    /** Waits until the kernel has ended the connection (someone unmounted), then closes the image. */
    public void awaitUnmount() throws IOException, InterruptedException {
        session.awaitEnd();
        close();
    }

    /** Everything written so far made durable (SIGTERM's first step: then a lazy unmount). */
    public void sync() throws IOException { vfs.sync(); }

    /**
     * Unmounts (unless the kernel already has) and closes the image: every handle released, data
     * written back, the journal committed and checkpointed, the image marked clean.
     */
    @Override public synchronized void close() throws IOException {
        if (closed) return;
        try {
            if (!session.hasEnded()) {
                try {
                    session.unmount(false);
                } catch (IOException busy) {
                    vfs.sync();                       // a busy mount: flush, then detach it lazily
                    session.unmount(true);
                }
                try { session.awaitEnd(); } catch (InterruptedException e) { Thread.currentThread().interrupt(); throw new IOException("interrupted waiting for the unmount"); }
            }
            session.close();
            adapter.releaseAll();
            adapter.forgetAll();
            vfs.close();
        } finally {
            closed = true;
            try { lock.release(); } catch (IOException ignored) { }
            lockChannel.close();
        }
    }
}
