package ext4j.cli;

import ext4j.base.Errno;
import ext4j.fs.Ext4FileSystem;
import ext4j.base.FsException;
import ext4j.ondisk.Inode;
import ext4j.xattr.PosixAcl;
import ext4j.xattr.Xattr;
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
        try (Ext4FileSystem fs = img.open(err)) {
            for (String p : paths) {
                try {
                    Inode i = fs.resolve(ImagePaths.check(p), !noDeref);
                    List<Xattr> xs = fs.xattrs(i).stream()
                            .filter(x -> name != null ? x.name().equals(name) : re.matcher(x.name()).find())
                            .filter(x -> !x.name().equals("system.data"))
                            .toList();
                    if (name != null && xs.isEmpty()) throw new FsException(Errno.ENODATA, p + ": " + name);
                    if (xs.isEmpty()) continue;
                    out.println("# file: " + p);
                    for (Xattr x : xs) {
                        byte[] v = x.name().startsWith("system.posix_acl_") ? PosixAcl.fromExt4(x.value(), p + " " + x.name()).toXattr() : x.value();
                        out.println(dump || name != null ? x.name() + "=" + XattrValues.encode(v, encoding) : x.name());
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
