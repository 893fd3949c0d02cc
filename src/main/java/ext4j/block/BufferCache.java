package ext4j.block;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Whole metadata blocks of a device, cached (the buffer-head layer). Readers get read-only views;
 * the journal hands writable buffers to a handle and marks them dirty. Dirty blocks are pinned
 * (never evicted) until the journal writes them out. File data does not pass through here.
 *
 * <p>Copy-on-write for running handles: a handle edits private copies of its blocks (the
 * "shadows"), which only its own thread sees; other threads, the commit and the checkpoint read
 * the published bytes. The handle's stop publishes all its copies at once (a buffer swap, so a
 * view a reader already holds stays as it was), its abort drops them. So a reader on another
 * thread never sees a block half-edited, and a published buffer is never written again. Several
 * threads' handles may run at once; a block has one editing handle at a time, from its first
 * write access until that handle stops: another thread's write access to it throws
 * {@link BlockBusyException} (the journal undoes that handle and runs it again).
 */
public final class BufferCache {
    private static final class Buf {
        final ByteBuffer data;
        boolean dirty;
        volatile boolean verified;   // a reader checked its checksum (a published buffer never changes)
        volatile boolean referenced; // read without the lock since the last trim: a second chance before eviction
        Buf(ByteBuffer data) { this.data = data; }
    }

    private final BlockDevice dev;
    private final int blockSize;
    private final int capacity;
    private final LinkedHashMap<Long, Buf> map = new LinkedHashMap<>(1024, 0.75f, true);
    /** The same buffers, for reads that take no lock (a published buffer is never written again). */
    private final java.util.concurrent.ConcurrentHashMap<Long, Buf> index = new java.util.concurrent.ConcurrentHashMap<>();
    private int dirtyCount;
    /** Each running handle's private copies, by the handle's thread (only that thread reads its map). */
    private final java.util.concurrent.ConcurrentHashMap<Thread, Map<Long, ByteBuffer>> shadows = new java.util.concurrent.ConcurrentHashMap<>();
    /** The thread whose handle edits each shadowed block alone. */
    private final Map<Long, Thread> editor = new java.util.HashMap<>();
    /**
     * Merged edits (see {@link #writableMerged}): per thread, the bytes each such shadow started
     * from; per block, how many threads' handles edit it so.
     */
    private final Map<Thread, Map<Long, byte[]>> bases = new java.util.HashMap<>();
    private final Map<Long, Integer> mergers = new java.util.HashMap<>();
    /**
     * In place: handles edit the published buffers themselves (no private copies, nothing to undo).
     * Only for a filesystem one thread fills that nobody else reads meanwhile (mkfs -d): a reader
     * on another thread could see a block half-edited.
     */
    private boolean inPlace;

    private static final byte[] ZEROS = new byte[65536];

    public BufferCache(BlockDevice dev, int blockSize, int capacity) {
        this.dev = dev;
        this.blockSize = blockSize;
        this.capacity = capacity;
    }

    public int blockSize() { return blockSize; }

    /** See {@link #inPlace}: for handles without undo on a filesystem being filled by one thread. Switched between handles only. */
    public synchronized void editInPlace(boolean on) {
        if (!editor.isEmpty() || !mergers.isEmpty()) throw new IllegalStateException("a handle is running");
        inPlace = on;
    }
    public BlockDevice device() { return dev; }

    private synchronized Buf load(long block, boolean zero) throws IOException {
        Buf b = map.get(block);
        if (b != null) return b;
        ByteBuffer d = ByteBuffer.allocate(blockSize).order(ByteOrder.LITTLE_ENDIAN);
        if (!zero) { dev.read(block * blockSize, d); d.clear(); }
        b = new Buf(d);
        put(block, b);
        trim();
        return b;
    }

    /** Evicts clean blocks, least recently used first, down to the capacity. */
    private void trim() {
        if (map.size() <= capacity) return;
        for (int pass = 0; pass < 2 && map.size() > capacity; pass++) {
            Iterator<Map.Entry<Long, Buf>> it = map.entrySet().iterator();
            while (map.size() > capacity && it.hasNext()) {
                Map.Entry<Long, Buf> e = it.next();
                Buf b = e.getValue();
                if (b.dirty) continue;
                if (pass == 0 && b.referenced) { b.referenced = false; continue; } // read lately without the lock
                it.remove();
                index.remove(e.getKey(), b);
            }
        }
    }

    /** The calling thread's shadows, or null when it runs no handle that edited a block. */
    private Map<Long, ByteBuffer> mine() { return shadows.isEmpty() ? null : shadows.get(Thread.currentThread()); }

    /** The bytes this thread sees: its running handle's copy if it has one, else the published ones. */
    private ByteBuffer visible(long block, Buf b) {
        Map<Long, ByteBuffer> m = mine();
        if (m != null) {
            ByteBuffer s = m.get(block);
            if (s != null) {
                Map<Long, byte[]> myBases = bases.get(Thread.currentThread());
                byte[] base = myBases == null ? null : myBases.get(block);
                if (base != null) myBases.put(block, rebase(block, s, base)); // a merged copy: with what others published since
                return s;
            }
        }
        return b.data;
    }

    /** A read-only little-endian view of the block, positioned at 0. Cached blocks are found without the lock. */
    public ByteBuffer read(long block) throws IOException {
        Map<Long, ByteBuffer> m = mine();    // only this thread changes its map: read without the lock
        if (m == null || !m.containsKey(block)) {
            Buf b = index.get(block);
            if (b != null) {
                if (!b.referenced) b.referenced = true;
                return b.data.asReadOnlyBuffer().clear().order(ByteOrder.LITTLE_ENDIAN);
            }
        }
        synchronized (this) {
            return visible(block, load(block, false)).asReadOnlyBuffer().clear().order(ByteOrder.LITTLE_ENDIAN);
        }
    }

    private void put(long block, Buf b) {
        map.put(block, b);
        index.put(block, b);
    }

    /**
     * The calling thread's running handle's writable copy of the block (zero: a new block,
     * zero-filled), marked dirty. For the journal's handles only; see {@link #publish}.
     * @throws BlockBusyException another thread's running handle edits the block
     */
    public synchronized ByteBuffer writable(long block, boolean zero) throws IOException {
        Thread me = Thread.currentThread();
        Thread owner = editor.get(block);
        if (owner != null && owner != me) throw new BlockBusyException(block, owner);
        Map<Long, byte[]> myBases = bases.get(me);
        if (mergers.containsKey(block)) {         // edited merged: by another handle too, or by mine only (made sole editor)
            if (myBases == null || !myBases.containsKey(block) || mergers.get(block) > 1) throw new BlockBusyException(block, someMerger(block, me));
            rebase(block, shadows.get(me).get(block), myBases.remove(block));
            mergers.remove(block);
            editor.put(block, me);
        }
        Buf b = load(block, zero);
        if (!b.dirty) { b.dirty = true; dirtyCount++; }
        if (inPlace) {
            if (zero) b.data.put(0, ZEROS, 0, blockSize);
            b.verified = false;
            return b.data.duplicate().clear().order(ByteOrder.LITTLE_ENDIAN);
        }
        Map<Long, ByteBuffer> m = shadows.computeIfAbsent(me, t -> new java.util.HashMap<>());
        ByteBuffer s = m.get(block);
        if (s == null) {
            if (!zero && b.data.hasArray() && b.data.arrayOffset() == 0) // one pass: a copy of the array, not zeroing then copying
                s = ByteBuffer.wrap(java.util.Arrays.copyOf(b.data.array(), blockSize)).order(ByteOrder.LITTLE_ENDIAN);
            else {
                s = ByteBuffer.allocate(blockSize).order(ByteOrder.LITTLE_ENDIAN);
                if (!zero) s.put(0, b.data, 0, blockSize);
            }
            m.put(block, s);
            editor.put(block, me);
        } else if (zero) {
            s.put(0, ZEROS, 0, blockSize);
        }
        return s.duplicate().clear().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Write access that other threads' handles may share: for blocks whose concurrent editors
     * change disjoint bits (bitmaps, where allocation hands each handle its own bits; inode
     * tables, where each handle changes only inodes it holds). The handle edits its copy; each
     * access first brings the copy up to date with what other handles published meanwhile, and
     * the stop publishes only the bits this handle changed, over the latest published bytes (a
     * three-way merge, bit by bit). A block another handle edits alone is refused
     * ({@link BlockBusyException}), and so is a request to edit alone a block others edit merged.
     */
    public synchronized ByteBuffer writableMerged(long block) throws IOException {
        Thread me = Thread.currentThread();
        Thread owner = editor.get(block);
        if (owner != null && owner != me) throw new BlockBusyException(block, owner);
        Buf b = load(block, false);
        if (!b.dirty) { b.dirty = true; dirtyCount++; }
        if (inPlace) { b.verified = false; return b.data.duplicate().clear().order(ByteOrder.LITTLE_ENDIAN); }
        Map<Long, ByteBuffer> m = shadows.computeIfAbsent(me, t -> new java.util.HashMap<>());
        ByteBuffer s = m.get(block);
        if (owner == me) return s.duplicate().clear().order(ByteOrder.LITTLE_ENDIAN);   // mine alone already
        Map<Long, byte[]> myBases = bases.computeIfAbsent(me, t -> new java.util.HashMap<>());
        if (s == null) {
            byte[] base = published(b);
            s = ByteBuffer.wrap(base.clone()).order(ByteOrder.LITTLE_ENDIAN);
            m.put(block, s);
            myBases.put(block, base);
            mergers.merge(block, 1, Integer::sum);
        } else {
            myBases.put(block, rebase(block, s, myBases.get(block)));
        }
        return s.duplicate().clear().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * The published bytes of a block as an array, not copied where the buffer is one whole array:
     * a published buffer is never written again, so the array serves as a merged copy's base.
     */
    private byte[] published(Buf b) {
        ByteBuffer d = b.data;
        return d.hasArray() && d.arrayOffset() == 0 && d.array().length == blockSize ? d.array() : bytes(d);
    }

    /**
     * Brings shadow s (started from base) up to the published bytes, keeping the bits it changed;
     * returns the new base. Nothing to do while nobody else published the block since.
     */
    private byte[] rebase(long block, ByteBuffer s, byte[] base) {
        byte[] cur = published(map.get(block));
        if (cur == base) return base;
        byte[] mine = s.array();
        for (int i = 0; i < blockSize; i++) {
            int changed = mine[i] ^ base[i];
            mine[i] = (byte) ((cur[i] & ~changed) | (mine[i] & changed));
        }
        return cur;
    }

    private Thread someMerger(long block, Thread not) {
        for (Map.Entry<Thread, Map<Long, byte[]>> e : bases.entrySet())
            if (e.getKey() != not && e.getValue().containsKey(block)) return e.getKey();
        return not;
    }

    /** Whether the calling thread's handle edits the block alone (not merged). */
    public synchronized boolean isEditedAlone(long block) { return editor.get(block) == Thread.currentThread(); }

    /** The calling thread's running handle stopped: its copies become the published blocks, all at once. */
    public synchronized void publish() {
        Map<Long, ByteBuffer> m = shadows.remove(Thread.currentThread());
        Map<Long, byte[]> myBases = bases.remove(Thread.currentThread());
        if (m == null) return;
        for (Map.Entry<Long, ByteBuffer> e : m.entrySet()) {
            editor.remove(e.getKey());
            Buf b = map.get(e.getKey());
            byte[] base = myBases == null ? null : myBases.get(e.getKey());
            if (base != null) unmerge(e.getKey());
            if (b == null) continue;            // forgotten inside the handle
            if (base != null) rebase(e.getKey(), e.getValue(), base);   // only the bits this handle changed, over the latest
            Buf n = new Buf(e.getValue());
            n.dirty = b.dirty;
            put(e.getKey(), n);                 // a new Buf: readers holding the old bytes keep them unchanged
        }
    }

    /** The calling thread's running handle was undone: its copies are dropped, the published bytes never changed. */
    public synchronized void discard() {
        Map<Long, ByteBuffer> m = shadows.remove(Thread.currentThread());
        Map<Long, byte[]> myBases = bases.remove(Thread.currentThread());
        if (m != null) for (Long block : m.keySet()) editor.remove(block);
        if (myBases != null) for (Long block : myBases.keySet()) unmerge(block);
    }

    private void unmerge(long block) {
        mergers.computeIfPresent(block, (k, n) -> n > 1 ? n - 1 : null);
    }

    /** Whether a reader already checked this cached block's checksum (and nobody wrote it since). */
    public boolean isVerified(long block) {
        Buf b = index.get(block);
        return b != null && b.verified;
    }

    public void markVerified(long block) {
        Buf b = index.get(block);
        if (b != null) b.verified = true;
    }

    /**
     * Drops a block from the cache, dirty or not: it was freed and may be reused as file data.
     * @throws BlockBusyException another thread's running handle edits the block
     */
    public synchronized void forget(long block) {
        Thread me = Thread.currentThread();
        Thread owner = editor.get(block);
        if (owner != null && owner != me) throw new BlockBusyException(block, owner);
        Map<Long, byte[]> myBases = bases.get(me);
        boolean mineMerged = myBases != null && myBases.containsKey(block);
        if (mergers.containsKey(block) && (!mineMerged || mergers.get(block) > 1)) throw new BlockBusyException(block, someMerger(block, me));
        if (mineMerged) { myBases.remove(block); unmerge(block); }
        Map<Long, ByteBuffer> m = mine();
        if (m != null && m.remove(block) != null) editor.remove(block);
        Buf b = map.remove(block);
        index.remove(block);
        if (b != null && b.dirty) dirtyCount--;
    }

    /** A copy of the cached bytes of the block, or null if it is not cached. */
    public synchronized byte[] copyOf(long block) {
        Buf b = map.get(block);
        return b == null ? null : bytes(visible(block, b));
    }

    /** A copy of the block's published bytes (what readers see, not a running handle's copy), or null if it is not cached. */
    public synchronized byte[] publishedCopy(long block) {
        Buf b = map.get(block);
        return b == null ? null : bytes(b.data);
    }

    private byte[] bytes(ByteBuffer data) {
        byte[] c = new byte[blockSize];
        data.get(0, c);
        return c;
    }

    /** Puts back bytes saved by {@link #copyOf} (a handle being undone); published as a new buffer. */
    public synchronized void restore(long block, byte[] bytes) {
        Buf old = map.get(block);
        Buf b = new Buf(ByteBuffer.allocate(blockSize).order(ByteOrder.LITTLE_ENDIAN));
        b.data.put(0, bytes);
        if (old != null && old.dirty) b.dirty = true;
        put(block, b);
    }

    /** Drops every clean block (e.g. after another writer changed the device). */
    public synchronized void dropClean() {
        map.values().removeIf(b -> !b.dirty);
        index.values().removeIf(b -> !b.dirty);
    }

    public synchronized boolean contains(long block) { return map.containsKey(block); }

    public synchronized boolean isDirty(long block) {
        Buf b = map.get(block);
        return b != null && b.dirty;
    }

    public synchronized int dirtyCount() { return dirtyCount; }

    /** Block numbers of the dirty buffers, ascending. */
    public synchronized List<Long> dirtyBlocks() {
        List<Long> out = new ArrayList<>(dirtyCount);
        for (Map.Entry<Long, Buf> e : map.entrySet()) if (e.getValue().dirty) out.add(e.getKey());
        out.sort(null);
        return out;
    }

    /** A private copy of a dirty block's current bytes (for the journal's log). */
    public synchronized ByteBuffer snapshot(long block) {
        Buf b = map.get(block);
        ByteBuffer c = ByteBuffer.allocate(blockSize);
        c.put(b.data.duplicate().clear()).flip();
        return c;
    }

    /** Writes the block to its home location and marks it clean. */
    public synchronized void writeHome(long block) throws IOException {
        Buf b = map.get(block);
        if (b == null || !b.dirty) return;
        dev.write(block * blockSize, b.data.duplicate().clear());
        b.dirty = false;
        dirtyCount--;
    }

    /** Marks a block clean without writing it (the journal wrote its committed copy home). */
    public synchronized void markClean(long block) {
        Buf b = map.get(block);
        if (b != null && b.dirty) { b.dirty = false; dirtyCount--; }
    }

    /** Writes every dirty block home, in block order, consecutive blocks in one write, then trims the cache. */
    public synchronized void writeAllHome() throws IOException {
        List<Long> blocks = dirtyBlocks();
        int max = Math.max(1, (1 << 20) / blockSize);
        ByteBuffer run = null;
        for (int i = 0; i < blocks.size(); ) {
            int j = i + 1;
            while (j < blocks.size() && j - i < max && blocks.get(j) == blocks.get(j - 1) + 1) j++;
            if (j - i == 1) {
                writeHome(blocks.get(i));
            } else {
                if (run == null) run = ByteBuffer.allocate(max * blockSize);
                run.clear();
                for (int k = i; k < j; k++) run.put(map.get(blocks.get(k)).data.duplicate().clear());
                dev.write(blocks.get(i) * blockSize, run.flip());
                for (int k = i; k < j; k++) { map.get(blocks.get(k)).dirty = false; dirtyCount--; }
            }
            i = j;
        }
        trim();
    }
}
