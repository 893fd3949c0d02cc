package ext4j.cli;

import ext4j.fs.Ext4Vfs;
import ext4j.fs.FsSummary;
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
        try (Ext4Vfs vfs = img.open(err, false)) { // as on disk: a dirty journal is reported, not replayed
            FsSummary sb = vfs.summary();
            out.printf("filesystem:        %s%n", sb.kind());
            out.printf("volume name:       %s%n", sb.label().isEmpty() ? "<none>" : sb.label());
            out.printf("uuid:              %s%n", sb.uuid());
            out.printf("state:             %s%n", state(sb));
            out.printf("block size:        %d%n", sb.blockSize());
            if (sb.clusterSize() != sb.blockSize()) out.printf("cluster size:      %d%n", sb.clusterSize());
            out.printf("blocks:            %d%n", sb.blocks());
            out.printf("free blocks:       %d%n", sb.freeBlocks());
            out.printf("reserved blocks:   %d%n", sb.reservedBlocks());
            out.printf("inodes:            %d%n", sb.inodes());
            out.printf("free inodes:       %d%n", sb.freeInodes());
            out.printf("first inode:       %d%n", sb.firstInode());
            out.printf("inode size:        %d%n", sb.inodeSize());
            out.printf("groups:            %d (%d blocks, %d inodes each)%n", sb.groups(), sb.blocksPerGroup(), sb.inodesPerGroup());
            if (sb.flexGroupSize() != 0) out.printf("flex group size:   %d%n", sb.flexGroupSize());
            out.printf("descriptor size:   %d%n", sb.descSize());
            out.printf("features:          %s%n", String.join(" ", sb.features()));
            out.printf("default hash:      %s%n", sb.defaultHash());
            if (sb.metadataCsum()) out.printf("checksum seed:     0x%08x%n", sb.checksumSeed());
            out.printf("created:           %s%n", time(sb.created()));
            out.printf("last mounted:      %s%s%n", time(sb.lastMounted()), sb.lastMountedOn().isEmpty() ? "" : " on " + sb.lastMountedOn());
            out.printf("last written:      %s%n", time(sb.lastWritten()));
            out.printf("mount count:       %d/%d%n", sb.mountCount(), sb.maxMountCount());
            FsSummary.Journal j = sb.journal();
            switch (j.kind()) {
                case "none" -> out.printf("journal:           none%n");
                case "external" -> out.printf("journal:           external (device %d)%n", j.device());
                default -> {
                    out.printf("journal:           inode %d, %d blocks of %d bytes%n", j.inode(), j.blocks(), j.blockSize());
                    out.printf("journal state:     %s%n", j.clean() ? "clean" : "needs recovery");
                    out.printf("journal sequence:  %d%n", j.sequence());
                    out.printf("journal start:     %d%n", j.start());
                    out.printf("journal features:  %s%n", j.features().isEmpty() ? "(none)" : j.features());
                    if (j.errno() != 0) out.printf("journal errno:     %d%n", j.errno());
                }
            }
            List<String> bad = vfs.verifyBitmaps();
            if (sb.metadataCsum()) out.printf("bitmap checksums:  %s%n", bad.isEmpty() ? "ok" : bad.size() + " bad");
            for (String b : bad) err.println("ext4j: " + img.image + ": " + b);
            out.flush();
            return bad.isEmpty() ? 0 : Main.EXIT_ERROR;
        }
    }

    private static String state(FsSummary sb) {
        List<String> parts = new ArrayList<>();
        parts.add(sb.clean() ? "clean" : "not clean");
        if (sb.errors()) parts.add("with errors");
        if (sb.orphansRecovering()) parts.add("orphans being recovered");
        return String.join(", ", parts);
    }

    private static String time(long t) { return t == 0 ? "never" : Instant.ofEpochSecond(t).toString(); }
}
