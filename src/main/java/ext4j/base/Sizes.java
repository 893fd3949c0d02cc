package ext4j.base;

/** Sizes as people type them: a number of bytes, or with a K, M, G or T suffix (powers of 1024). */
public final class Sizes {
    private Sizes() {}

    /** The bytes s names; IllegalArgumentException for anything else (negative, overflowing, not a number). */
    public static long parse(String s) {
        String t = s == null ? "" : s.trim();
        char c = t.isEmpty() ? 0 : Character.toUpperCase(t.charAt(t.length() - 1));
        int shift = switch (c) { case 'K' -> 10; case 'M' -> 20; case 'G' -> 30; case 'T' -> 40; default -> 0; };
        if (shift > 0) t = t.substring(0, t.length() - 1);
        try {
            long v = Long.parseLong(t);
            if (v < 0) throw new NumberFormatException();
            return Math.multiplyExact(v, 1L << shift);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new IllegalArgumentException("invalid size: '" + s + "'");
        }
    }
}
