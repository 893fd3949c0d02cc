package ext4j.ondisk;

import java.io.IOException;

/** The filesystem uses an incompat feature ext4j cannot handle; opening it would misread data. */
public class UnsupportedFeatureException extends IOException {
    public UnsupportedFeatureException(String message) { super(message); }
}
