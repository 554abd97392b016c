#!/bin/sh
# Creates or upgrades Temporal's two Postgres databases (persistence, visibility) with temporal-sql-tool, from the
# schemas built into the tool. Every step is idempotent, so it runs before every start; a newer tool upgrades.
# Run by the temporal-schema job of docker-compose.yml and by `durable-sessions cluster start`, with server.env's
# DB, DBNAME and VISIBILITY_DBNAME and the connection in SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD.
set -eu
export SQL_PLUGIN="${DB:-postgres12}"
for target in "${DBNAME:-temporal}:temporal" "${VISIBILITY_DBNAME:-temporal_visibility}:visibility"; do
  db=${target%%:*}
  schema=postgresql/v12/${target##*:}
  # A database that exists is left as it is; the version tables are created once; then every schema version
  # newer than the database's is applied in order.
  temporal-sql-tool --db "$db" create-database
  temporal-sql-tool --db "$db" setup-schema -v 0.0
  temporal-sql-tool --db "$db" update-schema --schema-name "$schema"
done
echo "temporal schemas are up to date"
