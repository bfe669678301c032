//! Durations as people write them in scenarios: "250ms", "15s", "2m", "1h", "30d",
//! "1m30s", "1.5s". A bare number is refused (its unit would be a guess), and so is a
//! negative duration, except where a signed one makes sense (a clock step). Days are
//! there for certificate lifetimes and clock steps measured against them.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::time::SimDuration;

/// A non-negative duration read from a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub SimDuration);

/// A duration that may be negative ("-30s"), for clock steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedDur(pub i64);

const PATTERN: &str = r"^-?([0-9]+(\.[0-9]+)?(us|ms|s|m|h|d))+$";

/// Parses "1m30s" and friends into microseconds (negative with a leading '-').
pub fn parse_micros(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let (negative, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    if body.is_empty() {
        return Err(format!("`{text}` is not a duration; write it like `500ms`, `15s`, `2m` or `1m30s`"));
    }
    let mut total: i64 = 0;
    let mut rest = body;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (num, after) = rest.split_at(num_len);
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_len);
        if num.is_empty() {
            return Err(format!("`{text}` is not a duration: expected a number before `{unit}`"));
        }
        let per_unit: i64 = match unit {
            "us" | "µs" => 1,
            "ms" => 1_000,
            "s" => 1_000_000,
            "m" => 60_000_000,
            "h" => 3_600_000_000,
            "d" => 86_400_000_000,
            "" => return Err(format!("`{text}` needs a unit: `{num}s`, `{num}ms`, `{num}m`…")),
            other => {
                return Err(format!("`{text}` has an unknown unit `{other}`; use us, ms, s, m, h or d"));
            }
        };
        let value: f64 = num.parse().map_err(|_| format!("`{text}` is not a duration: `{num}` is not a number"))?;
        let micros = value * per_unit as f64;
        if !micros.is_finite() || micros > 1e15 {
            return Err(format!("`{text}` is too long"));
        }
        total = total.saturating_add(micros.round() as i64);
        rest = next;
    }
    Ok(if negative { -total } else { total })
}

struct DurVisitor {
    signed: bool,
}

impl Visitor<'_> for DurVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration such as `500ms`, `15s` or `2m`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        let micros = parse_micros(v).map_err(E::custom)?;
        if micros < 0 && !self.signed {
            return Err(E::custom(format!("`{v}`: a duration cannot be negative")));
        }
        Ok(micros)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        Err(E::custom(format!("`{v}` needs a unit: write `{v}s` or `{v}ms`")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Err(E::custom(format!("`{v}` needs a unit: write `{v}s` or `{v}ms`")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        Err(E::custom(format!("`{v}` needs a unit: write `{v}s` or `{v}ms`")))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let micros = d.deserialize_any(DurVisitor { signed: false })?;
        Ok(Dur(SimDuration(micros as u64)))
    }
}

impl<'de> Deserialize<'de> for SignedDur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(SignedDur(d.deserialize_any(DurVisitor { signed: true })?))
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.0.fmt(f)
    }
}

fn duration_schema(description: &str) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "pattern": PATTERN,
        "description": description,
    })
}

impl schemars::JsonSchema for Dur {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        duration_schema("A duration with a unit: `250ms`, `15s`, `2m`, `1h`, `1m30s`.")
    }
}

impl schemars::JsonSchema for SignedDur {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SignedDuration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        duration_schema("A duration that may be negative: `-30s`, `5m`.")
    }
}

#[cfg(test)]
mod tests {
    use super::parse_micros;

    #[test]
    fn durations_parse_with_units_and_compounds() {
        assert_eq!(parse_micros("250ms"), Ok(250_000));
        assert_eq!(parse_micros("15s"), Ok(15_000_000));
        assert_eq!(parse_micros("1m30s"), Ok(90_000_000));
        assert_eq!(parse_micros("1.5s"), Ok(1_500_000));
        assert_eq!(parse_micros("2h"), Ok(7_200_000_000));
        assert_eq!(parse_micros("-30s"), Ok(-30_000_000));
        assert_eq!(parse_micros("-400d"), Ok(-400 * 86_400_000_000));
        assert!(parse_micros("10").unwrap_err().contains("needs a unit"));
        assert!(parse_micros("10 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse_micros("s").unwrap_err().contains("expected a number"));
        assert!(parse_micros("").is_err());
    }
}
