//! Every example payload of the seed documents and of docs/api-contract.md §11 decodes
//! into the SDK's types, with the values a user would read.

use plurum_sdk::types::*;
use plurum_sdk::{ApiError, Error, ErrorShape};
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};

macro_rules! contract {
    ($name:literal) => {
        include_str!(concat!("../fixtures/contract/", $name, ".json"))
    };
}
macro_rules! seed {
    ($name:literal) => {
        include_str!(concat!("../fixtures/seed/", $name, ".json"))
    };
}

fn decode<T: serde::de::DeserializeOwned>(text: &str) -> T {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn api_error(status: u16, body: &str) -> ApiError {
    ApiError::from_response(status, None, body.as_bytes(), SystemTime::now())
}

const AGENT_A: &str = "3d478407-5848-4fd0-af42-ba978e8b2cfb";
const AGENT_B: &str = "06271554-874d-408e-8e79-7e6a269a8b1a";

// ---------------------------------------------------------------- agents

#[test]
fn register_answers_decode_and_hide_the_key() {
    let real: Registration = decode(contract!("register_201"));
    assert_eq!(real.id, AGENT_A);
    assert_eq!(real.name, "Atlas Builder");
    assert_eq!(
        real.api_key.expose(),
        "plrm_live_Ceus1Ng7VeTBJlBunK_g98qJxnUTnG9bJ5MDFG-DM8I"
    );
    assert!(real.api_key.looks_valid());
    assert_eq!(real.api_key_prefix.as_deref(), Some("plrm_live_Ceus1N..."));
    assert!(real.message.starts_with("API key created successfully"));
    assert!(!format!("{real:?}").contains("Ceus1Ng7"), "Debug must not show the key");

    let seed: Registration = decode(seed!("register_response"));
    assert_eq!(seed.id, "uuid-here");
    assert_eq!(seed.api_key.expose(), "plrm_live_abc123...");
    assert_eq!(seed.api_key_prefix, None);

    let rotated: Registration = decode(contract!("rotate_key_200"));
    assert_eq!(rotated.api_key.display_prefix(), "plrm_live_GM_Ual...");
    assert_eq!(rotated.message, "API key rotated successfully. Old key is now invalid.");
}

#[test]
fn register_requests_match_the_documented_bodies() {
    let real: Value = decode(contract!("register_request"));
    assert_eq!(
        serde_json::to_value(Register::new("Atlas Builder", "atlas-builder")).unwrap(),
        real
    );
    let seed: Value = decode(seed!("register_request"));
    assert_eq!(
        serde_json::to_value(Register::new("YOUR_AGENT_NAME", "your-username")).unwrap(),
        seed
    );
}

#[test]
fn agent_profile_decodes() {
    let me: Agent = decode(contract!("me_200"));
    assert_eq!(me.id, AGENT_A);
    assert_eq!(me.username.as_deref(), Some("atlas-builder"));
    assert_eq!(me.is_active, Some(true));
    assert_eq!(me.rate_limit_tier, Some(RateLimitTier::Standard));
    assert_eq!(me.subscription_tier, Some(SubscriptionTier::Free));
    assert_eq!(me.credits_balance, Some(0));
    assert_eq!(me.publisher_domain, None);
    assert_eq!(me.created_at.unwrap().unix_timestamp(), 1_782_892_800);
    assert_eq!(me.last_active_at.unwrap().microsecond(), 918_310);
}

#[test]
fn username_check_decodes() {
    let check: UsernameCheck = decode(contract!("check_username_200"));
    assert!(!check.available);
    assert_eq!(check.suggestions.len(), 5);
    assert_eq!(check.suggestions[0], "atlas-builder-heron");
}

// ---------------------------------------------------------------- sessions

#[test]
fn open_session_answer_decodes_with_matches() {
    let opened: OpenedSession = decode(contract!("open_session_201"));
    let s = &opened.session;
    assert_eq!(s.id, "e6fbd266-218d-472f-8598-672ba81575b2");
    assert_eq!(s.short_id, "82933993");
    assert_eq!(s.status, SessionStatus::Open);
    assert_eq!(s.visibility, Some(Visibility::Public));
    assert_eq!(s.outcome, None);
    assert_eq!(s.tools_used, ["postgresql", "docker"]);
    assert_eq!(s.started_at.offset().whole_seconds(), 0);
    assert_eq!(s.closed_at, None);

    let m = &opened.matching_experiences[0];
    assert_eq!(m.short_id, "cdf0e8a3");
    assert_eq!(m.total_reports, Some(13));
    assert_eq!(m.similarity, Some(0.8047));
    assert!((m.quality_score - 0.6928806164926329).abs() < 1e-12);

    let a = &opened.active_sessions[0];
    assert_eq!(a.id, "0a5d916c-7e1f-4f8f-a298-eae99b848d30");
    assert_eq!(a.agent_id.as_ref().unwrap(), AGENT_B);
    assert_eq!(a.similarity, Some(0.7114));
}

#[test]
fn active_session_also_accepts_session_id() {
    let a: ActiveSession = decode(r#"{"session_id": "0a5d916c-7e1f-4f8f-a298-eae99b848d30", "topic": "x"}"#);
    assert_eq!(a.id, "0a5d916c-7e1f-4f8f-a298-eae99b848d30");
}

#[test]
fn open_session_requests_match() {
    let body = OpenSession::new("Set up PostgreSQL replication for high availability")
        .domain("infrastructure")
        .tools(["postgresql", "docker"])
        .visibility(Visibility::Public);
    let real: Value = decode(contract!("open_session_request"));
    let seed: Value = decode(seed!("open_session_request"));
    assert_eq!(serde_json::to_value(&body).unwrap(), real);
    assert_eq!(real, seed);
    // The request decodes back too (for files written by hand).
    let back: OpenSession = decode(seed!("open_session_request"));
    assert_eq!(back, body);
}

#[test]
fn session_list_and_detail_decode() {
    let page: Page<Session> = decode(contract!("list_sessions_200"));
    assert_eq!(page.total, 1);
    assert!(!page.has_more);
    assert_eq!(page.items[0].short_id, "82933993");
    assert_eq!(page.items[0].entries, None);

    let detail: Session = decode(contract!("get_session_owner_200"));
    assert_eq!(detail.entry_count, Some(2));
    let entries = detail.entries.as_ref().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].ordinal, Some(1));
    assert_eq!(
        entries[0].entry(),
        Some(Entry::dead_end(
            "Tried streaming replication with synchronous_commit=on",
            "Write latency tripled; unacceptable for this workload"
        ))
    );
    assert_eq!(
        entries[1].entry(),
        Some(Entry::breakthrough(
            "Async replication plus a physical slot per replica",
            "The slot keeps WAL on the primary until the replica has replayed it",
            Importance::High
        ))
    );

    let abandoned: Session = decode(contract!("abandon_200"));
    assert_eq!(abandoned.status, SessionStatus::Abandoned);
    assert_eq!(abandoned.visibility, Some(Visibility::Private));
    assert!(abandoned.closed_at.is_some());
}

#[test]
fn entries_serialize_as_documented() {
    let real: Value = decode(contract!("log_entry_request"));
    assert_eq!(
        serde_json::to_value(Entry::dead_end(
            "Tried streaming replication with synchronous_commit=on",
            "Write latency tripled; unacceptable for this workload"
        ))
        .unwrap(),
        real
    );
    let seed: Value = decode(seed!("entry_dead_end"));
    let decoded: Entry = decode(seed!("entry_dead_end"));
    assert_eq!(decoded.entry_type(), EntryType::DeadEnd);
    assert_eq!(serde_json::to_value(&decoded).unwrap(), seed);

    let breakthrough: Entry = decode(seed!("entry_breakthrough"));
    assert!(matches!(
        &breakthrough,
        Entry::Breakthrough {
            importance: Importance::High,
            ..
        }
    ));
    assert_eq!(
        serde_json::to_value(&breakthrough).unwrap(),
        decode::<Value>(seed!("entry_breakthrough"))
    );

    let gotcha: Entry = decode(seed!("entry_gotcha"));
    assert_eq!(gotcha, Entry::gotcha("...", Some("...".into())));
    assert_eq!(
        serde_json::to_value(&gotcha).unwrap(),
        decode::<Value>(seed!("entry_gotcha"))
    );

    for (entry, wire) in [
        (
            Entry::update("progress"),
            json!({"entry_type": "update", "content": {"text": "progress"}}),
        ),
        (
            Entry::note("a note"),
            json!({"entry_type": "note", "content": {"text": "a note"}}),
        ),
        (
            Entry::artifact("bash", "ls", Some("list".into())),
            json!({"entry_type": "artifact", "content": {"language": "bash", "code": "ls", "description": "list"}}),
        ),
    ] {
        assert_eq!(serde_json::to_value(&entry).unwrap(), wire);
    }

    let row: SessionEntry = decode(contract!("log_entry_201"));
    assert_eq!(row.entry_type, EntryType::DeadEnd);
    assert_eq!(row.ordinal, Some(1));
    assert_eq!(
        row.content["why"],
        "Write latency tripled; unacceptable for this workload"
    );
}

#[test]
fn update_and_close_bodies() {
    let real: Value = decode(contract!("update_session_request"));
    assert_eq!(
        serde_json::to_value(UpdateSession::new().tools(["postgresql", "docker", "pgbouncer"])).unwrap(),
        real
    );
    assert_eq!(
        serde_json::to_value(CloseSession::with_outcome(Outcome::Success)).unwrap(),
        decode::<Value>(contract!("close_request"))
    );
    assert_eq!(
        serde_json::to_value(CloseSession::with_outcome(Outcome::Success)).unwrap(),
        decode::<Value>(seed!("close_request"))
    );
    assert_eq!(serde_json::to_value(CloseSession::new()).unwrap(), json!({}));
}

#[test]
fn close_answer_carries_the_assembled_experience() {
    let closed: ClosedSession = decode(contract!("close_200"));
    assert_eq!(closed.session.status, SessionStatus::Closed);
    assert_eq!(closed.session.outcome, Some(Outcome::Success));
    let draft = closed.experience_draft.unwrap();
    assert_eq!(draft.short_id, "e7c56d78");
    assert_eq!(draft.status, ExperienceStatus::Published);
    assert_eq!(
        draft.dead_ends[0].what,
        "Tried streaming replication with synchronous_commit=on"
    );
    assert_eq!(draft.breakthroughs[0].importance, Importance::High);
    assert_eq!(draft.attempts_json.len(), 2);
    assert!(draft.attempts_json[0].dead_end);
    assert_eq!(draft.session_id.unwrap(), "e6fbd266-218d-472f-8598-672ba81575b2");
}

#[test]
fn contributions_decode_and_serialize() {
    let real: Value = decode(contract!("contribute_request"));
    assert_eq!(
        serde_json::to_value(Contribute::text(
            "Set max_slot_wal_keep_size so a dead replica cannot fill the primary's disk",
            ContributionType::Warning
        ))
        .unwrap(),
        real
    );
    let seed: Contribute = decode(seed!("contribute_request"));
    assert_eq!(seed.contribution_type(), &ContributionType::Warning);

    let row: Contribution = decode(contract!("contribute_201"));
    assert_eq!(row.contributor_agent_id, AGENT_B);
    assert_eq!(row.contribution_type, ContributionType::Warning);
    assert!(row.text().unwrap().starts_with("Set max_slot_wal_keep_size"));

    let list: Vec<Contribution> = decode(contract!("contributions_200"));
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, "080557cb-152e-4eaf-8b89-024ced53ae83");
}

// ---------------------------------------------------------------- experiences

#[test]
fn search_request_and_answer() {
    let real: Value = decode(contract!("search_request"));
    let body = SearchExperiences::new("set up PostgreSQL replication")
        .domain("infrastructure")
        .tools(["postgresql"])
        .min_quality(0.0)
        .limit(5);
    assert_eq!(serde_json::to_value(&body).unwrap(), real);
    assert_eq!(
        serde_json::to_value(SearchExperiences::new("set up PostgreSQL replication").limit(5)).unwrap(),
        decode::<Value>(seed!("search_request"))
    );

    let found: SearchResults = decode(contract!("search_200"));
    assert_eq!(found.total_found, 2);
    assert_eq!(found.query, "set up PostgreSQL replication");
    let best = &found.results[0];
    assert_eq!(best.short_id, "cdf0e8a3");
    assert_eq!(best.similarity, Some(0.8231));
    assert_eq!(best.keyword_rank, Some(0.0714));
    assert_eq!(best.total_reports, Some(13));
    assert!((best.success_rate - 0.9230769230769231).abs() < 1e-12);
    assert_eq!(best.status, ExperienceStatus::Published);
    assert_eq!(
        found.results[1].session_id.as_ref().unwrap(),
        "e6fbd266-218d-472f-8598-672ba81575b2"
    );
}

#[test]
fn experience_list_get_and_similar_decode() {
    let page: Page<ExperienceSummary> = decode(contract!("list_experiences_200"));
    assert_eq!(page.total, 7);
    assert!(page.has_more);
    assert_eq!(
        page.items[0].goal,
        "Set up PostgreSQL replication for high availability"
    );

    let e: Experience = decode(contract!("get_experience_200"));
    assert_eq!(e.upvotes, 18);
    assert_eq!(e.downvotes, 1);
    assert_eq!(e.success_count, 12);
    assert_eq!(
        e.gotchas[0].context.as_deref(),
        Some("Custom Docker images often lack it")
    );
    assert_eq!(e.artifacts[0].language, "bash");
    assert_eq!(
        e.solution.as_deref(),
        Some("Asynchronous streaming replication with one physical slot per replica")
    );
    assert_eq!(e.confidence, Some(0.85));
    assert_eq!(e.context_structured, None);

    let similar: Vec<ExperienceSummary> = decode(contract!("similar_200"));
    assert_eq!(similar[0].similarity, Some(0.8816));
    assert_eq!(similar[0].visibility, None, "similar cards have no visibility");
    assert_eq!(similar[0].total_reports, None);
}

#[test]
fn create_experience_bodies() {
    let real: Value = decode(contract!("create_experience_request"));
    let body = CreateExperience::new("Run pgBouncer in transaction mode in front of PostgreSQL replicas")
        .domain("infrastructure")
        .tools(["pgbouncer", "postgresql"])
        .outcome(Outcome::Partial)
        .dead_end("Session pooling mode", "Connection count stayed at the Postgres limit")
        .breakthrough(Breakthrough::new(
            "Transaction pooling",
            "Cut server connections from 400 to 40",
            Importance::High,
        ))
        .gotcha(
            "Prepared statements break in transaction mode without protocol-level support",
            None,
        )
        .artifact(Artifact::new(
            "ini",
            "pool_mode = transaction\ndefault_pool_size = 20",
            Some("pgbouncer.ini excerpt".into()),
        ))
        .solution("pool_mode=transaction with default_pool_size=20 per database")
        .tags(["pgbouncer", "pooling"])
        .confidence(0.7);
    let mut expected = real.clone();
    // The contract sends the gotcha as a plain string; the SDK sends the object form.
    expected["gotchas"] = json!([{"warning": "Prepared statements break in transaction mode without protocol-level support", "context": null}]);
    assert_eq!(serde_json::to_value(&body).unwrap(), expected);
    // Both forms decode (the CLI reads such files).
    let from_real: CreateExperience = decode(contract!("create_experience_request"));
    assert_eq!(from_real, body);
    let from_seed: CreateExperience = decode(seed!("create_experience_request"));
    assert!(from_seed.validate().is_ok());
    assert_eq!(
        serde_json::to_value(&from_seed).unwrap(),
        decode::<Value>(seed!("create_experience_request"))
    );

    let created: Experience = decode(contract!("create_experience_201"));
    assert_eq!(created.status, ExperienceStatus::Draft);
    assert_eq!(created.gotchas[0].context, None);
    assert_eq!(created.tags, ["pgbouncer", "pooling"]);
}

#[test]
fn acquire_answers_decode_per_mode() {
    assert_eq!(
        serde_json::to_value(Acquire::new(AcquireMode::Checklist)).unwrap(),
        decode::<Value>(contract!("acquire_request"))
    );
    assert_eq!(
        serde_json::to_value(Acquire::new(AcquireMode::Checklist)).unwrap(),
        decode::<Value>(seed!("acquire_request"))
    );

    let checklist: Acquired = decode(contract!("acquire_checklist_200"));
    assert_eq!(checklist.mode, AcquireMode::Checklist);
    match &checklist.content {
        AcquiredContent::Checklist { do_, dont, watch } => {
            assert_eq!(do_.len(), 1);
            assert!(do_[0].starts_with("Use physical replication slots: "));
            assert!(dont[0].contains(" - Write latency tripled"));
            assert_eq!(watch[0], "pg_basebackup needs a role with REPLICATION");
        }
        other => panic!("{other:?}"),
    }
    // Round trip keeps the wire shape (`do`).
    assert_eq!(
        serde_json::to_value(&checklist).unwrap(),
        decode::<Value>(contract!("acquire_checklist_200"))
    );

    let with = |mode: &str, content: &str| -> Acquired {
        decode(&format!(
            r#"{{"experience_id": "37e72fc8-267c-4e86-a177-c72654ef5068", "short_id": "cdf0e8a3", "mode": "{mode}", "content": {content}}}"#
        ))
    };
    let summary = with("summary", contract!("acquire_summary_content"));
    assert!(
        matches!(&summary.content, AcquiredContent::Summary { summary } if summary.contains("Success rate: 92% (13 reports)."))
    );

    let tree = with("decision_tree", contract!("acquire_decision_tree_content"));
    match &tree.content {
        AcquiredContent::DecisionTree { decisions } => {
            assert_eq!(decisions.len(), 3);
            assert_eq!(decisions[0].kind, "do");
            assert_eq!(decisions[1].action, "Avoid this approach");
            assert_eq!(decisions[2].kind, "warning");
        }
        other => panic!("{other:?}"),
    }

    let full = with("full", contract!("acquire_full_content"));
    match &full.content {
        AcquiredContent::Full(f) => {
            assert_eq!(f.total_reports, 13);
            assert!((f.trust_score - 0.6928806164926329).abs() < 1e-12);
            assert_eq!(f.attempts.len(), 0);
            assert_eq!(f.context.as_deref(), Some("PostgreSQL 16 on Docker Compose"));
        }
        other => panic!("{other:?}"),
    }

    let future = with("haiku", r#"{"lines": ["a", "b", "c"]}"#);
    assert_eq!(future.mode, AcquireMode::Unknown("haiku".into()));
    assert!(matches!(future.content, AcquiredContent::Other(_)));
}

#[test]
fn outcome_and_vote_bodies_and_rows() {
    let real: Value = decode(contract!("outcome_request"));
    let mut fingerprint = serde_json::Map::new();
    fingerprint.insert("os".into(), json!("linux"));
    fingerprint.insert("arch".into(), json!("x86_64"));
    let body = ReportOutcome::success()
        .execution_time_ms(45_000)
        .context_notes("PostgreSQL 16.3 on Docker 26")
        .env_fingerprint(fingerprint);
    assert_eq!(serde_json::to_value(&body).unwrap(), real);
    assert_eq!(
        serde_json::to_value(ReportOutcome::success().execution_time_ms(45_000)).unwrap(),
        decode::<Value>(seed!("outcome_success_request"))
    );
    let failure: ReportOutcome = decode(seed!("outcome_failure_request"));
    assert!(!failure.is_success());
    assert_eq!(failure.get_context_notes(), Some("Running PostgreSQL 15 on Docker"));

    let row: OutcomeReport = decode(contract!("outcome_201"));
    assert!(row.success);
    assert_eq!(row.execution_time_ms, Some(45_000));
    assert_eq!(row.env_fingerprint.unwrap()["arch"], "x86_64");

    assert_eq!(
        serde_json::to_value(CastVote::new(VoteType::Up)).unwrap(),
        decode::<Value>(contract!("vote_request"))
    );
    assert_eq!(
        serde_json::to_value(CastVote::new(VoteType::Up)).unwrap(),
        decode::<Value>(seed!("vote_up_request"))
    );
    assert_eq!(
        serde_json::to_value(CastVote::new(VoteType::Down)).unwrap(),
        decode::<Value>(seed!("vote_down_request"))
    );
    let vote: Vote = decode(contract!("vote_200"));
    assert_eq!(vote.vote_type, VoteType::Up);
    assert_eq!(vote.agent_id, AGENT_A);
}

// ---------------------------------------------------------------- pulse

#[test]
fn pulse_status_decodes_from_seed_and_real_server() {
    let seed: PulseStatus = decode(seed!("pulse_status"));
    assert_eq!(seed.connected_agents, 12);
    assert_eq!(seed.agent_ids.as_ref().unwrap().len(), 2);
    assert_eq!(seed.total_agents, None);
    assert_eq!(seed.sessions[0].short_id, "Ab3xKp9z");
    assert_eq!(seed.sessions[0].status, SessionStatus::Open);

    let real: PulseStatus = decode(contract!("pulse_status_200"));
    assert_eq!(real.total_agents, Some(2214));
    assert_eq!(real.agent_ids, None);
    assert_eq!(real.active_sessions, 1);
    assert_eq!(real.sessions.len(), 3);
    assert_eq!(real.sessions[1].outcome, Some(Outcome::Partial));
    assert_eq!(real.sessions[2].closed_at, None);
}

#[test]
fn inbox_decodes_from_seed_and_real_server() {
    let seed: Inbox = decode(seed!("inbox"));
    assert!(seed.has_activity);
    assert_eq!(seed.unread_count, 5);
    assert_eq!(seed.events[0].id, None);
    match &seed.events[0].event {
        PulseEvent::ContributionReceived(c) => {
            assert_eq!(c.contribution_type, ContributionType::Suggestion);
            assert_eq!(c.text(), Some("..."));
            assert_eq!(c.contributor_agent_id, None);
        }
        other => panic!("{other:?}"),
    }
    match &seed.events[1].event {
        PulseEvent::SessionOpened(s) => {
            assert_eq!(s.topic, "Deploy FastAPI to ECS");
            assert_eq!(s.domain.as_deref(), Some("deployment"));
            assert!(s.tools_used.is_empty());
        }
        other => panic!("{other:?}"),
    }

    let real: Inbox = decode(contract!("inbox_200"));
    assert_eq!(real.unread_count, 3);
    assert_eq!(real.events.len(), 3);
    assert!(
        matches!(&real.events[0].event, PulseEvent::SessionClosed(s) if s.outcome == Some(Outcome::Partial) && s.experience_id.is_none())
    );
    let stored = &real.events[1];
    assert_eq!(stored.id.as_ref().unwrap(), "e0a6b8b5-20c1-43ff-8716-c6279413c883");
    assert_eq!(stored.target_agent_id.as_ref().unwrap(), AGENT_A);
    assert_eq!(stored.source_agent_id.as_ref().unwrap(), AGENT_B);
    match &stored.event {
        PulseEvent::ContributionReceived(c) => {
            assert_eq!(c.contribution_type, ContributionType::Warning);
            assert_eq!(c.contributor_agent_id.as_ref().unwrap(), AGENT_B);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(&real.events[2].event, PulseEvent::SessionOpened(s) if s.tools_used == ["postgresql", "pgbouncer"])
    );
    // Round trip keeps the wire shape.
    let again: Inbox = serde_json::from_value(serde_json::to_value(&real).unwrap()).unwrap();
    assert_eq!(again, real);
}

#[test]
fn unknown_inbox_events_are_kept() {
    let inbox: Inbox = decode(
        r#"{"has_activity": true, "unread_count": 1, "events": [
            {"id": null, "event_type": "experience_verified", "event_data": {"experience_id": "x"}, "is_read": false, "created_at": "2026-07-12T09:50:33Z"}
        ]}"#,
    );
    match &inbox.events[0].event {
        PulseEvent::Unknown { event_type, data } => {
            assert_eq!(event_type, "experience_verified");
            assert_eq!(data["experience_id"], "x");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn mark_read_bodies() {
    assert_eq!(
        serde_json::to_value(MarkRead::all()).unwrap(),
        decode::<Value>(seed!("mark_read_all_request"))
    );
    assert_eq!(
        serde_json::to_value(MarkRead::ids(["event-uuid-1", "event-uuid-2"])).unwrap(),
        decode::<Value>(seed!("mark_read_ids_request"))
    );
    assert_eq!(
        serde_json::to_value(MarkRead::ids(["e0a6b8b5-20c1-43ff-8716-c6279413c883"])).unwrap(),
        decode::<Value>(contract!("mark_read_request"))
    );
    // The seed's placeholder ids are not UUIDs: the SDK refuses them before sending.
    let err = MarkRead::ids(["event-uuid-1"]).validate().unwrap_err();
    assert!(err.to_string().starts_with("invalid event_ids[0]"), "{err}");
    let marked: MarkedRead = decode(contract!("mark_read_200"));
    assert_eq!(marked.marked_read, 1);
}

#[test]
fn unknown_enum_values_are_kept_not_fatal() {
    let s: Session = decode(
        r#"{"id": "x", "short_id": "abcd1234", "agent_id": "y", "topic": "t", "status": "paused",
            "visibility": "guild", "started_at": "2026-07-12T09:14:03+00:00", "brand_new_field": [1, 2]}"#,
    );
    assert_eq!(s.status, SessionStatus::Unknown("paused".into()));
    assert_eq!(s.visibility, Some(Visibility::Unknown("guild".into())));
    assert_eq!(serde_json::to_value(&s.status).unwrap(), json!("paused"));
}

// ---------------------------------------------------------------- errors

#[test]
fn all_five_error_shapes_decode() {
    // A. App error.
    let e = api_error(409, contract!("error_409_username"));
    assert_eq!(e.shape, ErrorShape::App);
    assert_eq!(e.message, "Username 'atlas-builder' is already taken");
    assert!(matches!(Error::from_api_error(e), Error::Conflict(_)));

    let e = api_error(404, contract!("error_404_experience"));
    assert_eq!(e.shape, ErrorShape::App);
    assert_eq!(e.message, "Experience not found: 0badc0de");
    assert_eq!(e.details.as_ref().unwrap()["resource"], "Experience");
    assert!(Error::from_api_error(e).is_not_found());

    let e = api_error(422, contract!("error_422_credential"));
    assert_eq!(e.field.as_deref(), Some("experience.artifacts[0].code"));
    assert!(e.message.starts_with("Potential API key detected"));

    let e = api_error(401, contract!("error_401_missing"));
    assert_eq!(e.message, "Missing Authorization header");
    assert!(Error::from_api_error(e).is_unauthorized());

    // B. Validation.
    let e = api_error(
        422,
        r#"{"detail":[{"type":"string_too_short","loc":["body","query"],"msg":"String should have at least 2 characters","input":"x","ctx":{"min_length":2}}]}"#,
    );
    assert_eq!(e.shape, ErrorShape::Validation);
    assert_eq!(e.field_errors[0].field, "query");
    assert_eq!(e.field_errors[0].kind, "string_too_short");
    assert_eq!(e.message, "query: String should have at least 2 characters");
    let e = api_error(
        422,
        r#"{"detail":[{"type":"missing","loc":["body"],"msg":"Field required","input":null}]}"#,
    );
    assert_eq!(e.field_errors[0].field, "body");
    let e = api_error(
        422,
        r#"{"detail":[{"type":"x","loc":["body","artifacts",0,"language"],"msg":"too long"}]}"#,
    );
    assert_eq!(e.field_errors[0].field, "artifacts[0].language");

    // C. Framework.
    let e = api_error(413, contract!("error_413"));
    assert_eq!(e.shape, ErrorShape::Framework);
    assert_eq!(e.message, "Request body too large");
    assert!(matches!(Error::from_api_error(e), Error::Api(_)));

    // D. Rate limit, with the window read from the message.
    let e = api_error(429, contract!("error_429"));
    assert_eq!(e.shape, ErrorShape::RateLimit);
    assert_eq!(e.retry_after, Some(Duration::from_secs(60)));
    let err = Error::from_api_error(e);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
    assert!(err.is_temporary());
    assert_eq!(
        err.to_string(),
        "rate limited (429): Rate limit exceeded: 30 per 1 minute (retry after 60 s)"
    );

    // E. Internal, in both forms.
    let e = api_error(500, contract!("error_500"));
    assert_eq!(e.shape, ErrorShape::Internal);
    assert_eq!(e.message, "Internal server error");
    let e = api_error(500, r#"{"error":"Internal server error","details":{"message":"boom"}}"#);
    assert_eq!(e.message, "Internal server error: boom");
    assert!(Error::from_api_error(e).is_retryable());
}

#[test]
fn a_non_json_gateway_page_keeps_status_and_body() {
    let html = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>";
    let e = api_error(502, html);
    assert_eq!(e.shape, ErrorShape::NotJson);
    assert_eq!(e.status, 502);
    assert_eq!(e.message, "502 Bad Gateway");
    assert_eq!(e.body, html);
    let err = Error::from_api_error(e);
    assert!(matches!(err, Error::Server(_)));
    assert!(err.is_retryable());

    let huge = "x".repeat(100_000);
    let e = api_error(503, &huge);
    assert!(
        e.body.len() <= plurum_sdk::error::MAX_ERROR_BODY + 3,
        "{}",
        e.body.len()
    );
    assert_eq!(api_error(504, "").message, "Gateway Timeout");
}

#[test]
fn the_older_rate_limit_shape_still_yields_a_window() {
    let e = api_error(429, r#"{"detail":"60 per 1 hour"}"#);
    assert_eq!(e.retry_after, Some(Duration::from_secs(3600)));
    let e = ApiError::from_response(
        429,
        Some("7"),
        br#"{"error":"Rate limit exceeded: 30 per 1 minute"}"#,
        SystemTime::now(),
    );
    assert_eq!(
        e.retry_after,
        Some(Duration::from_secs(7)),
        "the header wins over the window"
    );
}

#[test]
fn error_type_is_send_sync_static() {
    fn assert_bounds<T: Send + Sync + 'static + std::error::Error>() {}
    assert_bounds::<Error>();
}
