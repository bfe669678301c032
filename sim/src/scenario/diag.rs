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

/// The candidate closest to `word`, if it is close enough to be a likely typo. The
/// same words in another order (`check_timeout` for `timeout_check`) count as one
/// typo.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_l = word.to_ascii_lowercase().replace('-', "_");
    let words = |s: &str| {
        let mut w: Vec<String> = s.split('_').map(str::to_string).collect();
        w.sort();
        w
    };
    let word_words = words(&word_l);
    let distance = |c: &str| {
        let c = c.to_ascii_lowercase().replace('-', "_");
        if c.contains('_') && words(&c) == word_words { 1 } else { strsim::damerau_levenshtein(&word_l, &c) }
    };
    candidates
        .into_iter()
        .map(|c| (distance(c), c))
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
            // A fault entry's keys are `at`, `for` and the kinds (see `faults.rs`).
            let (what, listed) = if expected == super::faults::ENTRY_KEYS {
                ("fault kind", super::faults::FAULT_KINDS)
            } else {
                (what, &expected[..])
            };
            let hint = match did_you_mean(word, expected.iter().copied()) {
                Some(best) => format!("did you mean `{best}`?"),
                None => format!("expected one of: {}", listed.join(", ")),
            };
            return (format!("unknown {what} `{word}`"), Some(hint));
        }
    }
    // "invalid value: a second fault kind `restart`, expected one fault per entry (…)"
    if let Some(rest) = raw.strip_prefix("invalid value: ")
        && let Some((unexpected, expected)) = rest.split_once(", expected ")
    {
        let hint = unexpected
            .starts_with(super::faults::SECOND_KIND)
            .then(|| "start a new `- at:` entry for each fault".to_string());
        return (format!("expected {expected}, found {unexpected}"), hint);
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
    if raw.contains("did not find expected key") {
        return (raw.to_string(), Some("check the indentation: the keys of one mapping line up".into()));
    }
    if raw.starts_with("multiple YAML documents") {
        return ("a scenario file holds one YAML document, but a second one starts here".into(), None);
    }
    if raw.starts_with("unexpected end of input") {
        return ("the document ends too early".into(), None);
    }
    if raw == "invalid boolean" {
        return ("expected `true` or `false`".into(), None);
    }
    if raw == "invalid floating point" {
        return ("expected a number".into(), None);
    }
    if raw.contains("found a tab") {
        return (raw.to_string(), Some("YAML indents with spaces only; replace the tab".into()));
    }
    // The reader's names for what it wanted, in the words of a scenario author.
    for (reader, ours) in [
        ("expected mapping start", "expected a mapping (`key: value` entries)"),
        ("expected sequence start", "expected a list"),
        ("expected string scalar", "expected a single value"),
    ] {
        if let Some(rest) = raw.strip_prefix(reader) {
            let what = found.map_or_else(String::new, |f| format!(", found `{f}`"));
            return (format!("{ours}{what}{rest}"), None);
        }
    }
    (raw.to_string(), None)
}

/// A hint for a fault kind that takes a node name but was given a mapping or a list,
/// such as `stop: { node: lb-1, process: haproxy }`: what the kind does with a node,
/// and the kind that acts on one process, if that is what was meant. `raw` is the
/// reader's message and (line, column) where the value starts.
pub fn node_value_hint(text: &str, raw: &str, line: u64, column: u64) -> Option<String> {
    if !raw.starts_with("expected string scalar") {
        return None;
    }
    let lines: Vec<&str> = text.lines().collect();
    let at = usize::try_from(line).ok()?.checked_sub(1)?;
    let l = lines.get(at)?;
    let before: String = l.chars().take(usize::try_from(column).ok()?.checked_sub(1)?).collect();
    let value: String = l.chars().skip(before.chars().count()).collect();
    let key_text = if value.starts_with(['{', '[']) {
        // Flow style: `stop: { node: lb-1, … }`, the key on the same line.
        before
    } else if before.trim().is_empty() {
        // Block style: the mapping or list starts on the lines under `stop:`.
        let indent = before.chars().count();
        let key_line = lines[..at].iter().rev().find(|k| {
            let body = k.trim_start();
            !body.is_empty() && !body.starts_with('#') && k.len() - body.len() < indent
        })?;
        key_line.trim_end().to_string()
    } else {
        return None;
    };
    let key = key_text.trim().trim_start_matches(['-', ' ']).strip_suffix(':')?.trim();
    // The mapping as written, when it is one on this line; an example otherwise.
    let mapping = match value.find('}') {
        Some(end) if value.starts_with('{') && value[..end].contains("process") => value[..=end].to_string(),
        _ => "{ node: cp-1, process: kube-apiserver }".to_string(),
    };
    let per_process = |what: &str, instead: &str| {
        format!("`{key}` takes a node name ({what}); for one process write `{instead}: {mapping}`")
    };
    Some(match key {
        "stop" => per_process("a graceful stop of its etcd", "stop_process"),
        "crash" => per_process("power loss of the whole node", "kill"),
        "restart" => per_process("the node boots", "start"),
        "pause_host" => per_process("the whole node freezes", "pause"),
        "resume_host" => per_process("the whole node thaws", "resume"),
        "wipe" | "lb_failure" | "isolate" | "renew_certs" | "remove_member" | "promote_learner" => {
            format!("`{key}` takes a node name, such as `{key}: cp-1`")
        }
        _ => return None,
    })
}

/// A better place for some of the reader's errors: a tab is reported at the scalar
/// before it, a second document at its first node, and a missing key at the last key of
/// the mapping; this moves them to the tab, the `---` and the first key of the mapping.
pub fn refine_location(text: &str, raw: &str, line: u64, column: u64) -> (u64, u64) {
    let lines: Vec<&str> = text.lines().collect();
    let Some(at) = usize::try_from(line).ok().and_then(|l| l.checked_sub(1)).filter(|&l| l < lines.len()) else {
        return (line, column);
    };
    if raw.contains("found a tab") {
        for (i, l) in lines.iter().enumerate().skip(at) {
            let indent = &l[..l.len() - l.trim_start_matches([' ', '\t']).len()];
            if let Some(tab) = indent.find('\t') {
                return (i as u64 + 1, tab as u64 + 1);
            }
        }
    }
    if raw.starts_with("multiple YAML documents")
        && let Some(start) = (0..=at).rev().find(|&i| lines[i].starts_with("---"))
    {
        return (start as u64 + 1, 1);
    }
    if raw.starts_with("missing field") {
        // The column of a block mapping key on a line (after any `- `), if it has one.
        let key_column = |l: &str| -> Option<(usize, bool)> {
            let body = l.trim_start_matches(' ');
            let after_dashes = body.trim_start_matches(['-', ' ']);
            if body.is_empty() || body.starts_with('#') || after_dashes.is_empty() {
                return None;
            }
            Some((l.len() - after_dashes.len(), after_dashes.len() != body.len()))
        };
        match key_column(lines[at]) {
            Some((indent, _)) if indent as u64 + 1 == column => {
                let mut first = (at, indent);
                for i in (0..at).rev() {
                    match key_column(lines[i]) {
                        None => {}
                        Some((c, _)) if c > indent => {}
                        Some((c, dash)) if c == indent => {
                            first = (i, c);
                            if dash {
                                break;
                            }
                        }
                        Some(_) => break,
                    }
                }
                return (first.0 as u64 + 1, first.1 as u64 + 1);
            }
            _ => {}
        }
    }
    (line, column)
}

/// "the `{` at line 30, column 18 is never closed" when a flow collection opened before
/// (line, column) is never closed: the reader then fails somewhere after it, often with
/// a message about the text that the open collection swallowed.
pub fn unclosed_hint(text: &str, line: u64, column: u64) -> Option<String> {
    let mut open: Vec<(char, u64, u64)> = Vec::new();
    let mut unclosed: Vec<(char, u64, u64)> = Vec::new();
    // Indentation of a line that started a block scalar (`|`, `>`): deeper lines are text.
    let mut block_scalar: Option<usize> = None;
    for (i, l) in text.lines().enumerate() {
        let indent = l.len() - l.trim_start_matches(' ').len();
        if let Some(b) = block_scalar {
            if l.trim().is_empty() || indent > b {
                continue;
            }
            block_scalar = None;
        }
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for (j, ch) in l.chars().enumerate() {
            match quote {
                Some(q) if ch == q => quote = None,
                Some(_) => {}
                None => match ch {
                    '#' if prev.is_whitespace() => break,
                    '\'' | '"' if matches!(prev, ' ' | '\t' | '[' | '{' | ',' | ':') => quote = Some(ch),
                    '[' | '{' => open.push((ch, i as u64 + 1, j as u64 + 1)),
                    ']' | '}' => {
                        let want = if ch == ']' { '[' } else { '{' };
                        match open.pop() {
                            Some(o) if o.0 == want => {}
                            Some(o) => unclosed.push(o),
                            None => {}
                        }
                    }
                    _ => {}
                },
            }
            prev = ch;
        }
        let content = l.split(" #").next().unwrap_or(l).trim_end();
        let last = content.rsplit([' ', ':']).next().unwrap_or("");
        if open.is_empty()
            && (last.starts_with('|') || last.starts_with('>'))
            && last[1..].chars().all(|c| c.is_ascii_digit() || c == '+' || c == '-')
        {
            block_scalar = Some(indent);
        }
    }
    unclosed.extend(open);
    unclosed
        .into_iter()
        .filter(|&(_, l, c)| (l, c) < (line, column))
        .min_by_key(|&(_, l, c)| (l, c))
        .map(|(ch, l, c)| format!("the `{ch}` at line {l}, column {c} is never closed"))
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
        assert_eq!(did_you_mean("check_timeout", ["timeout_connect", "timeout_check"]), Some("timeout_check"));
    }

    #[test]
    fn only_flow_collections_that_never_close_get_a_hint() {
        let text = "d: |\n  text with [ and {\nb: [x,\n  y]\nc: { k: v\ne: 1\n";
        assert_eq!(unclosed_hint(text, 6, 1).as_deref(), Some("the `{` at line 5, column 4 is never closed"));
        assert_eq!(unclosed_hint(text, 4, 1), None, "before the open brace");
        assert_eq!(unclosed_hint("a: '[x'\nb: [1] # [\n", 2, 1), None, "quoted and commented");
    }

    #[test]
    fn tokens_are_cut_at_yaml_separators() {
        assert_eq!(token_at("a: [x, yy]\n", 1, 8).as_deref(), Some("yy"));
        assert_eq!(token_at("count: 300 # c\n", 1, 8).as_deref(), Some("300"));
        assert_eq!(token_at("", 3, 1), None);
    }
}
