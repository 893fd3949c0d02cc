package ext4j.mkfs;

import ext4j.testutil.Seeds;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.BitSet;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** mkfs's run set of used blocks against a BitSet model: random range marks, every query compared. */
class UsedBlocksTest {
    @Test
    void agreesWithABitSet() {
        Random rnd = new Random(Seeds.seed("UsedBlocksTest"));
        for (int round = 0; round < 200; round++) {
            int size = 1 + rnd.nextInt(5000);
            UsedBlocks u = new UsedBlocks();
            BitSet model = new BitSet();
            for (int op = 0; op < 40; op++) {
                int a = rnd.nextInt(size), b = Math.min(size, a + rnd.nextInt(rnd.nextBoolean() ? 8 : 600));
                u.set(a, b);
                model.set(a, b);
                assertEquals(model.cardinality(), u.cardinality(), "cardinality after set " + a + ".." + b);
            }
            for (int q = 0; q < 100; q++) {
                int a = rnd.nextInt(size), b = a + rnd.nextInt(size - a + 1);
                assertEquals(model.get(a), u.get(a), "get " + a);
                int nu = model.nextSetBit(a);
                assertEquals(nu, u.nextUsed(a), "nextUsed " + a);
                assertEquals(model.nextClearBit(a), u.nextFree(a), "nextFree " + a);
                assertEquals(nu >= 0 && nu < b ? nu : -1, u.firstUsedIn(a, b), "firstUsedIn " + a + ".." + b);
                assertEquals(model.get(a, b).cardinality(), u.count(a, b), "count " + a + ".." + b);
                byte[] want = Arrays.copyOf(model.get(a, b).toByteArray(), (b - a + 7) / 8), got = new byte[(b - a + 7) / 8];
                u.fill(got, a, b);
                assertArrayEquals(want, got, "fill " + a + ".." + b);
            }
        }
    }
}
