import ext4j.fs.Ext4FileSystem;

import java.nio.file.Path;

/**
 * Metadata-heavy workload for the journal's cost: create, rename and unlink files in a few
 * directories with a sync (fsync) every 100 operations. Run through bench/journal-bench.sh, which
 * times it with the jbd2 journal and without (-Dext4j.noJournal=true) on the same fresh image.
 * Usage: java -cp target/ext4j.jar bench/JournalBench.java IMAGE OPS
 */
public class JournalBench {
    public static void main(String[] args) throws Exception {
        Path img = Path.of(args[0]);
        int ops = Integer.parseInt(args[1]);
        long t0 = System.nanoTime();
        int done = 0;
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(img, false)) {
            for (int d = 0; d < 10; d++) fs.mkdir("/d" + d, 0755, 0, 0);
            for (int i = 0; done < ops; i++) {
                String p = "/d" + (i % 10) + "/f" + i;
                fs.createFile(p, 0644, 0, 0);
                done++;
                if (i % 3 == 1) { fs.rename(p, p + ".renamed"); done++; }
                else if (i % 3 == 2) { fs.unlink(p); done++; }
                if (i % 100 == 99) fs.sync();
            }
        }
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.printf("%d operations in %.2f s = %.0f ops/s%n", done, s, done / s);
    }
}
