package ext4j.journal;

import ext4j.block.BufferCache;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * One atomic metadata update (jbd2's handle). Blocks are changed only through
 * {@link #getWriteAccess}/{@link #getCreateAccess}; a block freed inside the handle is
 * {@link #forget forgotten} so a later reuse as file data is not overwritten by stale metadata.
 */
public final class Handle implements AutoCloseable {
    private final HandleOwner owner;
    private final BufferCache cache;
    private final String what;
    private int credits;
    private int depth = 1;
    private final Set<Long> touched = new HashSet<>();
    /**
     * What an abort must do for each block, from the first time the handle touched it: UNCHANGED
     * (the cache's copy-on-write kept its published bytes as they were: nothing), null (it was not
     * cached and the handle made it as zeros: forget it), or the published bytes to put back (the
     * handle freed it, which dropped it from the cache).
     */
    private final Map<Long, byte[]> before = new HashMap<>();
    private static final byte[] UNCHANGED = new byte[0];
    private boolean aborted;
    /** Changes this handle made outside the cache (in-memory counters), undone by an abort, last first. */
    private java.util.ArrayList<Runnable> undoActions;

    /** The journal side of a handle: told when the outermost stop happens, or that the handle was undone. */
    interface HandleOwner {
        void stopped(Handle h) throws IOException;
        void aborted(Handle h);
        /** A metadata block was freed inside the handle (the log must not replay older copies of it). */
        default void revoke(long block) {}
    }

    private final boolean undo;
    /** The thread that started the handle: only it edits through it. */
    final Thread thread = Thread.currentThread();

    Handle(HandleOwner owner, BufferCache cache, String what, int credits) { this(owner, cache, what, credits, true); }

    /** undo false: no before-images (see WriteThroughJournal); abort then fails loudly instead of restoring. */
    Handle(HandleOwner owner, BufferCache cache, String what, int credits, boolean undo) {
        this.owner = owner;
        this.cache = cache;
        this.what = what;
        this.credits = credits;
        this.undo = undo;
    }

    void nest(int moreCredits) { depth++; credits += moreCredits; }

    /**
     * Records how to undo a change this handle made in memory rather than in a block (the volume's
     * free counters, for instance): an abort runs these, last first, before the journal is told.
     */
    public void onAbort(Runnable undo) {
        if (undoActions == null) undoActions = new java.util.ArrayList<>();
        undoActions.add(undo);
    }

    public String what() { return what; }

    /** Whether a nested start joined this handle (so an outer level will stop or abort it). */
    public boolean isNested() { return depth > 1; }

    int credits() { return credits; }

    /** Writable little-endian buffer of an existing metadata block; the block is dirty from now on. */
    public ByteBuffer getWriteAccess(long block) throws IOException {
        charge(block);
        if (undo) before.putIfAbsent(block, UNCHANGED);     // the handle edits a private copy; an abort drops it
        return cache.writable(block, false);
    }

    /**
     * Write access shared with other handles that change other bits of the same block (bitmaps,
     * inode tables; see {@link BufferCache#writableMerged}): the handle's stop publishes only the
     * bits it changed. The caller must hold what makes its bits its own (an allocation claim, an
     * inode it changes).
     */
    public ByteBuffer getMergedAccess(long block) throws IOException {
        charge(block);
        if (undo) before.putIfAbsent(block, UNCHANGED);
        return cache.writableMerged(block);
    }

    /** Runs after the handle's blocks are published at its stop (an allocation claim is let go then). */
    public void onStop(Runnable r) {
        if (stopActions == null) stopActions = new java.util.ArrayList<>();
        stopActions.add(r);
    }

    private java.util.ArrayList<Runnable> stopActions;

    /** A zero-filled writable buffer for a newly allocated metadata block (not read from disk). */
    public ByteBuffer getCreateAccess(long block) throws IOException {
        charge(block);
        if (undo && !before.containsKey(block)) before.put(block, cache.contains(block) ? UNCHANGED : null);
        return cache.writable(block, true);
    }

    /**
     * The block was freed: drop it from the cache and from this handle's changes; the journal revokes
     * it when the handle stops (an aborted handle revokes nothing: the free is undone).
     */
    public void forget(long block) {
        if (undo && (!before.containsKey(block) || before.get(block) == UNCHANGED))
            before.put(block, cache.publishedCopy(block));  // an abort puts it back (null: it was not cached)
        cache.forget(block);
        touched.remove(block);
        forgotten.add(block);
    }

    private final Set<Long> forgotten = new HashSet<>();

    /** Blocks this handle got write access to. */
    java.util.Set<Long> touched() { return touched; }

    /** Asks for more credits when an operation turns out bigger than estimated. */
    public void extend(int more) { credits += more; }

    private void charge(long block) {
        if (touched.add(block) && touched.size() > credits)
            throw new IllegalStateException("handle '" + what + "' dirtied " + touched.size() + " blocks but reserved " + credits + " credits");
    }

    public int blocksTouched() { return touched.size(); }

    /** Ends the handle; the outermost stop hands its changes to the journal. */
    public void stop() throws IOException {
        if (aborted) throw new IllegalStateException("handle '" + what + "' was aborted");
        if (--depth == 0) {
            cache.publish();                    // before the journal has it: a commit copies published bytes
            if (stopActions != null) for (Runnable r : stopActions) r.run();
            for (long b : forgotten) owner.revoke(b);
            owner.stopped(this);
        }
    }

    /**
     * Undoes every change made through this handle (all nesting levels) and ends it: the failed
     * operation leaves the filesystem exactly as it was. Callers then re-read any views they hold.
     */
    public void abort() {
        if (aborted) return;
        aborted = true;
        cache.discard();
        if (undoActions != null) for (int i = undoActions.size() - 1; i >= 0; i--) undoActions.get(i).run();
        if (!undo) { // nothing to restore: the caller's operation fails and the filesystem being filled is given up
            depth = 0;
            owner.aborted(this);
            return;
        }
        for (Map.Entry<Long, byte[]> e : before.entrySet()) {
            if (e.getValue() == UNCHANGED) continue;
            if (e.getValue() == null) cache.forget(e.getKey());
            else cache.restore(e.getKey(), e.getValue());
        }
        depth = 0;
        owner.aborted(this);
    }

    public boolean isAborted() { return aborted; }

    @Override public void close() throws IOException { if (!aborted) stop(); }
}
