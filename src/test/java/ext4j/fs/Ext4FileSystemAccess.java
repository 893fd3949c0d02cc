package ext4j.fs;

/** Test access to package-private hooks of Ext4FileSystem. */
public final class Ext4FileSystemAccess {
    private Ext4FileSystemAccess() {}

    @SuppressWarnings("exports") // the journal is internal; its callers are tests in the module
    public static ext4j.journal.Journal journal(Ext4FileSystem fs) { return fs.journalForTest(); }

    /** Drops the filesystem as a power cut would: nothing more is written. */
    public static void abandon(Ext4FileSystem fs) throws java.io.IOException { fs.abandonForTest(); }
}
