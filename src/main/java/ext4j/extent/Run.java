package ext4j.extent;

/** A range of logical file blocks and what backs it. {@code physical} is meaningful only for MAPPED and UNWRITTEN. */
public record Run(long logical, long length, long physical, Kind kind) {
    public enum Kind { HOLE, MAPPED, UNWRITTEN }

    public static Run hole(long logical, long length) { return new Run(logical, length, 0, Kind.HOLE); }

    public long end() { return logical + length; }

    /** True when reading the range needs device I/O (holes and unwritten extents read as zeros). */
    public boolean hasData() { return kind == Kind.MAPPED; }
}
