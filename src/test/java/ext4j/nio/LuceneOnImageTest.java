package ext4j.nio;

import ext4j.testutil.Tools;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StringField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.store.Directory;
import org.apache.lucene.store.NIOFSDirectory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Apache Lucene as a real NIO client: an index written inside an image through the provider
 * (NIOFSDirectory: positional channel reads, fsync of files and of the directory, atomic renames,
 * a native lock file with tryLock), committed, merged, searched, the image closed, checked by
 * e2fsck and searched again after reopening. MMapDirectory is not used: the provider has no file
 * mapping (FileChannel.map throws UnsupportedOperationException).
 */
class LuceneOnImageTest {
    @TempDir Path tmp;

    @Test
    void aLuceneIndexLivesInsideAnImage() throws Exception {
        Path img = tmp.resolve("lucene.img");
        Tools.mke2fs(img, null, "128M", "-t", "ext4");
        int docs = 3000;
        try (FileSystem fs = FileSystems.newFileSystem(img)) {
            Path dir = Files.createDirectories(fs.getPath("/index"));
            try (Directory d = new NIOFSDirectory(dir); IndexWriter w = new IndexWriter(d, new IndexWriterConfig().setMaxBufferedDocs(200))) {
                for (int i = 0; i < docs; i++) {
                    Document doc = new Document();
                    doc.add(new StringField("id", "doc" + i, Field.Store.YES));
                    doc.add(new TextField("body", "word" + (i % 7) + " common text number " + i, Field.Store.NO));
                    w.addDocument(doc);
                    if (i % 1000 == 999) w.commit();
                }
                w.deleteDocuments(new Term("id", "doc5"));
                w.forceMerge(1);
                w.commit();
            }
            try (Directory d = new NIOFSDirectory(dir); DirectoryReader r = DirectoryReader.open(d)) {
                IndexSearcher s = new IndexSearcher(r);
                assertEquals(docs - 1, r.numDocs());
                assertEquals(docs - 1, s.count(new TermQuery(new Term("body", "common"))));
                long word5 = java.util.stream.IntStream.range(0, docs).filter(i -> i % 7 == 5).count();
                assertEquals(word5 - 1, s.count(new TermQuery(new Term("body", "word5"))), "doc5 was deleted");
            }
        }
        Tools.assertFsckClean(img);
        try (FileSystem fs = FileSystems.newFileSystem(img, java.util.Map.of("readOnly", "true"));
             Directory d = new NIOFSDirectory(fs.getPath("/index")); DirectoryReader r = DirectoryReader.open(d)) {
            assertEquals(docs - 1, new IndexSearcher(r).count(new TermQuery(new Term("body", "common"))), "the committed index reads back from a read-only open");
        }
    }
}
