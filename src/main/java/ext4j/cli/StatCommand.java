package ext4j.cli;

import ext4j.fs.Attr;
import ext4j.fs.Caller;
import ext4j.fs.Entry;
import ext4j.fs.Ext4Paths;
import ext4j.fs.Ext4Vfs;
import ext4j.fs.InodeLayout;
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
        try (Ext4Vfs vfs = img.open(spec.commandLine().getErr())) {
            Entry e = new Ext4Paths(vfs, Caller.ROOT).resolve(path, false);
            Attr i = e.attr();
            InodeLayout layout = Ext4Paths.at(path, e.ino(), () -> vfs.layout(e.ino()));
            out.printf("path:        %s%n", path);
            out.printf("inode:       %d%n", i.ino());
            out.printf("type:        %s%n", Format.typeName(i.mode()));
            out.printf("mode:        %04o (%s)%n", i.permissions(), Format.modeString(i.mode()));
            out.printf("uid:         %d%n", i.uid());
            out.printf("gid:         %d%n", i.gid());
            out.printf("size:        %d%n", i.size());
            out.printf("links:       %d%n", i.nlink());
            out.printf("blocks:      %d (512-byte units)%n", i.blocks());
            out.printf("flags:       0x%08x%s%n", i.flags(), flagNames(i.flags()));
            out.printf("generation:  %d%n", i.generation());
            if (layout.projectId() != 0) out.printf("project:     %d%n", layout.projectId());
            if (layout.xattrBlock() != 0) out.printf("xattr block: %d%n", layout.xattrBlock());
            out.printf("atime:       %s%n", Format.fullTime(i.atime()));
            out.printf("mtime:       %s%n", Format.fullTime(i.mtime()));
            out.printf("ctime:       %s%n", Format.fullTime(i.ctime()));
            if (i.crtime() != null) out.printf("crtime:      %s%n", Format.fullTime(i.crtime()));
            if (i.isSymlink()) out.printf("target:      %s%n", new String(vfs.readlink(i.ino()), StandardCharsets.UTF_8));
            if (i.type() == Attr.S_IFCHR || i.type() == Attr.S_IFBLK) {
                long[] d = Format.majorMinor(i.rdev());
                out.printf("device:      %d,%d%n", d[0], d[1]);
            }
            printMapping(layout, out);
            List<String> names = Ext4Paths.at(path, e.ino(), () -> vfs.listxattr(e.ino(), Caller.ROOT));
            if (!names.isEmpty()) {
                out.println("xattrs:");
                for (String n : names) out.printf("  %s = %s%n", n, showValue(vfs, e.ino(), n));
            }
            out.flush();
            return 0;
        }
    }

    private static void printMapping(InodeLayout l, PrintWriter out) {
        switch (l.kind()) {
            case NONE -> { return; }
            case INLINE -> { out.printf("inline data: %d bytes%n", l.inlineBytes()); return; }
            case EXTENTS -> {
                if (!l.treeBlocks().isEmpty()) out.printf("tree blocks: %s%n", l.treeBlocks());
                out.println("extents:");
            }
            case BLOCKS -> out.println("blocks:");
        }
        for (InodeLayout.Piece r : l.pieces()) {
            out.printf("  logical %d-%d physical %d-%d length %d%s%n", r.logical(), r.logical() + r.length() - 1, r.physical(),
                    r.physical() + r.length() - 1, r.length(), r.unwritten() ? " unwritten" : "");
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

    static String showValue(Ext4Vfs vfs, long ino, String name) {
        byte[] v;
        try {
            v = vfs.getxattr(ino, name, Caller.ROOT);
        } catch (java.io.IOException e) {
            return name.startsWith("system.posix_acl_") ? "<bad ACL: " + e.getMessage() + ">" : "<unreadable: " + e.getMessage() + ">";
        }
        if (name.startsWith("system.posix_acl_")) {
            try { return AclText.of(v); } catch (IllegalArgumentException e) { return "<bad ACL: " + e.getMessage() + ">"; }
        }
        int n = v.length > 0 && v[v.length - 1] == 0 ? v.length - 1 : v.length; // C strings carry a NUL
        boolean printable = true;
        for (int k = 0; k < n && printable; k++) printable = (v[k] & 0xFF) >= 0x20 && v[k] != 0x7F;
        if (printable) return "\"" + new String(v, 0, n, StandardCharsets.UTF_8) + "\"";
        StringBuilder s = new StringBuilder("0x");
        for (byte c : v) s.append(String.format("%02x", c));
        return s.toString();
    }
}
