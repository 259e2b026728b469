//! Record type mnemonics (RFC 1035, RFC 3597 `TYPE<N>`).

/// The mnemonic of a record type (`A`, `MX`, `TYPE65280`), written without allocating for known
/// types.
pub fn type_name(rtype: u16) -> std::borrow::Cow<'static, str> {
    let known = match rtype {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        39 => "DNAME",
        41 => "OPT",
        43 => "DS",
        44 => "SSHFP",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        59 => "CDS",
        60 => "CDNSKEY",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        250 => "TSIG",
        251 => "IXFR",
        252 => "AXFR",
        255 => "ANY",
        257 => "CAA",
        _ => return std::borrow::Cow::Owned(format!("TYPE{rtype}")),
    };
    std::borrow::Cow::Borrowed(known)
}

/// Parses a type mnemonic or `TYPE<N>` (case-insensitive).
pub fn parse_type(text: &str) -> Option<u16> {
    let upper = text.to_ascii_uppercase();
    if let Some(n) = upper.strip_prefix("TYPE") {
        return n.parse().ok();
    }
    (0..=u16::MAX)
        .take(512)
        .find(|&t| type_name(t) == upper.as_str())
}
