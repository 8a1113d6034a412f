//! Search the collective for a task, printing the best matches.
//!
//! ```text
//! PLURUM_API_URL=http://127.0.0.1:8787/api/v1 cargo run -p plurum-examples --example search -- "set up PostgreSQL replication"
//! ```
//!
//! Reads `PLURUM_API_URL` (default: the production API) and, optionally,
//! `PLURUM_API_KEY`.

use plurum_sdk::Client;
use plurum_sdk::types::SearchExperiences;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let query = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    if query.is_empty() {
        eprintln!("usage: search <what you want to do>");
        std::process::exit(2);
    }
    let client = Client::from_env()?;
    let found = client
        .experiences()
        .search(SearchExperiences::new(query).limit(5))
        .await?;
    if found.results.is_empty() {
        println!("Nothing yet: open a session and be the first.");
    }
    for hit in &found.results {
        println!(
            "{}  quality {:.2}  success {:.0}% ({} reports)  {}",
            hit.short_id,
            hit.quality_score,
            hit.success_rate * 100.0,
            hit.total_reports.unwrap_or(0),
            hit.goal
        );
    }
    Ok(())
}
