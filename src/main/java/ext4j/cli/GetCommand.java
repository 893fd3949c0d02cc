package ext4j.cli;

import ext4j.base.Errno;
import ext4j.fs.Attr;
import ext4j.fs.Caller;
import ext4j.fs.Dirent;
import ext4j.fs.Ext4Paths;
import ext4j.fs.Ext4Vfs;
import ext4j.base.FsException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "get", description = {"Extract a file or (with -r) a tree from the image.",
        "If DEST is an existing directory the item is placed inside it, otherwise it is created as DEST.",
        "Keeps mode, owner (when run as root), times, symlinks, hard links, holes and xattrs."})
final class GetCommand implements Callable<Integer> {
    @Mixin ImageOptions img;
    @Parameters(index = "1", paramLabel = "PATH", description = "absolute path inside the image") String path;
    @Parameters(index = "2", paramLabel = "DEST", description = "where to write on the host") Path dest;
    @Option(names = {"-r", "-R", "--recursive"}, description = "copy directories recursively") boolean recursive;
    @Option(names = "--threads", defaultValue = "4", description = "files copied in parallel (default ${DEFAULT-VALUE})") int threads;
    @Spec CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        try (Ext4Vfs vfs = img.open(err)) {
            Ext4Paths fs = new Ext4Paths(vfs, Caller.ROOT);
            Attr inode = fs.resolve(path, false).attr();
            if (inode.isDirectory() && !recursive) throw new FsException(Errno.EISDIR, path + " (use -r)");
            Path target = dest;
            String base = baseName(path);
            if (Files.isDirectory(dest) && !base.isEmpty()) {
                if (!Extractor.safeName(base)) throw new FsException(Errno.EINVAL, path);
                target = dest.resolve(base);
            }
            boolean tty = ProgressBar.onTerminal();
            ProgressBar bar = new ProgressBar(err, 0, tty);
            // the bar's total from a walk of its own, alongside the copy (which does not wait for it), as put -r's
            if (tty) Thread.ofPlatform().daemon().name("ext4j-tree-size").start(() -> {
                long[] sum = new long[2];
                try {
                    treeSize(fs, inode, 0, sum);
                    bar.total(sum[0], sum[1]);
                } catch (IOException | RuntimeException e) {
                    // no total: the bar shows no percentage
                }
            });
            Extractor x = new Extractor(vfs, err, Posix.isRoot(), bar, threads);
            x.extract(inode, path, target);
            bar.finish();
            return x.errors() == 0 ? 0 : Main.EXIT_ERROR;
        }
    }

    static String baseName(String p) {
        String s = p.replaceAll("/+$", "");
        return s.substring(s.lastIndexOf('/') + 1);
    }

    /** Adds the bytes and the number of a tree's regular files to sum, for the progress bar's total; bounded like the extraction walk. */
    private static void treeSize(Ext4Paths fs, Attr i, int depth, long[] sum) throws IOException {
        if (i.isRegular()) { sum[0] += i.size(); sum[1]++; }
        if (!i.isDirectory() || depth > 64) return;
        for (Dirent e : fs.list(i.ino())) if (!RmCommand.isDot(e.name())) treeSize(fs, fs.vfs().getattr(e.ino()), depth + 1, sum);
    }
}
