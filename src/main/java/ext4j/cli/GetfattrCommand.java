package ext4j.cli;

import ext4j.base.Errno;
import ext4j.fs.Caller;
import ext4j.fs.Entry;
import ext4j.fs.Ext4Paths;
import ext4j.fs.Ext4Vfs;
import ext4j.base.FsException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;

@Command(name = "getfattr", description = "Print extended attributes like getfattr(1): all user.* (-d), those matching -m REGEX, or one (-n NAME). "
        + "ACLs are shown in the Linux xattr format.")
final class GetfattrCommand implements Callable<Integer> {
    @Mixin ImageOptions img;
    @Spec CommandSpec spec;
    @Option(names = {"-n", "--name"}, paramLabel = "NAME") String name;
    @Option(names = {"-d", "--dump"}, description = "print values too (the default with -n)") boolean dump;
    @Option(names = {"-m", "--match"}, paramLabel = "REGEX", description = "names to show; '-' for all (default ^user\\.)") String match = "^user\\.";
    @Option(names = {"-e", "--encoding"}, paramLabel = "ENC", description = "text, hex or base64 (default: text when printable)") String encoding = "auto";
    @Option(names = {"-h", "--no-dereference"}, description = "read a symlink's own attributes") boolean noDeref;
    @Parameters(index = "1..*", paramLabel = "PATH") List<String> paths;

    @Override
    public Integer call() throws Exception {
        if (!List.of("auto", "text", "hex", "base64").contains(encoding)) throw new BadArgumentException("invalid encoding: '" + encoding + "'");
        PrintWriter out = spec.commandLine().getOut(), err = spec.commandLine().getErr();
        Pattern re = Pattern.compile(match.equals("-") ? "" : match);
        int code = 0;
        try (Ext4Vfs vfs = img.open(err)) {
            Ext4Paths fs = new Ext4Paths(vfs, Caller.ROOT);
            for (String p : paths) {
                try {
                    Entry i = fs.resolve(ImagePaths.check(p), !noDeref);
                    List<String> xs = Ext4Paths.at(p, i.ino(), () -> vfs.listxattr(i.ino(), Caller.ROOT)).stream()
                            .filter(x -> name != null ? x.equals(name) : re.matcher(x).find())
                            .filter(x -> !x.equals("system.data"))
                            .toList();
                    if (name != null && xs.isEmpty()) throw new FsException(Errno.ENODATA, p + ": " + name);
                    if (xs.isEmpty()) continue;
                    out.println("# file: " + p);
                    for (String x : xs) {
                        if (!(dump || name != null)) { out.println(x); continue; }
                        byte[] v = Ext4Paths.at(p, i.ino(), () -> vfs.getxattr(i.ino(), x, Caller.ROOT)); // ACLs in the Linux xattr format
                        out.println(x + "=" + XattrValues.encode(v, encoding));
                    }
                    out.println();
                } catch (FsException e) {
                    err.println("ext4j: " + e.getMessage());
                    code = Math.max(code, e.errno() == Errno.ENOENT ? Main.EXIT_NOT_FOUND : Main.EXIT_ERROR);
                }
            }
        }
        out.flush();
        err.flush();
        return code;
    }
}
