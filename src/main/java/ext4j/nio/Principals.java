package ext4j.nio;

import java.io.IOException;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.UserPrincipal;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.nio.file.attribute.UserPrincipalNotFoundException;

/**
 * Owners as numbers: an image carries uids and gids, not names (the host's passwd need not know
 * them). A name that is a number is that id; other names are looked up in the host's /etc/passwd
 * and /etc/group.
 */
final class Principals {
    private Principals() {}

    record User(long id) implements UserPrincipal { @Override public String getName() { return Long.toString(id); } @Override public String toString() { return getName(); } }
    record Group(long id) implements GroupPrincipal { @Override public String getName() { return Long.toString(id); } @Override public String toString() { return getName(); } }

    static long idOf(UserPrincipal p) throws IOException {
        if (p instanceof User u) return u.id();
        if (p instanceof Group g) return g.id();
        return lookup(p.getName(), p instanceof GroupPrincipal ? "/etc/group" : "/etc/passwd");
    }

    private static long lookup(String name, String file) throws IOException {
        try { return Long.parseLong(name); } catch (NumberFormatException notNumeric) { }
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of(file))) {
            String[] f = line.split(":");
            if (f.length > 2 && f[0].equals(name)) return Long.parseLong(f[2]);
        }
        throw new UserPrincipalNotFoundException(name);
    }

    static final UserPrincipalLookupService LOOKUP = new UserPrincipalLookupService() {
        @Override public UserPrincipal lookupPrincipalByName(String name) throws IOException { return new User(lookup(name, "/etc/passwd")); }
        @Override public GroupPrincipal lookupPrincipalByGroupName(String group) throws IOException { return new Group(lookup(group, "/etc/group")); }
    };
}
