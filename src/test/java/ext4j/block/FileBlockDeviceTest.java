package ext4j.block;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import ext4j.testutil.TestThread;

import static org.junit.jupiter.api.Assertions.*;

/** FileBlockDevice survives interrupts (a bare FileChannel closes itself for everyone) and stays closed once closed. */
class FileBlockDeviceTest {
    @TempDir Path tmp;

    private static byte[] filled(int v) { byte[] b = new byte[4096]; Arrays.fill(b, (byte) v); return b; }

    @Test
    void anInterruptedCallerNeitherFailsNorClosesTheDevice() throws Exception {
        Path f = tmp.resolve("d.img");
        Files.write(f, new byte[1 << 20]);
        try (FileBlockDevice dev = FileBlockDevice.open(f, false)) {
            Thread.currentThread().interrupt();
            dev.write(8192, ByteBuffer.wrap(filled(7)));              // a bare FileChannel throws ClosedByInterruptException here
            assertTrue(Thread.interrupted(), "the caller's interrupt status is kept");
            Thread.currentThread().interrupt();
            ByteBuffer b = ByteBuffer.allocate(4096);
            dev.read(8192, b);
            dev.flush();
            assertTrue(Thread.interrupted());
            assertArrayEquals(filled(7), b.array());
            // another thread interrupted during its own I/O: this thread's device keeps working
            TestThread.start("interrupted-writer", () -> {
                Thread.currentThread().interrupt();
                dev.write(12288, ByteBuffer.wrap(filled(9)));
            }).joinAndCheck(60_000);
            b.clear();
            dev.read(12288, b);
            assertArrayEquals(filled(9), b.array());
        }
        byte[] all = Files.readAllBytes(f);
        assertArrayEquals(filled(7), Arrays.copyOfRange(all, 8192, 12288));
        assertArrayEquals(filled(9), Arrays.copyOfRange(all, 12288, 16384));
    }

    @Test
    void aClosedDeviceStaysClosed() throws Exception {
        Path f = tmp.resolve("c.img");
        Files.write(f, new byte[65536]);
        FileBlockDevice dev = FileBlockDevice.open(f, false);
        dev.close();
        assertThrows(ClosedChannelException.class, () -> dev.read(0, ByteBuffer.allocate(512)));
        assertThrows(ClosedChannelException.class, () -> dev.write(0, ByteBuffer.allocate(512)));
    }
}
