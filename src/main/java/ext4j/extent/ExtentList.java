package ext4j.extent;

import ext4j.alloc.BlockAllocator;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A file's mapping as a sorted list of non-overlapping extents, edited in memory: insert (merging
 * contiguous neighbours of one kind up to a maximum length), range removal that cuts extents,
 * unwritten-to-written conversion. The on-disk formats (extent tree, indirect blocks) store it.
 */
final class ExtentList {
    private final List<Extent> extents;
    private final int maxLen, maxUnwrittenLen;
    private final long ino;

    ExtentList(long ino, List<Extent> initial, int maxLen, int maxUnwrittenLen) {
        this.ino = ino;
        this.extents = new ArrayList<>(initial);
        this.maxLen = maxLen;
        this.maxUnwrittenLen = maxUnwrittenLen;
    }

    List<Extent> all() { return Collections.unmodifiableList(extents); }
    int size() { return extents.size(); }
    Extent get(int i) { return extents.get(i); }
    int maxRun(boolean unwritten) { return unwritten ? maxUnwrittenLen : maxLen; }

    /** A goal for new data blocks at logical block lblk: right after the physical end of the extent before it. */
    long goalFor(long lblk) {
        int i = indexAtOrBefore(lblk);
        if (i < 0) return 0;
        Extent e = extents.get(i);
        return e.pblk() + (lblk - e.lblk());
    }

    Extent find(long lblk) {
        int i = indexAtOrBefore(lblk);
        if (i >= 0 && extents.get(i).end() > lblk) return extents.get(i);
        return null;
    }

    Extent next(long lblk) {
        int i = indexAtOrBefore(lblk) + 1;
        return i < extents.size() ? extents.get(i) : null;
    }

    private int indexAtOrBefore(long lblk) {
        int lo = 0, hi = extents.size() - 1, found = -1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (extents.get(mid).lblk() <= lblk) { found = mid; lo = mid + 1; } else hi = mid - 1;
        }
        return found;
    }

    void insert(long lblk, long pblk, long len, boolean unwritten) {
        int max = maxRun(unwritten);
        while (len > 0) {
            int n = (int) Math.min(len, max);
            insertOne(new Extent(lblk, n, pblk, unwritten));
            lblk += n; pblk += n; len -= n;
        }
    }

    private void insertOne(Extent e) {
        int i = indexAtOrBefore(e.lblk());
        if (i >= 0 && extents.get(i).end() > e.lblk()) throw new IllegalStateException("inode " + ino + ": logical block " + e.lblk() + " already mapped");
        if (i + 1 < extents.size() && extents.get(i + 1).lblk() < e.end()) throw new IllegalStateException("inode " + ino + ": range " + e.lblk() + "+" + e.len() + " overlaps a mapping");
        extents.add(i + 1, e);
        mergeAround(i + 1);
    }

    private void mergeAround(int i) {
        if (i + 1 < extents.size() && mergeable(extents.get(i), extents.get(i + 1))) {
            Extent a = extents.get(i), b = extents.remove(i + 1);
            extents.set(i, new Extent(a.lblk(), a.len() + b.len(), a.pblk(), a.unwritten()));
        }
        if (i > 0 && mergeable(extents.get(i - 1), extents.get(i))) {
            Extent a = extents.get(i - 1), b = extents.remove(i);
            extents.set(i - 1, new Extent(a.lblk(), a.len() + b.len(), a.pblk(), a.unwritten()));
        }
    }

    private boolean mergeable(Extent a, Extent b) {
        return a.unwritten() == b.unwritten() && a.end() == b.lblk() && a.pend() == b.pblk()
                && (long) a.len() + b.len() <= maxRun(a.unwritten());
    }

    /** Unmaps [from, to); returns the physical ranges unmapped (the caller frees them). */
    List<BlockAllocator.Range> remove(long from, long to) {
        List<BlockAllocator.Range> freed = new ArrayList<>();
        List<Extent> keep = new ArrayList<>(extents.size() + 1);
        for (Extent e : extents) {
            if (e.end() <= from || e.lblk() >= to) { keep.add(e); continue; }
            long cutStart = Math.max(from, e.lblk()), cutEnd = Math.min(to, e.end());
            if (e.lblk() < cutStart) keep.add(new Extent(e.lblk(), (int) (cutStart - e.lblk()), e.pblk(), e.unwritten()));
            freed.add(new BlockAllocator.Range(e.pblk() + (cutStart - e.lblk()), (int) (cutEnd - cutStart)));
            if (cutEnd < e.end()) keep.add(new Extent(cutEnd, (int) (e.end() - cutEnd), e.pblk() + (cutEnd - e.lblk()), e.unwritten()));
        }
        extents.clear();
        extents.addAll(keep);
        return freed;
    }

    /** Marks [from, to) written: unwritten extents there are split and converted, then merged. */
    void markWritten(long from, long to) {
        List<Extent> out = new ArrayList<>(extents.size() + 2);
        for (Extent e : extents) {
            if (!e.unwritten() || e.end() <= from || e.lblk() >= to) { out.add(e); continue; }
            long a = Math.max(from, e.lblk()), b = Math.min(to, e.end());
            if (e.lblk() < a) out.add(new Extent(e.lblk(), (int) (a - e.lblk()), e.pblk(), true));
            out.add(new Extent(a, (int) (b - a), e.pblk() + (a - e.lblk()), false));
            if (b < e.end()) out.add(new Extent(b, (int) (e.end() - b), e.pblk() + (b - e.lblk()), true));
        }
        extents.clear();
        for (Extent e : out) {
            extents.add(e);
            mergeAround(extents.size() - 1);
        }
    }

    long mappedBlocks() {
        long n = 0;
        for (Extent e : extents) n += e.len();
        return n;
    }
}
