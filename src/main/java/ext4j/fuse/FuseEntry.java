package ext4j.fuse;

/** A name's answer (struct fuse_entry_out): node id, generation, attributes. Node id 0 is a cacheable "no such name". */
public record FuseEntry(long nodeid, long generation, FuseAttr attr) {}
