package ext4j.cli;

import ext4j.base.Errno;
import ext4j.fs.Ext4Paths;
import ext4j.base.FsException;
import ext4j.fs.Entry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Copies a host file or tree into the image, keeping what mke2fs -d keeps (modes, owners, times, symlinks,
 * hard links, devices, xattrs, holes). All or nothing: the copy is built under a temporary name in the
 * target's directory and renamed into place, so a failure (ENOSPC...) leaves the image's tree as it was.
 */
@Command(name = "put", description = "Copy a host file (or with -r a directory tree) into the image, like cp -a. "
        + "A PATH that is an existing directory receives SRC inside it; an existing file is replaced.")
final class PutCommand extends WriteCommand {
    @Option(names = {"-r", "-R", "--recursive"}, description = "copy directories recursively") boolean recursive;
    @Parameters(index = "1", paramLabel = "SRC", description = "host file or directory") Path src;
    @Parameters(index = "2", paramLabel = "PATH", description = "absolute destination path inside the image") String dest;

    @Override
    int run(Ext4Paths fs) throws IOException {
        if (!Files.exists(src, LinkOption.NOFOLLOW_LINKS)) throw new NoSuchFileException(src.toString());
        boolean dir = Files.isDirectory(src, LinkOption.NOFOLLOW_LINKS);
        if (dir && !recursive) throw new FsException(Errno.EISDIR, src + " (use -r to copy a directory)");
        return each(List.of(dest), d -> {
            String target = ImagePaths.strip(d);
            Entry existing = fs.find(target, true);
            if (existing != null && existing.attr().isDirectory()) {
                target = ImagePaths.child(target, src.getFileName() == null ? "" : src.getFileName().toString());
                existing = fs.find(target, false);
            }
            if (existing != null && (dir || existing.attr().isDirectory()))
                throw new FsException(Errno.EEXIST, target + (dir ? " (put -r does not merge into an existing directory)" : ""));
            String tmp = ImagePaths.child(ImagePaths.parent(target), ".ext4j-put-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong()));
            try {
                Populator.copyTree(fs.vfs(), src, fs.parent(tmp), err(), ProgressBar.onTerminal());
                fs.rename(tmp, target);
            } catch (IOException | RuntimeException e) {
                undo(fs, tmp);
                throw e;
            }
        });
    }

    /** Removes a partial copy; a second failure is reported but does not hide the first. */
    private void undo(Ext4Paths fs, String tmp) {
        try {
            Entry i = fs.find(tmp, false);
            if (i == null) return;
            if (i.attr().isDirectory()) {
                RmCommand.removeTree(fs, tmp, i.ino(), 0);
                fs.rmdir(tmp);
            } else {
                fs.unlink(tmp);
            }
        } catch (IOException | RuntimeException e) {
            err().println("ext4j: warning: could not remove the partial copy " + tmp + ": " + e.getMessage());
        }
    }
}
