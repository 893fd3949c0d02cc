package ext4j.ondisk;

import org.junit.jupiter.api.Test;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Superblock times never run ahead of time(2), the clock e2fsck compares them with: sampled across
 * three second boundaries, where the precise clock is already in the next second for a few ms
 * while time() is not, WallClock.seconds() is never past time() and at most two seconds behind.
 */
class WallClockTest {
    private static final MethodHandle TIME = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("time").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));

    private static long libcTime() throws Throwable { return (long) TIME.invokeExact(MemorySegment.NULL); }

    @Test
    void superblockSecondsNeverPassTimeOfDay() throws Throwable {
        long end = System.nanoTime() + 3_100_000_000L, samples = 0, nearBoundary = 0;
        while (System.nanoTime() < end) {
            long ours = WallClock.seconds(), theirs = libcTime();
            assertTrue(ours <= theirs, "WallClock.seconds() " + ours + " is past time() " + theirs);
            assertTrue(ours >= theirs - 2, "WallClock.seconds() " + ours + " lags time() " + theirs + " by more than two seconds");
            samples++;
            if (System.currentTimeMillis() % 1000 < 10) nearBoundary++;
        }
        System.out.println("WallClockTest: " + samples + " samples, " + nearBoundary + " within 10 ms after a second boundary");
        assertTrue(nearBoundary > 0, "no sample near a second boundary");
    }
}
