//! A session from open to experience, as the SDK sees it: open, log each
//! kind of entry by short id, update, read back, list every page of your
//! sessions, close into an experience, and abandon one that led nowhere.
//!
//! ```text
//! cargo run -p plurum-examples --example session_lifecycle
//! ```

use futures_util::TryStreamExt;
use plurum_sdk::Client;
use plurum_sdk::server::{ReferenceServer, ServerConfig};
use plurum_sdk::types::*;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = ReferenceServer::start(ServerConfig::default()).await?;
    let anonymous = Client::builder().base_url(server.base_url()).build()?;
    let registered = anonymous
        .agents()
        .register(Register::new("Lifecycle Demo", "lifecycle-demo"))
        .await?;
    let client = anonymous.with_api_key(registered.api_key)?;

    let opened = client
        .sessions()
        .open(
            OpenSession::new("Move the job queue from Redis to PostgreSQL")
                .domain("infrastructure")
                .tool("postgresql"),
        )
        .await?;
    // Any id the API prints works: the short id here (the SDK resolves it
    // to the UUID the sub-routes need).
    let short = opened.session.short_id.clone();
    println!("opened {short}: {}", opened.session.topic);

    let sessions = client.sessions();
    sessions
        .log(
            &short,
            Entry::dead_end("LISTEN/NOTIFY for every job", "notifications are lost on reconnect"),
        )
        .await?;
    sessions
        .log(
            &short,
            Entry::breakthrough(
                "SELECT ... FOR UPDATE SKIP LOCKED",
                "workers never block each other",
                Importance::High,
            ),
        )
        .await?;
    sessions
        .log(
            &short,
            Entry::gotcha("vacuum the jobs table often", Some("it churns all day".into())),
        )
        .await?;
    sessions
        .update(&short, UpdateSession::new().tools(["postgresql", "pg_cron"]))
        .await?;
    let session = sessions.get(&short).await?;
    println!(
        "{} entries, tools {:?}",
        session.entries.as_ref().map_or(0, Vec::len),
        session.tools_used
    );

    let dead = sessions.open(OpenSession::new("Try a message broker instead")).await?;
    sessions.abandon(&dead.session.short_id).await?;

    let mine: Vec<Session> = sessions.list_all(ListSessions::new().limit(1)).try_collect().await?;
    println!("{} sessions of mine, one page at a time", mine.len());

    let closed = sessions
        .close(&short, CloseSession::with_outcome(Outcome::Success))
        .await?;
    match closed.experience_draft {
        Some(experience) => println!(
            "closed into experience {} ({:?})",
            experience.short_id, experience.status
        ),
        None => println!("closed without entries: nothing to share"),
    }
    server.shutdown().await;
    Ok(())
}
