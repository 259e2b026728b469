//! `dnsward dnssec anchors`: the built-in root anchors, then those of anchor files.

// Test code: a panic, unwrap or out-of-range index here is a failed assertion, not a crash on
// input (clippy.toml allows them inside #[test] functions; this extends that to the helpers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;

/// upenn.edu's key-signing key from zeek's dnssec_dnskey.pcap (tshark computes tag 19785).
const UPENN_KSK: &str = "AwEAAf02wZZMtQAAAAWfJ/xoQffn17NFJV0Y5s4F3tMdkktC/abDax+SB0MJWRAcznigKoirdVL7ZbVS2DYRoUvJv44VLRtLlbggxDnhpP4fCJ88Yu33/5GFZwmgxco4OA6yxhwEniIveQ5B7LJ0Vh8KyfqU6obu7wFR7pSV1UVybLZfF3n1Kb+6KRWtave5JLbhfYfXYxhUpVWlbeKYmoroO9SHsQaoR3vr7L168MEe4VRE+SKcuNRkzLBG5XQDnImYanv6Pf4tYaNTGYPgkXSVJKeGUdncJOxZ8NrAqOncGDgQML3xALGWHWlrpmeN6EQdf7+qv1vm7uHxN1L0MhS7B4U=";

fn anchors(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dnsward"))
        .args(["dnssec", "anchors"])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn root_anchors_are_built_in_and_files_add_theirs() {
    let out = anchors(&[]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        ".                              tag 20326  DS     algorithm 8 digest type 2\n\
         .                              tag 38696  DS     algorithm 8 digest type 2\n"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("anchors.txt");
    let (a, b) = UPENN_KSK.split_at(120);
    std::fs::write(
        &file,
        format!(
            "; a private anchor and a test zone's DS\n\
             upenn.edu. 86400 IN DNSKEY 257 3 5 (\n  {a}\n  {b} )\n\
             test.example. DS 4242 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n"
        ),
    )
    .unwrap();
    let out = anchors(&["--anchors".as_ref(), file.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[2..],
        [
            "upenn.edu                      tag 19785  DNSKEY algorithm 5 flags 257",
            "test.example                   tag  4242  DS     algorithm 13 digest type 2",
        ]
    );

    // A broken file is refused with its line.
    std::fs::write(&file, "\n\nexample. DS 1 8 2 ABC\n").unwrap();
    let out = anchors(&["--anchors".as_ref(), file.as_os_str()]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("line 3: DS: the digest is not hexadecimal"),
        "{err}"
    );
}
