package ext4j.cli;

import ext4j.fs.Ext4Paths;
import ext4j.fs.SetAttr;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.util.List;

@Command(name = "chmod", description = "Set permission bits (octal, setuid/setgid/sticky included).")
final class ChmodCommand extends WriteCommand {
    @Parameters(index = "1", paramLabel = "MODE", description = "octal, e.g. 644, 2755") String mode;
    @Parameters(index = "2..*", paramLabel = "PATH") List<String> paths;

    @Override
    int run(Ext4Paths fs) throws IOException {
        int perm = Modes.parse(mode);
        return each(paths, p -> fs.setattr(p, true, SetAttr.NONE.mode(perm)));
    }
}
