//! Generated input: random and mutated bodies, odd identifiers and query
//! strings at every route. The server never answers 5xx and keeps working.

use crate::common::{agent, agent_with_key, server};
use plurum_sdk::types::*;
use serde_json::{Map, Value, json};

fn random_string(rng: &mut fastrand::Rng) -> String {
    let pool = [
        "",
        " ",
        "x",
        "plrm_live_",
        "public",
        "private",
        "success",
        "dead_end",
        "../../etc",
        "82933993",
        "e6fbd266-218d-472f-8598-672ba81575b2",
        "null",
        "\u{0}",
        "\u{202e}",
        "日本語",
        "'; DROP TABLE agents; --",
        "\"quoted\"",
        "OR",
        "-",
        "*",
        "NEAR(a b)",
        "a\"b",
        "sk-abcdefghijklmnopqrstuvwxyz",
    ];
    if rng.bool() {
        pool[rng.usize(..pool.len())].to_owned()
    } else {
        let len = rng.usize(0..64);
        (0..len)
            .map(|_| char::from_u32(rng.u32(1..0x3000)).unwrap_or('?'))
            .collect()
    }
}

fn random_value(rng: &mut fastrand::Rng, depth: u32) -> Value {
    match rng.u8(0..if depth > 2 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.bool()),
        2 => json!(rng.i64(..)),
        3 => json!(rng.f64() * 1e12 - 5e11),
        4 | 5 => json!(random_string(rng)),
        6 => Value::Array((0..rng.usize(0..4)).map(|_| random_value(rng, depth + 1)).collect()),
        _ => {
            let keys = [
                "topic",
                "domain",
                "tools_used",
                "visibility",
                "query",
                "limit",
                "min_quality",
                "goal",
                "entry_type",
                "content",
                "outcome",
                "mode",
                "success",
                "vote_type",
                "event_ids",
                "mark_all",
                "name",
                "username",
                "contribution_type",
                "dead_ends",
                "gotchas",
                "artifacts",
                "text",
                "what",
                "why",
            ];
            let mut map = Map::new();
            for _ in 0..rng.usize(0..6) {
                map.insert(keys[rng.usize(..keys.len())].to_owned(), random_value(rng, depth + 1));
            }
            Value::Object(map)
        }
    }
}

fn mutate(rng: &mut fastrand::Rng, valid: &Value) -> Value {
    let mut value = valid.clone();
    if let Value::Object(map) = &mut value {
        let keys: Vec<String> = map.keys().cloned().collect();
        for _ in 0..rng.usize(1..3) {
            if keys.is_empty() {
                break;
            }
            let key = &keys[rng.usize(..keys.len())];
            match rng.u8(0..3) {
                0 => {
                    map.remove(key);
                }
                1 => {
                    map.insert(key.clone(), random_value(rng, 1));
                }
                _ => {
                    map.insert(format!("{key}_extra"), random_value(rng, 1));
                }
            }
        }
    }
    value
}

#[tokio::test]
async fn random_and_mutated_input_never_breaks_the_server() {
    let server = server().await;
    let owner = agent(&server, "fuzz-owner").await;
    let (_, key) = agent_with_key(&server, "fuzz-caller").await;
    let session = owner
        .sessions()
        .open(OpenSession::new("A session to poke at"))
        .await
        .unwrap()
        .session;
    owner
        .sessions()
        .log(session.id.as_str(), Entry::note("something"))
        .await
        .unwrap();
    let published = owner
        .experiences()
        .create(CreateExperience::new("An experience to poke at with odd input"))
        .await
        .unwrap();
    owner.experiences().publish(&published.short_id).await.unwrap();

    let sid = session.id.to_string();
    let eid = published.short_id.clone();
    let routes: Vec<(&str, String, Value)> = vec![
        (
            "POST",
            "/api/v1/agents/register".into(),
            json!({"name": "n", "username": "fuzzed"}),
        ),
        ("GET", "/api/v1/agents/check-username?username=abc".into(), Value::Null),
        ("GET", "/api/v1/agents/me".into(), Value::Null),
        (
            "POST",
            "/api/v1/sessions".into(),
            json!({"topic": "valid topic", "domain": "d", "tools_used": ["a"], "visibility": "public"}),
        ),
        (
            "GET",
            "/api/v1/sessions?status=open&limit=5&offset=0".into(),
            Value::Null,
        ),
        ("GET", format!("/api/v1/sessions/{sid}"), Value::Null),
        (
            "PATCH",
            format!("/api/v1/sessions/{sid}"),
            json!({"tools_used": ["x"], "domain": "y"}),
        ),
        (
            "POST",
            format!("/api/v1/sessions/{sid}/entries"),
            json!({"entry_type": "note", "content": {"text": "t"}}),
        ),
        (
            "POST",
            format!("/api/v1/sessions/{sid}/contribute"),
            json!({"content": {"text": "t"}, "contribution_type": "warning"}),
        ),
        ("GET", format!("/api/v1/sessions/{sid}/contributions"), Value::Null),
        (
            "POST",
            "/api/v1/experiences/search".into(),
            json!({"query": "poke", "limit": 5, "min_quality": 0.0, "tools": ["a"]}),
        ),
        (
            "GET",
            "/api/v1/experiences?limit=5&include_archived=true".into(),
            Value::Null,
        ),
        (
            "POST",
            "/api/v1/experiences".into(),
            json!({"goal": "a goal that is long enough", "gotchas": ["g"], "artifacts": [{"language": "sh", "code": "ls"}]}),
        ),
        ("GET", format!("/api/v1/experiences/{eid}"), Value::Null),
        ("GET", format!("/api/v1/experiences/{eid}/similar?limit=3"), Value::Null),
        (
            "POST",
            format!("/api/v1/experiences/{eid}/acquire"),
            json!({"mode": "checklist"}),
        ),
        (
            "POST",
            format!("/api/v1/experiences/{eid}/outcome"),
            json!({"success": true, "execution_time_ms": 5}),
        ),
        (
            "POST",
            format!("/api/v1/experiences/{eid}/vote"),
            json!({"vote_type": "up"}),
        ),
        ("GET", "/api/v1/pulse/status".into(), Value::Null),
        ("GET", "/api/v1/pulse/inbox?limit=5".into(), Value::Null),
        (
            "POST",
            "/api/v1/pulse/inbox/mark-read".into(),
            json!({"event_ids": [], "mark_all": false}),
        ),
        (
            "POST",
            format!("/api/v1/sessions/{sid}/close"),
            json!({"outcome": "success"}),
        ),
        ("POST", format!("/api/v1/experiences/{eid}/publish"), Value::Null),
        ("POST", format!("/api/v1/experiences/{eid}/archive"), Value::Null),
        ("POST", format!("/api/v1/sessions/{sid}/abandon"), Value::Null),
    ];
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(plurum_sdk::tls::client_config().unwrap())
        .build()
        .unwrap();
    let base = format!("http://{}", server.addr());
    let seed = std::env::var("PLURUM_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut counts = std::collections::BTreeMap::new();
    let iterations: usize = std::env::var("PLURUM_FUZZ_ITERATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1500);
    for _ in 0..iterations {
        let (method, path, valid) = &routes[rng.usize(..routes.len())];
        let mut path = path.clone();
        if rng.u8(0..5) == 0 {
            // Odd identifiers and query strings.
            let odd = [
                "%00",
                "%2e%2e",
                "0badc0de",
                "abc",
                "%F0%9F%92%A9",
                "e6fbd266-218d-472f-8598-672ba81575b3",
            ];
            path = path
                .replace(&sid, odd[rng.usize(..odd.len())])
                .replace(&eid, odd[rng.usize(..odd.len())]);
            path.push_str(
                [
                    "?limit=abc",
                    "?limit=-1",
                    "?limit=99999999999999999999",
                    "?event_type=x&limit=1",
                    "",
                ][rng.usize(..5)],
            );
        }
        let body = match rng.u8(0..4) {
            0 => None,
            1 => Some(random_value(&mut rng, 0).to_string()),
            2 => Some(mutate(&mut rng, valid).to_string()),
            _ => Some(["{", "[1,", "\"str\"", "{\"a\":}", "nul", "{}{}", "\u{feff}{}"][rng.usize(..7)].to_owned()),
        };
        let mut request = http.request(method.parse().unwrap(), format!("{base}{path}"));
        if rng.u8(0..4) != 0 {
            request = request.header("authorization", format!("Bearer {}", key.expose()));
        }
        if let Some(body) = &body {
            request = request.header("content-type", "application/json").body(body.clone());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert!(
            status < 500,
            "seed {seed}: {method} {path} with {body:?} answered {status}: {text}"
        );
        assert!(
            serde_json::from_str::<Value>(&text).is_ok(),
            "every answer is JSON: {text}"
        );
        *counts.entry(status).or_insert(0) += 1;
    }
    assert!(counts.contains_key(&200) && counts.contains_key(&422), "{counts:?}");

    // Still working, and nothing was lost.
    let fresh = agent(&server, "after-the-storm").await;
    let again = fresh
        .sessions()
        .open(OpenSession::new("Still accepting work"))
        .await
        .unwrap();
    assert_eq!(again.session.status, SessionStatus::Open);
    let original = owner.experiences().get(&eid).await.unwrap();
    assert_eq!(original.goal, "An experience to poke at with odd input");
}
