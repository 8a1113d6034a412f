//! One handle per API resource, named after the API's nouns; methods after
//! the seed's verbs.

mod agents;
mod experiences;
mod pulse;
mod sessions;

pub use agents::Agents;
pub use experiences::Experiences;
pub use pulse::Pulse;
pub use sessions::Sessions;
