/**
 * ext4j: ext2/ext3/ext4 images read and written from Java. The public API is the core
 * ({@code ext4j.fs.Ext4Vfs} and its value types, errors in {@code ext4j.base}) and the
 * java.nio.file provider ({@code ext4j.nio}, scheme "ext4j"); everything else is internal.
 */
module ext4j {
    requires jdk.security.auth;          // the JVM's uid and groups, for the NIO provider's checkAccess
    requires static info.picocli;        // the command line only: the library needs no CLI library

    exports ext4j.base;
    exports ext4j.fs;
    exports ext4j.nio;

    opens ext4j.cli to info.picocli;

    provides java.nio.file.spi.FileSystemProvider with ext4j.nio.ImageFileSystemProvider;
}
