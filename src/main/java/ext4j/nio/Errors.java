package ext4j.nio;

import ext4j.base.FsException;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;

/** The core's errno failures as NIO's exception types, with the path (and, for the rest, the errno's text). */
final class Errors {
    private Errors() {}

    /**
     * Damage (a CorruptException) met under a path of an open image turns that filesystem
     * read-only first, as ext4's errors=remount-ro and the FUSE server do; the caller gets the
     * damage itself (Linux's EIO), later changes ReadOnlyFileSystem-style failures.
     */
    static IOException of(IOException e, Object path, Object other) {
        if (e instanceof ext4j.base.CorruptException damage && path instanceof ImagePath p) p.getFileSystem().damaged(damage);
        if (!(e instanceof FsException f)) return e;
        String p = String.valueOf(path), o = other == null ? null : String.valueOf(other);
        IOException r = switch (f.errno()) {
            case ENOENT -> new NoSuchFileException(p, o, null);
            case EEXIST -> new FileAlreadyExistsException(p, o, null);
            case ENOTEMPTY -> new DirectoryNotEmptyException(p);
            case ENOTDIR -> new NotDirectoryException(p);
            case EACCES, EPERM -> new AccessDeniedException(p, o, f.errno().message);
            case ELOOP -> new FileSystemLoopException(p);
            default -> new FileSystemException(p, o, f.errno().message);
        };
        r.initCause(e);
        return r;
    }

    static IOException of(IOException e, Object path) { return of(e, path, null); }

    /** For stat and access, where Linux's JDK reports a non-directory in the middle of a path as NoSuchFileException. */
    static IOException query(IOException e, Object path) {
        if (e instanceof FsException f && f.errno() == ext4j.base.Errno.ENOTDIR) {
            IOException r = new NoSuchFileException(String.valueOf(path));
            r.initCause(e);
            return r;
        }
        return of(e, path, null);
    }

    static NotLinkException notLink(Object path) { return new NotLinkException(String.valueOf(path)); }
}
