#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for the tests: its own data folder, reachable only through a
# Unix socket in that folder (no TCP port to collide with), never the system's own cluster.
#
#   .ci/postgres.sh start DIR   create the cluster in DIR (an empty or missing folder), start it,
#                               create the database jobgraph_test, and print the libpq connection
#                               string the tests take in JOBGRAPH_TEST_POSTGRES
#   .ci/postgres.sh stop DIR    stop the server (if it runs) and remove DIR
#
# initdb refuses to run as root, so as root the cluster belongs to the 'postgres' user the
# postgresql-15 package creates; any other user runs it as themselves.
set -euo pipefail

bin=${JOBGRAPH_PG_BIN:-/usr/lib/postgresql/15/bin}
database=jobgraph_test

usage() {
  echo "usage: $0 start|stop DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
command=$1
dir=$2

if [ "$(id -u)" -eq 0 ]; then
  owner=postgres
  as_owner() { runuser -u postgres -- "$@"; }
else
  owner=$(id -un)
  as_owner() { "$@"; }
fi

case "$command" in
start)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  # The socket's path must fit in sun_path (107 bytes) with its name, .s.PGSQL.5432.
  if [ ${#dir} -gt 90 ]; then
    echo "$0: $dir is too long a path for a socket folder" >&2
    exit 1
  fi
  chown "$owner" "$dir"
  as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
  }
  # Only the test processes of this machine ever connect, and only the server's own crash
  # would lose data: fsync is not worth its time here.
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
fsync = off
max_connections = 60
CONF
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || {
    cat "$dir/server.log" >&2
    exit 1
  }
  as_owner "$bin/createdb" -h "$dir" -U postgres "$database"
  echo "host=$dir dbname=$database user=postgres"
  ;;
stop)
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
  fi
  rm -rf "$dir"
  ;;
*)
  usage
  ;;
esac
