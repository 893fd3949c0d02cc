package ext4j.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;

/** Runs the ext4j CLI in-process and captures exit code, stdout, stderr (and raw bytes for cat). */
public final class CliRunner {
    public record Out(int exit, String out, String err, byte[] raw) {}

    private CliRunner() {}

    public static synchronized Out run(String... args) {
        StringWriter o = new StringWriter(), e = new StringWriter();
        ByteArrayOutputStream raw = new ByteArrayOutputStream();
        var saved = CatCommand.stdout;
        CatCommand.stdout = raw;
        try {
            int code = Main.run(args, new PrintWriter(o, true), new PrintWriter(e, true));
            return new Out(code, o.toString(), e.toString(), raw.toByteArray());
        } finally {
            CatCommand.stdout = saved;
        }
    }

    public static String utf8(byte[] b) { return new String(b, StandardCharsets.UTF_8); }
}
