package ext4j.cli;

import ext4j.fs.Ext4Paths;
import ext4j.fs.SetAttr;
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
    int run(Ext4Paths fs) throws IOException {
        String[] parts = owner.split(":", -1);
        if (parts.length > 2) throw new BadArgumentException("invalid owner: '" + owner + "' (numeric UID[:GID])");
        Long uid = parts[0].isEmpty() ? null : id(parts[0]);
        Long gid = parts.length < 2 || parts[1].isEmpty() ? null : id(parts[1]);
        SetAttr change = uid == null && gid == null ? SetAttr.NONE.killSuidgid() : SetAttr.NONE; // chown(-1, -1): no owner change, set-id bits dropped
        if (uid != null) change = change.uid(uid);
        if (gid != null) change = change.gid(gid);
        SetAttr c = change;
        return each(paths, p -> fs.setattr(p, !noDeref, c));
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
