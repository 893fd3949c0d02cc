package ext4j.mount;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Where a running server says which process serves a mountpoint and which image it holds, so
 * `ext4j umount` can wait for that process to close the image: one file per mountpoint under
 * /run/ext4j (root) or $XDG_RUNTIME_DIR/ext4j, else the temporary directory.
 */
public final class MountState {
    public record Server(long pid, Path image) {}

    private MountState() {}

    static Path dir() {
        if ("root".equals(System.getProperty("user.name")) && Files.isDirectory(Path.of("/run"))) return Path.of("/run/ext4j");
        String xdg = System.getenv("XDG_RUNTIME_DIR");
        if (xdg != null && !xdg.isEmpty()) return Path.of(xdg, "ext4j");
        return Path.of(System.getProperty("java.io.tmpdir"), "ext4j-" + System.getProperty("user.name"));
    }

    static Path file(Path mountpoint) {
        String mp = mountpoint.toAbsolutePath().normalize().toString();
        return dir().resolve(mp.replace("%", "%25").replace("/", "%2F") + ".pid");
    }

    /** Records this process as the server of mountpoint (and forgets servers that died without unmounting: kill -9). */
    public static void record(Path mountpoint, Path image) throws IOException {
        Files.createDirectories(dir());
        try (var files = Files.list(dir())) {
            for (Path f : files.toList()) {
                try {
                    long pid = Long.parseLong(Files.readString(f).split("\n")[0].trim());
                    if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) Files.deleteIfExists(f);
                } catch (IOException | RuntimeException unreadable) { }
            }
        }
        Files.writeString(file(mountpoint), ProcessHandle.current().pid() + "\n" + image.toAbsolutePath().normalize() + "\n");
    }

    public static void clear(Path mountpoint) {
        try { Files.deleteIfExists(file(mountpoint)); } catch (IOException ignored) { }
    }

    /** The server recorded for mountpoint, if its process still runs. */
    public static Optional<Server> find(Path mountpoint) {
        try {
            String[] lines = Files.readString(file(mountpoint), StandardCharsets.UTF_8).split("\n");
            long pid = Long.parseLong(lines[0].trim());
            if (ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) return Optional.of(new Server(pid, Path.of(lines[1].trim())));
        } catch (IOException | RuntimeException ignored) { }
        return Optional.empty();
    }
}
