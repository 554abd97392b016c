#!/bin/sh
# Makes a new Temporal cluster ready for durable-sessions: the namespace, and the search attributes the session
# actors are indexed by (SessionId Keyword, UserId Int, AgentType Keyword). Safe to run again on every start.
# Run by the temporal-setup job of docker-compose.yml and by `durable-sessions cluster start`, with the temporal CLI
# on PATH, TEMPORAL_ADDRESS, NAMESPACE and NAMESPACE_RETENTION (e.g. 72h).
set -eu
ns=${NAMESPACE:-default}

# Retries a command that a cluster which just started (or just created something) refuses for a while.
retry() {
  tries=0
  until "$@"; do
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then echo "gave up: $*" >&2; return 1; fi
    sleep 1
  done
}

retry temporal operator cluster health >/dev/null
temporal operator namespace describe -n "$ns" >/dev/null 2>&1 ||
  retry temporal operator namespace create -n "$ns" --retention "${NAMESPACE_RETENTION:-72h}"
# The namespace is usable once the frontend's namespace cache has it.
retry temporal workflow list -n "$ns" --limit 1 >/dev/null 2>&1

existing=$(temporal operator search-attribute list -n "$ns")
for attr in SessionId:Keyword UserId:Int AgentType:Keyword; do
  name=${attr%%:*}
  type=${attr##*:}
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "search attribute $name exists"
  else
    # Right after the namespace is created, this can fail for a moment.
    retry temporal operator search-attribute create -n "$ns" --name "$name" --type "$type"
  fi
done

# A new search attribute is refused in queries for a second or two (each service caches them): done only once a
# query that names all three is accepted, so nothing started after this job sees them missing.
retry temporal workflow list -n "$ns" --limit 1 \
  --query "SessionId = 'setup' AND UserId = 0 AND AgentType = 'setup'" >/dev/null 2>&1
echo "namespace $ns is ready with its search attributes"
