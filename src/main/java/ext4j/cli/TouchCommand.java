package ext4j.cli;

import ext4j.fs.Ext4FileSystem;
import ext4j.ondisk.Inode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeParseException;
import java.util.List;

@Command(name = "touch", description = "Set access and modification times (now, or -d), creating empty files that do not exist.")
final class TouchCommand extends WriteCommand {
    @Option(names = {"-d", "--date"}, paramLabel = "TIME", description = "@EPOCH[.NANOS], or ISO-8601 like 2024-01-31T12:00:00[.123456789][Z|+01:00] (local time without zone)") String date;
    @Option(names = {"-c", "--no-create"}, description = "do not create missing files") boolean noCreate;
    @Option(names = "-a", description = "change only the access time") boolean onlyAtime;
    @Option(names = "-m", description = "change only the modification time") boolean onlyMtime;
    @Parameters(index = "1..*", paramLabel = "PATH") List<String> paths;

    @Override
    int run(Ext4FileSystem fs) throws IOException {
        Inode.Timestamp t = date == null ? null : parse(date);
        return each(paths, p -> {
            Inode.Timestamp when = t != null ? t : now();
            if (Lookup.find(fs, p, true) == null) {
                if (noCreate) return;
                fs.createFile(p, 0644, Posix.euid(), Posix.egid());
            }
            boolean both = onlyAtime == onlyMtime;
            fs.utimens(p, both || onlyAtime ? when : null, both || onlyMtime ? when : null, true);
        });
    }

    private static Inode.Timestamp now() {
        Instant i = Instant.now();
        return new Inode.Timestamp(i.getEpochSecond(), i.getNano());
    }

    static Inode.Timestamp parse(String s) {
        try {
            if (s.startsWith("@")) {
                java.math.BigDecimal d = new java.math.BigDecimal(s.substring(1));
                long sec = d.setScale(0, java.math.RoundingMode.FLOOR).longValueExact();
                int ns = d.subtract(java.math.BigDecimal.valueOf(sec)).movePointRight(9).intValue();
                return new Inode.Timestamp(sec, ns);
            }
            Instant i;
            try { i = OffsetDateTime.parse(s).toInstant(); }
            catch (DateTimeParseException e) {
                try { i = Instant.parse(s); }
                catch (DateTimeParseException e2) { i = LocalDateTime.parse(s).atZone(ZoneId.systemDefault()).toInstant(); }
            }
            return new Inode.Timestamp(i.getEpochSecond(), i.getNano());
        } catch (RuntimeException e) {
            throw new BadArgumentException("invalid date: '" + s + "' (use @EPOCH or ISO-8601, e.g. 2024-01-31T12:00:00Z)");
        }
    }
}
