package ext4j.iomap;

/**
 * One answer of {@link MappingOps#begin}: bytes [offset, offset+length) of a file are of the given
 * type. addr is the device byte address of offset for MAPPED and UNWRITTEN (else -1); inline holds
 * the bytes from offset for INLINE. cookie is the filesystem's validity stamp: the engine asks
 * {@link MappingOps#isValid} before it relies on a mapping it got earlier.
 */
public record Mapping(MappingType type, long offset, long length, long addr, long cookie, byte[] inline) {
    public Mapping {
        if (length <= 0) throw new IllegalArgumentException("mapping of " + length + " bytes at " + offset);
        if ((type == MappingType.MAPPED || type == MappingType.UNWRITTEN) && addr < 0)
            throw new IllegalArgumentException(type + " mapping without an address at " + offset);
    }

    public static Mapping of(MappingType type, long offset, long length, long addr, long cookie) {
        return new Mapping(type, offset, length, addr, cookie, null);
    }

    public long end() { return offset + length; }

    /** Device address of file position pos inside this mapping. */
    public long addrOf(long pos) { return addr + (pos - offset); }
}
