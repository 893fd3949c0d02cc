package ext4j.base;

import java.io.IOException;

/** On-disk metadata failed a sanity or checksum check. The message names the structure and where it is. */
public class CorruptException extends IOException {
    public CorruptException(String message) { super(message); }
}
