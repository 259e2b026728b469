#!/usr/bin/env bash
# Installs the system packages dnsward needs to build and run on Debian 12 (run as root, or with
# sudo available). Idempotent.
set -euo pipefail
# bind9-utils: dnssec-keygen and dnssec-signzone, which the DNSSEC tests sign their zones with.
packages=(build-essential pkg-config libpcap-dev libclang-dev bind9-utils)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust first (https://rustup.rs), then run this again" >&2
  exit 1
fi
