//! The guard in front of rmcp's stdio transport: every line a host sends is
//! read with a bound and checked before rmcp sees it, because rmcp drops a
//! line it cannot parse without answering, and a host waiting on that
//! line's id would wait forever.
//!
//! * A line that is not JSON (or nested deeper than 100 levels) is
//!   answered `-32700` (parse error); JSON that is not a JSON-RPC 2.0
//!   message is answered `-32600` (invalid request); a line over
//!   [`MAX_LINE`] is answered `-32600` without being kept (its first
//!   4 KiB are, to find its id).
//! * The answer carries the line's `id` when the line (or its first 4 KiB)
//!   shows one, so the waiting request is released; otherwise `id: null`,
//!   as JSON-RPC 2.0 says.
//! * Answers with an id are always sent (a host waits only on ids it sent).
//!   Answers with `id: null`, which nobody waits for, are rate-limited:
//!   [`NULL_BURST`] at once, then one a second; the rest are counted on
//!   stderr.
//!
//! Good lines go to rmcp through an in-process pipe; rmcp's output and
//! these answers share stdout a whole line at a time.

use std::time::Instant;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::sync::mpsc;

/// The longest line kept (a tool call with a large content field fits).
pub(crate) const MAX_LINE: usize = 16 * 1024 * 1024;

/// How much of an over-long line is kept to find its id.
const PREFIX: usize = 4096;

/// `id: null` answers sent at once before the rate limit applies.
const NULL_BURST: u32 = 10;

/// A line from the host, read with the bound.
#[derive(Debug, PartialEq)]
enum Line {
    /// A whole line (without its end).
    Whole(Vec<u8>),
    /// A line over [`MAX_LINE`]: its first [`PREFIX`] bytes.
    TooLong(Vec<u8>),
}

/// Reads the next line, keeping at most [`MAX_LINE`] bytes of it; `None`
/// at the end of input.
async fn next_line<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> std::io::Result<Option<Line>> {
    let mut line = Vec::new();
    let mut too_long = false;
    let mut any = false;
    loop {
        let buffer = reader.fill_buf().await?;
        if buffer.is_empty() {
            return Ok(any.then(|| finish(line, too_long)));
        }
        any = true;
        let (chunk, used, done) = match buffer.iter().position(|b| *b == b'\n') {
            Some(at) => (&buffer[..at], at + 1, true),
            None => (buffer, buffer.len(), false),
        };
        if !too_long {
            if line.len() + chunk.len() > MAX_LINE {
                too_long = true;
                let keep = PREFIX.saturating_sub(line.len()).min(chunk.len());
                line.extend_from_slice(&chunk[..keep]);
                line.truncate(PREFIX);
            } else {
                line.extend_from_slice(chunk);
            }
        }
        reader.consume(used);
        if done {
            return Ok(Some(finish(line, too_long)));
        }
    }
}

fn finish(mut line: Vec<u8>, too_long: bool) -> Line {
    if too_long {
        Line::TooLong(line)
    } else {
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Line::Whole(line)
    }
}

/// What a line is, as far as JSON-RPC goes.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// A JSON-RPC 2.0 message: for rmcp.
    Message,
    /// Blank: ignored.
    Blank,
    /// An answer to send instead (the line never reaches rmcp).
    Refused(Value),
}

/// The members of a message that decide whether it is one (the rest are
/// checked for syntax and depth, not kept).
#[derive(Deserialize)]
struct Probe {
    jsonrpc: Option<String>,
    id: Option<Value>,
    method: Option<String>,
    result: Option<IgnoredAny>,
    error: Option<IgnoredAny>,
}

fn check(line: &Line) -> Verdict {
    let bytes = match line {
        Line::TooLong(prefix) => {
            return Verdict::Refused(refusal(
                id_in_prefix(prefix),
                -32600,
                &format!("the message is longer than {} MiB", MAX_LINE / (1024 * 1024)),
            ));
        }
        Line::Whole(bytes) => bytes,
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Verdict::Blank;
    }
    if too_deep(bytes) {
        return Verdict::Refused(refusal(
            id_in_prefix(bytes),
            -32700,
            &format!("parse error: nested deeper than {MAX_DEPTH} levels"),
        ));
    }
    match serde_json::from_slice::<Probe>(bytes) {
        Ok(probe) => {
            let bad_id = probe.id.as_ref().is_some_and(|id| !id.is_string() && !id.is_number());
            let id = probe.id.filter(|id| id.is_string() || id.is_number());
            let shaped = !bad_id
                && probe.jsonrpc.as_deref() == Some("2.0")
                && (probe.method.is_some() || (id.is_some() && (probe.result.is_some() || probe.error.is_some())));
            if shaped {
                Verdict::Message
            } else {
                Verdict::Refused(refusal(
                    id,
                    -32600,
                    "not a JSON-RPC 2.0 message (jsonrpc \"2.0\" and a method, or an id with a result or error)",
                ))
            }
        }
        Err(e) if e.classify() == serde_json::error::Category::Data => Verdict::Refused(refusal(
            id_in_prefix(bytes),
            -32600,
            "not a JSON-RPC 2.0 message object",
        )),
        Err(e) => Verdict::Refused(refusal(id_in_prefix(bytes), -32700, &format!("parse error: {e}"))),
    }
}

/// The deepest nesting accepted (serde_json, which rmcp parses with,
/// stops at 128; unknown members are skipped without that check, so it is
/// made here, in one pass).
const MAX_DEPTH: usize = 100;

fn too_deep(bytes: &[u8]) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

fn refusal(id: Option<Value>, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// The `id` a line's first [`PREFIX`] bytes show (`"id": 7` or
/// `"id": "abc"`), for a line that cannot be parsed whole.
fn id_in_prefix(bytes: &[u8]) -> Option<Value> {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(PREFIX)]);
    let mut rest = text.as_ref();
    while let Some(at) = rest.find("\"id\"") {
        rest = &rest[at + 4..];
        let Some(value) = rest.trim_start().strip_prefix(':') else {
            continue;
        };
        let value = value.trim_start();
        if let Some(string) = value.strip_prefix('"') {
            let end = string.find('"')?;
            let id = &string[..end];
            return (!id.contains('\\') && id.len() <= 256).then(|| Value::String(id.to_owned()));
        }
        let number: String = value
            .chars()
            .take_while(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
            .take(32)
            .collect();
        return serde_json::from_str::<serde_json::Number>(&number)
            .ok()
            .map(Value::Number);
    }
    None
}

/// The rate limit of `id: null` answers.
#[derive(Debug)]
struct NullLimit {
    tokens: f64,
    last: Instant,
    dropped: u64,
}

impl NullLimit {
    fn new() -> Self {
        Self {
            tokens: f64::from(NULL_BURST),
            last: Instant::now(),
            dropped: 0,
        }
    }

    fn admit(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64()).min(f64::from(NULL_BURST));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            if self.dropped > 0 {
                crate::output::eprint_clean(&format!(
                    "plurum mcp: {} more unreadable line(s) left unanswered (id null, nobody waits on them)",
                    self.dropped
                ));
                self.dropped = 0;
            }
            true
        } else {
            self.dropped += 1;
            false
        }
    }
}

/// Reads the host's lines from `input`: messages go to `to_rmcp`, refusals
/// to `answers`. Ends at the end of input (closing `to_rmcp`, so rmcp ends
/// too).
pub(crate) async fn guard<R, W>(input: R, mut to_rmcp: W, answers: mpsc::Sender<Value>) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let mut nulls = NullLimit::new();
    while let Some(line) = next_line(&mut reader).await? {
        match check(&line) {
            Verdict::Blank => {}
            Verdict::Message => {
                if let Line::Whole(mut bytes) = line {
                    bytes.push(b'\n');
                    to_rmcp.write_all(&bytes).await?;
                    to_rmcp.flush().await?;
                }
            }
            Verdict::Refused(answer) => {
                if (!answer["id"].is_null() || nulls.admit()) && answers.send(answer).await.is_err() {
                    break;
                }
            }
        }
    }
    to_rmcp.shutdown().await?;
    Ok(())
}

/// Writes rmcp's output and the guard's answers to `output`, a whole line
/// at a time, until both are done.
pub(crate) async fn merge<R, W>(from_rmcp: R, mut answers: mpsc::Receiver<Value>, mut output: W) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut lines = BufReader::new(from_rmcp).lines();
    let (mut rmcp_open, mut answers_open) = (true, true);
    while rmcp_open || answers_open {
        tokio::select! {
            line = lines.next_line(), if rmcp_open => match line? {
                Some(line) => {
                    output.write_all(line.as_bytes()).await?;
                    output.write_all(b"\n").await?;
                    output.flush().await?;
                }
                None => rmcp_open = false,
            },
            answer = answers.recv(), if answers_open => match answer {
                Some(answer) => {
                    output.write_all(answer.to_string().as_bytes()).await?;
                    output.write_all(b"\n").await?;
                    output.flush().await?;
                }
                None => answers_open = false,
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(text: &str) -> Verdict {
        check(&Line::Whole(text.as_bytes().to_vec()))
    }

    fn refused(text: &str) -> (Value, i64) {
        match verdict(text) {
            Verdict::Refused(answer) => (answer["id"].clone(), answer["error"]["code"].as_i64().unwrap()),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn every_bad_line_is_answered_with_the_id_it_shows() {
        assert_eq!(
            verdict(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
            Verdict::Message
        );
        assert_eq!(
            verdict(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            Verdict::Message
        );
        assert_eq!(verdict(r#"{"jsonrpc":"2.0","id":"a","result":{}}"#), Verdict::Message);
        assert_eq!(verdict("   "), Verdict::Blank);
        assert_eq!(refused("not json"), (Value::Null, -32700));
        assert_eq!(
            refused(r#"{"jsonrpc":"2.0","id":7,"method":"x","params":{"#),
            (json!(7), -32700)
        );
        assert_eq!(
            refused(r#"{"jsonrpc":"2.0","id":"q-1","method":"#),
            (json!("q-1"), -32700)
        );
        assert_eq!(refused(r#"{"id":3,"method":"tools/list"}"#), (json!(3), -32600));
        assert_eq!(refused(r#"[1,2,3]"#), (Value::Null, -32600));
        assert_eq!(
            refused(r#"{"jsonrpc":"2.0","id":{"a":1},"method":"x"}"#),
            (Value::Null, -32600)
        );
        let deep = format!(
            r#"{{"jsonrpc":"2.0","id":9,"method":"x","params":{}{}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(refused(&deep), (json!(9), -32700));
        let fine = format!(
            r#"{{"jsonrpc":"2.0","id":9,"method":"x","params":{}"[[[{{{{"{}}}"#,
            "[".repeat(90),
            "]".repeat(90)
        );
        assert_eq!(verdict(&fine), Verdict::Message);
    }

    #[tokio::test]
    async fn lines_are_bounded_and_an_over_long_one_keeps_its_prefix() {
        let mut input = br#"{"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"x":""#.to_vec();
        input.extend(std::iter::repeat_n(b'a', MAX_LINE + 10));
        input.extend_from_slice(b"\"}}\r\n{\"jsonrpc\":\"2.0\",\"id\":43,\"method\":\"ping\"}\r\n");
        let mut reader = BufReader::new(&input[..]);
        let first = next_line(&mut reader).await.unwrap().unwrap();
        let Line::TooLong(prefix) = &first else {
            panic!("kept whole")
        };
        assert_eq!(prefix.len(), PREFIX);
        assert_eq!(refused_line(&first), (json!(42), -32600));
        let second = next_line(&mut reader).await.unwrap().unwrap();
        assert_eq!(check(&second), Verdict::Message);
        assert_eq!(next_line(&mut reader).await.unwrap(), None);
    }

    fn refused_line(line: &Line) -> (Value, i64) {
        match check(line) {
            Verdict::Refused(answer) => (answer["id"].clone(), answer["error"]["code"].as_i64().unwrap()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn null_answers_are_rate_limited() {
        let mut limit = NullLimit::new();
        let sent = (0..1000).filter(|_| limit.admit()).count();
        assert_eq!(sent, NULL_BURST as usize);
        assert_eq!(limit.dropped, 1000 - u64::from(NULL_BURST));
    }
}
