package ext4j.testutil;

import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Seeds of randomized tests, one pattern for all: {@code -Dext4j.seed=N} fixes the seed, else a
 * fresh one is drawn; either way a line that reruns it is printed, and when the test fails the same
 * line is printed again and attached to the failure (as a suppressed exception, so the failure's
 * type and message stay what the test threw). The failure half is {@link OnFailure}, a JUnit
 * extension registered for every test through autodetection (META-INF/services in the test
 * resources, enabled in the Surefire configuration).
 */
public final class Seeds {
    private Seeds() {}

    /** The property that fixes every randomized test's seed. */
    public static final String PROPERTY = "ext4j.seed";

    private record Drawn(String what, long seed) {}

    /** What each test thread's current test drew, for the failure line. */
    private static final ThreadLocal<List<Drawn>> DRAWN = ThreadLocal.withInitial(ArrayList::new);

    /**
     * The seed for a randomized run: -Dext4j.seed if set, else a fresh one. Prints
     * "{@code what seed=N (rerun: ./run-tests -Dtest=Class -Dext4j.seed=N)}"; what names the run
     * (the test and, where a test runs several, which one).
     */
    public static long seed(String what) { return derived(what, draw()); }

    /** Whether -Dext4j.seed is set (a test that runs several random rounds then runs one). */
    public static boolean fixed() { return Long.getLong(PROPERTY) != null; }

    /**
     * -Dext4j.seed if set, else a fresh seed, neither printed nor recorded: for a test that derives
     * the seeds of several rounds from it and gives each to {@link #derived}.
     */
    public static long draw() {
        Long fixed = Long.getLong(PROPERTY);
        return fixed != null ? fixed : System.nanoTime() * 0x9E3779B97F4A7C15L >>> 1;
    }

    /** Prints and records a seed the test derived (a round's), as {@link #seed} does; returns it. */
    public static long derived(String what, long seed) {
        DRAWN.get().add(new Drawn(what, seed));
        System.out.println(what + " seed=" + seed + " (rerun: " + rerun(seed) + ")");
        return seed;
    }

    /** A Random from {@link #seed(String)}. */
    public static Random random(String what) { return new Random(seed(what)); }

    /** The command that reruns the calling test class with this seed. */
    public static String rerun(long seed) { return rerun(testClass(), seed); }

    private static String rerun(String test, long seed) { return "./run-tests -Dtest=" + test + " -D" + PROPERTY + "=" + seed; }

    private static String testClass() {
        for (StackTraceElement e : new Throwable().getStackTrace()) {
            String c = e.getClassName();
            if (c.equals(Seeds.class.getName())) continue;
            if (c.startsWith("ext4j.")) {
                int dollar = c.indexOf('$');
                String top = dollar < 0 ? c : c.substring(0, dollar);
                return top.substring(top.lastIndexOf('.') + 1);
            }
        }
        return "THE_TEST";
    }

    /** Prints and attaches the rerun lines of the seeds a failed test drew. */
    public static final class OnFailure implements BeforeEachCallback, TestExecutionExceptionHandler {
        @Override public void beforeEach(ExtensionContext context) { DRAWN.get().clear(); }

        @Override public void handleTestExecutionException(ExtensionContext context, Throwable failure) throws Throwable {
            List<Drawn> drawn = DRAWN.get();
            if (!drawn.isEmpty() && !(failure instanceof org.opentest4j.TestAbortedException)) {
                String test = context.getRequiredTestClass().getSimpleName() + "#" + context.getRequiredTestMethod().getName();
                StringBuilder lines = new StringBuilder(test + " failed; rerun it with the seed of its randomized run");
                for (Drawn d : drawn) lines.append("\n  ").append(d.what()).append(" seed=").append(d.seed()).append(": ").append(rerun(test, d.seed()));
                System.out.println(lines);
                failure.addSuppressed(new Rerun(lines.toString()));
            }
            throw failure;
        }
    }

    /** The rerun lines, attached to a failure (no stack trace of its own). */
    static final class Rerun extends Throwable {
        Rerun(String lines) { super(lines, null, false, false); }
    }
}
