package ext4j.fuzz;

import ext4j.base.CorruptException;
import ext4j.base.FsException;
import ext4j.ondisk.UnsupportedFeatureException;

import java.io.IOException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * What every fuzz target checks: bad input ends in a CorruptException, an FsException with an errno,
 * an UnsupportedFeatureException or another IOException with a message, within a time bound;
 * anything else (a RuntimeException, an Error, a hang) is a finding.
 */
public final class Contract {
    /** Per input; a parser loop or a walk over a 4 MiB image takes milliseconds. */
    static final long SECONDS = Long.getLong("ext4j.fuzz.inputSeconds", 10);
    private static ExecutorService worker = newWorker();

    private Contract() {}

    public interface Body { void run() throws Exception; }

    private static ExecutorService newWorker() {
        return Executors.newSingleThreadExecutor(r -> { Thread t = new Thread(r, "fuzz-input"); t.setDaemon(true); return t; });
    }

    /** Runs body in a worker thread (so a hang is seen); returns the allowed IOException it ended with, or null. */
    public static IOException check(String what, Body body) {
        Future<IOException> f = worker.submit(() -> {
            try {
                body.run();
                return null;
            } catch (IOException e) {
                return allowed(what, e);
            }
        });
        try {
            return f.get(SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            worker = newWorker(); // the hung thread keeps the old one
            throw new AssertionError(what + ": no answer within " + SECONDS + " s (hang?)");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof AssertionError a) throw a;
            throw new AssertionError(what + ": " + c, c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(what + ": interrupted", e);
        }
    }

    static IOException allowed(String what, IOException e) {
        String m = e.getMessage();
        if (m == null || m.isBlank()) throw new AssertionError(what + ": " + e.getClass().getName() + " without a message", e);
        // a RuntimeException wrapped on its way out (writeback completion does so) is still a bug
        for (Throwable c = e.getCause(); c != null; c = c.getCause())
            if (c instanceof RuntimeException || c instanceof Error) throw new AssertionError(what + ": " + e + " wraps " + c, c);
        if (e instanceof FsException fe && fe.errno() == null) throw new AssertionError(what + ": FsException without an errno", e);
        if (e instanceof CorruptException || e instanceof FsException || e instanceof UnsupportedFeatureException) return e;
        return e; // another IOException with a message: allowed too
    }
}
