package ext4j.fs;

import java.time.Instant;

/** A file time as ext4 keeps it: seconds since the epoch and nanoseconds. */
public record Time(long seconds, int nanos) {
    public static Time now() {
        Instant t = Instant.now();
        return new Time(t.getEpochSecond(), t.getNano());
    }

    public static Time of(Instant t) { return new Time(t.getEpochSecond(), t.getNano()); }

    public Instant toInstant() { return Instant.ofEpochSecond(seconds, nanos); }

    ext4j.ondisk.Inode.Timestamp toTimestamp() { return new ext4j.ondisk.Inode.Timestamp(seconds, nanos); }

    static Time of(ext4j.ondisk.Inode.Timestamp t) { return t == null ? null : new Time(t.seconds(), t.nanos()); }
}
