//! JSON text exactly as Python's `json.dumps(obj)` writes it, because that is what
//! scap's `spiderpig/io.py` uses for every machine-mode message: `", "` and `": "`
//! as separators, keys in insertion order, and `ensure_ascii` (everything outside
//! printable ASCII is a lowercase `\uXXXX` escape, astral characters as surrogate
//! pairs). A consumer that only works with compact serde-style JSON would fail on
//! real scap, so the fake must not be kinder than the real thing.

/// A JSON value whose objects keep the order in which their keys were written.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(u64),
    Str(String),
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn str(s: impl Into<String>) -> Json {
        Json::Str(s.into())
    }

    pub fn opt_str(s: Option<&str>) -> Json {
        s.map_or(Json::Null, Json::str)
    }

    pub fn opt_int(n: Option<u64>) -> Json {
        n.map_or(Json::Null, Json::Int)
    }

    /// An object from `(key, value)` pairs, in order.
    pub fn obj<K: Into<String>>(pairs: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Obj(pairs.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

/// `json.dumps(value)`.
pub fn dumps(value: &Json) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Json) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(true) => out.push_str("true"),
        Json::Bool(false) => out.push_str("false"),
        Json::Int(n) => out.push_str(&n.to_string()),
        Json::Str(s) => write_str(out, s),
        Json::Obj(pairs) => {
            out.push('{');
            for (i, (key, val)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(out, key);
                out.push_str(": ");
                write_value(out, val);
            }
            out.push('}');
        }
    }
}

/// Python's `ESCAPE_ASCII`: anything that is not `' '..='~'` is escaped.
fn write_str(out: &mut String, s: &str) {
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(ch),
            _ => {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python_json_dumps() {
        // Expected strings produced with CPython 3.11: json.dumps({...}).
        let value = Json::obj([
            ("type", Json::str("line")),
            ("line", Json::str("\u{1b}[32m06:36:50 Voting\u{1b}[0m")),
            ("sensitive", Json::Bool(false)),
            ("n", Json::Null),
        ]);
        assert_eq!(
            dumps(&value),
            r#"{"type": "line", "line": "\u001b[32m06:36:50 Voting\u001b[0m", "sensitive": false, "n": null}"#
        );
        assert_eq!(
            dumps(&Json::str("┌─é😀\u{7f}\"\\")),
            r#""\u250c\u2500\u00e9\ud83d\ude00\u007f\"\\""#
        );
        assert_eq!(dumps(&Json::obj(Vec::<(String, Json)>::new())), "{}");
    }
}
