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

/// A time given as API input (filters, `from`/`to`): any RFC 3339 timestamp, or a date
/// alone (`2026-01-31`, as the seed documents write them) read as midnight UTC;
/// normalised to UTC.
pub fn parse_input(s: &str) -> Option<OffsetDateTime> {
    parse_rfc3339(s).or_else(|| {
        let date = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"));
        date.ok().map(|d| d.midnight().assume_utc())
    })
}

/// The query parameter `field` as a stored time (see [`parse_input`]). Errors:
/// `VALIDATION_ERROR` naming `field`.
pub fn input_param(field: &str, v: &str) -> crate::error::Result<String> {
    parse_input(v).map(format_rfc3339).ok_or_else(|| {
        crate::error::Error::field(field, "must be an RFC 3339 time or a date (YYYY-MM-DD)")
    })
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_takes_a_date_alone_as_midnight_utc() {
        let day = parse_input("2023-01-01").unwrap();
        assert_eq!(format_rfc3339(day), "2023-01-01T00:00:00.000Z");
        let t = parse_input("2023-01-01T02:00:00+02:00").unwrap();
        assert_eq!(t, day);
        for bad in ["2023-13-01", "2023-01-01T", "01/01/2023", "", "2023-1-1"] {
            assert!(parse_input(bad).is_none(), "{bad}");
        }
        assert_eq!(
            input_param("from", "x").unwrap_err().details[0].field,
            "from"
        );
    }

    #[test]
    fn round_trips_and_sorts() {
        let a = parse_rfc3339("2026-01-02T03:04:05+02:00").unwrap();
        assert_eq!(format_rfc3339(a), "2026-01-02T01:04:05.000Z");
        assert!(format_rfc3339(a) < now_rfc3339());
    }
}
