package ext4j.fs;

/**
 * Who asks: user, primary group and supplementary groups. uid 0 stands for a caller with every
 * capability (CAP_FOWNER, CAP_FSETID, CAP_DAC_OVERRIDE), as root is on Linux.
 */
public record Caller(long uid, long gid, long[] groups) {
    public static final Caller ROOT = new Caller(0, 0, new long[0]);

    public Caller { groups = groups.clone(); }

    public boolean privileged() { return uid == 0; }

    public boolean inGroup(long g) {
        if (g == gid) return true;
        for (long x : groups) if (x == g) return true;
        return false;
    }
}
