package ext4j.mount;

/**
 * How an image is mounted: read-only, allow_other (other users reach the mount; permissions are
 * then checked by mode bits and ACLs, as always here), the journal commit interval, the size of
 * ext4j's own cache (metadata and writeback: the kernel's page cache holds the data), the
 * fsname shown in mount tables, and the number of server threads.
 */
public record MountOptions(boolean readOnly, boolean allowOther, long commitSeconds, long cacheBytes, String fsName, int threads) {
    public static MountOptions defaults() { return new MountOptions(false, false, 5, 64L << 20, null, 4); }

    public MountOptions withReadOnly(boolean v) { return new MountOptions(v, allowOther, commitSeconds, cacheBytes, fsName, threads); }
    public MountOptions withAllowOther(boolean v) { return new MountOptions(readOnly, v, commitSeconds, cacheBytes, fsName, threads); }
    public MountOptions withCommitSeconds(long v) { return new MountOptions(readOnly, allowOther, v, cacheBytes, fsName, threads); }
    public MountOptions withCacheBytes(long v) { return new MountOptions(readOnly, allowOther, commitSeconds, v, fsName, threads); }
    public MountOptions withFsName(String v) { return new MountOptions(readOnly, allowOther, commitSeconds, cacheBytes, v, threads); }
    public MountOptions withThreads(int v) { return new MountOptions(readOnly, allowOther, commitSeconds, cacheBytes, fsName, v); }

    /**
     * Parses mount(8)-style options: ro, rw, allow_other, commit=SECONDS, cache=SIZE (K, M, G
     * suffixes), fsname=NAME, threads=N; the usual no-op ones (defaults, dev, nodev, suid, nosuid,
     * exec, noexec, atime options) are accepted. Anything else is an IllegalArgumentException naming it.
     */
    public static MountOptions parse(String spec, MountOptions base) {
        MountOptions o = base;
        if (spec == null || spec.isEmpty()) return o;
        for (String opt : spec.split(",")) {
            if (opt.isEmpty()) continue;
            int eq = opt.indexOf('=');
            String k = eq < 0 ? opt : opt.substring(0, eq), v = eq < 0 ? null : opt.substring(eq + 1);
            switch (k) {
                case "ro" -> o = o.withReadOnly(true);
                case "rw" -> o = o.withReadOnly(false);
                case "allow_other" -> o = o.withAllowOther(true);
                case "commit" -> o = o.withCommitSeconds(number(k, v));
                case "cache" -> o = o.withCacheBytes(size(k, v));
                case "fsname" -> { if (v == null || v.isEmpty()) throw new IllegalArgumentException("fsname needs a value"); o = o.withFsName(v); }
                case "threads" -> { long n = number(k, v); if (n < 1 || n > 64) throw new IllegalArgumentException("threads=" + v + ": 1 to 64"); o = o.withThreads((int) n); }
                case "defaults", "dev", "nodev", "suid", "nosuid", "exec", "noexec", "atime", "noatime", "relatime", "default_permissions" -> { }
                default -> throw new IllegalArgumentException("unknown mount option '" + opt + "'");
            }
        }
        return o;
    }

    private static long number(String k, String v) {
        try { long n = Long.parseLong(v); if (n < 0) throw new NumberFormatException(); return n; }
        catch (NumberFormatException | NullPointerException e) { throw new IllegalArgumentException(k + "=" + v + ": not a number"); }
    }

    static long size(String k, String v) {
        try { return ext4j.base.Sizes.parse(v); } catch (IllegalArgumentException e) { throw new IllegalArgumentException(k + "=" + v + ": " + e.getMessage()); }
    }
}
