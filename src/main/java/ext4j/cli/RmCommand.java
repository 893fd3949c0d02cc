package ext4j.cli;

import ext4j.base.Errno;
import ext4j.fs.Ext4FileSystem;
import ext4j.base.FsException;
import ext4j.dir.DirEntry;
import ext4j.ondisk.Inode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.util.List;

@Command(name = "rm", description = "Remove files (and with -r, directory trees).")
final class RmCommand extends WriteCommand {
    private static final int MAX_DEPTH = 4096;
    @Option(names = {"-r", "-R", "--recursive"}, description = "remove directories and their contents") boolean recursive;
    @Option(names = "-f", description = "ignore missing paths (the image-level --force is a different option)") boolean ignoreMissing;
    @Parameters(index = "1..*", paramLabel = "PATH", description = "absolute paths inside the image") List<String> paths;

    @Override
    int run(Ext4FileSystem fs) throws IOException {
        return each(paths, p -> {
            String path = ImagePaths.strip(p);
            if (path.equals("/")) throw new FsException(Errno.EBUSY, "/ (refusing to remove the root)");
            Inode i = Lookup.find(fs, path, false);
            if (i == null) {
                if (ignoreMissing) return;
                throw new FsException(Errno.ENOENT, path);
            }
            if (i.isDir()) {
                if (!recursive) throw new FsException(Errno.EISDIR, path);
                removeTree(fs, path, i, 0);
            } else fs.unlink(path);
        });
    }

    static void removeTree(Ext4FileSystem fs, String path, Inode dir, int depth) throws IOException {
        if (depth > MAX_DEPTH) throw new FsException(Errno.ELOOP, path);
        for (DirEntry e : fs.list(dir)) {
            if (e.isDotOrDotDot()) continue;
            String c = ImagePaths.child(path, e.name());
            Inode ci = fs.inode(e.inode());
            if (ci.isDir()) removeTree(fs, c, ci, depth + 1);
            else fs.unlink(c);
        }
        fs.rmdir(path);
    }
}
