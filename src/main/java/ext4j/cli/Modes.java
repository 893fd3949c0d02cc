package ext4j.cli;

/** Octal permission arguments (chmod 644, mkdir -m 1777). */
final class Modes {
    private Modes() {}

    static int parse(String s) {
        try {
            int m = Integer.parseInt(s, 8);
            if (m < 0 || m > 07777) throw new NumberFormatException();
            return m;
        } catch (NumberFormatException e) {
            throw new BadArgumentException("invalid mode: '" + s + "' (octal, e.g. 644 or 1777)");
        }
    }
}
