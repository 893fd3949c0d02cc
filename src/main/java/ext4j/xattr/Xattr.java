package ext4j.xattr;

/** One extended attribute: full name with its prefix (e.g. "user.mime") and raw value bytes. */
public record Xattr(String name, byte[] value) {}
