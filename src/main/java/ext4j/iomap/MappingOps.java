package ext4j.iomap;

import java.io.IOException;
import java.util.List;

/**
 * What a filesystem supplies to the engine (iomap_ops and the writeback ops). The engine knows
 * nothing else about the filesystem: every range it reads, writes or writes back is mapped here.
 * Calls come with the engine's lock held (the folio lock of the lock order), so an implementation
 * may start a journal handle but must not call back into the engine except for the read-only
 * queries of {@link CachedFile}.
 */
public interface MappingOps {
    int READ = 0, WRITE = 1, ZERO = 2;

    /**
     * Maps the range starting at pos (up to len bytes; the answer may be shorter, never empty). For
     * WRITE, a hole is prepared for data: reserved (DELALLOC) or allocated UNWRITTEN.
     */
    Mapping begin(CachedFile f, long pos, long len, int flags) throws IOException;

    /** After a WRITE: only written of the len bytes were copied; what was prepared for the rest is released. */
    default void end(CachedFile f, long pos, long len, long written, int flags, Mapping m) throws IOException {}

    /** Whether a mapping handed out earlier still describes the file (its cookie is current). */
    boolean isValid(CachedFile f, Mapping m);

    /**
     * Writeback: maps dirty data at pos (up to len bytes) to device space, allocating what was
     * delayed (as UNWRITTEN). The answer is MAPPED or UNWRITTEN and starts at pos.
     */
    Mapping mapForWriteback(CachedFile f, long pos, long len) throws IOException;

    /**
     * A streaming write (the engine's bypass of the cache for large aligned writes, as Linux's
     * IOMAP_DIRECT): maps [pos, pos+len) (the answer may be shorter) to device space the caller's
     * bytes can be written to right now: written blocks already there, or a hole allocated as
     * written blocks whose commit waits until {@link #submitted} (ordered data). Written blocks
     * must lie inside the on-disk size (e2fsck's rule): newSize, when not -1, is the size the file
     * will have once the bytes land, which the engine allows the on-disk size to take with the
     * allocation (nothing of the file is dirty or in flight, so no unwritten-back data would come
     * inside it); with -1 only holes inside the on-disk size are allocated. Null when the range
     * cannot be written that way (delayed, unwritten, inline, past the allowed size): the engine
     * buffers it instead.
     */
    default Mapping mapForDirectWrite(CachedFile f, long pos, long len, long newSize) throws IOException { return null; }

    /**
     * Writeback has issued the device writes for all of m (a mapping from mapForWriteback) that it
     * needed, before any of their completions is awaited: ordered-data filesystems let a commit of
     * the allocation proceed from here on.
     */
    default void submitted(CachedFile f, Mapping m) throws IOException {}

    /**
     * A streaming write's bytes for m (from {@link #mapForDirectWrite}) are on the device: whether
     * the filesystem still needs a MAPPED completion for them ({@link #end}, then ioCompleted: the
     * on-disk size, the mtime), or stored all of that with the allocation already. Default: it does.
     */
    default boolean directWriteNeedsCompletion(CachedFile f, Mapping m) { return true; }

    /**
     * A streaming write into m (from {@link #mapForDirectWrite}) failed: its bytes are lost, as a
     * failed writeback's are, and the error waits for the file's next fsync. Blocks allocated for
     * it hold someone's old bytes: the filesystem unmaps them before its held commit goes (the
     * range then reads as a hole). Called before {@link #submitted}.
     */
    default void directWriteFailed(CachedFile f, Mapping m, IOException e) throws IOException { writeFailed(f, m, e); }

    /** A write of file data into m failed (the error also waits for the file's next fsync); called before {@link #submitted}. */
    default void writeFailed(CachedFile f, Mapping m, IOException e) {}

    /**
     * Writeback I/O of [pos, pos+len), all of one type, reached the device. UNWRITTEN ranges become
     * written; then the on-disk size may rise, but only to {@link CachedFile#safeSize} (the
     * in-memory size, or less while data below it is still dirty or in flight). Runs on the
     * completion thread, never the writer's.
     */
    void ioCompleted(CachedFile f, long pos, long len, MappingType type) throws IOException;

    /**
     * Several finished ranges of one file, all of one type, in file order ({pos, len} each): by
     * default one {@link #ioCompleted(CachedFile, long, long, MappingType)} each; a filesystem may
     * do them all in one transaction.
     */
    default void ioCompleted(CachedFile f, List<long[]> ranges, MappingType type) throws IOException {
        for (long[] r : ranges) ioCompleted(f, r[0], r[1], type);
    }
}
