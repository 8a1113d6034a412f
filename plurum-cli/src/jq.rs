//! `--jq EXPR`: pick fields out of a command's JSON with a jq filter (the
//! jaq implementation), as `gh --jq` does, for agents without jq installed.
//! Strings print raw (one per line), anything else as compact JSON.

use jaq_core::data::JustLut;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, unwrap_valr};
use jaq_json::Val;
use serde_json::Value;

/// A compiled filter.
#[derive(Clone)]
pub(crate) struct Filter {
    expr: String,
    filter: std::sync::Arc<jaq_core::Filter<JustLut<Val>>>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Filter").field(&self.expr).finish()
    }
}

impl Filter {
    /// Compiles `expr`; the error says what is wrong with it.
    pub(crate) fn compile(expr: &str) -> Result<Self, String> {
        let arena = Arena::default();
        let defs = jaq_core::defs().chain(jaq_std::defs()).chain(jaq_json::defs());
        let loader = Loader::new(defs);
        let program = File { code: expr, path: () };
        let modules = loader
            .load(&arena, program)
            .map_err(|errors| format!("--jq {expr:?} does not parse ({} error(s))", errors.len()))?;
        let funs = jaq_core::funs().chain(jaq_std::funs()).chain(jaq_json::funs());
        let filter = Compiler::default().with_funs(funs).compile(modules).map_err(|errors| {
            let names: Vec<String> = errors
                .iter()
                .flat_map(|(_, errs)| errs.iter().map(|(name, _)| name.to_string()))
                .collect();
            format!("--jq {expr:?} does not compile (unknown: {})", names.join(", "))
        })?;
        Ok(Self {
            expr: expr.to_owned(),
            filter: std::sync::Arc::new(filter),
        })
    }

    /// The lines `--jq` prints for `value`: each output of the filter, a
    /// string raw, anything else as compact JSON.
    pub(crate) fn lines(&self, value: &Value) -> Result<Vec<String>, String> {
        let input = jaq_json::read::parse_single(value.to_string().as_bytes())
            .map_err(|e| format!("--jq {:?}: the document did not convert: {e}", self.expr))?;
        let ctx = Ctx::<JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        let mut lines = Vec::new();
        for output in self.filter.id.run((ctx, input)).map(unwrap_valr) {
            let output = output.map_err(|e| format!("--jq {:?} failed: {e}", self.expr))?;
            lines.push(match output {
                Val::TStr(text) => String::from_utf8_lossy(&text).into_owned(),
                other => other.to_string(),
            });
        }
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_print_raw_and_the_rest_as_json() {
        let doc =
            json!({"results": [{"short_id": "cdf0e8a3", "quality": 0.5}, {"short_id": "e7c56d78", "quality": 0.9}]});
        let lines = Filter::compile(".results[0].short_id").unwrap().lines(&doc).unwrap();
        assert_eq!(lines, ["cdf0e8a3"]);
        let lines = Filter::compile(".results[] | select(.quality > 0.6) | {id: .short_id}")
            .unwrap()
            .lines(&doc)
            .unwrap();
        assert_eq!(lines, [r#"{"id":"e7c56d78"}"#]);
        assert_eq!(
            Filter::compile(".results | length").unwrap().lines(&doc).unwrap(),
            ["2"]
        );
        assert!(Filter::compile(".results[").is_err());
        assert!(Filter::compile("nosuchfunction").is_err());
        assert!(Filter::compile(".a | error(\"boom\")").unwrap().lines(&doc).is_err());
    }

    #[test]
    fn missing_fields_are_null_as_in_jq() {
        let filter = Filter::compile(".results[0].short_id").unwrap();
        assert_eq!(filter.lines(&json!({"results": []})).unwrap(), ["null"]);
        assert_eq!(filter.lines(&json!({})).unwrap(), ["null"]);
        assert_eq!(filter.lines(&json!({"results": null})).unwrap(), ["null"]);
    }
}
