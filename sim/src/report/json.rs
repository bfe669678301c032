//! The JSON layout every hasim document is printed in: indented like
//! `serde_json::to_string_pretty`, except that arrays of numbers or strings and small
//! containers stay on one line. A report's per-second series then read as one line per
//! plane and a timeline entry as one line per event, which keeps `git diff` and insta
//! snapshots of reports reviewable. Key order is the order fields are declared in
//! (serde_json's `preserve_order`), so the output is stable.

use serde::Serialize;
use serde_json::Value;

/// Containers whose one-line form fits in this many columns (with indentation) stay on
/// one line.
const LINE: usize = 110;

/// Prints `value` in hasim's layout, ending with a newline.
pub fn to_string<T: Serialize>(value: &T) -> String {
    let v = serde_json::to_value(value).expect("report types have string keys and finite numbers");
    let mut out = String::new();
    write(&v, 0, &mut out);
    out.push('\n');
    out
}

fn write(v: &Value, indent: usize, out: &mut String) {
    let one_line = serde_json::to_string(v).expect("a Value serialises");
    let scalars_only = match v {
        Value::Array(items) => items.iter().all(|i| !i.is_array() && !i.is_object()),
        // A record of scalars (a timeline event, an outage) reads best as one line.
        Value::Object(map) => map.values().all(|i| match i {
            Value::Array(items) => items.iter().all(|i| !i.is_array() && !i.is_object()),
            Value::Object(_) => false,
            _ => true,
        }),
        _ => true,
    };
    if scalars_only || indent + one_line.len() <= LINE {
        out.push_str(&one_line);
        return;
    }
    let pad = " ".repeat(indent + 2);
    match v {
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad);
                write(item, indent + 2, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&" ".repeat(indent));
            out.push(']');
        }
        Value::Object(map) => {
            out.push_str("{\n");
            for (i, (key, item)) in map.iter().enumerate() {
                out.push_str(&pad);
                out.push_str(&serde_json::to_string(key).expect("a string serialises"));
                out.push_str(": ");
                write(item, indent + 2, out);
                out.push_str(if i + 1 < map.len() { ",\n" } else { "\n" });
            }
            out.push_str(&" ".repeat(indent));
            out.push('}');
        }
        _ => unreachable!("scalars are printed on one line above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_containers_and_number_series_stay_on_one_line() {
        let long: Vec<u32> = (0..100).collect();
        let v = serde_json::json!({"b": 1, "a": {"x": [1, 2]}, "series": long, "rows": [{"k": "v".repeat(120)}]});
        let text = to_string(&v);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "{");
        assert_eq!(lines[1], "  \"b\": 1,", "declaration order, not sorted");
        assert_eq!(lines[2], "  \"a\": {\"x\":[1,2]},");
        assert!(lines[3].starts_with("  \"series\": [0,1,2,"), "{}", lines[3]);
        assert_eq!(lines[4], "  \"rows\": [");
        let back: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back, v);
    }
}
