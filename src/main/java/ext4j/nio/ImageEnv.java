package ext4j.nio;

import ext4j.fs.Options;
import ext4j.mkfs.MkfsOptions;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * The env map of {@code FileSystems.newFileSystem}: readOnly, create (with size and the mkfs
 * options type, blockSize, inodes, inodeSize, label, uuid, features), commitSeconds, cacheSize, and
 * for tests faults (a FaultyBlockDevice.Faults plan put under the image).
 * Values may be strings or their typed forms (Boolean, Number), as zipfs accepts; an unknown key
 * or a bad value is an IllegalArgumentException naming it.
 */
record ImageEnv(boolean readOnly, boolean create, long size, MkfsOptions mkfs, Options options) {
    static ImageEnv parse(Map<String, ?> env) {
        Options o = Options.defaults();
        boolean ro = false, create = false;
        long size = 0;
        String type = "ext4", label = null;
        int blockSize = 0, inodeSize = 0;
        long inodes = 0;
        UUID uuid = null;
        List<String> features = new ArrayList<>();
        for (Map.Entry<String, ?> e : env.entrySet()) {
            Object v = e.getValue();
            switch (e.getKey()) {
                case "readOnly" -> ro = bool(e.getKey(), v);
                case "create" -> create = bool(e.getKey(), v);
                case "size" -> size = bytes(e.getKey(), v);
                case "commitSeconds" -> o = o.withCommitMillis(number(e.getKey(), v) * 1000);
                case "cacheSize" -> o = o.withCacheBytes(bytes(e.getKey(), v));
                case "type" -> type = String.valueOf(v);
                case "blockSize" -> blockSize = (int) number(e.getKey(), v);
                case "inodes" -> inodes = number(e.getKey(), v);
                case "inodeSize" -> inodeSize = (int) number(e.getKey(), v);
                case "label" -> label = String.valueOf(v);
                case "uuid" -> {
                    try { uuid = v instanceof UUID u ? u : UUID.fromString(String.valueOf(v)); }
                    catch (IllegalArgumentException bad) { throw new IllegalArgumentException("env uuid: '" + v + "' is not a UUID"); }
                }
                case "faults" -> {                   // tests: a failing disk under the image
                    if (!(v instanceof ext4j.block.FaultyBlockDevice.Faults f)) throw new IllegalArgumentException("env faults: not a FaultyBlockDevice.Faults");
                    o = o.withFaults(f);
                }
                case "features" -> { for (String f : String.valueOf(v).split(",")) if (!f.isBlank()) features.add(f.trim()); }
                default -> throw new IllegalArgumentException("unknown env key '" + e.getKey() + "' (known: readOnly, create, size, commitSeconds, cacheSize, type, blockSize, inodes, inodeSize, label, uuid, features, faults)");
            }
        }
        if (create && ro) throw new IllegalArgumentException("env: create and readOnly together");
        if (create && size <= 0) throw new IllegalArgumentException("env: create needs a size (bytes, or a string like \"64M\")");
        return new ImageEnv(ro, create, size, new MkfsOptions(type, blockSize, inodes, inodeSize, label, uuid, features), o.withReadOnly(ro));
    }

    private static boolean bool(String k, Object v) {
        if (v instanceof Boolean b) return b;
        String s = String.valueOf(v);
        if (s.equalsIgnoreCase("true")) return true;
        if (s.equalsIgnoreCase("false")) return false;
        throw new IllegalArgumentException("env " + k + ": '" + v + "' is not true or false");
    }

    private static long number(String k, Object v) {
        if (v instanceof Number n) return n.longValue();
        try { return Long.parseLong(String.valueOf(v).trim()); }
        catch (NumberFormatException e) { throw new IllegalArgumentException("env " + k + ": '" + v + "' is not a number"); }
    }

    /** A size: a number of bytes, or a string as Sizes reads it. */
    static long bytes(String k, Object v) {
        if (v instanceof Number n) return n.longValue();
        try { return ext4j.base.Sizes.parse(String.valueOf(v)); } catch (IllegalArgumentException e) { throw new IllegalArgumentException("env " + k + ": " + e.getMessage()); }
    }
}
