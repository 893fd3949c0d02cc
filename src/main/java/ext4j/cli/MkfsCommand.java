package ext4j.cli;

import ext4j.block.FileBlockDevice;
import ext4j.fs.Ext4Vfs;
import ext4j.fs.FsSummary;
import ext4j.fs.Options;
import ext4j.mkfs.Mkfs;
import ext4j.mkfs.MkfsOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Callable;

@Command(name = "mkfs", description = "Make an ext4 (or ext2) filesystem like mke2fs, optionally populated from a directory (-d). "
        + "An image file is created or truncated to SIZE; a block device is used whole. Defaults come from mke2fs's profile as mke2fs reads it: "
        + "the file named by $MKE2FS_CONFIG or --config, else /etc/mke2fs.conf, else mke2fs 1.47's built-in defaults.")
final class MkfsCommand implements Callable<Integer> {
    @Option(names = "-t", paramLabel = "TYPE", description = "ext4 (default) or ext2") String type = "ext4";
    @Option(names = "-b", paramLabel = "BLOCKSIZE", description = "1024, 2048 or 4096 (default from mke2fs.conf by size, as mke2fs)") int blockSize;
    @Option(names = "-N", paramLabel = "INODES", description = "number of inodes (default from mke2fs.conf's inode_ratio: built in, one per 16 KiB, 4 KiB below 512 MiB)") long inodes;
    @Option(names = "-I", paramLabel = "INODE_SIZE", description = "inode size in bytes (default from mke2fs.conf: built in, 256)") int inodeSize;
    @Option(names = "-T", paramLabel = "USAGE_TYPES", description = "mke2fs.conf usage types, comma-separated (default: the size type: floppy, small, default, big, huge)") String usageTypes;
    @Option(names = "--config", paramLabel = "FILE", description = "the mke2fs.conf to use (default $MKE2FS_CONFIG, else /etc/mke2fs.conf; a missing file means mke2fs's built-in defaults)") Path config;
    @Option(names = "-L", paramLabel = "LABEL", description = "volume label (16 bytes at most)") String label;
    @Option(names = "-U", paramLabel = "UUID", description = "filesystem UUID (default random)") String uuid;
    @Option(names = "-O", paramLabel = "FEATURES", split = ",", description = "features to add, or remove with ^ (e.g. ^metadata_csum,^has_journal)") List<String> features = List.of();
    @Option(names = "-d", paramLabel = "SRCDIR", description = "copy this directory's contents into the new filesystem, like mke2fs -d") Path srcDir;
    @Option(names = "-q", description = "quiet: no summary") boolean quiet;
    @Parameters(index = "0", paramLabel = "IMAGE") Path image;
    @Parameters(index = "1", arity = "0..1", paramLabel = "SIZE", description = "image size, with K, M, G, T suffix (needed for a new image file)") String size;
    @Spec CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        if (srcDir != null && !Files.isDirectory(srcDir)) throw new NoSuchFileException(srcDir.toString());
        UUID u;
        try { u = uuid == null ? null : UUID.fromString(uuid); }
        catch (IllegalArgumentException e) { throw new BadArgumentException("invalid UUID: '" + uuid + "'"); }
        ext4j.mkfs.Mke2fsConf conf;
        try {
            conf = config != null ? ext4j.mkfs.Mke2fsConf.load(config) : ext4j.mkfs.Mke2fsConf.load();
        } catch (IllegalArgumentException e) {
            throw new BadArgumentException(e.getMessage());
        }
        MkfsOptions o = new MkfsOptions(type, blockSize, inodes, inodeSize, label, u, features, usageTypes, conf);
        boolean device = Files.exists(image) && !Files.isRegularFile(image, LinkOption.NOFOLLOW_LINKS) && !Files.isDirectory(image);
        long bytes;
        if (device) {
            bytes = size == null ? 0 : ImagePaths.size(size);
        } else {
            if (size == null && !Files.exists(image)) throw new BadArgumentException("SIZE is needed to create " + image);
            // no SIZE: the file's, rounded down to whole 4 KiB pages as mke2fs rounds a device's size
            bytes = size == null ? Files.size(image) / 4096 * 4096 : ImagePaths.size(size);
            // a fresh sparse file reads as zeros: no inode table zeroing needed
            try (FileChannel ch = FileChannel.open(image, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                if (bytes > 0) ch.write(java.nio.ByteBuffer.wrap(new byte[1]), bytes - 1);
            }
        }
        try (FileBlockDevice dev = FileBlockDevice.open(image, false)) {
            try {
                Mkfs.format(dev, bytes, o, device, what -> { });
            } catch (IllegalArgumentException | IllegalStateException e) {
                throw new BadArgumentException(e.getMessage());
            }
        }
        long files = 0;
        FsSummary sb = null;
        if (srcDir != null) {
            // like mke2fs -d: the root directory keeps mkfs's attributes, its contents come from SRCDIR
            try (Ext4Vfs vfs = Ext4Vfs.openForPopulating(image)) {
                files = Populator.populate(vfs, srcDir, Ext4Vfs.ROOT, "/", err, ProgressBar.onTerminal());
            } catch (java.io.IOException | RuntimeException e) {
                throw new java.io.IOException("copying " + srcDir + " failed, the new filesystem is incomplete: " + Main.message(e), e);
            }
        }
        if (!quiet) {
            if (sb == null) {                  // as closed: not the in-use flags (orphan_present) of the populating open
                try (Ext4Vfs vfs = Ext4Vfs.open(image, Options.defaults().withReadOnly(true))) { sb = vfs.summary(); }
            }
            out.printf("%s: %s, %d blocks of %d bytes, %d inodes, %d groups, features: %s%n", image, type, sb.blocks(), sb.blockSize(),
                    sb.inodes(), sb.groups(), String.join(" ", sb.features()));
            if (srcDir != null) out.printf("copied %d files from %s%n", files, srcDir);
        }
        return 0;
    }
}
