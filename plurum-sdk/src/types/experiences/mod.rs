//! Experiences: crystallized knowledge, searched, acquired, reported on and
//! voted on. What they are made of ([`content`]), what is sent
//! ([`requests`]) and what the server answers ([`answers`]).

pub mod answers;
pub mod content;
pub mod requests;

pub use answers::*;
pub use content::*;
pub use requests::*;
