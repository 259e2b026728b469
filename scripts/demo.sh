#!/usr/bin/env bash
# One command from a fresh clone: install system packages, build, decode the bundled sample
# capture into a fresh passive-DNS store, and query it.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release --bin dnsward
dnsward="${CARGO_TARGET_DIR:-target}/release/dnsward"
db=$(mktemp -d)/dnsward-db
echo "== dnsward run --pcap samples/sample.pcap --db $db"
"$dnsward" run --pcap samples/sample.pcap --db "$db" --quiet
echo
echo "== dnsward query gmail.com --type MX"
"$dnsward" query --db "$db" gmail.com --type MX
echo
echo "== dnsward query '*.google.com' --type A (first lines)"
"$dnsward" query --db "$db" '*.google.com' --type A | head -8
echo
echo "== dnsward query --rdata gmail-smtp-in.l.google.com --json"
"$dnsward" query --db "$db" --rdata gmail-smtp-in.l.google.com --json
echo
echo "store left at $db"
