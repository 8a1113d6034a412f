//! What this agent cares about: the profile's `domains` and `tools`. One
//! rule for "is this session relevant to me", used by the heartbeat (which
//! sessions to point out) and the daemon (which sessions push the inbox
//! drive).

use crate::config::Profile;

/// The profile's domains and tools of interest.
#[derive(Debug, Clone, Default)]
pub(crate) struct Interest {
    domains: Vec<String>,
    tools: Vec<String>,
}

impl Interest {
    /// The interest a profile declares.
    pub(crate) fn of(profile: &Profile) -> Self {
        Self::new(profile.domains.clone(), profile.tools.clone())
    }

    pub(crate) fn new(domains: Vec<String>, tools: Vec<String>) -> Self {
        Self { domains, tools }
    }

    /// Whether a session in `domain` using `tools` is in one of the domains
    /// or uses one of the tools (case-insensitively).
    pub(crate) fn covers(&self, domain: Option<&str>, tools: &[String]) -> bool {
        domain.is_some_and(|d| self.domains.iter().any(|x| x.eq_ignore_ascii_case(d)))
            || tools
                .iter()
                .any(|t| self.tools.iter().any(|x| x.eq_ignore_ascii_case(t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_or_a_tool_makes_a_session_relevant() {
        let interest = Interest::new(vec!["Infrastructure".into()], vec!["postgresql".into()]);
        assert!(interest.covers(Some("infrastructure"), &[]));
        assert!(interest.covers(None, &["PostgreSQL".into()]));
        assert!(!interest.covers(Some("cooking"), &["oven".into()]));
        assert!(!Interest::default().covers(Some("infrastructure"), &["postgresql".into()]));
    }
}
