package ext4j.cli;

import ext4j.fs.Ext4Vfs;
import ext4j.fs.Replay;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "recover", description = "Replay the journal of a filesystem that was not cleanly unmounted (what a Linux mount or e2fsck does first), then finish its orphans (the orphan list and the orphan file), clearing orphan_present.")
final class RecoverCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE") Path image;
    @Spec CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Replay r = Ext4Vfs.recover(image);
        if (r == null) out.println(image + ": journal clean, nothing to replay");
        else {
            String fc = r.fastCommits() == 0 ? "" : String.format(" and %d fast commits (%d tags) of transaction %d", r.fastCommits(), r.fastCommitTags(), r.lastTid() + 1);
            out.printf("%s: replayed %d transactions (%d to %d)%s, %d blocks written, %d revoked%n", image, r.transactions(),
                    r.firstTid(), r.lastTid(), fc, r.blocks(), r.revoked());
            for (String w : r.warnings()) out.println("  " + w);
        }
        return 0;
    }
}
