package ext4j.xattr;

import ext4j.base.CorruptException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * POSIX ACLs as ext4 stores them in system.posix_acl_access/default: version 1 header, then
 * 4-byte entries (tag, perm) or 8-byte entries (tag, perm, id) for named users and groups.
 * Converts to text ("user::rw-,user:1000:r--,...") and to the Linux xattr format (version 2,
 * all entries 8 bytes) that setxattr(2) takes.
 */
public record PosixAcl(List<Entry> entries) {
    public static final int USER_OBJ = 0x01, USER = 0x02, GROUP_OBJ = 0x04, GROUP = 0x08, MASK = 0x10, OTHER = 0x20;
    private static final int EXT4_VERSION = 1, XATTR_VERSION = 2;

    public record Entry(int tag, int perm, long id) {}

    public static PosixAcl fromExt4(byte[] v, String where) throws CorruptException {
        ByteBuffer b = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
        if (v.length < 4 || b.getInt(0) != EXT4_VERSION) throw new CorruptException(where + ": ACL header version is not 1");
        List<Entry> out = new ArrayList<>();
        int off = 4;
        while (off < v.length) {
            if (off + 4 > v.length) throw new CorruptException(where + ": ACL entry at offset " + off + " truncated");
            int tag = b.getShort(off) & 0xFFFF, perm = b.getShort(off + 2) & 0xFFFF;
            if (tag == USER || tag == GROUP) {
                if (off + 8 > v.length) throw new CorruptException(where + ": ACL entry at offset " + off + " truncated");
                out.add(new Entry(tag, perm, Integer.toUnsignedLong(b.getInt(off + 4))));
                off += 8;
            } else if (tag == USER_OBJ || tag == GROUP_OBJ || tag == MASK || tag == OTHER) {
                out.add(new Entry(tag, perm, -1));
                off += 4;
            } else {
                throw new CorruptException(where + ": ACL entry at offset " + off + " has unknown tag 0x" + Integer.toHexString(tag));
            }
        }
        return new PosixAcl(out);
    }

    /** Parses the value setxattr(2) takes for system.posix_acl_* (version 2, 8-byte entries). */
    public static PosixAcl fromXattr(byte[] v, String where) throws CorruptException {
        ByteBuffer b = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
        if (v.length < 4 || (v.length - 4) % 8 != 0 || b.getInt(0) != XATTR_VERSION)
            throw new CorruptException(where + ": not a POSIX ACL in the xattr format (version 2 header, 8-byte entries)");
        List<Entry> out = new ArrayList<>();
        for (int off = 4; off < v.length; off += 8) {
            int tag = b.getShort(off) & 0xFFFF, perm = b.getShort(off + 2) & 0xFFFF;
            if (tag != USER_OBJ && tag != USER && tag != GROUP_OBJ && tag != GROUP && tag != MASK && tag != OTHER)
                throw new CorruptException(where + ": ACL entry " + (off - 4) / 8 + " has unknown tag 0x" + Integer.toHexString(tag));
            if (perm > 7) throw new CorruptException(where + ": ACL entry " + (off - 4) / 8 + " has permissions 0" + Integer.toOctalString(perm));
            out.add(new Entry(tag, perm, tag == USER || tag == GROUP ? Integer.toUnsignedLong(b.getInt(off + 4)) : -1));
        }
        return new PosixAcl(out);
    }

    /** The compact form ext4 stores: version 1, 4-byte entries except named users and groups (8 bytes). */
    public byte[] toExt4() {
        int n = 4;
        for (Entry e : entries) n += e.tag == USER || e.tag == GROUP ? 8 : 4;
        ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(EXT4_VERSION);
        for (Entry e : entries) {
            b.putShort((short) e.tag).putShort((short) e.perm);
            if (e.tag == USER || e.tag == GROUP) b.putInt((int) e.id);
        }
        return b.array();
    }

    /** The value setxattr(2) expects for system.posix_acl_*. */
    public byte[] toXattr() {
        ByteBuffer b = ByteBuffer.allocate(4 + 8 * entries.size()).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(XATTR_VERSION);
        for (Entry e : entries) b.putShort((short) e.tag).putShort((short) e.perm).putInt((int) e.id);
        return b.array();
    }

    public String toText() {
        StringBuilder s = new StringBuilder();
        for (Entry e : entries) {
            if (!s.isEmpty()) s.append(',');
            s.append(switch (e.tag) {
                case USER_OBJ -> "user::";
                case USER -> "user:" + e.id + ":";
                case GROUP_OBJ -> "group::";
                case GROUP -> "group:" + e.id + ":";
                case MASK -> "mask::";
                default -> "other::";
            });
            s.append((e.perm & 4) != 0 ? 'r' : '-').append((e.perm & 2) != 0 ? 'w' : '-').append((e.perm & 1) != 0 ? 'x' : '-');
        }
        return s.toString();
    }
}
