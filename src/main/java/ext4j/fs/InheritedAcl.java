package ext4j.fs;

import ext4j.xattr.PosixAcl;

import java.util.ArrayList;
import java.util.List;

/**
 * What a new inode gets from its directory (acl(5), "object creation and default ACLs"): with no
 * default ACL the mode is masked by the umask; with one, the umask is ignored, the access ACL is
 * the default ACL with each entry of the owner, group (or mask) and other classes limited by the
 * requested mode, the mode follows the result, and a new directory inherits the default ACL itself.
 * An access ACL that says no more than the mode is not stored.
 */
record InheritedAcl(int mode, PosixAcl access, PosixAcl defaultAcl) {
    static InheritedAcl of(PosixAcl parentDefault, int mode, int umask) {
        boolean dir = (mode & Attr.S_IFMT) == Attr.S_IFDIR;
        if (parentDefault == null || (mode & Attr.S_IFMT) == Attr.S_IFLNK) {
            int m = (mode & Attr.S_IFMT) == Attr.S_IFLNK ? mode : mode & ~(umask & 0777);
            return new InheritedAcl(m, null, null);
        }
        List<PosixAcl.Entry> out = new ArrayList<>(parentDefault.entries().size());
        int m = mode;
        int groupObj = -1, mask = -1;
        boolean extended = false;
        for (PosixAcl.Entry e : parentDefault.entries()) {
            int perm = e.perm();
            switch (e.tag()) {
                case PosixAcl.USER_OBJ -> { perm &= (m >> 6) & 7; m = (m & ~0700) | perm << 6; }
                case PosixAcl.OTHER -> { perm &= m & 7; m = (m & ~07) | perm; }
                case PosixAcl.GROUP_OBJ -> groupObj = out.size();
                case PosixAcl.MASK -> { mask = out.size(); extended = true; }
                default -> extended = true;
            }
            out.add(new PosixAcl.Entry(e.tag(), perm, e.id()));
        }
        int groupClass = mask >= 0 ? mask : groupObj;
        if (groupClass >= 0) {
            PosixAcl.Entry g = out.get(groupClass);
            int perm = g.perm() & (m >> 3) & 7;
            out.set(groupClass, new PosixAcl.Entry(g.tag(), perm, g.id()));
            m = (m & ~070) | perm << 3;
        }
        return new InheritedAcl(m, extended ? new PosixAcl(out) : null, dir ? parentDefault : null);
    }

    /** The mode an access ACL implies (setting system.posix_acl_access updates the mode so, as Linux does), and whether the ACL says more. */
    static int modeOf(PosixAcl acl, int mode) {
        int user = 0, group = 0, other = 0, mask = -1;
        for (PosixAcl.Entry e : acl.entries()) {
            switch (e.tag()) {
                case PosixAcl.USER_OBJ -> user = e.perm();
                case PosixAcl.GROUP_OBJ -> group = e.perm();
                case PosixAcl.OTHER -> other = e.perm();
                case PosixAcl.MASK -> mask = e.perm();
                default -> { }
            }
        }
        return (mode & ~0777) | user << 6 | (mask >= 0 ? mask : group) << 3 | other;
    }

    /**
     * chmod of a file with an access ACL (Linux's posix_acl_chmod): the owner, other and mask
     * entries (the owning group's where there is no mask) take the new mode's bits; named entries stay.
     */
    static PosixAcl chmod(PosixAcl acl, int mode) {
        boolean hasMask = acl.entries().stream().anyMatch(e -> e.tag() == PosixAcl.MASK);
        java.util.List<PosixAcl.Entry> out = new java.util.ArrayList<>();
        for (PosixAcl.Entry e : acl.entries()) {
            int perm = switch (e.tag()) {
                case PosixAcl.USER_OBJ -> (mode >> 6) & 7;
                case PosixAcl.MASK -> (mode >> 3) & 7;
                case PosixAcl.GROUP_OBJ -> hasMask ? e.perm() : (mode >> 3) & 7;
                case PosixAcl.OTHER -> mode & 7;
                default -> e.perm();
            };
            out.add(new PosixAcl.Entry(e.tag(), perm, e.id()));
        }
        return new PosixAcl(out);
    }

    /** Whether an access ACL holds nothing the mode bits cannot say (then it is not stored). */
    static boolean equivalentToMode(PosixAcl acl) {
        for (PosixAcl.Entry e : acl.entries())
            if (e.tag() != PosixAcl.USER_OBJ && e.tag() != PosixAcl.GROUP_OBJ && e.tag() != PosixAcl.OTHER) return false;
        return true;
    }
}
