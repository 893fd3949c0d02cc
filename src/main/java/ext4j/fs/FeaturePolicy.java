package ext4j.fs;

import ext4j.base.Errno;
import ext4j.base.FsException;
import ext4j.journal.JournalSuperblock;
import ext4j.ondisk.Features;
import ext4j.ondisk.Superblock;
import ext4j.ondisk.UnsupportedFeatureException;
import ext4j.ondisk.Volume;

import java.io.IOException;
import java.util.List;

/**
 * What ext4j agrees to open, and to write: an unknown incompat feature refuses the open (as a
 * Linux mount does), an unknown ro_compat one allows reading only; writing is further refused for
 * features ext4j cannot keep, a journal still to be recovered, and (unless forced) errors, damaged
 * metadata and bitmaps that disagree with their checksums. Each refusal names the image and why.
 */
final class FeaturePolicy {
    private FeaturePolicy() {}

    /** Refuses an open that would misread the filesystem; adds the warnings a reader should see. */
    static void checkReadable(Superblock sb, String name, List<String> warnings) throws UnsupportedFeatureException {
        if (sb.hasIncompat(Features.INCOMPAT_JOURNAL_DEV))
            throw new UnsupportedFeatureException(name + ": is an external journal device, not a filesystem");
        int unsupported = sb.featureIncompat() & ~Features.INCOMPAT_READ_SUPPORTED;
        if (unsupported != 0)
            throw new UnsupportedFeatureException(name + ": unsupported incompat feature(s): " + String.join(", ", Features.incompatNames(unsupported)) + "; refusing to open");
        int unknownRo = sb.featureRoCompat() & ~Features.RO_COMPAT_KNOWN;
        if (unknownRo != 0)
            warnings.add("unknown ro_compat feature(s) " + String.join(", ", Features.roCompatNames(unknownRo)) + ": the filesystem can only be opened read-only");
    }

    /** Refuses (EROFS, with the reason) a read-write open of this volume; journal is its journal superblock or null. */
    static void checkWritable(Volume vol, JournalSuperblock journal, boolean force) throws IOException {
        Superblock s = vol.superblock();
        String name = vol.device().name();
        int unwritable = s.featureIncompat() & ~Features.INCOMPAT_WRITE_SUPPORTED;
        if (unwritable != 0) throw refuse(name, "incompat feature(s) " + String.join(", ", Features.incompatNames(unwritable)) + " cannot be written by ext4j");
        int roUnwritable = s.featureRoCompat() & ~Features.RO_COMPAT_WRITE_SUPPORTED;
        if (roUnwritable != 0) throw refuse(name, "ro_compat feature(s) " + String.join(", ", Features.roCompatNames(roUnwritable)) + " cannot be written by ext4j");
        if (s.hasRoCompat(Features.RO_ORPHAN_PRESENT) && !s.hasCompat(Features.COMPAT_ORPHAN_FILE))
            throw refuse(name, "orphan_present is set without orphan_file (run e2fsck -f first)");
        if (s.hasIncompat(Features.INCOMPAT_RECOVER) && journal != null && !journal.isClean())
            throw refuse(name, "the journal needs recovery (run e2fsck, or mount it once with Linux)");
        if (force) return;
        if (!vol.problems().isEmpty()) throw refuse(name, vol.problems().get(0));
        if ((s.state() & Superblock.STATE_ERROR) != 0) throw refuse(name, "the filesystem is marked with errors (run e2fsck -f first, or force)");
        List<String> bad = vol.verifyBitmaps();
        if (!bad.isEmpty()) throw refuse(name, bad.get(0));
    }

    private static FsException refuse(String name, String why) {
        return new FsException(Errno.EROFS, name + ": refusing to write: " + why) {
            @Override public String getMessage() { return name + ": refusing to write: " + why; }
        };
    }
}
