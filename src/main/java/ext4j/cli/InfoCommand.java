package ext4j.cli;

import ext4j.dir.DxHash;
import ext4j.fs.Ext4FileSystem;
import ext4j.journal.JournalSuperblock;
import ext4j.ondisk.Features;
import ext4j.ondisk.Superblock;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "info", description = "Show the superblock: sizes, counts, features, UUID, label, state, journal.")
final class InfoCommand implements Callable<Integer> {
    @Mixin ImageOptions img;
    @Spec CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        try (Ext4FileSystem fs = img.open(err, false)) { // as on disk: a dirty journal is reported, not replayed
            Superblock sb = fs.superblock();
            out.printf("filesystem:        %s%n", sb.kind());
            out.printf("volume name:       %s%n", sb.volumeName().isEmpty() ? "<none>" : sb.volumeName());
            out.printf("uuid:              %s%n", sb.uuid());
            out.printf("state:             %s%n", state(sb.state()));
            out.printf("block size:        %d%n", sb.blockSize());
            if (sb.clusterSize() != sb.blockSize()) out.printf("cluster size:      %d%n", sb.clusterSize());
            out.printf("blocks:            %d%n", sb.blocksCount());
            out.printf("free blocks:       %d%n", sb.freeBlocksCount());
            out.printf("reserved blocks:   %d%n", sb.reservedBlocksCount());
            out.printf("inodes:            %d%n", Integer.toUnsignedLong(sb.inodesCount()));
            out.printf("free inodes:       %d%n", sb.freeInodesCount());
            out.printf("first inode:       %d%n", sb.firstInode());
            out.printf("inode size:        %d%n", sb.inodeSize());
            out.printf("groups:            %d (%d blocks, %d inodes each)%n", sb.groupCount(), Integer.toUnsignedLong(sb.blocksPerGroup()), sb.inodesPerGroup());
            if (sb.hasIncompat(Features.INCOMPAT_FLEX_BG)) out.printf("flex group size:   %d%n", 1 << sb.logGroupsPerFlex());
            out.printf("descriptor size:   %d%n", sb.descSize());
            List<String> feats = new ArrayList<>(Features.compatNames(sb.featureCompat()));
            feats.addAll(Features.incompatNames(sb.featureIncompat()));
            feats.addAll(Features.roCompatNames(sb.featureRoCompat()));
            out.printf("features:          %s%n", String.join(" ", feats));
            out.printf("default hash:      %s%n", hashName(sb.defHashVersion(), (sb.flags() & Superblock.FLAG_UNSIGNED_HASH) != 0));
            if (sb.hasMetadataCsum()) out.printf("checksum seed:     0x%08x%n", sb.checksumSeed());
            out.printf("created:           %s%n", time(sb.mkfsTime()));
            out.printf("last mounted:      %s%s%n", time(sb.mountTime()), sb.lastMounted().isEmpty() ? "" : " on " + sb.lastMounted());
            out.printf("last written:      %s%n", time(sb.writeTime()));
            out.printf("mount count:       %d/%d%n", sb.mountCount(), sb.maxMountCount());
            JournalSuperblock j = fs.journalSuperblock();
            if (j == null) {
                out.printf("journal:           %s%n", sb.hasCompat(Features.COMPAT_HAS_JOURNAL) ? "external (device " + sb.journalDev() + ")" : "none");
            } else {
                out.printf("journal:           inode %d, %d blocks of %d bytes%n", Integer.toUnsignedLong(sb.journalInode()), j.maxLen(), j.blockSize());
                out.printf("journal state:     %s%n", j.isClean() ? "clean" : "needs recovery");
                out.printf("journal sequence:  %d%n", j.sequence());
                out.printf("journal start:     %d%n", j.start());
                out.printf("journal features:  %s%n", j.incompatNames().isEmpty() ? "(none)" : j.incompatNames());
                if (j.errno() != 0) out.printf("journal errno:     %d%n", j.errno());
            }
            List<String> bad = fs.volume().verifyBitmaps();
            if (sb.hasMetadataCsum()) out.printf("bitmap checksums:  %s%n", bad.isEmpty() ? "ok" : bad.size() + " bad");
            for (String b : bad) err.println("ext4j: " + img.image + ": " + b);
            out.flush();
            return bad.isEmpty() ? 0 : Main.EXIT_ERROR;
        }
    }

    private static String state(int s) {
        List<String> parts = new ArrayList<>();
        parts.add((s & Superblock.STATE_VALID) != 0 ? "clean" : "not clean");
        if ((s & Superblock.STATE_ERROR) != 0) parts.add("with errors");
        if ((s & Superblock.STATE_ORPHANS) != 0) parts.add("orphans being recovered");
        return String.join(", ", parts);
    }

    static String hashName(int v, boolean unsigned) {
        String n = switch (v) {
            case DxHash.LEGACY -> "legacy";
            case DxHash.HALF_MD4 -> "half_md4";
            case DxHash.TEA -> "tea";
            case DxHash.SIPHASH -> "siphash";
            default -> "unknown (" + v + ")";
        };
        return v <= DxHash.TEA ? n + (unsigned ? " (unsigned)" : " (signed)") : n;
    }

    private static String time(long t) { return t == 0 ? "never" : Instant.ofEpochSecond(t).toString(); }
}
