package ext4j.cli;

/** A command-line value that does not parse (mode, size, date, owner): a usage error, exit code 2. */
final class BadArgumentException extends IllegalArgumentException {
    BadArgumentException(String message) { super(message); }
}
