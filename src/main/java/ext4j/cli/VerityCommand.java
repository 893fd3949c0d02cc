package ext4j.cli;

import ext4j.fs.Caller;
import ext4j.fs.Ext4Paths;
import ext4j.fs.Entry;
import ext4j.fs.Ext4Vfs;
import ext4j.fs.OpenFile;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.IOException;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.Callable;

/** fs-verity, as fsverity-utils does it on a mounted file: enable, measure, digest. Digests print as "sha256:HEX PATH". */
@Command(name = "verity", description = "fs-verity: enable it on a file, or print a file's digest.",
        subcommands = {VerityCommand.Enable.class, VerityCommand.Measure.class, VerityCommand.Digest.class, CommandLine.HelpCommand.class})
final class VerityCommand implements Runnable {
    @Spec CommandSpec spec;

    @Override public void run() { spec.commandLine().usage(spec.commandLine().getOut()); }

    /** A digest as fsverity-utils prints it. */
    static String digestString(byte[] digest) { return "sha256:" + HexFormat.of().formatHex(digest); }

    static byte[] salt(String hex) {
        if (hex == null) return new byte[0];
        try {
            byte[] s = HexFormat.of().parseHex(hex);
            if (s.length > 32) throw new BadArgumentException("--salt: " + s.length + " bytes, at most 32");
            return s;
        } catch (IllegalArgumentException e) {
            throw new BadArgumentException("--salt: not hexadecimal: " + hex);
        }
    }

    @Command(name = "enable", description = "Make files verity files (FS_IOC_ENABLE_VERITY): SHA-256, the filesystem's block size; prints each digest.")
    static final class Enable extends WriteCommand {
        @Option(names = "--salt", paramLabel = "HEX", description = "salt prepended to each hashed block (up to 32 bytes)") String salt;
        @Parameters(index = "1..*", arity = "1..*", paramLabel = "PATH") List<String> paths;

        @Override
        int run(Ext4Paths fs) throws IOException {
            byte[] s = salt(salt);
            return each(paths, p -> {
                Entry e = fs.resolve(p, true);
                byte[] digest = Ext4Paths.at(p, e.ino(), () -> {
                    OpenFile f = fs.vfs().open(e.ino(), Ext4Vfs.O_RDONLY, fs.caller()); // as FS_IOC_ENABLE_VERITY wants it
                    try {
                        return fs.vfs().enableVerity(f, s, ino -> false);          // the CLI holds no other handle
                    } finally {
                        fs.vfs().release(f);
                    }
                });
                out().println(digestString(digest) + " " + p);
            });
        }
    }

    @Command(name = "measure", description = "Print the digest of verity files, from their stored descriptors (like `fsverity measure`).")
    static final class Measure implements Callable<Integer> {
        @Mixin ImageOptions img;
        @Parameters(index = "1..*", arity = "1..*", paramLabel = "PATH") List<String> paths;
        @Spec CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            try (Ext4Vfs vfs = img.open(spec.commandLine().getErr())) {
                Ext4Paths fs = new Ext4Paths(vfs, Caller.ROOT);
                for (String p : paths) {
                    Entry e = fs.resolve(ImagePaths.check(p), true);
                    spec.commandLine().getOut().println(digestString(Ext4Paths.at(p, e.ino(), () -> vfs.measureVerity(e.ino()))) + " " + p);
                }
            }
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    @Command(name = "digest", description = "Compute the fs-verity digest of files' current bytes (like `fsverity digest`), verity or not.")
    static final class Digest implements Callable<Integer> {
        @Mixin ImageOptions img;
        @Option(names = "--salt", paramLabel = "HEX", description = "salt (up to 32 bytes)") String salt;
        @Parameters(index = "1..*", arity = "1..*", paramLabel = "PATH") List<String> paths;
        @Spec CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            byte[] s = salt(salt);
            try (Ext4Vfs vfs = img.open(spec.commandLine().getErr())) {
                Ext4Paths fs = new Ext4Paths(vfs, Caller.ROOT);
                for (String p : paths) {
                    Entry e = fs.resolve(ImagePaths.check(p), true);
                    spec.commandLine().getOut().println(digestString(Ext4Paths.at(p, e.ino(), () -> vfs.computeVerity(e.ino(), s))) + " " + p);
                }
            }
            spec.commandLine().getOut().flush();
            return 0;
        }
    }
}
