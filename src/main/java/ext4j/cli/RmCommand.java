package ext4j.cli;

import ext4j.base.Errno;
import ext4j.fs.Ext4Paths;
import ext4j.base.FsException;
import ext4j.fs.Dirent;
import ext4j.fs.Entry;
import ext4j.fs.Ext4Vfs;
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
    int run(Ext4Paths fs) throws IOException {
        return each(paths, p -> {
            String path = ImagePaths.strip(p);
            if (path.equals("/")) throw new FsException(Errno.EBUSY, "/ (refusing to remove the root)");
            Entry i = fs.find(path, false);
            if (i == null) {
                if (ignoreMissing) return;
                throw new FsException(Errno.ENOENT, path);
            }
            if (i.attr().isDirectory()) {
                if (!recursive) throw new FsException(Errno.EISDIR, path);
                removeTree(fs, path, i.ino(), 0);
                fs.rmdir(path);
            } else fs.unlink(path);
        });
    }

    /** Empties the directory dir (found at path) by inode and name: no path is walked again. */
    static void removeTree(Ext4Paths fs, String path, long dir, int depth) throws IOException {
        if (depth > MAX_DEPTH) throw new FsException(Errno.ELOOP, path);
        Ext4Vfs vfs = fs.vfs();
        for (Dirent e : fs.list(dir)) {
            if (isDot(e.name())) continue;
            Ext4Paths.Parent at = new Ext4Paths.Parent(dir, e.name(), ImagePaths.child(path, e.nameString()));
            if (e.type() == Dirent.DT_DIR || (e.type() == Dirent.DT_UNKNOWN && vfs.getattr(e.ino()).isDirectory())) {
                removeTree(fs, at.path(), e.ino(), depth + 1);
                Ext4Paths.at(at, () -> { vfs.rmdir(dir, e.name()); return null; });
            } else {
                Ext4Paths.at(at, () -> { vfs.unlink(dir, e.name()); return null; });
            }
        }
    }

    static boolean isDot(byte[] n) { return (n.length == 1 && n[0] == '.') || (n.length == 2 && n[0] == '.' && n[1] == '.'); }
}
