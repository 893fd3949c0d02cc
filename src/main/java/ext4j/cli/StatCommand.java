package ext4j.cli;

import ext4j.extent.ExtentMap;
import ext4j.extent.FileMap;
import ext4j.extent.Run;
import ext4j.fs.Ext4FileSystem;
import ext4j.ondisk.Inode;
import ext4j.xattr.PosixAcl;
import ext4j.xattr.Xattr;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "stat", description = "Show an inode: type, mode, owner, size, links, times with nanoseconds, flags, blocks, extents, xattrs.")
final class StatCommand implements Callable<Integer> {
    @Mixin ImageOptions img;
    @Parameters(index = "1", paramLabel = "PATH", description = "absolute path inside the image (a final symlink is not followed)") String path;
    @Spec CommandSpec spec;

    private static final String[] FLAG_NAMES = {"secrm", "unrm", "compr", "sync", "immutable", "append", "nodump",
            "noatime", "dirty", "comprblk", "nocompr", "encrypt", "index", "imagic", "journal_data", "notail",
            "dirsync", "topdir", "huge_file", "extents", "verity", "ea_inode", null, null, null, null, null, null,
            "inline_data", "projinherit", "casefold", null};

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        try (Ext4FileSystem fs = img.open(spec.commandLine().getErr())) {
            Inode i = fs.resolve(path, false);
            int bs = fs.superblock().blockSize();
            out.printf("path:        %s%n", path);
            out.printf("inode:       %d%n", i.number());
            out.printf("type:        %s%n", Format.typeName(i.mode()));
            out.printf("mode:        %04o (%s)%n", i.permissions(), Format.modeString(i.mode()));
            out.printf("uid:         %d%n", i.uid());
            out.printf("gid:         %d%n", i.gid());
            out.printf("size:        %d%n", i.size());
            out.printf("links:       %d%n", i.linksCount());
            out.printf("blocks:      %d (512-byte units)%n", i.blocks512(bs));
            out.printf("flags:       0x%08x%s%n", i.flags(), flagNames(i.flags()));
            out.printf("generation:  %d%n", Integer.toUnsignedLong(i.generation()));
            if (i.projectId() != 0) out.printf("project:     %d%n", i.projectId());
            if (i.fileAcl() != 0) out.printf("xattr block: %d%n", i.fileAcl());
            out.printf("atime:       %s%n", Format.fullTime(i.atime()));
            out.printf("mtime:       %s%n", Format.fullTime(i.mtime()));
            out.printf("ctime:       %s%n", Format.fullTime(i.ctime()));
            if (i.crtime() != null) out.printf("crtime:      %s%n", Format.fullTime(i.crtime()));
            if (i.isSymlink()) out.printf("target:      %s%n", new String(fs.readlink(i), StandardCharsets.UTF_8));
            if (i.type() == Inode.S_IFCHR || i.type() == Inode.S_IFBLK) {
                long[] d = i.deviceNumbers();
                out.printf("device:      %d,%d%n", d[0], d[1]);
            }
            printMapping(fs, i, out);
            List<Xattr> xs = fs.xattrs(i);
            if (!xs.isEmpty()) {
                out.println("xattrs:");
                for (Xattr x : xs) out.printf("  %s = %s%n", x.name(), showValue(x));
            }
            out.flush();
            return 0;
        }
    }

    private static void printMapping(Ext4FileSystem fs, Inode i, PrintWriter out) throws Exception {
        if (i.hasFlag(Inode.FL_INLINE_DATA)) {
            out.printf("inline data: %d bytes%n", i.isDir() ? fs.inlineData(i).length : i.size());
            return;
        }
        boolean hasMap = i.isRegular() || i.isDir() || (i.isSymlink() && (i.hasFlag(Inode.FL_EXTENTS) || i.blocks512(fs.superblock().blockSize()) > (i.fileAcl() != 0 ? fs.superblock().blockSize() / 512 : 0)));
        if (!hasMap) return;
        FileMap map = fs.fileMap(i);
        if (map instanceof ExtentMap em) {
            List<Long> nodes = em.nodeBlocks();
            if (!nodes.isEmpty()) out.printf("tree blocks: %s%n", nodes);
            out.println("extents:");
        } else {
            out.println("blocks:");
        }
        for (Run r : map.runs()) {
            out.printf("  logical %d-%d physical %d-%d length %d%s%n", r.logical(), r.end() - 1, r.physical(),
                    r.physical() + r.length() - 1, r.length(), r.kind() == Run.Kind.UNWRITTEN ? " unwritten" : "");
        }
    }

    private static String flagNames(int flags) {
        List<String> n = new ArrayList<>();
        for (int b = 0; b < 32; b++) {
            if ((flags & (1 << b)) == 0) continue;
            n.add(FLAG_NAMES[b] != null ? FLAG_NAMES[b] : "0x" + Integer.toHexString(1 << b));
        }
        return n.isEmpty() ? "" : " (" + String.join(", ", n) + ")";
    }

    static String showValue(Xattr x) {
        if (x.name().startsWith("system.posix_acl_")) {
            try { return PosixAcl.fromExt4(x.value(), x.name()).toText(); } catch (Exception e) { return "<bad ACL: " + e.getMessage() + ">"; }
        }
        byte[] v = x.value();
        int n = v.length > 0 && v[v.length - 1] == 0 ? v.length - 1 : v.length; // C strings carry a NUL
        boolean printable = true;
        for (int k = 0; k < n && printable; k++) printable = (v[k] & 0xFF) >= 0x20 && v[k] != 0x7F;
        if (printable) return "\"" + new String(v, 0, n, StandardCharsets.UTF_8) + "\"";
        StringBuilder s = new StringBuilder("0x");
        for (byte c : v) s.append(String.format("%02x", c));
        return s.toString();
    }
}
