package ext4j.base;

/**
 * The lock order of the whole filesystem, checked per thread when {@code -Dext4j.lockcheck=true}
 * (the test suite turns it on; off, every check is one branch on a constant):
 * <ol>
 *   <li>RENAME: the cross-directory rename lock (Linux's s_vfs_rename_mutex);</li>
 *   <li>INODE: per-inode read-write locks (i_rwsem), several at once in the core's order
 *       (directories, an ancestor first, then other inodes by number);</li>
 *   <li>WRITER: the filesystem's writer lock, one metadata operation at a time;</li>
 *   <li>FOLIO: the buffered I/O engine's lock over folios and file state;</li>
 *   <li>HANDLE: a running journal handle;</li>
 *   <li>EXTENT: a file's extent status.</li>
 * </ol>
 * A thread may take a level only while it holds nothing later in the order (taking one it already
 * holds again is fine: the locks are reentrant), and it never waits for writeback completions or a
 * journal commit while it holds a handle or an extent lock: the completion worker and the commit
 * need handles themselves, so such a wait could never end.
 */
public final class LockOrder {
    public enum Level { RENAME, INODE, WRITER, FOLIO, HANDLE, EXTENT }

    public static final boolean ENABLED = Boolean.getBoolean("ext4j.lockcheck");
    private static final ThreadLocal<int[]> HELD = ThreadLocal.withInitial(() -> new int[Level.values().length]);

    private LockOrder() {}

    /** The calling thread takes level l (throws if it holds a later level and not l itself). */
    public static void enter(Level l) {
        if (!ENABLED) return;
        int[] held = HELD.get();
        if (held[l.ordinal()] == 0)
            for (Level later : Level.values())
                if (later.ordinal() > l.ordinal() && held[later.ordinal()] > 0)
                    throw new IllegalStateException("lock order violated: taking " + l + " while holding " + later
                            + " (the order is RENAME -> INODE -> WRITER -> FOLIO -> HANDLE -> EXTENT)");
        held[l.ordinal()]++;
    }

    /** The calling thread lets go of one hold of level l. */
    public static void exit(Level l) {
        if (!ENABLED) return;
        int[] held = HELD.get();
        if (held[l.ordinal()] == 0) throw new IllegalStateException("lock order: " + l + " released but not held");
        held[l.ordinal()]--;
    }

    /** Before waiting for what (writeback, a commit): the calling thread must hold no handle and no extent lock. */
    public static void beforeWait(String what) {
        if (!ENABLED) return;
        int[] held = HELD.get();
        for (Level l : new Level[] {Level.HANDLE, Level.EXTENT})
            if (held[l.ordinal()] > 0) throw new IllegalStateException("lock order violated: waiting for " + what + " while holding " + l);
    }

    /** Whether the calling thread holds level l (for tests). */
    public static boolean holds(Level l) { return HELD.get()[l.ordinal()] > 0; }
}
