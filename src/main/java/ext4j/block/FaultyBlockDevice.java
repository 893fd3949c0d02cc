package ext4j.block;

import ext4j.base.Errno;
import ext4j.base.FsException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A device that fails on purpose, for tests (issue 17): EIO on reads, writes or flushes at a
 * seeded rate or at the Nth operation of a kind, ENOSPC from the device (a thin-provisioned disk
 * that ran out), and writes that fail after part of their data landed: short (a prefix of whole
 * sectors) or torn (any subset of sectors). Every fault is reported: nothing here ever fails
 * silently. A failed read leaves junk in the caller's buffer, so a caller that uses it anyway
 * shows up. The plan lives in a {@link Faults} shared with the test, which counts, logs and can
 * stop the faults at any time (recovery then runs on a healthy device).
 *
 * <p>In main code rather than test code so that front ends opened by path (the NIO provider, via
 * {@code Options.withFaults}) can be run over it exactly as users open them.
 */
public final class FaultyBlockDevice implements BlockDevice {
    private final BlockDevice base;
    private final Faults faults;

    public FaultyBlockDevice(BlockDevice base, Faults faults) {
        this.base = base;
        this.faults = faults;
    }

    public Faults faults() { return faults; }

    @Override public long size() throws IOException { return base.size(); }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        Injected f = faults.next(Kind.READ, offset, dst.remaining());
        if (f == null) { base.read(offset, dst); return; }
        byte[] junk = new byte[dst.remaining()];
        faults.junk(junk);
        dst.put(junk);                                   // a caller must not trust dst after a failure
        throw f.exception(name());
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        int len = src.remaining();
        Injected f = faults.next(Kind.WRITE, offset, len);
        if (f == null) { base.write(offset, src); return; }
        int sector = faults.sectorSize();
        int sectors = (len + sector - 1) / sector;
        switch (f.effect()) {
            case SHORT -> {                               // the first sectors landed, then the device failed
                int n = faults.pick(sectors);
                if (n > 0) base.write(offset, src.duplicate().limit(src.position() + Math.min(len, n * sector)));
            }
            case TORN -> {                                // some sectors landed, in no order
                for (int s = 0; s < sectors; s++) {
                    if (!faults.coin()) continue;
                    int from = s * sector, to = Math.min(len, from + sector);
                    base.write(offset + from, src.duplicate().position(src.position() + from).limit(src.position() + to));
                }
            }
            default -> { }                                // EIO, ENOSPC: nothing written
        }
        src.position(src.limit());
        throw f.exception(name());
    }

    @Override
    public void flush() throws IOException {
        Injected f = faults.next(Kind.FLUSH, -1, 0);
        if (f != null) throw f.exception(name());
        base.flush();
    }

    @Override public boolean isReadOnly() { return base.isReadOnly(); }
    @Override public String name() { return base.name(); }
    @Override public void close() throws IOException { base.close(); }

    public enum Kind { READ, WRITE, FLUSH }

    /** How an operation fails. SHORT and TORN are write faults that leave part of the data behind, then report EIO. */
    public enum Effect { EIO, ENOSPC, SHORT, TORN }

    /** One injected fault: the operation (counting from 1 per kind), where, how. */
    public record Injected(Kind kind, long op, long offset, int length, Effect effect) {
        FsException exception(String device) {
            Errno e = effect == Effect.ENOSPC ? Errno.ENOSPC : Errno.EIO;
            String what = kind == Kind.FLUSH ? "flush" : kind.name().toLowerCase() + " of " + length + " bytes at byte " + offset;
            return new FsException(e, device + ": injected " + effect + " on " + what + " (" + kind.name().toLowerCase() + " #" + op + ")");
        }
    }

    /** Which byte ranges faults may hit (the journal only, data only...). */
    public interface Region { boolean test(long offset, int length); }

    /**
     * The plan: rates and one-shot triggers per kind, the effects failing writes take, an optional
     * region, and "sticky" (after the first fault every write and flush fails, a disk gone bad).
     * Thread-safe; all randomness comes from the seed.
     */
    public static final class Faults {
        private final long seed;
        private final Random rnd;                 // the bytes of torn writes and junk; whether an operation fails comes from draw()
        private final double[] rate = new double[3];
        private final long[] trigger = {-1, -1, -1};
        private final long[] count = new long[3], inRegion = new long[3];
        private Effect[] writeEffects = {Effect.EIO};
        private Region region = (o, l) -> true;
        private boolean on = true, sticky, dead;
        private int sector = 4096;
        private final List<Injected> injected = new ArrayList<>();

        public Faults(long seed) { this.seed = seed; this.rnd = new Random(seed); }

        /** A number in [0, 1) fixed by the seed, the kind and the operation's number: the same run fails the same operations whichever thread issues them first. */
        private double draw(int kind, long n, int salt) {
            return new java.util.SplittableRandom(seed ^ (kind * 0x9E3779B97F4A7C15L) ^ (n * 0xC2B2AE3D27D4EB4FL) ^ salt).nextDouble();
        }

        /** Each operation of this kind (in the region) fails with probability p. */
        public synchronized Faults rate(Kind k, double p) { rate[k.ordinal()] = p; return this; }

        public synchronized double rate(Kind k) { return rate[k.ordinal()]; }

        /** The nth operation of this kind in the region from now on (1 = the next one) fails. */
        public synchronized Faults at(Kind k, long n) { trigger[k.ordinal()] = inRegion[k.ordinal()] + n; return this; }

        /** How failing writes fail, one chosen at random per fault (default EIO). */
        public synchronized Faults writeEffects(Effect... e) { writeEffects = e.clone(); return this; }

        /** Only operations starting in the region may fail (flushes are not in any region; they fail only by rate or trigger). */
        public synchronized Faults region(Region r) { region = r; return this; }

        /** After the first fault, every later write and flush fails with EIO (reads go on). */
        public synchronized Faults sticky(boolean v) { sticky = v; return this; }

        /** The unit of a short or torn write (default 4096, as on 4Kn and 512e disks). */
        public synchronized Faults sectorSize(int bytes) { sector = bytes; return this; }

        /** No more faults from now on: the device is healthy (what recovery runs on). */
        public synchronized void stop() { on = false; dead = false; }

        /** No faults until {@link #start}, a dead disk staying dead (a test looking at the filesystem without disturbing it). */
        public synchronized void pause() { on = false; }

        /** Faults as planned again (a stopped plan resumes; triggers already passed stay passed). */
        public synchronized void start() { on = true; }

        public synchronized boolean stopped() { return !on; }

        /** Operations of a kind seen so far, failed or not. */
        public synchronized long count(Kind k) { return count[k.ordinal()]; }

        /** The faults injected so far, in order. */
        public synchronized List<Injected> injected() { return List.copyOf(injected); }

        synchronized Injected next(Kind k, long offset, int length) {
            int i = k.ordinal();
            long n = ++count[i];
            if (!on) return null;
            Effect e;
            if (dead && k != Kind.READ) e = Effect.EIO;
            else {
                if (k != Kind.FLUSH && !region.test(offset, length)) return null;
                long r = ++inRegion[i];
                boolean fire = r == trigger[i] || (rate[i] > 0 && draw(i, r, 1) < rate[i]);
                if (!fire) return null;
                e = k == Kind.WRITE ? writeEffects[(int) (draw(i, r, 2) * writeEffects.length)] : Effect.EIO;
                if (sticky) dead = true;
            }
            Injected f = new Injected(k, n, offset, length, e);
            injected.add(f);
            return f;
        }

        synchronized int sectorSize() { return sector; }
        synchronized int pick(int bound) { return rnd.nextInt(bound); }
        synchronized boolean coin() { return rnd.nextBoolean(); }
        synchronized void junk(byte[] b) { rnd.nextBytes(b); }
    }
}
