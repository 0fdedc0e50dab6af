//! One way to define a closed list of snake_case words (job states, stages,
//! kinds, roles, actions); trust level: constants, no input here — parsing
//! untrusted text goes through the generated `FromStr`, which accepts only
//! the exact words.
//!
//! `vocabulary!` writes the enum and, from the same list, `ALL`, `NAMES`,
//! `as_str`, `Display`, `FromStr` and the serde names, so the word of a
//! variant is written once and the store, the API, `ctl` and the pages
//! cannot spell it differently. A new variant is then in `ALL` by
//! construction, and every exhaustive `match` over the enum (the words for
//! people, the wire mapping) stops compiling until it is decided.

/// `vocabulary! { /// doc
///     pub enum Name as "what it is, for errors" { Variant = "word", ... } }`
///
/// Extra derives and attributes (e.g. `Default`, `#[default]`) are passed on.
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident as $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $word:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $word)] $variant, )+
        }

        impl $name {
            /// Every value, in the order written (for states: a job's life).
            pub const ALL: [$name; [$($word),+].len()] = [$($name::$variant),+];
            /// The words, in the order of `ALL`.
            pub const NAMES: [&'static str; [$($word),+].len()] = [$($word),+];

            /// The snake_case word used in the store, the API, `ctl` and the pages.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $word, )+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::error::PolicyError;

            /// Exactly one of `NAMES` (case matters); anything else is refused
            /// with a message that lists them.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or($crate::error::PolicyError::UnknownWord {
                        what: $what,
                        allowed: &Self::NAMES,
                    })
            }
        }
    };
}

pub(crate) use vocabulary;
