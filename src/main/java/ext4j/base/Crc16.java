package ext4j.base;

/** CRC-16 (polynomial 0x8005, reflected as 0xA001), used by the uninit_bg / gdt_csum group descriptor checksum. */
public final class Crc16 {
    private static final int[] TABLE = new int[256];
    static {
        for (int i = 0; i < 256; i++) {
            int c = i;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? (c >>> 1) ^ 0xA001 : c >>> 1;
            TABLE[i] = c;
        }
    }

    private Crc16() {}

    public static int update(int crc, byte[] b, int off, int len) {
        for (int i = off; i < off + len; i++) crc = (crc >>> 8) ^ TABLE[(crc ^ b[i]) & 0xFF];
        return crc & 0xFFFF;
    }
}
