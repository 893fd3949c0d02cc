package ext4j.mount;

import ext4j.cli.Main;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** `ext4j mount -f` as its own process on the test classpath, started and waited for until it says it serves. */
final class ServerProcess {
    private ServerProcess() {}

    /** Starts the server; what it prints after starting goes to log (null: dropped). */
    static Process start(Path img, Path mnt, StringBuilder log, String... opts) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx512m",
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName(), "mount", "-f"));
        cmd.addAll(List.of(opts));
        cmd.add(img.toString());
        cmd.add(mnt.toString());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        StringBuilder seen = new StringBuilder();
        for (String l; (l = r.readLine()) != null; ) {
            seen.append(l).append('\n');
            if (l.startsWith("ext4j: mounted ")) {
                Thread.ofPlatform().daemon(true).start(() -> {
                    try {
                        for (String m; (m = r.readLine()) != null; ) if (log != null) synchronized (log) { log.append(m).append('\n'); }
                    } catch (IOException ignored) { }
                });
                return p;
            }
        }
        throw new AssertionError("the server did not start: " + seen);
    }
}
