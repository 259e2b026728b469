#!/usr/bin/env python3
"""Builds the fuzz seed corpora from the project's public captures (standard library only).

Usage: python3 fuzz/make-seeds.py [--pcaps DIR] [--out DIR] [--max-per-file N] [--dnsward BIN]
Defaults: shared/pcaps beside the repository (or /work/shared/pcaps), fuzz/corpus, 200,
target/release/dnsward. The committed fuzz/seeds/ was made with `--out fuzz/seeds
--max-per-file 1` (one input per capture and target), plus the minimized crash inputs named
crash-*.

Writes, per target, one file per distinct input (named by its SHA-1, as libFuzzer does):
  frame_decode/    a link-type selector byte (index into the target's LINKTYPES) + the frame
  dns_message/     UDP payloads on port 53, and whole DNS messages found in TCP segments
  dns_name/        the same messages (names are decoded at every offset)
  tcp_reassembly/  each capture's TCP port-53 segments in the target's segment format
  defrag/          each capture's IP fragments in the target's fragment format
At most --max-per-file inputs are taken from one capture (the guessing-attack captures hold 65,535
near-identical responses each), and at most 4 times as many segments or fragments.

Two targets are seeded from the repository instead of the captures:
  asn_table/      excerpts of samples/asn-sample.csv and of the tables in analyzer/tests/data/
                  (CSV, iptoasn TSV, pfx2as, the test MaxMind DB), plain and gzip-compressed
  analysis_json/  each baseline of `dnsward baseline export` and each alert of `dnsward alerts
                  --json` after `dnsward run --pcap samples/cert-cc.pcap --asn-table
                  samples/asn-sample.csv` (needs a built --dnsward; skipped without one), and
                  one two-line export (the same rrset twice, as an import merges it)
"""

import argparse
import gzip
import hashlib
import os
import shutil
import struct
import subprocess
import tempfile

MAX_PER_FILE = 200  # changed by --max-per-file
# The frame_decode target's LINKTYPES, in order: the selector byte is the index.
LINKTYPES = [1, 113, 276, 101, 0]
DNS_PORT = 53


def read_capture(path):
    """Yields (linktype, frame bytes) for every frame of a pcap or pcapng file (maybe gzipped)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        yield from read_pcap(data, "<")
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        yield from read_pcap(data, ">")
    elif magic == b"\x0a\x0d\x0d\x0a":
        yield from read_pcapng(data)


def read_pcap(data, endian):
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0xFFFF
    pos = 24
    while pos + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[pos + 8 : pos + 12])[0]
        frame = data[pos + 16 : pos + 16 + incl]
        pos += 16 + incl
        yield linktype, frame


def read_pcapng(data):
    pos = 0
    endian = "<"
    linktypes = []
    while pos + 12 <= len(data):
        if data[pos : pos + 4] == b"\x0a\x0d\x0d\x0a":
            endian = "<" if data[pos + 8 : pos + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            linktypes = []
        btype, blen = struct.unpack(endian + "II", data[pos : pos + 8])
        if blen < 12:
            return
        body = data[pos + 8 : pos + blen - 4]
        if btype == 1:
            linktypes.append(struct.unpack(endian + "H", body[:2])[0])
        elif btype == 6:
            iface, _, _, caplen, _ = struct.unpack(endian + "IIIII", body[:20])
            if iface < len(linktypes):
                yield linktypes[iface], body[20 : 20 + caplen]
        elif btype == 3 and linktypes:
            origlen = struct.unpack(endian + "I", body[:4])[0]
            yield linktypes[0], body[4 : 4 + origlen]
        pos += blen


def ip_of(linktype, frame):
    """The IP packet inside a frame, or None."""
    if linktype == 1:
        if len(frame) < 14:
            return None
        ethertype, rest = struct.unpack(">H", frame[12:14])[0], frame[14:]
        while ethertype in (0x8100, 0x88A8, 0x9100) and len(rest) >= 4:
            ethertype, rest = struct.unpack(">H", rest[2:4])[0], rest[4:]
        return rest if ethertype in (0x0800, 0x86DD) else None
    if linktype == 113:
        return frame[16:]
    if linktype == 276:
        return frame[20:]
    if linktype in (0, 108):
        return frame[4:]
    if linktype in (12, 14, 101, 228, 229):
        return frame
    return None


def transport_of(ip):
    """(src, dst, protocol, fragment or None, transport bytes) of an IP packet, or None.

    fragment is (id, offset in bytes, more fragments)."""
    if len(ip) < 20:
        return None
    version = ip[0] >> 4
    if version == 4:
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        ident, frag = struct.unpack(">HH", ip[4:8])
        offset, more = (frag & 0x1FFF) * 8, bool(frag & 0x2000)
        fragment = (ident, offset, more) if offset or more else None
        return ip[12:16], ip[16:20], ip[9], fragment, ip[ihl:total]
    if version == 6 and len(ip) >= 40:
        nxt, pos = ip[6], 40
        fragment = None
        while nxt in (0, 43, 44, 60) and pos + 8 <= len(ip):
            if nxt == 44:
                frag, ident = struct.unpack(">HI", ip[pos + 2 : pos + 8])
                fragment = (ident, frag & 0xFFF8, bool(frag & 1))
                nxt, pos = ip[pos], pos + 8
            else:
                nxt, pos = ip[pos], pos + (ip[pos + 1] + 1) * 8
        return ip[8:24], ip[24:40], nxt, fragment, ip[pos:]
    return None


def digest_write(directory, blob, seen):
    name = hashlib.sha1(blob).hexdigest()
    if name in seen:
        return False
    seen.add(name)
    with open(os.path.join(directory, name), "wb") as f:
        f.write(blob)
    return True


def tcp_segments_blob(segments):
    """Encodes (stream key, seq, flags, payload) in the tcp_reassembly target's format."""
    streams = {}
    out = bytearray()
    for key, seq, flags, payload in segments:
        index = streams.setdefault(key, len(streams)) & 7
        syn, fin, rst = bool(flags & 2), bool(flags & 1), bool(flags & 4)
        pieces = [payload[i : i + 255] for i in range(0, len(payload), 255)] or [b""]
        for n, piece in enumerate(pieces):
            control = index | 0x40
            if syn and n == 0:
                control |= 8
            if fin and n == len(pieces) - 1:
                control |= 16
            if rst and n == len(pieces) - 1:
                control |= 32
            out += bytes([control, 0, 0, len(piece), 0])
            out += struct.pack(">I", (seq + n * 255) & 0xFFFFFFFF)
            out += piece
    return bytes(out)


def fragments_blob(fragments):
    """Encodes (key, offset, more, payload) in the defrag target's format, in 248-byte pieces."""
    ids = {}
    out = bytearray()
    for key, protocol, offset, more, payload in fragments:
        index = ids.setdefault(key, len(ids)) & 7
        if protocol == 6:
            index |= 8
        pieces = [payload[i : i + 248] for i in range(0, len(payload), 248)] or [b""]
        for n, piece in enumerate(pieces):
            last = n == len(pieces) - 1
            control = index | (0x80 if more or not last else 0)
            units = (offset + n * 248) // 8
            out += bytes([control, units >> 8 & 0x1F, units & 0xFF, len(piece), 0]) + piece
    return bytes(out)


def gzipped(blob):
    """gzip with a fixed timestamp, so the seed's name does not change between runs."""
    return gzip.compress(blob, mtime=0)


def asn_table_seeds(repo):
    """Small tables in each format asn_table reads, plain and gzipped."""
    data = os.path.join(repo, "analyzer", "tests", "data")
    with open(os.path.join(repo, "samples", "asn-sample.csv"), "rb") as f:
        csv_lines = f.read().splitlines(keepends=True)
    quoted = [line for line in csv_lines if b'"' in line][:3]
    v6 = [line for line in csv_lines if b":" in line.split(b",")[0]][:4]
    texts = [
        b"".join(csv_lines[:6]),
        b"# comment\n\n" + b"".join(csv_lines[:2] + quoted + v6),
    ]
    for name in ("ip2asn-combined-excerpt.tsv", "routeviews-pfx2as-excerpt.pfx2as"):
        with open(os.path.join(data, name), "rb") as f:
            texts.append(f.read())
    with open(os.path.join(data, "GeoLite2-ASN-Test.mmdb"), "rb") as f:
        mmdb = f.read()
    return texts + [mmdb] + [gzipped(texts[1]), gzipped(texts[2]), gzipped(mmdb)]


def analysis_json_seeds(repo, dnsward):
    """Baselines and alerts as the store and `dnsward baseline export` write them."""
    if not (dnsward and os.path.isfile(dnsward) and os.access(dnsward, os.X_OK)):
        print(f"analysis_json: no dnsward binary at {dnsward}; build it with cargo build --release")
        return []
    db = tempfile.mkdtemp(prefix="dnsward-fuzz-seeds-")
    try:
        run = [dnsward, "run", "--pcap", os.path.join(repo, "samples", "cert-cc.pcap"),
               "--asn-table", os.path.join(repo, "samples", "asn-sample.csv"),
               "--db", db, "--quiet"]
        subprocess.run(run, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        export = subprocess.run([dnsward, "baseline", "export", "--db", db], check=True,
                                capture_output=True).stdout
        alerts = subprocess.run([dnsward, "alerts", "--db", db, "--json"], check=True,
                                capture_output=True).stdout
    finally:
        shutil.rmtree(db, ignore_errors=True)
    baselines = [line for line in export.splitlines() if line.strip()]
    seeds = baselines + [line for line in alerts.splitlines() if line.strip()]
    if baselines:
        smallest = min(baselines, key=len)
        seeds.append(smallest + b"\n" + smallest + b"\n")
    return seeds


def main():
    global MAX_PER_FILE
    here = os.path.dirname(os.path.abspath(__file__))
    default_pcaps = os.path.join(here, "..", "..", "shared", "pcaps")
    if not os.path.isdir(default_pcaps):
        default_pcaps = "/work/shared/pcaps"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pcaps", default=default_pcaps, help="directory of captures")
    parser.add_argument("--out", default=os.path.join(here, "corpus"), help="corpus directory")
    parser.add_argument("--max-per-file", type=int, default=MAX_PER_FILE)
    parser.add_argument(
        "--dnsward",
        default=os.path.join(here, "..", "target", "release", "dnsward"),
        help="dnsward binary for the analysis_json seeds",
    )
    args = parser.parse_args()
    repo = os.path.join(here, "..")
    for target, blobs in (
        ("asn_table", asn_table_seeds(repo)),
        ("analysis_json", analysis_json_seeds(repo, args.dnsward)),
    ):
        out, seen_blobs = os.path.join(args.out, target), set()
        os.makedirs(out, exist_ok=True)
        written = sum(1 for blob in blobs if digest_write(out, blob, seen_blobs))
        print(f"{target}: {written} seeds in {out}")
    pcaps, corpus, MAX_PER_FILE = args.pcaps, args.out, args.max_per_file
    targets = ["frame_decode", "dns_message", "dns_name", "tcp_reassembly", "defrag"]
    for t in targets:
        os.makedirs(os.path.join(corpus, t), exist_ok=True)
    seen = {t: set() for t in targets}
    counts = {t: 0 for t in targets}
    for file in sorted(os.listdir(pcaps)):
        if not file.endswith((".pcap", ".pcapng", ".pcap.gz")):
            continue
        taken = {t: 0 for t in targets}
        segments, fragments = [], []

        def add(target, blob):
            if taken[target] < MAX_PER_FILE and digest_write(
                os.path.join(corpus, target), blob, seen[target]
            ):
                taken[target] += 1
                counts[target] += 1

        for linktype, frame in read_capture(os.path.join(pcaps, file)):
            if linktype in LINKTYPES:
                add("frame_decode", bytes([LINKTYPES.index(linktype)]) + frame)
            ip = ip_of(linktype, frame)
            parsed = transport_of(ip) if ip else None
            if not parsed:
                continue
            src, dst, protocol, fragment, transport = parsed
            if fragment:
                ident, offset, more = fragment
                if len(fragments) < 4 * MAX_PER_FILE:
                    fragments.append(((src, dst, ident), protocol, offset, more, transport))
                continue
            if protocol == 17 and len(transport) >= 8:
                sport, dport = struct.unpack(">HH", transport[:4])
                if DNS_PORT in (sport, dport):
                    add("dns_message", transport[8:])
                    add("dns_name", transport[8:])
            elif protocol == 6 and len(transport) >= 20:
                sport, dport, seq = struct.unpack(">HHI", transport[:8])
                if DNS_PORT not in (sport, dport):
                    continue
                payload = transport[(transport[12] >> 4) * 4 :]
                if len(segments) < 4 * MAX_PER_FILE:
                    segments.append(((src, sport, dst, dport), seq, transport[13], payload))
                if len(payload) >= 2:
                    length = struct.unpack(">H", payload[:2])[0]
                    if len(payload) == length + 2:
                        add("dns_message", payload[2:])
                        add("dns_name", payload[2:])
        if segments:
            add("tcp_reassembly", tcp_segments_blob(segments))
        if fragments:
            add("defrag", fragments_blob(fragments))
    for t in targets:
        print(f"{t}: {counts[t]} seeds in {os.path.join(corpus, t)}")


if __name__ == "__main__":
    main()
