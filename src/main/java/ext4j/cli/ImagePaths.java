package ext4j.cli;

import ext4j.base.Errno;
import ext4j.base.FsException;

/** Paths inside an image as the CLI takes them: absolute, '/'-separated. */
final class ImagePaths {
    private ImagePaths() {}

    static String check(String p) throws FsException {
        if (p.isEmpty() || p.charAt(0) != '/') throw new FsException(Errno.EINVAL, p + " (paths inside the image must be absolute)");
        return p;
    }

    static String strip(String p) {
        String s = p;
        while (s.length() > 1 && s.endsWith("/")) s = s.substring(0, s.length() - 1);
        return s;
    }

    static String child(String dir, String name) { return dir.equals("/") ? "/" + name : dir + "/" + name; }

    static String name(String p) {
        String s = strip(p);
        return s.substring(s.lastIndexOf('/') + 1);
    }

    static String parent(String p) {
        String s = strip(p);
        int i = s.lastIndexOf('/');
        return i <= 0 ? "/" : s.substring(0, i);
    }

    /** Parses sizes like 4096, 64K, 10M, 2G, 1T (powers of 1024). */
    static long size(String s) {
        try { return ext4j.base.Sizes.parse(s); } catch (IllegalArgumentException e) { throw new BadArgumentException(e.getMessage()); }
    }
}
