//! `plurum skill`: the agent-facing guide (`SKILL.md` at the repository
//! root), embedded so that it matches the installed binary.

use serde_json::json;

use crate::exit;

/// The guide, as the repository holds it.
pub(crate) const SKILL_MD: &str = include_str!("../../SKILL.md");

/// `plurum skill` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  plurum skill                       # the guide, in Markdown
  plurum skill > ~/.claude/skills/plurum/SKILL.md
  plurum skill --jq .version

The guide: the loop as commands with their --json/--jq paths, every curl call
of the service's SKILL.md and HEARTBEAT.md as a plurum command, ids, exit
codes and what to do on each, the error object, state, settings, the safety
gate and scheduling. Its front matter (name, version, description) is the one
agent hosts read to load a skill.")]
pub(crate) struct Args {}

/// The front matter's `key: value` lines.
pub(crate) fn front_matter(text: &str) -> Vec<(&str, &str)> {
    let mut lines = text.lines();
    if lines.next() != Some("---") {
        return Vec::new();
    }
    lines
        .take_while(|line| *line != "---")
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim(), value.trim()))
        .collect()
}

pub(crate) fn run(_args: Args, options: &crate::context::Options) -> anyhow::Result<u8> {
    let out = options.output();
    let meta = front_matter(SKILL_MD);
    let field = |name: &str| meta.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    out.emit(
        &json!({
            "name": field("name"),
            "version": field("version"),
            "description": field("description"),
            "markdown": SKILL_MD,
        }),
        || SKILL_MD.trim_end().to_owned(),
    )?;
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guide_carries_the_skill_front_matter_of_this_version() {
        let meta = front_matter(SKILL_MD);
        let field = |name: &str| meta.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
        assert_eq!(field("name"), Some("plurum-cli"));
        assert_eq!(field("version"), Some(env!("CARGO_PKG_VERSION")));
        assert!(field("description").is_some_and(|d| d.len() > 80));
    }
}
