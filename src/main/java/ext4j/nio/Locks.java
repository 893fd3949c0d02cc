package ext4j.nio;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * File locks between channels of this JVM (the images are not shared with other processes while
 * open: the NIO provider holds them): per inode, the ranges held. Like the default provider, a
 * range that overlaps one held through this JVM is an OverlappingFileLockException; lock() never
 * waits for another channel of the same JVM.
 */
final class Locks {
    private Locks() {}

    private record Key(ImageFileSystem fs, long ino) {}
    private static final Map<Key, List<Held>> HELD = new HashMap<>();

    static final class Held extends FileLock {
        private boolean valid = true;
        Held(FileChannel ch, long pos, long size, boolean shared) { super(ch, pos, size, shared); }
        @Override public synchronized boolean isValid() { return valid && channel().isOpen(); }
        @Override public void release() throws IOException {
            synchronized (Locks.class) {
                if (!valid) return;
                valid = false;
                ImageFileChannel c = (ImageFileChannel) channel();
                List<Held> l = HELD.get(new Key(c.fileSystem(), c.ino()));
                if (l != null) l.remove(this);
            }
        }
    }

    static synchronized FileLock acquire(ImageFileChannel ch, long pos, long size, boolean shared, boolean wait) {
        if (pos < 0 || size < 0) throw new IllegalArgumentException("negative position or size");
        List<Held> l = HELD.computeIfAbsent(new Key(ch.fileSystem(), ch.ino()), k -> new ArrayList<>());
        for (Held h : l) if (h.isValid() && h.overlaps(pos, size)) throw new OverlappingFileLockException();
        Held h = new Held(ch, pos, size, shared);
        l.add(h);
        return h;
    }

    static synchronized void releaseAll(ImageFileChannel ch) {
        List<Held> l = HELD.get(new Key(ch.fileSystem(), ch.ino()));
        if (l == null) return;
        l.removeIf(h -> h.channel() == ch);
        if (l.isEmpty()) HELD.remove(new Key(ch.fileSystem(), ch.ino()));
    }
}
