package ext4j.base;

import java.io.IOException;

/** A POSIX-level failure on a path: "PATH: strerror". */
public class FsException extends IOException {
    private final Errno errno;
    private final String path;

    public FsException(Errno errno, String path) {
        super(path + ": " + errno.message);
        this.errno = errno;
        this.path = path;
    }

    public Errno errno() { return errno; }
    public String path() { return path; }
}
