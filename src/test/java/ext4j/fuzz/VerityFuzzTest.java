package ext4j.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import ext4j.base.CorruptException;
import ext4j.verity.MerkleTree;
import ext4j.verity.MerkleVerifier;
import ext4j.verity.VerityDescriptor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * fs-verity: the descriptor from raw bytes (and, when it parses, a verifier over a fuzzed tree);
 * and a sound tree over fuzzed data with fuzzed bytes changed, which the verifier must refuse.
 */
class VerityFuzzTest {
    @FuzzTest(maxDuration = "10s")
    void descriptor(FuzzedDataProvider d) {
        long fileSize = d.consumeLong(0, 1L << 40);
        byte[] desc = Arrays.copyOf(d.consumeBytes(VerityDescriptor.SIZE), VerityDescriptor.SIZE);
        byte[] tree = d.consumeRemainingAsBytes();
        Contract.check("verity descriptor", () -> {
            VerityDescriptor v = VerityDescriptor.parse(ByteBuffer.wrap(desc).order(ByteOrder.LITTLE_ENDIAN), fileSize, "fuzz");
            v.digest();
            long size = MerkleVerifier.treeSize(v);
            if (size < 0) throw new AssertionError("negative tree size " + size + " for " + v);
            if (size <= tree.length) {
                MerkleVerifier mv = new MerkleVerifier(v, Arrays.copyOf(tree, (int) size), "fuzz");
                if (v.dataSize() > 0) mv.verify(0, new byte[mv.blockSize()], 0); // block 0 exists only in a non-empty file
            }
        });
    }

    @FuzzTest(maxDuration = "10s")
    void merkleTree(FuzzedDataProvider d) throws IOException {
        int log = d.consumeBoolean() ? 10 : 12, bs = 1 << log;
        byte[] salt = d.consumeBytes(d.consumeInt(0, 32));
        int flips = d.consumeInt(0, 4);
        long[] at = new long[flips];
        for (int i = 0; i < flips; i++) at[i] = d.consumeLong();
        byte[] data = d.consumeRemainingAsBytes();
        if (data.length > 64 * bs) data = Arrays.copyOf(data, 64 * bs);
        byte[] file = data;
        MerkleTree t = MerkleTree.build(file.length, bs, salt, (blk, dst) -> {
            int off = (int) (blk * bs);
            dst.put(file, off, Math.min(dst.remaining(), Math.max(0, file.length - off)));
        });
        VerityDescriptor v = new VerityDescriptor(log, salt, file.length, t.rootHash());
        byte[] tree = t.bytes();
        // the sound tree verifies every data block
        MerkleVerifier ok = new MerkleVerifier(v, tree, "sound");
        for (long b = 0; b * bs < file.length; b++) ok.verify(b, Arrays.copyOf(Arrays.copyOfRange(file, (int) (b * bs), (int) Math.min(file.length, (b + 1) * bs)), bs), 0);
        if (tree.length == 0 || flips == 0) return;
        byte[] bad = tree.clone();
        for (long a : at) bad[Math.floorMod(a, bad.length)] ^= (byte) (1 + Math.floorMod(a >>> 32, 255));
        if (Arrays.equals(bad, tree)) return;
        try {
            new MerkleVerifier(v, bad, "damaged");
            throw new AssertionError("a changed tree was accepted");
        } catch (CorruptException expected) {
            // named: the message says what failed
            if (expected.getMessage() == null || !expected.getMessage().contains("damaged")) throw new AssertionError("message does not name the file: " + expected.getMessage());
        }
    }
}
