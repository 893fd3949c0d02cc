package ext4j.cli;

import ext4j.base.Errno;
import ext4j.fs.Ext4FileSystem;
import ext4j.base.FsException;
import ext4j.ondisk.Inode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.FileOutputStream;
import java.io.FileDescriptor;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.concurrent.Callable;

@Command(name = "cat", description = "Write a file's bytes to standard output.")
final class CatCommand implements Callable<Integer> {
    @Mixin ImageOptions img;
    @Parameters(index = "1", paramLabel = "PATH", description = "absolute path of a file inside the image") String path;
    @Spec CommandSpec spec;

    /** Where the bytes go; tests replace it. */
    static OutputStream stdout = new FileOutputStream(FileDescriptor.out);

    @Override
    public Integer call() throws Exception {
        try (Ext4FileSystem fs = img.open(spec.commandLine().getErr())) {
            Inode i = fs.resolve(path, true);
            if (i.isDir()) throw new FsException(Errno.EISDIR, path);
            ByteBuffer buf = ByteBuffer.allocate(1 << 20);
            for (long pos = 0; ; ) {
                buf.clear();
                int n = fs.read(i, pos, buf);
                if (n < 0) break;
                stdout.write(buf.array(), 0, n);
                pos += n;
            }
            stdout.flush();
            return 0;
        }
    }
}
