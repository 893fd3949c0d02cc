package ext4j.fs;

import java.util.List;

/** What `ext4j recover` replayed from a journal: transactions firstTid..lastTid, blocks written home, revoked blocks, warnings. */
public record Replay(int transactions, long firstTid, long lastTid, int blocks, int revoked, List<String> warnings) {}
