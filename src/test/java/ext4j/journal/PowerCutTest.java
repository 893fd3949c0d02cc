package ext4j.journal;

import ext4j.testutil.Seeds;
import ext4j.block.MemoryBlockDevice;
import ext4j.block.RecordingBlockDevice;
import ext4j.block.RecordingBlockDevice.CutMode;
import ext4j.dir.DirEntry;
import ext4j.fs.Ext4FileSystem;
import ext4j.fs.Options;
import ext4j.base.FsException;
import ext4j.ondisk.Inode;
import ext4j.testutil.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Power cuts at recorded device operations during a random workload with fsyncs: after recovery
 * the filesystem is e2fsck-clean, its namespace equals the model's state after some operation
 * between the last completed sync and the cut, and nothing synced is lost. File data goes through
 * the buffered I/O engine (delayed allocation, written back at sync), so a file written since the
 * last sync may show any of its sizes and contents since then, partly: each of its bytes must be
 * zero or a byte the workload wrote at that offset of that file (never stale data from a freed
 * block); every other file must match byte for byte.
 * Every cut point of each workload is checked (about 800 per workload; e2fsck -fy compares its own
 * replay on every tenth). -Dext4j.workloads=N sets the number of workloads (default 3; 300 gives a
 * long run of about 240,000 cuts), -Dext4j.seed=N replays one workload, -Dext4j.cuts=N samples N
 * cut points per workload instead of all.
 */
class PowerCutTest {
    @TempDir Path tmp;

    /** The model: path -> "d", "f:" + sha256 of contents, or "l:" + target; and path + XATTR + name -> "x:" + sha256 of the value. */
    private final TreeMap<String, String> model = new TreeMap<>();
    private final TreeMap<String, byte[]> files = new TreeMap<>();

    /** Separates a path from an xattr name in the model's keys (no path holds it). */
    private static final String XATTR = "\u0000xattr ";

    /** Whether this workload sets and removes xattrs (an ea_inode image). */
    private boolean eaInode;

    private static String sha(byte[] b) throws Exception { return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b)); }

    /** Paths whose data was changed in place since the last sync. */
    private final java.util.Set<String> volatileFiles = new java.util.TreeSet<>();

    /** Metadata of the model: path -> type and size or target. */
    private String meta() {
        TreeMap<String, String> m = new TreeMap<>();
        model.forEach((k, v) -> m.put(k, v.startsWith("f:") ? "f" + files.get(k).length : v));
        return m.toString();
    }

    /** File identity per path (kept across renames), so a renamed file's earlier contents count as its own. */
    private final TreeMap<String, Integer> ids = new TreeMap<>();
    private int nextId;

    /** What each operation did, by the number of the state it produced (printed for a failing cut). */
    private final TreeMap<Integer, String> log = new TreeMap<>();
    private List<State> states;

    private void log(String what) { log.merge(states.size(), what, (a, b) -> a + "; " + b); }

    private record State(String meta, TreeMap<String, String> contents, java.util.Set<String> volatileFiles,
                         TreeMap<String, byte[]> data, TreeMap<String, Integer> ids) {}

    private State digest() {
        return new State(meta(), new TreeMap<>(model), new java.util.TreeSet<>(volatileFiles), new TreeMap<>(files), new TreeMap<>(ids));
    }

    /** Every byte of got is zero or what some state in [from, to) had at that offset of the same file. */
    private static boolean noStaleBytes(byte[] got, int id, List<State> states, int from, int to) {
        List<byte[]> seen = new ArrayList<>();
        for (int j = from; j <= to; j++)
            for (var e : states.get(j).ids().entrySet()) if (e.getValue() == id) seen.add(states.get(j).data().get(e.getKey()));
        int max = 0;
        for (byte[] a : seen) max = Math.max(max, a.length);
        if (got.length > max) return false;
        for (int i = 0; i < got.length; i++) {
            if (got[i] == 0) continue;
            boolean found = false;
            for (byte[] a : seen) if (a.length > i && a[i] == got[i]) { found = true; break; }
            if (!found) return false;
        }
        return true;
    }

    @Test
    void everyCutRecoversToASyncedOrLaterState() throws Exception {
        int workloads = Integer.getInteger("ext4j.workloads", 3);
        int cuts = Integer.getInteger("ext4j.cuts", 0);
        boolean fixed = Seeds.fixed();
        long first = Seeds.draw();
        int total = 0;
        for (int w = 0; w < (fixed ? 1 : workloads); w++) total += runWorkload(first + w, cuts);
        System.out.println("PowerCutTest: " + total + " cut points over " + (fixed ? 1 : workloads) + " workloads, no failure");
    }

    /**
     * One workload on an inline_data image with small files and writes (most stay in the inode, some
     * outgrow it, directories fill their inode and move to a block), 200 sampled cut points checked.
     */
    @Test
    void inlineDataCutsRecoverToASyncedOrLaterState() throws Exception {
        inline = true;
        long seed = Seeds.draw();
        int total = runWorkload(seed, Integer.getInteger("ext4j.cuts", 200)); // sampled: all (-Dext4j.cuts=0) take about 90 s
        System.out.println("PowerCutTest inline_data: " + total + " cut points, no failure");
    }

    /** The workload runs on an inline_data image with sizes around what an inode holds. */
    private boolean inline;

    /** One random workload on a fresh image, then a check at each cut point (all of them when cuts is 0); returns the count. */
    private int runWorkload(long seed, int cuts) throws Exception {
        model.clear(); files.clear(); volatileFiles.clear(); ids.clear(); log.clear();
        Seeds.derived("PowerCutTest workload", seed);
        Random rnd = new Random(seed);
        Path img = tmp.resolve("base.img");
        // every other seed on an orphan_file image (big truncates and deletes go through the orphan file); -Dext4j.orphanFile fixes it
        boolean orphanFile = Boolean.parseBoolean(System.getProperty("ext4j.orphanFile", String.valueOf((seed & 1) == 0)));
        if (orphanFile) System.out.println("  on an orphan_file image");
        // every third seed on an ea_inode image, with xattrs of up to 64 KiB set and removed (values in EA inodes); -Dext4j.eaInode fixes it
        // (not with the inline_data run, which has its own image)
        eaInode = !inline && Boolean.parseBoolean(System.getProperty("ext4j.eaInode", String.valueOf(seed % 3 == 0)));
        if (eaInode) System.out.println("  on an ea_inode image, with xattr workload");
        String features = (orphanFile ? "orphan_file" : "^orphan_file") + (eaInode ? ",ea_inode" : "") + (inline ? ",inline_data" : "");
        String bs = rnd.nextBoolean() ? "1024" : "4096";
        if (inline) Tools.mke2fs(img, null, "16M", "-t", "ext4", "-b", bs, "-I", "256", "-O", features);
        else Tools.mke2fs(img, null, "16M", "-t", "ext4", "-b", bs, "-O", features);
        byte[] base = Files.readAllBytes(img);
        RecordingBlockDevice dev = new RecordingBlockDevice(base, "recorded");

        states = new ArrayList<>();                 // states.get(j): the tree after j operations
        List<Integer> opEnd = new ArrayList<>();    // device operations issued when operation j finished (j >= 1)
        List<Integer> syncAt = new ArrayList<>();   // operation numbers that were syncs
        model.put("/", "d");
        states.add(digest());
        opEnd.add(0);
        try (Ext4FileSystem fs = Ext4FileSystem.openReadWrite(dev, Options.defaults().withCommitMillis(0))) {   // commits only at sync
            int base0 = dev.opCount();
            opEnd.set(0, base0);
            for (int op = 1; op <= 160; op++) {
                Runnable mark = () -> { states.add(digest()); opEnd.add(dev.opCount()); };
                if (rnd.nextInt(8) == 0) { log("sync"); fs.sync(); syncAt.add(states.size()); volatileFiles.clear(); }
                else randomOp(fs, rnd, mark);
                mark.run();
            }
            if (inline) {                                   // the workload really kept files and directories inline
                int n = 0;
                for (String p : model.keySet()) if (!model.get(p).startsWith("l:") && fs.resolve(p, false).hasFlag(Inode.FL_INLINE_DATA)) n++;
                System.out.println("  " + n + " of " + model.size() + " files and directories inline at the end");
                assertTrue(n > 0);
            }
        }
        int devOps = dev.opCount();
        System.out.println("  " + (states.size() - 1) + " states, " + syncAt.size() + " syncs, " + devOps + " device operations");

        List<Integer> points = new ArrayList<>();
        for (int n = opEnd.get(0); n <= devOps; n++) points.add(n);
        if (cuts > 0 && points.size() > cuts) {
            java.util.Collections.shuffle(points, rnd);
            points = new ArrayList<>(points.subList(0, cuts));
            points.sort(null);
        }
        int checked = 0, e2fsckCompared = 0;
        CutMode[] modes = CutMode.values();
        for (int n : points) {
            CutMode mode = modes[rnd.nextInt(modes.length)];
            byte[] state = dev.stateAt(n, mode, new Random(seed ^ n));
            int lastDone = 0, lastSync = 0;
            for (int j = 0; j < opEnd.size(); j++) if (opEnd.get(j) <= n) lastDone = j;
            for (int s : syncAt) if (opEnd.get(s) <= n) lastSync = s;
            String where = "seed=" + seed + " cut after device op " + n + " (" + mode + "), last sync op " + lastSync + ", last finished op " + lastDone;
            Path cut = tmp.resolve("cut.img");
            Files.write(cut, state);
            Path keep = Path.of("/tmp/powercut-" + seed + "-" + n + ".img");
            Files.write(keep, state); // removed below unless the check fails, so a failure can be examined
            where += " (image before recovery kept at " + keep + ")";
            boolean withE2fsck = checked % 10 == 0;
            Path cut2 = tmp.resolve("cut-e2fsck.img");
            if (withE2fsck) Files.write(cut2, state);
            Ext4FileSystem.recover(cut);                                    // ext4j's own replay (and orphans)
            Tools.Result clean = Tools.run("e2fsck", "-fn", cut.toString());
            assertEquals(0, clean.exit(), where + ": e2fsck -fn after ext4j recovery:\n" + clean.out());
            assertNull(Tools.fsckFinding(clean.out()), where + ": e2fsck -fn after ext4j recovery:\n" + clean.out());
            TreeMap<String, byte[]> gotData = new TreeMap<>();
            TreeMap<String, String> got = readTree(cut, gotData);
            if (withE2fsck) {                                               // e2fsck's replay must give the same tree
                Tools.Result fix = Tools.run("e2fsck", "-fy", cut2.toString());
                assertTrue(fix.exit() <= 1, where + ": e2fsck -fy exit " + fix.exit() + "\n" + fix.out());
                // with orphan_file, e2fsck -fy clears orphan_present over an empty orphan file after any crash, Linux's too
                // (the kernel sets the flag at a read-write mount): that is replay, not repair
                String repairs = fix.out().replace("Feature orphan_present is set but orphan file is clean.\nClear? yes", "");
                assertFalse(repairs.contains("? yes"), where + ": e2fsck had to repair more than replay the journal:\n" + fix.out());
                assertEquals(got, readTree(cut2, new TreeMap<>()), where + ": ext4j and e2fsck recover different trees");
                e2fsckCompared++;
            }
            String gotMeta = metaOf(got);
            // Volatile by file identity: data overwritten in place is not ordered with a rename (as in
            // ext4's data=ordered), so a file renamed and then changed may show new bytes under its old name.
            java.util.Set<Integer> anyVolatile = new java.util.TreeSet<>();
            int last = Math.min(lastDone + 1, states.size() - 1);
            for (int j = lastSync; j <= last; j++) for (String v : states.get(j).volatileFiles()) anyVolatile.add(states.get(j).ids().get(v));
            boolean ok = false;
            for (int j = lastSync; j <= last && !ok; j++) {
                State st = states.get(j);
                if (!st.contents().keySet().equals(got.keySet())) continue;
                ok = true;
                for (var e : st.contents().entrySet()) {
                    String want = e.getValue(), have = got.get(e.getKey());
                    if (!want.startsWith("f:")) ok &= want.equals(have);
                    else if (!have.startsWith("f")) ok = false;
                    else if (!anyVolatile.contains(st.ids().get(e.getKey()))) ok &= want.equals(have.replaceFirst("^f\\d+:", "f:"));
                    else ok &= noStaleBytes(gotData.get(e.getKey()), st.ids().get(e.getKey()), states, lastSync, last);
                }
            }
            StringBuilder ops = new StringBuilder();
            log.subMap(lastSync, true, last, true).forEach((k, v) -> ops.append("\n  op ").append(k).append(" (ends at device op ").append(opEnd.get(k)).append("): ").append(v));
            assertTrue(ok, where + ": recovered tree matches no state between the last sync and the cut:\n" + gotMeta + "\nlast synced state:\n" + states.get(lastSync).meta() + "\noperations since:" + ops);
            Files.delete(keep);
            checked++;
        }
        System.out.println("  " + checked + " cut points recovered by ext4j, e2fsck -fn clean, each at or after the last sync; "
                + e2fsckCompared + " also recovered by e2fsck -fy to the same tree");
        return checked;
    }

    /** path -> "d", "l:target" or "f" + size + ":" + sha256. */
    private TreeMap<String, String> readTree(Path image, TreeMap<String, byte[]> data) throws Exception {
        TreeMap<String, String> t = new TreeMap<>();
        try (Ext4FileSystem fs = Ext4FileSystem.openReadOnly(image)) { walk(fs, fs.inode(Inode.ROOT), "/", t, data); }
        return t;
    }

    private static String metaOf(TreeMap<String, String> tree) {
        TreeMap<String, String> m = new TreeMap<>();
        tree.forEach((k, v) -> m.put(k, v.startsWith("f") && !v.startsWith("f:") ? v.substring(0, v.indexOf(':')) : v));
        return m.toString();
    }

    private void walk(Ext4FileSystem fs, Inode dir, String path, TreeMap<String, String> out, TreeMap<String, byte[]> data) throws Exception {
        out.put(path, "d");
        for (var x : fs.xattrs(dir)) out.put(path + XATTR + x.name(), "x:" + sha(x.value()));
        for (DirEntry e : fs.list(dir)) {
            String name = e.name();
            if (name.equals(".") || name.equals("..") || (path.equals("/") && name.equals("lost+found"))) continue;
            String p = path.equals("/") ? "/" + name : path + "/" + name;
            Inode in = fs.inode(e.inode());
            if (!in.isDir()) for (var x : fs.xattrs(in)) out.put(p + XATTR + x.name(), "x:" + sha(x.value()));
            if (in.isDir()) walk(fs, in, p, out, data);
            else if (in.isSymlink()) out.put(p, "l:" + new String(fs.readlink(in), StandardCharsets.UTF_8));
            else {
                ByteBuffer b = ByteBuffer.allocate((int) in.size());
                while (b.hasRemaining() && fs.read(in, b.position(), b) > 0) { }
                out.put(p, "f" + in.size() + ":" + sha(b.array()));
                data.put(p, b.array());
            }
        }
    }

    // ---- workload ----

    private List<String> paths(String kind) {
        List<String> out = new ArrayList<>();
        for (var e : model.entrySet()) if (e.getValue().startsWith(kind)) out.add(e.getKey());
        return out;
    }

    private static String child(String dir, String name) { return dir.equals("/") ? "/" + name : dir + "/" + name; }

    /** One random change; mark records an intermediate state when a change takes two calls (create, then write). */
    private void randomOp(Ext4FileSystem fs, Random rnd, Runnable mark) throws Exception {
        List<String> dirs = paths("d"), fl = paths("f");
        String dir = dirs.get(rnd.nextInt(dirs.size()));
        String name = "n" + rnd.nextInt(40) + (inline ? "x".repeat(rnd.nextInt(12)) : "");
        String p = child(dir, name);
        int kind = rnd.nextInt(eaInode ? 13 : 10);
        try {
            if (kind == 0 && !model.containsKey(p)) { log("mkdir " + p); fs.mkdir(p, 0755, 0, 0); model.put(p, "d"); }
            else if (kind <= 3 && !model.containsKey(p)) {
                byte[] d = new byte[inline ? (rnd.nextInt(4) == 0 ? rnd.nextInt(3000) : rnd.nextInt(130))
                        : rnd.nextInt(3) == 0 ? rnd.nextInt(200_000) : rnd.nextInt(5000)];
                rnd.nextBytes(d);
                log("create " + p); fs.createFile(p, 0644, 0, 0);
                model.put(p, "f:" + sha(new byte[0])); files.put(p, new byte[0]); ids.put(p, nextId++);
                volatileFiles.add(p);
                mark.run();
                log("write " + p + " 0+" + d.length); fs.write(p, 0, ByteBuffer.wrap(d));
                model.put(p, "f:" + sha(d)); files.put(p, d);
            } else if (kind <= 5 && !fl.isEmpty()) {
                String f = fl.get(rnd.nextInt(fl.size()));
                byte[] old = files.get(f);
                int at = rnd.nextInt(old.length + (inline ? 100 : 10_000));
                volatileFiles.add(f);
                byte[] w = new byte[1 + rnd.nextInt(inline ? (rnd.nextInt(4) == 0 ? 3000 : 60) : 20_000)];
                rnd.nextBytes(w);
                log("write " + f + " " + at + "+" + w.length); fs.write(f, at, ByteBuffer.wrap(w));
                byte[] now = java.util.Arrays.copyOf(old, Math.max(old.length, at + w.length));
                System.arraycopy(w, 0, now, at, w.length);
                model.put(f, "f:" + sha(now)); files.put(f, now);
            } else if (kind == 6 && !fl.isEmpty()) {
                String f = fl.get(rnd.nextInt(fl.size()));
                int size = rnd.nextInt(files.get(f).length + 1);
                volatileFiles.add(f);
                log("truncate " + f + " " + size); fs.truncate(f, size);
                byte[] now = java.util.Arrays.copyOf(files.get(f), size);
                model.put(f, "f:" + sha(now)); files.put(f, now);
            } else if (kind == 7 && !fl.isEmpty()) {
                String f = fl.get(rnd.nextInt(fl.size()));
                log("unlink " + f); fs.unlink(f);
                model.remove(f); files.remove(f); volatileFiles.remove(f); ids.remove(f);
                model.keySet().removeIf(k -> k.startsWith(f + XATTR));
            } else if (kind == 8 && !fl.isEmpty() && !model.containsKey(p)) {
                String f = fl.get(rnd.nextInt(fl.size()));
                log("rename " + f + " " + p); fs.rename(f, p);
                model.put(p, model.remove(f)); files.put(p, files.remove(f)); ids.put(p, ids.remove(f));
                for (String k : new ArrayList<>(model.subMap(f + XATTR, f + XATTR + "\uffff").keySet())) model.put(p + k.substring(f.length()), model.remove(k));
                if (volatileFiles.remove(f)) volatileFiles.add(p);
            } else if (kind == 9 && !model.containsKey(p)) {
                String target = "t" + rnd.nextInt(1000) + "x".repeat(rnd.nextInt(3) == 0 ? 100 : 1);
                log("symlink " + p); fs.symlink(p, target.getBytes(), 0, 0);
                model.put(p, "l:" + target);
            } else if (kind >= 10 && kind <= 11) {            // set an xattr on a file or directory: in the inode, the block or an EA inode
                List<String> owners = new ArrayList<>(fl);
                owners.addAll(dirs);
                String o = owners.get(rnd.nextInt(owners.size())), n = "user.x" + rnd.nextInt(6);
                byte[] v = new byte[rnd.nextInt(3) == 0 ? rnd.nextInt(100) : rnd.nextInt(65537)];
                rnd.nextBytes(v);
                log("setxattr " + o + " " + n + " " + v.length); fs.setXattr(o, n, v, 0, false);
                model.put(o + XATTR + n, "x:" + sha(v));
            } else if (kind == 12) {
                List<String> xs = new ArrayList<>();
                for (String k : model.keySet()) if (k.contains(XATTR)) xs.add(k);
                if (xs.isEmpty()) return;
                String k = xs.get(rnd.nextInt(xs.size()));
                String o = k.substring(0, k.indexOf(XATTR)), n = k.substring(k.indexOf(XATTR) + XATTR.length());
                log("removexattr " + o + " " + n); fs.removeXattr(o, n, false);
                model.remove(k);
            }
        } catch (FsException e) {
            fail("unexpected " + e.getMessage() + " in the workload");
        }
    }
}
