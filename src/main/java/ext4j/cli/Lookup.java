package ext4j.cli;

import ext4j.base.Errno;
import ext4j.fs.Ext4FileSystem;
import ext4j.base.FsException;
import ext4j.ondisk.Inode;

import java.io.IOException;

/** Path lookups where a missing final component is an answer, not an error. */
final class Lookup {
    private Lookup() {}

    /** The inode at path, or null if the path does not exist (a missing parent directory is still ENOENT... also null). */
    static Inode find(Ext4FileSystem fs, String path, boolean follow) throws IOException {
        try {
            return fs.resolve(path, follow);
        } catch (FsException e) {
            if (e.errno() == Errno.ENOENT) return null;
            throw e;
        }
    }
}
