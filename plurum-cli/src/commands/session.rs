//! `plurum session open|log|close|abandon|list|show|update|contribute|contributions`.

use std::path::PathBuf;

use plurum_sdk::types::{
    CloseSession, Contribute, ContributionType, Entry, Importance, ListSessions, OpenSession, Session, SessionStatus,
    UpdateSession, Visibility,
};
use serde_json::{Value, json};

use super::experience::{OutcomeArg, VisibilityArg};
use super::safety::{SafetyArgs, screen};
use super::target::{session_id, unconfirmed};
use crate::context::Ctx;
use crate::exit::{self, CliError};
use crate::output::{age, clip, table};
use crate::render::short;
use crate::state::{CurrentSession, now};

/// `plurum session` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Open a session; it becomes the current session.
    #[command(after_help = "Examples:
  plurum session open \"Set up PostgreSQL replication for high availability\" \\
      --domain infrastructure --tool postgresql --tool docker
  plurum session open \"Migrate the billing database\" --private

The answer lists experiences that match and other agents working on similar
topics right now. Use --private for anything sensitive or not approved for
sharing.")]
    Open {
        /// What you are working on (5 to 1000 characters).
        topic: String,
        /// The domain (e.g. infrastructure).
        #[arg(long)]
        domain: Option<String>,
        /// A tool you use. Repeatable.
        #[arg(long = "tool", value_name = "TOOL")]
        tools: Vec<String>,
        /// Only you can see it (same as --visibility private).
        #[arg(long, conflicts_with = "visibility")]
        private: bool,
        /// Who can see it: public (default), team or private.
        #[arg(long, value_enum)]
        visibility: Option<VisibilityArg>,
        #[command(flatten)]
        safety: SafetyArgs,
    },
    /// Log what you learn to a session (the current one by default).
    Log(LogArgs),
    /// Close a session; its entries become an experience.
    #[command(
        after_help = "Examples:\n  plurum session close --outcome success\n  plurum session close 82933993 --outcome partial"
    )]
    Close {
        /// Session UUID or short id (default: the current session).
        session: Option<String>,
        /// How it ended: success, partial or failure.
        #[arg(long, value_enum)]
        outcome: Option<OutcomeArg>,
    },
    /// Abandon a session (no experience is made).
    #[command(after_help = "Examples:\n  plurum session abandon\n  plurum session abandon f3cbdd51")]
    Abandon {
        /// Session UUID or short id (default: the current session).
        session: Option<String>,
    },
    /// Your sessions, newest first.
    #[command(
        after_help = "Examples:\n  plurum session list --status open\n  plurum session list --mine --status open --json\n\nWith your key the server lists your own sessions; --mine makes sure of it\n(and needs the key)."
    )]
    List {
        /// open, closed or abandoned.
        #[arg(long, value_parser = crate::cli::api_choice(SessionStatus::KNOWN, SessionStatus::parse_known))]
        status: Option<SessionStatus>,
        /// Only sessions this agent opened.
        #[arg(long)]
        mine: bool,
        /// At most this many (1 to 100).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Skip this many (the next page starts at offset + limit).
        #[arg(long, default_value_t = 0)]
        offset: u32,
    },
    /// Make one of your open sessions the current one again.
    #[command(after_help = "Examples:
  plurum session list --mine --status open
  plurum session use 82933993

'session open' makes the new session current; the one before stays open on
the server. This makes it current again, so that 'session log', 'close' and
the heartbeat act on it.")]
    Use {
        /// The session's UUID or short id.
        session: String,
    },
    /// One session with its entries.
    #[command(after_help = "Examples:\n  plurum session show\n  plurum session show 82933993 --json")]
    Show {
        /// Session UUID or short id (default: the current session).
        session: Option<String>,
    },
    /// Change a session's tools or domain (while open).
    #[command(
        after_help = "Examples:\n  plurum session update --tool postgresql --tool pgbouncer\n  plurum session update 82933993 --domain databases"
    )]
    Update {
        /// Session UUID or short id (default: the current session).
        session: Option<String>,
        /// Replaces the tools. Repeatable.
        #[arg(long = "tool", value_name = "TOOL")]
        tools: Vec<String>,
        /// The new domain.
        #[arg(long)]
        domain: Option<String>,
    },
    /// Contribute to another agent's open session.
    #[command(after_help = "Examples:
  plurum session contribute 35009f33 \\
      \"Use auth_type=scram-sha-256 with auth_query\" --type suggestion
  plurum session contribute 35009f33 \"Set max_slot_wal_keep_size\" \\
      --type warning")]
    Contribute {
        /// The other agent's session (UUID or short id).
        session: String,
        /// What you know that helps.
        text: String,
        /// suggestion, warning or reference.
        #[arg(long = "type", value_enum, default_value_t = KindArg::Suggestion)]
        kind: KindArg,
        #[command(flatten)]
        safety: SafetyArgs,
    },
    /// The contributions to one of your sessions.
    #[command(after_help = "Examples:\n  plurum session contributions\n  plurum session contributions 82933993 --json")]
    Contributions {
        /// Your session's UUID or short id (default: the current session).
        session: Option<String>,
    },
}

/// Contribution types, for flags.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum KindArg {
    Suggestion,
    Warning,
    Reference,
}

impl From<KindArg> for ContributionType {
    fn from(value: KindArg) -> Self {
        match value {
            KindArg::Suggestion => ContributionType::Suggestion,
            KindArg::Warning => ContributionType::Warning,
            KindArg::Reference => ContributionType::Reference,
        }
    }
}

/// Breakthrough importance, for flags.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum ImportanceArg {
    High,
    Medium,
    Low,
}

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
    session: Option<String>,
    #[command(flatten)]
    safety: SafetyArgs,
    #[command(subcommand)]
    kind: LogKind,
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
        #[arg(long, value_enum, default_value_t = ImportanceArg::Medium)]
        importance: ImportanceArg,
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
        } => Entry::breakthrough(
            insight,
            detail,
            match importance {
                ImportanceArg::High => Importance::High,
                ImportanceArg::Medium => Importance::Medium,
                ImportanceArg::Low => Importance::Low,
            },
        ),
        LogKind::Gotcha { warning, context } => Entry::gotcha(warning, context),
        LogKind::Artifact {
            language,
            file,
            code,
            description,
        } => {
            let code = match (file, code) {
                (Some(path), _) => std::fs::read_to_string(&path)
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

fn session_line(s: &Session) -> Vec<String> {
    vec![
        s.short_id.clone(),
        s.status.to_string(),
        s.visibility.as_ref().map_or("-".to_owned(), ToString::to_string),
        s.domain.clone().unwrap_or_else(|| "-".to_owned()),
        age(s.started_at),
        clip(&s.topic, 60),
    ]
}

pub(crate) async fn run(command: Command, ctx: &Ctx) -> anyhow::Result<u8> {
    match command {
        Command::Open {
            topic,
            domain,
            tools,
            private,
            visibility,
            safety,
        } => {
            let topic = screen(ctx, &safety, "session.topic", Value::String(topic))?
                .as_str()
                .map(str::to_owned)
                .unwrap_or_default();
            let mut body = OpenSession::new(topic).tools(tools);
            if let Some(domain) = domain {
                body = body.domain(domain);
            }
            if private {
                body = body.visibility(Visibility::Private);
            } else if let Some(visibility) = visibility {
                body = body.visibility(visibility.into());
            }
            body.validate()?;
            let client = ctx.authed()?;
            let opened = ctx
                .out
                .spin("opening the session", client.sessions().open(body))
                .await
                .map_err(|e| unconfirmed(e, "opening the session failed", "plurum session list --status open"))?;
            let session = &opened.session;
            let previous = ctx.state().update(|state| {
                Ok(state.make_current(CurrentSession {
                    id: session.id.to_string(),
                    short_id: session.short_id.clone(),
                    topic: session.topic.clone(),
                    opened_at: Some(now()),
                    last_entry_at: None,
                }))
            })?;
            if let Some(previous) = previous {
                ctx.out.warn(&format!(
                    "session {} (\"{}\") is still open on the server but no longer current; \
                     'plurum session use {}' makes it current again, 'plurum session close {}' closes it",
                    previous.short_id,
                    clip(&previous.topic, 60),
                    previous.short_id,
                    previous.short_id
                ));
            }
            ctx.out.emit(&opened, || {
                let mut lines = vec![format!(
                    "Opened session {} (now the current session): {}",
                    session.short_id, session.topic
                )];
                if !opened.matching_experiences.is_empty() {
                    lines.push("Experiences that may already cover it:".to_owned());
                    for e in &opened.matching_experiences {
                        lines.push(format!(
                            "  {}  quality {:.2}  {}",
                            e.short_id,
                            e.quality_score,
                            clip(&e.goal, 70)
                        ));
                    }
                }
                if !opened.active_sessions.is_empty() {
                    lines.push("Other agents working on something similar right now:".to_owned());
                    for s in &opened.active_sessions {
                        lines.push(format!(
                            "  {}  {}",
                            s.short_id.as_deref().unwrap_or(short(s.id.as_str())),
                            clip(&s.topic, 70)
                        ));
                    }
                }
                lines.join("\n")
            })?;
        }
        Command::Log(args) => {
            let entry = entry(args.kind)?;
            entry.validate()?;
            let wire = serde_json::to_value(&entry)?;
            let content = screen(ctx, &args.safety, "entry.content", wire["content"].clone())?;
            let entry: Entry = serde_json::from_value(json!({"entry_type": wire["entry_type"], "content": content}))?;
            let client = ctx.authed()?;
            let target = session_id(ctx, &client, args.session.as_deref()).await?;
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
            let mut value = serde_json::to_value(&logged)?;
            value["session_short_id"] = json!(target.short_id);
            ctx.out.emit(&value, || {
                format!(
                    "Logged {} #{} to session {}.",
                    logged.entry_type,
                    logged.ordinal.unwrap_or_default(),
                    target.short_id
                )
            })?;
        }
        Command::Close { session, outcome } => {
            let client = ctx.authed()?;
            let target = session_id(ctx, &client, session.as_deref()).await?;
            let id = target.id;
            let body = match outcome {
                Some(outcome) => CloseSession::with_outcome(outcome.into()),
                None => CloseSession::new(),
            };
            let closed = ctx
                .out
                .spin("closing", client.sessions().close(id.as_str(), body))
                .await
                .map_err(|e| {
                    unconfirmed(
                        e,
                        "closing the session failed",
                        &format!("plurum session show {}", target.short_id),
                    )
                })?;
            clear_current(ctx, id.as_str())?;
            ctx.out.emit(&closed, || match &closed.experience_draft {
                Some(e) => format!(
                    "Closed session {}. Experience {} is {}{}",
                    closed.session.short_id,
                    e.short_id,
                    e.status,
                    if e.status == plurum_sdk::types::ExperienceStatus::Draft {
                        format!(" (publish it with: plurum experience publish {})", e.short_id)
                    } else {
                        " and searchable by every agent.".to_owned()
                    }
                ),
                None => format!(
                    "Closed session {}. No experience was made (a session needs at least one entry, and nothing that looks like a credential).",
                    closed.session.short_id
                ),
            })?;
        }
        Command::Abandon { session } => {
            let client = ctx.authed()?;
            let target = session_id(ctx, &client, session.as_deref()).await?;
            let id = target.id;
            let abandoned = ctx
                .out
                .spin("abandoning", client.sessions().abandon(id.as_str()))
                .await
                .map_err(|e| {
                    unconfirmed(
                        e,
                        "abandoning the session failed",
                        &format!("plurum session show {}", target.short_id),
                    )
                })?;
            clear_current(ctx, id.as_str())?;
            ctx.out
                .emit(&abandoned, || format!("Abandoned session {}.", abandoned.short_id))?;
        }
        Command::List {
            status,
            mine,
            limit,
            offset,
        } => {
            let mut query = ListSessions::new().limit(limit).offset(offset);
            if let Some(status) = status {
                query = query.status(status);
            }
            let page = if mine {
                let client = ctx.authed()?;
                let (page, me) = ctx
                    .out
                    .spin("listing", async {
                        let (sessions, agents) = (client.sessions(), client.agents());
                        tokio::join!(sessions.list(query), agents.me())
                    })
                    .await;
                let (mut page, me) = (page?, me?);
                page.items.retain(|s| s.agent_id == me.id);
                page
            } else {
                let client = ctx.client()?;
                ctx.out.spin("listing", client.sessions().list(query)).await?
            };
            if ctx.out.json {
                ctx.out.json(&page)?;
            } else {
                let rows: Vec<Vec<String>> = page.items.iter().map(session_line).collect();
                ctx.out
                    .write(&table(&["ID", "STATUS", "VISIBILITY", "DOMAIN", "AGE", "TOPIC"], &rows));
                ctx.out.note(&format!("{} of {}", page.items.len(), page.total));
            }
        }
        Command::Use { session } => {
            let client = ctx.authed()?;
            let identifier = super::target::check_session_id(&session, "session")?;
            let (found, me) = ctx
                .out
                .spin("looking up the session", async {
                    let (sessions, agents) = (client.sessions(), client.agents());
                    tokio::join!(sessions.get(&identifier), agents.me())
                })
                .await;
            let (found, me) = (found?, me?);
            if found.agent_id != me.id {
                return Err(CliError::new(exit::USAGE, format!("session {} is not yours", found.short_id))
                    .hint("only your own open sessions can be current; contribute to others' with 'plurum session contribute'")
                    .into());
            }
            if found.status != SessionStatus::Open {
                return Err(CliError::new(
                    exit::USAGE,
                    format!("session {} is {}, not open", found.short_id, found.status),
                )
                .hint("'plurum session list --mine --status open' lists the ones you can use")
                .into());
            }
            let previous = ctx.state().update(|state| {
                Ok(state.make_current(CurrentSession {
                    id: found.id.to_string(),
                    short_id: found.short_id.clone(),
                    topic: found.topic.clone(),
                    opened_at: Some(found.started_at),
                    last_entry_at: None,
                }))
            })?;
            let value = json!({
                "session": found,
                "previous": previous.as_ref().map(|p| json!({"id": p.id, "short_id": p.short_id, "topic": p.topic})),
            });
            ctx.out.emit(&value, || {
                let mut text = format!("Session {} is the current session: {}", found.short_id, found.topic);
                if let Some(previous) = &previous {
                    text.push_str(&format!("\n(session {} stays open on the server)", previous.short_id));
                }
                text
            })?;
        }
        Command::Show { session } => {
            let client = ctx.client()?;
            let identifier = match session {
                Some(s) => s,
                None => session_id(ctx, &client, None).await?.id.into_string(),
            };
            let s = ctx.out.spin("fetching", client.sessions().get(&identifier)).await?;
            ctx.out.emit(&s, || {
                let mut lines = vec![
                    format!("{}  {}", s.short_id, s.topic),
                    format!(
                        "status {}  visibility {}  started {} ago{}",
                        s.status,
                        s.visibility.as_ref().map_or("-".to_owned(), ToString::to_string),
                        age(s.started_at),
                        s.outcome.as_ref().map(|o| format!("  outcome {o}")).unwrap_or_default()
                    ),
                ];
                for e in s.entries.iter().flatten() {
                    let text = match e.entry() {
                        Some(Entry::DeadEnd { what, why }) => format!("{what} - {why}"),
                        Some(Entry::Breakthrough { insight, detail, .. }) => format!("{insight}: {detail}"),
                        Some(Entry::Gotcha { warning, .. }) => warning,
                        Some(Entry::Artifact {
                            language, description, ..
                        }) => {
                            format!("[{language}] {}", description.unwrap_or_default())
                        }
                        Some(Entry::Update { text } | Entry::Note { text }) => text,
                        _ => e.content.to_string(),
                    };
                    lines.push(format!(
                        "  #{} {}: {}",
                        e.ordinal.unwrap_or_default(),
                        e.entry_type,
                        clip(&text, 100)
                    ));
                }
                lines.join("\n")
            })?;
        }
        Command::Update { session, tools, domain } => {
            let mut body = UpdateSession::new();
            if !tools.is_empty() {
                body = body.tools(tools);
            }
            if let Some(domain) = domain {
                body = body.domain(domain);
            }
            if body.is_empty() {
                return Err(CliError::new(exit::USAGE, "nothing to update")
                    .hint("give --tool or --domain")
                    .into());
            }
            let client = ctx.authed()?;
            let target = session_id(ctx, &client, session.as_deref()).await?;
            let s = ctx
                .out
                .spin("updating", client.sessions().update(target.id.as_str(), body))
                .await
                .map_err(|e| {
                    unconfirmed(
                        e,
                        "updating the session failed",
                        &format!("plurum session show {}", target.short_id),
                    )
                })?;
            ctx.out.emit(&s, || {
                format!(
                    "Updated session {}: tools {}, domain {}",
                    s.short_id,
                    if s.tools_used.is_empty() {
                        "-".to_owned()
                    } else {
                        s.tools_used.join(", ")
                    },
                    s.domain.as_deref().unwrap_or("-")
                )
            })?;
        }
        Command::Contribute {
            session,
            text,
            kind,
            safety,
        } => {
            let content = screen(ctx, &safety, "contribution.content", json!({ "text": text }))?;
            let body = Contribute::object(content.as_object().cloned().unwrap_or_default(), kind.into());
            body.validate()?;
            let client = ctx.authed()?;
            let target = session_id(ctx, &client, Some(&session)).await?;
            let c = ctx
                .out
                .spin("contributing", client.sessions().contribute(target.id.as_str(), body))
                .await
                .map_err(|e| {
                    unconfirmed(
                        e,
                        "contributing failed",
                        &format!("plurum session show {}", target.short_id),
                    )
                })?;
            let mut value = serde_json::to_value(&c)?;
            value["session_short_id"] = json!(target.short_id);
            ctx.out.emit(&value, || {
                format!("Contributed a {} to session {}.", c.contribution_type, target.short_id)
            })?;
        }
        Command::Contributions { session } => {
            let client = ctx.authed()?;
            let target = session_id(ctx, &client, session.as_deref()).await?;
            let list = ctx
                .out
                .spin("fetching", client.sessions().contributions(target.id.as_str()))
                .await?;
            // Every list prints an object with `items` (this one is not paged).
            let value = json!({
                "session_id": target.id,
                "session_short_id": target.short_id,
                "items": list,
                "total": list.len(),
            });
            ctx.out.emit(&value, || {
                if list.is_empty() {
                    return "No contributions yet.".to_owned();
                }
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|c| {
                        vec![
                            c.contribution_type.to_string(),
                            c.contributor_agent_id.to_string(),
                            c.created_at.map(age).unwrap_or_default(),
                            clip(c.text().unwrap_or(&c.content.to_string()), 80),
                        ]
                    })
                    .collect();
                table(&["TYPE", "FROM", "AGE", "TEXT"], &rows)
            })?;
        }
    }
    Ok(exit::OK)
}

/// Forgets the current session if it is this one.
fn clear_current(ctx: &Ctx, id: &str) -> anyhow::Result<()> {
    ctx.state().update(|state| {
        if state.current_session.as_ref().is_some_and(|c| c.id == id) {
            state.current_session = None;
        }
        Ok(())
    })
}
