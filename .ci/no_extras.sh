#!/usr/bin/env bash
# CI: the package installed with no extras (`pip install .`) into a fresh virtualenv, torch
# never pulled. `supportops init`, `tenants create` and an ingest of identity-only records
# work there; an ingest of free text is refused with one line naming `supportops[privacy]`,
# and nothing of it is stored (in clear or otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset PYTHONPATH SUPPORTOPS_DATABASE_URL SUPPORTOPS_TENANT SUPPORTOPS_MASTER_KEY
python3 -m venv "$tmp/venv"
fail() { echo "no-extras: $*" >&2; exit 1; }
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check "$repo" 2> "$tmp/pip.err" \
  || { cat "$tmp/pip.err" >&2; fail "pip install . failed"; }
for heavy in torch presidio_analyzer spacy duckdb numpy pyarrow sklearn mlflow faker; do
  if "$tmp/venv/bin/python" -c "import $heavy" 2>/dev/null; then fail "$heavy was installed"; fi
done
so="$tmp/venv/bin/supportops"
export SUPPORTOPS_WORKSPACE="$tmp/ws"
cd "$tmp"  # the installed package only, never the source tree
"$so" init
"$so" tenants create acme
cat > identity.jsonl <<'JSONL'
{"type": "ticket.created", "ticket_id": "T-1", "subject": "cust-1", "occurred_at": "2024-03-01T09:00:00Z", "payload": {"customer": {"name": "Ann Quartzfield", "email": "ann.quartzfield@example.org", "phone": "+44 20 7946 0958"}, "priority": "high", "channel": "email"}}
{"type": "ticket.status_changed", "ticket_id": "T-1", "subject": "cust-1", "occurred_at": "2024-03-01T10:00:00Z", "payload": {"status": "resolved"}}
JSONL
"$so" ingest identity.jsonl --tenant acme --json > identity.out
grep -q '"accepted":2' identity.out || fail "identity-only ingest: $(cat identity.out)"
cat > free.jsonl <<'JSONL'
{"type": "ticket.created", "ticket_id": "T-2", "subject": "cust-2", "occurred_at": "2024-03-02T09:00:00Z", "payload": {"text": "Please call Bob Zebrawski on 07700 900123 about zebra-quartz-771"}}
JSONL
status=0
"$so" ingest free.jsonl --tenant acme > free.out 2> free.err || status=$?
[ "$status" -eq 2 ] || fail "free text: exit $status, expected 2 ($(cat free.out free.err))"
[ "$(wc -l < free.err)" -eq 1 ] || fail "free text: not one line: $(cat free.err)"
grep -q "supportops\[privacy\]" free.err || fail "free text: the extra is not named: $(cat free.err)"
[ "$("$so" events tail --tenant acme --json | grep -o '"seq"' | wc -l)" -eq 2 ] \
  || fail "free text: events were stored"
for secret in zebra-quartz-771 Zebrawski Quartzfield ann.quartzfield 7946; do
  if grep -rqa -- "$secret" "$tmp/ws"; then fail "'$secret' is stored in clear"; fi
done
echo "no-extras: init, tenants create and identity-only ingest work; free text refused: $(cat free.err)"
