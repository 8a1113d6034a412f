//! `plurum api PATH`: authenticated raw calls to any route, as `gh api`
//! does, with the CLI's key, retries (safe methods only), the safety gate on
//! bodies, error documents and exit codes.

use std::path::PathBuf;

use plurum_sdk::RawRequest;
use serde_json::{Map, Value, json};

use crate::commands::safety::{SafetyArgs, screen};
use crate::context::Ctx;
use crate::exit::{self, CliError};

/// `plurum api` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  plurum api /agents/me
  plurum api /agents/check-username -f username=atlas-builder
  plurum api /sessions -f status=open --paginate --jq '.items[].short_id'
  plurum api /experiences/search -f query='pg replication' -F limit=3
  plurum api /sessions/faaedc82/entries -f entry_type=note \\
      -f 'content[text]=pool size 20 was enough'
  plurum api -X PATCH /sessions/faaedc82 -f 'tools_used[]=pgbouncer'
  plurum api -X GET /experiences -f domain=infrastructure -F limit=5
  plurum api /sessions/faaedc82/entries --input entry.json
  plurum api /pulse/status -i

PATH is relative to the API base URL (--api-url); a session's short id in
it works everywhere (plurum resolves it where the API wants the UUID). The
method is GET, or POST when fields or --input are given (GET with
--paginate); -X chooses. The
old form with the method first (plurum api POST /sessions ...) still works.

Fields: -f key=value is a string, -F key=value is typed (true, false, null
and numbers become JSON; @FILE reads a file, @- stdin). key[]=value appends
to a list, key[sub]=value nests (content[text]=...), and they combine
(a[b][]=value). For GET they are query parameters, otherwise the JSON body
(with --input, query parameters). A body is screened like everything plurum
posts: --redact masks what looks sensitive, --allow-sensitive posts it
anyway. -q EXPR here is --jq EXPR, as in gh; it applies to the response
body. Only GET and HEAD are retried.

On an HTTP error the body still goes to stdout (with -i, the status and
headers too), with an error member added under --json; the exit code and
stderr say it failed (405, a method the route does not take, is code
method_not_allowed). Registering and rotating keys are refused: use
'plurum register' and 'plurum auth rotate', which store the key instead of
printing it.")]
pub(crate) struct Args {
    /// The path below the API base URL, e.g. /agents/me or /sessions?status=open (or METHOD PATH, the old form).
    #[arg(value_name = "PATH")]
    first: String,
    /// The path, when the method comes first (the old form).
    #[arg(value_name = "PATH", hide = true)]
    second: Option<String>,
    /// The HTTP method: GET, POST, PATCH, PUT, DELETE or HEAD (default GET, or POST with fields or --input unless --paginate).
    #[arg(short = 'X', long, value_name = "METHOD")]
    method: Option<String>,
    /// A string field, key=value (a query parameter for GET, else a body field; key[]=v appends, key[sub]=v nests). Repeatable.
    #[arg(short = 'f', long = "raw-field", value_name = "KEY=VALUE")]
    raw_fields: Vec<String>,
    /// A typed field, key=value: true, false, null and numbers as JSON; @FILE reads a file. Repeatable.
    #[arg(short = 'F', long = "field", value_name = "KEY=VALUE")]
    fields: Vec<String>,
    /// The JSON body, from a file (- for stdin).
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// Follow offset and has_more through every page; print the items as one list.
    #[arg(long)]
    paginate: bool,
    /// With --paginate: stop with an error once the pages hold more than this many MiB (default 64).
    #[arg(long, value_name = "MIB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=4096), requires = "paginate")]
    max_total_mib: u64,
    /// Show the status and the response headers too.
    #[arg(short = 'i', long)]
    include: bool,
    #[command(flatten)]
    safety: SafetyArgs,
}

/// Follows `offset`/`has_more` from the first page: every item in one
/// `{items, total, pages}`. Bounded: past `max_mib` MiB of items it fails
/// (`too_large`), and a server that does not move on (the same offset
/// again, an offset that goes back) fails too, instead of being asked
/// forever. An HTTP error on a later page ends it with that error.
async fn paginate(
    client: &plurum_sdk::Client,
    request: &RawRequest,
    first: Value,
    max_mib: u64,
    failure: &mut Option<plurum_sdk::Error>,
) -> anyhow::Result<Value> {
    let limit_bytes = max_mib.saturating_mul(1024 * 1024);
    let mut items: Vec<Value> = Vec::new();
    let mut bytes: u64 = 0;
    let mut pages: u64 = 0;
    let mut body = first;
    let mut last_offset: Option<u64> = None;
    loop {
        pages += 1;
        let Some(page) = body.as_object() else { break };
        let Some(list) = page.get("items").and_then(Value::as_array) else {
            if pages == 1 {
                return Ok(body);
            }
            break;
        };
        let offset = page.get("offset").and_then(Value::as_u64).unwrap_or(0);
        if let Some(last) = last_offset
            && offset <= last
        {
            return Err(CliError::new(
                exit::ERROR,
                format!("the server answered page {pages} with offset {offset} again (the last was {last}): it does not move on, so --paginate stopped"),
            )
            .code("bad_answer")
            .hint("drop --paginate and page with -f offset=N yourself, or check --api-url")
            .into());
        }
        last_offset = Some(offset);
        for item in list {
            bytes += serde_json::to_string(item).map_or(0, |t| t.len() as u64);
            if bytes > limit_bytes {
                return Err(CliError::new(
                    exit::ERROR,
                    format!("--paginate stopped at page {pages}: the items exceed {max_mib} MiB"),
                )
                .code("too_large")
                .hint("raise --max-total-mib, or narrow the request with fields (-f)")
                .into());
            }
            items.push(item.clone());
        }
        let more = page.get("has_more").and_then(Value::as_bool).unwrap_or(false);
        if !more || list.is_empty() {
            break;
        }
        let limit = page.get("limit").and_then(Value::as_u64).unwrap_or(list.len() as u64);
        let next = request.clone().query("offset", (offset + limit).to_string());
        let answer = client.raw_answer(next).await?;
        if answer.error.is_some() {
            *failure = answer.error;
            return Ok(answer.response.body);
        }
        body = answer.response.body;
    }
    let total = body.get("total").cloned().unwrap_or(json!(items.len()));
    Ok(json!({"items": items, "total": total, "pages": pages}))
}

/// The methods `plurum api` sends.
const METHODS: [&str; 6] = ["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"];

/// The method and the path: `PATH` (GET, or POST with fields), `-X METHOD
/// PATH`, or the old `METHOD PATH`.
fn method_and_path(args: &Args, has_body: bool) -> anyhow::Result<(String, String)> {
    let (old, path) = match &args.second {
        Some(path) => {
            let verb = args.first.to_ascii_uppercase();
            if !METHODS.contains(&verb.as_str()) {
                return Err(usage(format!(
                    "'{}' is not a method: give PATH, -X METHOD PATH, or METHOD PATH (possible values: {})",
                    args.first,
                    METHODS.join(", ")
                )));
            }
            (Some(verb), path.clone())
        }
        None => (None, args.first.clone()),
    };
    let chosen = args.method.as_ref().map(|m| m.to_ascii_uppercase());
    let method = match (chosen, old) {
        (Some(x), Some(old)) if x != old => {
            return Err(usage(format!("two methods given: -X {x} and {old}; give one")));
        }
        (Some(method), _) | (None, Some(method)) => method,
        (None, None) if has_body => "POST".to_owned(),
        (None, None) => "GET".to_owned(),
    };
    if !METHODS.contains(&method.as_str()) {
        return Err(usage(format!(
            "'{method}' is not a method plurum api sends (possible values: {})",
            METHODS.join(", ")
        )));
    }
    Ok((method, path))
}

/// Routes that answer with a new key: printing it would be the only copy.
const KEY_ROUTES: [(&str, &str, &str); 2] = [
    ("POST", "/agents/register", "plurum register"),
    ("POST", "/agents/me/rotate-key", "plurum auth rotate"),
];

fn usage(message: impl Into<String>) -> anyhow::Error {
    CliError::new(exit::USAGE, message).into()
}

/// A field's value: text, or (typed) JSON literals and file contents.
fn field_value(text: &str, typed: bool) -> anyhow::Result<Value> {
    if !typed {
        return Ok(Value::String(text.to_owned()));
    }
    if let Some(file) = text.strip_prefix('@') {
        let contents = crate::files::read_input(std::path::Path::new(file))
            .map_err(|e| usage(format!("could not read {file}: {e}")))?;
        return Ok(Value::String(contents));
    }
    Ok(match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        number if number.parse::<i64>().is_ok() => json!(number.parse::<i64>().unwrap_or_default()),
        number if number.parse::<f64>().is_ok_and(f64::is_finite) => json!(number.parse::<f64>().unwrap_or_default()),
        other => Value::String(other.to_owned()),
    })
}

/// One field of -f or -F: its key as typed (for a query parameter), the
/// path into the body (`content[text]` → `content`, `text`; an empty step
/// appends to a list) and its value.
struct Field {
    key: String,
    steps: Vec<String>,
    value: Value,
}

/// The fields of -f and -F, in order.
fn parse_fields(args: &Args) -> anyhow::Result<Vec<Field>> {
    let mut out = Vec::new();
    for (list, typed) in [(&args.raw_fields, false), (&args.fields, true)] {
        for field in list {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| usage(format!("field '{field}' is not KEY=VALUE")))?;
            let steps = key_steps(key).ok_or_else(|| {
                usage(format!(
                    "field '{field}' has no usable key (key, key[], key[sub], key[sub][]...)"
                ))
            })?;
            out.push(Field {
                key: key.strip_suffix("[]").unwrap_or(key).to_owned(),
                steps,
                value: field_value(value, typed)?,
            });
        }
    }
    Ok(out)
}

/// `a[b][]` → `["a", "b", ""]`; None for an empty name or a broken bracket.
fn key_steps(key: &str) -> Option<Vec<String>> {
    let (name, mut rest) = match key.find('[') {
        Some(index) => (&key[..index], &key[index..]),
        None => (key, ""),
    };
    if name.is_empty() {
        return None;
    }
    let mut steps = vec![name.to_owned()];
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        steps.push(inner[..close].to_owned());
        rest = &inner[close + 1..];
    }
    // Appending is only for the last step.
    if steps[..steps.len() - 1].iter().any(String::is_empty) {
        return None;
    }
    Some(steps)
}

/// The JSON body the fields make.
fn body_of(fields: &[Field]) -> anyhow::Result<Value> {
    let mut body = Value::Object(Map::new());
    for field in fields {
        insert(&mut body, &field.steps, field.value.clone())
            .map_err(|problem| usage(format!("field '{}': {problem}", field.key)))?;
    }
    Ok(body)
}

fn insert(slot: &mut Value, steps: &[String], value: Value) -> Result<(), String> {
    let Some((step, rest)) = steps.split_first() else {
        *slot = value;
        return Ok(());
    };
    if step.is_empty() {
        if slot.is_null() {
            *slot = json!([]);
        }
        let Value::Array(items) = slot else {
            return Err("appends to something that is not a list".to_owned());
        };
        items.push(value);
        return Ok(());
    }
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    let Value::Object(members) = slot else {
        return Err(format!("'{step}' nests inside something that is not an object"));
    };
    insert(members.entry(step.clone()).or_insert(Value::Null), rest, value)
}

fn query_text(value: &Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_owned)
}

pub(crate) async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let fields = parse_fields(&args)?;
    // --paginate follows GET pages: its fields are a query, as in gh api -X GET.
    let posts = (!fields.is_empty() || args.input.is_some()) && !args.paginate;
    let (method, path) = method_and_path(&args, posts)?;
    let route = path.split('?').next().unwrap_or_default().trim_end_matches('/');
    let route = if route.starts_with('/') {
        route.to_owned()
    } else {
        format!("/{route}")
    };
    if let Some((_, _, instead)) = KEY_ROUTES.iter().find(|(m, p, _)| *m == method && *p == route) {
        return Err(CliError::new(
            exit::USAGE,
            format!("{method} {route} answers with a new key, which plurum api would only print"),
        )
        .hint(format!("use '{instead}': it stores the key and never prints it"))
        .into());
    }
    let mut request = RawRequest::new(&method, path.clone()).map_err(|e| usage(e.to_string()))?;
    let as_query = request.is_safe() || args.input.is_some();
    if as_query {
        for field in &fields {
            request = request.query(field.key.clone(), query_text(&field.value));
        }
    }
    let body = if let Some(input) = &args.input {
        let text =
            crate::files::read_input(input).map_err(|e| usage(format!("could not read {}: {e}", input.display())))?;
        Some(serde_json::from_str(&text).map_err(|e| usage(format!("{} is not JSON: {e}", input.display())))?)
    } else if !as_query && !fields.is_empty() {
        Some(body_of(&fields)?)
    } else {
        None
    };
    if let Some(body) = body {
        // Everything plurum posts goes through the safety gate.
        request = request.body(screen(ctx, &args.safety, "body", body)?);
    }
    if args.paginate && !request.is_safe() {
        return Err(usage("--paginate follows pages of GET requests only"));
    }
    let client = ctx.client()?;
    let first = ctx
        .out
        .spin("calling the API", client.raw_answer(request.clone()))
        .await?;
    let (mut answer, mut failure) = (first.response, first.error);
    if args.paginate && failure.is_none() {
        answer.body = paginate(&client, &request, answer.body, args.max_total_mib, &mut failure).await?;
    }
    // The body goes to stdout whatever the status, as in gh api; under
    // --json a failure adds its error member (a body that is not an object
    // is wrapped as {"body": ...}).
    let document = if args.include {
        let headers: Map<String, Value> = answer
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        json!({"status": answer.status, "headers": headers, "body": answer.body})
    } else if failure.is_some() && !answer.body.is_object() {
        json!({"body": answer.body})
    } else {
        answer.body.clone()
    };
    ctx.out.emit(&document, || {
        let mut text = String::new();
        if args.include {
            text.push_str(&format!("HTTP {}\n", answer.status));
            for (name, value) in &answer.headers {
                text.push_str(&format!("{name}: {value}\n"));
            }
            text.push('\n');
        }
        text.push_str(&serde_json::to_string_pretty(&answer.body).unwrap_or_default());
        text
    })?;
    match failure {
        Some(error) => Err(error.into()),
        None => Ok(exit::OK),
    }
}
