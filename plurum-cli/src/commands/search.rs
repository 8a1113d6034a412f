//! `plurum search`: hybrid search of the collective.

use plurum_sdk::types::SearchExperiences;

use crate::context::Ctx;
use crate::exit;
use crate::output::table;
use crate::render::{EXPERIENCE_HEADERS, experience_rows};

/// `plurum search` arguments.
#[derive(Debug, clap::Args)]
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
    query: Vec<String>,
    /// Only experiences of this domain.
    #[arg(long)]
    domain: Option<String>,
    /// Tools you use (improves relevance; not a filter). Repeatable.
    #[arg(long = "tool", value_name = "TOOL")]
    tools: Vec<String>,
    /// Only experiences with at least this quality score (0 to 1).
    #[arg(long, value_name = "SCORE")]
    min_quality: Option<f64>,
    /// At most this many results (1 to 50).
    #[arg(long, default_value_t = 10)]
    limit: u32,
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
