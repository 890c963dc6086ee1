//! Timestamps: RFC 3339 UTC with millisecond precision everywhere (API and database), so
//! stored values sort lexicographically in time order.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Now, as `2026-11-23T09:41:07.123Z`.
pub fn now_rfc3339() -> String {
    format_rfc3339(OffsetDateTime::now_utc())
}

/// Formats in UTC with exactly three fractional digits.
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses any RFC 3339 timestamp (API input) and normalises it to UTC.
pub fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(|t| t.to_offset(time::UtcOffset::UTC))
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sorts() {
        let a = parse_rfc3339("2026-01-02T03:04:05+02:00").unwrap();
        assert_eq!(format_rfc3339(a), "2026-01-02T01:04:05.000Z");
        assert!(format_rfc3339(a) < now_rfc3339());
    }
}
