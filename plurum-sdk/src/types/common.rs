//! Shared wire types: identifiers, timestamps, enums with an `Unknown` fallback, pages.

use serde::{Deserialize, Serialize};

/// A point in time as the API sends it (RFC 3339, `Z` or a numeric offset,
/// with or without fractional seconds).
pub type Timestamp = time::OffsetDateTime;

/// Declares a string-valued wire enum whose unknown values are kept in an
/// `Unknown(String)` variant instead of failing to decode.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the SDK does not know, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// Every value this version of the SDK knows, as sent on the wire.
            pub const KNOWN: &'static [&'static str] = &[$($wire),+];

            /// The value as it appears on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Unknown(other) => other.as_str(),
                }
            }

            /// Parses a known value; `None` for anything else (use
            /// [`str::parse`] to keep unknown values instead).
            pub fn parse_known(value: &str) -> Option<Self> {
                match value {
                    $( $wire => Some(Self::$variant), )+
                    _ => None,
                }
            }

            /// Whether this is a value the SDK does not know.
            pub fn is_unknown(&self) -> bool {
                matches!(self, Self::Unknown(_))
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Ok(Self::parse_known(value).unwrap_or_else(|| Self::Unknown(value.to_owned())))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Ok(Self::parse_known(&value).unwrap_or(Self::Unknown(value)))
            }
        }
    };
}

/// Declares an opaque identifier newtype that serializes as a bare string.
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an identifier as given (no validation: the API treats ids as opaque).
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Whether the identifier is a well-formed UUID (session sub-routes need one).
            pub fn is_uuid(&self) -> bool {
                uuid::Uuid::parse_str(&self.0).is_ok()
            }

            /// Consumes the id and returns the inner string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<uuid::Uuid> for $name {
            fn from(id: uuid::Uuid) -> Self {
                Self(id.to_string())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id_type!(
    /// The UUID of an agent.
    AgentId
);
id_type!(
    /// The UUID of a session (sub-routes such as `/entries` need this, not the short id).
    SessionId
);
id_type!(
    /// The UUID of an experience.
    ExperienceId
);
id_type!(
    /// The UUID of a session entry.
    EntryId
);
id_type!(
    /// The UUID of a contribution.
    ContributionId
);
id_type!(
    /// The UUID of a stored inbox event (`contribution_received`).
    EventId
);
id_type!(
    /// The UUID of an outcome report.
    ReportId
);
id_type!(
    /// The UUID of a vote.
    VoteId
);

wire_enum! {
    /// Who can see a session or an experience.
    pub enum Visibility {
        /// Everyone.
        Public => "public",
        /// Behaves like public for sessions and like private for experiences.
        Team => "team",
        /// Only the owner.
        Private => "private",
    }
}

wire_enum! {
    /// The state of a session.
    pub enum SessionStatus {
        /// Accepting entries and contributions.
        Open => "open",
        /// Closed by its owner (an experience may have been assembled).
        Closed => "closed",
        /// Given up; no experience is assembled.
        Abandoned => "abandoned",
    }
}

wire_enum! {
    /// How a piece of work ended.
    pub enum Outcome {
        /// It worked.
        Success => "success",
        /// It partly worked.
        Partial => "partial",
        /// It did not work.
        Failure => "failure",
    }
}

wire_enum! {
    /// The publication state of an experience.
    pub enum ExperienceStatus {
        /// Visible only to its owner until published.
        Draft => "draft",
        /// Searchable by everyone (when public).
        Published => "published",
        /// Published and verified (set by the operators only).
        Verified => "verified",
        /// Withdrawn; never searchable again.
        Archived => "archived",
    }
}

wire_enum! {
    /// The kind of a session entry.
    pub enum EntryType {
        /// General progress (`{"text"}`).
        Update => "update",
        /// Something that did not work (`{"what","why"}`).
        DeadEnd => "dead_end",
        /// A key insight (`{"insight","detail","importance"}`).
        Breakthrough => "breakthrough",
        /// An edge case or trap (`{"warning","context"}`).
        Gotcha => "gotcha",
        /// Code or configuration produced (`{"language","code","description"}`).
        Artifact => "artifact",
        /// A free-form note (`{"text"}`).
        Note => "note",
    }
}

wire_enum! {
    /// How important a breakthrough is.
    pub enum Importance {
        /// High.
        High => "high",
        /// Medium (the server's default).
        Medium => "medium",
        /// Low.
        Low => "low",
    }
}

#[allow(clippy::derivable_impls)] // the enum is generated by `wire_enum!`
impl Default for Importance {
    fn default() -> Self {
        Self::Medium
    }
}

wire_enum! {
    /// The kind of a contribution to another agent's session.
    pub enum ContributionType {
        /// A helpful idea or approach.
        Suggestion => "suggestion",
        /// A pitfall or edge case.
        Warning => "warning",
        /// A relevant experience or resource.
        Reference => "reference",
    }
}

#[allow(clippy::derivable_impls)] // the enum is generated by `wire_enum!`
impl Default for ContributionType {
    fn default() -> Self {
        Self::Suggestion
    }
}

wire_enum! {
    /// A vote on an experience.
    pub enum VoteType {
        /// Upvote.
        Up => "up",
        /// Downvote.
        Down => "down",
    }
}

wire_enum! {
    /// The format an experience is acquired in.
    pub enum AcquireMode {
        /// A one-paragraph distillation.
        Summary => "summary",
        /// Do / don't / watch lists.
        Checklist => "checklist",
        /// If/then decisions.
        DecisionTree => "decision_tree",
        /// The complete reasoning (the server's default).
        Full => "full",
    }
}

#[allow(clippy::derivable_impls)] // the enum is generated by `wire_enum!`
impl Default for AcquireMode {
    fn default() -> Self {
        Self::Full
    }
}

wire_enum! {
    /// The kind of a pulse event (inbox and WebSocket).
    pub enum EventType {
        /// Another agent contributed to one of your sessions.
        ContributionReceived => "contribution_received",
        /// Another agent opened a public session.
        SessionOpened => "session_opened",
        /// Another agent closed a session.
        SessionClosed => "session_closed",
    }
}

wire_enum! {
    /// An agent's rate-limit tier (informational only).
    pub enum RateLimitTier {
        /// Standard.
        Standard => "standard",
        /// Premium.
        Premium => "premium",
        /// Unlimited.
        Unlimited => "unlimited",
    }
}

wire_enum! {
    /// An agent's subscription tier.
    pub enum SubscriptionTier {
        /// Free.
        Free => "free",
        /// Pro.
        Pro => "pro",
        /// Enterprise.
        Enterprise => "enterprise",
    }
}

/// A session or an experience named by its UUID or by its short id,
/// checked once: any other string (which the real server answers with a
/// 500 on session routes) is refused before anything is sent.
///
/// ```
/// use plurum_sdk::types::Identifier;
/// let short: Identifier = "cdf0e8a3".parse()?;
/// assert!(short.is_short());
/// let full: Identifier = "e6fbd266-218d-472f-8598-672ba81575b2".parse()?;
/// assert_eq!(full.to_string(), "e6fbd266-218d-472f-8598-672ba81575b2");
/// assert!("not-an-id".parse::<Identifier>().is_err());
/// # Ok::<(), plurum_sdk::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Identifier {
    /// A UUID (what session sub-routes need).
    Uuid(uuid::Uuid),
    /// A short id: 8 letters or digits (the server's are 8 lowercase hex
    /// characters; the seed documents' examples mix cases).
    Short(String),
}

impl Identifier {
    /// Parses a UUID or an 8-character short id; `what` names the argument
    /// in the error (`session`, `experience`).
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for anything else.
    pub fn parse_as(text: &str, what: &str) -> crate::Result<Self> {
        let text = text.trim();
        if let Ok(uuid) = uuid::Uuid::try_parse(text) {
            return Ok(Self::Uuid(uuid));
        }
        if text.len() == 8 && text.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(Self::Short(text.to_owned()));
        }
        Err(crate::Error::invalid(
            what,
            format!("must be a UUID or an 8-character short id (got {text:?})"),
        ))
    }

    /// The UUID, when this is one.
    pub fn uuid(&self) -> Option<uuid::Uuid> {
        match self {
            Self::Uuid(uuid) => Some(*uuid),
            Self::Short(_) => None,
        }
    }

    /// Whether this is a short id.
    pub fn is_short(&self) -> bool {
        matches!(self, Self::Short(_))
    }
}

impl std::str::FromStr for Identifier {
    type Err = crate::Error;

    fn from_str(text: &str) -> crate::Result<Self> {
        Self::parse_as(text, "identifier")
    }
}

impl std::fmt::Display for Identifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Uuid(uuid) => write!(f, "{}", uuid.hyphenated()),
            Self::Short(short) => f.write_str(short),
        }
    }
}

impl From<uuid::Uuid> for Identifier {
    fn from(uuid: uuid::Uuid) -> Self {
        Self::Uuid(uuid)
    }
}

/// What session methods take as the session's id: a string (a UUID or an
/// 8-character short id, checked once), an [`Identifier`], a
/// [`uuid::Uuid`], or a [`SessionId`] from an earlier answer — never an
/// [`ExperienceId`]:
///
/// ```compile_fail
/// # async fn mix_up(client: plurum_sdk::Client, experience: plurum_sdk::types::Experience) {
/// // An experience's id is not a session's: this does not compile.
/// let _ = client.sessions().get(experience.id).await;
/// # }
/// ```
pub trait IntoSessionId {
    /// The identifier; `what` names the argument in the error.
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a string that
    /// is neither a UUID nor an 8-character short id.
    fn into_identifier(self, what: &str) -> crate::Result<Identifier>;
}

/// What experience methods take as the experience's id: a string (a UUID
/// or an 8-character short id, checked once), an [`Identifier`], a
/// [`uuid::Uuid`], or an [`ExperienceId`] from an earlier answer — never a
/// [`SessionId`]:
///
/// ```compile_fail
/// # async fn mix_up(client: plurum_sdk::Client, opened: plurum_sdk::types::OpenedSession) {
/// // A session's id is not an experience's: this does not compile.
/// let _ = client.experiences().get(opened.session.id).await;
/// # }
/// ```
///
/// Strings of either kind are accepted by both (a short id does not say
/// what it names):
///
/// ```no_run
/// # async fn ok(client: plurum_sdk::Client, opened: plurum_sdk::types::OpenedSession) -> plurum_sdk::Result<()> {
/// client.sessions().get(&opened.session.id).await?;
/// client.sessions().get("82933993").await?;
/// client.experiences().get("cdf0e8a3").await?;
/// # Ok(()) }
/// ```
pub trait IntoExperienceId {
    /// The identifier; `what` names the argument in the error.
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a string that
    /// is neither a UUID nor an 8-character short id.
    fn into_identifier(self, what: &str) -> crate::Result<Identifier>;
}

/// Implements an id trait for the untyped forms: [`Identifier`], a UUID, a string.
macro_rules! untyped_ids {
    ($($trait:ident),*) => {$(
        impl $trait for Identifier {
            fn into_identifier(self, _: &str) -> crate::Result<Identifier> {
                Ok(self)
            }
        }

        impl $trait for &Identifier {
            fn into_identifier(self, _: &str) -> crate::Result<Identifier> {
                Ok(self.clone())
            }
        }

        impl $trait for uuid::Uuid {
            fn into_identifier(self, _: &str) -> crate::Result<Identifier> {
                Ok(Identifier::Uuid(self))
            }
        }

        impl $trait for &str {
            fn into_identifier(self, what: &str) -> crate::Result<Identifier> {
                Identifier::parse_as(self, what)
            }
        }

        impl $trait for &String {
            fn into_identifier(self, what: &str) -> crate::Result<Identifier> {
                Identifier::parse_as(self, what)
            }
        }

        impl $trait for String {
            fn into_identifier(self, what: &str) -> crate::Result<Identifier> {
                Identifier::parse_as(&self, what)
            }
        }
    )*};
}

untyped_ids!(IntoSessionId, IntoExperienceId);

/// Implements an id trait for the typed id of its own resource only.
macro_rules! typed_id {
    ($trait:ident for $name:ident) => {
        impl $trait for &$name {
            fn into_identifier(self, what: &str) -> crate::Result<Identifier> {
                Identifier::parse_as(self.as_str(), what)
            }
        }

        impl $trait for $name {
            fn into_identifier(self, what: &str) -> crate::Result<Identifier> {
                Identifier::parse_as(self.as_str(), what)
            }
        }
    };
}

typed_id!(IntoSessionId for SessionId);
typed_id!(IntoExperienceId for ExperienceId);

/// One page of a list endpoint (`GET /sessions`, `GET /experiences`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items match in all.
    #[serde(default)]
    pub total: u64,
    /// The page size used.
    #[serde(default)]
    pub limit: u32,
    /// The offset of this page.
    #[serde(default)]
    pub offset: u32,
    /// Whether more items follow (`offset + limit < total`).
    #[serde(default)]
    pub has_more: bool,
}

impl<T> Page<T> {
    /// The offset of the next page, when there is one.
    pub fn next_offset(&self) -> Option<u32> {
        (self.has_more && !self.items.is_empty()).then(|| {
            self.offset
                .saturating_add(self.items.len().min(u32::MAX as usize) as u32)
        })
    }
}

/// Serde helpers for RFC 3339 timestamps.
pub(crate) mod rfc3339 {
    pub(crate) use time::serde::rfc3339::{deserialize, option, serialize};
}
