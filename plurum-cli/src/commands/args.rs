//! What several commands' options share: the API's closed sets of values
//! (declared once, in the SDK, with `KNOWN`) reaching the command line's
//! value parsers and completions, the options' serde decoding for
//! `plurum mcp` and the tools' JSON schemas; and the numeric ranges a
//! flag and a tool argument both check.

use std::ops::RangeInclusive;

use plurum_sdk::types::{
    AcquireMode, ContributionType, EntryType, EventType, ExperienceStatus, Importance, Outcome, SessionStatus,
    Visibility, VoteType,
};
use serde::{Deserialize, Deserializer};

/// One of the API's closed sets of values (an SDK `wire_enum!`).
pub(crate) trait Closed: Clone + Send + Sync + Sized + 'static {
    /// Every value, as the API spells it.
    const KNOWN: &'static [&'static str];
    /// Other spellings the command line accepts, as `(alias, value)`.
    const ALIASES: &'static [(&'static str, &'static str)] = &[];
    fn parse_known(value: &str) -> Option<Self>;
}

macro_rules! closed {
    ($($ty:ty $(=> [$(($alias:literal, $value:literal)),* $(,)?])?),* $(,)?) => {
        $(impl Closed for $ty {
            const KNOWN: &'static [&'static str] = <$ty>::KNOWN;
            $(const ALIASES: &'static [(&'static str, &'static str)] = &[$(($alias, $value)),*];)?
            fn parse_known(value: &str) -> Option<Self> {
                <$ty>::parse_known(value)
            }
        })*
    };
}

closed! {
    Visibility,
    SessionStatus,
    Outcome,
    ExperienceStatus,
    EntryType,
    Importance,
    ContributionType,
    VoteType => [("upvote", "up"), ("downvote", "down")],
    AcquireMode,
    EventType,
}

/// A value parser for one of the API's closed sets (`session_opened`),
/// accepting the hyphenated spelling too (`session-opened`) and the set's
/// aliases, and offering the values to shell completions.
pub(crate) fn choice<T: Closed>() -> impl clap::builder::TypedValueParser<Value = T> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
    let values = T::KNOWN.iter().map(|name| {
        let mut value = PossibleValue::new(*name);
        if name.contains('_') {
            let hyphenated: &'static str = Box::leak(name.replace('_', "-").into_boxed_str());
            value = value.alias(hyphenated);
        }
        for (alias, _) in T::ALIASES.iter().filter(|(_, target)| target == name) {
            value = value.alias(*alias);
        }
        value
    });
    PossibleValuesParser::new(values).try_map(|text: String| {
        let text = T::ALIASES
            .iter()
            .find(|(alias, _)| *alias == text)
            .map_or(text.replace('-', "_"), |(_, value)| (*value).to_owned());
        T::parse_known(&text).ok_or_else(|| format!("use one of {}", T::KNOWN.join(", ")))
    })
}

/// Decodes one of a closed set's values (a tool argument): anything else
/// is refused, naming the values.
pub(crate) fn closed<'de, D: Deserializer<'de>, T: Closed>(deserializer: D) -> Result<T, D::Error> {
    let text = String::deserialize(deserializer)?;
    T::parse_known(&text)
        .ok_or_else(|| serde::de::Error::custom(format!("unknown value {text:?}: use one of {}", T::KNOWN.join(", "))))
}

/// [`closed`], for an optional argument (`null` is the same as leaving it out).
pub(crate) fn closed_opt<'de, D: Deserializer<'de>, T: Closed>(deserializer: D) -> Result<Option<T>, D::Error> {
    match Option::<String>::deserialize(deserializer)? {
        None => Ok(None),
        Some(text) => T::parse_known(&text).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown value {text:?}: use one of {}", T::KNOWN.join(", ")))
        }),
    }
}

/// The JSON schema of a closed set: a string, one of its values.
pub(crate) fn closed_schema<T: Closed>(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "string", "enum": T::KNOWN })
}

/// Words given on the command line one by one, or as one string by a tool.
pub(crate) fn words<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Words {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Words::deserialize(deserializer)? {
        Words::One(text) => vec![text],
        Words::Many(words) => words,
    })
}

/// Numeric ranges the API enforces, checked by the flag's value parser and
/// declared in the tool's schema (a test holds the two together).
pub(crate) mod ranges {
    use super::RangeInclusive;

    /// `search --limit`: results per call.
    pub(crate) const SEARCH_LIMIT: RangeInclusive<i64> = 1..=50;
    /// `inbox --limit`: events shown at once.
    pub(crate) const INBOX_LIMIT: RangeInclusive<i64> = 1..=500;
    /// `session list --limit`, `experience list --limit`: a page.
    pub(crate) const PAGE_LIMIT: RangeInclusive<i64> = 1..=100;
    /// `experience similar --limit`.
    pub(crate) const SIMILAR_LIMIT: RangeInclusive<i64> = 1..=20;
}

/// A page's default size (`--limit` of the lists).
pub(crate) const PAGE_DEFAULT: u32 = 20;

/// [`PAGE_DEFAULT`], for serde.
pub(crate) fn page_default() -> u32 {
    PAGE_DEFAULT
}

/// A value parser for an integer flag within `range`.
pub(crate) fn int_in(range: RangeInclusive<i64>) -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(range)
}

/// A value parser for a number flag within `min..=max` (scores, rates).
pub(crate) fn number_in(min: f64, max: f64) -> impl clap::builder::TypedValueParser<Value = f64> {
    use clap::builder::TypedValueParser as _;
    clap::builder::StringValueParser::new().try_map(move |text: String| {
        let value: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number"))?;
        if value.is_finite() && (min..=max).contains(&value) {
            Ok(value)
        } else {
            Err(format!("use a number from {min} to {max}"))
        }
    })
}

#[cfg(test)]
mod tests {
    use clap::builder::TypedValueParser as _;

    use super::*;

    fn parse<T: Closed>(text: &str) -> Result<T, clap::Error> {
        let command = clap::Command::new("test");
        choice::<T>().parse_ref(&command, None, std::ffi::OsStr::new(text))
    }

    #[test]
    fn the_apis_spellings_hyphens_and_aliases_parse() {
        assert_eq!(
            parse::<AcquireMode>("decision_tree").unwrap(),
            AcquireMode::DecisionTree
        );
        assert_eq!(
            parse::<AcquireMode>("decision-tree").unwrap(),
            AcquireMode::DecisionTree
        );
        assert_eq!(parse::<VoteType>("upvote").unwrap(), VoteType::Up);
        assert_eq!(parse::<VoteType>("down").unwrap(), VoteType::Down);
        assert!(parse::<Outcome>("maybe").is_err());
    }

    #[test]
    fn tool_arguments_refuse_values_outside_the_set() {
        #[derive(Debug, serde::Deserialize)]
        struct Args {
            #[serde(deserialize_with = "closed")]
            outcome: Outcome,
            #[serde(default, deserialize_with = "closed_opt")]
            mode: Option<AcquireMode>,
        }
        let ok: Args = serde_json::from_str(r#"{"outcome": "partial", "mode": "full"}"#).unwrap();
        assert_eq!((ok.outcome, ok.mode), (Outcome::Partial, Some(AcquireMode::Full)));
        let missing: Args = serde_json::from_str(r#"{"outcome": "success"}"#).unwrap();
        assert_eq!(missing.mode, None);
        let error = serde_json::from_str::<Args>(r#"{"outcome": "maybe"}"#).unwrap_err();
        assert!(error.to_string().contains("success, partial, failure"), "{error}");
    }
}
