//! The content-safety gate of every command that posts content (SKILL.md,
//! "Content safety"): `--allow-sensitive` and `--redact`.

use plurum_sdk::safety;
use serde_json::{Value, json};

use crate::context::{Ctx, Front};
use crate::exit::{self, CliError};

/// `--allow-sensitive` and `--redact` (`allow_sensitive`, `redact` for a
/// tool), on every command that posts content.
#[derive(Debug, Clone, Default, clap::Args, serde::Deserialize, schemars::JsonSchema)]
pub(crate) struct SafetyArgs {
    /// Post even if the content looks like it holds keys, passwords, connection strings, private hosts or e-mails.
    #[arg(long, global = true)]
    #[serde(default)]
    pub(crate) allow_sensitive: bool,
    /// Mask what looks sensitive (as [REDACTED:<kind>]) and post the rest.
    #[arg(long, global = true, conflicts_with = "allow_sensitive")]
    #[serde(default)]
    pub(crate) redact: bool,
}

/// Scans what is about to be posted (SKILL.md, "Content safety"). A finding
/// stops the command (exit 1) unless `--allow-sensitive`; `--redact` masks.
pub(crate) fn screen(ctx: &Ctx, args: &SafetyArgs, root: &str, value: Value) -> anyhow::Result<Value> {
    let findings = safety::scan(root, &value);
    if findings.is_empty() {
        return Ok(value);
    }
    if args.allow_sensitive {
        ctx.out.warn(&format!(
            "posting content that looks sensitive ({} finding(s)) because of {}",
            findings.len(),
            ctx.front.name("--allow-sensitive", "allow_sensitive: true")
        ));
        return Ok(value);
    }
    if args.redact {
        ctx.out
            .note(&format!("masked {} sensitive piece(s) before posting", findings.len()));
        return Ok(safety::redact(&value));
    }
    let list: Vec<String> = findings
        .iter()
        .map(|f| format!("{} ({}: {})", f.path, f.category, f.category.describe()))
        .collect();
    Err(CliError::new(
        exit::ERROR,
        format!("refusing to post content that looks sensitive: {}", list.join("; ")),
    )
    .hint(match ctx.front {
        Front::Cli => "remove it, pass --redact to mask it, or --allow-sensitive to post it anyway",
        Front::Mcp => "remove it, or call again with redact: true to mask it (allow_sensitive: true posts it anyway)",
    })
    .code("sensitive_content")
    .details(json!({ "findings": findings }))
    .into())
}
