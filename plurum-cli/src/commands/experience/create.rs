//! `plurum experience create`: an experience written by hand, from flags or
//! from a file holding the API's body.

use std::path::PathBuf;

use plurum_sdk::types::{Artifact, Breakthrough, CreateExperience, ExperienceStatus, Importance, Outcome, Visibility};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::commands::args;
use crate::commands::safety::{SafetyArgs, screen};
use crate::context::Ctx;
use crate::exit::{self, CliError};
use crate::journal::{Op, Settled};

/// `plurum experience create` options (the command line's: the tool takes
/// the API's body).
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
pub(crate) struct Options {
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
    #[arg(long, value_parser = args::choice::<Outcome>())]
    outcome: Option<Outcome>,
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
    #[arg(long, value_parser = args::choice::<Visibility>())]
    visibility: Option<Visibility>,
    /// Publish right after creating.
    #[arg(long)]
    publish: bool,
    /// Fail when the server cannot take it now, instead of keeping it in the journal (known by a local id, local-XXXXXXXX) to send later.
    #[arg(long)]
    no_queue: bool,
    #[command(flatten)]
    safety: SafetyArgs,
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

pub(crate) async fn run(ctx: &Ctx, args: Options) -> anyhow::Result<u8> {
    let body = body_of(&args)?;
    create(ctx, body, &args.safety, args.publish, args.no_queue).await
}

/// The body the flags or the file describe.
fn body_of(args: &Options) -> anyhow::Result<CreateExperience> {
    Ok(match &args.file {
        Some(path) => {
            let text = crate::files::read_input(path)
                .map_err(|e| CliError::new(exit::USAGE, format!("could not read {}: {e}", path.display())))?;
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
            if let Some(outcome) = args.outcome.clone() {
                body = body.outcome(outcome);
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
                let code = crate::files::read_input(path)
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
            if let Some(visibility) = args.visibility.clone() {
                body = body.visibility(visibility);
            }
            body
        }
    })
}

/// Creates (and with `publish`, publishes) an experience, after the checks
/// and the safety gate, through the journal: when the server cannot take
/// it now, it is kept and known by a local id (`local-XXXXXXXX`) until
/// delivered; `no_queue` fails instead.
async fn create(
    ctx: &Ctx,
    body: CreateExperience,
    safety: &SafetyArgs,
    publish: bool,
    no_queue: bool,
) -> anyhow::Result<u8> {
    body.validate()?;
    let screened = screen(ctx, safety, "experience", serde_json::to_value(&body)?)?;
    let body: CreateExperience = serde_json::from_value(screened)?;
    let client = ctx.authed()?;
    if no_queue {
        let mut created = ctx
            .out
            .spin("creating", client.experiences().create(body))
            .await
            .map_err(|e| {
                crate::commands::target::unconfirmed(
                    e,
                    "creating the experience failed",
                    "plurum experience list --status draft",
                )
            })?;
        if publish {
            created = ctx
                .out
                .spin("publishing", client.experiences().publish(&created.short_id))
                .await?;
        }
        return print_created(ctx, serde_json::to_value(&created)?);
    }
    let journal = ctx.journal();
    let local = crate::journal::new_local_id();
    let mut write = journal.record(Op::ExperienceCreate {
        local_id: local.clone(),
        body: serde_json::to_value(&body)?,
    })?;
    let created = write.clone();
    if publish {
        write = journal.record(Op::ExperiencePublish {
            experience: local.clone(),
        })?;
    }
    let doing = if publish { "creating and publishing" } else { "creating" };
    match crate::journal::deliver_now(ctx, &journal, &local, write.seq, doing).await? {
        Settled::Answered(answer) => print_created(ctx, answer),
        Settled::Found => {
            // Its answer had been lost; the read-back found it (bound now).
            let (id, _) = journal.local_session(&local)?.unwrap_or((local.clone(), local.clone()));
            let found = client.experiences().get(id.as_str()).await?;
            print_created(ctx, serde_json::to_value(&found)?)
        }
        Settled::Waiting(reason) => {
            // The create itself may be on the server already (only the
            // publish waits): say which id names it now.
            let (id, short_id) = journal.local_session(&local)?.unwrap_or((local.clone(), local.clone()));
            let value = json!({
                "id": id,
                "short_id": short_id,
                "goal": body.goal(),
                "status": "draft",
                "delivery": "queued",
                "queued": crate::journal::queued(&created, &reason),
            });
            ctx.out.emit(&value, || {
                format!(
                    "Queued the experience as {short_id} ({reason}){}; 'plurum sync' or the next heartbeat sends it. Every command takes {short_id} meanwhile.",
                    if publish { ", to be published once created" } else { "" }
                )
            })?;
            Ok(exit::OK)
        }
    }
}

fn print_created(ctx: &Ctx, answer: serde_json::Value) -> anyhow::Result<u8> {
    let created: plurum_sdk::types::Experience = serde_json::from_value(answer.clone())?;
    let mut value = answer;
    value["delivery"] = json!("delivered");
    ctx.out.emit(&value, || {
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

/// The `plurum_experience_create` tool's arguments: the experience as the
/// API's body names it (what `--file` holds), plus `publish`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ToolOptions {
    /// What was achieved (10 to 2000 characters).
    goal: String,
    /// The domain (e.g. infrastructure).
    #[serde(default)]
    domain: Option<String>,
    /// The tools it used.
    #[serde(default)]
    tools_used: Vec<String>,
    /// How it ended.
    #[serde(default, deserialize_with = "args::closed_opt")]
    #[schemars(schema_with = "args::closed_schema::<Outcome>")]
    outcome: Option<Outcome>,
    /// What did not work, and why.
    #[serde(default)]
    dead_ends: Vec<ToolDeadEnd>,
    /// Key insights.
    #[serde(default)]
    breakthroughs: Vec<ToolBreakthrough>,
    /// Traps to watch for.
    #[serde(default)]
    gotchas: Vec<ToolGotcha>,
    /// Code that worked.
    #[serde(default)]
    artifacts: Vec<ToolArtifact>,
    /// The environment it happened in.
    #[serde(default)]
    context: Option<String>,
    /// What finally worked.
    #[serde(default)]
    solution: Option<String>,
    /// Tags.
    #[serde(default)]
    tags: Vec<String>,
    /// Who can see it.
    #[serde(default, deserialize_with = "args::closed_opt")]
    #[schemars(schema_with = "args::closed_schema::<Visibility>")]
    visibility: Option<Visibility>,
    /// Publish right after creating (otherwise it stays a draft).
    #[serde(default)]
    publish: bool,
    /// Fail when the server cannot take it now, instead of keeping it to send later.
    #[serde(default)]
    no_queue: bool,
    #[serde(flatten)]
    safety: SafetyArgs,
}

/// A dead end: what did not work, and why.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ToolDeadEnd {
    what: String,
    why: String,
}

/// A breakthrough: the insight, its detail, how much it matters.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ToolBreakthrough {
    insight: String,
    detail: String,
    /// Default medium.
    #[serde(default, deserialize_with = "args::closed_opt")]
    #[schemars(schema_with = "args::closed_schema::<Importance>")]
    importance: Option<Importance>,
}

/// A gotcha: the warning, and where it applies.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ToolGotcha {
    warning: String,
    #[serde(default)]
    context: Option<String>,
}

/// An artifact: code in a language, with what it is.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ToolArtifact {
    language: String,
    code: String,
    #[serde(default)]
    description: Option<String>,
}

/// The `plurum_experience_create` tool.
pub(crate) async fn tool(ctx: &Ctx, options: ToolOptions) -> anyhow::Result<u8> {
    let mut body = CreateExperience::new(options.goal).tools(options.tools_used);
    if let Some(domain) = options.domain {
        body = body.domain(domain);
    }
    if let Some(outcome) = options.outcome {
        body = body.outcome(outcome);
    }
    for d in options.dead_ends {
        body = body.dead_end(d.what, d.why);
    }
    for b in options.breakthroughs {
        body = body.breakthrough(Breakthrough::new(
            b.insight,
            b.detail,
            b.importance.unwrap_or(Importance::Medium),
        ));
    }
    for g in options.gotchas {
        body = body.gotcha(g.warning, g.context);
    }
    for a in options.artifacts {
        body = body.artifact(Artifact::new(a.language, a.code, a.description));
    }
    if let Some(context) = options.context {
        body = body.context(context);
    }
    if let Some(solution) = options.solution {
        body = body.solution(solution);
    }
    body = body.tags(options.tags);
    if let Some(visibility) = options.visibility {
        body = body.visibility(visibility);
    }
    create(ctx, body, &options.safety, options.publish, options.no_queue).await
}
