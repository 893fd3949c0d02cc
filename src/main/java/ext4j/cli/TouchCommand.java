package ext4j.cli;

import ext4j.fs.Ext4Paths;
import ext4j.fs.SetAttr;
import ext4j.fs.Time;
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
    int run(Ext4Paths fs) throws IOException {
        Time t = date == null ? null : parse(date);
        return each(paths, p -> {
            Time when = t != null ? t : Time.now();
            if (fs.find(p, true) == null) {
                if (noCreate) return;
                fs.create(p, 0644);
            }
            boolean both = onlyAtime == onlyMtime;
            SetAttr change = SetAttr.NONE;
            if (both || onlyAtime) change = change.atime(when);
            if (both || onlyMtime) change = change.mtime(when);
            fs.setattr(p, true, change);
        });
    }

    static Time parse(String s) {
        try {
            if (s.startsWith("@")) {
                java.math.BigDecimal d = new java.math.BigDecimal(s.substring(1));
                long sec = d.setScale(0, java.math.RoundingMode.FLOOR).longValueExact();
                int ns = d.subtract(java.math.BigDecimal.valueOf(sec)).movePointRight(9).intValue();
                return new Time(sec, ns);
            }
            Instant i;
            try { i = OffsetDateTime.parse(s).toInstant(); }
            catch (DateTimeParseException e) {
                try { i = Instant.parse(s); }
                catch (DateTimeParseException e2) { i = LocalDateTime.parse(s).atZone(ZoneId.systemDefault()).toInstant(); }
            }
            return Time.of(i);
        } catch (RuntimeException e) {
            throw new BadArgumentException("invalid date: '" + s + "' (use @EPOCH or ISO-8601, e.g. 2024-01-31T12:00:00Z)");
        }
    }
}
