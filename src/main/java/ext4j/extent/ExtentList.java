package ext4j.extent;

import ext4j.alloc.BlockAllocator;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A file's mapping as a sorted list of non-overlapping extents, edited in memory: insert (merging
 * contiguous neighbours of one kind up to a maximum length), range removal that cuts extents,
 * unwritten-to-written conversion. The on-disk formats (extent tree, indirect blocks) store it.
 *
 * <p>Every edit changes one window of the list; the list tracks the union of those windows since
 * {@link #resetChanges} as an unchanged head (entries before {@link #changedFrom}) and an
 * unchanged tail (the last {@link #unchangedTail} entries), so a store rewrites only what changed.
 */
final class ExtentList {
    private final List<Extent> extents;
    private final int maxLen, maxUnwrittenLen;
    private final long ino;
    private int changedFrom = Integer.MAX_VALUE, unchangedTail = Integer.MAX_VALUE;

    ExtentList(long ino, List<Extent> initial, int maxLen, int maxUnwrittenLen) {
        this.ino = ino;
        this.extents = new ArrayList<>(initial);
        this.maxLen = maxLen;
        this.maxUnwrittenLen = maxUnwrittenLen;
    }

    List<Extent> all() { return Collections.unmodifiableList(extents); }

    /** Whether anything changed since the last reset. */
    boolean changed() { return changedFrom != Integer.MAX_VALUE; }
    /** Entries before this index are as they were at the last reset. */
    int changedFrom() { return Math.min(changedFrom, extents.size()); }
    /** This many entries at the end are as they were at the last reset (shifted, not changed). */
    int unchangedTail() { return Math.min(unchangedTail, extents.size() - changedFrom()); }
    void resetChanges() { changedFrom = unchangedTail = Integer.MAX_VALUE; }

    /** Entries [lo, hi) of the list as it is now are the only ones an edit touched. */
    private void touched(int lo, int hi) {
        lo = Math.max(0, lo);
        hi = Math.min(extents.size(), Math.max(lo, hi));
        changedFrom = Math.min(changedFrom, lo);
        unchangedTail = Math.min(unchangedTail, extents.size() - hi);
    }
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
        touched(i, i + 2);
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

    /** Index of the first extent that ends after lblk. */
    private int firstEndingAfter(long lblk) {
        int i = indexAtOrBefore(lblk);
        return i >= 0 && extents.get(i).end() > lblk ? i : i + 1;
    }

    /** Unmaps [from, to); returns the physical ranges unmapped (the caller frees them). */
    List<BlockAllocator.Range> remove(long from, long to) {
        List<BlockAllocator.Range> freed = new ArrayList<>();
        int lo = firstEndingAfter(from), hi = lo;
        List<Extent> keep = new ArrayList<>(2);
        for (; hi < extents.size() && extents.get(hi).lblk() < to; hi++) {
            Extent e = extents.get(hi);
            long cutStart = Math.max(from, e.lblk()), cutEnd = Math.min(to, e.end());
            if (e.lblk() < cutStart) keep.add(new Extent(e.lblk(), (int) (cutStart - e.lblk()), e.pblk(), e.unwritten()));
            freed.add(new BlockAllocator.Range(e.pblk() + (cutStart - e.lblk()), (int) (cutEnd - cutStart)));
            if (cutEnd < e.end()) keep.add(new Extent(cutEnd, (int) (e.end() - cutEnd), e.pblk() + (cutEnd - e.lblk()), e.unwritten()));
        }
        if (hi == lo) return freed;
        extents.subList(lo, hi).clear();
        extents.addAll(lo, keep);
        touched(lo, lo + keep.size());
        return freed;
    }

    /** Marks [from, to) written: unwritten extents there are split and converted, then merged. */
    void markWritten(long from, long to) {
        int lo = firstEndingAfter(from), hi = lo;
        List<Extent> out = new ArrayList<>();
        boolean any = false;
        for (; hi < extents.size() && extents.get(hi).lblk() < to; hi++) {
            Extent e = extents.get(hi);
            if (!e.unwritten()) { out.add(e); continue; }
            any = true;
            long a = Math.max(from, e.lblk()), b = Math.min(to, e.end());
            if (e.lblk() < a) out.add(new Extent(e.lblk(), (int) (a - e.lblk()), e.pblk(), true));
            out.add(new Extent(a, (int) (b - a), e.pblk() + (a - e.lblk()), false));
            if (b < e.end()) out.add(new Extent(b, (int) (e.end() - b), e.pblk() + (b - e.lblk()), true));
        }
        if (!any) return;
        extents.subList(lo, hi).clear();
        extents.addAll(lo, out);
        // merge inside the window and with the neighbours on either side
        int end = lo + out.size();
        int start = Math.max(0, lo - 1);
        for (int i = start; i + 1 < Math.min(extents.size(), end + 1); ) {
            if (mergeable(extents.get(i), extents.get(i + 1))) {
                Extent a = extents.get(i), b = extents.remove(i + 1);
                extents.set(i, new Extent(a.lblk(), a.len() + b.len(), a.pblk(), a.unwritten()));
                end--;
            } else i++;
        }
        touched(start, end + 1);
    }

    long mappedBlocks() {
        long n = 0;
        for (Extent e : extents) n += e.len();
        return n;
    }
}
