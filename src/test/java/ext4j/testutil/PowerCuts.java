package ext4j.testutil;

import ext4j.block.RecordingBlockDevice;
import ext4j.block.RecordingBlockDevice.CutMode;
import ext4j.fs.Ext4FileSystem;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** The power-cut harness's common step: the image as a cut after device op n left it, recovered by ext4j, e2fsck -fn clean. */
public final class PowerCuts {
    private PowerCuts() {}

    /** Writes the cut state into cut, recovers it and checks e2fsck -fn; returns the label that names this cut in failures. */
    public static String recoverClean(RecordingBlockDevice dev, int n, int total, CutMode mode, long seed, Path cut) throws Exception {
        Files.write(cut, dev.stateAt(n, mode, new Random(seed ^ n)));
        String where = "seed=" + seed + " cut after device op " + n + " of " + total + " (" + mode + ")";
        Ext4FileSystem.recover(cut);
        Tools.Result fsck = Tools.run("e2fsck", "-fn", cut.toString());
        assertEquals(0, fsck.exit(), where + ": e2fsck -fn after recovery:\n" + fsck.out());
        assertNull(Tools.fsckFinding(fsck.out()), where + ": e2fsck -fn after recovery:\n" + fsck.out());
        return where;
    }
}
