package ext4j.fuse;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

/**
 * One mounted FUSE connection: mounts (mount(2) as root, fusermount3 otherwise), negotiates INIT,
 * then serves requests on several platform threads, each reading its own cloned /dev/fuse
 * descriptor into its own off-heap buffers. The session ends when the kernel ends the connection
 * (unmount: DESTROY, then reads fail with ENODEV).
 */
public final class FuseSession implements AutoCloseable, FuseNotifier {
    /** What to mount with: fsname (the source column of mount tables), allow_other, ro, threads, cache timeouts. */
    public record Options(String fsName, String subtype, boolean allowOther, boolean readOnly, int threads, long entryValidSeconds, long attrValidSeconds) {
        public static Options defaults(String fsName) { return new Options(fsName, "ext4j", false, false, 4, 3600, 3600); }
    }

    /**
     * The INIT flags this server asks for; the kernel grants the ones it has. Not HANDLE_KILLPRIV_V2:
     * with it the kernel left set-id clearing on chown(-1,-1), utimensat and writes to the server
     * and kept its cached mode (measured by FusePosixCompareTest); without it the kernel's own VFS
     * rules clear the bits and send the new mode, as for a local filesystem.
     */
    static final long WANTED = FuseProto.ASYNC_READ | FuseProto.ATOMIC_O_TRUNC | FuseProto.EXPORT_SUPPORT | FuseProto.BIG_WRITES
            | FuseProto.DONT_MASK | FuseProto.HAS_IOCTL_DIR | FuseProto.DO_READDIRPLUS | FuseProto.READDIRPLUS_AUTO
            | FuseProto.WRITEBACK_CACHE | FuseProto.PARALLEL_DIROPS | FuseProto.POSIX_ACL
            | FuseProto.MAX_PAGES | FuseProto.CACHE_SYMLINKS | FuseProto.SETXATTR_EXT | FuseProto.INIT_EXT | FuseProto.ASYNC_DIO;

    private final Path mountpoint;
    private final int fd;
    private final boolean viaFusermount;
    private final FuseDispatcher dispatcher;
    private final FuseFilesystem fs;
    private final List<Thread> threads = new ArrayList<>();
    private final CountDownLatch ended;
    private volatile long granted;
    private final Object notifyLock = new Object();

    private FuseSession(Path mountpoint, int fd, boolean viaFusermount, FuseFilesystem fs, Options o) {
        this.mountpoint = mountpoint;
        this.fd = fd;
        this.viaFusermount = viaFusermount;
        this.fs = fs;
        this.dispatcher = new FuseDispatcher(fs, o.entryValidSeconds(), o.attrValidSeconds());
        this.ended = new CountDownLatch(Math.max(1, o.threads()));
    }

    /** Mounts fs at mountpoint and returns once INIT is answered and the server threads run. */
    public static FuseSession mount(Path mountpoint, FuseFilesystem fs, Options o) throws IOException {
        String mp = mountpoint.toAbsolutePath().normalize().toString();
        StringBuilder opts = new StringBuilder("default_permissions");
        if (o.allowOther()) opts.append(",allow_other");
        int fd;
        boolean viaFusermount = Native.getuid() != 0;
        if (!viaFusermount) {
            fd = Native.open("/dev/fuse", Native.O_RDWR | Native.O_CLOEXEC);
            String data = "fd=" + fd + ",rootmode=40000,user_id=" + Native.getuid() + ",group_id=" + Native.getgid() + "," + opts
                    + ",max_read=" + FuseProto.MAX_WRITE;
            long flags = Native.MS_NOSUID | Native.MS_NODEV | (o.readOnly() ? Native.MS_RDONLY : 0);
            try {
                Native.mount(o.fsName(), mp, "fuse." + o.subtype(), flags, data);
            } catch (IOException e) {
                Native.close(fd);
                throw e;
            }
        } else {
            String fo = opts + ",fsname=" + o.fsName().replace(",", "\\,") + ",subtype=" + o.subtype() + (o.readOnly() ? ",ro" : "") + ",nosuid,nodev";
            fd = Native.fusermount(List.of("-o", fo, "--", mp));
        }
        FuseSession s = new FuseSession(mountpoint, fd, viaFusermount, fs, o);
        try {
            s.init();
            s.start(Math.max(1, o.threads()));
        } catch (IOException | RuntimeException e) {
            s.abortMount();
            throw e;
        }
        s.raiseReadahead();
        return s;
    }

    /**
     * The kernel caps a FUSE mount's readahead at its backing device's default (128 KiB), below
     * the 1 MiB a request may carry; where we may (root), the mount's bdi gets 1 MiB, so
     * sequential reads arrive in requests of max_pages.
     */
    private void raiseReadahead() {
        try {
            long dev = ((Number) java.nio.file.Files.getAttribute(mountpoint, "unix:dev")).longValue();
            long major = (dev >>> 8) & 0xFFF, minor = (dev & 0xFF) | ((dev >>> 12) & 0xFFF00);
            Path ra = Path.of("/sys/class/bdi/" + major + ":" + minor + "/read_ahead_kb");
            if (java.nio.file.Files.isWritable(ra)) java.nio.file.Files.writeString(ra, Integer.toString(FuseProto.MAX_WRITE / 1024));
        } catch (IOException | RuntimeException ignored) {
            // not root, or no sysfs: the kernel's default readahead stays
        }
    }

    private void abortMount() {
        try { unmount(true); } catch (IOException ignored) { }
        Native.close(fd);
    }

    /** Reads and answers INIT on the calling thread, before any other request is read. */
    private void init() throws IOException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment in = a.allocate(FuseProto.BUFFER, 4096), out = a.allocate(4096, 8), st = Native.callState(a);
            FuseRequest q = new FuseRequest();
            for (;;) {
                long n = Native.read(fd, in, st);
                if (n == -Native.EINTR || n == -Native.EAGAIN || n == -Native.ENOENT) continue;
                if (n < 0) throw new Native.NativeException("read /dev/fuse (waiting for INIT)", (int) -n);
                if (!q.decode(in, n)) throw new IOException("malformed first request from the kernel");
                if (q.opcode != FuseProto.INIT) throw new IOException("the kernel's first request is " + FuseProto.opcodeName(q.opcode) + ", not INIT");
                break;
            }
            FuseReply r = new FuseReply(out, FuseReply.toDevice(fd, st));
            long agreed = negotiate(q, r);
            granted = agreed;
            dispatcher.setxattrExt = (agreed & FuseProto.SETXATTR_EXT) != 0;
            fs.init(agreed, this);
            r.send(FuseProto.INIT_OUT);
        }
    }

    /**
     * INIT: checks the kernel's protocol version, agrees on the flags both sides want and fills
     * the reply (sent by the caller once the filesystem knows the flags). A kernel too old (below
     * 7.26) gets EPROTO, one with a newer major our major (it then retries); both end the mount.
     */
    static long negotiate(FuseRequest q, FuseReply r) throws IOException {
        r.reset(q.unique);
        try {
            int major = q.u32(0), minor = q.u32(4), maxReadahead = q.u32(8);
            long flags = Integer.toUnsignedLong(q.u32(12));
            if ((flags & FuseProto.INIT_EXT) != 0) flags |= Integer.toUnsignedLong(q.u32(16)) << 32;
            if (major < 7 || (major == 7 && minor < 26)) {
                r.error(FuseException.EPROTO);
                throw new IOException("kernel FUSE protocol " + major + "." + minor + " is too old (7.26, Linux 4.7, or newer needed)");
            }
            if (major > 7) {
                r.u32(0, FuseProto.KERNEL_VERSION);
                r.u32(4, FuseProto.KERNEL_MINOR);
                r.send(8);
                throw new IOException("kernel FUSE protocol " + major + "." + minor + " has a newer major than 7");
            }
            long agreed = flags & WANTED;
            r.zero(0, FuseProto.INIT_OUT);
            r.u32(0, FuseProto.KERNEL_VERSION);
            r.u32(4, Math.min(minor, FuseProto.KERNEL_MINOR));
            r.u32(8, maxReadahead);
            r.u32(12, (int) agreed);
            r.u16(16, 64);                     // max_background
            r.u16(18, 48);                     // congestion_threshold
            r.u32(20, FuseProto.MAX_WRITE);
            r.u32(24, 1);                      // time_gran: nanoseconds
            r.u16(28, FuseProto.MAX_PAGES_COUNT);
            r.u32(32, (int) (agreed >>> 32));
            return agreed;
        } catch (FuseException e) {
            r.error(e.errno);
            throw new IOException("INIT: " + e.getMessage());
        }
    }

    /** The INIT flags in force. */
    public long grantedFlags() { return granted; }

    private void start(int n) throws IOException {
        for (int i = 0; i < n; i++) {
            int tfd = i == 0 ? fd : Native.cloneFuseFd(fd);
            Thread t = Thread.ofPlatform().name("ext4j-fuse-" + i).daemon(true).unstarted(() -> serve(tfd, tfd != fd));
            threads.add(t);
        }
        for (Thread t : threads) t.start();
    }

    private void serve(int tfd, boolean ownFd) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment in = a.allocate(FuseProto.BUFFER, 4096), out = a.allocate(FuseProto.BUFFER, 4096), st = Native.callState(a);
            FuseRequest q = new FuseRequest();
            FuseReply r = new FuseReply(out, FuseReply.toDevice(tfd, st));
            for (;;) {
                long n = Native.read(tfd, in, st);
                if (n == -Native.EINTR || n == -Native.EAGAIN || n == -Native.ENOENT) continue;
                if (n == -Native.ENODEV || n == 0) break;            // unmounted: the connection is gone
                if (n < 0) { System.err.println("ext4j fuse: read /dev/fuse: errno " + (-n)); break; }
                if (!q.decode(in, n)) {
                    System.err.println("ext4j fuse: dropped a malformed request of " + n + " bytes");
                    continue;
                }
                if (dispatcher.handle(q, r)) continue;   // DESTROY: keep reading until ENODEV, which follows
            }
        } catch (Throwable t) {
            System.err.println("ext4j fuse: server thread " + Thread.currentThread().getName() + " stopped: " + t);
        } finally {
            if (ownFd) Native.close(tfd);
            ended.countDown();
        }
    }

    /** Blocks until the kernel has ended the connection and every server thread has stopped. */
    public void awaitEnd() throws InterruptedException {
        ended.await();
        if (Boolean.getBoolean("ext4j.fuseStats")) System.err.print(dispatcher.stats());
    }

    /** Whether the connection has ended. */
    public boolean hasEnded() { return ended.getCount() == 0; }

    /**
     * Unmounts: umount2 (lazily when lazy: a busy mount is detached now and served until its last
     * user leaves) as root, fusermount3 -u otherwise. The session ends once the kernel lets go.
     */
    public void unmount(boolean lazy) throws IOException { unmount(mountpoint, viaFusermount, lazy); }

    /** Unmounts a FUSE mountpoint this process did not mount (ext4j umount): umount2 as root, fusermount3 -u otherwise. */
    public static void unmount(Path mountpoint, boolean lazy) throws IOException { unmount(mountpoint, Native.getuid() != 0, lazy); }

    private static void unmount(Path mountpoint, boolean viaFusermount, boolean lazy) throws IOException {
        String mp = mountpoint.toAbsolutePath().normalize().toString();
        if (!viaFusermount) {
            Native.umount2(mp, lazy ? Native.MNT_DETACH : 0);
            return;
        }
        List<String> cmd = new ArrayList<>(List.of("fusermount3", "-u"));
        if (lazy) cmd.add("-z");
        cmd.add(mp);
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            if (p.waitFor() != 0) throw new IOException("fusermount3 -u " + mp + ": " + out);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted unmounting " + mp);
        }
    }

    /** Tells the kernel to drop its cached attributes (and, for len != 0, data) of node. */
    @Override public void invalidateInode(long node, long off, long len) {
        notify(FuseProto.NOTIFY_INVAL_INODE, 24, (seg, o) -> {
            seg.set(JAVA_LONG_UNALIGNED, o, node);
            seg.set(JAVA_LONG_UNALIGNED, o + 8, off);
            seg.set(JAVA_LONG_UNALIGNED, o + 16, len);
        });
    }

    /** Tells the kernel to forget its cached lookup of name in parent. */
    @Override public void invalidateEntry(long parent, byte[] name) {
        notify(FuseProto.NOTIFY_INVAL_ENTRY, 16 + name.length + 1, (seg, o) -> {
            seg.set(JAVA_LONG_UNALIGNED, o, parent);
            seg.set(JAVA_INT_UNALIGNED, o + 8, name.length);
            seg.set(JAVA_INT_UNALIGNED, o + 12, 0);
            MemorySegment.copy(name, 0, seg, java.lang.foreign.ValueLayout.JAVA_BYTE, o + 16, name.length);
            seg.set(java.lang.foreign.ValueLayout.JAVA_BYTE, o + 16 + name.length, (byte) 0);
        });
    }

    private interface Body { void fill(MemorySegment seg, long off); }

    private void notify(int code, int len, Body body) {
        if (hasEnded()) return;
        synchronized (notifyLock) {
            try (Arena a = Arena.ofConfined()) {
                int total = FuseProto.OUT_HEADER + len;
                MemorySegment seg = a.allocate(total, 8), st = Native.callState(a);
                seg.set(JAVA_INT_UNALIGNED, 0, total);
                seg.set(JAVA_INT_UNALIGNED, 4, code);
                seg.set(JAVA_LONG_UNALIGNED, 8, 0L);
                body.fill(seg, FuseProto.OUT_HEADER);
                Native.write(fd, seg, total, st);      // ENOENT: the kernel had nothing cached
            }
        }
    }

    /** Closes the descriptor once the session has ended. */
    @Override public void close() {
        Native.close(fd);
    }
}
