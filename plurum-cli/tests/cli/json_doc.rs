//! docs/json.md as data: its shape and command tables, and a checker that
//! holds documents to them (every documented field there with its type,
//! every top-level member of a command documented).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// One documented field.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub optional: bool,
    pub kind: String,
}

/// docs/json.md, parsed.
#[derive(Debug, Default)]
pub struct JsonDoc {
    pub shapes: BTreeMap<String, Vec<Field>>,
    pub commands: BTreeMap<String, Vec<Field>>,
    /// Commands whose document is one shape (`Type: \`Session\``): an
    /// object from the API, which may carry more than the shape lists.
    pub typed: BTreeMap<String, String>,
    /// Command headings without a table (streams, completions).
    pub untabled: BTreeSet<String>,
}

impl JsonDoc {
    pub fn load() -> Self {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/json.md");
        Self::parse(&std::fs::read_to_string(path).expect("docs/json.md"))
    }

    pub fn parse(text: &str) -> Self {
        let mut doc = Self::default();
        let mut section = "";
        let mut heading: Option<String> = None;
        let mut fields: Vec<Field> = Vec::new();
        let flush = |doc: &mut Self, section: &str, heading: Option<String>, fields: &mut Vec<Field>| {
            let Some(name) = heading else { return };
            let taken = std::mem::take(fields);
            match section {
                "Shapes" => {
                    assert!(!taken.is_empty(), "shape {name} has no table");
                    doc.shapes.insert(name, taken);
                }
                "Commands" if taken.is_empty() && !doc.typed.contains_key(&name) => {
                    doc.untabled.insert(name);
                }
                "Commands" if taken.is_empty() => {}
                "Commands" => {
                    doc.commands.insert(name, taken);
                }
                _ => {}
            }
        };
        for line in text.lines() {
            if let Some(name) = line.strip_prefix("## ") {
                flush(&mut doc, section, heading.take(), &mut fields);
                section = if name == "Shapes" {
                    "Shapes"
                } else if name == "Commands" {
                    "Commands"
                } else {
                    ""
                };
            } else if let Some(name) = line.strip_prefix("### ") {
                flush(&mut doc, section, heading.take(), &mut fields);
                let name = name.trim();
                heading = Some(name.strip_prefix("plurum ").unwrap_or(name).to_owned());
            } else if let (Some(rest), Some(name), "Commands") = (line.strip_prefix("Type: `"), &heading, section) {
                let kind = rest.split('`').next().unwrap_or_default();
                doc.typed.insert(name.clone(), kind.to_owned());
            } else if line.starts_with("| `") && heading.is_some() {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let name = cells[1].trim_matches('`');
                let (name, optional) = match name.strip_suffix('?') {
                    Some(name) => (name, true),
                    None => (name, false),
                };
                fields.push(Field {
                    name: name.to_owned(),
                    optional,
                    kind: cells[2].to_owned(),
                });
            }
        }
        flush(&mut doc, section, heading.take(), &mut fields);
        doc
    }

    /// Checks `value` against a type of the doc (`string`, `Session[]`,
    /// `string or null`, ...); records the shape fields seen.
    pub fn check_type(
        &self,
        value: &Value,
        kind: &str,
        at: &str,
        seen: &mut BTreeSet<(String, String)>,
    ) -> Result<(), String> {
        let mut problems = Vec::new();
        for alternative in kind.split(" or ").map(str::trim) {
            match self.check_one(value, alternative, at, seen) {
                Ok(()) => return Ok(()),
                Err(problem) => problems.push(problem),
            }
        }
        Err(problems.join("; "))
    }

    fn check_one(
        &self,
        value: &Value,
        kind: &str,
        at: &str,
        seen: &mut BTreeSet<(String, String)>,
    ) -> Result<(), String> {
        if let Some(item) = kind.strip_suffix("[]") {
            let items = value
                .as_array()
                .ok_or_else(|| format!("{at}: {value} is not an array"))?;
            for (i, element) in items.iter().enumerate() {
                self.check_type(element, item, &format!("{at}[{i}]"), seen)?;
            }
            return Ok(());
        }
        let basic = match kind {
            "string" => Some(value.is_string()),
            "integer" => Some(value.is_i64() || value.is_u64()),
            "number" => Some(value.is_number()),
            "boolean" => Some(value.is_boolean()),
            "object" => Some(value.is_object()),
            "array" => Some(value.is_array()),
            "null" => Some(value.is_null()),
            _ => None,
        };
        if let Some(ok) = basic {
            return if ok {
                Ok(())
            } else {
                Err(format!("{at}: {value} is not {kind}"))
            };
        }
        let fields = self
            .shapes
            .get(kind)
            .unwrap_or_else(|| panic!("{at}: docs/json.md uses the unknown type {kind:?}"));
        if !value.is_object() {
            return Err(format!("{at}: {value} is not a {kind}"));
        }
        self.check_fields(value, fields, at, kind, seen)
    }

    /// Checks the fields of an object.
    pub fn check_fields(
        &self,
        value: &Value,
        fields: &[Field],
        at: &str,
        owner: &str,
        seen: &mut BTreeSet<(String, String)>,
    ) -> Result<(), String> {
        for field in fields {
            let here = format!("{at}.{}", field.name);
            match value.get(&field.name) {
                None if field.optional => {}
                None => return Err(format!("{here}: missing (documented in {owner})")),
                Some(inner) => {
                    self.check_type(inner, &field.kind, &here, seen)?;
                    seen.insert((owner.to_owned(), field.name.clone()));
                }
            }
        }
        Ok(())
    }
}

#[test]
fn the_doc_parses_into_shapes_and_commands() {
    let doc = JsonDoc::load();
    for shape in [
        "Error",
        "Session",
        "Event",
        "KeptEvent",
        "Experience",
        "ExperienceDetail",
    ] {
        assert!(doc.shapes.contains_key(shape), "no shape {shape}");
    }
    assert!(
        doc.commands.len() + doc.typed.len() > 40,
        "{} command tables",
        doc.commands.len() + doc.typed.len()
    );
    for kind in doc.typed.values() {
        assert!(doc.shapes.contains_key(kind), "unknown type {kind:?} in docs/json.md");
    }
    // Every type a table names exists.
    let mut kinds = BTreeSet::new();
    for fields in doc.shapes.values().chain(doc.commands.values()) {
        for field in fields {
            for alternative in field.kind.split(" or ") {
                kinds.insert(alternative.trim().trim_end_matches("[]").to_owned());
            }
        }
    }
    let basic = ["string", "integer", "number", "boolean", "object", "array", "null"];
    for kind in kinds {
        assert!(
            basic.contains(&kind.as_str()) || doc.shapes.contains_key(&kind),
            "unknown type {kind:?} in docs/json.md"
        );
    }
}
