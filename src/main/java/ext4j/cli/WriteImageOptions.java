package ext4j.cli;

import ext4j.fs.Ext4Vfs;
import ext4j.fs.Options;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;

/** The IMAGE argument of commands that change the image, opened read-write. */
final class WriteImageOptions {
    @Parameters(index = "0", paramLabel = "IMAGE", description = "ext4 image file or block device")
    Path image;

    @Option(names = "--force", description = "write even if metadata fails a checksum or the filesystem is marked with errors")
    boolean force;

    Ext4Vfs open(PrintWriter err) throws IOException {
        Ext4Vfs vfs = Ext4Vfs.open(image, Options.defaults().withForce(force));
        for (String w : vfs.warnings()) err.println("ext4j: " + image + ": warning: " + w);
        err.flush();
        return vfs;
    }
}
