#!/usr/bin/env bash
# "Bounded under attack" (issue 4): feeds a Kaminsky-style flood of forged responses at one
# resolver through `dnsward run` and reports throughput, peak RSS and the pairing and analysis
# counters.
#
#   benches/flood.sh [RESPONSES]        # default 10000000 (100 s of packet time, about 1.5 GB)
#
# Builds the release binaries (in $CARGO_TARGET_DIR when set), writes the capture with
# `dnsward-gen flood --responses RESPONSES --seed $FLOOD_SEED` (default seed 1) into a temporary
# directory under ${TMPDIR:-/tmp}, runs `dnsward run --pcap FILE --db DB --stats json -q` under
# `/usr/bin/time -v` three times (the default: store and analysis, one worker; `--no-analyze`;
# `--workers 2`), each with a fresh store, lists the alerts of the first run, prints a Markdown
# table, and deletes everything it wrote. Needs GNU time (/usr/bin/time) and jq.
set -euo pipefail
cd "$(dirname "$0")/.."

responses=${1:-10000000}
seed=${FLOOD_SEED:-1}
target=${CARGO_TARGET_DIR:-target}
for tool in /usr/bin/time jq; do
    command -v "$tool" >/dev/null || { echo "flood.sh: needs $tool" >&2; exit 1; }
done

cargo build --release -p dnsward -p dnsward-benches
dnsward="$target/release/dnsward"
gen="$target/release/dnsward-gen"

work=$(mktemp -d "${TMPDIR:-/tmp}/dnsward-flood.XXXXXX")
trap 'rm -rf "$work"' EXIT
capture="$work/flood.pcap"

load() { cut -d' ' -f1-3 /proc/loadavg; }
# Wall seconds from `date +%s%N` stamps.
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
# A field of GNU time's -v report.
time_field() { sed -n "s/^[[:space:]]*$2: //p" "$1"; }

if revision=$(git rev-parse --short HEAD 2>/dev/null); then
    git diff --quiet HEAD -- . || revision="$revision (with uncommitted changes)"
else
    revision="(not a git checkout)"
fi
echo "== machine: $(nproc) cores, load average $(load); dnsward $revision"
echo "== dnsward-gen flood --responses $responses --seed $seed"
start=$(date +%s%N)
"$gen" flood --responses "$responses" --seed "$seed" --out "$capture"
echo "generated in $(seconds "$start" "$(date +%s%N)") s: $(stat -c %s "$capture") bytes"

rows=()
run() {
    local name=$1
    shift
    local db="$work/db-$name" stats="$work/$name.stats" timing="$work/$name.time"
    echo
    echo "== [$name] dnsward run --pcap FLOOD --db DB --stats json -q $* (load average $(load))"
    local before after
    before=$(date +%s%N)
    /usr/bin/time -v -o "$timing" "$dnsward" run --pcap "$capture" --db "$db" --stats json -q \
        "$@" 2>"$stats" >/dev/null
    after=$(date +%s%N)
    local json frames wall rss_kb user sys
    json=$(grep '^{' "$stats" | tail -n 1)
    frames=$(jq '.capture.frames' <<<"$json")
    wall=$(seconds "$before" "$after")
    rss_kb=$(time_field "$timing" 'Maximum resident set size (kbytes)')
    user=$(time_field "$timing" 'User time (seconds)')
    sys=$(time_field "$timing" 'System time (seconds)')
    local rate ns cpu_ns rss_mb
    rate=$(awk -v f="$frames" -v w="$wall" 'BEGIN { printf "%.0f", f / w }')
    ns=$(awk -v f="$frames" -v w="$wall" 'BEGIN { printf "%.0f", w * 1e9 / f }')
    cpu_ns=$(awk -v f="$frames" -v u="$user" -v s="$sys" \
        'BEGIN { printf "%.0f", (u + s) * 1e9 / f }')
    rss_mb=$(awk -v k="$rss_kb" 'BEGIN { printf "%.0f", k / 1024 }')
    echo "frames $frames, wall $wall s, $rate frames/s, $ns ns/frame (wall), CPU $user s user +" \
        "$sys s system = $cpu_ns ns/frame, peak RSS $rss_kb kB ($rss_mb MB)," \
        "store $(du -sh "$db" 2>/dev/null | cut -f1)"
    echo "pairing: $(jq -c '.pairing' <<<"$json")"
    # Every counter of something dropped, expired or evicted, wherever it sits in the stats.
    echo "dropped and expired: $(jq -c '[paths(scalars) as $p
        | select($p[-1] | tostring | test("dropped|expired|evict"))
        | {key: ($p | map(tostring) | join(".")), value: getpath($p)}] | from_entries' <<<"$json")"
    echo "analysis: $(jq -c '.analysis.analyzer // "off"' <<<"$json")"
    echo "wire: $(jq -c '.wire // {}' <<<"$json")"
    echo "messages $(jq '.messages' <<<"$json"), malformed $(jq '.malformed' <<<"$json")," \
        "answers handed over $(jq '.answers_handed_over' <<<"$json"), store records written" \
        "$(jq '.store.records_written // 0' <<<"$json")"
    if [[ " $* " != *" --no-analyze "* ]]; then
        echo "alerts:"
        "$dnsward" alerts --db "$db" --json | jq -c '{detector: .dnsward.detector,
            severity: .dnsward.severity, score: .dnsward.score, status: .dnsward.status,
            question: .dns.question, responses: .dnsward.responses,
            evidence: (.dnsward.evidence | length), evidence_dropped: .dnsward.evidence_dropped,
            observed: [.dnsward.observed[].data]}'
    fi
    rows+=("| $name | $frames | $wall | $rate | $ns | $cpu_ns | $rss_mb |")
    rm -rf "$db"
}

run default
run no-analyze --no-analyze
run workers-2 --workers 2

echo
echo "== summary ($responses forged responses, seed $seed; load average now $(load))"
echo "| configuration | frames | wall s | frames/s | ns/frame (wall) | CPU ns/frame | peak RSS MB |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
