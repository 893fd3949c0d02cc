package ext4j.cli;

import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.fs.Entry;
import ext4j.fs.Ext4Paths;
import ext4j.fs.Ext4Vfs;
import ext4j.fs.OpenFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.util.List;

@Command(name = "fallocate", description = "Preallocate space (unwritten extents, read as zeros), or with -p punch a hole; creates a missing file.")
final class FallocateCommand extends WriteCommand {
    @Option(names = {"-o", "--offset"}, paramLabel = "OFFSET", description = "start (K, M, G suffixes), default 0") String offset = "0";
    @Option(names = {"-l", "--length"}, required = true, paramLabel = "LENGTH", description = "length (K, M, G suffixes)") String length;
    @Option(names = {"-k", "--keep-size"}, description = "do not change the file size") boolean keepSize;
    @Option(names = {"-p", "--punch-hole"}, description = "deallocate the range instead (keeps the size)") boolean punch;
    @Parameters(index = "1", paramLabel = "PATH") String path;

    @Override
    int run(Ext4Paths fs) throws IOException {
        long off = ImagePaths.size(offset), len = ImagePaths.size(length);
        return each(List.of(path), p -> {
            if (!punch && fs.find(p, true) == null) fs.create(p, 0644);
            int mode = punch ? Ext4Vfs.FALLOC_FL_PUNCH_HOLE | Ext4Vfs.FALLOC_FL_KEEP_SIZE : keepSize ? Ext4Vfs.FALLOC_FL_KEEP_SIZE : 0;
            fallocate(fs, p, mode, off, len);
        });
    }

    /** fallocate(2) on what path names, through a handle open for writing. */
    static void fallocate(Ext4Paths fs, String path, int mode, long off, long len) throws IOException {
        Entry e = fs.resolve(path, true);
        if (e.attr().isDirectory()) throw new FsException(Errno.EISDIR, path);
        Ext4Paths.at(path, e.ino(), () -> {
            OpenFile f = fs.vfs().open(e.ino(), Ext4Vfs.O_RDWR, fs.caller());
            try {
                fs.vfs().fallocate(f, mode, off, len);
            } finally {
                fs.vfs().release(f);
            }
            return null;
        });
    }
}
