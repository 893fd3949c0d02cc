import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

/**
 * One phase of bench/nio-bench.sh through java.nio.file: PHASE ext4j|default IMAGE HOSTDIR MiB.
 * Phases: seqwrite (1 MiB writes + force), seqread, randwrite (4 KiB at random offsets + force),
 * randread. "ext4j" runs inside IMAGE through the provider, "default" on HOSTDIR/nio-bench.dat.
 * Prints "PHASE SIDE = RATE unit".
 */
public class NioBench {
    public static void main(String[] a) throws Exception {
        String phase = a[0], side = a[1];
        Path image = Path.of(a[2]), host = Path.of(a[3]);
        long mib = Long.parseLong(a[4]);
        FileSystem fs = side.equals("ext4j") ? FileSystems.newFileSystem(image) : null;
        Path f = fs != null ? fs.getPath("/nio-bench.dat") : host.resolve("nio-bench.dat");
        long bytes = mib << 20;
        long t0 = System.nanoTime();
        String unit = "MB/s";
        double amount = bytes / 1e6;
        switch (phase) {
            case "seqwrite" -> {
                try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                    ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
                    for (long off = 0; off < bytes; off += 1 << 20) { b.clear(); while (b.hasRemaining()) ch.write(b, off + b.position()); }
                    ch.force(true);
                }
            }
            case "seqread" -> {
                try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
                    ByteBuffer b = ByteBuffer.allocateDirect(1 << 20);
                    for (long off = 0; ; ) { b.clear(); int n = ch.read(b, off); if (n <= 0) break; off += n; }
                }
            }
            case "randwrite", "randread" -> {
                int ops = (int) (bytes / 4096 / 4);
                Random r = new Random(42);
                boolean write = phase.equals("randwrite");
                try (FileChannel ch = FileChannel.open(f, write ? StandardOpenOption.WRITE : StandardOpenOption.READ)) {
                    ByteBuffer b = ByteBuffer.allocateDirect(4096);
                    long blocks = ch.size() / 4096;
                    for (int i = 0; i < ops; i++) {
                        b.clear();
                        long off = (r.nextLong() & Long.MAX_VALUE) % blocks * 4096;
                        if (write) ch.write(b, off); else ch.read(b, off);
                    }
                    if (write) ch.force(true);
                }
                unit = "ops/s";
                amount = ops;
            }
            default -> throw new IllegalArgumentException(phase);
        }
        double s = (System.nanoTime() - t0) / 1e9;
        if (fs != null) fs.close();
        System.out.printf("%s %s = %.1f %s%n", phase, side, amount / s, unit);
    }
}
