//! The JSON schemas of the tools, derived from the commands' options types
//! and made plain enough for every MCP host: an optional argument is simply
//! not required (no `["integer", "null"]`, which some hosts send as a
//! string), only standard formats, enums for closed sets, ranges as
//! `minimum`/`maximum`, every subschema inlined, no title or description at
//! the top.

use std::sync::Arc;

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// The formats of JSON Schema 2020-12 a validator knows.
const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// The input schema of a tool whose arguments are `T`.
pub(crate) fn input<T: JsonSchema>() -> Arc<JsonObject> {
    let mut settings = SchemaSettings::draft2020_12();
    settings.inline_subschemas = true;
    settings.meta_schema = None;
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut value = schema.to_value();
    plain(&mut value);
    if let Value::Object(members) = &mut value {
        members.remove("title");
        members.remove("description");
        members.remove("$defs");
        members
            .entry("type")
            .or_insert_with(|| Value::String("object".to_owned()));
        members.entry("properties").or_insert_with(|| Value::Object(Map::new()));
        Arc::new(members.clone())
    } else {
        Arc::new(Map::new())
    }
}

/// Rewrites a schema in place, recursively: no `null` alternatives, only
/// standard formats.
fn plain(value: &mut Value) {
    let Value::Object(members) = value else {
        if let Value::Array(items) = value {
            items.iter_mut().for_each(plain);
        }
        return;
    };
    // `"type": ["integer", "null"]` -> `"type": "integer"`.
    if let Some(Value::Array(types)) = members.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            members.insert("type".to_owned(), only);
        }
    }
    // `anyOf: [{...}, {"type": "null"}]` -> the one alternative.
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alternatives)) = members.get_mut(key) {
            alternatives.retain(|a| a.get("type") != Some(&Value::String("null".to_owned())));
            if alternatives.len() == 1 {
                let Some(Value::Object(only)) = alternatives.pop() else {
                    continue;
                };
                members.remove(key);
                for (k, v) in only {
                    members.entry(k).or_insert(v);
                }
            }
        }
    }
    if let Some(Value::Array(values)) = members.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    if members.get("default").is_some_and(Value::is_null) {
        members.remove("default");
    }
    if let Some(Value::String(format)) = members.get("format")
        && !STANDARD_FORMATS.contains(&format.as_str())
    {
        members.remove("format");
    }
    for child in members.values_mut() {
        plain(child);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(schemars::JsonSchema)]
    #[allow(dead_code)]
    struct Example {
        /// A count.
        #[schemars(range(min = 1, max = 50))]
        limit: Option<u32>,
        /// A score.
        score: Option<f64>,
        /// Required text.
        text: String,
    }

    #[test]
    fn optional_arguments_are_plain_types_that_are_not_required() {
        let schema = Value::Object((*input::<Example>()).clone());
        assert_eq!(schema["type"], "object");
        assert!(schema.get("title").is_none() && schema.get("$schema").is_none());
        assert_eq!(schema["properties"]["limit"]["type"], "integer");
        assert_eq!(schema["properties"]["limit"]["minimum"], 1);
        assert_eq!(schema["properties"]["limit"]["maximum"], 50);
        assert!(schema["properties"]["limit"].get("format").is_none());
        assert_eq!(schema["properties"]["score"]["type"], "number");
        assert_eq!(schema["required"], json!(["text"]));
    }
}
