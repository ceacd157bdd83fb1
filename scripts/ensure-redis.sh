#!/usr/bin/env bash
# ensure-redis.sh — make sure the Redis named by REDIS_URL answers PING.
#
# If REDIS_URL (default redis://127.0.0.1:6379) answers PING, nothing is changed. Otherwise,
# for a local host only: installs the Debian `redis-server` and `redis-tools` packages if
# redis-server is missing, and starts a redis-server daemon (no systemd needed) on the URL's
# port bound to 127.0.0.1 with appendonly yes and maxmemory-policy noeviction, data, log and
# pid file in MEDSCHEDULE_REDIS_DIR (default /var/lib/medschedule-redis).
# Idempotent; quiet unless it changes something; prints one "redis: ready" line.
# Exits non-zero with a message on failure.
set -euo pipefail

DEFAULT_URL='redis://127.0.0.1:6379'
REDIS_URL="${REDIS_URL:-$DEFAULT_URL}"
REDIS_DIR="${MEDSCHEDULE_REDIS_DIR:-/var/lib/medschedule-redis}"
READY_TIMEOUT="${MEDSCHEDULE_REDIS_READY_TIMEOUT:-30}"

say() { printf 'redis: %s\n' "$*"; }
die() { printf 'redis: ERROR: %s\n' "$*" >&2; exit 1; }
trap 'printf "redis: ERROR: unexpected failure (exit %s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR

# --- parse REDIS_URL ----------------------------------------------------------------------
parsed="$(node -e '
  let u;
  try { u = new URL(process.argv[1]); } catch { console.error("not a valid URL"); process.exit(1); }
  if (u.protocol !== "redis:") { console.error("only redis:// URLs are supported here (got " + u.protocol + ")"); process.exit(1); }
  const out = [u.hostname.replace(/^\[|\]$/g, "") || "127.0.0.1", u.port || "6379",
               decodeURIComponent(u.username), decodeURIComponent(u.password)];
  if (out.some((s) => s.includes("\n"))) { console.error("newline in URL part"); process.exit(1); }
  process.stdout.write(out.join("\n") + "\nend\n"); // sentinel: $(...) strips trailing empty lines
' "$REDIS_URL" 2>&1)" || die "cannot parse REDIS_URL: $parsed"
{ read -r R_HOST; read -r R_PORT; read -r R_USER; read -r R_PASS; } <<<"$parsed"
SAFE_URL="redis://${R_HOST}:${R_PORT}"

# PING over a raw socket (works before redis-tools is installed); AUTH first if the URL has a
# password. Prints the server version on success; fails on -LOADING, -NOAUTH, refusal, timeout.
ping_redis() {
  node -e '
    const net = require("node:net");
    const [host, port, user, pass] = process.argv.slice(1);
    const enc = (...a) => `*${a.length}\r\n` + a.map((s) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`).join("");
    const s = net.connect({ host, port: Number(port) });
    const fail = (m) => { console.error(m); process.exit(1); };
    s.setTimeout(2000, () => fail("timeout"));
    s.on("error", (e) => fail(e.message));
    s.on("close", () => fail("connection closed without +PONG"));
    s.on("connect", () => {
      let req = "";
      if (pass) req += user ? enc("AUTH", user, pass) : enc("AUTH", pass);
      req += enc("PING") + enc("INFO", "server");
      s.write(req);
    });
    let buf = "";
    s.on("data", (d) => {
      buf += d.toString("latin1");
      if (/^-/m.test(buf)) fail(buf.split("\r\n").find((l) => l.startsWith("-")));
      const m = /redis_version:([^\r\n]+)/.exec(buf);
      if (/\+PONG\r\n/.test(buf) && m) { process.stdout.write(m[1]); process.exit(0); }
    });
  ' "$R_HOST" "$R_PORT" "$R_USER" "$R_PASS" 2>/dev/null
}

report_ready() {
  local v="$1" extra=""
  command -v redis-server >/dev/null 2>&1 || extra=" (note: no redis-server on PATH; tests that start their own Redis need it)"
  say "ready at ${SAFE_URL} (Redis ${v})${extra}"
}

# --- fast path ----------------------------------------------------------------------------
if v="$(ping_redis)"; then report_ready "$v"; exit 0; fi

case "$R_HOST" in
  127.0.0.1|localhost|::1) ;;
  *) die "${SAFE_URL} does not answer and host ${R_HOST} is not local; not starting a server." ;;
esac

SUDO=()
if [[ $EUID -ne 0 ]] && ! command -v redis-server >/dev/null 2>&1; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
    die "redis-server is not installed and installing it needs root (or passwordless sudo)."
  fi
fi
# 9>&-: daemons started from here must not inherit (and so hold forever) the flock fd 9.
as_root() { "${SUDO[@]}" "$@" 9>&-; }

exec 9>/tmp/.medschedule-ensure-redis.lock
flock -w 300 9 || die "timed out waiting for another ensure-redis.sh run"
if v="$(ping_redis)"; then report_ready "$v"; exit 0; fi

APT_LOG="${TMPDIR:-/tmp}/medschedule-apt-redis.log"
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

# --- 1. binaries --------------------------------------------------------------------------
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  say "installing redis-server and redis-tools (apt)..."
  t0=$SECONDS
  apt_install redis-server redis-tools
  command -v redis-server >/dev/null 2>&1 || die "apt installed redis-server but it is not on PATH"
  say "installed $(redis-server --version | awk '{print $3}' | sed 's/^v=//') in $((SECONDS - t0)) s"
  # On hosts whose package scripts start services, the distro daemon (default config: no AOF)
  # may now hold the port. Stop it so ours, with the settings the tests expect, takes over.
  if [[ "$R_PORT" == 6379 ]] && ping_redis >/dev/null; then
    say "stopping the redis-server the package started (default config) ..."
    if [[ -x /etc/init.d/redis-server ]]; then as_root /etc/init.d/redis-server stop >/dev/null 2>&1 || true; fi
    for _ in $(seq 1 50); do ping_redis >/dev/null || break; sleep 0.1; done
  fi
  if v="$(ping_redis)"; then report_ready "$v"; exit 0; fi
fi

# --- 2. start our daemon ------------------------------------------------------------------
RUN_AS=()
OWNER="$(id -un)"
if [[ $EUID -eq 0 ]] && id redis >/dev/null 2>&1; then RUN_AS=(runuser -u redis --); OWNER=redis; fi
if [[ $EUID -ne 0 && ! -w "$(dirname "$REDIS_DIR")" && ! -d "$REDIS_DIR" ]]; then
  die "cannot create ${REDIS_DIR} as $(id -un); set MEDSCHEDULE_REDIS_DIR to a writable directory"
fi
install -d -m 0750 "$REDIS_DIR"
[[ $EUID -eq 0 ]] && chown "$OWNER" "$REDIS_DIR"
PIDFILE="$REDIS_DIR/redis-${R_PORT}.pid"
LOGFILE="$REDIS_DIR/redis-${R_PORT}.log"

pid="$(cat "$PIDFILE" 2>/dev/null || true)"
log_start=
# Alive, not a zombie (nothing may reap a daemon without an init), and a redis-server.
if [[ -n "$pid" ]] && [[ "$(ps -o stat= -p "$pid" 2>/dev/null)" != Z* ]] \
   && [[ "$(ps -o comm= -p "$pid" 2>/dev/null)" == redis* ]]; then
  say "redis-server (pid ${pid}) already running from ${REDIS_DIR}; waiting for it..."
else
  say "starting redis-server on ${R_HOST}:${R_PORT} (dir ${REDIS_DIR})..."
  rm -f "$PIDFILE"
  log_start=1; if [[ -f "$LOGFILE" ]]; then log_start=$(( $(wc -l <"$LOGFILE") + 1 )); fi
  bind=(127.0.0.1); [[ "$R_HOST" == "::1" ]] && bind=(::1)
  [[ "$R_HOST" == localhost ]] && bind=(127.0.0.1 -::1)  # "-": skip ::1 if IPv6 is unavailable
  args=(--port "$R_PORT" --bind "${bind[@]}" --daemonize yes --dir "$REDIS_DIR"
        --pidfile "$PIDFILE" --logfile "$LOGFILE"
        --appendonly yes --maxmemory-policy noeviction)
  [[ -n "$R_PASS" && -z "$R_USER" ]] && args+=(--requirepass "$R_PASS")
  [[ -n "$R_USER" && "$R_USER" != default ]] && args+=(--user "$R_USER" on ">$R_PASS" '~*' '&*' '+@all')
  [[ "$R_USER" == default && -n "$R_PASS" ]] && args+=(--requirepass "$R_PASS")
  # cd: the redis user may not be able to read the current directory.
  (cd "$REDIS_DIR" && "${RUN_AS[@]}" redis-server "${args[@]}") >/dev/null 9>&- \
    || { tail -n 20 "$LOGFILE" >&2 2>/dev/null || true; die "redis-server failed to start (log: ${LOGFILE})"; }
fi

deadline=$((SECONDS + READY_TIMEOUT))
until v="$(ping_redis)"; do
  # A daemon that fails (port taken, bad option) exits after forking: read its log, not $?.
  if [[ -n "$log_start" ]] && tail -n +"$log_start" "$LOGFILE" 2>/dev/null | grep -qE 'aborting|Fatal|FATAL CONFIG'; then
    echo "--- ${LOGFILE}:" >&2; tail -n +"$log_start" "$LOGFILE" | tail -n 20 >&2
    die "redis-server on ${R_HOST}:${R_PORT} failed to start"
  fi
  if (( SECONDS >= deadline )); then
    echo "--- last lines of ${LOGFILE}:" >&2; tail -n 20 "$LOGFILE" >&2 2>/dev/null || true
    die "redis-server on ${R_HOST}:${R_PORT} did not answer PING within ${READY_TIMEOUT} s"
  fi
  sleep 0.2
done
report_ready "$v"
