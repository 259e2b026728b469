//! Packet time as text: UTC ISO 8601 / RFC 3339, computed without a time-zone database.

/// Seconds since the Unix epoch as UTC ISO 8601, `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_utc(secs: u64) -> String {
    let days = secs / 86_400;
    let of_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// Year, month and day of the `days`th day after 1970-01-01 (proleptic Gregorian calendar).
///
/// Howard Hinnant's `civil_from_days` (<https://howardhinnant.github.io/date_algorithms.html>),
/// restricted to days on or after the epoch so that everything stays unsigned.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let day_of_era = z % 146_097; // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153; // [0, 11], 0 is March
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Nanoseconds since the Unix epoch as RFC 3339 UTC with nanoseconds,
/// `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (the form ECS `@timestamp` and `event.*` fields take).
pub fn format_utc_ns(ns: u64) -> String {
    let secs = format_utc(ns / 1_000_000_000);
    let base = secs.strip_suffix('Z').unwrap_or(&secs);
    format!("{base}.{:09}Z", ns % 1_000_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanosecond_form() {
        assert_eq!(format_utc_ns(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format_utc_ns(1_700_000_000_123_456_789),
            "2023-11-14T22:13:20.123456789Z"
        );
    }
}
