//! dnsward sensor: from captured frames to DNS observations.
#![forbid(unsafe_code)]

pub mod dns;
