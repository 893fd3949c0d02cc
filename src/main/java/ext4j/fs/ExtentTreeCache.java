package ext4j.fs;

import ext4j.extent.ExtentTree;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Extent trees as last stored, by inode, so an edit of a file with many extents does not read and
 * check its whole tree again each time (random writes into a big sparse file make one edit per
 * writeback allocation and one per conversion). Used only inside journal handles, which run one at
 * a time. A tree is reused only while its inode still holds the root it wrote
 * ({@link ExtentTree#reuse}); an aborted handle clears everything, a freed inode drops its entry.
 */
final class ExtentTreeCache {
    private final Map<Long, ExtentTree> trees;

    ExtentTreeCache(int capacity) {
        this.trees = new LinkedHashMap<>(16, 0.75f, true) {
            @Override protected boolean removeEldestEntry(Map.Entry<Long, ExtentTree> e) { return size() > capacity; }
        };
    }

    synchronized ExtentTree get(long ino) { return trees.get(ino); }
    synchronized void put(long ino, ExtentTree t) { trees.put(ino, t); }
    synchronized void remove(long ino) { trees.remove(ino); }
    synchronized void clear() { trees.clear(); }
}
