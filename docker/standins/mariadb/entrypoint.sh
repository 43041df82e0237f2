#!/bin/sh
# First start: make the data directory, set the root password (for local and
# remote logins), run /docker-entrypoint-initdb.d/*.sql; then run the server.
set -eu
case "${1:-}" in
    -*|"") set -- mariadbd "$@" ;;
esac
datadir=/var/lib/mysql
if [ "$1" = mariadbd ] && [ ! -d "$datadir/mysql" ]; then
    : "${MARIADB_ROOT_PASSWORD:?set MARIADB_ROOT_PASSWORD}"
    mariadb-install-db --datadir="$datadir" --skip-test-db \
        --auth-root-authentication-method=normal >/dev/null
    socket=/run/mysqld/init.sock
    mariadbd --datadir="$datadir" --skip-networking --socket="$socket" &
    server=$!
    tries=0
    until mariadb-admin --socket="$socket" --user=root --silent ping >/dev/null 2>&1; do
        tries=$((tries + 1))
        [ "$tries" -lt 300 ] || { echo "mariadb did not start" >&2; exit 1; }
        sleep 0.1
    done
    # The password is quoted for SQL: a ' inside it is doubled.
    quoted=$(printf '%s' "$MARIADB_ROOT_PASSWORD" | sed "s/'/''/g")
    mariadb --socket="$socket" --user=root <<SQL
ALTER USER 'root'@'localhost' IDENTIFIED BY '$quoted';
CREATE USER 'root'@'%' IDENTIFIED BY '$quoted';
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
-- The health check logs in as the server's own system user, by socket.
CREATE USER 'mysql'@'localhost' IDENTIFIED VIA unix_socket;
SQL
    for script in /docker-entrypoint-initdb.d/*.sql; do
        [ -e "$script" ] || continue
        echo "running $script"
        mariadb --socket="$socket" --user=root --password="$MARIADB_ROOT_PASSWORD" <"$script"
    done
    kill "$server"
    wait "$server" || true
fi
exec "$@"
