package ext4j.ondisk;

/**
 * The wall-clock seconds stored in superblock times (last write, last check, creation). Linux
 * stamps them from its coarse clock, which is what time(2) and so e2fsck read: it lags the
 * precise clock Java reads by up to a timer tick (measured here: 6.5 ms into each second). A
 * second taken from the precise clock can therefore be one that time() has not reached yet, and
 * an `e2fsck -fn` run right after would report "Superblock last write time is in the future"
 * (a fresh-clone run of the suite here did, three times). Reading the clock a second in the past
 * gives a second time() has always reached, however late a busy machine updates its coarse
 * clock; superblock times are whole seconds of bookkeeping, and one second early harms nothing.
 */
public final class WallClock {
    /** Far more than a tick at any HZ Linux uses (100 Hz: 10 ms). */
    static final long LAG_MS = 1000;

    private WallClock() {}

    public static long seconds() {
        return Math.floorDiv(System.currentTimeMillis() - LAG_MS, 1000);
    }
}
