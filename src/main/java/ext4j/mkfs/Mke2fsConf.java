package ext4j.mkfs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * mke2fs.conf, read as mke2fs reads it: the file named by the MKE2FS_CONFIG environment variable,
 * else /etc/mke2fs.conf; when that file does not exist, mke2fs 1.47's built-in profile. The syntax
 * is e2fsprogs' profile format: {@code [section]} headers, {@code tag = value} relations,
 * {@code tag = { ... }} subsections, comments from {@code #} or {@code ;} at the start of a line.
 *
 * Lookups follow mke2fs: a filesystem's type list is its ext type ("ext4") then its usage types
 * (by default its size type: floppy, small, default, big or huge); numbers come from [defaults]
 * and then each type in order, the last one that sets them winning; strings from the last type
 * that sets them, else [defaults].
 */
public final class Mke2fsConf {
    /** mke2fs 1.47.0's built-in profile (misc/mke2fs.conf.in), used when no conf file exists. */
    static final String BUILT_IN = """
            [defaults]
            	base_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
            	default_mntopts = acl,user_xattr
            	enable_periodic_fsck = 0
            	blocksize = 4096
            	inode_size = 256
            	inode_ratio = 16384

            [fs_types]
            	ext3 = {
            		features = has_journal
            	}
            	ext4 = {
            		features = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
            	}
            	small = {
            		blocksize = 1024
            		inode_ratio = 4096
            	}
            	floppy = {
            		blocksize = 1024
            		inode_ratio = 8192
            	}
            	big = {
            		inode_ratio = 32768
            	}
            	huge = {
            		inode_ratio = 65536
            	}
            	news = {
            		inode_ratio = 4096
            	}
            	largefile = {
            		inode_ratio = 1048576
            		blocksize = -1
            	}
            	largefile4 = {
            		inode_ratio = 4194304
            		blocksize = -1
            	}
            	hurd = {
            	     blocksize = 4096
            	     inode_size = 128
            	     warn_y2038_dates = 0
            	}
            """;

    /** A section or subsection: tag -> values (strings or subsections), in file order. */
    private static final class Node {
        final Map<String, List<Object>> rel = new LinkedHashMap<>();
        void add(String tag, Object v) { rel.computeIfAbsent(tag, k -> new ArrayList<>()).add(v); }
        String string(String tag) {
            for (Object o : rel.getOrDefault(tag, List.of())) if (o instanceof String s) return s;
            return null;
        }
        Node sub(String tag) {
            for (Object o : rel.getOrDefault(tag, List.of())) if (o instanceof Node n) return n;
            return null;
        }
    }

    private final Map<String, Node> sections = new LinkedHashMap<>();
    private final String source;

    private Mke2fsConf(String source) { this.source = source; }

    /** Where this profile came from: a file name, or "mke2fs's built-in defaults". */
    public String source() { return source; }

    /** The profile mke2fs would use now: $MKE2FS_CONFIG, else /etc/mke2fs.conf, else the built-in one. */
    public static Mke2fsConf load() throws IOException {
        String env = System.getenv("MKE2FS_CONFIG");
        if (env != null && env.isEmpty()) return builtIn();          // mke2fs opens "", which does not exist
        return load(Path.of(env != null ? env : "/etc/mke2fs.conf"));
    }

    /** The profile in file, or the built-in one when file does not exist (as mke2fs). */
    public static Mke2fsConf load(Path file) throws IOException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return builtIn();
        }
        return parse(text, file.toString());
    }

    public static Mke2fsConf builtIn() {
        try {
            return parse(BUILT_IN, "mke2fs's built-in defaults");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Parses profile text; a syntax error names the line. */
    public static Mke2fsConf parse(String text, String source) throws IOException {
        Mke2fsConf c = new Mke2fsConf(source);
        Node section = null;
        List<Node> stack = new ArrayList<>();
        String[] lines = text.split("\r?\n", -1);
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            String at = source + " line " + (i + 1);
            if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) continue;
            if (line.startsWith("[")) {
                int end = line.indexOf(']');
                if (end < 0) throw new IOException(at + ": missing ] in a section header");
                if (!stack.isEmpty()) throw new IOException(at + ": section header inside braces");
                String name = line.substring(1, end).strip();
                section = c.sections.computeIfAbsent(name, k -> new Node());
                continue;
            }
            if (line.startsWith("}")) {
                if (stack.isEmpty()) throw new IOException(at + ": } without {");
                stack.remove(stack.size() - 1);
                continue;
            }
            if (section == null) throw new IOException(at + ": a relation before any [section]");
            int eq = line.indexOf('=');
            if (eq <= 0) throw new IOException(at + ": expected tag = value");
            String tag = line.substring(0, eq).strip();
            String value = line.substring(eq + 1).strip();
            Node into = stack.isEmpty() ? section : stack.get(stack.size() - 1);
            if (value.equals("{")) {
                Node n = new Node();
                into.add(tag, n);
                stack.add(n);
            } else {
                into.add(tag, unquote(value, at));
            }
        }
        if (!stack.isEmpty()) throw new IOException(source + ": unclosed {");
        return c;
    }

    private static String unquote(String v, String at) throws IOException {
        if (!v.startsWith("\"")) {
            // the profile library ends an unquoted value at the line's end, trailing blanks dropped
            return v;
        }
        StringBuilder b = new StringBuilder();
        for (int i = 1; i < v.length(); i++) {
            char ch = v.charAt(i);
            if (ch == '"') return b.toString();
            if (ch == '\\' && i + 1 < v.length()) {
                char n = v.charAt(++i);
                b.append(switch (n) { case 'n' -> '\n'; case 't' -> '\t'; case 'b' -> '\b'; default -> n; });
            } else b.append(ch);
        }
        throw new IOException(at + ": unterminated quoted value");
    }

    /** Whether [fs_types] defines type (mke2fs refuses an ext3/ext4 it does not define). */
    public boolean definesType(String type) {
        Node t = sections.get("fs_types");
        return t != null && t.sub(type) != null;
    }

    private String fsTypeString(String type, String tag) {
        Node t = sections.get("fs_types");
        Node n = t == null ? null : t.sub(type);
        return n == null ? null : n.string(tag);
    }

    private String defaultsString(String tag) {
        Node d = sections.get("defaults");
        return d == null ? null : d.string(tag);
    }

    /** mke2fs's get_string_from_profile: the last type that sets tag, else [defaults], else def. */
    public String string(List<String> types, String tag, String def) {
        for (int i = types.size() - 1; i >= 0; i--) {
            String v = fsTypeString(types.get(i), tag);
            if (v != null) return v;
        }
        String v = defaultsString(tag);
        return v != null ? v : def;
    }

    /** mke2fs's get_int_from_profile: [defaults], then each type in order overriding. */
    public long number(List<String> types, String tag, long def) {
        long v = parseNumber(defaultsString(tag), tag, def);
        for (String t : types) v = parseNumber(fsTypeString(t, tag), tag, v);
        return v;
    }

    /** Like {@link #number} for a fraction (reserved_ratio). */
    public double fraction(List<String> types, String tag, double def) {
        double v = parseFraction(defaultsString(tag), tag, def);
        for (String t : types) v = parseFraction(fsTypeString(t, tag), tag, v);
        return v;
    }

    /** Each type's own "features" string, in type order (applied one after another). */
    public List<String> typeFeatures(List<String> types) {
        List<String> out = new ArrayList<>();
        for (String t : types) {
            String f = fsTypeString(t, "features");
            if (f != null && !f.isEmpty()) out.add(f);
        }
        return out;
    }

    private long parseNumber(String s, String tag, long def) {
        if (s == null) return def;
        try {
            String t = s.strip();
            if (t.startsWith("0x") || t.startsWith("0X")) return Long.parseLong(t.substring(2), 16);
            if (t.length() > 1 && t.startsWith("0")) return Long.parseLong(t.substring(1), 8);
            return Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(source + ": " + tag + " = '" + s + "' is not a number");
        }
    }

    private double parseFraction(String s, String tag, double def) {
        if (s == null) return def;
        try { return Double.parseDouble(s.strip()); }
        catch (NumberFormatException e) { throw new IllegalArgumentException(source + ": " + tag + " = '" + s + "' is not a number"); }
    }

    /** mke2fs's size type of a filesystem of this many bytes. */
    public static String sizeType(long bytes) {
        long meg = 1L << 20;
        if (bytes < 3 * meg) return "floppy";
        if (bytes < 512 * meg) return "small";
        if (bytes < 4L * 1024 * 1024 * meg) return "default";
        if (bytes < 16L * 1024 * 1024 * meg) return "big";
        return "huge";
    }

    /** The type list of a filesystem: ext type, then the usage types (null or empty: its size type). */
    public static List<String> types(String extType, String usageTypes, long bytes) {
        List<String> out = new ArrayList<>();
        out.add(extType);
        String usage = usageTypes == null || usageTypes.isBlank() ? sizeType(bytes) : usageTypes;
        for (String u : usage.split(",")) if (!u.isBlank()) out.add(u.strip());
        return out;
    }
}
