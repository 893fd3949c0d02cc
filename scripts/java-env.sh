# Sourced by ./ext4j and ./run-tests: finds a Java 25+ JDK and exports JAVA_HOME.
# Order: $JAVA_HOME if it is 25 or newer, then Temurin 25 at its usual path.
_ext4j_java_major() {
  "$1/bin/java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1
}
_ext4j_find_java() {
  local cand
  for cand in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64; do
    [ -n "$cand" ] && [ -x "$cand/bin/java" ] || continue
    local major; major=$(_ext4j_java_major "$cand")
    if [ -n "$major" ] && [ "$major" -ge 25 ]; then
      export JAVA_HOME="$cand"; return 0
    fi
  done
  echo "ext4j: no Java 25 found: set JAVA_HOME to a JDK 25+ (Temurin 25 is expected at /usr/lib/jvm/temurin-25-jdk-amd64)" >&2
  return 1
}
# Maven 3.8 on Java 25 warns about sun.misc.Unsafe in its own Guava; keep the output clean.
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
