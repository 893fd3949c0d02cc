package ext4j.cli;

import ext4j.fs.Ext4FileSystem;
import ext4j.base.CorruptException;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;

/** The IMAGE argument every command takes, and opening it with warnings shown on stderr. */
final class ImageOptions {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "ext2/3/4 image file or block device")
    Path image;

    Ext4FileSystem open(PrintWriter err) throws IOException { return open(err, true); }

    /** replayJournal false: the image exactly as on disk (info). */
    Ext4FileSystem open(PrintWriter err, boolean replayJournal) throws IOException {
        Ext4FileSystem fs;
        try {
            fs = replayJournal ? Ext4FileSystem.openReadOnly(image) : Ext4FileSystem.openReadOnlyAsIs(image);
        } catch (CorruptException e) {
            throw new CorruptException(image + ": " + e.getMessage());
        }
        for (String w : fs.warnings()) err.println("ext4j: " + image + ": warning: " + w);
        err.flush();
        return fs;
    }
}
