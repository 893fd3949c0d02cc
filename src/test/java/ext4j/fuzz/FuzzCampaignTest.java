package ext4j.fuzz;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzzes every @FuzzTest for a few seconds (-Dext4j.fuzz.seconds=N, default 2; 0 skips; two at a
 * time, -Dext4j.fuzz.jobs=N), each in a
 * JVM of its own: Jazzer's JUnit integration fuzzes only one @FuzzTest per JVM (JAZZER_FUZZ=1),
 * and in the normal run the @FuzzTests themselves only replay their inputs. The child is Jazzer's
 * own driver running the @FuzzTest (--target_class/--target_method), with the corpus it grows kept in
 * target/fuzz-corpus and any crashing input written to the test's Inputs directory under
 * src/test/resources, where the next run replays it as a regression input.
 */
class FuzzCampaignTest {
    static final List<Class<?>> TARGET_CLASSES = List.of(ImageFuzzTest.class, OnDiskFuzzTest.class, JournalFuzzTest.class,
            VerityFuzzTest.class, ext4j.fuse.FuseFuzzTest.class);
    static final long SECONDS = Long.getLong("ext4j.fuzz.seconds", 2);

    @TestFactory
    Stream<DynamicTest> fuzzEachTarget() {
        org.junit.jupiter.api.Assumptions.assumeTrue(SECONDS > 0, "-Dext4j.fuzz.seconds=" + SECONDS + ": fuzzing is off");
        List<Method> targets = new ArrayList<>();
        for (Class<?> c : TARGET_CLASSES)
            for (Method m : c.getDeclaredMethods())
                if (m.isAnnotationPresent(com.code_intelligence.jazzer.junit.FuzzTest.class)) targets.add(m);
        targets.sort(java.util.Comparator.comparing(m -> m.getDeclaringClass().getSimpleName() + "." + m.getName()));
        // JOBS fuzzers at once (-Dext4j.fuzz.jobs, default 2): a child's start-up is most of a brief run
        var pool = java.util.concurrent.Executors.newFixedThreadPool(JOBS, r -> { Thread t = new Thread(r, "fuzz-campaign"); t.setDaemon(true); return t; });
        List<DynamicTest> tests = new ArrayList<>();
        for (Method m : targets) {
            var run = pool.submit(() -> { fuzz(m.getDeclaringClass(), m.getName()); return null; });
            tests.add(DynamicTest.dynamicTest(m.getDeclaringClass().getSimpleName() + "." + m.getName(), () -> {
                try {
                    run.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    if (e.getCause() instanceof Error err) throw err;
                    throw e.getCause();
                }
            }));
        }
        pool.shutdown();
        return tests.stream();
    }

    static final int JOBS = Integer.getInteger("ext4j.fuzz.jobs", 2);

    private static final Pattern DONE = Pattern.compile("#(\\d+)\\s+DONE\\s+cov: (\\d+) ft: (\\d+) corp: (\\d+)");

    static void fuzz(Class<?> target, String method) throws IOException, InterruptedException {
        Path root = Path.of("").toAbsolutePath();
        Path corpus = root.resolve("target/fuzz-corpus/" + target.getName() + "/" + method);
        Files.createDirectories(corpus);
        // a first corpus of random inputs a few hundred bytes long: libFuzzer grows an empty one a byte
        // at a time, and a short input is a single patch of one seed
        try (var listing = Files.list(corpus)) {
            if (listing.findAny().isEmpty()) {
                java.util.Random r = new java.util.Random(17);
                for (int i = 0; i < 24; i++) {
                    byte[] b = new byte[64 << (i % 3)];
                    r.nextBytes(b);
                    Files.write(corpus.resolve("random-" + i), b);
                }
            }
        }
        // crashing inputs go here (Jazzer writes findings into an existing source Inputs directory)
        Path inputs = root.resolve("src/test/resources/" + target.getPackageName().replace('.', '/') + "/" + target.getSimpleName() + "Inputs/" + method);
        Files.createDirectories(inputs);
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx1g", "-Xss4m", "--enable-native-access=ALL-UNNAMED", "-XX:+EnableDynamicAgentLoading",
                "-Dext4j.lockcheck=true", "-cp", cp, "com.code_intelligence.jazzer.Jazzer",
                "--target_class=" + target.getName(), "--target_method=" + method, "--instrumentation_includes=ext4j.**",
                "-max_total_time=" + SECONDS, "-timeout=" + (Contract.SECONDS + 20), "-rss_limit_mb=0", "-print_final_stats=1",
                // no libFuzzer RSS limit: its peak RSS comes from getrusage, which a child inherits from this
                // (large) test JVM, so every target "ran out of memory" at once in a full run; -Xmx1g bounds
                // the heap, and an OutOfMemoryError is a finding like any other
                // inputs at full length from the start: a short one patches one byte of one seed
                "-len_control=0", "-max_len=4096", corpus.toString()));
        Path log = root.resolve("target/fuzz-logs/" + target.getSimpleName() + "." + method + ".log");
        Files.createDirectories(log.getParent());
        Process p = new ProcessBuilder(cmd).directory(root.toFile()).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(SECONDS + 180, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(target.getSimpleName() + "." + method + ": the fuzzer did not stop; log " + log);
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        Matcher d = DONE.matcher(out);
        String stats = null;
        while (d.find()) stats = "executions " + d.group(1) + ", cov " + d.group(2) + ", ft " + d.group(3) + ", corpus " + d.group(4);
        System.out.println("fuzz " + target.getSimpleName() + "." + method + " for " + SECONDS + " s: " + (stats == null ? "no final stats" : stats) + " (log " + log + ")");
        String tail = out.length() > 6000 ? out.substring(out.length() - 6000) : out;
        assertEquals(0, p.exitValue(), target.getSimpleName() + "." + method + ": a finding (the input was written to " + inputs + ")\n" + tail);
        assertTrue(stats != null, "no DONE line from the fuzzer\n" + tail);
    }
}
