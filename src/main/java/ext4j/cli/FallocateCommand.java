package ext4j.cli;

import ext4j.fs.Ext4FileSystem;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.util.List;

@Command(name = "fallocate", description = "Preallocate space (unwritten extents, read as zeros), or with -p punch a hole; creates a missing file.")
final class FallocateCommand extends WriteCommand {
    @Option(names = {"-o", "--offset"}, paramLabel = "OFFSET", description = "start (K, M, G suffixes), default 0") String offset = "0";
    @Option(names = {"-l", "--length"}, required = true, paramLabel = "LENGTH", description = "length (K, M, G suffixes)") String length;
    @Option(names = {"-k", "--keep-size"}, description = "do not change the file size") boolean keepSize;
    @Option(names = {"-p", "--punch-hole"}, description = "deallocate the range instead (keeps the size)") boolean punch;
    @Parameters(index = "1", paramLabel = "PATH") String path;

    @Override
    int run(Ext4FileSystem fs) throws IOException {
        long off = ImagePaths.size(offset), len = ImagePaths.size(length);
        return each(List.of(path), p -> {
            if (punch) { fs.punchHole(p, off, len); return; }
            if (Lookup.find(fs, p, true) == null) fs.createFile(p, 0644, Posix.euid(), Posix.egid());
            fs.fallocate(p, off, len, keepSize);
        });
    }
}
