package ext4j.cli;

import ext4j.base.Errno;
import ext4j.fs.Ext4Paths;
import ext4j.base.FsException;
import ext4j.fs.Entry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.util.List;

@Command(name = "mkdir", description = "Create directories (owned by the caller's uid/gid).")
final class MkdirCommand extends WriteCommand {
    @Option(names = "-p", description = "create missing parents, no error if the directory exists") boolean parents;
    @Option(names = "-m", paramLabel = "MODE", description = "permission bits in octal (default 755)") String mode = "755";
    @Parameters(index = "1..*", paramLabel = "PATH", description = "absolute paths inside the image") List<String> paths;

    @Override
    int run(Ext4Paths fs) throws IOException {
        int perm = Modes.parse(mode);
        return each(paths, p -> {
            if (parents) mkdirs(fs, ImagePaths.strip(p), perm);
            else fs.mkdir(ImagePaths.strip(p), perm);
        });
    }

    static void mkdirs(Ext4Paths fs, String p, int perm) throws IOException {
        if (p.equals("/")) return;
        Entry i = fs.find(p, true);
        if (i != null) {
            if (!i.attr().isDirectory()) throw new FsException(Errno.EEXIST, p);
            return;
        }
        mkdirs(fs, ImagePaths.parent(p), 0755);
        fs.mkdir(p, perm);
    }
}
