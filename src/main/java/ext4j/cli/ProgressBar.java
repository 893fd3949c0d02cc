package ext4j.cli;

import java.io.PrintWriter;

/**
 * A one-line progress display on stderr, for terminals only: appears after the first second
 * (small jobs stay quiet) and redraws at most ten times a second.
 */
final class ProgressBar {
    private final PrintWriter err;
    private final long total;
    private final boolean enabled;
    private final long start = System.nanoTime();
    private long done, files, lastDraw;
    private boolean drawn;

    ProgressBar(PrintWriter err, long totalBytes, boolean enabled) {
        this.err = err;
        this.total = totalBytes;
        this.enabled = enabled;
    }

    static boolean onTerminal() {
        var c = System.console();
        return c != null && c.isTerminal();
    }

    synchronized void advance(long bytes) { done += bytes; maybeDraw(); }
    synchronized void fileDone() { files++; maybeDraw(); }

    private void maybeDraw() {
        if (!enabled) return;
        long now = System.nanoTime();
        if (now - start < 1_000_000_000L || now - lastDraw < 100_000_000L) return;
        lastDraw = now;
        draw(now);
    }

    private void draw(long now) {
        double secs = (now - start) / 1e9;
        double mib = done / 1048576.0;
        String bar = "";
        if (total > 0) {
            int w = 30, fill = (int) Math.min(w, w * done / total);
            bar = "[" + "#".repeat(fill) + " ".repeat(w - fill) + "] " + (100 * done / total) + "% ";
        }
        err.printf("\r%s%.1f MiB, %d files, %.1f MiB/s   ", bar, mib, files, mib / Math.max(secs, 0.001));
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
