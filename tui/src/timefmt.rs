//! Reading and writing simulated times as people type and read them: the seek prompt
//! accepts `45`, `45.5`, `1m30s`, `90s`, `1:30` or `250ms`; the screens print seconds
//! with millisecond precision, the precision the report's timeline is read at.

/// Seconds typed by a user, or `None` when the text is not a time. A bare number is
/// seconds; otherwise a duration as scenarios write them (`1m30s`, `250ms`; a last
/// number without unit is seconds) or `minutes:seconds`.
pub fn parse_time(text: &str) -> Option<f64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Some((m, s)) = text.split_once(':') {
        let m: u64 = m.parse().ok()?;
        let s = plain_number(s)?;
        // `1:75` is more likely a typo than 2m15s, so seconds must stay below a minute.
        return (s < 60.0).then_some(m as f64 * 60.0 + s);
    }
    if let Some(s) = plain_number(text) {
        return Some(s);
    }
    // The scenario language's durations, plus `1m30` for 1m30s as people say it.
    let with_unit = if text.ends_with(|c: char| c.is_ascii_digit()) && text.contains(|c: char| c.is_ascii_alphabetic())
    {
        format!("{text}s")
    } else {
        text.to_string()
    };
    let micros = hasim_sim::scenario::duration::parse_micros(&with_unit).ok().filter(|&m| m >= 0)?;
    Some(micros as f64 / 1e6)
}

/// A non-negative decimal number without sign or exponent (what a user means by "45").
fn plain_number(s: &str) -> Option<f64> {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit() || c == '.') || s.chars().filter(|&c| c == '.').count() > 1
    {
        return None;
    }
    if s == "." {
        return None;
    }
    s.parse().ok().filter(|v: &f64| v.is_finite())
}

/// `31.648s`: seconds with millisecond precision.
pub fn secs(t: f64) -> String {
    format!("{t:.3}s")
}

/// A short label for an axis or a total: `45s`, `2m`, `1m30s`.
pub fn short(t: f64) -> String {
    let whole = t.round().max(0.0) as u64;
    match (whole / 60, whole % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_people_type() {
        assert_eq!(parse_time("45"), Some(45.0));
        assert_eq!(parse_time(" 45.5 "), Some(45.5));
        assert_eq!(parse_time("1m30s"), Some(90.0));
        assert_eq!(parse_time("2m"), Some(120.0));
        assert_eq!(parse_time("90s"), Some(90.0));
        assert_eq!(parse_time("1:30"), Some(90.0));
        assert_eq!(parse_time("250ms"), Some(0.25));
        assert_eq!(parse_time("1h"), Some(3600.0));
        assert_eq!(parse_time("1m30"), Some(90.0));
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in ["", "abc", "1x", "m", "1:75", "-3", "1.2.3", ".", "1e3", "inf", "NaN", "s30", "1:"] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(secs(31.6475), "31.648s");
        assert_eq!(short(45.0), "45s");
        assert_eq!(short(120.0), "2m");
        assert_eq!(short(90.0), "1m30s");
    }
}
