//! Each tool's `outputSchema`, read from docs/json.md: the one declaration
//! of what every command prints (the CLI's contract test holds real output
//! to the same tables). A tool's structured result is its command's
//! `--json` document, so its schema is that command's table: each field
//! with its JSON type (several as `anyOf` branches), shapes (`Session`,
//! `KeptEvent[]`) as objects, plus the `error` member a failed call
//! carries.
//!
//! No field is `required`: a failed call's result (`isError`) is
//! `{"error": {...}}`, and a host that validates it must not reject it. The
//! types and the list of properties are what a host learns.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use rmcp::model::JsonObject;
use serde_json::{Map, Value, json};

/// docs/json.md, as shipped in the crate.
const JSON_MD: &str = include_str!("../../docs/json.md");

/// One documented field: its name and its type as written.
#[derive(Debug, Clone)]
struct Field {
    name: String,
    kind: String,
    meaning: String,
}

/// The tables of docs/json.md by heading (`Session`, `plurum inbox`), and
/// the commands whose document is one shape (`Type: \`Session\``).
#[derive(Debug, Default)]
struct Tables {
    fields: BTreeMap<String, Vec<Field>>,
    typed: BTreeMap<String, String>,
}

static TABLES: LazyLock<Tables> = LazyLock::new(|| parse(JSON_MD));

fn parse(text: &str) -> Tables {
    let mut tables = Tables::default();
    let mut heading: Option<String> = None;
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("### ") {
            heading = Some(name.trim().to_owned());
        } else if line.starts_with("## ") {
            heading = None;
        } else if let (Some(rest), Some(name)) = (line.strip_prefix("Type: `"), &heading) {
            let kind = rest.split('`').next().unwrap_or_default();
            tables.typed.insert(name.clone(), kind.to_owned());
        } else if let (true, Some(name)) = (line.starts_with("| `"), &heading) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if cells.len() < 4 {
                continue;
            }
            let field = cells[1].trim_matches('`').trim_end_matches('?');
            tables.fields.entry(name.clone()).or_default().push(Field {
                name: field.to_owned(),
                kind: cells[2].to_owned(),
                meaning: cells[3].to_owned(),
            });
        }
    }
    tables
}

/// The JSON schema of a documented type (`string or null`, `KeptEvent[]`,
/// `Session`); `None` when it may be anything.
fn type_schema(kind: &str) -> Option<Value> {
    let mut types: Vec<&str> = Vec::new();
    let mut items: Option<&str> = None;
    for part in kind.split(" or ") {
        let part = part.trim();
        let json = match part {
            "string" | "integer" | "number" | "boolean" | "object" | "array" | "null" => part,
            list if list.ends_with("[]") => {
                items = Some(list.trim_end_matches("[]"));
                "array"
            }
            // A shape of docs/json.md (Session, Flush, ...).
            shape if shape.chars().next().is_some_and(char::is_uppercase) => "object",
            _ => return None,
        };
        if !types.contains(&json) {
            types.push(json);
        }
    }
    // One type per schema: several become `anyOf` branches (a `type`
    // array is legal but less portable, the MCP Inspector warns).
    let branch = |kind: &str| {
        let mut schema = Map::new();
        schema.insert("type".into(), json!(kind));
        if let (Some(items), "array") = (items, kind)
            && let Some(inner) = type_schema(items)
        {
            schema.insert("items".into(), inner);
        }
        Value::Object(schema)
    };
    match types.as_slice() {
        [] => None,
        [one] => Some(branch(one)),
        many => Some(json!({"anyOf": many.iter().map(|k| branch(k)).collect::<Vec<_>>()})),
    }
}

/// The fields a heading documents: its table, or the shape it names.
fn fields_of(heading: &str) -> Option<&'static [Field]> {
    let tables = &*TABLES;
    if let Some(fields) = tables.fields.get(heading) {
        return Some(fields);
    }
    let shape = tables.typed.get(heading)?;
    tables.fields.get(shape.as_str()).map(Vec::as_slice)
}

/// The `outputSchema` of a tool whose result is the document of these
/// docs/json.md headings (several when the command prints one of several
/// documents); `None` when a heading is not documented.
pub(crate) fn schema(headings: &[&str]) -> Option<Arc<JsonObject>> {
    let mut properties = Map::new();
    for heading in headings {
        for field in fields_of(heading)? {
            let mut property = type_schema(&field.kind)
                .and_then(|v| v.as_object().cloned())
                .unwrap_or_default();
            if !field.meaning.is_empty() {
                property.insert("description".into(), json!(field.meaning));
            }
            properties.entry(field.name.clone()).or_insert(Value::Object(property));
        }
    }
    properties.insert(
        "error".into(),
        json!({
            "type": "object",
            "description": "present when the call failed (isError): {code, message, hint, status?, details?}, as docs/json.md's Error",
        }),
    );
    let mut schema = JsonObject::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    Some(Arc::new(schema))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_of_the_document_become_json_schema_types() {
        assert_eq!(type_schema("string"), Some(json!({"type": "string"})));
        assert_eq!(
            type_schema("string or null"),
            Some(json!({"anyOf": [{"type": "string"}, {"type": "null"}]}))
        );
        assert_eq!(
            type_schema("KeptEvent[]"),
            Some(json!({"type": "array", "items": {"type": "object"}}))
        );
        assert_eq!(
            type_schema("Flush or null"),
            Some(json!({"anyOf": [{"type": "object"}, {"type": "null"}]}))
        );
        assert_eq!(type_schema("1"), None, "not a type: anything goes");
    }

    #[test]
    fn a_typed_command_takes_its_shapes_fields() {
        let whoami = schema(&["plurum whoami"]).expect("documented as Type: `Agent`");
        let properties = whoami["properties"].as_object().unwrap();
        assert!(
            properties.contains_key("username") && properties.contains_key("id"),
            "{whoami:?}"
        );
        assert!(schema(&["plurum no such command"]).is_none());
    }
}
