package ext4j.cli;

import java.io.PrintWriter;

/**
 * A one-line progress display on stderr, for terminals only (scripts and pipes see nothing):
 * appears after the first second (small jobs stay quiet) and redraws at most ten times a second.
 * Shows bytes, files, the rate and, once the total is known, the percentage done (of the bytes,
 * or of the files when the job has no bytes to copy).
 */
final class ProgressBar {
    private final PrintWriter err;
    private volatile long total, totalFiles;
    private final boolean enabled;
    private final long start = System.nanoTime();
    private long done, files, lastDraw;
    private boolean drawn;

    ProgressBar(PrintWriter err, long totalBytes, boolean enabled) {
        this.err = err;
        this.total = totalBytes;
        this.enabled = enabled;
    }

    /** Whether stderr, where the bar goes, is a terminal. */
    static boolean onTerminal() { return Posix.isatty(2); }

    /** The job's size, when it is known only after the start (a walk of the source running meanwhile). */
    void total(long bytes, long fileCount) { total = bytes; totalFiles = fileCount; }

    // A disabled bar (not a terminal) takes no lock: get -r's copy threads call these for every file.
    void advance(long bytes) {
        if (!enabled) return;
        synchronized (this) { done += bytes; maybeDraw(); }
    }

    void fileDone() {
        if (!enabled) return;
        synchronized (this) { files++; maybeDraw(); }
    }

    private void maybeDraw() {
        long now = System.nanoTime();
        if (now - start < 1_000_000_000L || now - lastDraw < 100_000_000L) return;
        lastDraw = now;
        draw(now);
    }

    private void draw(long now) {
        double secs = Math.max((now - start) / 1e9, 0.001);
        double mib = done / 1048576.0;
        long of = total, ofFiles = totalFiles;
        String bar = "";
        long pct = of > 0 ? 100 * done / of : ofFiles > 0 ? 100 * files / ofFiles : -1;
        if (pct >= 0) {
            int w = 30, fill = (int) Math.min(w, w * Math.min(pct, 100) / 100);
            bar = "[" + "#".repeat(fill) + " ".repeat(w - fill) + "] " + Math.min(pct, 100) + "% ";
        }
        err.printf("\r%s%.1f MiB, %d files, %.1f MiB/s, %.0f files/s   ", bar, mib, files, mib / secs, files / secs);
        err.flush();
        drawn = true;
    }

    synchronized void finish() {
        if (!drawn) return;
        draw(System.nanoTime());
        err.println();
        err.flush();
    }
}
