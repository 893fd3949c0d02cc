package ext4j.cli;

import ext4j.dir.DirEntry;
import ext4j.fs.Ext4FileSystem;
import ext4j.ondisk.Inode;
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
        try (Ext4FileSystem fs = img.open(err)) {
            Inode target = fs.resolve(path, true);
            if (!target.isDir()) {
                Inode self = fs.resolve(path, false);
                print(fs, out, path, self);
            } else {
                List<DirEntry> entries = new ArrayList<>(fs.list(target));
                entries.removeIf(e -> !all && e.nameBytes()[0] == '.');
                entries.sort(Comparator.comparing(DirEntry::nameBytes, Arrays::compareUnsigned));
                if (longFormat) {
                    long blocks = 0;
                    List<Inode> inodes = new ArrayList<>();
                    for (DirEntry e : entries) {
                        Inode i = fs.inode(e.inode());
                        inodes.add(i);
                        blocks += i.blocks512(fs.superblock().blockSize()) / 2;
                    }
                    out.println("total " + blocks);
                    for (int k = 0; k < entries.size(); k++) print(fs, out, entries.get(k).name(), inodes.get(k));
                } else {
                    for (DirEntry e : entries) out.println(e.name());
                }
            }
            out.flush();
            return 0;
        }
    }

    private void print(Ext4FileSystem fs, PrintWriter out, String name, Inode i) throws Exception {
        if (!longFormat) { out.println(name); return; }
        String size;
        int t = i.type();
        if (t == Inode.S_IFCHR || t == Inode.S_IFBLK) {
            long[] dev = i.deviceNumbers();
            size = dev[0] + ", " + dev[1];
        } else {
            size = Long.toString(i.size());
        }
        String suffix = i.isSymlink() ? " -> " + new String(fs.readlink(i), StandardCharsets.UTF_8) : "";
        out.printf("%s %3d %5d %5d %10s %s %s%s%n", Format.modeString(i.mode()), i.linksCount(), i.uid(), i.gid(), size,
                Format.lsTime(i.mtime()), name, suffix);
    }
}
