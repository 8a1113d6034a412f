//! `plurum api METHOD PATH`: authenticated raw calls to any route, as
//! `gh api` does, with the CLI's key, retries (safe methods only), error
//! documents and exit codes.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::Context as _;
use plurum_sdk::RawRequest;
use serde_json::{Map, Value, json};

use crate::context::Ctx;
use crate::exit::{self, CliError};

/// `plurum api` arguments.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  plurum api GET /agents/me
  plurum api GET /agents/check-username -f username=atlas-builder
  plurum api GET /sessions -f status=open --paginate --jq '.items[].short_id'
  plurum api POST /experiences/search -f query='pg replication' -F limit=3
  plurum api POST /sessions/$ID/entries --input entry.json
  plurum api GET /pulse/status -i

PATH is relative to the API base URL (--api-url). Fields: -f key=value is a
string, -F key=value is typed (true, false, null and numbers become JSON;
@FILE reads a file, @- stdin); key[]=value appends to a list. For GET they
are query parameters, otherwise the JSON body (with --input, query
parameters). -q EXPR here is --jq EXPR, as in gh. Only GET and HEAD are
retried. Errors are the CLI's: one line (or one JSON document) and its exit
code. Registering and rotating keys are refused: use 'plurum register' and
'plurum auth rotate', which store the key instead of printing it.")]
pub(crate) struct Args {
    /// GET, POST, PATCH, PUT, DELETE or HEAD.
    method: String,
    /// The path below the API base URL, e.g. /agents/me or /sessions?status=open.
    path: String,
    /// A string field, key=value (a query parameter for GET, else a body field). Repeatable.
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
    /// Show the status and the response headers too.
    #[arg(short = 'i', long)]
    include: bool,
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
        let contents = if file == "-" {
            let mut buffer = String::new();
            std::io::stdin()
                .read_to_string(&mut buffer)
                .context("could not read stdin")?;
            buffer
        } else {
            std::fs::read_to_string(file).with_context(|| format!("could not read {file}"))?
        };
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

/// The fields of -f and -F, in order, as (key, value, append).
fn parse_fields(args: &Args) -> anyhow::Result<Vec<(String, Value, bool)>> {
    let mut out = Vec::new();
    for (list, typed) in [(&args.raw_fields, false), (&args.fields, true)] {
        for field in list {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| usage(format!("field '{field}' is not KEY=VALUE")))?;
            if key.is_empty() {
                return Err(usage(format!("field '{field}' has no key")));
            }
            let (key, append) = match key.strip_suffix("[]") {
                Some(key) => (key, true),
                None => (key, false),
            };
            out.push((key.to_owned(), field_value(value, typed)?, append));
        }
    }
    Ok(out)
}

fn body_of(fields: &[(String, Value, bool)]) -> Value {
    let mut body = Map::new();
    for (key, value, append) in fields {
        if *append {
            let slot = body.entry(key.clone()).or_insert_with(|| json!([]));
            if let Value::Array(items) = slot {
                items.push(value.clone());
            }
        } else {
            body.insert(key.clone(), value.clone());
        }
    }
    Value::Object(body)
}

fn query_text(value: &Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_owned)
}

pub(crate) async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<u8> {
    let method = args.method.to_ascii_uppercase();
    let route = args.path.split('?').next().unwrap_or_default().trim_end_matches('/');
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
    let fields = parse_fields(&args)?;
    let mut request = RawRequest::new(&method, args.path.clone()).map_err(|e| usage(e.to_string()))?;
    let as_query = request.is_safe() || args.input.is_some();
    if as_query {
        for (key, value, _) in &fields {
            request = request.query(key.clone(), query_text(value));
        }
    }
    if let Some(input) = &args.input {
        let text = if input.as_os_str() == "-" {
            let mut buffer = String::new();
            std::io::stdin()
                .read_to_string(&mut buffer)
                .context("could not read stdin")?;
            buffer
        } else {
            std::fs::read_to_string(input).with_context(|| format!("could not read {}", input.display()))?
        };
        let body: Value =
            serde_json::from_str(&text).map_err(|e| usage(format!("{} is not JSON: {e}", input.display())))?;
        request = request.body(body);
    } else if !as_query && !fields.is_empty() {
        request = request.body(body_of(&fields));
    }
    if args.paginate && !request.is_safe() {
        return Err(usage("--paginate follows pages of GET requests only"));
    }
    let client = ctx.client()?;
    let mut answer = ctx.out.spin("calling the API", client.raw(request.clone())).await?;
    if args.paginate {
        let mut items: Vec<Value> = Vec::new();
        let mut pages = 0;
        loop {
            pages += 1;
            let Some(page) = answer.body.as_object() else { break };
            let Some(list) = page.get("items").and_then(Value::as_array) else {
                break;
            };
            items.extend(list.iter().cloned());
            let more = page.get("has_more").and_then(Value::as_bool).unwrap_or(false);
            if !more || list.is_empty() || pages >= 1000 {
                break;
            }
            let offset = page.get("offset").and_then(Value::as_u64).unwrap_or(0);
            let limit = page.get("limit").and_then(Value::as_u64).unwrap_or(list.len() as u64);
            let next = request.clone().query("offset", (offset + limit).to_string());
            answer = client.raw(next).await?;
        }
        if pages > 1 || answer.body.get("items").is_some() {
            let total = answer.body.get("total").cloned().unwrap_or(json!(items.len()));
            answer.body = json!({"items": items, "total": total, "pages": pages});
        }
    }
    if args.include {
        let headers: Map<String, Value> = answer
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        let document = json!({"status": answer.status, "headers": headers, "body": answer.body});
        ctx.out.emit(&document, || {
            let mut text = format!("HTTP {}\n", answer.status);
            for (name, value) in &answer.headers {
                text.push_str(&format!("{name}: {value}\n"));
            }
            text.push('\n');
            text.push_str(&serde_json::to_string_pretty(&answer.body).unwrap_or_default());
            text
        })?;
    } else {
        ctx.out.emit(&answer.body, || {
            serde_json::to_string_pretty(&answer.body).unwrap_or_default()
        })?;
    }
    Ok(exit::OK)
}
