package ext4j.cli;

import ext4j.fs.Entry;
import ext4j.fs.Ext4Paths;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.util.List;

@Command(name = "setfattr", description = "Set (-n NAME -v VALUE) or remove (-x NAME) an extended attribute, like setfattr(1). "
        + "VALUE is text, \"quoted text\", 0xHEX or 0sBASE64; ACLs (system.posix_acl_*) in the Linux xattr format.")
final class SetfattrCommand extends WriteCommand {
    static final class Action {
        @Option(names = {"-n", "--name"}, paramLabel = "NAME") String name;
        @Option(names = {"-x", "--remove"}, paramLabel = "NAME") String remove;
    }

    @ArgGroup(multiplicity = "1") Action action;
    @Option(names = {"-v", "--value"}, paramLabel = "VALUE", description = "default: empty") String value = "";
    @Option(names = {"-h", "--no-dereference"}, description = "act on a symlink itself") boolean noDeref;
    @Parameters(index = "1..*", paramLabel = "PATH") List<String> paths;

    @Override
    int run(Ext4Paths fs) throws IOException {
        byte[] v = action.name != null ? XattrValues.decode(value) : null;
        return each(paths, p -> {
            Entry e = fs.resolve(p, !noDeref);
            Ext4Paths.at(p, e.ino(), () -> {
                if (action.name != null) fs.vfs().setxattr(e.ino(), action.name, v, 0, fs.caller());
                else fs.vfs().removexattr(e.ino(), action.remove, fs.caller());
                return null;
            });
        });
    }
}
