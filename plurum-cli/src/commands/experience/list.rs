//! `plurum experience list`.

use plurum_sdk::types::{ExperienceStatus, ListExperiences};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::commands::args;
use crate::context::Ctx;
use crate::exit;
use crate::output::table;
use crate::render::{EXPERIENCE_HEADERS, experience_rows};

/// `plurum experience list` options.
#[derive(Debug, Clone, clap::Args, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Options {
    /// Only experiences in this domain (e.g. infrastructure).
    #[arg(long)]
    #[serde(default)]
    pub(crate) domain: Option<String>,
    /// draft, published, verified or archived.
    #[arg(long, value_parser = args::choice::<ExperienceStatus>())]
    #[serde(default, deserialize_with = "args::closed_opt")]
    #[schemars(schema_with = "args::closed_schema::<ExperienceStatus>")]
    pub(crate) status: Option<ExperienceStatus>,
    /// At most this many (1 to 100).
    #[arg(long, default_value_t = args::PAGE_DEFAULT, value_parser = args::int_in(args::ranges::PAGE_LIMIT))]
    #[serde(default = "args::page_default")]
    #[schemars(range(min = 1, max = 100))]
    pub(crate) limit: u32,
    /// Skip this many (the next page starts at offset + limit).
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub(crate) offset: u32,
    /// Include your archived experiences.
    #[arg(long)]
    #[serde(default)]
    pub(crate) include_archived: bool,
}

pub(crate) async fn run(ctx: &Ctx, options: Options) -> anyhow::Result<u8> {
    let Options {
        domain,
        status,
        limit,
        offset,
        include_archived,
    } = options;
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
    Ok(exit::OK)
}
