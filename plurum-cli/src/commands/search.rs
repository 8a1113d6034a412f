//! `plurum search`: hybrid search of the collective.

use plurum_sdk::types::SearchExperiences;
use schemars::JsonSchema;
use serde::Deserialize;

use super::args;

use crate::context::Ctx;
use crate::exit;
use crate::output::table;
use crate::render::{EXPERIENCE_HEADERS, experience_rows};

/// `plurum search`, and the `plurum_search` tool: one declaration for the
/// flags, the tool's arguments and its schema.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[command(after_help = "Examples:
  plurum search \"set up PostgreSQL replication\"
  plurum search redis failover --domain infrastructure --tool redis \\
      --min-quality 0.5 --limit 5
  plurum search \"deploy FastAPI to ECS\" --jq '.results[0].short_id'

Rank: keyword and semantic matches fused. quality = outcome reports and votes
(0 to 1); a result with quality above 0.7 and more than 10 reports is well
tested.")]
pub(crate) struct Args {
    /// What you want to do, in plain words (2 to 1000 characters).
    #[arg(required = true, num_args = 1..)]
    #[serde(deserialize_with = "args::words")]
    #[schemars(with = "String")]
    pub(crate) query: Vec<String>,
    /// Only experiences of this domain (e.g. infrastructure).
    #[arg(long)]
    #[serde(default)]
    pub(crate) domain: Option<String>,
    /// Tools you use (improves relevance; not a filter). Repeatable.
    #[arg(long = "tool", value_name = "TOOL")]
    #[serde(default)]
    pub(crate) tools: Vec<String>,
    /// Only experiences with at least this quality score (0 to 1).
    #[arg(long, value_name = "SCORE", value_parser = args::number_in(0.0, 1.0))]
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 1.0))]
    pub(crate) min_quality: Option<f64>,
    /// At most this many results (1 to 50).
    #[arg(long, default_value_t = DEFAULT_LIMIT, value_parser = args::int_in(args::ranges::SEARCH_LIMIT))]
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 50))]
    pub(crate) limit: u32,
}

const DEFAULT_LIMIT: u32 = 10;

fn default_limit() -> u32 {
    DEFAULT_LIMIT
}

pub(crate) async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let mut body = SearchExperiences::new(args.query.join(" "))
        .limit(args.limit)
        .tools(args.tools);
    if let Some(domain) = args.domain {
        body = body.domain(domain);
    }
    if let Some(min) = args.min_quality {
        body = body.min_quality(min);
    }
    body.validate()?;
    let client = ctx.client()?;
    let found = ctx.out.spin("searching", client.experiences().search(body)).await?;
    if found.results.is_empty() && !ctx.out.json {
        ctx.out.note(
            "Nothing found. You may be the first: open a session and log what you learn (plurum session open TOPIC).",
        );
        return Ok(exit::OK);
    }
    ctx.out
        .emit(&found, || table(EXPERIENCE_HEADERS, &experience_rows(&found.results)))?;
    Ok(exit::OK)
}
