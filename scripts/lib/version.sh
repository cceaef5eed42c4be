# Sourced by scripts/build and scripts/package: sets XEROSYNC_VERSION (git describe of HEAD,
# e.g. v1.2.0 or v1.2.0-3-gabc1234, with -dirty for uncommitted changes), XEROSYNC_COMMIT (the
# full hash) and XEROSYNC_LDFLAGS, which stamp both into the binary for `xerosync version`.
# Before the first release tag the version is v0.0.0-N-gHASH, N the number of commits, so that
# later builds still sort after earlier ones.
xerosync_version() {
  local describe count
  if ! git rev-parse --git-dir >/dev/null 2>&1; then
    XEROSYNC_VERSION=v0.0.0-unknown XEROSYNC_COMMIT=unknown # a source tarball: no history
  else
    XEROSYNC_COMMIT=$(git rev-parse HEAD)
    if describe=$(git describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
      XEROSYNC_VERSION=$describe
    else
      count=$(git rev-list --count HEAD)
      XEROSYNC_VERSION="v0.0.0-$count-g$(git rev-parse --short=7 HEAD)"
      git diff --quiet HEAD 2>/dev/null || XEROSYNC_VERSION+=-dirty
    fi
  fi
  local pkg=github.com/softbooq/xerosync/daemon
  XEROSYNC_LDFLAGS="-X $pkg.version=$XEROSYNC_VERSION -X $pkg.commit=$XEROSYNC_COMMIT"
}
xerosync_version
