package ext4j.fs;

import ext4j.xattr.PosixAcl;

/**
 * access(2)'s check, as Linux's generic_permission makes it: the owner's bits, else a POSIX
 * access ACL (named users, then the owning and named groups, each limited by the mask), else the
 * group's bits, else the others'. uid 0 may read and write anything and execute anything that
 * has an execute bit, or search any directory (CAP_DAC_OVERRIDE).
 */
final class Access {
    static final int R_OK = 4, W_OK = 2, X_OK = 1;

    private Access() {}

    /** Whether the caller may do mask (R_OK | W_OK | X_OK) on an inode of this mode and owner with this ACL (null: none). */
    static boolean allowed(int mode, long uid, long gid, PosixAcl acl, Caller who, int mask) {
        if (who.privileged()) {
            if ((mask & X_OK) == 0) return true;
            return (mode & Attr.S_IFMT) == Attr.S_IFDIR || (mode & 0111) != 0;
        }
        if (who.uid() == uid) return has((mode >> 6) & 7, mask);
        if (acl == null) return has(who.inGroup(gid) ? (mode >> 3) & 7 : mode & 7, mask);
        int maskPerm = 7;
        for (PosixAcl.Entry e : acl.entries()) if (e.tag() == PosixAcl.MASK) maskPerm = e.perm();
        for (PosixAcl.Entry e : acl.entries())
            if (e.tag() == PosixAcl.USER && e.id() == who.uid()) return has(e.perm() & maskPerm, mask);
        // the group class: allowed if one matching entry grants everything asked, denied if any matched
        boolean groupMatched = false;
        for (PosixAcl.Entry e : acl.entries()) {
            boolean match = (e.tag() == PosixAcl.GROUP_OBJ && who.inGroup(gid)) || (e.tag() == PosixAcl.GROUP && who.inGroup(e.id()));
            if (!match) continue;
            if (has(e.perm() & maskPerm, mask)) return true;
            groupMatched = true;
        }
        if (groupMatched) return false;
        for (PosixAcl.Entry e : acl.entries()) if (e.tag() == PosixAcl.OTHER) return has(e.perm(), mask);
        return has(mode & 7, mask);
    }

    private static boolean has(int granted, int mask) { return (granted & mask) == mask; }
}
