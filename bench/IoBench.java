import ext4j.fs.Ext4FileSystem;
import ext4j.ondisk.Inode;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

/**
 * Buffered I/O through ext4j's engine vs a plain FileChannel on the same disk, one run.
 * Usage: java -cp ext4j.jar IoBench.java MODE IMAGE PLAINFILE MiB
 *   seqwrite: MiB in 1 MiB writes then fsync;  seqread: read it all back (caches dropped by the caller);
 *   randwrite / randread: 4 KiB ops over the first MiB of the file, N = MiB * 64 ops;
 *   sparsewrite: N = MiB * 64 random 4 KiB writes into a new sparse file of MiB, fsync every 1,000
 *   (each fsync allocates what it writes back: the extent tree grows to tens of thousands of extents).
 * Prints "ext4j: X MiB/s" and "plain: Y MiB/s" (or ops/s); the plain side is a FileChannel on PLAINFILE.
 */
public class IoBench {
    public static void main(String[] a) throws Exception {
        String mode = a[0];
        Path img = Path.of(a[1]), plain = Path.of(a[2]);
        long mib = Long.parseLong(a[3]);
        boolean plainSide = a.length > 4 && a[4].equals("plain");
        long t0 = System.nanoTime();
        long count = 0;
        if (plainSide) {
            try (FileChannel ch = FileChannel.open(plain, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                count = run(mode, mib, (pos, b, write) -> { if (write) ch.write(b, pos); else ch.read(b, pos); }, () -> ch.force(false));
            }
        } else {
            try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
                String name = mode.equals("sparsewrite") ? "/sparse" : "/big";
                if (mode.equals("seqwrite") || mode.equals("sparsewrite")) fs.createFile(name, 0644, 0, 0);
                Inode ino = fs.resolve(name, true);
                count = run(mode, mib, (pos, b, write) -> { if (write) fs.write(ino, pos, b); else fs.read(ino, pos, b); }, () -> fs.fsync(name));
                System.err.println("  " + fs.ioStats());
            }
        }
        double s = (System.nanoTime() - t0) / 1e9;
        String who = plainSide ? "plain FileChannel" : "ext4j";
        if (mode.startsWith("seq")) System.out.printf("%s %s: %d MiB in %.2f s = %.0f MiB/s%n", who, mode, mib, s, mib / s);
        else System.out.printf("%s %s: %d ops in %.2f s = %.0f ops/s%n", who, mode, count, s, count / s);
    }

    interface Io { void apply(long pos, ByteBuffer b, boolean write) throws Exception; }
    interface Sync { void run() throws Exception; }

    static long run(String mode, long mib, Io io, Sync sync) throws Exception {
        ByteBuffer big = ByteBuffer.allocate(1 << 20);
        new Random(1).nextBytes(big.array());
        switch (mode) {
            case "seqwrite" -> { for (long i = 0; i < mib; i++) io.apply(i << 20, big.clear(), true); sync.run(); return mib; }
            case "seqread" -> { for (long i = 0; i < mib; i++) io.apply(i << 20, big.clear(), false); return mib; }
            default -> {
                Random r = new Random(7);
                long n = mib * 64, blocks = (mib << 20) / 4096;
                boolean write = !mode.equals("randread"), sparse = mode.equals("sparsewrite");
                ByteBuffer b = ByteBuffer.allocate(4096);
                for (long i = 0; i < n; i++) {
                    io.apply((r.nextLong() & Long.MAX_VALUE) % blocks * 4096, b.clear(), write);
                    if (sparse && i % 1000 == 999) sync.run();
                }
                if (write) sync.run();
                return n;
            }
        }
    }
}
