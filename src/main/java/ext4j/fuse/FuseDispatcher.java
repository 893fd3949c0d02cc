package ext4j.fuse;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static ext4j.fuse.FuseProto.*;

/**
 * Decodes each request, calls the filesystem, encodes the reply: the protocol's one dispatcher.
 * A failure of any kind becomes an error reply (the filesystem's errno, EINVAL for a malformed
 * request, ENOSYS for an unknown opcode, EIO for a bug), so no request can take a server thread down.
 */
final class FuseDispatcher {
    private final FuseFilesystem fs;
    private final long entryValid, attrValid;
    volatile boolean setxattrExt;

    FuseDispatcher(FuseFilesystem fs, long entryValidSeconds, long attrValidSeconds) {
        this.fs = fs;
        this.entryValid = entryValidSeconds;
        this.attrValid = attrValidSeconds;
    }

    /** Per opcode: requests served and nanoseconds spent (printed at the end with -Dext4j.fuseStats=true). */
    final java.util.concurrent.atomic.LongAdder[] count = new java.util.concurrent.atomic.LongAdder[64], nanos = new java.util.concurrent.atomic.LongAdder[64];
    {
        for (int i = 0; i < 64; i++) { count[i] = new java.util.concurrent.atomic.LongAdder(); nanos[i] = new java.util.concurrent.atomic.LongAdder(); }
    }

    /** The per-opcode table, busiest first. */
    String stats() {
        StringBuilder b = new StringBuilder();
        java.util.List<Integer> ops = new java.util.ArrayList<>();
        for (int i = 0; i < 64; i++) if (count[i].sum() > 0) ops.add(i);
        ops.sort((x, y) -> Long.compare(nanos[y].sum(), nanos[x].sum()));
        for (int i : ops) b.append(String.format("%-16s %9d requests %10.1f ms %8.1f us each%n", opcodeName(i), count[i].sum(), nanos[i].sum() / 1e6, nanos[i].sum() / 1e3 / count[i].sum()));
        return b.toString();
    }

    /** Handles one request; true when the session should end (DESTROY). */
    boolean handle(FuseRequest q, FuseReply r) {
        r.reset(q.unique);
        long t0 = System.nanoTime();
        try {
            return dispatch(q, r);
        } catch (FuseException e) {
            if (!r.sent()) r.error(e.errno);
        } catch (RuntimeException | Error e) {
            System.err.println("ext4j fuse: " + opcodeName(q.opcode) + " on node " + q.nodeid + " failed: " + e);
            if (Boolean.getBoolean("ext4j.fuseDebug")) e.printStackTrace();
            if (!r.sent()) r.error(FuseException.EIO);
        } finally {
            int op = q.opcode & 63;
            count[op].increment();
            nanos[op].add(System.nanoTime() - t0);
        }
        return false;
    }

    private boolean dispatch(FuseRequest q, FuseReply r) throws FuseException {
        FuseContext c = q.context();
        long n = q.nodeid;
        switch (q.opcode) {
            case LOOKUP -> entry(r, fs.lookup(c, n, q.cstring(0)));
            case FORGET -> fs.forget(n, q.u64(0));
            case BATCH_FORGET -> {
                int count = q.u32(0);
                if (count < 0 || 8L + (long) count * FORGET_ONE > q.bodyLength()) throw new FuseException(FuseException.EINVAL, "BATCH_FORGET count " + count);
                for (int i = 0; i < count; i++) fs.forget(q.u64(8 + i * FORGET_ONE), q.u64(16 + i * FORGET_ONE));
            }
            case GETATTR -> {
                int flags = q.u32(0);
                attr(r, fs.getattr(c, n, (flags & GETATTR_FH) != 0 ? q.u64(8) : -1));
            }
            case SETATTR -> attr(r, fs.setattr(c, n, new SetattrIn(q.u32(0), q.u64(8), q.u64(16), q.u64(32), q.u32(56), q.u64(40), q.u32(60),
                    q.u64(48), q.u32(64), q.u32(68), q.u32(76), q.u32(80))));
            case READLINK -> {
                byte[] t = fs.readlink(c, n);
                r.bytes(0, t);
                r.send(t.length);
            }
            case SYMLINK -> {
                byte[] name = q.cstring(0);
                entry(r, fs.symlink(c, n, name, q.cstring(q.after(0))));
            }
            case MKNOD -> entry(r, fs.mknod(c, n, q.cstring(MKNOD_IN), q.u32(0), q.u32(4), q.u32(8)));
            case MKDIR -> entry(r, fs.mkdir(c, n, q.cstring(8), q.u32(0), q.u32(4)));
            case UNLINK -> { fs.unlink(c, n, q.cstring(0)); r.send(0); }
            case RMDIR -> { fs.rmdir(c, n, q.cstring(0)); r.send(0); }
            case RENAME -> {
                byte[] from = q.cstring(8);
                fs.rename(c, n, from, q.u64(0), q.cstring(q.after(8)), 0);
                r.send(0);
            }
            case RENAME2 -> {
                byte[] from = q.cstring(RENAME2_IN);
                fs.rename(c, n, from, q.u64(0), q.cstring(q.after(RENAME2_IN)), q.u32(8));
                r.send(0);
            }
            case LINK -> entry(r, fs.link(c, q.u64(0), n, q.cstring(8)));
            case OPEN -> open(r, fs.open(c, n, q.u32(0)), FOPEN_KEEP_CACHE);
            case OPENDIR -> open(r, fs.opendir(c, n, q.u32(0)), 0);
            case READ -> {
                int size = Math.min(q.u32(16), r.capacity());
                if (size < 0) throw new FuseException(FuseException.EINVAL, "READ size");
                int got = fs.read(c, n, q.u64(0), q.u64(8), r.view(0, size));
                r.send(Math.max(got, 0));
            }
            case WRITE -> {
                int size = q.u32(16);
                if (size < 0 || WRITE_IN + (long) size > q.bodyLength()) throw new FuseException(FuseException.EINVAL, "WRITE of " + size + " bytes in a shorter request");
                int done = fs.write(c, n, q.u64(0), q.u64(8), q.view(WRITE_IN, size), q.u32(20));
                r.u32(0, done);
                r.u32(4, 0);
                r.send(8);
            }
            case STATFS -> {
                FuseStatfs s = fs.statfs(c, n);
                r.zero(0, STATFS_OUT);
                r.u64(0, s.blocks());
                r.u64(8, s.bfree());
                r.u64(16, s.bavail());
                r.u64(24, s.files());
                r.u64(32, s.ffree());
                r.u32(40, s.bsize());
                r.u32(44, s.namelen());
                r.u32(48, s.frsize());
                r.send(STATFS_OUT);
            }
            case RELEASE -> { fs.release(c, n, q.u64(0), q.u32(8)); r.send(0); }
            case RELEASEDIR -> { fs.releasedir(c, n, q.u64(0)); r.send(0); }
            case FLUSH -> { fs.flush(c, n, q.u64(0)); r.send(0); }
            case FSYNC -> { fs.fsync(c, n, q.u64(0), (q.u32(8) & FSYNC_FDATASYNC) != 0); r.send(0); }
            case FSYNCDIR -> { fs.fsyncdir(c, n, q.u64(0), (q.u32(8) & FSYNC_FDATASYNC) != 0); r.send(0); }
            case SETXATTR -> {
                int head = setxattrExt ? SETXATTR_IN : 8;
                int size = q.u32(0), flags = q.u32(4), extFlags = setxattrExt ? q.u32(8) : 0;
                String name = q.string(head);
                int v = q.after(head);
                if (size < 0 || v + (long) size > q.bodyLength()) throw new FuseException(FuseException.EINVAL, "SETXATTR value of " + size + " bytes");
                fs.setxattr(c, n, name, q.bytes(v, size), flags, extFlags);
                r.send(0);
            }
            case GETXATTR -> {
                int size = q.u32(0);
                byte[] v = fs.getxattr(c, n, q.string(GETXATTR_IN));
                sized(r, size, v);
            }
            case LISTXATTR -> {
                int size = q.u32(0);
                List<String> names = fs.listxattr(c, n);
                java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
                for (String s : names) { b.writeBytes(s.getBytes(StandardCharsets.UTF_8)); b.write(0); }
                sized(r, size, b.toByteArray());
            }
            case REMOVEXATTR -> { fs.removexattr(c, n, q.string(0)); r.send(0); }
            case READDIR, READDIRPLUS -> readdir(q, r, c, q.opcode == READDIRPLUS);
            case ACCESS -> { fs.access(c, n, q.u32(0)); r.send(0); }
            case CREATE -> {
                FuseFilesystem.Created cr = fs.create(c, n, q.cstring(CREATE_IN), q.u32(4), q.u32(8), q.u32(0));
                r.entry(0, cr.entry(), entryValid, attrValid);
                r.u64(ENTRY_OUT, cr.fh());
                r.u32(ENTRY_OUT + 8, FOPEN_KEEP_CACHE);
                r.u32(ENTRY_OUT + 12, 0);
                r.send(ENTRY_OUT + OPEN_OUT);
            }
            case INTERRUPT -> { }                      // requests run to completion; an interrupt needs no reply
            case DESTROY -> { fs.destroy(); r.send(0); return true; }
            case FALLOCATE -> { fs.fallocate(c, n, q.u64(0), q.u32(24), q.u64(8), q.u64(16)); r.send(0); }
            case LSEEK -> {
                long off = fs.lseek(c, n, q.u64(0), q.u64(8), q.u32(16));
                r.u64(0, off);
                r.send(8);
            }
            case COPY_FILE_RANGE -> {
                long done = fs.copyFileRange(c, n, q.u64(0), q.u64(8), q.u64(16), q.u64(24), q.u64(32), q.u64(40), q.u64(48));
                r.u32(0, (int) done);
                r.u32(4, 0);
                r.send(8);
            }
            case IOCTL -> {
                int flags = q.u32(8), cmd = q.u32(12), inSize = q.u32(24), outSize = q.u32(28);
                if (inSize < 0 || outSize < 0 || IOCTL_IN + (long) inSize > q.bodyLength() || outSize > r.capacity() - IOCTL_OUT)
                    throw new FuseException(FuseException.EINVAL, "IOCTL sizes " + inSize + "/" + outSize);
                FuseFilesystem.IoctlResult res = fs.ioctl(c, n, q.u64(0), flags, cmd, q.bytes(IOCTL_IN, inSize), outSize);
                byte[] out = res.out() == null ? new byte[0] : res.out();
                int len = Math.min(out.length, outSize);
                r.zero(0, IOCTL_OUT);
                r.u32(0, res.result());
                r.bytes(IOCTL_OUT, java.util.Arrays.copyOf(out, len));
                r.send(IOCTL_OUT + len);
            }
            case STATX -> {
                FuseAttr a = fs.statx(c, n, (q.u32(0) & GETATTR_FH) != 0 ? q.u64(8) : -1, q.u32(16), q.u32(20));
                statx(r, a);
            }
            case SYNCFS -> { fs.syncfs(c); r.send(0); }
            // locks are left to the kernel (POSIX_LOCKS and FLOCK_LOCKS not asked for); BMAP, POLL, TMPFILE and the DAX
            // mappings are not served: ENOSYS makes the kernel stop asking
            default -> throw new FuseException(FuseException.ENOSYS, opcodeName(q.opcode));
        }
        return false;
    }

    private void entry(FuseReply r, FuseEntry e) {
        r.entry(0, e, entryValid, attrValid);
        r.send(ENTRY_OUT);
    }

    private void attr(FuseReply r, FuseAttr a) {
        r.u64(0, attrValid);
        r.u32(8, 0);
        r.u32(12, 0);
        r.attr(16, a);
        r.send(ATTR_OUT);
    }

    private static void open(FuseReply r, long fh, int flags) {
        r.u64(0, fh);
        r.u32(8, flags);
        r.u32(12, 0);
        r.send(OPEN_OUT);
    }

    /** getxattr/listxattr's size protocol: size 0 asks for the length, a short buffer gets ERANGE. */
    private static void sized(FuseReply r, int size, byte[] v) throws FuseException {
        if (size == 0) {
            r.u32(0, v.length);
            r.u32(4, 0);
            r.send(8);
            return;
        }
        if (v.length > size) throw new FuseException(FuseException.ERANGE, "value of " + v.length + " bytes for a buffer of " + size);
        if (v.length > r.capacity()) throw new FuseException(FuseException.ERANGE, "value too large");
        r.bytes(0, v);
        r.send(v.length);
    }

    private void readdir(FuseRequest q, FuseReply r, FuseContext c, boolean plus) throws FuseException {
        int size = Math.min(q.u32(16), r.capacity());
        int[] used = {0};
        fs.readdir(c, q.nodeid, q.u64(0), q.u64(8), plus, new FuseFilesystem.DirFiller() {
            @Override public boolean add(byte[] name, long ino, int type, long next) {
                int rec = (DIRENT + name.length + 7) & ~7;
                if (used[0] + rec > size) return false;
                dirent(r, used[0], name, ino, type, next, rec);
                used[0] += rec;
                return true;
            }

            @Override public boolean addPlus(byte[] name, long ino, FuseEntry e, int type, long next) {
                int rec = (DIRENTPLUS + name.length + 7) & ~7;
                if (used[0] + rec > size) return false;
                if (e == null) r.zero(used[0], ENTRY_OUT);
                else r.entry(used[0], e, entryValid, attrValid);
                dirent(r, used[0] + ENTRY_OUT, name, ino, type, next, rec - ENTRY_OUT);
                used[0] += rec;
                return true;
            }
        });
        r.send(used[0]);
    }

    private static void dirent(FuseReply r, int off, byte[] name, long ino, int type, long next, int rec) {
        r.u64(off, ino);
        r.u64(off + 8, next);
        r.u32(off + 16, name.length);
        r.u32(off + 20, type);
        r.bytes(off + DIRENT, name);
        r.zero(off + DIRENT + name.length, rec - DIRENT - name.length);
    }

    private void statx(FuseReply r, FuseAttr a) {
        r.zero(0, STATX_OUT);
        r.u64(0, attrValid);
        int s = 32;
        r.u32(s, 0x00000fff);                          // STATX_BASIC_STATS | STATX_BTIME
        r.u32(s + 4, a.blksize());
        r.u64(s + 8, a.statxAttributes());
        r.u32(s + 16, a.nlink());
        r.u32(s + 20, a.uid());
        r.u32(s + 24, a.gid());
        r.u16(s + 28, a.mode());
        r.u64(s + 32, a.ino());
        r.u64(s + 40, a.size());
        r.u64(s + 48, a.blocks());
        r.u64(s + 56, 0x4L | 0x10L | 0x20L | 0x40L | 0x800L | 0x100000L);   // what ext4 can report: compressed, immutable, append, nodump, encrypted, verity
        time(r, s + 64, a.atime(), a.atimeNs());
        time(r, s + 80, a.btime(), a.btimeNs());
        time(r, s + 96, a.ctime(), a.ctimeNs());
        time(r, s + 112, a.mtime(), a.mtimeNs());
        long dev = a.rdev();
        r.u32(s + 128, (int) (((dev >>> 8) & 0xFFF) | ((dev >>> 32) & ~0xFFFL)));
        r.u32(s + 132, (int) ((dev & 0xFF) | ((dev >>> 12) & ~0xFFL)));
        r.send(STATX_OUT);
    }

    private static void time(FuseReply r, int off, long sec, int ns) {
        r.u64(off, sec);
        r.u32(off + 8, ns);
    }
}
