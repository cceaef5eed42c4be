# Sourced by .ci/run, scripts/test, scripts/demo, scripts/torture and scripts/bench: makes sure Go is on PATH and
# the PostgreSQL server binaries (and pg_recvlogical) are installed, installing Debian's
# postgresql-15 when we are root and they are missing.
export PATH="/usr/local/go/bin:$PATH"

ensure_postgres() {
  local need=()
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || [ -n "${XEROSYNC_TEST_PG_BINDIR:-}" ] || need+=(postgresql-15)
  command -v pg_recvlogical >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_recvlogical >/dev/null 2>&1 || need+=(postgresql-client-15)
  if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "missing: ${need[*]}; install them (sudo apt-get install ${need[*]}) and run this again" >&2
      exit 1
    fi
    echo "installing ${need[*]} from Debian's packages…" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  fi
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    useradd --system --home /var/lib/postgresql --shell /bin/bash postgres
  fi
  command -v go >/dev/null 2>&1 || { echo "Go is not installed (expected at /usr/local/go)" >&2; exit 1; }
}
