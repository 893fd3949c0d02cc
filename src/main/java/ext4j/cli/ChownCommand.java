package ext4j.cli;

import ext4j.fs.Ext4FileSystem;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.util.List;

@Command(name = "chown", description = "Set numeric owner and/or group: UID, UID:GID or :GID.")
final class ChownCommand extends WriteCommand {
    @Option(names = {"-h", "--no-dereference"}, description = "change a symlink itself, not what it points to") boolean noDeref;
    @Parameters(index = "1", paramLabel = "OWNER", description = "UID[:GID] or :GID, numeric") String owner;
    @Parameters(index = "2..*", paramLabel = "PATH") List<String> paths;

    @Override
    int run(Ext4FileSystem fs) throws IOException {
        String[] parts = owner.split(":", -1);
        if (parts.length > 2) throw new BadArgumentException("invalid owner: '" + owner + "' (numeric UID[:GID])");
        Long uid = parts[0].isEmpty() ? null : id(parts[0]);
        Long gid = parts.length < 2 || parts[1].isEmpty() ? null : id(parts[1]);
        return each(paths, p -> fs.chown(p, uid != null ? uid : -1, gid != null ? gid : -1, !noDeref));
    }

    private long id(String s) {
        try {
            long v = Long.parseLong(s);
            if (v < 0 || v > 0xFFFFFFFEL) throw new NumberFormatException();
            return v;
        } catch (NumberFormatException e) {
            throw new BadArgumentException("invalid owner: '" + owner + "' (numeric ids only, 0..4294967294)");
        }
    }
}
