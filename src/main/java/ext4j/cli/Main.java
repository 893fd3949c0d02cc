package ext4j.cli;

import ext4j.base.Errno;
import ext4j.base.FsException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.NoSuchFileException;
import java.util.List;

/** The ext4j command line. Exit codes: 0 success, 1 error (bad image, I/O), 2 usage error or missing path. */
@Command(name = "ext4j", mixinStandardHelpOptions = true, version = "ext4j 0.1.0",
        description = "Read and write ext2/ext3/ext4 images and block devices.")
public final class Main implements Runnable {
    public static final int EXIT_ERROR = 1, EXIT_NOT_FOUND = 2, EXIT_USAGE = 2;

    /** The subcommands, in the order usage lists them. */
    private static final List<Class<?>> COMMANDS = List.of(MkfsCommand.class, RecoverCommand.class, InfoCommand.class, LsCommand.class, StatCommand.class,
            CatCommand.class, GetCommand.class, GetfattrCommand.class,
            PutCommand.class, MkdirCommand.class, RmCommand.class, RmdirCommand.class, MvCommand.class, LnCommand.class,
            ChmodCommand.class, ChownCommand.class, TouchCommand.class, TruncateCommand.class, SetfattrCommand.class,
            FallocateCommand.class, PunchCommand.class, VerityCommand.class, MountCommand.class, UmountCommand.class,
            DemoCommand.class, CommandLine.HelpCommand.class);

    @Override public void run() { commandLine(new String[0]).usage(System.out); }

    /**
     * The command line for args: when the first word names a subcommand, only that one is built
     * (picocli's model of every command, by reflection, cost each run about 25 ms warm and far more
     * cold); otherwise (options, help, a typo) all of them, so usage and errors list them all.
     */
    static CommandLine commandLine(String[] args) {
        CommandLine cl = new CommandLine(new Main());
        Class<?> only = null;
        for (Class<?> c : COMMANDS)
            if (args.length > 0 && c != CommandLine.HelpCommand.class && c.getAnnotation(Command.class).name().equals(args[0])) only = c;
        for (Class<?> c : COMMANDS) if (only == null || c == only) cl.addSubcommand(c);
        return cl;
    }

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs a command line with the given streams; returns the exit code. Used by tests too. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = commandLine(args);
        cl.setOut(out).setErr(err);
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            err.println("ext4j: " + message(ex));
            err.flush();
            return exitCode(ex);
        });
        return cl.execute(args);
    }

    static String message(Throwable ex) {
        if (ex instanceof NoSuchFileException n) return n.getFile() + ": No such file or directory";
        if (ex instanceof OutOfMemoryError) return "out of memory";
        if (ex instanceof StackOverflowError) return "internal error: stack overflow";
        String m = ex.getMessage();
        return m == null ? ex.toString() : m;
    }

    static int exitCode(Throwable ex) {
        if (ex instanceof FsException f && f.errno() == Errno.ENOENT) return EXIT_NOT_FOUND;
        if (ex instanceof BadArgumentException) return EXIT_USAGE;
        if (ex instanceof IOException || ex instanceof RuntimeException || ex instanceof Error) return EXIT_ERROR;
        return EXIT_ERROR;
    }
}
