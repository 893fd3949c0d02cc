package ext4j.testutil;

import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.block.FaultyBlockDevice;

import java.io.IOException;
import java.nio.file.Path;

/** Helpers for tests over a {@link FaultyBlockDevice}: where the journal lives, what errno a failure carries. */
public final class Faults {
    private Faults() {}

    /** The journal inode's blocks (debugfs blocks <8>, extent or indirect mapped), as bytes: faults there hit metadata only. */
    public static FaultyBlockDevice.Region journal(Path image, int blockSize) throws IOException, InterruptedException {
        java.util.Set<Long> blocks = new java.util.HashSet<>();
        for (String b : Tools.debugfs(image, "blocks <8>").trim().split("\\s+")) if (b.matches("\\d+")) blocks.add(Long.parseLong(b)); // not the version banner
        if (blocks.isEmpty()) throw new AssertionError("no journal blocks found in " + image);
        return (off, len) -> blocks.contains(off / blockSize);
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
