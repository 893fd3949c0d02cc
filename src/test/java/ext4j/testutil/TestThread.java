package ext4j.testutil;

/**
 * A thread for a test whose failure the test sees: what its body throws is kept, and
 * {@link #joinAndCheck} rethrows it (wrapped in an AssertionError naming the thread) on the
 * test's thread. A plain Thread's exception only reaches the default handler's printout, so a
 * test whose background work failed would still pass.
 */
public final class TestThread extends Thread {
    public interface Body { void run() throws Exception; }

    private final Body body;
    private volatile Throwable failure;

    private TestThread(String name, Body body) {
        super(name);
        this.body = body;
    }

    /** Starts body on a new thread called name. */
    public static TestThread start(String name, Body body) {
        TestThread t = new TestThread(name, body);
        t.start();
        return t;
    }

    @Override public void run() {
        try {
            body.run();
        } catch (Throwable e) {
            failure = e;
        }
    }

    /** What the body threw, or null (so far). */
    public Throwable failure() { return failure; }

    /** Waits up to millis for the thread; fails if it is still running or if its body threw. */
    public void joinAndCheck(long millis) throws InterruptedException {
        join(millis);
        if (isAlive()) throw new AssertionError(getName() + " still running after " + millis + " ms");
        Throwable f = failure;
        if (f != null) throw new AssertionError(getName() + " failed: " + f, f);
    }
}
