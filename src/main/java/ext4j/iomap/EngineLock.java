package ext4j.iomap;

import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The engine's lock, a "big reader" lock: a read-write lock striped by thread, so shared holders
 * (cached reads, queries) on different threads touch different lock words and do not contend,
 * while the exclusive side (every change) takes all stripes in order. Waiting for a change
 * ({@link #await}) releases the exclusive side entirely, as Condition.await would, and takes it
 * back afterwards; {@link #signalAll} wakes such waiters.
 */
final class EngineLock {
    private static final int STRIPES = 16;
    private final ReentrantReadWriteLock[] stripes = new ReentrantReadWriteLock[STRIPES];
    @SuppressWarnings("unused") private final Object[] spacers = new Object[STRIPES]; // keeps the stripes apart in memory
    private final Object signal = new Object();
    /** Each thread's stripe, handed out round robin (thread ids can share their low bits). */
    private static final java.util.concurrent.atomic.AtomicInteger NEXT = new java.util.concurrent.atomic.AtomicInteger();
    private static final ThreadLocal<Integer> STRIPE = ThreadLocal.withInitial(() -> NEXT.getAndIncrement() & (STRIPES - 1));
    private long changes;

    EngineLock() {
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new ReentrantReadWriteLock();
            spacers[i] = new long[16];
        }
    }

    /** The stripe a shared holder on this thread uses (pass it back to unlockShared). */
    int lockShared() {
        int s = STRIPE.get();
        stripes[s].readLock().lock();
        return s;
    }

    void unlockShared(int stripe) { stripes[stripe].readLock().unlock(); }

    void lock() { for (ReentrantReadWriteLock s : stripes) s.writeLock().lock(); }

    void unlock() { for (int i = STRIPES - 1; i >= 0; i--) stripes[i].writeLock().unlock(); }

    /**
     * Lets go of the exclusive side entirely (however deep it is held) so device I/O can run with
     * no engine lock; returns the depth to give back to {@link #reacquire}.
     */
    int releaseAll() {
        int holds = stripes[0].getWriteHoldCount();
        if (holds == 0) throw new IllegalMonitorStateException("release without the engine lock");
        for (int h = 0; h < holds; h++) unlock();
        return holds;
    }

    /** Takes the exclusive side back as deep as {@link #releaseAll} found it. */
    void reacquire(int holds) { for (int h = 0; h < holds; h++) lock(); }

    /** A number that changes at every signalAll (read it while holding the lock, then await it). */
    long changes() { synchronized (signal) { return changes; } }

    /** Wakes the threads waiting in await. */
    void signalAll() {
        synchronized (signal) {
            changes++;
            signal.notifyAll();
        }
    }

    /** With the exclusive side held (any depth): lets go of it until a signalAll after seen, then takes it back as deep as before. */
    void await(long seen) throws InterruptedException {
        int holds = releaseAll();
        try {
            synchronized (signal) {
                while (changes == seen) signal.wait();
            }
        } finally {
            reacquire(holds);
        }
    }
}
