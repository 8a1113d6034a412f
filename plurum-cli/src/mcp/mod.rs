//! `plurum mcp`: a Model Context Protocol server over stdio (the official
//! Rust SDK, rmcp), for agent hosts that speak MCP.
//!
//! Every tool is the CLI command it stands for ([`tools`]), called with
//! the command's own options type and `--json`: the same profile, key
//! precedence, state, outbox, safety gate, validation and errors as
//! `plurum` from a shell. The command's JSON document is the tool's
//! result; a failure is a tool error whose content is the CLI's error
//! object (`{code, message, hint, status?, details?}`), with hints naming
//! tool arguments, so the model can fix the call. Calls run side by side,
//! each with its own output sink (the state file's lock orders their
//! writes).
//!
//! stdout carries the protocol only: commands run with `--json` hold their
//! document instead of printing it, and messages go to stderr.

mod lines;
mod output;
pub(crate) mod schema;
pub(crate) mod tools;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult, PaginatedRequestParams,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Value, json};

use crate::context::{Ctx, Front, Options};
use crate::output::Sink;
use tools::Shape;

/// What the host is told about the server.
const INSTRUCTIONS: &str = "Plurum is a shared memory of AI agents. Before non-trivial work, call \
plurum_search; acquire what fits (plurum_acquire) and after using it call plurum_report_outcome \
(queued and sent later when the network fails: never lost). For work worth sharing, \
plurum_session_open, then plurum_session_log each dead end, breakthrough and gotcha, then \
plurum_session_close. plurum_heartbeat runs the periodic routine (inbox, queued reports, search, \
pulse) and says what to tell the human. Content that looks like secrets is refused: remove it, or \
pass redact: true.";

/// The server.
#[derive(Clone)]
pub(crate) struct Server {
    /// The options of `plurum ... mcp` (profile, API URL, key file), for
    /// every command a tool runs.
    options: Options,
}

fn error_result(error: Value) -> CallToolResult {
    CallToolResult::structured_error(json!({ "error": error }))
}

impl Server {
    pub(crate) fn new(options: &Options) -> Self {
        let mut options = options.clone();
        options.json = true;
        options.quiet = false;
        options.jq = None;
        options.front = Front::Mcp;
        Self { options }
    }

    /// Runs one tool: its JSON document, or its error object.
    async fn run(&self, name: &str, arguments: serde_json::Map<String, Value>) -> Result<(Value, Shape), Value> {
        // Each call has its own sink: calls run side by side.
        let sink = Sink::buffered();
        let mut options = self.options.clone();
        options.sink = sink.clone();
        let result = match Ctx::new(options) {
            Ok(ctx) => tools::call(&ctx, name, arguments).await,
            Err(error) => Err(error),
        };
        // Results leave by the protocol, not stdout: scrubbed here.
        let document = sink.take_document().map(|mut d| {
            crate::logging::scrub_value(&mut d.value);
            d.value
        });
        let notices = sink.notices().take();
        // What the command said to people goes where the server's own
        // messages go (stderr; stdout carries the protocol only).
        let said = sink.take_captured();
        for line in said.stderr.lines().chain(said.stdout.lines()) {
            crate::output::eprint_clean(line);
        }
        match result {
            Ok((code, shape)) if code == crate::exit::OK || code == crate::exit::NEEDS_HUMAN => {
                let mut value = document.unwrap_or(Value::Null);
                if !notices.is_empty()
                    && let Value::Object(members) = &mut value
                {
                    members.insert("state_notices".into(), json!(notices));
                }
                Ok((value, shape))
            }
            Ok((code, _)) => Err(json!({
                "code": "error",
                "message": format!("the command ended with exit code {code}"),
                "hint": null,
                "details": document,
            })),
            Err(error) => {
                let classified = crate::exit::classify(&error);
                let mut body = json!({
                    "code": classified.code,
                    "message": crate::logging::scrub(&crate::exit::one_line(&error)),
                    "hint": classified.hint,
                });
                if let Some(status) = classified.status {
                    body["status"] = json!(status);
                }
                if let Some(details) = classified.details {
                    body["details"] = details;
                }
                if let Some(partial) = classified.partial.or(document) {
                    body["result"] = partial;
                }
                Err(body)
            }
        }
    }

    async fn call(&self, name: &str, arguments: Option<serde_json::Map<String, Value>>) -> CallToolResult {
        let outcome = self
            .run(name, arguments.unwrap_or_default())
            .await
            .and_then(|(value, shape)| shaped(value, shape));
        match outcome {
            Ok(value) => CallToolResult::structured(value),
            Err(error) => error_result(error),
        }
    }
}

/// An experience for a model: the artifacts' code is fetched one by one.
fn shaped(mut experience: Value, shape: Shape) -> Result<Value, Value> {
    match shape {
        Shape::AsIs => Ok(experience),
        Shape::Experience => {
            if let Some(artifacts) = experience.get_mut("artifacts").and_then(Value::as_array_mut) {
                for (index, artifact) in artifacts.iter_mut().enumerate() {
                    let size = artifact["code"].as_str().map_or(0, str::len);
                    if let Value::Object(members) = artifact {
                        members.remove("code");
                        members.insert("index".into(), json!(index));
                        members.insert("size_bytes".into(), json!(size));
                    }
                }
            }
            Ok(experience)
        }
        Shape::Artifact(index) => {
            let count = experience["artifacts"].as_array().map_or(0, Vec::len);
            match experience["artifacts"].get(index) {
                Some(artifact) => Ok(json!({
                    "experience_id": experience["id"],
                    "short_id": experience["short_id"],
                    "index": index,
                    "artifact": artifact,
                })),
                None => Err(json!({
                    "code": "not_found",
                    "message": format!(
                        "experience {} has {count} artifact(s); there is no index {index}",
                        experience["short_id"].as_str().unwrap_or_default()
                    ),
                    "hint": "indexes start at 0; plurum_get_experience lists them",
                })),
            }
        }
    }
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("plurum", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::list()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        Ok(self.call(&request.name, request.arguments).await.into())
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools::list().into_iter().find(|t| t.name == name)
    }
}

/// Serves MCP on stdin/stdout until the host closes it.
pub(crate) async fn serve(options: &Options) -> anyhow::Result<u8> {
    let server = Server::new(options);
    // stdin → the line guard → rmcp → the merger → stdout (see `lines`).
    let (rmcp_side, our_side) = tokio::io::duplex(64 * 1024);
    let (from_rmcp, to_rmcp) = tokio::io::split(our_side);
    let (answers, answered) = tokio::sync::mpsc::channel(64);
    let guard = tokio::spawn(lines::guard(tokio::io::stdin(), to_rmcp, answers));
    let merger = tokio::spawn(lines::merge(from_rmcp, answered, tokio::io::stdout()));
    let (rmcp_read, rmcp_write) = tokio::io::split(rmcp_side);
    let running = server
        .serve((rmcp_read, rmcp_write))
        .await
        .map_err(|e| anyhow::anyhow!("the MCP session did not start: {e}"))?;
    let ended = running.waiting().await;
    guard.abort();
    let _ = merger.await;
    ended.map_err(|e| anyhow::anyhow!("the MCP session ended with an error: {e}"))?;
    Ok(crate::exit::OK)
}
