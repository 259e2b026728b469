#!/usr/bin/env bash
# Short fuzz smoke run of every target (default 20 s each), for CI or before a commit.
#
#   bash fuzz/smoke.sh            # every target, 20 s each
#   SECS=120 bash fuzz/smoke.sh dns_message frame_decode
#
# Needs cargo-fuzz (installed here if missing) and a Rust toolchain; on stable,
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the nightly flags it needs. Seeds come from the committed
# fuzz/seeds/ and, when the captures are there, from fuzz/make-seeds.py. Exits non-zero on the
# first crash, leaving the input in fuzz/artifacts/<target>/.
#
# The analyzer crate links RocksDB. When the main workspace has built it (target/release), its
# librocksdb.a is reused (ROCKSDB_LIB_DIR) instead of compiling RocksDB again for the fuzz
# target dir (about 16 minutes here); FUZZ_BUILD_ROCKSDB=1 compiles it anyway.
set -euo pipefail
cd "$(dirname "$0")"
SECS=${SECS:-20}
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(frame_decode frame_sequence dns_message dns_name tcp_reassembly defrag asn_table analysis_json dnssec_validate)
fi
export RUSTC_BOOTSTRAP=1
if [ -z "${ROCKSDB_LIB_DIR:-}" ] && [ -z "${FUZZ_BUILD_ROCKSDB:-}" ]; then
  lib="$(ls -t ../target/release/build/librocksdb-sys-*/out/librocksdb.a 2>/dev/null | head -n 1 || true)"
  if [ -n "$lib" ]; then
    ROCKSDB_LIB_DIR="$(cd "$(dirname "$lib")" && pwd)"
    export ROCKSDB_LIB_DIR ROCKSDB_STATIC=1
    echo "reusing RocksDB from $ROCKSDB_LIB_DIR"
  fi
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi
if [ ! -d corpus ] && command -v python3 >/dev/null; then
  python3 make-seeds.py || echo "no captures: fuzzing from fuzz/seeds only"
fi
cargo fuzz build
for t in "${TARGETS[@]}"; do
  mkdir -p "corpus/$t"
  echo "== $t (${SECS} s)"
  log="$(mktemp)"
  status=0
  cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$SECS" -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^(stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|SUMMARY)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log" >&2
    echo "fuzz target $t failed (exit $status); the input is in fuzz/artifacts/$t/" >&2
    exit 1
  fi
  rm -f "$log"
done
echo "fuzz smoke: ${#TARGETS[@]} targets, ${SECS} s each, no crash"
