package ext4j.dir;

import ext4j.base.CorruptException;
import ext4j.base.FsException;
import ext4j.testutil.Seeds;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The inline directory editor on its own, over bytes in memory: where entries go (i_block, then
 * system.data grown to its largest, then a block), what removal leaves, and damaged bytes
 * (truncated rec_len chains, zeroed and bit-flipped regions) refused as corruption, never another
 * exception. The layouts Linux makes are checked against the kernel in fs.InlineDataKernelCompareTest.
 */
class InlineDirectoryEditorTest {
    private static final long MAX_INODE = 8192;

    /** A store in memory: i_block + system.data, a fixed largest size, a block editor that records what moved. */
    private static final class Mem implements InlineDirectoryEditor.Store {
        byte[] data;
        final int max;
        final List<String> block = new ArrayList<>();
        Mem(int max) { this.max = max; }
        @Override public byte[] load() { return data.clone(); }
        @Override public int maxSize() { return max; }
        @Override public void save(byte[] d) { data = d.clone(); }
        @Override public long self() { return 12; }
        @Override public DirEditor toBlock(long parent, byte[] entries) throws CorruptException {
            block.add(". 12 .. " + parent);
            List<String> moved = new ArrayList<>();
            ByteBuffer e = ByteBuffer.wrap(entries).order(ByteOrder.LITTLE_ENDIAN);
            DirBlock.parse(e, 0, entries.length, true, MAX_INODE, 1024, "moved", x -> moved.add(x.name() + "->" + x.inode()));
            block.addAll(moved);
            return new DirEditor() {
                @Override public void init(long self, long p) { throw new UnsupportedOperationException(); }
                @Override public void add(byte[] name, long ino, int type) { block.add(new String(name, StandardCharsets.UTF_8) + "->" + ino); }
                @Override public long remove(byte[] name) { throw new UnsupportedOperationException(); }
                @Override public void setInode(byte[] name, long ino, int type) { throw new UnsupportedOperationException(); }
                @Override public boolean isEmpty() { return false; }
            };
        }
    }

    private static byte[] b(String s) { return s.getBytes(StandardCharsets.UTF_8); }

    /** The live entries as the reader (Directory's parser) sees them. */
    private static List<String> list(byte[] d) throws CorruptException {
        List<String> out = new ArrayList<>();
        ByteBuffer bb = ByteBuffer.wrap(d).order(ByteOrder.LITTLE_ENDIAN);
        DirBlock.parse(bb, 4, 60, true, MAX_INODE, 1024, "test", e -> out.add(e.name() + "->" + e.inode()));
        if (d.length > 60) DirBlock.parse(bb, 60, d.length, true, MAX_INODE, 1024, "test", e -> out.add(e.name() + "->" + e.inode()));
        return out;
    }

    @Test
    void entriesFillIBlockThenTheGrownXattrThenMoveToABlock() throws Exception {
        Mem m = new Mem(128);
        InlineDirectoryEditor ed = new InlineDirectoryEditor(m, true, MAX_INODE);
        ed.init(12, 2);
        assertEquals(60, m.data.length);
        assertEquals(2, ByteBuffer.wrap(m.data).order(ByteOrder.LITTLE_ENDIAN).getInt(0), "the parent in the first 4 bytes");
        assertTrue(ed.isEmpty());
        for (int i = 1; i <= 4; i++) ed.add(b("f" + i), 20 + i, 1);          // 4 entries of 12 bytes: i_block's 56 bytes
        assertEquals(60, m.data.length, "four short names fit i_block");
        ed.add(b("f5"), 25, 1);
        assertEquals(128, m.data.length, "the fifth grows system.data to its largest at once");
        for (int i = 6; i <= 9; i++) ed.add(b("f" + i), 20 + i, 1);
        assertEquals(128, m.data.length);
        assertEquals(List.of("f1->21", "f2->22", "f3->23", "f4->24", "f5->25", "f6->26", "f7->27", "f8->28", "f9->29"), list(m.data));
        assertEquals(24, ed.remove(b("f4")));
        assertEquals(0, ed.remove(b("nothere")));
        ed.setInode(b("f1"), 99, 2);
        ed.setInode(b(".."), 77, 2);
        assertEquals(77, ByteBuffer.wrap(m.data).order(ByteOrder.LITTLE_ENDIAN).getInt(0));
        assertEquals(List.of("f1->99", "f2->22", "f3->23", "f5->25", "f6->26", "f7->27", "f8->28", "f9->29"), list(m.data));
        ed.add(b("g4"), 44, 1);                                               // the freed slot in i_block is reused
        assertEquals("g4->44", list(m.data).get(3));
        assertTrue(m.block.isEmpty());
        ed.add(b("f10"), 30, 1);                                              // 8 bytes left in system.data: one block
        assertEquals(List.of(". 12 .. 77", "f1->99", "f2->22", "f3->23", "g4->44", "f5->25", "f6->26", "f7->27", "f8->28", "f9->29", "f10->30"), m.block);
        assertThrows(FsException.class, () -> ed.setInode(b("missing"), 1, 1));
    }

    @Test
    void noRoomForSystemDataMovesTheFifthEntryToABlock() throws Exception {
        Mem m = new Mem(60);                                                   // other xattrs take the inode's space
        InlineDirectoryEditor ed = new InlineDirectoryEditor(m, true, MAX_INODE);
        ed.init(12, 2);
        for (int i = 1; i <= 4; i++) ed.add(b("f" + i), 20 + i, 1);
        assertTrue(m.block.isEmpty());
        ed.add(b("f5"), 25, 1);
        assertEquals(6, m.block.size(), m.block.toString());
    }

    /** Truncated, zeroed and bit-flipped inline bytes: each operation works or throws CorruptException/FsException, nothing else. */
    @Test
    void damagedBytesAreRefusedByName() throws Exception {
        Random r = Seeds.random("InlineDirectoryEditorTest damage");
        int refused = 0, done = 0;
        for (int round = 0; round < 20_000; round++) {
            Mem m = new Mem(128);
            InlineDirectoryEditor ed = new InlineDirectoryEditor(m, true, MAX_INODE);
            ed.init(12, 2);
            int n = r.nextInt(9);
            for (int i = 0; i < n; i++) ed.add(b("e" + i + "x".repeat(r.nextInt(6))), 20 + i, 1);
            byte[] d = m.data;
            switch (r.nextInt(4)) {
                case 0 -> { for (int k = 1 + r.nextInt(4); k > 0; k--) d[r.nextInt(d.length)] ^= (byte) (1 << r.nextInt(8)); }
                case 1 -> { int at = r.nextInt(d.length); Arrays.fill(d, at, Math.min(d.length, at + 1 + r.nextInt(16)), (byte) 0); }
                case 2 -> { int at = 4 + r.nextInt(d.length - 8); d[at] = (byte) r.nextInt(); d[at + 1] = (byte) r.nextInt(); } // rec_len-ish bytes
                default -> d = Arrays.copyOf(d, 60 + r.nextInt(Math.max(1, d.length - 59)));   // a system.data value cut short
            }
            m.data = d;
            try {
                switch (r.nextInt(4)) {
                    case 0 -> ed.add(b("new" + r.nextInt(100)), 300, 1);
                    case 1 -> ed.remove(b("e" + r.nextInt(9)));
                    case 2 -> ed.setInode(r.nextBoolean() ? b("..") : b("e" + r.nextInt(9)), 301, 1);
                    default -> ed.isEmpty();
                }
                done++;
            } catch (CorruptException | FsException e) {
                assertTrue(e.getMessage().contains("inode 12"), e.getMessage());
                refused++;
            }
        }
        System.out.println("InlineDirectoryEditorTest: 20000 damaged directories, " + refused + " refused by name, " + done + " edited");
        assertTrue(refused > 1000 && done > 1000, refused + " / " + done);
    }
}
