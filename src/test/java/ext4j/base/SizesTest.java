package ext4j.base;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class SizesTest {
    @Test
    void numbersAndSuffixes() {
        assertEquals(0, Sizes.parse("0"));
        assertEquals(4096, Sizes.parse(" 4096 "));
        assertEquals(64L << 10, Sizes.parse("64k"));
        assertEquals(64L << 20, Sizes.parse("64M"));
        assertEquals(2L << 30, Sizes.parse("2G"));
        assertEquals(1L << 40, Sizes.parse("1T"));
    }

    @Test
    void badSizesAreRefusedNamingThem() {
        for (String bad : new String[] {"", " ", "M", "-1", "-1M", "1.5G", "12Q", "0x10", "9223372036854775807K", "99999999999999999999"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sizes.parse(bad), bad);
            assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse(null));
    }
}
