package ext4j.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import ext4j.block.MemoryBlockDevice;
import ext4j.extent.Run;
import ext4j.fs.Ext4FileSystem;
import ext4j.fs.Ext4Vfs;
import ext4j.fs.Options;
import ext4j.fuzz.FuzzImages.Kind;
import ext4j.fuzz.FuzzImages.Mutated;
import ext4j.journal.JournalRecovery;
import ext4j.journal.JournalSuperblock;
import ext4j.ondisk.Features;
import ext4j.ondisk.Inode;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The jbd2 journal: its superblock from raw bytes; descriptor, revoke and commit blocks and
 * recovery as a whole with patches inside the journal of a seed (the kernel-written one holds
 * committed transactions), scanned and replayed onto a memory device, then the image opened
 * (which replays in memory) and walked.
 */
class JournalFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void journalSuperblock(byte[] in) {
        Contract.check("journal superblock", () -> {
            JournalSuperblock j = JournalSuperblock.parse(ByteBuffer.wrap(Arrays.copyOf(in, 1024)), "fuzz");
            j.blockSize(); j.maxLen(); j.first(); j.sequence(); j.start(); j.incompatNames(); j.numFcBlocks();
        });
    }

    private static final Map<String, long[]> MAPS = new ConcurrentHashMap<>();

    /** The journal's logical → physical block map, from the unpatched seed. */
    private static long[] journalMap(FuzzImages.Seed seed) {
        return MAPS.computeIfAbsent(seed.name, n -> {
            try (Ext4FileSystem fs = Ext4FileSystem.open(new MemoryBlockDevice(seed.image.clone(), n, true))) {
                if (!fs.superblock().hasCompat(Features.COMPAT_HAS_JOURNAL)) return new long[0];
                Inode j = fs.inode(Inode.JOURNAL);
                long[] map = new long[Math.toIntExact(j.size() / fs.superblock().blockSize())];
                Arrays.fill(map, -1);
                for (Run r : fs.fileMap(j).runs())
                    if (r.kind() != Run.Kind.HOLE) for (long k = 0; k < r.length() && r.logical() + k < map.length; k++) map[(int) (r.logical() + k)] = r.physical() + k;
                return map;
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
    }

    @FuzzTest(maxDuration = "10s")
    void recovery(FuzzedDataProvider d) {
        Mutated m = FuzzImages.mutate(d, FuzzImages.kinds(Kind.JOURNAL));
        long[] map = journalMap(m.seed());
        if (map.length == 0) return;
        int bs = m.seed().blockSize;
        Contract.check(m.description(), () -> {
            MemoryBlockDevice dev = m.device(false);
            JournalRecovery.Result r = JournalRecovery.scan(dev, bs, m.image().length / bs, l -> l >= 0 && l < map.length ? map[(int) l] : -1);
            if (r.blocks().size() > map.length) throw new AssertionError("more blocks replayed than the journal holds: " + r.blocks().size());
            JournalRecovery.writeHome(dev, bs, l -> l >= 0 && l < map.length ? map[(int) l] : -1, r);
        });
        Contract.check(m.description() + " (mounted)", () -> {
            try (Ext4Vfs vfs = Ext4Vfs.open(m.device(true), Options.defaults().withReadOnly(true))) {
                ImageFuzzTest.walk(vfs, Ext4Vfs.ROOT, new HashSet<>(), 0);
            }
        });
    }
}
