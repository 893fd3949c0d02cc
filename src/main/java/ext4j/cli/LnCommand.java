package ext4j.cli;

import ext4j.fs.Ext4Paths;
import ext4j.fs.Entry;
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
    int run(Ext4Paths fs) throws IOException {
        return each(List.of(link), l -> {
            String at = ImagePaths.strip(l);
            Entry d = fs.find(at, true);
            if (d != null && d.attr().isDirectory()) at = ImagePaths.child(at, ImagePaths.name(target));
            if (symbolic) fs.symlink(at, target.getBytes(StandardCharsets.UTF_8));
            else fs.link(ImagePaths.check(target), at);
        });
    }
}
