//! Diagnostics for scenario files: where (file, line, column), what, the offending
//! text, and a hint ("did you mean `crash`?"). Every problem with a scenario, from a
//! YAML syntax error to a fault aimed at a node that does not exist, ends up here.

use std::fmt;

/// A problem found in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    /// 1-based; 0 when the problem has no single place (an empty file).
    pub line: u64,
    pub column: u64,
    pub message: String,
    /// The text at that place, as written.
    pub found: Option<String>,
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)?;
        if let Some(found) = &self.found {
            write!(f, "\n  found: {found}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_l = word.to_ascii_lowercase().replace('-', "_");
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&word_l, &c.to_ascii_lowercase().replace('-', "_")), c))
        .filter(|(d, c)| *d <= (c.len().max(word.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// The token starting at (line, column) of `text`: up to the end of the line or the
/// next YAML separator.
pub fn token_at(text: &str, line: u64, column: u64) -> Option<String> {
    let l = text.lines().nth(usize::try_from(line).ok()?.checked_sub(1)?)?;
    let start = usize::try_from(column).ok()?.checked_sub(1)?;
    let rest: String = l.chars().skip(start).collect();
    let token: String = rest.chars().take_while(|c| !matches!(c, ',' | ']' | '}' | '#')).collect();
    let token = token.trim().trim_end_matches(':').trim();
    (!token.is_empty()).then(|| token.chars().take(60).collect())
}

/// Rewrites the YAML reader's message into ours, with a hint where one helps.
pub fn explain(raw: &str, found: Option<&str>) -> (String, Option<String>) {
    // "unknown field `x`, expected one of a, b" / "unknown variant `x`, expected one of a, b"
    for (prefix, what) in [("unknown field `", "key"), ("unknown variant `", "value")] {
        if let Some(rest) = raw.strip_prefix(prefix)
            && let Some((word, tail)) = rest.split_once('`')
        {
            let expected: Vec<&str> = tail
                .trim_start_matches(", expected one of ")
                .trim_start_matches(", expected ")
                .split(", ")
                .map(|s| s.trim().trim_matches('`'))
                .filter(|s| !s.is_empty())
                .collect();
            let hint = match did_you_mean(word, expected.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("expected one of: {}", expected.join(", ")),
            };
            return (format!("unknown {what} `{word}`"), Some(hint));
        }
    }
    if let Some(rest) = raw.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return (format!("missing key `{field}`"), Some(format!("add `{field}:` to this mapping")));
    }
    if let Some(rest) = raw.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(',').next().unwrap_or(rest).trim();
        return (format!("duplicate key `{key}`"), Some("each key may appear once in a mapping".into()));
    }
    if raw.starts_with("duplicate field `") {
        let key = raw.trim_start_matches("duplicate field `").split('`').next().unwrap_or("");
        return (format!("duplicate key `{key}`"), Some("each key may appear once in a mapping".into()));
    }
    if let Some(kind) = raw.strip_prefix("invalid ")
        && let Some(range) = int_range(kind)
    {
        let what = found.map_or_else(String::new, |f| format!(" `{f}`"));
        return (format!("expected a whole number from {range}, found{what}"), None);
    }
    if raw.starts_with("budget breached: Depth") || raw.starts_with("recursion limit exceeded") {
        return ("the document is nested too deeply".into(), Some("a scenario needs at most a few levels".into()));
    }
    if raw.starts_with("budget breached") {
        return (
            format!("the document is too large or uses too many aliases ({raw})"),
            Some("scenarios are small; aliases that expand exponentially are refused".into()),
        );
    }
    if raw.starts_with("multiple YAML documents") {
        return ("a scenario file holds one YAML document, but a second one starts here".into(), None);
    }
    if raw.starts_with("unexpected end of input") {
        return ("the document ends too early".into(), None);
    }
    if raw.starts_with("invalid type: ") || raw.starts_with("expected ") {
        return (raw.to_string(), None);
    }
    (raw.to_string(), None)
}

fn int_range(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "u8" => "0 to 255",
        "u16" => "0 to 65535",
        "u32" => "0 to 4294967295",
        "u64" => "0 to 18446744073709551615",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_the_closest_candidate() {
        assert_eq!(did_you_mean("crsh", ["crash", "restart", "heal"]), Some("crash"));
        assert_eq!(did_you_mean("controlplanes", ["control_planes", "etcd"]), Some("control_planes"));
        assert_eq!(did_you_mean("zzzzzz", ["crash", "heal"]), None);
    }

    #[test]
    fn tokens_are_cut_at_yaml_separators() {
        assert_eq!(token_at("a: [x, yy]\n", 1, 8).as_deref(), Some("yy"));
        assert_eq!(token_at("count: 300 # c\n", 1, 8).as_deref(), Some("300"));
        assert_eq!(token_at("", 3, 1), None);
    }
}
