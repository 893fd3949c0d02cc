package ext4j.extent;

/** One mapping of a file: logical blocks lblk..lblk+len-1 at physical pblk, written or unwritten (reads as zeros). */
public record Extent(long lblk, int len, long pblk, boolean unwritten) {
    public long end() { return lblk + len; }
    public long pend() { return pblk + len; }
}
