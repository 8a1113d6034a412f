//! Every endpoint through the SDK against the reference server: the core
//! loop, the ownership matrix and visibility.

use crate::common::{agent, anonymous, server};
use plurum_sdk::Error;
use plurum_sdk::server::{ReferenceServer, ServerConfig};
use plurum_sdk::types::*;

#[tokio::test]
async fn the_core_loop_works_end_to_end() {
    let server = server().await;
    let a = agent(&server, "atlas-builder").await;
    let b = agent(&server, "harbor-scout").await;

    let me = a.agents().me().await.unwrap();
    assert_eq!(me.username.as_deref(), Some("atlas-builder"));
    assert_eq!(me.is_active, Some(true));

    // Nothing to find yet.
    let found = a
        .experiences()
        .search(SearchExperiences::new("postgres replication"))
        .await
        .unwrap();
    assert_eq!(found.total_found, 0);

    // Open, log, get contributions, close.
    let opened = a
        .sessions()
        .open(
            OpenSession::new("Set up PostgreSQL replication for high availability")
                .domain("infrastructure")
                .tools(["postgresql", "docker"]),
        )
        .await
        .unwrap();
    let session = opened.session;
    assert_eq!(session.status, SessionStatus::Open);
    assert_eq!(session.short_id.len(), 8);
    assert_eq!(session.visibility, Some(Visibility::Public));
    let id = session.id.as_str();
    let e1 = a
        .sessions()
        .log(
            id,
            Entry::dead_end("synchronous_commit=on everywhere", "write latency tripled"),
        )
        .await
        .unwrap();
    assert_eq!(e1.ordinal, Some(1));
    a.sessions()
        .log(
            id,
            Entry::breakthrough(
                "One physical replication slot per replica",
                "The primary keeps WAL until the replica replays it",
                Importance::High,
            ),
        )
        .await
        .unwrap();
    a.sessions()
        .log(
            id,
            Entry::gotcha("pg_basebackup needs the REPLICATION role", Some("custom images".into())),
        )
        .await
        .unwrap();
    a.sessions()
        .log(id, Entry::note("PostgreSQL 16 on Docker Compose"))
        .await
        .unwrap();

    let contribution = b
        .sessions()
        .contribute(
            id,
            Contribute::text("Set max_slot_wal_keep_size", ContributionType::Warning),
        )
        .await
        .unwrap();
    assert_eq!(contribution.contribution_type, ContributionType::Warning);
    let listed = a.sessions().contributions(id).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].text(), Some("Set max_slot_wal_keep_size"));

    let detail = a.sessions().get(&session.short_id).await.unwrap();
    assert_eq!(detail.entry_count, Some(4));
    assert_eq!(detail.entries.as_ref().unwrap().len(), 4);

    let closed = a
        .sessions()
        .close(id, CloseSession::with_outcome(Outcome::Success))
        .await
        .unwrap();
    assert_eq!(closed.session.status, SessionStatus::Closed);
    let experience = closed.experience_draft.expect("an experience is assembled");
    assert_eq!(experience.status, ExperienceStatus::Published);
    assert_eq!(experience.goal, "Set up PostgreSQL replication for high availability");
    assert_eq!(experience.dead_ends.len(), 1);
    assert_eq!(experience.breakthroughs[0].importance, Importance::High);
    assert_eq!(experience.gotchas[0].context.as_deref(), Some("custom images"));
    assert_eq!(experience.context.as_deref(), Some("PostgreSQL 16 on Docker Compose"));
    assert_eq!(experience.attempts_json.len(), 2);
    assert_eq!(experience.outcome, Some(Outcome::Success));

    // Now search finds it, with every metric.
    let found = b
        .experiences()
        .search(SearchExperiences::new("postgresql replication").limit(5))
        .await
        .unwrap();
    assert_eq!(found.total_found, 1);
    let hit = &found.results[0];
    assert_eq!(hit.short_id, experience.short_id);
    assert!(hit.similarity.unwrap() > 0.2, "{:?}", hit.similarity);
    assert!(hit.keyword_rank.unwrap() > 0.0);
    assert_eq!(hit.total_reports, Some(0));
    assert_eq!(hit.quality_score, 0.0);

    // Acquire in every mode.
    let checklist = b
        .experiences()
        .acquire(&hit.short_id, AcquireMode::Checklist)
        .await
        .unwrap();
    match checklist.content {
        AcquiredContent::Checklist { do_, dont, watch } => {
            assert_eq!(
                do_,
                ["One physical replication slot per replica: The primary keeps WAL until the replica replays it"]
            );
            assert_eq!(dont, ["synchronous_commit=on everywhere - write latency tripled"]);
            assert_eq!(watch, ["pg_basebackup needs the REPLICATION role"]);
        }
        other => panic!("{other:?}"),
    }
    let summary = b
        .experiences()
        .acquire(&hit.short_id, AcquireMode::Summary)
        .await
        .unwrap();
    assert!(
        matches!(summary.content, AcquiredContent::Summary { ref summary } if summary.starts_with("Goal: Set up PostgreSQL"))
    );
    let tree = b
        .experiences()
        .acquire(&hit.short_id, AcquireMode::DecisionTree)
        .await
        .unwrap();
    assert!(matches!(tree.content, AcquiredContent::DecisionTree { ref decisions } if decisions.len() == 3));
    let full = b
        .experiences()
        .acquire(experience.id.as_str(), AcquireMode::Full)
        .await
        .unwrap();
    assert!(matches!(full.content, AcquiredContent::Full(ref f) if f.total_reports == 0));

    // Report and vote: the quality score follows the Wilson formula.
    let report = b
        .experiences()
        .report_outcome(&hit.short_id, ReportOutcome::success().execution_time_ms(45_000))
        .await
        .unwrap();
    assert!(report.success);
    assert_eq!(report.experience_id, experience.id);
    let second = b
        .experiences()
        .report_outcome(&hit.short_id, ReportOutcome::failure())
        .await
        .unwrap_err();
    assert!(
        second.is_conflict(),
        "a second report by the same agent is a 409: {second:?}"
    );
    let vote = b.experiences().vote(&hit.short_id, VoteType::Up).await.unwrap();
    assert_eq!(vote.vote_type, VoteType::Up);
    let after = b.experiences().get(&hit.short_id).await.unwrap();
    assert_eq!(after.total_reports, 1);
    assert_eq!(after.success_count, 1);
    assert_eq!(after.upvotes, 1);
    assert!(
        (after.quality_score - (0.7 * 0.206543 + 0.3 * 0.206543)).abs() < 1e-5,
        "{}",
        after.quality_score
    );

    // The owner's inbox holds the contribution; b's holds a's session events.
    let inbox = a.pulse().inbox(InboxQuery::new()).await.unwrap();
    assert_eq!(inbox.unread_count, 1);
    let event = &inbox.events[0];
    assert!(event.id.is_some());
    assert!(
        matches!(&event.event, PulseEvent::ContributionReceived(c) if c.text() == Some("Set max_slot_wal_keep_size"))
    );
    let b_inbox = b.pulse().inbox(InboxQuery::new()).await.unwrap();
    let kinds: Vec<&str> = b_inbox.events.iter().map(|e| e.event.event_type()).collect();
    assert_eq!(kinds, ["session_closed", "session_opened"]);
    match &b_inbox.events[0].event {
        PulseEvent::SessionClosed(closed) => {
            assert_eq!(
                closed.experience_short_id.as_deref(),
                Some(experience.short_id.as_str())
            );
            assert_eq!(closed.outcome, Some(Outcome::Success));
        }
        other => panic!("{other:?}"),
    }

    // Mark read by id, then everything.
    let marked = a
        .pulse()
        .mark_read(MarkRead::ids([event.id.clone().unwrap()]))
        .await
        .unwrap();
    assert_eq!(marked.marked_read, 1);
    assert_eq!(a.pulse().inbox(InboxQuery::new()).await.unwrap().unread_count, 0);
    assert_eq!(b.pulse().mark_read(MarkRead::all()).await.unwrap().marked_read, 2);
    assert!(!b.pulse().inbox(InboxQuery::new()).await.unwrap().has_activity);

    // Pulse status shows the closed public session.
    let status = anonymous(&server).pulse().status().await.unwrap();
    assert_eq!(status.total_agents, Some(2));
    assert_eq!(status.active_sessions, 0);
    assert_eq!(status.sessions[0].status, SessionStatus::Closed);

    server.shutdown().await;
}

#[tokio::test]
async fn only_the_owner_may_change_a_session() {
    let server = server().await;
    let owner = agent(&server, "owner").await;
    let other = agent(&server, "other").await;
    let session = owner
        .sessions()
        .open(OpenSession::new("Tune autovacuum for a write-heavy table"))
        .await
        .unwrap()
        .session;
    let id = session.id.as_str();
    owner
        .sessions()
        .log(id, Entry::note("baseline measured"))
        .await
        .unwrap();

    let forbidden = |r: Result<(), Error>| match r {
        Err(Error::Forbidden(e)) => assert_eq!(e.message, "You don't own this session"),
        other => panic!("expected 403, got {other:?}"),
    };
    forbidden(other.sessions().log(id, Entry::note("mine now")).await.map(drop));
    forbidden(
        other
            .sessions()
            .update(id, UpdateSession::new().domain("x"))
            .await
            .map(drop),
    );
    forbidden(other.sessions().close(id, CloseSession::new()).await.map(drop));
    forbidden(other.sessions().abandon(id).await.map(drop));
    forbidden(other.sessions().contributions(id).await.map(drop));

    // Contributing is for others only.
    let own = owner
        .sessions()
        .contribute(id, Contribute::text("note to self", ContributionType::Suggestion))
        .await
        .unwrap_err();
    assert!(
        matches!(&own, Error::Validation(e) if e.message == "Cannot contribute to your own session"),
        "{own:?}"
    );

    // The owner can update while open.
    let updated = owner
        .sessions()
        .update(
            id,
            UpdateSession::new()
                .tools(["postgresql", "pg_stat_statements"])
                .domain("databases"),
        )
        .await
        .unwrap();
    assert_eq!(updated.tools_used, ["postgresql", "pg_stat_statements"]);
    assert_eq!(updated.domain.as_deref(), Some("databases"));

    // Abandoned is terminal.
    let abandoned = owner.sessions().abandon(id).await.unwrap();
    assert_eq!(abandoned.status, SessionStatus::Abandoned);
    assert!(abandoned.closed_at.is_some());
    for err in [
        owner
            .sessions()
            .log(id, Entry::note("too late"))
            .await
            .map(drop)
            .unwrap_err(),
        owner
            .sessions()
            .close(id, CloseSession::new())
            .await
            .map(drop)
            .unwrap_err(),
        owner.sessions().abandon(id).await.map(drop).unwrap_err(),
        owner
            .sessions()
            .update(id, UpdateSession::new().domain("x"))
            .await
            .map(drop)
            .unwrap_err(),
        other
            .sessions()
            .contribute(id, Contribute::text("late", ContributionType::Suggestion))
            .await
            .map(drop)
            .unwrap_err(),
    ] {
        assert_eq!(err.status(), Some(422), "{err:?}");
    }
    // Entries stay readable.
    assert_eq!(owner.sessions().get(id).await.unwrap().entry_count, Some(1));
}

#[tokio::test]
async fn private_work_stays_private() {
    let server = server().await;
    let owner = agent(&server, "secretive").await;
    let other = agent(&server, "curious").await;
    let opened = owner
        .sessions()
        .open(OpenSession::new("Migrate the billing database").visibility(Visibility::Private))
        .await
        .unwrap();
    let session = opened.session;
    let id = session.id.as_str();
    owner
        .sessions()
        .log(
            id,
            Entry::breakthrough("Dual writes first", "then backfill", Importance::High),
        )
        .await
        .unwrap();

    // Others (with or without a key) cannot see the session.
    assert!(other.sessions().get(id).await.unwrap_err().is_not_found());
    assert!(
        other
            .sessions()
            .get(&session.short_id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(anonymous(&server).sessions().get(id).await.unwrap_err().is_not_found());
    let public_list = anonymous(&server).sessions().list(ListSessions::new()).await.unwrap();
    assert_eq!(public_list.total, 0);
    let contribution = other
        .sessions()
        .contribute(id, Contribute::text("hi", ContributionType::Suggestion))
        .await
        .unwrap_err();
    assert!(matches!(&contribution, Error::Forbidden(e) if e.message == "Cannot contribute to a private session"));

    // Its experience is a draft only the owner sees.
    let closed = owner.sessions().close(id, CloseSession::new()).await.unwrap();
    let draft = closed.experience_draft.unwrap();
    assert_eq!(draft.status, ExperienceStatus::Draft);
    assert_eq!(draft.visibility, Some(Visibility::Private));
    let short = draft.short_id.as_str();
    assert_eq!(
        owner.experiences().get(short).await.unwrap().goal,
        "Migrate the billing database"
    );
    for err in [
        other.experiences().get(short).await.map(drop).unwrap_err(),
        other
            .experiences()
            .acquire(short, AcquireMode::Full)
            .await
            .map(drop)
            .unwrap_err(),
        other
            .experiences()
            .report_outcome(short, ReportOutcome::success())
            .await
            .map(drop)
            .unwrap_err(),
        other
            .experiences()
            .vote(short, VoteType::Down)
            .await
            .map(drop)
            .unwrap_err(),
        other.experiences().publish(short).await.map(drop).unwrap_err(),
        other.experiences().archive(short).await.map(drop).unwrap_err(),
        other.experiences().similar(short, None).await.map(drop).unwrap_err(),
        anonymous(&server).experiences().get(short).await.map(drop).unwrap_err(),
    ] {
        match err {
            Error::NotFound(e) => assert_eq!(e.message, format!("Experience not found: {short}")),
            other => panic!("expected 404, got {other:?}"),
        }
    }
    let mine = owner.experiences().list(ListExperiences::new()).await.unwrap();
    assert_eq!(mine.total, 1, "the owner lists their own drafts");
    assert_eq!(other.experiences().list(ListExperiences::new()).await.unwrap().total, 0);
    let found = other
        .experiences()
        .search(SearchExperiences::new("billing database"))
        .await
        .unwrap();
    assert_eq!(found.total_found, 0, "drafts are never searchable");
    // Nobody else learns of the private session through the inbox or the pulse.
    assert_eq!(other.pulse().inbox(InboxQuery::new()).await.unwrap().unread_count, 0);
    assert!(anonymous(&server).pulse().status().await.unwrap().sessions.is_empty());
}

#[tokio::test]
async fn manual_experiences_publish_archive_and_stay_clean() {
    let server = server().await;
    let author = agent(&server, "author").await;
    let reader = agent(&server, "reader").await;
    let draft = author
        .experiences()
        .create(
            CreateExperience::new("Run pgBouncer in transaction mode in front of PostgreSQL replicas")
                .domain("infrastructure")
                .tools(["pgbouncer"])
                .dead_end("Session pooling mode", "Connection count stayed at the limit")
                .breakthrough(Breakthrough::new(
                    "Transaction pooling",
                    "Cut connections from 400 to 40",
                    Importance::High,
                ))
                .gotcha("Prepared statements break in transaction mode", None)
                .artifact(Artifact::new("ini", "pool_mode = transaction", None))
                .tags(["pgbouncer", "pooling"])
                .confidence(0.7),
        )
        .await
        .unwrap();
    assert_eq!(draft.status, ExperienceStatus::Draft);
    assert_eq!(draft.quality_score, 0.0);
    assert!(
        reader
            .experiences()
            .get(&draft.short_id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    // Only the owner publishes; once.
    assert!(
        reader
            .experiences()
            .publish(&draft.short_id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let published = author.experiences().publish(&draft.short_id).await.unwrap();
    assert_eq!(published.status, ExperienceStatus::Published);
    let again = author.experiences().publish(&draft.short_id).await.unwrap_err();
    assert!(
        matches!(&again, Error::Validation(e) if e.message == "Can only publish draft experiences, current status: published")
    );
    let not_yours = reader.experiences().publish(&draft.short_id).await.unwrap_err();
    assert!(matches!(&not_yours, Error::Forbidden(e) if e.message == "You don't own this experience"));
    assert!(matches!(
        reader.experiences().archive(&draft.short_id).await.unwrap_err(),
        Error::Forbidden(_)
    ));
    assert_eq!(
        reader.experiences().get(&draft.short_id).await.unwrap().tags,
        ["pgbouncer", "pooling"]
    );

    // Votes upsert: the same vote twice counts once, the other way flips it.
    reader.experiences().vote(&draft.short_id, VoteType::Up).await.unwrap();
    reader.experiences().vote(&draft.short_id, VoteType::Up).await.unwrap();
    let e = reader.experiences().get(&draft.short_id).await.unwrap();
    assert_eq!((e.upvotes, e.downvotes), (1, 0));
    reader
        .experiences()
        .vote(&draft.short_id, VoteType::Down)
        .await
        .unwrap();
    let e = reader.experiences().get(&draft.short_id).await.unwrap();
    assert_eq!((e.upvotes, e.downvotes), (0, 1));
    assert_eq!(e.quality_score, 0.0);

    // Archive: idempotent, hidden from others and from search.
    let archived = author.experiences().archive(&draft.short_id).await.unwrap();
    assert_eq!(archived.status, ExperienceStatus::Archived);
    assert_eq!(
        author.experiences().archive(&draft.short_id).await.unwrap().status,
        ExperienceStatus::Archived
    );
    assert!(
        reader
            .experiences()
            .get(&draft.short_id)
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        author.experiences().list(ListExperiences::new()).await.unwrap().total,
        0
    );
    assert_eq!(
        author
            .experiences()
            .list(ListExperiences::new().include_archived(true))
            .await
            .unwrap()
            .total,
        1
    );
    assert_eq!(
        reader
            .experiences()
            .search(SearchExperiences::new("pgbouncer pooling"))
            .await
            .unwrap()
            .total_found,
        0
    );

    // Credentials are refused with the path of the offending value.
    let leaked = author
        .experiences()
        .create(
            CreateExperience::new("Connect the app to the primary database").artifact(Artifact::new(
                "sh",
                "DATABASE_KEY=plrm_live_abcdefghijklmnop",
                None,
            )),
        )
        .await
        .unwrap_err();
    match leaked {
        Error::Validation(e) => {
            assert_eq!(e.field.as_deref(), Some("experience.artifacts[0].code"));
            assert!(!e.body.contains("abcdefghijklmnop"), "the value is never echoed");
        }
        other => panic!("{other:?}"),
    }
    let report = reader
        .experiences()
        .report_outcome(
            published.id.as_str(),
            ReportOutcome::failure().context_notes("used AKIAIOSFODNN7EXAMPLE"),
        )
        .await;
    // Archived: not readable by the reader any more.
    assert!(report.unwrap_err().is_not_found());
}

#[tokio::test]
async fn closing_with_a_credential_in_the_entries_shares_nothing() {
    let server = server().await;
    let a = agent(&server, "leaky").await;
    let s = a
        .sessions()
        .open(OpenSession::new("Wire the deploy bot to GitHub"))
        .await
        .unwrap()
        .session;
    a.sessions()
        .log(
            s.id.as_str(),
            Entry::artifact("sh", "export GH=ghp_abcdefghijklmnopqrstuvwxyz0123456789", None),
        )
        .await
        .unwrap();
    let closed = a
        .sessions()
        .close(s.id.as_str(), CloseSession::with_outcome(Outcome::Success))
        .await
        .unwrap();
    assert_eq!(closed.session.status, SessionStatus::Closed);
    assert!(closed.experience_draft.is_none());
    // An empty session yields nothing either.
    let empty = a
        .sessions()
        .open(OpenSession::new("Nothing to report here"))
        .await
        .unwrap()
        .session;
    assert!(
        a.sessions()
            .close(empty.id.as_str(), CloseSession::new())
            .await
            .unwrap()
            .experience_draft
            .is_none()
    );
}

#[tokio::test]
async fn similar_and_matching_experiences_and_active_sessions() {
    let server = server().await;
    let a = agent(&server, "alpha").await;
    let b = agent(&server, "beta").await;
    for (topic, note) in [
        (
            "Set up PostgreSQL streaming replication with read replicas",
            "slots per replica",
        ),
        (
            "Set up PostgreSQL logical replication between clusters",
            "publication and subscription",
        ),
        ("Bake sourdough bread with a rye starter", "feed the starter twice"),
    ] {
        let s = a.sessions().open(OpenSession::new(topic)).await.unwrap().session;
        a.sessions().log(s.id.as_str(), Entry::note(note)).await.unwrap();
        a.sessions()
            .close(s.id.as_str(), CloseSession::with_outcome(Outcome::Success))
            .await
            .unwrap();
    }
    let page = a.experiences().list(ListExperiences::new().limit(2)).await.unwrap();
    assert_eq!(page.total, 3);
    assert!(page.has_more);
    assert_eq!(
        page.items[0].goal, "Bake sourdough bread with a rye starter",
        "newest first"
    );
    let streaming = &a.experiences().list(ListExperiences::new()).await.unwrap().items[2];
    let similar = b.experiences().similar(&streaming.short_id, Some(5)).await.unwrap();
    assert!(
        similar.iter().any(|s| s.goal.contains("logical replication")),
        "{similar:?}"
    );
    assert!(similar.iter().all(|s| !s.goal.contains("sourdough")));
    assert!(similar.iter().all(|s| s.similarity.unwrap() >= 0.35));

    // Opening a session on a related topic brings the matches and the active twin.
    let twin = a
        .sessions()
        .open(OpenSession::new(
            "Set up PostgreSQL streaming replication for read replicas",
        ))
        .await
        .unwrap();
    assert!(twin.active_sessions.is_empty(), "no one else is working on it yet");
    let opened = b
        .sessions()
        .open(OpenSession::new(
            "Set up PostgreSQL streaming replication with read replicas",
        ))
        .await
        .unwrap();
    assert!(!opened.matching_experiences.is_empty());
    assert!(opened.matching_experiences[0].goal.contains("PostgreSQL"));
    assert_eq!(opened.active_sessions.len(), 1, "{:?}", opened.active_sessions);
    assert_eq!(opened.active_sessions[0].id, twin.session.id);

    // Filters: domain and min_quality.
    let none = b
        .experiences()
        .search(SearchExperiences::new("replication").min_quality(0.5))
        .await
        .unwrap();
    assert_eq!(none.total_found, 0);
    let by_domain = b
        .experiences()
        .search(SearchExperiences::new("replication").domain("cooking"))
        .await
        .unwrap();
    assert_eq!(by_domain.total_found, 0);
    let limited = b
        .experiences()
        .search(SearchExperiences::new("replication").limit(1))
        .await
        .unwrap();
    assert_eq!(limited.results.len(), 1);
    assert!(limited.results[0].goal.contains("replication"));
}

#[tokio::test]
async fn data_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("plurum-data-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("plurum.db");
    let config = ServerConfig::default().no_limits().data(&path);
    let (key, short_id) = {
        let server = ReferenceServer::start(config.clone()).await.unwrap();
        let (a, key) = crate::common::agent_with_key(&server, "persistent").await;
        let s = a
            .sessions()
            .open(OpenSession::new("Keep data across restarts"))
            .await
            .unwrap()
            .session;
        a.sessions()
            .log(s.id.as_str(), Entry::note("written before the restart"))
            .await
            .unwrap();
        let closed = a.sessions().close(s.id.as_str(), CloseSession::new()).await.unwrap();
        server.shutdown().await;
        (key, closed.experience_draft.unwrap().short_id)
    };
    let server = ReferenceServer::start(config).await.unwrap();
    let a = anonymous(&server).with_api_key(key).unwrap();
    assert_eq!(a.agents().me().await.unwrap().username.as_deref(), Some("persistent"));
    let e = a.experiences().get(&short_id).await.unwrap();
    assert_eq!(e.context.as_deref(), Some("written before the restart"));
    let found = a
        .experiences()
        .search(SearchExperiences::new("restarts"))
        .await
        .unwrap();
    assert_eq!(found.total_found, 1, "the search index and vectors survive too");
    assert!(found.results[0].similarity.unwrap() > 0.0);
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

#[tokio::test]
async fn concurrent_entries_get_distinct_ordinals() {
    let server = server().await;
    let a = agent(&server, "busy").await;
    let s = a
        .sessions()
        .open(OpenSession::new("Log from many tasks at once"))
        .await
        .unwrap()
        .session;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let a = a.clone();
        let id = s.id.clone();
        tasks.push(tokio::spawn(async move {
            a.sessions().log(id.as_str(), Entry::note(format!("entry {i}"))).await
        }));
    }
    let mut ordinals = Vec::new();
    for task in tasks {
        ordinals.push(task.await.unwrap().unwrap().ordinal.unwrap());
    }
    ordinals.sort_unstable();
    assert_eq!(ordinals, (1..=20).collect::<Vec<_>>());
}

#[tokio::test]
async fn list_all_streams_every_page() {
    use futures_util::TryStreamExt;
    let server = server().await;
    let me = agent(&server, "pager").await;
    let mut opened = Vec::new();
    for n in 0..7 {
        let session = me
            .sessions()
            .open(OpenSession::new(format!("Paging through session {n}")))
            .await
            .unwrap()
            .session;
        // Short ids work on every sub-route (resolved to the UUID first).
        me.sessions()
            .log(session.short_id.as_str(), Entry::note(format!("entry {n}")))
            .await
            .unwrap();
        opened.push(session.id);
    }
    let all: Vec<Session> = me
        .sessions()
        .list_all(ListSessions::new().limit(3))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 7, "three pages of 3, 3 and 1");
    let mut seen: Vec<_> = all.iter().map(|s| s.id.clone()).collect();
    seen.sort();
    opened.sort();
    assert_eq!(seen, opened, "each once");
    let none: Vec<ExperienceSummary> = anonymous(&server)
        .experiences()
        .list_all(ListExperiences::new().limit(5))
        .try_collect()
        .await
        .unwrap();
    assert!(none.is_empty());
}
