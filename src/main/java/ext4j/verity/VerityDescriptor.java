package ext4j.verity;

import ext4j.base.CorruptException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;

/**
 * The fs-verity descriptor (Documentation/filesystems/fsverity.rst): 256 bytes, little-endian.
 * <pre>
 *   0 u8 version (1)        1 u8 hash_algorithm (1 = SHA-256)   2 u8 log_blocksize   3 u8 salt_size
 *   4 le32 sig_size          8 le64 data_size   16 u8 root_hash[64]   80 u8 salt[32]   112 reserved[144]
 * </pre>
 * The file digest is SHA-256 of these 256 bytes with sig_size zero (a signature blob may follow the
 * descriptor on disk; it is not part of the digest).
 */
public record VerityDescriptor(int logBlockSize, byte[] salt, long dataSize, byte[] rootHash) {
    public static final int SIZE = 256, VERSION = 1, SHA256 = 1;

    public VerityDescriptor {
        if (salt.length > 32) throw new IllegalArgumentException("salt of " + salt.length + " bytes: at most 32");
        if (rootHash.length != MerkleTree.HASH_SIZE) throw new IllegalArgumentException("root hash of " + rootHash.length + " bytes");
    }

    public int blockSize() { return 1 << logBlockSize; }

    /** The 256 bytes, sig_size zero. */
    public byte[] encode() {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0, (byte) VERSION).put(1, (byte) SHA256).put(2, (byte) logBlockSize).put(3, (byte) salt.length);
        b.putInt(4, 0);
        b.putLong(8, dataSize);
        b.put(16, rootHash);
        b.put(80, salt);
        return b.array();
    }

    /** The fs-verity file digest: what `fsverity digest` and `fsverity measure` print. */
    public byte[] digest() {
        try {
            return MessageDigest.getInstance("SHA-256").digest(encode());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** "sha256:" and the digest in hex, as fsverity-utils prints it. */
    public String digestString() { return "sha256:" + java.util.HexFormat.of().formatHex(digest()); }

    /**
     * Reads a descriptor (at least 256 bytes from b's position), checked: version, algorithm, block
     * size, salt size, reserved bytes, and the data size against what the file holds (fileSize).
     */
    public static VerityDescriptor parse(ByteBuffer src, long fileSize, String where) throws CorruptException {
        if (src.remaining() < SIZE) throw new CorruptException(where + ": verity descriptor truncated (" + src.remaining() + " of " + SIZE + " bytes)");
        ByteBuffer b = src.slice(src.position(), SIZE).order(ByteOrder.LITTLE_ENDIAN);
        int version = b.get(0) & 0xFF, alg = b.get(1) & 0xFF, log = b.get(2) & 0xFF, saltSize = b.get(3) & 0xFF;
        if (version != VERSION) throw new CorruptException(where + ": verity descriptor version " + version + ", expected 1");
        if (alg != SHA256) throw new CorruptException(where + ": verity hash algorithm " + alg + " is not supported (only 1, SHA-256)");
        if (log < 10 || log > 16) throw new CorruptException(where + ": verity block size 2^" + log + " is out of range (1 KiB to 64 KiB)");
        if (saltSize > 32) throw new CorruptException(where + ": verity salt size " + saltSize + " exceeds 32");
        long dataSize = b.getLong(8);
        if (dataSize != fileSize) throw new CorruptException(where + ": verity descriptor covers " + dataSize + " bytes, the file has " + fileSize);
        byte[] root = new byte[64];
        b.get(16, root);
        for (int i = MerkleTree.HASH_SIZE; i < 64; i++)
            if (root[i] != 0) throw new CorruptException(where + ": verity root hash has bytes past SHA-256's 32");
        byte[] salt = new byte[32];
        b.get(80, salt);
        for (int i = saltSize; i < 32; i++) if (salt[i] != 0) throw new CorruptException(where + ": verity salt has bytes past its size " + saltSize);
        for (int i = 112; i < SIZE; i++) if (b.get(i) != 0) throw new CorruptException(where + ": verity descriptor reserved byte " + i + " is not zero");
        return new VerityDescriptor(log, Arrays.copyOf(salt, saltSize), dataSize, Arrays.copyOf(root, MerkleTree.HASH_SIZE));
    }


    @Override public boolean equals(Object o) {
        return o instanceof VerityDescriptor d && d.logBlockSize == logBlockSize && d.dataSize == dataSize
                && Arrays.equals(d.salt, salt) && Arrays.equals(d.rootHash, rootHash);
    }
    @Override public int hashCode() { return Long.hashCode(dataSize) * 31 + Arrays.hashCode(rootHash); }
}
