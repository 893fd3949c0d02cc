package ext4j.cli;

import ext4j.base.CorruptException;
import ext4j.fs.Ext4Vfs;
import ext4j.fs.Options;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;

/** The IMAGE argument every command takes, and opening it read-only with warnings shown on stderr. */
final class ImageOptions {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "ext2/3/4 image file or block device")
    Path image;

    Ext4Vfs open(PrintWriter err) throws IOException { return open(err, true); }

    /** replayJournal false: the image exactly as on disk (info). */
    Ext4Vfs open(PrintWriter err, boolean replayJournal) throws IOException {
        Ext4Vfs vfs;
        try {
            vfs = replayJournal ? Ext4Vfs.open(image, Options.defaults().withReadOnly(true)) : Ext4Vfs.openAsOnDisk(image);
        } catch (CorruptException e) {
            throw new CorruptException(image + ": " + e.getMessage());
        }
        for (String w : vfs.warnings()) err.println("ext4j: " + image + ": warning: " + w);
        err.flush();
        return vfs;
    }
}
