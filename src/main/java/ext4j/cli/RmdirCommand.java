package ext4j.cli;

import ext4j.fs.Ext4Paths;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.util.List;

@Command(name = "rmdir", description = "Remove empty directories.")
final class RmdirCommand extends WriteCommand {
    @Parameters(index = "1..*", paramLabel = "PATH", description = "absolute paths inside the image") List<String> paths;

    @Override
    int run(Ext4Paths fs) throws IOException {
        return each(paths, p -> fs.rmdir(ImagePaths.strip(p)));
    }
}
