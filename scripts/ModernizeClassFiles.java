import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassFileVersion;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.ClassModel;
import java.lang.classfile.ClassTransform;
import java.lang.classfile.CodeTransform;
import java.net.URLClassLoader;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * Build step (pom.xml, package phase, after the shade): rewrites the class files of the jar that
 * are older than Java 6 (class file version below 50: picocli's, built for Java 5) as version 52
 * with stack maps, computed by the JDK's ClassFile API. The JVM leaves such old classes out of the
 * AOT cache (they need the old type-inferring verifier), so every run loaded and verified
 * picocli's 175 classes from the jar: about 40 ms of each command's start. The bytecode itself is
 * not changed.
 *
 * <p>Usage: java scripts/ModernizeClassFiles.java JAR (rewritten in place).
 */
public class ModernizeClassFiles {
    public static void main(String[] args) throws IOException {
        Path jar = Path.of(args[0]);
        Path tmp = jar.resolveSibling(jar.getFileName() + ".modernized");
        int done = 0;
        try (URLClassLoader hierarchy = new URLClassLoader(new URL[]{jar.toUri().toURL()}, null);
             InputStream fin = Files.newInputStream(jar); ZipInputStream in = new ZipInputStream(fin);
             OutputStream fout = Files.newOutputStream(tmp); ZipOutputStream out = new ZipOutputStream(fout)) {
            ClassFile cf = ClassFile.of(ClassFile.StackMapsOption.GENERATE_STACK_MAPS,
                    ClassFile.ClassHierarchyResolverOption.of(ClassHierarchyResolver.defaultResolver()
                            .orElse(ClassHierarchyResolver.ofResourceParsing(hierarchy))));
            // the version element is replaced; every method body is rebuilt, which makes its stack map
            ClassTransform version = (cb, e) -> { if (e instanceof ClassFileVersion) cb.withVersion(ClassFile.JAVA_8_VERSION, 0); else cb.with(e); };
            ClassTransform upgrade = version.andThen(ClassTransform.transformingMethodBodies(CodeTransform.ACCEPT_ALL));
            for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
                byte[] b = in.readAllBytes();
                if (e.getName().endsWith(".class") && !e.getName().endsWith("module-info.class")) {
                    ClassModel m = cf.parse(b);
                    if (m.majorVersion() < ClassFile.JAVA_6_VERSION) {
                        b = cf.transformClass(m, upgrade);
                        done++;
                    }
                }
                ZipEntry o = new ZipEntry(e.getName());
                o.setTime(e.getTime());
                out.putNextEntry(o);
                out.write(b);
                out.closeEntry();
            }
        }
        Files.move(tmp, jar, StandardCopyOption.REPLACE_EXISTING);
        System.out.println("ModernizeClassFiles: " + done + " class files below version 50 rewritten as version 52 in " + jar);
    }
}
