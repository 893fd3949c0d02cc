package ext4j.cli;

import ext4j.fs.Attr;
import ext4j.fs.Caller;
import ext4j.fs.Entry;
import ext4j.fs.Ext4Paths;
import ext4j.fs.Ext4Vfs;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;

@Command(name = "ls", description = "List a directory (or show one file) inside the image, like ls.")
final class LsCommand implements Callable<Integer> {
    @Mixin ImageOptions img;
    @Parameters(index = "1", paramLabel = "PATH", defaultValue = "/", description = "absolute path inside the image (default /)")
    String path;
    @Option(names = "-l", description = "long format: mode, links, uid, gid, size, mtime, name") boolean longFormat;
    @Option(names = "-a", description = "include entries whose names start with '.'") boolean all;
    @Spec CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        try (Ext4Vfs vfs = img.open(err)) {
            Ext4Paths fs = new Ext4Paths(vfs, Caller.ROOT);
            Entry target = fs.resolve(path, true);
            if (!target.attr().isDirectory()) {
                Entry self = fs.resolve(path, false);
                print(vfs, out, path, self.attr());
            } else {
                // streamed: entries sorted with bounded memory (SortedListing), attributes read as they are printed
                long[] blocks = {0};
                try (SortedListing entries = new SortedListing(vfs, target.ino(), e -> {
                    if (!all && e.name()[0] == '.') return false;
                    if (longFormat) blocks[0] += vfs.getattr(e.ino()).blocks() / 2;
                    return true;
                })) {
                    if (longFormat) out.println("total " + blocks[0]);
                    entries.forEach(e -> print(vfs, out, e.nameString(), longFormat ? vfs.getattr(e.ino()) : null));
                }
            }
            out.flush();
            return 0;
        }
    }

    private void print(Ext4Vfs vfs, PrintWriter out, String name, Attr i) throws java.io.IOException {
        if (!longFormat) { out.println(name); return; }
        String size;
        int t = i.type();
        if (t == Attr.S_IFCHR || t == Attr.S_IFBLK) {
            long[] dev = Format.majorMinor(i.rdev());
            size = dev[0] + ", " + dev[1];
        } else {
            size = Long.toString(i.size());
        }
        String suffix = i.isSymlink() ? " -> " + new String(vfs.readlink(i.ino()), StandardCharsets.UTF_8) : "";
        out.printf("%s %3d %5d %5d %10s %s %s%s%n", Format.modeString(i.mode()), i.nlink(), i.uid(), i.gid(), size,
                Format.lsTime(i.mtime()), name, suffix);
    }
}
