package ext4j.cli;

import ext4j.base.Errno;
import ext4j.fs.Ext4Paths;
import ext4j.fs.Ext4Vfs;
import ext4j.base.FsException;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * A command that changes an image: opens it read-write, runs, closes it clean (journal checkpointed).
 * Commands over several paths go on after a failing one, like coreutils, and exit with the worst code.
 * Each single operation is atomic: a failure leaves the image as it was before that operation.
 */
abstract class WriteCommand implements Callable<Integer> {
    @Mixin WriteImageOptions img;
    @Spec CommandSpec spec;

    PrintWriter err() { return spec.commandLine().getErr(); }
    PrintWriter out() { return spec.commandLine().getOut(); }

    @Override
    public final Integer call() throws Exception {
        try (Ext4Vfs vfs = img.open(err())) {
            return run(new Ext4Paths(vfs, Posix.caller()));
        }
    }

    abstract int run(Ext4Paths fs) throws IOException;

    interface PathOp { void apply(String path) throws IOException; }

    /** Applies op to each path; reports failures as "ext4j: PATH: error" and returns the exit code. */
    int each(List<String> paths, PathOp op) throws IOException {
        int code = 0;
        for (String p : paths) {
            try {
                op.apply(ImagePaths.check(p));
            } catch (FsException e) {
                err().println("ext4j: " + e.getMessage());
                code = Math.max(code, e.errno() == Errno.ENOENT ? Main.EXIT_NOT_FOUND : Main.EXIT_ERROR);
            }
        }
        err().flush();
        return code;
    }
}
