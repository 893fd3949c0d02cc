package ext4j.testutil;

import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.block.FaultyBlockDevice;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Helpers for tests over a {@link FaultyBlockDevice}: where the journal lives, what errno a failure carries. */
public final class Faults {
    private Faults() {}

    /** Byte ranges of the journal inode's blocks (debugfs ex <8>): faults there hit metadata only. */
    public static FaultyBlockDevice.Region journal(Path image, int blockSize) throws IOException, InterruptedException {
        List<long[]> runs = new ArrayList<>();
        Matcher m = Pattern.compile("\\d+ -\\s+\\d+\\s+(\\d+) -\\s+(\\d+)\\s+\\d+").matcher(Tools.debugfs(image, "ex <8>"));
        while (m.find()) runs.add(new long[] {Long.parseLong(m.group(1)) * blockSize, (Long.parseLong(m.group(2)) + 1) * blockSize});
        if (runs.isEmpty()) throw new AssertionError("no journal extents found in " + image);
        return (off, len) -> {
            for (long[] r : runs) if (off >= r[0] && off < r[1]) return true;
            return false;
        };
    }

    /** The region outside the journal: file data, and metadata written home at a checkpoint or directly. */
    public static FaultyBlockDevice.Region outside(FaultyBlockDevice.Region r) { return (off, len) -> !r.test(off, len); }

    /** The errno a failure reports; an IOException without one fails the test (every failure must say what it is). */
    public static Errno errno(IOException e, String what) {
        if (e instanceof FsException f) return f.errno();
        throw new AssertionError(what + ": failed without an errno: " + e, e);
    }

    /** The errno an injected fault should surface as. */
    public static Errno errnoOf(FaultyBlockDevice.Injected f) {
        return f.effect() == FaultyBlockDevice.Effect.ENOSPC ? Errno.ENOSPC : Errno.EIO;
    }
}
