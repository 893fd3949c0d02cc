package ext4j.cli;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A POSIX ACL in the Linux xattr format (what getxattr returns: a version-2 header, then 8-byte
 * entries of tag, permissions and id) as short text, "user::rw-,user:1000:r--,group::r--,...".
 */
final class AclText {
    private static final int USER_OBJ = 0x01, USER = 0x02, GROUP_OBJ = 0x04, GROUP = 0x08, MASK = 0x10, OTHER = 0x20;

    private AclText() {}

    static String of(byte[] v) {
        ByteBuffer b = ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
        if (v.length < 4 || (v.length - 4) % 8 != 0 || b.getInt(0) != 2)
            throw new IllegalArgumentException("not a POSIX ACL in the xattr format (version 2 header, 8-byte entries)");
        StringBuilder s = new StringBuilder();
        for (int off = 4; off < v.length; off += 8) {
            int tag = b.getShort(off) & 0xFFFF, perm = b.getShort(off + 2) & 0xFFFF;
            long id = Integer.toUnsignedLong(b.getInt(off + 4));
            if (!s.isEmpty()) s.append(',');
            s.append(switch (tag) {
                case USER_OBJ -> "user::";
                case USER -> "user:" + id + ":";
                case GROUP_OBJ -> "group::";
                case GROUP -> "group:" + id + ":";
                case MASK -> "mask::";
                case OTHER -> "other::";
                default -> throw new IllegalArgumentException("ACL entry " + (off - 4) / 8 + " has unknown tag 0x" + Integer.toHexString(tag));
            });
            s.append((perm & 4) != 0 ? 'r' : '-').append((perm & 2) != 0 ? 'w' : '-').append((perm & 1) != 0 ? 'x' : '-');
        }
        return s.toString();
    }
}
