package ext4j.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.EnumSet;
import java.util.Random;
import java.util.Set;

/**
 * Generates a random directory tree from a seed: nested directories, files from empty to a few MiB
 * (some sparse), short and long symlinks, hard links, user xattrs, varied modes and nanosecond
 * mtimes. The demo and the tests feed it to mke2fs -d.
 */
public final class SampleTree {
    public record Stats(int files, int dirs, int symlinks, int hardlinks, long bytes) {}

    private final Random rnd;
    private final int maxFileBytes;
    private int files, dirs, symlinks, hardlinks;
    private long bytes;

    private SampleTree(long seed, int maxFileBytes) {
        this.rnd = new Random(seed);
        this.maxFileBytes = maxFileBytes;
    }

    /** Fills root (which must exist) with about {@code count} entries. */
    public static Stats generate(Path root, long seed, int count, int maxFileBytes) throws IOException {
        SampleTree t = new SampleTree(seed, maxFileBytes);
        t.fill(root, count, 0);
        return new Stats(t.files, t.dirs, t.symlinks, t.hardlinks, t.bytes);
    }

    private void fill(Path dir, int budget, int depth) throws IOException {
        Path lastFile = null;
        for (int i = 0; i < budget; i++) {
            String name = name(i);
            Path p = dir.resolve(name);
            int kind = rnd.nextInt(100);
            if (kind < 12 && depth < 5 && budget - i > 3) {
                Files.createDirectory(p);
                dirs++;
                int sub = 1 + rnd.nextInt(Math.max(1, (budget - i) / 2));
                fill(p, sub, depth + 1);
                i += sub;
                setTimes(p);
            } else if (kind < 20) {
                String target = rnd.nextBoolean() ? "target-" + i : "../" + "long/".repeat(10 + rnd.nextInt(30)) + "x" + i;
                Files.createSymbolicLink(p, Path.of(target));
                symlinks++;
            } else if (kind < 24 && lastFile != null) {
                Files.createLink(p, lastFile);
                hardlinks++;
            } else {
                writeFile(p);
                lastFile = p;
                setTimes(p);
            }
        }
    }

    private String name(int i) {
        String[] stems = {"a", "data", "notes", "img", "x", "long-name-", "Ωmega", "space name"};
        String s = stems[rnd.nextInt(stems.length)];
        if (s.equals("long-name-")) s = s + "n".repeat(rnd.nextInt(200));
        return s + "-" + i;
    }

    private void writeFile(Path p) throws IOException {
        int size = switch (rnd.nextInt(6)) {
            case 0 -> 0;
            case 1 -> rnd.nextInt(60);             // fits inline
            case 2 -> rnd.nextInt(5000);
            case 3 -> rnd.nextInt(70_000);
            default -> rnd.nextInt(Math.max(1, maxFileBytes));
        };
        boolean sparse = size > 200_000 && rnd.nextBoolean();
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            byte[] chunk = new byte[Math.min(size, 1 << 16)];
            for (int off = 0; off < size; off += chunk.length) {
                int n = Math.min(chunk.length, size - off);
                if (sparse && (off / chunk.length) % 3 == 1) continue; // leave a hole
                rnd.nextBytes(chunk);
                ch.write(ByteBuffer.wrap(chunk, 0, n), off);
            }
            // end on a non-zero byte: mke2fs 1.47.0 -d -O inline_data drops the size of a file that ends in a hole
            if (ch.size() < size) ch.write(ByteBuffer.wrap(new byte[]{0x5A}), size - 1);
        }
        files++;
        bytes += size;
        Set<PosixFilePermission> perms = EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
        if (rnd.nextBoolean()) perms.add(PosixFilePermission.GROUP_READ);
        if (rnd.nextBoolean()) perms.add(PosixFilePermission.OTHERS_READ);
        if (rnd.nextInt(4) == 0) perms.add(PosixFilePermission.OWNER_EXECUTE);
        Files.setPosixFilePermissions(p, perms);
        if (rnd.nextInt(4) == 0) {
            try {
                UserDefinedFileAttributeView v = Files.getFileAttributeView(p, UserDefinedFileAttributeView.class);
                v.write("test.seed", ByteBuffer.wrap(("v" + rnd.nextInt()).getBytes()));
            } catch (IOException | UnsupportedOperationException ignored) {
                // the host filesystem may not take user xattrs; the tree is still valid
            }
        }
    }

    private void setTimes(Path p) throws IOException {
        long sec = 1_000_000_000L + rnd.nextInt(700_000_000);
        int nanos = rnd.nextInt(1_000_000_000);
        Files.setLastModifiedTime(p, FileTime.from(java.time.Instant.ofEpochSecond(sec, nanos)));
    }
}
