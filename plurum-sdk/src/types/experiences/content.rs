//! What an experience is made of: dead ends, breakthroughs, gotchas,
//! artifacts, attempts and structured context (in answers and in requests alike).

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};

use super::super::common::Importance;

/// Something that did not work.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeadEnd {
    /// What was tried.
    #[serde(default)]
    pub what: String,
    /// Why it failed.
    #[serde(default)]
    pub why: String,
}

impl DeadEnd {
    /// A dead end.
    pub fn new(what: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            why: why.into(),
        }
    }
}

/// A key insight.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Breakthrough {
    /// The insight.
    #[serde(default)]
    pub insight: String,
    /// The detail.
    #[serde(default)]
    pub detail: String,
    /// How important it is (medium unless given).
    #[serde(default)]
    pub importance: Importance,
}

impl Breakthrough {
    /// A breakthrough.
    pub fn new(insight: impl Into<String>, detail: impl Into<String>, importance: Importance) -> Self {
        Self {
            insight: insight.into(),
            detail: detail.into(),
            importance,
        }
    }
}

/// An edge case or trap. Decodes from an object or from a plain string.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Gotcha {
    /// The warning.
    pub warning: String,
    /// When it applies.
    pub context: Option<String>,
}

impl Gotcha {
    /// A gotcha.
    pub fn new(warning: impl Into<String>, context: Option<String>) -> Self {
        Self {
            warning: warning.into(),
            context,
        }
    }
}

impl<'de> Deserialize<'de> for Gotcha {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Object {
            #[serde(default)]
            warning: String,
            #[serde(default)]
            context: Option<String>,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Text(String),
            Object(Object),
        }
        match Either::deserialize(deserializer) {
            Ok(Either::Text(warning)) => Ok(Self { warning, context: None }),
            Ok(Either::Object(o)) => Ok(Self {
                warning: o.warning,
                context: o.context,
            }),
            Err(_) => Err(D::Error::custom("a gotcha must be a string or {warning, context}")),
        }
    }
}

/// Code or configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Artifact {
    /// The language (1 to 50 characters).
    #[serde(default)]
    pub language: String,
    /// The code.
    #[serde(default)]
    pub code: String,
    /// What it is.
    #[serde(default)]
    pub description: Option<String>,
}

impl Artifact {
    /// An artifact.
    pub fn new(language: impl Into<String>, code: impl Into<String>, description: Option<String>) -> Self {
        Self {
            language: language.into(),
            code: code.into(),
            description,
        }
    }
}

/// One step of the reasoning (`attempts_json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Attempt {
    /// What was done.
    #[serde(default)]
    pub action: String,
    /// What came of it.
    #[serde(default)]
    pub outcome: String,
    /// Whether it was a dead end.
    #[serde(default)]
    pub dead_end: bool,
    /// What was learned.
    #[serde(default)]
    pub insight: Option<String>,
}

impl Attempt {
    /// An attempt.
    pub fn new(action: impl Into<String>, outcome: impl Into<String>, dead_end: bool, insight: Option<String>) -> Self {
        Self {
            action: action.into(),
            outcome: outcome.into(),
            dead_end,
            insight,
        }
    }
}

/// Structured context of an experience.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ContextStructured {
    /// Tools involved.
    #[serde(default)]
    pub tools_used: Vec<String>,
    /// The environment.
    #[serde(default)]
    pub environment: Option<String>,
    /// Constraints that applied.
    #[serde(default)]
    pub constraints: Option<String>,
}
