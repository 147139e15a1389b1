#!/bin/sh
# First start: initdb into PGDATA (password from POSTGRES_PASSWORD, never on a command line),
# password authentication for every TCP connection, the database POSTGRES_DB. Then postgres in
# the foreground (SIGINT from `stop`: fast shutdown).
set -eu
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
USER_NAME=${POSTGRES_USER:-postgres}
DB_NAME=${POSTGRES_DB:-$USER_NAME}
if [ ! -s "$PGDATA/PG_VERSION" ]; then
	umask 077
	pw=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pw"
	initdb -D "$PGDATA" -U "$USER_NAME" --pwfile="$pw" --auth=scram-sha-256 \
		--encoding=UTF8 --locale=C.UTF-8 >/dev/null
	rm -f "$pw"
	echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
	# Local socket only while the database is created.
	pg_ctl -D "$PGDATA" -w -s -o "-c listen_addresses='' -k /tmp" start
	PGPASSWORD=$POSTGRES_PASSWORD psql -q -h /tmp -U "$USER_NAME" -d postgres -v ON_ERROR_STOP=1 \
		-c "CREATE DATABASE \"$DB_NAME\"" 2>/dev/null || true
	pg_ctl -D "$PGDATA" -w -s -m fast stop
	echo "pg-entrypoint: initialised $PGDATA (database $DB_NAME)"
fi
exec postgres -D "$PGDATA" -p "$PGPORT" -k /tmp -c "listen_addresses=${POSTGRES_LISTEN:-*}" "$@"
