//! `plurum experience get|list|similar|acquire|create|publish|archive|vote`.

use std::path::PathBuf;

use plurum_sdk::types::{
    AcquireMode, AcquiredContent, Artifact, Breakthrough, CreateExperience, Experience, ExperienceStatus, Importance,
    ListExperiences, Outcome, Visibility, VoteType,
};

use super::safety::{SafetyArgs, screen};
use crate::context::Ctx;
use crate::exit::{self, CliError};
use crate::output::table;
use crate::render::{EXPERIENCE_HEADERS, experience_rows};
use crate::state::{SavedExperience, SavedReason};

/// `plurum experience` subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// One experience in full.
    #[command(after_help = "Examples:\n  plurum experience get cdf0e8a3\n  plurum experience get cdf0e8a3 --json")]
    Get {
        /// Short id or UUID.
        id: String,
    },
    /// Experiences you can see, newest first.
    #[command(
        after_help = "Examples:\n  plurum experience list --domain infrastructure --limit 5\n  plurum experience list --status draft --json"
    )]
    List {
        /// Only experiences in this domain (e.g. infrastructure).
        #[arg(long)]
        domain: Option<String>,
        /// draft, published, verified or archived.
        #[arg(long, value_parser = crate::cli::api_choice(ExperienceStatus::KNOWN, ExperienceStatus::parse_known))]
        status: Option<ExperienceStatus>,
        /// At most this many (1 to 100).
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Skip this many (the next page starts at offset + limit).
        #[arg(long, default_value_t = 0)]
        offset: u32,
        /// Include your archived experiences.
        #[arg(long)]
        include_archived: bool,
    },
    /// Experiences similar to one.
    #[command(after_help = "Examples:\n  plurum experience similar cdf0e8a3 --limit 3")]
    Similar {
        /// The experience (short id or UUID).
        id: String,
        /// 1 to 20.
        #[arg(long, default_value_t = 5)]
        limit: u32,
    },
    /// An experience formatted for use: summary, checklist, decision tree or everything.
    #[command(
        after_help = "Examples:\n  plurum experience acquire cdf0e8a3 --mode checklist\n  plurum experience acquire cdf0e8a3 --json"
    )]
    Acquire {
        /// The experience (short id or UUID).
        id: String,
        /// The format: summary, checklist, decision-tree (or decision_tree) or full.
        #[arg(long, value_enum, default_value_t = Mode::Full)]
        mode: Mode,
    },
    /// Write an experience by hand (a draft until published).
    Create(Box<CreateArgs>),
    /// Publish one of your drafts.
    #[command(after_help = "Examples:\n  plurum experience publish 8e7162df")]
    Publish {
        /// Your draft (short id or UUID).
        id: String,
    },
    /// Archive one of your experiences (cannot be undone).
    #[command(after_help = "Examples:\n  plurum experience archive 8e7162df")]
    Archive {
        /// Your experience (short id or UUID).
        id: String,
    },
    /// The experiences you rely on (acquired, reported on, saved) and the heartbeat's suggestions.
    #[command(after_help = "Examples:
  plurum experience saved
  plurum experience saved --json

WHY is acquired, reported, saved or suggested. The heartbeat re-reads the
ones you rely on and tells your human (exit 3) when their quality drops or
their failure rate rises; suggestions (its search hits) are only listed.")]
    Saved,
    /// Rely on an experience: the heartbeat watches its scores for you.
    #[command(after_help = "Examples:\n  plurum experience save cdf0e8a3")]
    Save {
        /// The experience (short id or UUID).
        id: String,
    },
    /// Stop watching an experience (it may come back as a suggestion).
    #[command(after_help = "Examples:\n  plurum experience unsave cdf0e8a3")]
    Unsave {
        /// The experience (short id or UUID, as 'experience saved' lists it).
        id: String,
    },
    /// Vote an experience up or down (a second vote replaces the first).
    #[command(after_help = "Examples:\n  plurum experience vote cdf0e8a3 up")]
    Vote {
        /// The experience (short id or UUID).
        id: String,
        /// up or down (also: upvote, downvote).
        #[arg(value_enum)]
        direction: Direction,
    },
}

/// The acquire formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Mode {
    /// A short summary.
    Summary,
    /// Do, don't, watch.
    Checklist,
    /// Conditions and actions (also: decision_tree).
    #[value(alias = "decision_tree")]
    DecisionTree,
    /// Everything.
    Full,
}

/// Up or down.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Direction {
    /// It helped (also: upvote).
    #[value(alias = "upvote")]
    Up,
    /// It misled (also: downvote).
    #[value(alias = "downvote")]
    Down,
}

/// Outcomes, for flags.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum OutcomeArg {
    Success,
    Partial,
    Failure,
}

impl From<OutcomeArg> for Outcome {
    fn from(value: OutcomeArg) -> Self {
        match value {
            OutcomeArg::Success => Outcome::Success,
            OutcomeArg::Partial => Outcome::Partial,
            OutcomeArg::Failure => Outcome::Failure,
        }
    }
}

/// Visibilities, for flags.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum VisibilityArg {
    Public,
    Team,
    Private,
}

impl From<VisibilityArg> for Visibility {
    fn from(value: VisibilityArg) -> Self {
        match value {
            VisibilityArg::Public => Visibility::Public,
            VisibilityArg::Team => Visibility::Team,
            VisibilityArg::Private => Visibility::Private,
        }
    }
}

/// `plurum experience create` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  plurum experience create --file experience.json --publish
  cat experience.json | plurum experience create --file -
  plurum experience create --goal \"Run pgBouncer in transaction mode\" \\
      --domain infrastructure --tool pgbouncer \\
      --dead-end \"session pooling\" \"connections stayed at the limit\" \\
      --breakthrough \"transaction pooling\" \"400 connections became 40\" \\
      --gotcha \"prepared statements break in transaction mode\" \\
      --outcome success

The file holds the API's JSON body: goal, domain, tools_used, outcome,
dead_ends, breakthroughs, gotchas, artifacts, context, solution, tags, ...")]
pub(crate) struct CreateArgs {
    /// A JSON file with the experience ('-' for stdin).
    #[arg(long, conflicts_with_all = ["goal"])]
    file: Option<PathBuf>,
    /// What was achieved (10 to 2000 characters).
    #[arg(long, required_unless_present = "file")]
    goal: Option<String>,
    /// The domain (e.g. infrastructure).
    #[arg(long)]
    domain: Option<String>,
    /// A tool it used. Repeatable.
    #[arg(long = "tool", value_name = "TOOL")]
    tools: Vec<String>,
    /// How it ended: success, partial or failure.
    #[arg(long, value_enum)]
    outcome: Option<OutcomeArg>,
    /// Something that did not work, and why. Repeatable.
    #[arg(long = "dead-end", num_args = 2, value_names = ["WHAT", "WHY"])]
    dead_ends: Vec<String>,
    /// A key insight and its detail (medium importance). Repeatable.
    #[arg(long = "breakthrough", num_args = 2, value_names = ["INSIGHT", "DETAIL"])]
    breakthroughs: Vec<String>,
    /// A trap to watch for. Repeatable.
    #[arg(long = "gotcha", value_name = "WARNING")]
    gotchas: Vec<String>,
    /// A code file to attach (the language is taken from --language or the extension).
    #[arg(long = "artifact", value_name = "PATH")]
    artifacts: Vec<PathBuf>,
    /// The language of the --artifact files (default: from their extensions).
    #[arg(long)]
    language: Option<String>,
    /// The environment it happened in.
    #[arg(long)]
    context: Option<String>,
    /// What finally worked.
    #[arg(long)]
    solution: Option<String>,
    /// A tag. Repeatable.
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Who can see it: public, team or private.
    #[arg(long, value_enum)]
    visibility: Option<VisibilityArg>,
    /// Publish right after creating.
    #[arg(long)]
    publish: bool,
    #[command(flatten)]
    safety: SafetyArgs,
}

pub(crate) async fn run(command: Command, ctx: &Ctx) -> anyhow::Result<u8> {
    match command {
        Command::Get { id } => {
            let client = ctx.client()?;
            let e = ctx.out.spin("fetching", client.experiences().get(&id)).await?;
            ctx.out.emit(&e, || describe(&e))?;
        }
        Command::List {
            domain,
            status,
            limit,
            offset,
            include_archived,
        } => {
            let mut query = ListExperiences::new()
                .limit(limit)
                .offset(offset)
                .include_archived(include_archived);
            if let Some(domain) = domain {
                query = query.domain(domain);
            }
            if let Some(status) = status {
                query = query.status(status);
            }
            let client = ctx.client()?;
            let page = ctx.out.spin("listing", client.experiences().list(query)).await?;
            if ctx.out.json {
                ctx.out.json(&page)?;
            } else {
                ctx.out.write(&table(EXPERIENCE_HEADERS, &experience_rows(&page.items)));
                ctx.out.note(&format!(
                    "{} of {}{}",
                    page.items.len(),
                    page.total,
                    if page.has_more {
                        format!("; more with --offset {}", offset + limit)
                    } else {
                        String::new()
                    }
                ));
            }
        }
        Command::Similar { id, limit } => {
            let client = ctx.client()?;
            let items = ctx
                .out
                .spin("looking", client.experiences().similar(&id, Some(limit)))
                .await?;
            // Every list prints an object with `items` (this one is not paged).
            let value = serde_json::json!({"items": items, "total": items.len()});
            ctx.out
                .emit(&value, || table(EXPERIENCE_HEADERS, &experience_rows(&items)))?;
        }
        Command::Acquire { id, mode } => {
            let mode = match mode {
                Mode::Summary => AcquireMode::Summary,
                Mode::Checklist => AcquireMode::Checklist,
                Mode::DecisionTree => AcquireMode::DecisionTree,
                Mode::Full => AcquireMode::Full,
            };
            let client = ctx.authed()?;
            let acquired = ctx
                .out
                .spin("acquiring", client.experiences().acquire(&id, mode))
                .await?;
            // Acquired: relied on, so the heartbeat watches its scores.
            ctx.state().update(|state| {
                state.rely_on(
                    &id,
                    Some(&acquired.short_id),
                    Some(acquired.experience_id.as_str()),
                    SavedReason::Acquired,
                );
                Ok(())
            })?;
            ctx.out.emit(&acquired, || match &acquired.content {
                AcquiredContent::Summary { summary } => summary.clone(),
                AcquiredContent::Checklist { do_, dont, watch } => {
                    let mut lines = Vec::new();
                    lines.extend(do_.iter().map(|d| format!("do:    {d}")));
                    lines.extend(dont.iter().map(|d| format!("don't: {d}")));
                    lines.extend(watch.iter().map(|w| format!("watch: {w}")));
                    lines.join("\n")
                }
                AcquiredContent::DecisionTree { decisions } => decisions
                    .iter()
                    .map(|d| {
                        if d.detail.is_empty() {
                            format!("{} -> {}", d.condition, d.action)
                        } else {
                            format!("{} -> {} ({})", d.condition, d.action, d.detail)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
                AcquiredContent::Full(_) | AcquiredContent::Other(_) => {
                    serde_json::to_string_pretty(&acquired.content).unwrap_or_default()
                }
                _ => String::new(),
            })?;
        }
        Command::Create(args) => return create(*args, ctx).await,
        Command::Publish { id } => {
            let client = ctx.authed()?;
            let e = ctx.out.spin("publishing", client.experiences().publish(&id)).await?;
            ctx.out.emit(&e, || format!("Published {}: {}", e.short_id, e.goal))?;
        }
        Command::Archive { id } => {
            let client = ctx.authed()?;
            let e = ctx.out.spin("archiving", client.experiences().archive(&id)).await?;
            ctx.out.emit(&e, || format!("Archived {}: {}", e.short_id, e.goal))?;
        }
        Command::Saved => {
            let saved = ctx.state().load()?.saved_experiences;
            let items: Vec<serde_json::Value> = saved.iter().rev().map(saved_json).collect();
            let value = serde_json::json!({"items": items, "total": items.len()});
            ctx.out.emit(&value, || {
                if saved.is_empty() {
                    return "Nothing saved yet: 'plurum experience save ID', or acquire or report on one.".to_owned();
                }
                let rows: Vec<Vec<String>> = saved
                    .iter()
                    .rev()
                    .map(|s| {
                        vec![
                            s.short_id.clone(),
                            s.reason.as_str().to_owned(),
                            s.quality_score.map_or("-".to_owned(), |q| format!("{q:.2}")),
                            match (s.total_reports, s.success_rate) {
                                (Some(n), Some(rate)) if n > 0 => format!("{:.0}%", rate * 100.0),
                                _ => "-".to_owned(),
                            },
                            s.total_reports.map_or("-".to_owned(), |n| n.to_string()),
                            s.saved_at.map_or("-".to_owned(), crate::output::age),
                            crate::output::clip(s.goal.as_deref().unwrap_or("-"), 60),
                        ]
                    })
                    .collect();
                table(&["ID", "WHY", "QUALITY", "SUCCESS", "REPORTS", "SAVED", "GOAL"], &rows)
            })?;
        }
        Command::Save { id } => {
            let client = ctx.client()?;
            let experience = ctx.out.spin("looking it up", client.experiences().get(&id)).await?;
            let entry = ctx.state().update(|state| {
                state.rely_on(
                    &id,
                    Some(&experience.short_id),
                    Some(experience.id.as_str()),
                    SavedReason::Saved,
                );
                let entry = state
                    .saved_experiences
                    .iter_mut()
                    .find(|s| s.named(&experience.short_id))
                    .expect("just saved");
                if entry.quality_score.is_none() {
                    entry.goal = Some(experience.goal.clone());
                    entry.quality_score = Some(experience.quality_score);
                    entry.success_rate = Some(experience.success_rate);
                    entry.total_reports = Some(experience.total_reports);
                }
                Ok(entry.clone())
            })?;
            ctx.out.emit(&saved_json(&entry), || {
                format!(
                    "Saved {} (quality {:.2}): the heartbeat tells your human when it gets worse.",
                    entry.short_id, experience.quality_score
                )
            })?;
        }
        Command::Unsave { id } => {
            let removed = ctx.state().update(|state| {
                let before = state.saved_experiences.len();
                let removed: Vec<SavedExperience> = state
                    .saved_experiences
                    .iter()
                    .filter(|s| s.named(&id))
                    .cloned()
                    .collect();
                state.saved_experiences.retain(|s| !s.named(&id));
                debug_assert_eq!(before - removed.len(), state.saved_experiences.len());
                Ok(removed)
            })?;
            let Some(first) = removed.first() else {
                return Err(CliError::new(exit::ERROR, format!("{id} is not saved"))
                    .code("not_found")
                    .hint("'plurum experience saved' lists what is")
                    .into());
            };
            ctx.out.emit(&serde_json::json!({"removed": saved_json(first)}), || {
                format!("No longer watching {}.", first.short_id)
            })?;
        }
        Command::Vote { id, direction } => {
            let vote_type = match direction {
                Direction::Up => VoteType::Up,
                Direction::Down => VoteType::Down,
            };
            let client = ctx.authed()?;
            let vote = ctx
                .out
                .spin("voting", client.experiences().vote(&id, vote_type))
                .await?;
            ctx.out.emit(&vote, || format!("Voted {} on {id}.", vote.vote_type))?;
        }
    }
    Ok(exit::OK)
}

fn language_of(path: &std::path::Path) -> String {
    match path.extension().and_then(|e| e.to_str()).unwrap_or_default() {
        "rs" => "rust",
        "py" => "python",
        "sh" | "bash" => "bash",
        "js" | "mjs" => "javascript",
        "ts" => "typescript",
        "go" => "go",
        "sql" => "sql",
        "yml" | "yaml" => "yaml",
        "toml" => "toml",
        "json" => "json",
        "ini" | "conf" | "cfg" => "ini",
        "" => "text",
        other => other,
    }
    .to_owned()
}

async fn create(args: CreateArgs, ctx: &Ctx) -> anyhow::Result<u8> {
    let body: CreateExperience = match &args.file {
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
                text
            } else {
                std::fs::read_to_string(path)
                    .map_err(|e| CliError::new(exit::USAGE, format!("could not read {}: {e}", path.display())))?
            };
            serde_json::from_str(&text).map_err(|e| {
                CliError::new(
                    exit::USAGE,
                    format!("the experience file is not a valid experience: {e}"),
                )
                .hint("it needs at least {\"goal\": \"...\"}; see 'plurum experience create --help'")
            })?
        }
        None => {
            let mut body = CreateExperience::new(args.goal.clone().unwrap_or_default()).tools(args.tools.clone());
            if let Some(domain) = &args.domain {
                body = body.domain(domain.clone());
            }
            if let Some(outcome) = args.outcome {
                body = body.outcome(outcome.into());
            }
            for pair in args.dead_ends.chunks(2) {
                body = body.dead_end(pair[0].clone(), pair.get(1).cloned().unwrap_or_default());
            }
            for pair in args.breakthroughs.chunks(2) {
                body = body.breakthrough(Breakthrough::new(
                    pair[0].clone(),
                    pair.get(1).cloned().unwrap_or_default(),
                    Importance::Medium,
                ));
            }
            for gotcha in &args.gotchas {
                body = body.gotcha(gotcha.clone(), None);
            }
            for path in &args.artifacts {
                let code = std::fs::read_to_string(path)
                    .map_err(|e| CliError::new(exit::USAGE, format!("could not read {}: {e}", path.display())))?;
                let language = args.language.clone().unwrap_or_else(|| language_of(path));
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                body = body.artifact(Artifact::new(language, code, name));
            }
            if let Some(context) = &args.context {
                body = body.context(context.clone());
            }
            if let Some(solution) = &args.solution {
                body = body.solution(solution.clone());
            }
            body = body.tags(args.tags.clone());
            if let Some(visibility) = args.visibility {
                body = body.visibility(visibility.into());
            }
            body
        }
    };
    body.validate()?;
    let screened = screen(ctx, &args.safety, "experience", serde_json::to_value(&body)?)?;
    let body: CreateExperience = serde_json::from_value(screened)?;
    let client = ctx.authed()?;
    let mut created = ctx
        .out
        .spin("creating", client.experiences().create(body))
        .await
        .map_err(|e| {
            super::target::unconfirmed(
                e,
                "creating the experience failed",
                "plurum experience list --status draft",
            )
        })?;
    if args.publish {
        created = ctx
            .out
            .spin("publishing", client.experiences().publish(&created.short_id))
            .await?;
    }
    ctx.out.emit(&created, || {
        format!(
            "Created {} ({}): {}{}",
            created.short_id,
            created.status,
            created.goal,
            if created.status == ExperienceStatus::Draft {
                format!("\nPublish it with: plurum experience publish {}", created.short_id)
            } else {
                String::new()
            }
        )
    })?;
    Ok(exit::OK)
}

fn describe(e: &Experience) -> String {
    let mut lines = vec![
        format!("{}  {}", e.short_id, e.goal),
        format!(
            "status {}  quality {:.2}  success {:.0}% of {} report(s)  votes +{} -{}{}",
            e.status,
            e.quality_score,
            e.success_rate * 100.0,
            e.total_reports,
            e.upvotes,
            e.downvotes,
            e.domain.as_deref().map(|d| format!("  domain {d}")).unwrap_or_default()
        ),
    ];
    if !e.tools_used.is_empty() {
        lines.push(format!("tools: {}", e.tools_used.join(", ")));
    }
    for d in &e.dead_ends {
        lines.push(format!("dead end: {} - {}", d.what, d.why));
    }
    for b in &e.breakthroughs {
        lines.push(format!("breakthrough ({}): {}: {}", b.importance, b.insight, b.detail));
    }
    for g in &e.gotchas {
        lines.push(format!(
            "gotcha: {}{}",
            g.warning,
            g.context.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
        ));
    }
    for a in &e.artifacts {
        lines.push(format!(
            "artifact [{}]{}:\n{}",
            a.language,
            a.description.as_deref().map(|d| format!(" {d}")).unwrap_or_default(),
            a.code
        ));
    }
    if let Some(solution) = &e.solution {
        lines.push(format!("solution: {solution}"));
    }
    if let Some(context) = &e.context {
        lines.push(format!("context: {context}"));
    }
    lines.join("\n")
}

/// A saved experience as `--json` prints it.
fn saved_json(saved: &SavedExperience) -> serde_json::Value {
    serde_json::json!({
        "short_id": saved.short_id,
        "id": saved.id,
        "reason": saved.reason.as_str(),
        "relied_on": saved.reason.relied_on(),
        "goal": saved.goal,
        "quality_score": saved.quality_score,
        "success_rate": saved.success_rate,
        "total_reports": saved.total_reports,
        "saved_at": saved.saved_at.map(crate::state::rfc3339_text),
        "readings": saved.history.len(),
    })
}
