#!/usr/bin/env bash
# One command from a fresh clone: install system packages, build, run the bundled sample capture
# (eight days of three resolvers' traffic in which one resolver's cache gets poisoned for Gmail's
# mail exchanger) through the sensor and analyzer into a fresh store, list the alert, and query
# the passive-DNS history.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --release --bin dnsward
dnsward="${CARGO_TARGET_DIR:-target}/release/dnsward"
db=$(mktemp -d)/dnsward-db
echo "== dnsward run --pcap samples/cert-cc.pcap --asn-table samples/asn-sample.csv --db $db"
"$dnsward" run --pcap samples/cert-cc.pcap --asn-table samples/asn-sample.csv --db "$db" --quiet
echo
echo "== dnsward alerts"
"$dnsward" alerts --db "$db"
echo
echo "== dnsward watch list (learnt targets)"
"$dnsward" watch list --db "$db" | grep learnt
echo
echo "== dnsward query gmail-smtp-in.l.google.com --type A"
"$dnsward" query --db "$db" gmail-smtp-in.l.google.com --type A
echo
echo "== dnsward query --rdata 203.0.113.0/24 --json"
"$dnsward" query --db "$db" --rdata 203.0.113.0/24 --json
echo
echo "store left at $db"
