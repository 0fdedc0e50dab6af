//! Reading a prompt's choices in scap's order; trust level: input is a line that
//! carried the right key, but is still parsed defensively.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use super::Choice;

/// The `choices` object of a raw `interaction` line, in the order scap wrote it;
/// `None` if it is missing, not an object, or a value is not a string.
pub(super) fn in_order(raw: &str) -> Option<Vec<Choice>> {
    #[derive(Deserialize)]
    struct Wire {
        choices: Ordered,
    }
    serde_json::from_str::<Wire>(raw)
        .ok()
        .map(|wire| wire.choices.0)
}

struct Ordered(Vec<Choice>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(OrderedVisitor)
    }
}

struct OrderedVisitor;

impl<'de> Visitor<'de> for OrderedVisitor {
    type Value = Ordered;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of label: key strings")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
        let mut choices = Vec::new();
        while let Some((label, key)) = map.next_entry::<String, String>()? {
            choices.push(Choice { label, key });
        }
        Ok(Ordered(choices))
    }
}
