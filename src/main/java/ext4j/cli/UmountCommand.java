package ext4j.cli;

import ext4j.fuse.FuseSession;
import ext4j.mount.MountState;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

@Command(name = "umount", description = "Unmount an `ext4j mount` and return once its server has written everything back and closed the image "
        + "(so e2fsck can run right after). -l detaches a busy mount now and returns once its last user leaves.")
final class UmountCommand implements Callable<Integer> {
    @Option(names = {"-l", "--lazy"}, description = "Detach now even if busy.") boolean lazy;
    @Parameters(index = "0", paramLabel = "MOUNTPOINT") Path mountpoint;

    @Override
    public Integer call() throws Exception {
        Optional<MountState.Server> server = MountState.find(mountpoint);
        FuseSession.unmount(mountpoint, lazy);
        if (server.isPresent()) {
            ProcessHandle h = ProcessHandle.of(server.get().pid()).orElse(null);
            if (h != null) h.onExit().get(lazy ? Long.MAX_VALUE : 600, TimeUnit.SECONDS);
        }
        return 0;
    }
}
