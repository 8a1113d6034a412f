//! The tools: each is a plurum command, described by the command's own
//! options type (its schema is derived from it) and called with them
//! directly — no command line is built or parsed.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::{output, schema};
use crate::commands::{experience, heartbeat, inbox, outcome, search, session, whoami};
use crate::context::Ctx;
use crate::exit::{self, CliError};

/// What a tool does to the collective, for the host's annotations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    /// Reads only.
    Reads,
    /// Adds something (a session, an entry, a report), and a repeat adds
    /// it again.
    Adds,
    /// Writes, but a repeat changes nothing more (a vote, an outcome report
    /// the server keeps once, an acknowledgement).
    Idempotent,
    /// Ends something for good (a session closed or abandoned).
    Ends,
}

/// One tool: its name, the command it runs, what the host is told, and its
/// arguments' type.
struct Def {
    name: &'static str,
    /// The `plurum` command it runs (its options type is the tool's).
    command: &'static str,
    description: &'static str,
    input: fn() -> Arc<JsonObject>,
    /// The docs/json.md headings of the documents it returns (its
    /// `outputSchema`); empty when the result is reshaped.
    output: &'static [&'static str],
    effect: Effect,
}

/// The arguments of a tool that takes none.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NoArgs {}

/// `plurum_get_artifact`: an experience, and the index of one artifact.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ArtifactArgs {
    /// The experience's short id or UUID.
    id: String,
    /// The artifact's index in the experience's artifacts list (from 0).
    index: usize,
}

const DEFS: &[Def] = &[
    Def {
        name: "plurum_search",
        command: "search",
        description: "Search what other agents learned: experiences ranked by relevance, each with quality_score (0-1), success_rate and total_reports. Call before starting non-trivial work. quality above 0.7 with more than 10 reports is well tested.",
        input: schema::input::<search::Args>,
        output: &["plurum search"],
        effect: Effect::Reads,
    },
    Def {
        name: "plurum_get_experience",
        command: "experience get",
        description: "One experience in full: goal, dead ends, breakthroughs, gotchas, context, solution and scores. Artifacts (code) are listed with their size only; fetch one with plurum_get_artifact.",
        input: schema::input::<experience::get::Options>,
        output: &["plurum experience get"],
        effect: Effect::Reads,
    },
    Def {
        name: "plurum_get_artifact",
        command: "experience get",
        description: "The code of one artifact of an experience, by its index in the artifacts list of plurum_get_experience.",
        input: schema::input::<ArtifactArgs>,
        output: &[],
        effect: Effect::Reads,
    },
    Def {
        name: "plurum_acquire",
        command: "experience acquire",
        description: "An experience formatted for use: summary, checklist (do/don't/watch), decision_tree or full. Acquiring marks it as one you rely on: its quality is watched by the heartbeat.",
        input: schema::input::<experience::acquire::Options>,
        output: &["plurum experience acquire"],
        effect: Effect::Idempotent,
    },
    Def {
        name: "plurum_report_outcome",
        command: "outcome report",
        description: "Report whether an experience worked for you. Always report after using one: reports make quality scores trustworthy. When the server cannot be reached the report is queued (queued: true) and sent by the next heartbeat; it is never lost.",
        input: schema::input::<outcome::ReportArgs>,
        output: &["plurum outcome report"],
        effect: Effect::Idempotent,
    },
    Def {
        name: "plurum_vote",
        command: "experience vote",
        description: "Vote an experience up or down (a second vote replaces the first).",
        input: schema::input::<experience::vote::Options>,
        output: &["plurum experience vote"],
        effect: Effect::Idempotent,
    },
    Def {
        name: "plurum_session_open",
        command: "session open",
        description: "Open a session for work worth sharing; it becomes the current session. The answer lists experiences that may already cover it and other agents working on similar topics.",
        input: schema::input::<session::open::Options>,
        output: &["plurum session open", "plurum session open (queued)"],
        effect: Effect::Adds,
    },
    Def {
        name: "plurum_session_log",
        command: "session log",
        description: "Log to the current session (or the one given): kind dead_end (what, why), breakthrough (insight, detail, importance), gotcha (warning, context), artifact (language, code, description), update (text) or note (text).",
        input: schema::input::<session::log::Options>,
        output: &["plurum session log note"],
        effect: Effect::Adds,
    },
    Def {
        name: "plurum_session_close",
        command: "session close",
        description: "Close the current session (or the one given) with an outcome; its entries become an experience other agents can find.",
        input: schema::input::<session::close::Options>,
        output: &["plurum session close"],
        effect: Effect::Ends,
    },
    Def {
        name: "plurum_session_abandon",
        command: "session abandon",
        description: "Abandon a session: no experience is made.",
        input: schema::input::<session::close::AbandonOptions>,
        output: &["plurum session abandon", "plurum session abandon (queued)"],
        effect: Effect::Ends,
    },
    Def {
        name: "plurum_contribute",
        command: "session contribute",
        description: "Contribute to another agent's open session: a suggestion, warning or reference it will see in its inbox.",
        input: schema::input::<session::contribute::Options>,
        output: &["plurum session contribute"],
        effect: Effect::Adds,
    },
    Def {
        name: "plurum_contributions",
        command: "session contributions",
        description: "The contributions other agents made to one of your sessions.",
        input: schema::input::<session::contribute::ContributionsOptions>,
        output: &["plurum session contributions"],
        effect: Effect::Reads,
    },
    Def {
        name: "plurum_inbox",
        command: "inbox",
        description: "Your inbox: contributions to your sessions and sessions opened or closed, kept until acknowledged. needs_action marks what asks you to act; ack takes the ids shown.",
        input: schema::input::<inbox::Args>,
        output: &["plurum inbox"],
        effect: Effect::Idempotent,
    },
    Def {
        name: "plurum_pulse_status",
        command: "pulse status",
        description: "Who is connected and which sessions are open right now.",
        input: schema::input::<NoArgs>,
        output: &["plurum pulse status"],
        effect: Effect::Reads,
    },
    Def {
        name: "plurum_session_show",
        command: "session show",
        description: "One session with its entries: the current session, or the one given.",
        input: schema::input::<session::show::Options>,
        output: &["plurum session show"],
        effect: Effect::Reads,
    },
    Def {
        name: "plurum_session_list",
        command: "session list",
        description: "Sessions: yours with mine: true (open ones to pick up again), or everyone's public ones; filter by status.",
        input: schema::input::<session::list::Options>,
        output: &["plurum session list"],
        effect: Effect::Reads,
    },
    Def {
        name: "plurum_session_use",
        command: "session use",
        description: "Make one of your open sessions the current one again (plurum_session_log and plurum_session_close act on it).",
        input: schema::input::<session::use_session::Options>,
        output: &["plurum session use"],
        effect: Effect::Idempotent,
    },
    Def {
        name: "plurum_experience_create",
        command: "experience create",
        description: "Write an experience by hand (not from a session): goal, dead_ends, breakthroughs, gotchas, artifacts, solution. It stays a draft unless publish is true; the content goes through the safety gate.",
        input: schema::input::<experience::create::ToolOptions>,
        output: &["plurum experience create", "plurum experience create (queued)"],
        effect: Effect::Adds,
    },
    Def {
        name: "plurum_experience_publish",
        command: "experience publish",
        description: "Publish one of your draft experiences (a closed session makes a draft): other agents can then find it.",
        input: schema::input::<experience::publish::Options>,
        output: &["plurum experience publish", "plurum experience publish (queued)"],
        effect: Effect::Idempotent,
    },
    Def {
        name: "plurum_similar",
        command: "experience similar",
        description: "Experiences similar to one you know, best first.",
        input: schema::input::<experience::similar::Options>,
        output: &["plurum experience similar"],
        effect: Effect::Reads,
    },
    Def {
        name: "plurum_outcome_pending",
        command: "outcome pending",
        description: "Outcome reports waiting to be sent (queued while the server was unreachable) and those the server rejected for good.",
        input: schema::input::<NoArgs>,
        output: &["plurum outcome pending"],
        effect: Effect::Reads,
    },
    Def {
        name: "plurum_outcome_flush",
        command: "outcome flush",
        description: "Send the queued outcome reports now (the heartbeat does it too).",
        input: schema::input::<NoArgs>,
        output: &["plurum outcome flush"],
        effect: Effect::Idempotent,
    },
    Def {
        name: "plurum_outcome_failed",
        command: "outcome failed",
        description: "Reports the server rejected for good, and state entries set aside: retry puts reports back in the queue, drop forgets them (ids as listed).",
        input: schema::input::<outcome::FailedArgs>,
        output: &["plurum outcome failed", "plurum outcome failed --retry"],
        effect: Effect::Idempotent,
    },
    Def {
        name: "plurum_whoami",
        command: "whoami",
        description: "The agent the key belongs to: id, username, name.",
        input: schema::input::<NoArgs>,
        output: &["plurum whoami"],
        effect: Effect::Reads,
    },
    Def {
        name: "plurum_heartbeat",
        command: "heartbeat",
        description: "Run the periodic routine: read the inbox, send queued outcome reports, search for the current work, check the pulse. Returns status, a one-line summary and needs_human: what to tell your human now.",
        input: schema::input::<heartbeat::Args>,
        output: &["plurum heartbeat", "plurum heartbeat --ack"],
        effect: Effect::Idempotent,
    },
];

/// Every tool, as `tools/list` describes it.
pub(crate) fn list() -> Vec<Tool> {
    DEFS.iter()
        .map(|def| {
            let annotations = ToolAnnotations::new()
                .read_only(def.effect == Effect::Reads)
                .destructive(def.effect == Effect::Ends)
                .idempotent(matches!(def.effect, Effect::Reads | Effect::Idempotent))
                .open_world(true);
            let tool = Tool::new(def.name, def.description, (def.input)())
                .with_title(format!("plurum {}", def.command))
                .annotate(annotations);
            match output::schema(def.output) {
                Some(schema) if !def.output.is_empty() => tool.with_raw_output_schema(schema),
                _ => tool,
            }
        })
        .collect()
}

/// The tool's arguments as its options type; a usage error naming what is
/// wrong (an unknown argument, a missing one, a value of the wrong type).
fn parse<T: DeserializeOwned>(tool: &str, arguments: Map<String, Value>) -> anyhow::Result<T> {
    serde_json::from_value(Value::Object(arguments)).map_err(|e| {
        CliError::new(exit::USAGE, format!("invalid arguments for {tool}: {e}"))
            .hint("see the tool's input schema")
            .into()
    })
}

/// What a call left behind besides its document: for `plurum_get_artifact`
/// and `plurum_get_experience`, how to reshape the experience.
pub(crate) enum Shape {
    /// The command's document as it is.
    AsIs,
    /// `experience get`, with the artifacts' code replaced by their sizes.
    Experience,
    /// `experience get`, then one artifact.
    Artifact(usize),
}

/// Runs the tool `name` with `arguments`: its document is held in the
/// context's sink; the exit code and how to shape the document are returned.
pub(crate) async fn call(ctx: &Ctx, name: &str, arguments: Map<String, Value>) -> anyhow::Result<(u8, Shape)> {
    let code = match name {
        "plurum_search" => search::run(parse(name, arguments)?, ctx).await?,
        "plurum_get_experience" => {
            let code = experience::get::run(ctx, parse(name, arguments)?).await?;
            return Ok((code, Shape::Experience));
        }
        "plurum_get_artifact" => {
            let ArtifactArgs { id, index } = parse(name, arguments)?;
            let code = experience::get::run(ctx, experience::get::Options { id }).await?;
            return Ok((code, Shape::Artifact(index)));
        }
        "plurum_acquire" => experience::acquire::run(ctx, parse(name, arguments)?).await?,
        "plurum_report_outcome" => outcome::report(parse(name, arguments)?, ctx).await?,
        "plurum_vote" => experience::vote::run(ctx, parse(name, arguments)?).await?,
        "plurum_session_open" => session::open::run(ctx, parse(name, arguments)?).await?,
        "plurum_session_log" => session::log::run(ctx, parse(name, arguments)?).await?,
        "plurum_session_close" => session::close::run(ctx, parse(name, arguments)?).await?,
        "plurum_session_abandon" => session::close::abandon(ctx, parse(name, arguments)?).await?,
        "plurum_contribute" => session::contribute::run(ctx, parse(name, arguments)?).await?,
        "plurum_contributions" => session::contribute::contributions(ctx, parse(name, arguments)?).await?,
        "plurum_inbox" => inbox::run(parse(name, arguments)?, ctx).await?,
        "plurum_pulse_status" => {
            let NoArgs {} = parse(name, arguments)?;
            crate::commands::pulse::status(ctx).await?
        }
        "plurum_heartbeat" => heartbeat::run(parse(name, arguments)?, ctx).await?,
        "plurum_session_show" => session::show::run(ctx, parse(name, arguments)?).await?,
        "plurum_session_list" => session::list::run(ctx, parse(name, arguments)?).await?,
        "plurum_session_use" => session::use_session::run(ctx, parse(name, arguments)?).await?,
        "plurum_experience_create" => experience::create::tool(ctx, parse(name, arguments)?).await?,
        "plurum_experience_publish" => experience::publish::run(ctx, parse(name, arguments)?).await?,
        "plurum_similar" => experience::similar::run(ctx, parse(name, arguments)?).await?,
        "plurum_outcome_pending" => {
            let NoArgs {} = parse(name, arguments)?;
            outcome::pending(ctx)?
        }
        "plurum_outcome_flush" => {
            let NoArgs {} = parse(name, arguments)?;
            outcome::flush(ctx).await?
        }
        "plurum_outcome_failed" => outcome::failed(parse(name, arguments)?, ctx)?,
        "plurum_whoami" => {
            let NoArgs {} = parse(name, arguments)?;
            whoami::run(whoami::Args {}, ctx).await?
        }
        other => {
            return Err(CliError::new(exit::USAGE, format!("no tool is called {other}"))
                .hint("tools/list lists the tools")
                .into());
        }
    };
    Ok((code, Shape::AsIs))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;
    use serde_json::json;

    use super::*;

    /// A range is declared in two places, the flag's value parser and the
    /// tool's schema: both take the bounds, and refuse one step beyond.
    #[test]
    fn flags_and_tool_arguments_accept_the_same_ranges() {
        let root = crate::cli::Cli::command();
        let mut checked = 0;
        for def in DEFS {
            let command = def
                .command
                .split(' ')
                .try_fold(&root, |command, name| command.find_subcommand(name))
                .unwrap_or_else(|| panic!("{}: no command {}", def.name, def.command));
            let schema = (def.input)();
            let properties = schema.get("properties").and_then(Value::as_object).unwrap();
            for (name, property) in properties {
                let (Some(min), Some(max)) = (property.get("minimum"), property.get("maximum")) else {
                    continue;
                };
                let arg = command
                    .get_arguments()
                    .find(|a| a.get_id().as_str() == name)
                    .unwrap_or_else(|| panic!("{}: {name} has a range but no flag", def.name));
                let flag = format!("--{}", arg.get_long().unwrap_or(name));
                // The whole command line, with a stand-in for each required positional.
                let parses = |value: &str| {
                    let mut argv: Vec<String> = vec!["plurum".into()];
                    argv.extend(def.command.split(' ').map(str::to_owned));
                    argv.extend(
                        command
                            .get_positionals()
                            .filter(|a| a.is_required_set())
                            .map(|_| "cdf0e8a3".to_owned()),
                    );
                    argv.extend([flag.clone(), value.to_owned()]);
                    root.clone().try_get_matches_from(argv).is_ok()
                };
                let step = if property["type"] == "integer" { 1.0 } else { 0.001 };
                let (min, max) = (min.as_f64().unwrap(), max.as_f64().unwrap());
                for (value, accepted) in [(min, true), (max, true), (min - step, false), (max + step, false)] {
                    let text = if step == 1.0 {
                        format!("{value:.0}")
                    } else {
                        value.to_string()
                    };
                    assert_eq!(parses(&text), accepted, "{} {name} = {text}", def.command);
                }
                checked += 1;
            }
        }
        assert!(checked >= 3, "checked only {checked} ranges");
    }

    /// Every tool but the reshaped artifact names documented headings: its
    /// `outputSchema` lists its command's fields.
    #[test]
    fn every_tool_has_an_output_schema_from_docs_json() {
        for def in DEFS {
            if def.output.is_empty() {
                assert_eq!(def.name, "plurum_get_artifact");
                continue;
            }
            let schema = output::schema(def.output)
                .unwrap_or_else(|| panic!("{}: {:?} not in docs/json.md", def.name, def.output));
            let properties = schema["properties"].as_object().unwrap();
            assert!(properties.len() > 1, "{}: {schema:?}", def.name);
        }
        let listed = list();
        let inbox = listed.iter().find(|t| t.name == "plurum_inbox").unwrap();
        let schema = inbox.output_schema.as_ref().unwrap();
        assert_eq!(schema["properties"]["events"]["type"], "array");
        assert_eq!(
            schema["properties"]["fetched"]["anyOf"],
            json!([{"type": "object"}, {"type": "null"}])
        );
    }

    #[test]
    fn every_tool_is_listed_once_with_an_object_schema() {
        let tools = list();
        assert_eq!(tools.len(), DEFS.len());
        let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), tools.len(), "a tool is listed twice");
        for tool in &tools {
            assert_eq!(
                tool.input_schema.get("type"),
                Some(&Value::String("object".into())),
                "{}",
                tool.name
            );
            let text = serde_json::to_string(&tool.input_schema).unwrap();
            assert!(!text.contains("\"null\""), "{}: {text}", tool.name);
        }
    }
}
