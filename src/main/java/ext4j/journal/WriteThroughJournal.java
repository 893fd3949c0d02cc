package ext4j.journal;

import ext4j.block.BufferCache;

import java.io.IOException;

/**
 * The handle API without a log: stopped handles leave their blocks dirty in the cache, and the
 * blocks are written to their home locations when more than maxDirty are dirty, at
 * {@link #commit} (fsync) and at close. Not crash-safe (a cut between two block writes can leave
 * them inconsistent; the superblock says "not clean" meanwhile so e2fsck checks it); used for
 * filesystems without has_journal and until the jbd2 log lands. File data is written before the
 * metadata that maps it, as in ordered mode. One handle runs at a time; a nested start joins it.
 */
public final class WriteThroughJournal implements Journal, Handle.HandleOwner {
    private final BufferCache cache;
    private final int maxDirty;
    private Handle running;
    private Thread owner;

    private final boolean undo;

    public WriteThroughJournal(BufferCache cache, int maxDirty) { this(cache, maxDirty, true); }

    /**
     * undo false: handles keep no before-images, so an abort cannot restore anything. Only for
     * filling a filesystem nobody else sees yet (mkfs -d), where any failure fails the whole mkfs.
     */
    public WriteThroughJournal(BufferCache cache, int maxDirty, boolean undo) {
        this.cache = cache;
        this.maxDirty = maxDirty;
        this.undo = undo;
        if (!undo) cache.editInPlace(true); // nothing to undo and nobody else reading: no private copies either
    }

    @Override
    public synchronized Handle start(String what, int credits) throws IOException {
        if (running != null && owner == Thread.currentThread()) {
            running.nest(credits);
            return running;
        }
        while (running != null) { // another thread's handle (the I/O completion worker): wait for it
            try { wait(); } catch (InterruptedException e) { Thread.currentThread().interrupt(); throw new java.io.InterruptedIOException(); }
        }
        running = new Handle(this, cache, what, credits, undo);
        owner = Thread.currentThread();
        return running;
    }

    @Override
    public synchronized void stopped(Handle h) throws IOException {
        running = null;
        owner = null;
        notifyAll();
        if (cache.dirtyCount() > maxDirty) writeAllHome();
        for (var sealer : commitListeners) sealer.get().run(); // no log: nothing to protect, freed blocks are reusable at once
    }

    private final java.util.List<java.util.function.Supplier<Runnable>> commitListeners = new java.util.concurrent.CopyOnWriteArrayList<>();
    @Override public void onCommit(java.util.function.Supplier<Runnable> sealer) { commitListeners.add(sealer); }

    @Override
    public synchronized void aborted(Handle h) {
        running = null;
        owner = null;
        notifyAll();
        for (Runnable r : abortListeners) r.run();
    }

    private final java.util.List<Runnable> abortListeners = new java.util.concurrent.CopyOnWriteArrayList<>();

    /** Called after a handle is undone, so holders of parsed views re-read them. */
    @Override public void onAbort(Runnable r) { abortListeners.add(r); }

    private final java.util.List<CloseWork> closeWork = new java.util.concurrent.CopyOnWriteArrayList<>();
    @Override public void onClose(CloseWork work) { closeWork.add(work); }

    /** The close work's handles only leave their blocks dirty. */
    private static final Handle.HandleOwner QUIET = new Handle.HandleOwner() {
        @Override public void stopped(Handle h) { }
        @Override public void aborted(Handle h) { }
    };

    /** The close work (the volume's counts into their blocks), then every dirty block home. */
    private void writeAllHome() throws IOException {
        CloseWork.runAll(closeWork, () -> new Handle(QUIET, cache, "write home", Integer.MAX_VALUE, undo));
        cache.writeAllHome();
    }

    @Override
    public synchronized void commit() throws IOException {
        writeAllHome();
        cache.device().flush();
    }

    @Override public void close() throws IOException { commit(); }
}
