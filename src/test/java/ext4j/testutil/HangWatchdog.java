package ext4j.testutil;

import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.InvocationInterceptor;
import org.junit.jupiter.api.extension.ReflectiveInvocationContext;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Method;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The backstop behind JUnit's per-test timeout (junit.jupiter.execution.timeout.default, set by
 * the Surefire configuration). JUnit interrupts a test that runs past it, which ends a test blocked
 * in a sleep, a join, a Future or a Condition; a test stuck where an interrupt does not reach
 * (a ReentrantLock.lock deadlock, a blocking native read) would still hold the run until CI's
 * limit. So: a test method still running two minutes past its timeout gets every thread's stack
 * written to target/hang-CLASS-METHOD.txt and to stderr, and the test JVM is halted, which fails
 * the build (Surefire reports the fork's death) instead of eating the rest of CI's time.
 * Registered for every test through autodetection, as {@link Seeds.OnFailure} is.
 */
public final class HangWatchdog implements InvocationInterceptor {
    /** How long past its timeout a test may take to answer the interrupt (-Dext4j.hangGraceSeconds, 120). */
    static final long GRACE_SECONDS = Long.getLong("ext4j.hangGraceSeconds", 120);
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "hang-watchdog");
        t.setDaemon(true);
        return t;
    });
    private static final Pattern DURATION = Pattern.compile("\\s*(\\d+)\\s*(ns|μs|ms|s|m|h|d)?\\s*", Pattern.CASE_INSENSITIVE);

    @Override public void interceptTestMethod(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call, ExtensionContext context) throws Throwable {
        watched(invocation, context);
    }

    @Override public void interceptTestTemplateMethod(Invocation<Void> invocation, ReflectiveInvocationContext<Method> call, ExtensionContext context) throws Throwable {
        watched(invocation, context);
    }

    private static void watched(Invocation<Void> invocation, ExtensionContext context) throws Throwable {
        long timeoutNanos = context.getConfigurationParameter("junit.jupiter.execution.timeout.default").map(HangWatchdog::nanos).orElse(-1L);
        if (timeoutNanos < 0) {
            invocation.proceed();
            return;
        }
        String test = context.getRequiredTestClass().getSimpleName() + "-" + context.getRequiredTestMethod().getName();
        Thread runner = Thread.currentThread();
        ScheduledFuture<?> alarm = TIMER.schedule(() -> halt(test, runner, timeoutNanos),
                timeoutNanos + TimeUnit.SECONDS.toNanos(GRACE_SECONDS), TimeUnit.NANOSECONDS);
        try {
            invocation.proceed();
        } finally {
            alarm.cancel(false);
        }
    }

    /** A JUnit duration ("10 m", "90 s", "3 h"), or -1 if it is not one. */
    static long nanos(String text) {
        Matcher m = DURATION.matcher(text);
        if (!m.matches()) return -1;
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2).toLowerCase();
        TimeUnit u = switch (unit) {
            case "ns" -> TimeUnit.NANOSECONDS;
            case "μs" -> TimeUnit.MICROSECONDS;
            case "ms" -> TimeUnit.MILLISECONDS;
            case "m" -> TimeUnit.MINUTES;
            case "h" -> TimeUnit.HOURS;
            case "d" -> TimeUnit.DAYS;
            default -> TimeUnit.SECONDS;
        };
        return u.toNanos(n);
    }

    private static void halt(String test, Thread runner, long timeoutNanos) {
        StringWriter text = new StringWriter();
        PrintWriter out = new PrintWriter(text);
        out.println("HangWatchdog: " + test + " is still running " + GRACE_SECONDS + " s past its timeout of "
                + TimeUnit.NANOSECONDS.toSeconds(timeoutNanos) + " s (an interrupt did not end it): halting the test JVM");
        out.println("the test's thread, " + runner.getName() + ", then every thread:");
        for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
            Thread t = e.getKey();
            out.println();
            out.println("\"" + t.getName() + "\"" + (t.isDaemon() ? " daemon" : "") + " " + t.getState() + (t == runner ? "   <- the test" : ""));
            for (StackTraceElement f : e.getValue()) out.println("    at " + f);
        }
        out.flush();
        try {
            Path file = Path.of("target", "hang-" + test + ".txt");
            Files.createDirectories(file.getParent());
            Files.writeString(file, text.toString());
            System.err.println("HangWatchdog: thread dump in " + file.toAbsolutePath());
        } catch (IOException | RuntimeException e) {
            System.err.println("HangWatchdog: could not write the thread dump: " + e);
        }
        System.err.println(text);
        System.err.flush();
        System.out.flush();
        try { Thread.sleep(1000); } catch (InterruptedException ignored) { }
        Runtime.getRuntime().halt(86);
    }
}
