package ext4j.iomap;

/** What a range of a file is on disk, as a filesystem's {@link MappingOps} reports it. */
public enum MappingType {
    /** Nothing allocated: reads as zeros. */
    HOLE,
    /** Space reserved for dirty cached data, not allocated yet (delayed allocation). */
    DELALLOC,
    /** Allocated and written: reads come from the device. */
    MAPPED,
    /** Allocated but never written: reads as zeros until the data is written and converted. */
    UNWRITTEN,
    /** Stored inside the filesystem's metadata (ext4 inline data): bytes come with the mapping. */
    INLINE
}
