package ext4j.cli;

import ext4j.base.Errno;
import ext4j.fs.Caller;
import ext4j.fs.Entry;
import ext4j.fs.Ext4Paths;
import ext4j.fs.Ext4Vfs;
import ext4j.fs.OpenFile;
import ext4j.base.FsException;
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
        try (Ext4Vfs vfs = img.open(spec.commandLine().getErr())) {
            Entry i = new Ext4Paths(vfs, Caller.ROOT).resolve(path, true);
            if (i.attr().isDirectory()) throw new FsException(Errno.EISDIR, path);
            OpenFile f = Ext4Paths.at(path, i.ino(), () -> vfs.open(i.ino(), Ext4Vfs.O_RDONLY, Caller.ROOT));
            try {
                ByteBuffer buf = ByteBuffer.allocate(1 << 20);
                for (long pos = 0; ; ) {
                    buf.clear();
                    long at = pos;
                    int n = Ext4Paths.at(path, i.ino(), () -> vfs.read(f, at, buf));
                    if (n < 0) break;
                    stdout.write(buf.array(), 0, n);
                    pos += n;
                }
            } finally {
                vfs.release(f);
            }
            stdout.flush();
            return 0;
        }
    }
}
