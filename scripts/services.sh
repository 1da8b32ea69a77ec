#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis that Cartable needs are reachable, starting local ones when
# nothing answers. Prints one line per decision. Safe to run again at any time.
#
#   bash scripts/services.sh        run alone
#   source scripts/services.sh      from another bash script: also exports DATABASE_URL and
#                                   REDIS_URL (and, like any failure here, an error ends the caller)
#
# PostgreSQL, in this order:
#   1. DATABASE_URL is set: use it (it must answer).
#   2. Something answers on 127.0.0.1:$CARTABLE_PG_PORT (5432): use it as the `postgres` user.
#   3. Otherwise start a local server with its data in $CARTABLE_DATA_DIR/postgres, listening on
#      127.0.0.1 only, trust auth; as root, install Debian's `postgresql` first if needed and run
#      the server as the `postgres` user (PostgreSQL refuses to run as root).
#   Then create the database named in the URL (default `cartable`) if it is missing.
# Redis, in this order: REDIS_URL; 127.0.0.1:$CARTABLE_REDIS_PORT (6379); a local `redis-server`
#   with its data in $CARTABLE_DATA_DIR/redis (installing Debian's `redis-server` as root).
#   Then make sure maxmemory-policy is noeviction (BullMQ needs it).
#
# Other variables: CARTABLE_PG_PORT and CARTABLE_REDIS_PORT (used only when the URL is not set),
# CARTABLE_DATA_DIR (default: <repository>/.data).

set -euo pipefail

_svc_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_svc_data=${CARTABLE_DATA_DIR:-$_svc_root/.data}
_svc_apt_updated=
_svc_pg_bindir=
_svc_given_db=${DATABASE_URL:+1}
_svc_given_redis=${REDIS_URL:+1}

_svc_say() { printf 'services: %s\n' "$*"; }
_svc_die() {
  printf 'services: ERROR: %s\n' "$*" >&2
  exit 1
}
_svc_is_root() { [ "$(id -u)" = 0 ]; }
_svc_mask() { sed -E 's#(://[^:/@]*:)[^@/]*@#\1***@#' <<<"$1"; }
_svc_urldecode() { printf '%b' "${1//%/\\x}"; }

# A TCP connection to host:port succeeds within 3 seconds.
_svc_tcp_open() { timeout 3 bash -c ': <>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

# Prints the last lines of a log file on stderr.
_svc_tail() { [ -f "$1" ] && tail -n "${2:-15}" "$1" | sed 's/^/  | /' >&2 || true; }

_svc_apt_install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  local log="$_svc_data/apt.log"
  mkdir -p "$_svc_data"
  if [ -z "$_svc_apt_updated" ]; then
    _svc_say "running apt-get update (log: $log)"
    DEBIAN_FRONTEND=noninteractive apt-get update >>"$log" 2>&1 || { _svc_tail "$log"; _svc_die "apt-get update failed (log: $log)"; }
    _svc_apt_updated=1
  fi
  _svc_say "installing Debian package $* with apt-get (log: $log)"
  DEBIAN_FRONTEND=noninteractive UCF_FORCE_CONFFOLD=1 \
    apt-get install -y --no-install-recommends -o Dpkg::Options::=--force-confold "$@" >>"$log" 2>&1 ||
    { _svc_tail "$log"; _svc_die "apt-get install $* failed (log: $log)"; }
}

# --------------------------------------------------------------------------------------------
# PostgreSQL

# Splits a postgres:// URL into _pg_scheme, _pg_userinfo ("user:pw@" or ""), _pg_hosts,
# _pg_db (decoded) and _pg_query ("?..." or "").
_svc_pg_parse() {
  local re='^(postgres(ql)?://)(([^@/?]*)@)?([^/?]*)(/([^?]*))?(\?.*)?$'
  [[ $1 =~ $re ]] || _svc_die "DATABASE_URL is not a postgres:// URL: $(_svc_mask "$1")"
  _pg_scheme=${BASH_REMATCH[1]}
  _pg_userinfo=${BASH_REMATCH[3]}
  _pg_hosts=${BASH_REMATCH[5]}
  _pg_db=$(_svc_urldecode "${BASH_REMATCH[7]}")
  _pg_query=${BASH_REMATCH[8]}
}

# Path of a PostgreSQL program: on PATH, else in Debian's /usr/lib/postgresql/<version>/bin.
_svc_pg_prog() {
  local dir
  if command -v "$1" 2>/dev/null; then return 0; fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/$1" ]; then echo "$dir/$1"; return 0; fi
  done
  return 1
}

# Sets _svc_pg_bindir to a directory holding initdb and pg_ctl, matching the major version of
# an existing data directory ($1) when there is one.
_svc_pg_find_server() {
  local want="" dir p
  [ -s "$1/PG_VERSION" ] && want=$(cat "$1/PG_VERSION")
  local candidates=()
  if p=$(command -v initdb 2>/dev/null); then candidates+=("$(dirname "$(readlink -f "$p")")"); fi
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do candidates+=("$dir"); done
  for dir in ${candidates[@]+"${candidates[@]}"}; do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] || continue
    if [ -n "$want" ] && [ "$("$dir/pg_ctl" --version | awk '{ split($3, v, "."); print v[1] }')" != "$want" ]; then continue; fi
    _svc_pg_bindir=$dir
    return 0
  done
  if [ -n "$want" ] && [ ${#candidates[@]} -gt 0 ]; then
    _svc_die "$1 holds a PostgreSQL $want cluster, but the installed server programs are another version; install PostgreSQL $want or move that directory away"
  fi
  return 1
}

# Runs a command as the user that owns the local cluster: `postgres` when we are root.
_svc_as_pg() {
  if ! _svc_is_root; then "$@"; return; fi
  if command -v runuser >/dev/null 2>&1; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && su postgres -s /bin/sh -c "$(printf '%q ' "$@")")
  fi
}

# PostgreSQL accepts connections at the URL.
_svc_pg_ready() {
  local prog host port
  if prog=$(_svc_pg_prog pg_isready); then
    PGCONNECT_TIMEOUT=3 "$prog" -q -t 3 -d "$1" >/dev/null 2>&1
    return
  fi
  _svc_pg_parse "$1"
  host=${_pg_hosts%%,*}
  host=${host##*@}
  if [[ $host =~ ^\[(.*)\](:([0-9]+))?$ ]]; then
    port=${BASH_REMATCH[3]:-5432}; host=${BASH_REMATCH[1]}
  else
    port=5432; [[ $host == *:* ]] && port=${host##*:} && host=${host%:*}
  fi
  _svc_tcp_open "${host:-localhost}" "$port"
}

_svc_pg_start_local() {
  local port=$1 dir="$_svc_data/postgres" home
  if ! _svc_pg_find_server "$dir"; then
    if ! _svc_is_root; then
      _svc_die "nothing answers on 127.0.0.1:$port and the PostgreSQL server programs (initdb, pg_ctl) are not installed. Run this script once as root (sudo bash scripts/services.sh) to install Debian's postgresql and start a local server, or start PostgreSQL yourself and set DATABASE_URL, then run this again"
    fi
    if [ ! -e /etc/postgresql-common/createcluster.conf ] && command -v apt-get >/dev/null 2>&1; then
      mkdir -p /etc/postgresql-common
      printf '%s\n' "# Written by Cartable's scripts/services.sh before installing PostgreSQL: Cartable runs" \
        "# its own cluster, so the package does not create and start a system-wide \"main\" one." \
        "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
      _svc_say "PostgreSQL: set create_main_cluster = false in /etc/postgresql-common/createcluster.conf (Cartable runs its own cluster)"
    fi
    _svc_apt_install postgresql || _svc_die "nothing answers on 127.0.0.1:$port and PostgreSQL is not installed; install its server (initdb, pg_ctl) or set DATABASE_URL"
    if _svc_pg_ready "postgres://postgres@127.0.0.1:$port/postgres"; then
      _svc_say "PostgreSQL: the installed package started a server on 127.0.0.1:$port; using it"
      return 0
    fi
    _svc_pg_find_server "$dir" || _svc_die "PostgreSQL was installed but initdb/pg_ctl are still not found"
  fi

  if _svc_is_root; then
    getent passwd postgres >/dev/null ||
      _svc_die "PostgreSQL refuses to run as root and there is no 'postgres' user to run it as; create one (useradd --system --home-dir /var/lib/postgresql postgres) or run this script as a normal user"
    mkdir -p "$dir"
    [ "$(stat -c %U "$dir")" = postgres ] || chown -R postgres: "$dir"
    chmod 700 "$dir"
    if ! _svc_as_pg test -w "$dir"; then
      home=$(getent passwd postgres | cut -d: -f6)
      _svc_say "PostgreSQL: the postgres user cannot reach $dir (a parent directory is private); using $home/cartable-dev instead"
      rmdir "$dir" 2>/dev/null || true
      dir="$home/cartable-dev"
      mkdir -p "$dir"
      [ "$(stat -c %U "$dir")" = postgres ] || chown -R postgres: "$dir"
      chmod 700 "$dir"
    fi
  else
    mkdir -p "$dir"
    chmod 700 "$dir"
  fi

  if [ ! -s "$dir/PG_VERSION" ]; then
    _svc_say "PostgreSQL: creating a new cluster in $dir with $_svc_pg_bindir/initdb (superuser postgres, trust auth, 127.0.0.1 only)"
    local out
    out=$(_svc_as_pg "$_svc_pg_bindir/initdb" -D "$dir" -U postgres -A trust -E UTF8 --locale=C 2>&1) ||
      { printf '%s\n' "$out" | tail -n 15 | sed 's/^/  | /' >&2; _svc_die "initdb failed"; }
    printf '%s\n' "" "# Added by Cartable's scripts/services.sh: a local development server." \
      "listen_addresses = '127.0.0.1'" "unix_socket_directories = ''" >>"$dir/postgresql.conf"
  fi

  if _svc_as_pg "$_svc_pg_bindir/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    _svc_die "the PostgreSQL of $dir is running but does not answer on 127.0.0.1:$port (started with another port?); stop it with: $_svc_pg_bindir/pg_ctl -D $dir stop"
  fi
  _svc_say "PostgreSQL: starting a local server on 127.0.0.1:$port (data $dir, log $dir/server.log)"
  _svc_as_pg "$_svc_pg_bindir/pg_ctl" -D "$dir" -l "$dir/server.log" -o "-p $port" -w -t 60 start >/dev/null 2>&1 ||
    { _svc_tail "$dir/server.log"; _svc_die "PostgreSQL did not start (log: $dir/server.log)"; }
  _svc_pg_ready "postgres://postgres@127.0.0.1:$port/postgres" ||
    _svc_die "PostgreSQL started but does not answer on 127.0.0.1:$port (log: $dir/server.log)"
}

# Creates the database named in the URL when it does not exist.
_svc_pg_ensure_db() {
  local url=$1 psql err maint
  _svc_pg_parse "$url"
  if [ -z "$_pg_db" ]; then
    _svc_say "PostgreSQL: DATABASE_URL names no database; nothing to create"
    return 0
  fi
  maint="${_pg_scheme}${_pg_userinfo}${_pg_hosts}/postgres${_pg_query}"

  if psql=$(_svc_pg_prog psql); then
    if err=$(PGCONNECT_TIMEOUT=5 "$psql" -X -w -q -At -d "$url" -c 'select 1' 2>&1 >/dev/null); then
      _svc_say "PostgreSQL: database \"$_pg_db\" exists"
      return 0
    fi
    if [[ -z $_svc_given_db && $err == *password* ]]; then
      _svc_die "the PostgreSQL on 127.0.0.1 wants a password for user postgres (${err//$'\n'/ }). Set DATABASE_URL=postgres://USER:PASSWORD@127.0.0.1:${CARTABLE_PG_PORT:-5432}/cartable for a user that may create databases (on Debian: sudo -u postgres createuser --superuser --pwprompt cartable)"
    fi
    [[ $err == *"database \"$_pg_db\" does not exist"* ]] ||
      _svc_die "cannot connect to $(_svc_mask "$url"): ${err//$'\n'/ }"
    if err=$(PGCONNECT_TIMEOUT=5 "$psql" -X -w -q -v ON_ERROR_STOP=1 -v db="$_pg_db" -d "$maint" 2>&1 <<<'CREATE DATABASE :"db";'); then
      _svc_say "PostgreSQL: created database \"$_pg_db\""
    elif [[ $err == *"already exists"* ]]; then
      _svc_say "PostgreSQL: database \"$_pg_db\" exists"
    else
      _svc_die "database \"$_pg_db\" does not exist and could not be created (${err//$'\n'/ }); create it yourself, e.g. createdb \"$_pg_db\""
    fi
    return 0
  fi

  # No psql: use the pg driver that `npm ci` installed, when it is there.
  if command -v node >/dev/null 2>&1 && [ -d "$_svc_root/node_modules/pg" ]; then
    local result
    result=$(node -e '
      const [, pgPath, url, maint, db] = process.argv;
      const { Client } = require(pgPath);
      (async () => {
        const c = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
        try { await c.connect(); await c.end(); return "exists"; }
        catch (e) { if (e.code !== "3D000") throw e; }
        const m = new Client({ connectionString: maint, connectionTimeoutMillis: 5000 });
        await m.connect();
        try { await m.query(`CREATE DATABASE "${db.replace(/"/g, "\"\"")}"`); return "created"; }
        catch (e) { if (e.code === "42P04") return "exists"; throw e; }
        finally { await m.end(); }
      })().then((r) => console.log(r), (e) => { console.error(e.message); process.exit(2); });
    ' "$_svc_root/node_modules/pg" "$url" "$maint" "$_pg_db" 2>&1) ||
      _svc_die "cannot check or create database \"$_pg_db\" at $(_svc_mask "$url"): $result"
    case $result in
      created) _svc_say "PostgreSQL: created database \"$_pg_db\" (with node's pg driver; psql is not installed)" ;;
      *) _svc_say "PostgreSQL: database \"$_pg_db\" exists (checked with node's pg driver; psql is not installed)" ;;
    esac
    return 0
  fi
  _svc_say "PostgreSQL: WARNING: psql is not installed (nor node_modules/pg), so whether database \"$_pg_db\" exists was not checked; create it if needed"
}

_svc_postgres() {
  local url port
  if [ -n "${DATABASE_URL:-}" ]; then
    url=$DATABASE_URL
    _svc_pg_ready "$url" ||
      _svc_die "DATABASE_URL is set ($(_svc_mask "$url")) but PostgreSQL does not answer there; start it, fix DATABASE_URL, or unset it to use a local server"
    _svc_say "PostgreSQL: DATABASE_URL is set and answers: $(_svc_mask "$url")"
  else
    port=${CARTABLE_PG_PORT:-5432}
    url="postgres://postgres@127.0.0.1:$port/cartable"
    if _svc_pg_ready "$url"; then
      _svc_say "PostgreSQL: DATABASE_URL not set; a server answers on 127.0.0.1:$port, using $url"
    else
      _svc_say "PostgreSQL: DATABASE_URL not set and nothing answers on 127.0.0.1:$port"
      _svc_pg_start_local "$port"
    fi
  fi
  _svc_pg_ensure_db "$url"
  DATABASE_URL=$url
}

# --------------------------------------------------------------------------------------------
# Redis

# Splits a redis:// URL into _r_tls, _r_user, _r_pass, _r_host, _r_port, _r_db.
_svc_redis_parse() {
  local re='^(rediss?)://(([^:@/]*)(:([^@/]*))?@)?(\[[^]/]*\]|[^:/?]*)(:([0-9]+))?(/([0-9]*))?'
  [[ $1 =~ $re ]] || _svc_die "REDIS_URL is not a redis:// URL: $(_svc_mask "$1")"
  _r_tls=; [ "${BASH_REMATCH[1]}" = rediss ] && _r_tls=1
  _r_user=$(_svc_urldecode "${BASH_REMATCH[3]}")
  _r_pass=$(_svc_urldecode "${BASH_REMATCH[5]}")
  _r_host=${BASH_REMATCH[6]:-127.0.0.1}
  _r_host=${_r_host#[}; _r_host=${_r_host%]}
  _r_port=${BASH_REMATCH[8]:-6379}
  _r_db=${BASH_REMATCH[10]:-0}
}

# Minimal RESP client on bash's /dev/tcp, for machines without redis-cli.
_svc_resp_send() {
  local LC_ALL=C fd=$1 a s
  shift
  s="*$#"$'\r\n'
  for a in "$@"; do s+="\$${#a}"$'\r\n'"$a"$'\r\n'; done
  printf '%s' "$s" >&"$fd"
}
# Reads one reply; prints its values one a line (errors as "-ERR ..."); status 1 on error reply.
_svc_resp_read() {
  local LC_ALL=C fd=$1 line n i val rc=0
  IFS= read -r -t 3 -u "$fd" line || return 2
  line=${line%$'\r'}
  case ${line:0:1} in
    +|:) echo "${line:1}" ;;
    -) echo "$line"; return 1 ;;
    \$)
      n=${line:1}
      [ "$n" -lt 0 ] && { echo; return 0; }
      IFS= read -r -t 3 -N "$n" -u "$fd" val || return 2
      IFS= read -r -t 3 -u "$fd" line || return 2
      echo "$val" ;;
    \*)
      n=${line:1}
      for ((i = 0; i < n; i++)); do _svc_resp_read "$fd" || rc=$?; done
      return $rc ;;
    *) return 2 ;;
  esac
}
# Runs one command against the Redis at the URL (AUTH and SELECT first), printing the reply.
_svc_resp() {
  local url=$1 fd out rc=0
  shift
  _svc_redis_parse "$url"
  [ -z "$_r_tls" ] || { echo "-ERR TLS needs redis-cli"; return 1; }
  _svc_tcp_open "$_r_host" "$_r_port" || { echo "-ERR no answer on $_r_host:$_r_port"; return 1; }
  exec {fd}<>"/dev/tcp/$_r_host/$_r_port"
  if [ -n "$_r_pass" ]; then
    if [ -n "$_r_user" ]; then _svc_resp_send "$fd" AUTH "$_r_user" "$_r_pass"; else _svc_resp_send "$fd" AUTH "$_r_pass"; fi
    out=$(_svc_resp_read "$fd") || { echo "$out"; exec {fd}>&-; return 1; }
  fi
  if [ "$_r_db" != 0 ]; then
    _svc_resp_send "$fd" SELECT "$_r_db"
    out=$(_svc_resp_read "$fd") || { echo "$out"; exec {fd}>&-; return 1; }
  fi
  _svc_resp_send "$fd" "$@"
  _svc_resp_read "$fd" || rc=$?
  exec {fd}>&-
  return $rc
}

# Runs a Redis command with redis-cli when installed, else over /dev/tcp; prints the reply.
_svc_redis_cmd() {
  local url=$1
  shift
  if command -v redis-cli >/dev/null 2>&1; then
    # Not `redis-cli -u`: it neither percent-decodes nor accepts an empty user name.
    _svc_redis_parse "$url"
    local args=(-h "$_r_host" -p "$_r_port" -n "$_r_db") auth=()
    [ -z "$_r_user" ] || args+=(--user "$_r_user")
    [ -z "$_r_tls" ] || args+=(--tls)
    [ -z "$_r_pass" ] || auth=("REDISCLI_AUTH=$_r_pass")
    env ${auth[@]+"${auth[@]}"} timeout 5 redis-cli "${args[@]}" "$@" 2>&1
  else
    _svc_resp "$url" "$@"
  fi
}

# Prints what PING answers at the URL ("PONG" when usable).
_svc_redis_ping() { _svc_redis_cmd "$1" PING 2>&1 | head -n 1 || true; }

_svc_redis_start_local() {
  local port=$1 url=$2 dir="$_svc_data/redis" i answer
  if ! command -v redis-server >/dev/null 2>&1; then
    _svc_is_root ||
      _svc_die "nothing answers on 127.0.0.1:$port and redis-server is not installed. Install it (Debian/Ubuntu: sudo apt-get install redis-server), or start Redis yourself and set REDIS_URL, then run this again"
    _svc_apt_install redis-server || _svc_die "nothing answers on 127.0.0.1:$port and redis-server is not installed; install it or set REDIS_URL"
    if [ "$(_svc_redis_ping "$url")" = PONG ]; then
      _svc_say "Redis: the installed package started a server on 127.0.0.1:$port; using it"
      return 0
    fi
  fi
  mkdir -p "$dir"
  _svc_say "Redis: starting a local server on 127.0.0.1:$port (data $dir, appendonly, noeviction, log $dir/redis.log)"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$dir" \
    --maxmemory-policy noeviction --appendonly yes \
    --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" >/dev/null ||
    { _svc_tail "$dir/redis.log"; _svc_die "redis-server did not start (log: $dir/redis.log)"; }
  for ((i = 0; i < 100; i++)); do
    answer=$(_svc_redis_ping "$url")
    [ "$answer" = PONG ] && return 0
    sleep 0.1
  done
  _svc_tail "$dir/redis.log"
  _svc_die "Redis started but does not answer PING on 127.0.0.1:$port (last answer: ${answer:-none}; log: $dir/redis.log)"
}

# BullMQ needs maxmemory-policy noeviction: check it and set it when it differs.
_svc_redis_policy() {
  local url=$1 out policy
  if ! out=$(_svc_redis_cmd "$url" CONFIG GET maxmemory-policy) || [ "$(sed -n 1p <<<"$out")" != maxmemory-policy ]; then
    _svc_say "Redis: WARNING: could not read maxmemory-policy (${out//$'\n'/ }); make sure this Redis uses noeviction, as BullMQ needs"
    return 0
  fi
  policy=$(sed -n 2p <<<"$out")
  if [ "$policy" = noeviction ]; then
    _svc_say "Redis: maxmemory-policy is noeviction"
    return 0
  fi
  out=$(_svc_redis_cmd "$url" CONFIG SET maxmemory-policy noeviction) || true
  [ "$out" = OK ] ||
    _svc_die "Redis uses maxmemory-policy $policy and CONFIG SET failed (${out//$'\n'/ }); BullMQ needs noeviction: set 'maxmemory-policy noeviction' in its configuration"
  _svc_say "Redis: maxmemory-policy was $policy; set it to noeviction with CONFIG SET (BullMQ needs it; add 'maxmemory-policy noeviction' to that server's configuration to keep it after a restart)"
}

_svc_redis() {
  local url port answer
  if [ -n "${REDIS_URL:-}" ]; then
    url=$REDIS_URL
    _svc_redis_parse "$url"
    answer=$(_svc_redis_ping "$url")
    if [ "$answer" != PONG ]; then
      if [ -n "$_r_tls" ] && ! command -v redis-cli >/dev/null 2>&1 && _svc_tcp_open "$_r_host" "$_r_port"; then
        _svc_say "Redis: REDIS_URL is set and $_r_host:$_r_port accepts connections (TLS: install redis-cli to check more)"
        REDIS_URL=$url
        return 0
      fi
      _svc_die "REDIS_URL is set ($(_svc_mask "$url")) but Redis does not answer PING there (${answer:-no answer}); start it, fix REDIS_URL, or unset it to use a local server"
    fi
    _svc_say "Redis: REDIS_URL is set and answers PING: $(_svc_mask "$url")"
  else
    port=${CARTABLE_REDIS_PORT:-6379}
    url="redis://127.0.0.1:$port/0"
    answer=$(_svc_redis_ping "$url")
    case $answer in
      PONG) _svc_say "Redis: REDIS_URL not set; 127.0.0.1:$port answers PING, using $url" ;;
      *NOAUTH* | *WRONGPASS* | *"Authentication required"*)
        _svc_die "a Redis on 127.0.0.1:$port requires a password; set REDIS_URL=redis://:PASSWORD@127.0.0.1:$port/0" ;;
      *)
        _svc_say "Redis: REDIS_URL not set and nothing answers PING on 127.0.0.1:$port"
        _svc_redis_start_local "$port" "$url" ;;
    esac
  fi
  _svc_redis_policy "$url"
  REDIS_URL=$url
}

# --------------------------------------------------------------------------------------------

_svc_main() {
  _svc_postgres
  _svc_redis
}

if (return 0 2>/dev/null); then
  _svc_main
  export DATABASE_URL REDIS_URL
else
  _svc_main
  # Run alone: tell how to reach servers that are not where Cartable looks by default.
  [ "$DATABASE_URL" = postgres://postgres@127.0.0.1:5432/cartable ] || [ -n "$_svc_given_db" ] ||
    _svc_say "note: Cartable's default DATABASE_URL is elsewhere; run it with: export DATABASE_URL=$DATABASE_URL"
  [ "$REDIS_URL" = redis://127.0.0.1:6379/0 ] || [ -n "$_svc_given_redis" ] ||
    _svc_say "note: Cartable's default REDIS_URL is elsewhere; run it with: export REDIS_URL=$REDIS_URL"
fi
