//! `plurum session log`, and the `plurum_session_log` tool. The command
//! line names the kind as a subcommand (`session log dead-end --what …`);
//! the tool takes one flat object with `kind` (a test holds the two
//! together: every field of every kind is a tool argument).

use std::path::PathBuf;

use plurum_sdk::types::{Entry, EntryType, Importance};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::commands::args;
use crate::commands::safety::{SafetyArgs, screen};
use crate::commands::target::{Target, session_id, unconfirmed};
use crate::context::Ctx;
use crate::exit::{self, CliError};
use crate::journal::{Op, Settled};

/// `plurum session log` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  plurum session log dead-end --what \"synchronous_commit=on\" \\
      --why \"write latency tripled\"
  plurum session log breakthrough --insight \"one slot per replica\" \\
      --detail \"WAL is kept until replayed\" --importance high
  plurum session log gotcha --warning \"pg_basebackup needs REPLICATION\" \\
      --context \"custom images\"
  plurum session log artifact --language bash --file seed-replica.sh \\
      --description \"seed a replica\"
  plurum session log note \"PostgreSQL 16 on Docker Compose\"
  plurum session log --session 82933993 update \"primary is up\"")]
pub(crate) struct LogArgs {
    /// The session (default: the current session).
    #[arg(long, global = true, value_name = "SESSION")]
    pub(crate) session: Option<String>,
    /// Fail when the server cannot take the entry now, instead of keeping
    /// it in the journal to send later (for scripts that need it on the
    /// server before going on).
    #[arg(long, global = true)]
    pub(crate) no_queue: bool,
    #[command(flatten)]
    pub(crate) safety: SafetyArgs,
    #[command(subcommand)]
    pub(crate) kind: LogKind,
}

/// The six entry kinds.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum LogKind {
    /// Something that did not work, and why (also: dead_end).
    #[command(
        alias = "dead_end",
        after_help = "Examples:\n  plurum session log dead-end --what \"synchronous_commit=on\" \\\n      --why \"write latency tripled\"\n  plurum session log dead_end --what \"...\" --why \"...\"  # API spelling"
    )]
    DeadEnd {
        /// What you tried.
        #[arg(long)]
        what: String,
        /// Why it did not work.
        #[arg(long)]
        why: String,
    },
    /// A key insight.
    #[command(
        after_help = "Examples:\n  plurum session log breakthrough --insight \"one slot per replica\" \\\n      --detail \"WAL is kept until replayed\" --importance high"
    )]
    Breakthrough {
        /// What you found out.
        #[arg(long)]
        insight: String,
        /// Why it matters, or how it works.
        #[arg(long)]
        detail: String,
        /// high, medium or low.
        #[arg(long, value_parser = args::choice::<Importance>(), default_value = "medium")]
        importance: Importance,
    },
    /// An edge case or trap.
    #[command(
        after_help = "Examples:\n  plurum session log gotcha --warning \"pg_basebackup needs REPLICATION\" \\\n      --context \"custom images\""
    )]
    Gotcha {
        /// The trap.
        #[arg(long)]
        warning: String,
        /// When it bites.
        #[arg(long)]
        context: Option<String>,
    },
    /// Code or configuration you produced.
    #[command(
        after_help = "Examples:\n  plurum session log artifact --language bash --file seed.sh \\\n      --description \"seed a replica\"\n  plurum session log artifact --language ini --code \"pool_mode = transaction\""
    )]
    Artifact {
        /// Its language (bash, python, ini, ...).
        #[arg(long)]
        language: String,
        /// Read the code from this file.
        #[arg(long, conflicts_with = "code", required_unless_present = "code")]
        file: Option<PathBuf>,
        /// The code itself.
        #[arg(long)]
        code: Option<String>,
        /// What it does.
        #[arg(long)]
        description: Option<String>,
    },
    /// General progress.
    #[command(after_help = "Examples:\n  plurum session log update \"primary and replica are up\"")]
    Update {
        /// The progress.
        text: String,
    },
    /// A free-form note.
    #[command(after_help = "Examples:\n  plurum session log note \"PostgreSQL 16 on Docker Compose\"")]
    Note {
        /// The note.
        text: String,
    },
}

fn entry(kind: LogKind) -> anyhow::Result<Entry> {
    Ok(match kind {
        LogKind::DeadEnd { what, why } => Entry::dead_end(what, why),
        LogKind::Breakthrough {
            insight,
            detail,
            importance,
        } => Entry::breakthrough(insight, detail, importance),
        LogKind::Gotcha { warning, context } => Entry::gotcha(warning, context),
        LogKind::Artifact {
            language,
            file,
            code,
            description,
        } => {
            let code = match (file, code) {
                (Some(path), _) => crate::files::read_input(&path)
                    .map_err(|e| CliError::new(exit::USAGE, format!("could not read {}: {e}", path.display())))?,
                (None, Some(code)) => code,
                (None, None) => return Err(CliError::new(exit::USAGE, "give --file or --code").into()),
            };
            Entry::artifact(language, code, description)
        }
        LogKind::Update { text } => Entry::update(text),
        LogKind::Note { text } => Entry::note(text),
    })
}

/// The `plurum_session_log` tool's arguments: the entry as one object.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    /// The kind of entry: dead_end (what, why), breakthrough (insight, detail, importance), gotcha (warning, context), artifact (language, code, description), update (text) or note (text).
    #[serde(deserialize_with = "args::closed")]
    #[schemars(schema_with = "args::closed_schema::<EntryType>")]
    pub(crate) kind: EntryType,
    /// The session's short id or UUID (default: the current session).
    #[serde(default)]
    pub(crate) session: Option<String>,
    /// update, note: the text.
    #[serde(default)]
    pub(crate) text: Option<String>,
    /// dead_end: what you tried.
    #[serde(default)]
    pub(crate) what: Option<String>,
    /// dead_end: why it did not work.
    #[serde(default)]
    pub(crate) why: Option<String>,
    /// breakthrough: what you found out.
    #[serde(default)]
    pub(crate) insight: Option<String>,
    /// breakthrough: why it matters, or how it works.
    #[serde(default)]
    pub(crate) detail: Option<String>,
    /// breakthrough: high, medium (the default) or low.
    #[serde(default, deserialize_with = "args::closed_opt")]
    #[schemars(schema_with = "args::closed_schema::<Importance>")]
    pub(crate) importance: Option<Importance>,
    /// gotcha: the trap.
    #[serde(default)]
    pub(crate) warning: Option<String>,
    /// gotcha: when it bites.
    #[serde(default)]
    pub(crate) context: Option<String>,
    /// artifact: its language (bash, python, ini, ...).
    #[serde(default)]
    pub(crate) language: Option<String>,
    /// artifact: the code.
    #[serde(default)]
    pub(crate) code: Option<String>,
    /// artifact: what it does.
    #[serde(default)]
    pub(crate) description: Option<String>,
    /// Fail when the server cannot take the entry now, instead of keeping it to send later (the answer then says queued).
    #[serde(default)]
    pub(crate) no_queue: bool,
    #[serde(flatten)]
    pub(crate) safety: SafetyArgs,
}

impl Options {
    /// The entry these arguments describe; a usage error naming the
    /// argument a kind needs and did not get.
    fn entry(&self) -> anyhow::Result<Entry> {
        let kind = self.kind.as_str();
        let need = |field: &Option<String>, name: &str| {
            field.clone().ok_or_else(|| {
                anyhow::Error::new(
                    CliError::new(
                        exit::USAGE,
                        format!("an entry of kind {kind} needs {name}: give {name}"),
                    )
                    .hint(format!("give {name} (see the tool's input schema)")),
                )
            })
        };
        Ok(match &self.kind {
            EntryType::DeadEnd => Entry::dead_end(need(&self.what, "what")?, need(&self.why, "why")?),
            EntryType::Breakthrough => Entry::breakthrough(
                need(&self.insight, "insight")?,
                need(&self.detail, "detail")?,
                self.importance.clone().unwrap_or(Importance::Medium),
            ),
            EntryType::Gotcha => Entry::gotcha(need(&self.warning, "warning")?, self.context.clone()),
            EntryType::Artifact => Entry::artifact(
                need(&self.language, "language")?,
                need(&self.code, "code")?,
                self.description.clone(),
            ),
            EntryType::Update => Entry::update(need(&self.text, "text")?),
            EntryType::Note => Entry::note(need(&self.text, "text")?),
            other => {
                return Err(CliError::new(exit::USAGE, format!("unknown entry kind {other}")).into());
            }
        })
    }
}

/// `plurum session log KIND …`.
pub(crate) async fn run_args(ctx: &Ctx, args: LogArgs) -> anyhow::Result<u8> {
    log(ctx, args.session, args.no_queue, &args.safety, entry(args.kind)?).await
}

/// The `plurum_session_log` tool.
pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    let entry = options.entry()?;
    log(ctx, options.session, options.no_queue, &options.safety, entry).await
}

/// Logs `entry` to `session` (default: the current session), through the
/// safety gate and the journal: the entry is journaled, then the session's
/// journal is delivered in order; when the server cannot take it now, it
/// stays journaled (`delivery: "queued"`, exit 0) unless `no_queue`.
async fn log(
    ctx: &Ctx,
    session: Option<String>,
    no_queue: bool,
    safety: &SafetyArgs,
    entry: Entry,
) -> anyhow::Result<u8> {
    entry.validate()?;
    let wire = serde_json::to_value(&entry)?;
    let content = screen(ctx, safety, "entry.content", wire["content"].clone())?;
    let entry: Entry = serde_json::from_value(json!({"entry_type": wire["entry_type"], "content": content}))?;
    let client = ctx.authed()?;
    let target = session_id(ctx, &client, session.as_deref()).await?;
    let journal = ctx.journal();
    crate::journal::refuse_after_end(&journal, target.id.as_str(), &target.short_id)?;
    if no_queue {
        crate::journal::clear_the_way(ctx, &journal, target.id.as_str(), &target.short_id).await?;
        return send_now(ctx, &client, &target, entry).await;
    }
    let (write, settled) = crate::journal::submit(
        ctx,
        &journal,
        Op::SessionLog {
            session_id: target.id.as_str().to_owned(),
            session_short_id: target.short_id.clone(),
            entry: serde_json::to_value(&entry)?,
        },
        "logging",
    )
    .await?;
    let reason = match settled {
        Settled::Answered(answer) => {
            let logged: plurum_sdk::types::SessionEntry = serde_json::from_value(answer)?;
            return print_logged(ctx, &target, &logged);
        }
        Settled::Found => "delivered".to_owned(),
        Settled::Waiting(reason) => reason,
    };
    let mut value = json!({
        "session_id": target.id.as_str(),
        "session_short_id": target.short_id,
        "entry_type": wire["entry_type"],
        "content": serde_json::to_value(&entry)?["content"],
    });
    if reason == "delivered" {
        value["delivery"] = json!("delivered");
        ctx.out.emit(&value, || {
            format!(
                "Logged the entry to session {} (its answer had been lost; it is there).",
                target.short_id
            )
        })?;
        return Ok(exit::OK);
    }
    value["delivery"] = json!("queued");
    value["queued"] = crate::journal::queued(&write, &reason);
    ctx.out.emit(&value, || {
        format!(
            "Queued the {} for session {} ({reason}); it will be sent, in order, by 'plurum sync' or the next heartbeat.",
            wire["entry_type"].as_str().unwrap_or("entry"),
            target.short_id
        )
    })?;
    Ok(exit::OK)
}

/// `--no-queue`: today's one attempt, no journal.
async fn send_now(ctx: &Ctx, client: &plurum_sdk::Client, target: &Target, entry: Entry) -> anyhow::Result<u8> {
    let logged = ctx
        .out
        .spin("logging", client.sessions().log(target.id.as_str(), entry))
        .await
        .map_err(|e| {
            unconfirmed(
                e,
                "logging the entry failed",
                &format!("plurum session show {}", target.short_id),
            )
        })?;
    print_logged(ctx, target, &logged)
}

fn print_logged(ctx: &Ctx, target: &Target, logged: &plurum_sdk::types::SessionEntry) -> anyhow::Result<u8> {
    let mut value = serde_json::to_value(logged)?;
    value["session_short_id"] = json!(target.short_id);
    value["delivery"] = json!("delivered");
    ctx.out.emit(&value, || {
        format!(
            "Logged {} #{} to session {}.",
            logged.entry_type,
            logged.ordinal.unwrap_or_default(),
            target.short_id
        )
    })?;
    Ok(exit::OK)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    /// Every field of every kind on the command line is an argument of the
    /// tool, under the same name (the tool's `text` stands for the
    /// positional text, its `code` for --code/--file).
    #[test]
    fn the_tool_takes_every_field_the_command_line_does() {
        let schema = serde_json::to_value(schemars::schema_for!(Options)).unwrap();
        let properties = schema["properties"].as_object().unwrap();
        let command = crate::cli::Cli::command();
        let log = command
            .find_subcommand("session")
            .and_then(|s| s.find_subcommand("log"))
            .unwrap();
        let mut seen = 0;
        for kind in log.get_subcommands() {
            let wire = kind.get_name().replace('-', "_");
            assert!(EntryType::KNOWN.contains(&wire.as_str()), "{wire}");
            for arg in kind.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "session" | "allow_sensitive" | "redact" | "file") {
                    continue;
                }
                if id == "no_queue" {
                    assert!(properties.contains_key(id), "--no-queue is not a tool argument");
                    continue;
                }
                assert!(
                    properties.contains_key(id),
                    "session log {wire} --{id} is not a tool argument"
                );
                seen += 1;
            }
        }
        assert!(seen >= 12, "walked only {seen} fields");
    }
}
