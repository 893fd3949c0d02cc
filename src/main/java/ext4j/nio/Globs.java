package ext4j.nio;

/** A glob (FileSystem.getPathMatcher's syntax: *, **, ?, [...], {a,b}, \) as a regular expression. */
final class Globs {
    private Globs() {}

    static String toRegex(String glob) {
        StringBuilder r = new StringBuilder("^");
        boolean inGroup = false;
        for (int i = 0; i < glob.length(); i++) {
            char c = glob.charAt(i);
            switch (c) {
                case '\\' -> {
                    if (++i >= glob.length()) throw new java.util.regex.PatternSyntaxException("trailing escape", glob, i);
                    r.append(java.util.regex.Pattern.quote(String.valueOf(glob.charAt(i))));
                }
                case '*' -> {
                    if (i + 1 < glob.length() && glob.charAt(i + 1) == '*') { r.append(".*"); i++; }
                    else r.append("[^/]*");
                }
                case '?' -> r.append("[^/]");
                case '[' -> {
                    int end = glob.indexOf(']', i + 1);
                    if (end < 0) throw new java.util.regex.PatternSyntaxException("missing ']'", glob, i);
                    String set = glob.substring(i + 1, end);
                    boolean negated = set.startsWith("!");
                    if (negated) set = set.substring(1);
                    // [[set]&&[^/]], the set's own brackets first: "[^a&&[^/]]" would mean "not (a and not /)"
                    r.append("[[").append(negated ? "^" : "").append(set.replace("\\", "\\\\").replace("[", "\\[")).append("]&&[^/]]");
                    i = end;
                }
                case '{' -> { if (inGroup) throw new java.util.regex.PatternSyntaxException("nested group", glob, i); r.append("(?:"); inGroup = true; }
                case '}' -> { if (inGroup) { r.append(')'); inGroup = false; } else r.append("\\}"); }
                case ',' -> r.append(inGroup ? "|" : ",");
                default -> r.append(java.util.regex.Pattern.quote(String.valueOf(c)));
            }
        }
        if (inGroup) throw new java.util.regex.PatternSyntaxException("missing '}'", glob, glob.length());
        return r.append('$').toString();
    }
}
