package ext4j.journal;

import java.io.Closeable;
import java.io.IOException;

/**
 * Where every metadata change goes: {@code try (Handle h = journal.start("mkdir", credits)) {...}}.
 * A handle gets write access to metadata blocks; at {@link #commit} (or when the journal decides)
 * the changes of finished handles reach the device atomically. Callers never write metadata
 * blocks to the device themselves.
 */
public interface Journal extends Closeable {
    /** Starts a handle that may dirty up to credits metadata blocks (nested starts join the outer handle). */
    Handle start(String what, int credits) throws IOException;

    /**
     * Starts a handle that may run at the same time as other threads' shared handles (an exclusive
     * one, from {@link #start}, runs alone). Its body must be safe to run again: a shared handle
     * that asks for a block another handle edits gets {@link ext4j.block.BlockBusyException} and
     * is undone. Journals that run one handle at a time start an exclusive one.
     */
    default Handle startShared(String what, int credits) throws IOException { return start(what, credits); }

    /** Waits until the handle the thread runs now (if any) has stopped or been undone. */
    default void awaitHandleOf(Thread t) throws IOException {}

    /** Registers a callback run after a handle is aborted (views parsed from metadata are re-read). */
    void onAbort(Runnable r);

    /**
     * Registers a callback for each commit: called when a transaction is closed for commit (no
     * handle running), it returns the action to run once that commit is on disk (blocks freed in
     * the transaction become reusable then, not before).
     */
    void onCommit(java.util.function.Supplier<Runnable> sealer);

    /** Work done in a handle of its own as each transaction closes (see {@link #onClose}). */
    interface CloseWork {
        void run(Handle h) throws IOException;

        /** Runs each work in a handle of its own from handles, stopped after it, aborted if it fails. */
        static void runAll(java.util.List<CloseWork> works, java.util.function.Supplier<Handle> handles) throws IOException {
            for (CloseWork work : works) {
                Handle h = handles.get();
                try {
                    work.run(h);
                } catch (IOException | RuntimeException e) {
                    h.abort();
                    throw e;
                }
                h.stop();
            }
        }
    }

    /**
     * Registers work run as each transaction closes for commit, with no other handle running, in a
     * handle of its own that joins the closing transaction: the volume writes its in-memory free
     * counts into the superblock and group descriptors there, so handles never touch those blocks
     * for counts (Linux keeps them in percpu counters) and each commit carries the counts of
     * exactly the handles in it.
     */
    void onClose(CloseWork work);

    /** Makes every stopped handle's changes durable (fsync of metadata). */
    void commit() throws IOException;

    /**
     * Ordered data: the calling thread is about to write data into blocks a handle maps as written
     * (no unwritten state to hide them): commits by other threads wait until {@link #releaseCommits}
     * so no commit can map those blocks before their data is on its way.
     */
    default void holdCommits() {}

    /** Ends one {@link #holdCommits} of the calling thread. */
    default void releaseCommits() {}

    /** The number of the running transaction (counting from 1 at open, never wrapping); 0 without a log. */
    default long runningTransaction() { return 0; }

    /** Whether transaction number t (from {@link #runningTransaction}) is on disk. */
    default boolean isCommitted(long t) { return false; }

    /** Makes data written to the device so far durable, without a commit. */
    default void flush() throws IOException { commit(); }

    /** Aborts the journal with this cause: nothing more is committed (ordered data that could not be written). */
    default void abort(IOException cause) {}

    /** The failure that aborted the journal (a commit that could not be written), or null. */
    default IOException failure() { return null; }

    /** Commits and leaves the journal clean. */
    @Override void close() throws IOException;
}
