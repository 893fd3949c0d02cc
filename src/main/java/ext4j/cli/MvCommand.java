package ext4j.cli;

import ext4j.fs.Ext4Paths;
import ext4j.fs.Entry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.util.List;

@Command(name = "mv", description = "Rename or move, replacing an existing target like rename(2). "
        + "A DEST that is a directory receives SRC inside it (unless -T).")
final class MvCommand extends WriteCommand {
    @Option(names = {"-T", "--no-target-directory"}, description = "treat DEST as the new name even if it is a directory (replaces an empty one)") boolean noTargetDir;
    @Parameters(index = "1", paramLabel = "SRC") String src;
    @Parameters(index = "2", paramLabel = "DEST") String dest;

    @Override
    int run(Ext4Paths fs) throws IOException {
        return each(List.of(src), s -> {
            String from = ImagePaths.strip(s), to = ImagePaths.strip(ImagePaths.check(dest));
            Entry target = noTargetDir ? null : fs.find(to, true);
            if (target != null && target.attr().isDirectory() && target.ino() != fs.resolve(from, false).ino())
                to = ImagePaths.child(to, ImagePaths.name(from));
            fs.rename(from, to);
        });
    }
}
