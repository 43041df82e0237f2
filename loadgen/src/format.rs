//! Formatting shared by the reports and the error messages, at the bottom of
//! the crate: durations, shares, and errors on one line.

use std::time::Duration;

/// `850ms`, `12.3s`, `4m 05s`, `1h 02m`.
pub(crate) fn format_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 1.0 {
        format!("{}ms", d.as_millis())
    } else if s < 60.0 {
        format!("{s:.1}s")
    } else if s < 3600.0 {
        let whole = d.as_secs();
        format!("{}m {:02}s", whole / 60, whole % 60)
    } else {
        let whole = d.as_secs();
        format!("{}h {:02}m", whole / 3600, (whole % 3600) / 60)
    }
}

/// `format_duration` for a float number of seconds (non-finite or negative as `?`).
pub(crate) fn format_seconds(s: f64) -> String {
    Duration::try_from_secs_f64(s).map_or_else(|_| "?".to_owned(), format_duration)
}

/// `0.3` → `30.0%`.
pub(crate) fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// The innermost cause of an error, which is the part a user can act on
/// ("Connection refused (os error 111)" rather than "error sending request").
pub(crate) fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        message = inner.to_string();
        source = inner.source();
    }
    message.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_millis(850)), "850ms");
        assert_eq!(format_duration(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(format_duration(Duration::from_secs(245)), "4m 05s");
        assert_eq!(format_duration(Duration::from_secs(3_720)), "1h 02m");
        assert_eq!(format_seconds(f64::NAN), "?");
        assert_eq!(percent(0.3), "30.0%");
    }
}
