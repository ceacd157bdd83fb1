#!/usr/bin/env bash
# ensure-postgres.sh — make sure the PostgreSQL named by DATABASE_URL answers.
#
# If DATABASE_URL (default postgres://medschedule:medschedule@127.0.0.1:5432/medschedule)
# already accepts a login, nothing is changed. Otherwise, for a local host only:
#   * installs the Debian `postgresql` package if no server binaries exist,
#   * creates a cluster on the URL's port if there is none, and starts it,
#   * enables scram-sha-256 password login over TCP on 127.0.0.1 / ::1,
#   * sets max_connections (MEDSCHEDULE_PG_MAX_CONNECTIONS, default 300),
#   * creates/updates the role from the URL as SUPERUSER with the URL's password
#     (tests create and drop their own databases and need btree_gist),
#   * creates the URL's database.
# Idempotent; quiet unless it changes something; prints one "postgres: ready" line.
# Runs as root (or via passwordless sudo). Exits non-zero with a message on failure.
set -euo pipefail

DEFAULT_URL='postgres://medschedule:medschedule@127.0.0.1:5432/medschedule'
DATABASE_URL="${DATABASE_URL:-$DEFAULT_URL}"
MAX_CONNECTIONS="${MEDSCHEDULE_PG_MAX_CONNECTIONS:-300}"
READY_TIMEOUT="${MEDSCHEDULE_PG_READY_TIMEOUT:-30}"
PREFERRED_VERSION="${MEDSCHEDULE_PG_VERSION:-15}"
export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-3}"

say() { printf 'postgres: %s\n' "$*"; }
die() { printf 'postgres: ERROR: %s\n' "$*" >&2; exit 1; }
trap 'printf "postgres: ERROR: unexpected failure (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

# --- parse DATABASE_URL (node is always present: this runs under npm) -------------------
parsed="$(node -e '
  let u;
  try { u = new URL(process.argv[1]); } catch { console.error("not a valid URL"); process.exit(1); }
  if (!/^postgres(ql)?:$/.test(u.protocol)) { console.error("not a postgres:// URL"); process.exit(1); }
  const out = [
    u.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1",
    u.port || "5432",
    decodeURIComponent(u.username || "postgres"),
    decodeURIComponent(u.password || ""),
    decodeURIComponent(u.pathname.replace(/^\//, "")) || decodeURIComponent(u.username || "postgres"),
  ];
  if (out.some((s) => s.includes("\n"))) { console.error("newline in URL part"); process.exit(1); }
  process.stdout.write(out.join("\n") + "\nend\n"); // sentinel: $(...) strips trailing empty lines
' "$DATABASE_URL" 2>&1)" || die "cannot parse DATABASE_URL: $parsed"
{ read -r PGHOST_URL; read -r PORT; read -r DB_USER; read -r DB_PASS; read -r DB_NAME; } <<<"$parsed"
SAFE_URL="postgres://${DB_USER}@${PGHOST_URL}:${PORT}/${DB_NAME}"

# --- helpers ------------------------------------------------------------------------------
can_login() {
  command -v psql >/dev/null 2>&1 || return 1
  psql "$DATABASE_URL" -X -w -Atq -c 'select 1' >/dev/null 2>&1
}

server_version() { psql "$DATABASE_URL" -X -w -Atq -c 'show server_version' 2>/dev/null | awk '{print $1}'; }

# Report where a pg_dump/pg_restore matching the server's major version lives.
tools_note() {
  local sv major onpath bindir
  sv="$(server_version)"; major="${sv%%.*}"
  onpath="$(pg_dump --version 2>/dev/null | awk '{print $3}')" || true
  bindir="/usr/lib/postgresql/${major}/bin"
  if [[ -n "$onpath" && "${onpath%%.*}" == "$major" ]]; then
    printf 'server %s, pg_dump/pg_restore %s on PATH' "$sv" "$onpath"
  elif [[ -x "$bindir/pg_dump" && -x "$bindir/pg_restore" ]]; then
    printf 'server %s; pg_dump/pg_restore %s are in %s (PATH has %s)' "$sv" "$major" "$bindir" "${onpath:-none}"
  else
    printf 'server %s; WARNING: no pg_dump/pg_restore %s found (PATH has %s)' "$sv" "$major" "${onpath:-none}"
  fi
}

report_ready() {
  local warn=""
  local row
  row="$(psql "$DATABASE_URL" -X -w -Atq -F' ' -c \
    "select (select rolsuper from pg_roles where rolname = current_user), current_setting('max_connections')::int" 2>/dev/null)" || true
  read -r super maxc <<<"$row"
  [[ "${super:-}" == "t" ]] || warn+=" WARNING: role ${DB_USER} is not SUPERUSER (tests need CREATE DATABASE and btree_gist)."
  if [[ -n "${maxc:-}" && "$maxc" -lt 200 ]]; then warn+=" WARNING: max_connections=${maxc} (parallel tests want ~${MAX_CONNECTIONS})."; fi
  say "ready at ${SAFE_URL} ($(tools_note))${warn}"
}

SUDO=()
if [[ $EUID -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    die "${SAFE_URL} does not answer and setting up a local server needs root (or passwordless sudo). Start PostgreSQL yourself or set DATABASE_URL."
  fi
fi
# 9>&-: daemons started from here must not inherit (and so hold forever) the flock fd 9.
as_root() { "${SUDO[@]}" "$@" 9>&-; }
as_postgres() {
  if [[ $EUID -eq 0 ]]; then (cd / && runuser -u postgres -- "$@" 9>&-); else (cd / && sudo -n -u postgres -- "$@" 9>&-); fi
}

APT_LOG="${TMPDIR:-/tmp}/medschedule-apt-postgres.log"
apt_install() {
  local stamp=/tmp/.medschedule-apt-updated
  # One `apt-get update` per ~10 minutes is enough when both ensure-* scripts install.
  if [[ ! -f $stamp ]] || [[ -n "$(find "$stamp" -mmin +10 2>/dev/null)" ]]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=120 update >"$APT_LOG" 2>&1 \
      || { tail -n 20 "$APT_LOG" >&2; die "apt-get update failed (log: $APT_LOG)"; }
    touch "$stamp" 2>/dev/null || true
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=120 install "$@" >>"$APT_LOG" 2>&1 \
    || { tail -n 20 "$APT_LOG" >&2; die "apt-get install $* failed (log: $APT_LOG)"; }
}

# --- fast path ----------------------------------------------------------------------------
if can_login; then report_ready; exit 0; fi

case "$PGHOST_URL" in
  127.0.0.1|localhost|::1) ;;
  *) command -v psql >/dev/null 2>&1 || die "psql is not installed (apt-get install postgresql-client), so ${SAFE_URL} cannot be checked"
     die "${SAFE_URL} does not answer and host ${PGHOST_URL} is not local; not starting a server." ;;
esac

# Serialise concurrent runs (several CI jobs / terminals on one machine).
exec 9>/tmp/.medschedule-ensure-postgres.lock
flock -w 300 9 || die "timed out waiting for another ensure-postgres.sh run"
if can_login; then report_ready; exit 0; fi

# --- 1. server binaries -------------------------------------------------------------------
pick_version() {
  local v
  if [[ -x /usr/lib/postgresql/$PREFERRED_VERSION/bin/postgres ]]; then echo "$PREFERRED_VERSION"; return; fi
  v="$(ls -1 /usr/lib/postgresql 2>/dev/null | sort -n | while read -r d; do
        [[ -x /usr/lib/postgresql/$d/bin/postgres ]] && echo "$d"; done | tail -n 1)"
  echo "$v"
}
VER="$(pick_version)"
if [[ -z "$VER" ]] || ! command -v pg_ctlcluster >/dev/null 2>&1; then
  say "installing the postgresql package (apt)..."
  t0=$SECONDS
  apt_install postgresql
  VER="$(pick_version)"
  [[ -n "$VER" ]] || die "apt installed postgresql but no server binaries in /usr/lib/postgresql/*/bin"
  say "installed PostgreSQL ${VER} in $((SECONDS - t0)) s"
fi
BIN="/usr/lib/postgresql/${VER}/bin"

# --- 2. a cluster on the URL's port -------------------------------------------------------
# pg_lsclusters -h: "ver name port status owner datadir logfile"
CLUSTER_LINE="$(pg_lsclusters -h 2>/dev/null | awk -v p="$PORT" '$3 == p' | sort -k1,1nr | head -n 1)" || true
if [[ -z "$CLUSTER_LINE" ]]; then
  NAME=main
  if pg_lsclusters -h 2>/dev/null | awk -v v="$VER" '$1 == v && $2 == "main"' | grep -q .; then NAME=medschedule; fi
  say "creating cluster ${VER}/${NAME} on port ${PORT}..."
  as_root pg_createcluster --port "$PORT" "$VER" "$NAME" >/tmp/.medschedule-pg-createcluster.log 2>&1 \
    || { cat /tmp/.medschedule-pg-createcluster.log >&2; die "pg_createcluster ${VER} ${NAME} failed"; }
  CLUSTER_LINE="$(pg_lsclusters -h | awk -v p="$PORT" -v v="$VER" -v n="$NAME" '$1 == v && $2 == n && $3 == p')"
  [[ -n "$CLUSTER_LINE" ]] || die "cluster ${VER}/${NAME} was created but pg_lsclusters does not list it on port ${PORT}"
fi
read -r C_VER C_NAME _C_PORT C_STATUS _C_OWNER C_DATA C_LOG <<<"$CLUSTER_LINE"
CONF_DIR="/etc/postgresql/${C_VER}/${C_NAME}"
[[ -d "$CONF_DIR" ]] || die "cluster ${C_VER}/${C_NAME} has no config directory ${CONF_DIR}"
BIN="/usr/lib/postgresql/${C_VER}/bin"

# --- 3. configuration (TCP on localhost, password auth, max_connections) ------------------
changed_conf=0
conf_file="${CONF_DIR}/conf.d/90-medschedule.conf"
want_conf="# Written by medschedule scripts/ensure-postgres.sh (test/dev setup).
listen_addresses = 'localhost'
password_encryption = 'scram-sha-256'
max_connections = ${MAX_CONNECTIONS}"
if grep -Eq "^\s*include_dir\s*=\s*'conf\.d'" "${CONF_DIR}/postgresql.conf"; then
  if [[ "$(cat "$conf_file" 2>/dev/null || true)" != "$want_conf" ]]; then
    as_root install -d -o postgres -g postgres "${CONF_DIR}/conf.d"
    printf '%s\n' "$want_conf" | as_root tee "$conf_file" >/dev/null
    as_root chown postgres:postgres "$conf_file"
    changed_conf=1
  fi
else
  for kv in "listen_addresses=localhost" "password_encryption=scram-sha-256" "max_connections=${MAX_CONNECTIONS}"; do
    k="${kv%%=*}"; v="${kv#*=}"
    if [[ "$(pg_conftool -s "$C_VER" "$C_NAME" show "$k" 2>/dev/null || true)" != "$v" ]]; then
      as_root pg_conftool "$C_VER" "$C_NAME" set "$k" "$v"; changed_conf=1
    fi
  done
fi

hba="${CONF_DIR}/pg_hba.conf"
marker='# medschedule: password login over TCP on loopback'
if ! as_root grep -qF "$marker" "$hba"; then
  # pg_hba is first-match: put our lines first so an existing reject/ident line cannot shadow them.
  tmp="$(mktemp)"
  {
    echo "$marker"
    echo "host    all             all             127.0.0.1/32            scram-sha-256"
    echo "host    all             all             ::1/128                 scram-sha-256"
    echo "# end medschedule"
    as_root cat "$hba"
  } >"$tmp"
  as_root cp "$tmp" "$hba"; rm -f "$tmp"
  as_root chown postgres:postgres "$hba"
  changed_conf=1
fi

# --- 4. start (or restart to apply changes) -----------------------------------------------
as_root install -d -m 2775 -o postgres -g postgres /var/run/postgresql
wait_ready() {
  local deadline=$((SECONDS + READY_TIMEOUT))
  until "$BIN/pg_isready" -q -h /var/run/postgresql -p "$PORT"; do
    if (( SECONDS >= deadline )); then
      echo "--- last lines of ${C_LOG}:" >&2; as_root tail -n 30 "$C_LOG" >&2 || true
      die "cluster ${C_VER}/${C_NAME} not ready after ${READY_TIMEOUT} s"
    fi
    sleep 0.3
  done
}
if [[ "$C_STATUS" == online* ]] || "$BIN/pg_isready" -q -h /var/run/postgresql -p "$PORT"; then
  if (( changed_conf )); then
    cur_max="$(as_postgres psql -X -Atq -p "$PORT" -d postgres -c 'show max_connections' 2>/dev/null || echo 0)"
    cur_listen="$(as_postgres psql -X -Atq -p "$PORT" -d postgres -c 'show listen_addresses' 2>/dev/null || echo '')"
    if [[ "$cur_max" != "$MAX_CONNECTIONS" || "$cur_listen" != "localhost" ]]; then
      say "restarting cluster ${C_VER}/${C_NAME} to apply settings..."
      as_root pg_ctlcluster "$C_VER" "$C_NAME" restart -m fast || die "pg_ctlcluster ${C_VER} ${C_NAME} restart failed (log: ${C_LOG})"
    else
      as_root pg_ctlcluster "$C_VER" "$C_NAME" reload || die "pg_ctlcluster ${C_VER} ${C_NAME} reload failed"
    fi
  fi
else
  say "starting cluster ${C_VER}/${C_NAME} (${C_DATA}, port ${PORT})..."
  if ! as_root pg_ctlcluster "$C_VER" "$C_NAME" start >/tmp/.medschedule-pg-start.log 2>&1; then
    cat /tmp/.medschedule-pg-start.log >&2
    echo "--- last lines of ${C_LOG}:" >&2; as_root tail -n 30 "$C_LOG" >&2 || true
    die "pg_ctlcluster ${C_VER} ${C_NAME} start failed"
  fi
fi
wait_ready

# --- 5. role and database -----------------------------------------------------------------
[[ -n "$DB_PASS" ]] || die "DATABASE_URL has no password; TCP login needs one"
as_postgres psql -X -q -v ON_ERROR_STOP=1 -p "$PORT" -d postgres \
  -v u="$DB_USER" -v p="$DB_PASS" -v d="$DB_NAME" >/dev/null <<'SQL' || die "creating role/database failed"
SELECT format('CREATE ROLE %I', :'u') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'u') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN SUPERUSER PASSWORD %L', :'u', :'p') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'d', :'u') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'d') \gexec
SQL
say "ensured role ${DB_USER} (LOGIN SUPERUSER, password from the URL) and database ${DB_NAME}"

avail="$(as_postgres psql -X -Atq -p "$PORT" -d postgres -c "select count(*) from pg_available_extensions where name = 'btree_gist'")" || true
[[ "$avail" == "1" ]] || die "extension btree_gist is not available (install postgresql-contrib / postgresql-${C_VER})"

# --- 6. final check over TCP with the URL's credentials -----------------------------------
if ! can_login; then
  psql "$DATABASE_URL" -X -w -Atq -c 'select 1' >&2 || true
  die "cluster ${C_VER}/${C_NAME} is running but ${SAFE_URL} still refuses the login"
fi
report_ready
