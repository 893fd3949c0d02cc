package ext4j.fs;

import java.util.List;

/**
 * What `ext4j recover` replayed from a journal: transactions firstTid..lastTid, then fastCommits
 * fast commits of the next transaction (fastCommitTags tags applied), blocks written home, revoked
 * blocks, warnings.
 */
public record Replay(int transactions, long firstTid, long lastTid, int fastCommits, int fastCommitTags, int blocks, int revoked, List<String> warnings) {}
