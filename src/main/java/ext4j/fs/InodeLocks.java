package ext4j.fs;

import ext4j.base.LockOrder;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Per-inode read-write locks (Linux's i_rwsem): reads of a file, lookups and listings of a
 * directory share an inode's lock; writes, truncates and directory changes take it exclusively.
 * A lock exists while someone holds or waits for it (reference counted), so memory is bounded by
 * the operations in flight. The order rule, kept by the callers: the rename lock, then
 * directories (an ancestor before its descendants, else by inode number), then the other inodes
 * by number; {@link #write} takes a set of unrelated inodes by number. The lock check holds a set
 * to it: what {@link Held#andWrite}/{@link Held#andRead} add after the first group comes in
 * ascending inode number across calls (two operations that each add two victims in a different
 * order could deadlock).
 */
final class InodeLocks {
    private static final class Ref {
        final ReentrantReadWriteLock rw = new ReentrantReadWriteLock();
        int users;
    }

    private final ConcurrentHashMap<Long, Ref> refs = new ConcurrentHashMap<>();

    private Ref acquire(long ino) {
        return refs.compute(ino, (k, r) -> {
            if (r == null) r = new Ref();
            r.users++;
            return r;
        });
    }

    private void release(long ino) {
        refs.computeIfPresent(ino, (k, r) -> --r.users == 0 ? null : r);
    }

    /** Locks held by one operation, released together, last taken first (try-with-resources). */
    final class Held implements AutoCloseable {
        private final List<Long> inos = new ArrayList<>(4);
        private final List<Lock> locks = new ArrayList<>(4);
        /** Highest inode added after the first group (-1: none yet): later additions must be higher. */
        private long lastAdded = -1;

        private void take(long ino, boolean write) {
            if (inos.contains(ino)) return;            // one operation names the same inode twice (rename within a directory)
            // one operation takes all its inode locks in one Held, in order; a second set taken while one is held could invert it
            if (inos.isEmpty() && LockOrder.ENABLED && LockOrder.holds(LockOrder.Level.INODE))
                throw new IllegalStateException("lock order violated: taking inode " + ino + "'s lock while another operation's inode locks are held");
            Ref r = acquire(ino);
            Lock l = write ? r.rw.writeLock() : r.rw.readLock();
            try {
                LockOrder.enter(LockOrder.Level.INODE);
                l.lock();
            } catch (RuntimeException | Error e) {
                release(ino);
                throw e;
            }
            inos.add(ino);
            locks.add(l);
        }

        /** Also takes these inodes exclusively, by number, after everything held so far. */
        Held andWrite(long... more) {
            long[] s = more.clone();
            java.util.Arrays.sort(s);
            for (long ino : s) add(ino, true);
            return this;
        }

        /** Also takes this inode shared, after everything held so far. */
        Held andRead(long ino) { add(ino, false); return this; }

        private void add(long ino, boolean write) {
            if (LockOrder.ENABLED && ino < lastAdded && !inos.contains(ino))
                throw new IllegalStateException("lock order violated: inode " + ino + " added to a lock set after inode " + lastAdded + " (by number, ascending)");
            take(ino, write);
            lastAdded = Math.max(lastAdded, ino);
        }

        @Override public void close() {
            for (int i = locks.size() - 1; i >= 0; i--) {
                locks.get(i).unlock();
                LockOrder.exit(LockOrder.Level.INODE);
                release(inos.get(i));
            }
            locks.clear();
            inos.clear();
        }
    }

    /** The shared lock of one inode. */
    Held read(long ino) {
        Held h = new Held();
        h.take(ino, false);
        return h;
    }

    /** Exclusive locks of the given inodes, taken by number (the set's first group). */
    Held write(long... inos) {
        Held h = new Held();
        long[] s = inos.clone();
        java.util.Arrays.sort(s);
        for (long ino : s) h.take(ino, true);
        return h;
    }

    /** Exclusive locks in exactly the given order (directories ordered by the caller). */
    Held writeInOrder(long... inos) {
        Held h = new Held();
        for (long ino : inos) h.take(ino, true);
        return h;
    }

    /** Inodes with a lock object now (tests: bounded by the operations in flight). */
    int live() { return refs.size(); }
}
