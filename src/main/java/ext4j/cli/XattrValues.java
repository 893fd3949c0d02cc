package ext4j.cli;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HexFormat;

/** Extended attribute values as setfattr(1) takes them and getfattr(1) prints them: "text", 0xHEX, 0sBASE64. */
final class XattrValues {
    private XattrValues() {}

    static byte[] decode(String v) {
        if (v.startsWith("0x") || v.startsWith("0X")) {
            try { return HexFormat.of().parseHex(v.substring(2)); }
            catch (IllegalArgumentException e) { throw new BadArgumentException("invalid hex value: '" + v + "'"); }
        }
        if (v.startsWith("0s") || v.startsWith("0S")) {
            try { return Base64.getDecoder().decode(v.substring(2)); }
            catch (IllegalArgumentException e) { throw new BadArgumentException("invalid base64 value: '" + v + "'"); }
        }
        if (v.length() >= 2 && v.startsWith("\"") && v.endsWith("\"")) return unescape(v.substring(1, v.length() - 1));
        return v.getBytes(StandardCharsets.UTF_8);
    }

    /** Backslash escapes inside a quoted value: \\ \" \n \t and \ooo octal. */
    private static byte[] unescape(String s) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < b.length; i++) {
            if (b[i] != '\\' || i + 1 == b.length) { o.write(b[i]); continue; }
            byte c = b[++i];
            if (c >= '0' && c <= '7') {
                int v = 0, n = 0;
                while (n < 3 && i < b.length && b[i] >= '0' && b[i] <= '7') { v = v * 8 + (b[i++] - '0'); n++; }
                i--;
                o.write(v);
            } else o.write(c == 'n' ? '\n' : c == 't' ? '\t' : c);
        }
        return o.toByteArray();
    }

    static String encode(byte[] v, String encoding) {
        return switch (encoding) {
            case "hex" -> "0x" + HexFormat.of().formatHex(v);
            case "base64" -> "0s" + Base64.getEncoder().encodeToString(v);
            case "text" -> quote(v);
            default -> isText(v) ? quote(v) : "0s" + Base64.getEncoder().encodeToString(v);
        };
    }

    private static boolean isText(byte[] v) {
        int n = v.length;
        if (n > 0 && v[n - 1] == 0) n--; // C strings stored with their NUL
        for (int i = 0; i < n; i++) if ((v[i] & 0xFF) < 0x20 || v[i] == 0x7F) return false;
        return true;
    }

    private static String quote(byte[] v) {
        StringBuilder sb = new StringBuilder("\"");
        for (byte x : v) {
            int c = x & 0xFF;
            if (c == '"' || c == '\\') sb.append('\\').append((char) c);
            else if (c < 0x20 || c >= 0x7F) sb.append(String.format("\\%03o", c));
            else sb.append((char) c);
        }
        return sb.append('"').toString();
    }
}
