package ext4j.cli;

import ext4j.fs.Ext4Paths;
import ext4j.fs.SetAttr;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.util.List;

@Command(name = "truncate", description = "Shrink or extend files to SIZE (extending leaves a hole), creating missing files.")
final class TruncateCommand extends WriteCommand {
    @Option(names = {"-s", "--size"}, required = true, paramLabel = "SIZE", description = "bytes, with optional K, M, G, T suffix (powers of 1024)") String size;
    @Option(names = {"-c", "--no-create"}, description = "do not create missing files") boolean noCreate;
    @Parameters(index = "1..*", paramLabel = "PATH") List<String> paths;

    @Override
    int run(Ext4Paths fs) throws IOException {
        long n = ImagePaths.size(size);
        return each(paths, p -> {
            if (fs.find(p, true) == null) {
                if (noCreate) return;
                fs.create(p, 0644);
            }
            fs.setattr(p, true, SetAttr.NONE.size(n));
        });
    }
}
