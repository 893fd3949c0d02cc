package ext4j.fs;

/**
 * How a filesystem is opened: read-only or not, whether to write despite errors or failed checks
 * (force), the journal commit interval (0: commits only on sync), the page cache limit, delayed
 * allocation (false is the nodelalloc mount option) and, for tests and benchmarks, writing
 * without the jbd2 log. {@link #defaults()} reads the old system properties (ext4j.commitMs,
 * ext4j.cacheMiB, ext4j.delalloc, ext4j.noJournal) so scripts that set them keep working.
 * {@code faults} (tests only, null otherwise) puts a {@link ext4j.block.FaultyBlockDevice} under an
 * open by path, so front ends can be tested over a failing disk exactly as they open images.
 */
@SuppressWarnings("exports") // FaultyBlockDevice is internal: the callers that set faults are in the module (tests)
public record Options(boolean readOnly, boolean force, long commitMillis, long cacheBytes, boolean delalloc, boolean journal,
                      ext4j.block.FaultyBlockDevice.Faults faults) {
    public Options {
        if (commitMillis < 0) throw new IllegalArgumentException("commit interval " + commitMillis + " ms");
        if (cacheBytes < 0) throw new IllegalArgumentException("cache size " + cacheBytes);
    }

    public static Options defaults() {
        return new Options(false, false, Long.getLong("ext4j.commitMs", 5000), Long.getLong("ext4j.cacheMiB", 256) << 20,
                !"false".equals(System.getProperty("ext4j.delalloc")), !Boolean.getBoolean("ext4j.noJournal"), null);
    }

    public Options withReadOnly(boolean v) { return new Options(v, force, commitMillis, cacheBytes, delalloc, journal, faults); }
    public Options withForce(boolean v) { return new Options(readOnly, v, commitMillis, cacheBytes, delalloc, journal, faults); }
    public Options withCommitMillis(long v) { return new Options(readOnly, force, v, cacheBytes, delalloc, journal, faults); }
    public Options withCacheBytes(long v) { return new Options(readOnly, force, commitMillis, v, delalloc, journal, faults); }
    public Options withDelalloc(boolean v) { return new Options(readOnly, force, commitMillis, cacheBytes, v, journal, faults); }
    public Options withJournal(boolean v) { return new Options(readOnly, force, commitMillis, cacheBytes, delalloc, v, faults); }
    public Options withFaults(ext4j.block.FaultyBlockDevice.Faults v) { return new Options(readOnly, force, commitMillis, cacheBytes, delalloc, journal, v); }
}
