package ext4j.cli;

import ext4j.fs.Ext4FileSystem;
import ext4j.ondisk.Inode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

@Command(name = "ln", description = "Make a hard link, or with -s a symbolic link holding TARGET as given.")
final class LnCommand extends WriteCommand {
    @Option(names = {"-s", "--symbolic"}, description = "symbolic link (TARGET may be any text, relative or absolute)") boolean symbolic;
    @Parameters(index = "1", paramLabel = "TARGET") String target;
    @Parameters(index = "2", paramLabel = "LINK", description = "the new name; an existing directory receives the link inside it") String link;

    @Override
    int run(Ext4FileSystem fs) throws IOException {
        return each(List.of(link), l -> {
            String at = ImagePaths.strip(l);
            Inode d = Lookup.find(fs, at, true);
            if (d != null && d.isDir()) at = ImagePaths.child(at, ImagePaths.name(target));
            if (symbolic) fs.symlink(at, target.getBytes(StandardCharsets.UTF_8), Posix.euid(), Posix.egid());
            else fs.link(ImagePaths.check(target), at);
        });
    }
}
