package ext4j.iomap;

/**
 * One answer of {@link MappingOps#begin}: bytes [offset, offset+length) of a file are of the given
 * type. addr is the device byte address of offset for MAPPED and UNWRITTEN (else -1); inline holds
 * the bytes from offset for INLINE. cookie is the filesystem's validity stamp: the engine asks
 * {@link MappingOps#isValid} before it relies on a mapping it got earlier. fresh (iomap's
 * IOMAP_F_NEW) marks MAPPED blocks the filesystem allocated for this very write: the disk holds
 * stale bytes there, so the parts of a block the write does not cover are zeros, never read.
 */
public record Mapping(MappingType type, long offset, long length, long addr, long cookie, byte[] inline, boolean fresh) {
    public Mapping {
        if (length <= 0) throw new IllegalArgumentException("mapping of " + length + " bytes at " + offset);
        if ((type == MappingType.MAPPED || type == MappingType.UNWRITTEN) && addr < 0)
            throw new IllegalArgumentException(type + " mapping without an address at " + offset);
    }

    public Mapping(MappingType type, long offset, long length, long addr, long cookie, byte[] inline) {
        this(type, offset, length, addr, cookie, inline, false);
    }

    public static Mapping of(MappingType type, long offset, long length, long addr, long cookie) {
        return new Mapping(type, offset, length, addr, cookie, null);
    }

    /** Blocks just allocated, mapped as written (no unwritten state, as in indirect-mapped files): see fresh. */
    public static Mapping fresh(long offset, long length, long addr, long cookie) {
        return new Mapping(MappingType.MAPPED, offset, length, addr, cookie, null, true);
    }

    public long end() { return offset + length; }

    /** Device address of file position pos inside this mapping. */
    public long addrOf(long pos) { return addr + (pos - offset); }
}
