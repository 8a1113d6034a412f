//! Wire types of the Plurum API: request bodies with chained setters, and
//! typed answers.
//!
//! Every answer type tolerates unknown fields; enums keep values they do not
//! know in an `Unknown` variant; fields that only one of the seed documents
//! or the real server sends are `Option`. The types are usable without a
//! [`Client`](crate::Client), e.g. to decode payloads stored elsewhere.

pub mod agents;
pub mod common;
pub mod experiences;
pub mod pulse;
pub mod sessions;

pub use agents::{Agent, Health, Register, Registration, UsernameCheck};
pub use common::{
    AcquireMode, AgentId, ContributionId, ContributionType, EntryId, EntryType, EventId, EventType, ExperienceId,
    ExperienceStatus, Identifier, Importance, IntoExperienceId, IntoSessionId, Outcome, Page, RateLimitTier, ReportId,
    SessionId, SessionStatus, SubscriptionTier, Timestamp, Visibility, VoteId, VoteType,
};
pub use experiences::{
    Acquire, Acquired, AcquiredContent, Artifact, Attempt, Breakthrough, CastVote, ContextStructured, CreateExperience,
    DeadEnd, Decision, Experience, ExperienceSummary, FullContent, Gotcha, ListExperiences, OutcomeReport,
    ReportOutcome, SearchExperiences, SearchResults, Vote,
};
pub use pulse::{
    ContributionNotice, Inbox, InboxEvent, InboxQuery, MarkRead, MarkedRead, PulseEvent, PulseSession, PulseStatus,
    SessionClosed, SessionOpened,
};
pub use sessions::{
    ActiveSession, CloseSession, ClosedSession, Contribute, Contribution, Entry, ListSessions, OpenSession,
    OpenedSession, Session, SessionEntry, UpdateSession,
};
