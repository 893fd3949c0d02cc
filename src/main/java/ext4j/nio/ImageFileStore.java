package ext4j.nio;

import ext4j.fs.StatFs;

import java.io.IOException;
import java.nio.file.FileStore;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileAttributeView;
import java.nio.file.attribute.FileOwnerAttributeView;
import java.nio.file.attribute.FileStoreAttributeView;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.Set;

/** The image as a FileStore: its label, its type (ext4, ext3, ext2), statfs's figures. */
final class ImageFileStore extends FileStore {
    static final Set<String> VIEWS = Set.of("basic", "posix", "owner", "unix", "user", "ext4");
    private final ImageFileSystem fs;

    ImageFileStore(ImageFileSystem fs) { this.fs = fs; }

    private StatFs statfs() throws IOException { return fs.vfs().statfs(); }

    @Override public String name() { return fs.label(); }
    @Override public String type() { return fs.type(); }
    @Override public boolean isReadOnly() { return fs.isReadOnly(); }
    @Override public long getTotalSpace() throws IOException { StatFs s = statfs(); return s.blocks() * s.blockSize(); }
    @Override public long getUsableSpace() throws IOException { StatFs s = statfs(); return s.availableBlocks() * s.blockSize(); }
    @Override public long getUnallocatedSpace() throws IOException { StatFs s = statfs(); return s.freeBlocks() * s.blockSize(); }
    @Override public long getBlockSize() throws IOException { return statfs().blockSize(); }

    @Override public boolean supportsFileAttributeView(Class<? extends FileAttributeView> type) {
        return type == BasicFileAttributeView.class || type == PosixFileAttributeView.class || type == FileOwnerAttributeView.class
                || type == UserDefinedFileAttributeView.class || type == Ext4FileAttributeView.class;
    }

    @Override public boolean supportsFileAttributeView(String name) { return VIEWS.contains(name); }

    @Override public <V extends FileStoreAttributeView> V getFileStoreAttributeView(Class<V> type) { return null; }

    @Override public Object getAttribute(String attribute) throws IOException {
        return switch (attribute) {
            case "totalSpace" -> getTotalSpace();
            case "usableSpace" -> getUsableSpace();
            case "unallocatedSpace" -> getUnallocatedSpace();
            case "blockSize" -> getBlockSize();
            default -> throw new UnsupportedOperationException("file store attribute '" + attribute + "'");
        };
    }

    @Override public String toString() { return name() + " (" + fs.image() + ")"; }
}
