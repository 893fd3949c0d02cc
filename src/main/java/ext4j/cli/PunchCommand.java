package ext4j.cli;

import ext4j.fs.Ext4Paths;
import ext4j.fs.Ext4Vfs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.util.List;

@Command(name = "punch", description = "Punch a hole: free the blocks of a range, which then reads as zeros (size unchanged).")
final class PunchCommand extends WriteCommand {
    @Option(names = {"-o", "--offset"}, paramLabel = "OFFSET", description = "start (K, M, G suffixes), default 0") String offset = "0";
    @Option(names = {"-l", "--length"}, required = true, paramLabel = "LENGTH", description = "length (K, M, G suffixes)") String length;
    @Parameters(index = "1", paramLabel = "PATH") String path;

    @Override
    int run(Ext4Paths fs) throws IOException {
        long off = ImagePaths.size(offset), len = ImagePaths.size(length);
        return each(List.of(path), p -> FallocateCommand.fallocate(fs, p, Ext4Vfs.FALLOC_FL_PUNCH_HOLE | Ext4Vfs.FALLOC_FL_KEEP_SIZE, off, len));
    }
}
