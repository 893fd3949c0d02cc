package ext4j.cli;

import ext4j.mount.Ext4Mount;
import ext4j.mount.MountOptions;
import ext4j.mount.MountState;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "mount", description = {
        "Serve an ext4 image or block device at MOUNTPOINT through FUSE (no kernel ext4 driver needed). A dirty journal is replayed first.",
        "Returns once the mountpoint serves requests; the server runs in the background until `umount MOUNTPOINT`, "
                + "`fusermount3 -u MOUNTPOINT` or `ext4j umount MOUNTPOINT`, then writes everything back and leaves the image clean.",
        "Options (-o, comma-separated): ro, rw, allow_other, commit=SECONDS (journal commit interval, default 5), "
                + "cache=SIZE (ext4j's metadata and writeback cache, default 64M), fsname=NAME, threads=N (default 4)."})
final class MountCommand implements Callable<Integer> {
    /** The printed line a background server's parent waits for. */
    static final String READY = "ext4j: mounted ";

    @Option(names = "-f", description = "Stay in the foreground (the server runs in this process).") boolean foreground;
    @Option(names = "-o", paramLabel = "OPTIONS", description = "Mount options, comma-separated.") String options;
    @Parameters(index = "0", paramLabel = "IMAGE") Path image;
    @Parameters(index = "1", paramLabel = "MOUNTPOINT") Path mountpoint;
    @Spec CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        MountOptions o;
        try {
            o = MountOptions.parse(options, MountOptions.defaults());
        } catch (IllegalArgumentException e) {
            throw new BadArgumentException(e.getMessage());
        }
        if (!Files.exists(image)) throw new java.nio.file.NoSuchFileException(image.toString());
        if (!Files.isDirectory(mountpoint)) throw new BadArgumentException(mountpoint + ": mountpoint is not a directory");
        return foreground ? serve(o) : background();
    }

    /** The server: mounts, says so, and serves until unmounted (SIGTERM and SIGINT unmount too). */
    private int serve(MountOptions o) throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Ext4Mount m = Ext4Mount.mount(image, mountpoint, o);
        MountState.record(mountpoint, image);
        Thread hook = new Thread(() -> {
            try {
                m.sync();                             // whatever happens to the mount, nothing written is lost
                m.close();
            } catch (IOException e) {
                System.err.println("ext4j mount: unmount at exit: " + e.getMessage());
                MountState.clear(mountpoint);
                Runtime.getRuntime().halt(Main.EXIT_ERROR);
            }
            MountState.clear(mountpoint);
            Runtime.getRuntime().halt(0);             // a clean unmount on SIGTERM/SIGINT exits 0, as fuse2fs does
        }, "ext4j-unmount");
        Runtime.getRuntime().addShutdownHook(hook);
        out.println(READY + image + " on " + mountpoint);
        out.flush();
        m.awaitUnmount();
        MountState.clear(mountpoint);
        try { Runtime.getRuntime().removeShutdownHook(hook); } catch (IllegalStateException exiting) { }
        return 0;
    }

    /** Starts `ext4j mount -f` as a detached process and returns once it serves (its exit code if it fails first). */
    private int background() throws Exception {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> cmd = new ArrayList<>(List.of("setsid", java, "-Xmx512m", "--enable-native-access=ALL-UNNAMED"));
        for (String k : System.getProperties().stringPropertyNames()) if (k.startsWith("ext4j.")) cmd.add("-D" + k + "=" + System.getProperty(k));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "mount", "-f"));
        if (options != null) cmd.addAll(List.of("-o", options));
        cmd.add(image.toString());
        cmd.add(mountpoint.toString());
        Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
        StringBuilder errors = new StringBuilder();
        Thread drain = Thread.ofPlatform().daemon(true).start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) synchronized (errors) { errors.append(l).append('\n'); }
            } catch (IOException ignored) { }
        });
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String l; (l = r.readLine()) != null; ) {
                if (l.startsWith(READY)) {
                    out.println(l);
                    synchronized (errors) { if (!errors.isEmpty()) err.print(errors); }
                    return 0;
                }
                out.println(l);
            }
        }
        int code = p.waitFor();
        drain.join(2000);
        synchronized (errors) { err.print(errors); }
        err.flush();
        return code == 0 ? Main.EXIT_ERROR : code;
    }
}
