package ext4j.cli;

import ext4j.fs.Attr;
import ext4j.fs.Caller;
import ext4j.fs.Dirent;
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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
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
                List<Dirent> entries = new ArrayList<>(fs.list(target.ino()));
                entries.removeIf(e -> !all && e.name()[0] == '.');
                entries.sort(Comparator.comparing(Dirent::name, Arrays::compareUnsigned));
                if (longFormat) {
                    long blocks = 0;
                    List<Attr> attrs = new ArrayList<>();
                    for (Dirent e : entries) {
                        Attr a = vfs.getattr(e.ino());
                        attrs.add(a);
                        blocks += a.blocks() / 2;
                    }
                    out.println("total " + blocks);
                    for (int k = 0; k < entries.size(); k++) print(vfs, out, entries.get(k).nameString(), attrs.get(k));
                } else {
                    for (Dirent e : entries) out.println(e.nameString());
                }
            }
            out.flush();
            return 0;
        }
    }

    private void print(Ext4Vfs vfs, PrintWriter out, String name, Attr i) throws Exception {
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
