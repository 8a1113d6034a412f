//! The reference server is as strict as the real request models: invalid
//! inputs are derived from the real server's OpenAPI document
//! (`tests/fixtures/openapi/plurum-openapi.json`) itself, field by field
//! and constraint by constraint, for every operation the server
//! serves, and each must be answered with a 422 whose `detail` names the
//! field (`loc`), with Pydantic's `type`, a `msg` and the `input`. A new
//! constraint in the document is covered without a new test.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::common::{agent_with_key, server};

/// The OpenAPI document of the real server.
fn spec() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/openapi/plurum-openapi.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("tests/fixtures/openapi/plurum-openapi.json")).unwrap()
}

/// Operations of the document the reference server does not serve (the
/// real server's account-management routes for humans), and why.
const NOT_SERVED: &[(&str, &str)] = &[
    ("POST /api/v1/agents/register/authenticated", "human accounts"),
    ("GET /api/v1/agents/me/agents", "human accounts"),
    ("GET /api/v1/agents/me/overview", "human accounts"),
    ("POST /api/v1/agents/claim", "human accounts"),
    ("PATCH /api/v1/agents/{agent_id}", "human accounts"),
    ("POST /api/v1/agents/{agent_id}/release", "human accounts"),
    ("POST /api/v1/agents/{agent_id}/rotate-key", "human accounts"),
];

/// A valid body for each request model (the mutations start from it).
fn valid_body(model: &str) -> Value {
    match model {
        "AgentCreate" => json!({"name": "Strict Agent", "username": "strict-agent"}),
        "SessionCreate" => json!({"topic": "A valid session topic"}),
        "SessionEntryCreate" => json!({"entry_type": "note", "content": {"text": "a note"}}),
        "ContributionCreate" => json!({"content": {"text": "a hint"}, "contribution_type": "suggestion"}),
        "ExperienceCreate" => json!({"goal": "A valid experience goal"}),
        "OutcomeReportCreate" => json!({"success": true}),
        "ExperienceVoteCreate" => json!({"vote_type": "up"}),
        "ExperienceSearchRequest" => json!({"query": "valid query"}),
        _ => json!({}),
    }
}

struct Resolver {
    schemas: Map<String, Value>,
}

impl Resolver {
    /// The schema behind a `$ref`, or the schema itself.
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let name = reference.rsplit('/').next().unwrap();
                &self.schemas[name]
            }
            None => schema,
        }
    }

    /// The variants of a schema other than null, and whether null is allowed.
    fn variants<'a>(&'a self, schema: &'a Value) -> (Vec<&'a Value>, bool) {
        let schema = self.resolve(schema);
        match schema.get("anyOf").and_then(Value::as_array) {
            Some(any) => {
                let nullable = any.iter().any(|v| v.get("type") == Some(&json!("null")));
                let rest = any
                    .iter()
                    .filter(|v| v.get("type") != Some(&json!("null")))
                    .map(|v| self.resolve(v))
                    .collect();
                (rest, nullable)
            }
            None => (vec![schema], false),
        }
    }

    /// A minimal valid value of a schema.
    fn minimal(&self, schema: &Value) -> Value {
        let (variants, nullable) = self.variants(schema);
        if nullable {
            return Value::Null;
        }
        let schema = variants[0];
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            return values[0].clone();
        }
        match schema.get("type").and_then(Value::as_str) {
            Some("string") => {
                if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
                    && let Some(inner) = pattern.strip_prefix("^(").and_then(|p| p.strip_suffix(")$"))
                {
                    return json!(inner.split('|').next().unwrap());
                }
                let min = schema.get("minLength").and_then(Value::as_u64).unwrap_or(1) as usize;
                json!("x".repeat(min.max(1)))
            }
            Some("integer") => json!(schema.get("minimum").and_then(Value::as_f64).unwrap_or(0.0) as i64),
            Some("number") => json!(schema.get("minimum").and_then(Value::as_f64).unwrap_or(0.0)),
            Some("boolean") => json!(true),
            Some("array") => json!([]),
            _ => {
                let mut object = Map::new();
                let required: Vec<&str> = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for (name, field) in schema
                    .get("properties")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    if required.contains(&name.as_str()) {
                        object.insert(name.clone(), self.minimal(field));
                    }
                }
                Value::Object(object)
            }
        }
    }
}

/// One invalid input: the value to put at a path (None: remove the field),
/// where the 422 must point, and the Pydantic types it may carry. For a
/// union (`anyOf` of several types) Pydantic reports each member below the
/// field, its name appended to `loc`: then `loc` is a prefix.
#[derive(Debug, Clone)]
struct Case {
    path: Vec<Value>,
    value: Option<Value>,
    loc: Vec<Value>,
    types: Vec<&'static str>,
    what: String,
    union: bool,
}

/// A JSON value of a type none of `kinds` accepts (in Pydantic's lax mode).
fn wrong_type(kinds: &BTreeSet<&str>) -> Option<(Value, Vec<&'static str>)> {
    let candidates: [(Value, &str, Vec<&'static str>); 4] = [
        (
            json!(12345),
            "number-like",
            vec![
                "string_type",
                "list_type",
                "dict_type",
                "model_type",
                "model_attributes_type",
                "bool_parsing",
                "enum",
                "string_pattern_mismatch",
                "uuid_type",
            ],
        ),
        (
            json!("not-a-valid-value"),
            "string",
            vec![
                "int_parsing",
                "float_parsing",
                "bool_parsing",
                "list_type",
                "dict_type",
                "model_type",
                "model_attributes_type",
                "enum",
                "string_pattern_mismatch",
                "uuid_parsing",
            ],
        ),
        (
            json!([1, 2]),
            "array",
            vec![
                "string_type",
                "int_type",
                "float_type",
                "bool_type",
                "dict_type",
                "model_type",
                "model_attributes_type",
                "enum",
                "string_pattern_mismatch",
            ],
        ),
        (
            json!({"a": 1}),
            "object",
            vec![
                "string_type",
                "int_type",
                "float_type",
                "bool_type",
                "list_type",
                "enum",
                "string_pattern_mismatch",
            ],
        ),
    ];
    for (value, accepted_by, types) in candidates {
        let accepted = match accepted_by {
            // Numbers pass as int, float and (0/1 aside) not as bool; 12345 is no bool.
            "number-like" => kinds.contains("integer") || kinds.contains("number"),
            "string" => kinds.contains("string"),
            "array" => kinds.contains("array"),
            _ => kinds.contains("object"),
        };
        if !accepted {
            return Some((value, types));
        }
    }
    None
}

/// Every invalid input of one field (at `path` in the body, `loc` in the 422).
fn field_cases(
    resolver: &Resolver,
    schema: &Value,
    required: bool,
    path: Vec<Value>,
    loc: Vec<Value>,
    out: &mut Vec<Case>,
) {
    let name = path
        .iter()
        .map(|p| p.to_string().trim_matches('"').to_owned())
        .collect::<Vec<_>>()
        .join(".");
    let (variants, nullable) = resolver.variants(schema);
    let union = variants.len() > 1;
    let case = |value: Option<Value>, types: Vec<&'static str>, what: String| Case {
        path: path.clone(),
        value,
        loc: loc.clone(),
        types,
        what,
        union,
    };
    if required {
        out.push(case(None, vec!["missing"], format!("{name}: missing")));
    }
    let kinds: BTreeSet<&str> = variants
        .iter()
        .map(|v| {
            if v.get("enum").is_some() {
                "string"
            } else {
                v.get("type").and_then(Value::as_str).unwrap_or("object")
            }
        })
        .collect();
    if !nullable {
        out.push(case(
            Some(Value::Null),
            vec![
                "string_type",
                "int_type",
                "float_type",
                "bool_type",
                "list_type",
                "dict_type",
                "model_type",
                "model_attributes_type",
                "enum",
                "string_pattern_mismatch",
                "uuid_type",
            ],
            format!("{name}: null where the model does not allow it"),
        ));
    }
    if let Some((value, types)) = wrong_type(&kinds) {
        out.push(case(Some(value), types, format!("{name}: wrong type")));
    }
    // Constraints of a single-variant field.
    if variants.len() != 1 {
        return;
    }
    let schema = variants[0];
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        assert!(!values.contains(&json!("not-a-valid-value")));
        out.push(case(
            Some(json!("not-a-valid-value")),
            vec!["enum"],
            format!("{name}: not one of the enum"),
        ));
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && min > 0
    {
        out.push(case(
            Some(json!("y".repeat(min as usize - 1))),
            vec!["string_too_short"],
            format!("{name}: shorter than {min}"),
        ));
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
        out.push(case(
            Some(json!("z".repeat(max as usize + 1))),
            vec!["string_too_long"],
            format!("{name}: longer than {max}"),
        ));
    }
    if schema.get("pattern").is_some() {
        out.push(case(
            Some(json!("NOT matching!")),
            vec!["string_pattern_mismatch"],
            format!("{name}: not matching the pattern"),
        ));
    }
    let integer = schema.get("type") == Some(&json!("integer"));
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        let below = if integer {
            json!(min as i64 - 1)
        } else {
            json!(min - 0.5)
        };
        out.push(case(
            Some(below),
            vec!["greater_than_equal"],
            format!("{name}: below {min}"),
        ));
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
        let above = if integer {
            json!(max as i64 + 1)
        } else {
            json!(max + 0.5)
        };
        out.push(case(
            Some(above),
            vec!["less_than_equal"],
            format!("{name}: above {max}"),
        ));
    }
    if schema.get("type") == Some(&json!("integer")) {
        // JSON 1.5 is a float with a fraction; in a query string, text that
        // does not parse as an integer.
        out.push(case(
            Some(json!(1.5)),
            vec!["int_from_float", "int_parsing"],
            format!("{name}: a fraction"),
        ));
    }
    // Items of a list: one invalid item at index 0.
    if let Some(items) = schema.get("items") {
        let mut item_path = path.clone();
        item_path.push(json!(0));
        let mut item_loc = loc.clone();
        item_loc.push(json!(0));
        let mut item_cases = Vec::new();
        field_cases(resolver, items, false, item_path, item_loc, &mut item_cases);
        for mut item in item_cases {
            // The list holds one item: the invalid one.
            item.what = format!("{name}[0]: {}", item.what.split(": ").last().unwrap_or_default());
            out.push(item);
        }
    }
    // Fields of a nested model.
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for (field, inner) in properties {
            let mut inner_path = path.clone();
            inner_path.push(json!(field));
            let mut inner_loc = loc.clone();
            inner_loc.push(json!(field));
            field_cases(
                resolver,
                inner,
                required.contains(&field.as_str()),
                inner_path,
                inner_loc,
                out,
            );
        }
    }
}

/// Puts `value` at `path` in `body`, building the lists and objects on the
/// way from minimal valid values (None removes the field).
fn apply(resolver: &Resolver, model: &Value, body: &Value, path: &[Value], value: Option<&Value>) -> Value {
    let mut body = body.clone();
    let mut at = &mut body;
    let mut schema = resolver.resolve(model).clone();
    for (i, step) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        match step {
            Value::String(key) => {
                let field_schema = schema["properties"][key].clone();
                let object = at.as_object_mut().expect("an object on the path");
                if last {
                    match value {
                        Some(value) => {
                            object.insert(key.clone(), value.clone());
                        }
                        None => {
                            object.remove(key);
                        }
                    }
                    return body;
                }
                let (variants, _) = resolver.variants(&field_schema);
                let inner = variants[0].clone();
                if !object.get(key).is_some_and(|v| v.is_array() || v.is_object()) {
                    let start = if inner.get("items").is_some() {
                        json!([])
                    } else {
                        resolver.minimal(&inner)
                    };
                    object.insert(key.clone(), start);
                }
                at = object.get_mut(key).unwrap();
                schema = inner;
            }
            Value::Number(_) => {
                let items = schema["items"].clone();
                let list = at.as_array_mut().expect("a list on the path");
                list.clear();
                if last {
                    list.push(value.cloned().unwrap_or(Value::Null));
                    return body;
                }
                let (variants, _) = resolver.variants(&items);
                let inner = variants[0].clone();
                list.push(resolver.minimal(&inner));
                at = &mut list[0];
                schema = inner;
            }
            _ => unreachable!(),
        }
    }
    body
}

/// The 422 item that points at `loc` (or below it, for a union).
fn item_at<'a>(answer: &'a Value, loc: &[Value], union: bool) -> Option<&'a Value> {
    answer["detail"].as_array()?.iter().find(|item| {
        item["loc"]
            .as_array()
            .is_some_and(|l| l.as_slice() == loc || (union && l.len() > loc.len() && l[..loc.len()] == *loc))
    })
}

#[tokio::test]
async fn every_constraint_of_every_request_model_is_a_422_naming_the_field() {
    let spec = spec();
    let resolver = Resolver {
        schemas: spec["components"]["schemas"].as_object().unwrap().clone(),
    };
    let server = server().await;
    let (_, key) = agent_with_key(&server, "strict-tester").await;
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(plurum_sdk::tls::client_config().unwrap())
        .build()
        .unwrap();
    let root = server.base_url().trim_end_matches("/api/v1").to_owned();
    let unknown_id = "6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5";

    let mut checked = 0;
    let mut failures = Vec::new();
    let mut operations = 0;
    for (path, methods) in spec["paths"].as_object().unwrap() {
        for (method, operation) in methods.as_object().unwrap() {
            let label = format!("{} {path}", method.to_uppercase());
            if NOT_SERVED.iter().any(|(op, _)| *op == label) {
                continue;
            }
            operations += 1;
            let url = |query: &str| {
                let filled = path
                    .replace("{identifier}", unknown_id)
                    .replace("{session_id}", unknown_id);
                format!("{root}{filled}{query}")
            };
            let send = |body: Option<&Value>, query: String| {
                let mut request = http
                    .request(method.to_uppercase().parse().unwrap(), url(&query))
                    .bearer_auth(key.expose());
                if let Some(body) = body {
                    request = request.json(body);
                }
                request.send()
            };

            // Body fields.
            if let Some(reference) = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
            {
                let model_name = reference.rsplit('/').next().unwrap();
                let model = resolver.schemas[model_name].clone();
                let base = valid_body(model_name);
                let required: Vec<&str> = model["required"]
                    .as_array()
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut cases = Vec::new();
                for (field, schema) in model["properties"].as_object().into_iter().flatten() {
                    field_cases(
                        &resolver,
                        schema,
                        required.contains(&field.as_str()),
                        vec![json!(field)],
                        vec![json!("body"), json!(field)],
                        &mut cases,
                    );
                }
                for case in cases {
                    let body = apply(&resolver, &model, &base, &case.path, case.value.as_ref());
                    let answer = send(Some(&body), String::new()).await.unwrap();
                    let status = answer.status().as_u16();
                    let answer: Value = answer.json().await.unwrap_or(Value::Null);
                    checked += 1;
                    let item = item_at(&answer, &case.loc, case.union);
                    let ok = status == 422
                        && item.is_some_and(|i| {
                            i["type"].as_str().is_some_and(|t| case.types.contains(&t))
                                && i["msg"].is_string()
                                && i.get("input").is_some()
                        });
                    if !ok {
                        failures.push(format!("{label} {}: {status} {answer} (sent {body})", case.what));
                    }
                }
            }

            // Query parameters.
            for param in operation["parameters"].as_array().into_iter().flatten() {
                if param["in"] != "query" {
                    continue;
                }
                let name = param["name"].as_str().unwrap();
                let mut cases = Vec::new();
                field_cases(
                    &resolver,
                    &param["schema"],
                    false,
                    vec![json!(name)],
                    vec![json!("query"), json!(name)],
                    &mut cases,
                );
                for case in cases {
                    // A query string carries text: skip what only JSON can say.
                    let Some(value) = case
                        .value
                        .as_ref()
                        .filter(|v| !v.is_null() && !v.is_object() && !v.is_array())
                    else {
                        continue;
                    };
                    let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                    // Text is always a valid string in a query: only
                    // constraints of non-string parameters apply.
                    let kinds = resolver.variants(&param["schema"]).0;
                    if kinds.iter().all(|k| k.get("type") == Some(&json!("string")))
                        && case.types.contains(&"string_type")
                    {
                        continue;
                    }
                    let query = format!("?{}", serde_urlencoded::to_string([(name, text.as_str())]).unwrap());
                    let body = operation.get("requestBody").map(|_| json!({"query": "valid query"}));
                    let answer = send(body.as_ref(), query.clone()).await.unwrap();
                    let status = answer.status().as_u16();
                    let answer: Value = answer.json().await.unwrap_or(Value::Null);
                    checked += 1;
                    let ok = status == 422
                        && item_at(&answer, &case.loc, case.union)
                            .is_some_and(|i| i["type"].as_str().is_some_and(|t| case.types.contains(&t)));
                    if !ok {
                        failures.push(format!("{label} {query} ({}): {status} {answer}", case.what));
                    }
                }
            }
        }
    }
    assert!(operations >= 24, "walked only {operations} operations");
    assert!(checked > 150, "only {checked} invalid inputs derived");
    assert!(
        failures.is_empty(),
        "{} of {checked} invalid inputs were not refused as the real server refuses them:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn what_the_models_allow_is_not_refused() {
    // The other side of strictness: a null where the model allows it, and
    // any text in a free-text query parameter, never get a 422 naming them.
    let spec = spec();
    let resolver = Resolver {
        schemas: spec["components"]["schemas"].as_object().unwrap().clone(),
    };
    let server = server().await;
    let (_, key) = agent_with_key(&server, "lenient-tester").await;
    let http = reqwest::Client::builder()
        .tls_backend_preconfigured(plurum_sdk::tls::client_config().unwrap())
        .build()
        .unwrap();
    let root = server.base_url().trim_end_matches("/api/v1").to_owned();
    let unknown_id = "6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5";
    let mut tried = 0;
    let mut refused = Vec::new();
    for (path, methods) in spec["paths"].as_object().unwrap() {
        for (method, operation) in methods.as_object().unwrap() {
            let label = format!("{} {path}", method.to_uppercase());
            if NOT_SERVED.iter().any(|(op, _)| *op == label) {
                continue;
            }
            let url = format!(
                "{root}{}",
                path.replace("{identifier}", unknown_id)
                    .replace("{session_id}", unknown_id)
            );
            let mut attempts: Vec<(Option<Value>, String, Vec<Value>)> = Vec::new();
            if let Some(reference) = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
            {
                let model_name = reference.rsplit('/').next().unwrap();
                let model = &resolver.schemas[model_name];
                for (field, schema) in model["properties"].as_object().into_iter().flatten() {
                    if resolver.variants(schema).1 {
                        let mut body = valid_body(model_name);
                        body[field] = Value::Null;
                        attempts.push((Some(body), String::new(), vec![json!("body"), json!(field)]));
                    }
                }
            }
            for param in operation["parameters"].as_array().into_iter().flatten() {
                let name = param["name"].as_str().unwrap();
                let (variants, _) = resolver.variants(&param["schema"]);
                if param["in"] == "query" && variants.iter().all(|v| v.get("type") == Some(&json!("string"))) {
                    let body = operation.get("requestBody").map(|_| json!({}));
                    attempts.push((
                        body,
                        format!("?{name}=anything-at-all"),
                        vec![json!("query"), json!(name)],
                    ));
                }
            }
            for (body, query, loc) in attempts {
                let mut request = http
                    .request(method.to_uppercase().parse().unwrap(), format!("{url}{query}"))
                    .bearer_auth(key.expose());
                if let Some(body) = &body {
                    request = request.json(body);
                }
                let answer = request.send().await.unwrap();
                let status = answer.status().as_u16();
                let answer: Value = answer.json().await.unwrap_or(Value::Null);
                tried += 1;
                if status == 422 && item_at(&answer, &loc, false).is_some() {
                    refused.push(format!("{label}{query} {body:?}: {answer}"));
                }
            }
        }
    }
    assert!(tried > 20, "only {tried} tried");
    assert!(
        refused.is_empty(),
        "refused what the model allows:\n{}",
        refused.join("\n")
    );
}
