//! Which configuration key a TOML error is about, for both processes'
//! configuration errors. Trust: the text is the operator's own file; the
//! key is shown back to the operator.

/// The dotted key (`section.key`) a TOML parse error names: the key on the
/// line holding byte `span_start`, or, for ``missing field `x` ``, that
/// field inside the section there. Naming the key rather than quoting the
/// text under the span keeps a mistyped value (maybe a secret) out of the
/// message.
pub fn error_key(text: &str, span_start: Option<usize>, message: &str) -> String {
    let key = span_start.map(|pos| key_at(text, pos)).unwrap_or_default();
    match missing_field(message) {
        Some(field) => join_key(&key, field),
        None => key,
    }
}

/// The dotted key of the TOML line holding byte `pos`.
fn key_at(text: &str, pos: usize) -> String {
    let mut pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos -= 1;
    }
    let line_start = text[..pos].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i);
    let line = text[line_start..line_end].trim();
    let header = |l: &str| {
        l.trim()
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .map(|t| t.trim_matches(['[', ']', ' ']).to_string())
    };
    if let Some(section) = header(line) {
        return section;
    }
    let section = text[..line_start].lines().rev().find_map(header);
    let key = line.split_once('=').map_or(line, |(k, _)| k.trim());
    match section {
        Some(section) => join_key(&section, key),
        None => key.to_string(),
    }
}

fn join_key(section: &str, key: &str) -> String {
    if section.is_empty() {
        key.to_string()
    } else if key.is_empty() {
        section.to_string()
    } else {
        format!("{section}.{key}")
    }
}

/// ``missing field `x` `` → `x`.
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
}

#[cfg(test)]
mod tests {
    use super::error_key;

    #[test]
    fn names_the_key_of_the_line_or_the_missing_field() {
        let text = "listen = 1\n[limits]\nbody_bytes = \"x\"\n[[groups]]\nname = 2\n";
        let at = |needle: &str| Some(text.find(needle).unwrap());
        let cases = [
            (at("1"), "invalid type", "listen"),
            (at("\"x\""), "invalid type", "limits.body_bytes"),
            (
                at("[limits]"),
                "missing field `ws_queue`",
                "limits.ws_queue",
            ),
            (at("2"), "invalid type", "groups.name"),
            (None, "missing field `listen`", "listen"),
            (None, "something else", ""),
            (Some(10_000), "invalid type", "groups"),
        ];
        for (span, message, want) in cases {
            assert_eq!(error_key(text, span, message), want, "{span:?} {message}");
        }
    }

    #[test]
    fn a_position_inside_a_character_is_no_panic() {
        let text = "name = \"é\"\n";
        for pos in 0..=text.len() {
            let _ = error_key(text, Some(pos), "invalid type");
        }
    }
}
