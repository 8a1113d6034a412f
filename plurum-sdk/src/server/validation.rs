//! Request validation with the real server's 422 items (Pydantic's shape:
//! `{"type", "loc", "msg", "input", "ctx"?}`), so clients see the same errors.

use serde_json::{Map, Value, json};

use super::error::{Failure, Outcome};

/// The body as an object, or the 422 a missing or non-object body gets.
pub(crate) fn body_object(body: Option<&Value>) -> Outcome<&Map<String, Value>> {
    match body {
        None => Err(Failure::Validation(vec![json!({
            "type": "missing", "loc": ["body"], "msg": "Field required", "input": null
        })])),
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(Failure::Validation(vec![json!({
            "type": "model_attributes_type",
            "loc": ["body"],
            "msg": "Input should be a valid dictionary or object to extract fields from",
            "input": other
        })])),
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Reads and checks the fields of a body or a query string, collecting every problem.
pub(crate) struct Fields<'a> {
    prefix: Vec<Value>,
    lenient: bool,
    map: &'a Map<String, Value>,
    errors: Vec<Value>,
}

impl<'a> Fields<'a> {
    /// Fields of a JSON body.
    pub(crate) fn body(map: &'a Map<String, Value>) -> Self {
        Self {
            prefix: vec![json!("body")],
            lenient: false,
            map,
            errors: Vec::new(),
        }
    }

    /// Fields of a query string (values are strings and parsed leniently).
    pub(crate) fn query(map: &'a Map<String, Value>) -> Self {
        Self {
            prefix: vec![json!("query")],
            lenient: true,
            map,
            errors: Vec::new(),
        }
    }

    fn loc(&self, tail: &[Value]) -> Value {
        let mut loc = self.prefix.clone();
        loc.extend_from_slice(tail);
        Value::Array(loc)
    }

    fn error(&mut self, kind: &str, name: &str, message: String, input: &Value, ctx: Option<Value>) {
        let mut item = json!({"type": kind, "loc": self.loc(&[json!(name)]), "msg": message, "input": input});
        if let Some(ctx) = ctx {
            item["ctx"] = ctx;
        }
        self.errors.push(item);
    }

    fn missing(&mut self, name: &str) {
        let input = Value::Object(self.map.clone());
        self.error("missing", name, "Field required".to_owned(), &input, None);
    }

    fn present(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// For a field that may be absent but not null: an explicit null is
    /// the type error `kind` (as Pydantic says of a non-Optional field).
    fn null_refused(&mut self, name: &str, kind: &str, message: &str) -> bool {
        if self.map.get(name).is_some_and(Value::is_null) {
            self.error(kind, name, message.to_owned(), &Value::Null, None);
            return true;
        }
        false
    }

    fn check_len(&mut self, name: &str, value: &Value, text: &str, min: usize, max: Option<usize>) -> bool {
        let len = text.chars().count();
        if len < min {
            self.error(
                "string_too_short",
                name,
                format!("String should have at least {}", plural(min as u64, "character")),
                value,
                Some(json!({"min_length": min})),
            );
            return false;
        }
        if let Some(max) = max
            && len > max
        {
            self.error(
                "string_too_long",
                name,
                format!("String should have at most {}", plural(max as u64, "character")),
                value,
                Some(json!({"max_length": max})),
            );
            return false;
        }
        true
    }

    /// A required string of `min..=max` characters.
    pub(crate) fn string(&mut self, name: &str, min: usize, max: Option<usize>) -> Option<String> {
        match self.map.get(name) {
            None => {
                self.missing(name);
                None
            }
            Some(value) => self.string_value(name, value, min, max),
        }
    }

    /// An optional string (absent or null is `None`).
    pub(crate) fn opt_string(&mut self, name: &str, max: Option<usize>) -> Option<String> {
        let value = self.present(name)?;
        self.string_value(name, value, 0, max)
    }

    fn string_value(&mut self, name: &str, value: &Value, min: usize, max: Option<usize>) -> Option<String> {
        match value {
            Value::String(text) => self.check_len(name, value, text, min, max).then(|| text.clone()),
            _ => {
                self.error(
                    "string_type",
                    name,
                    "Input should be a valid string".to_owned(),
                    value,
                    None,
                );
                None
            }
        }
    }

    /// A list of strings; absent is empty.
    pub(crate) fn string_list(&mut self, name: &str) -> Vec<String> {
        match self.map.get(name) {
            None => Vec::new(),
            Some(value) => self.string_list_value(name, value).unwrap_or_default(),
        }
    }

    /// A list of UUIDs (Pydantic's `list[UUID]`); absent or null is `None`.
    pub(crate) fn opt_uuid_list(&mut self, name: &str) -> Option<Vec<String>> {
        let value = self.present(name)?;
        let Value::Array(items) = value else {
            self.error(
                "list_type",
                name,
                "Input should be a valid list".to_owned(),
                value,
                None,
            );
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let loc = self.loc(&[json!(name), json!(i)]);
            match item {
                Value::String(text) => match uuid::Uuid::try_parse(text.trim()) {
                    Ok(uuid) => out.push(uuid.to_string()),
                    Err(e) => {
                        ok = false;
                        self.errors.push(json!({
                            "type": "uuid_parsing", "loc": loc,
                            "msg": format!("Input should be a valid UUID, {}", uuid_reason(&e)),
                            "input": item, "ctx": {"error": uuid_reason(&e)}
                        }));
                    }
                },
                other => {
                    ok = false;
                    self.errors.push(json!({
                        "type": "uuid_type", "loc": loc,
                        "msg": "UUID input should be a string, bytes or UUID object", "input": other
                    }));
                }
            }
        }
        ok.then_some(out)
    }

    /// An optional list of strings (absent or null is `None`).
    pub(crate) fn opt_string_list(&mut self, name: &str) -> Option<Vec<String>> {
        let value = self.present(name)?;
        self.string_list_value(name, value)
    }

    fn string_list_value(&mut self, name: &str, value: &Value) -> Option<Vec<String>> {
        let Value::Array(items) = value else {
            self.error(
                "list_type",
                name,
                "Input should be a valid list".to_owned(),
                value,
                None,
            );
            return None;
        };
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(text) => out.push(text.clone()),
                other => {
                    ok = false;
                    let loc = self.loc(&[json!(name), json!(i)]);
                    self.errors.push(json!({
                        "type": "string_type", "loc": loc,
                        "msg": "Input should be a valid string", "input": other
                    }));
                }
            }
        }
        ok.then_some(out)
    }

    /// One of a fixed set of strings (Pydantic's enum error); absent gives `default`.
    pub(crate) fn choice(&mut self, name: &str, allowed: &[&str], default: Option<&str>) -> Option<String> {
        let Some(value) = self.map.get(name) else {
            if default.is_none() {
                self.missing(name);
            }
            return default.map(str::to_owned);
        };
        match value.as_str() {
            Some(text) if allowed.contains(&text) => Some(text.to_owned()),
            _ => {
                let expected = match allowed {
                    [] => String::new(),
                    [one] => format!("'{one}'"),
                    [init @ .., last] => format!(
                        "{} or '{last}'",
                        init.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", ")
                    ),
                };
                self.error(
                    "enum",
                    name,
                    format!("Input should be {expected}"),
                    value,
                    Some(json!({ "expected": expected })),
                );
                None
            }
        }
    }

    /// A string matching `^(a|b|c)$` (Pydantic's pattern error). `required`:
    /// absence is an error; `nullable`: null is allowed (as absence).
    pub(crate) fn pattern(&mut self, name: &str, allowed: &[&str], required: bool, nullable: bool) -> Option<String> {
        let Some(value) = self.map.get(name).filter(|v| !(nullable && v.is_null())) else {
            if required {
                self.missing(name);
            }
            return None;
        };
        let pattern = format!("^({})$", allowed.join("|"));
        match value.as_str() {
            Some(text) if allowed.contains(&text) => Some(text.to_owned()),
            Some(_) => {
                self.error(
                    "string_pattern_mismatch",
                    name,
                    format!("String should match pattern '{pattern}'"),
                    value,
                    Some(json!({ "pattern": pattern })),
                );
                None
            }
            None => {
                self.error(
                    "string_type",
                    name,
                    "Input should be a valid string".to_owned(),
                    value,
                    None,
                );
                None
            }
        }
    }

    /// A boolean; absent gives `default` (null is an error). Pydantic's lax
    /// mode: `true`/`false`, 0 and 1, and the strings it knows.
    pub(crate) fn boolean(&mut self, name: &str, default: bool) -> bool {
        let Some(value) = self.map.get(name) else {
            return default;
        };
        match value {
            Value::Bool(b) => *b,
            Value::Number(n) if n.as_f64() == Some(1.0) => true,
            Value::Number(n) if n.as_f64() == Some(0.0) => false,
            Value::String(s) if matches!(s.to_ascii_lowercase().as_str(), "true" | "1" | "yes" | "on" | "t" | "y") => {
                true
            }
            Value::String(s)
                if matches!(
                    s.to_ascii_lowercase().as_str(),
                    "false" | "0" | "no" | "off" | "f" | "n"
                ) =>
            {
                false
            }
            other @ (Value::String(_) | Value::Number(_)) => {
                self.error(
                    "bool_parsing",
                    name,
                    "Input should be a valid boolean, unable to interpret input".to_owned(),
                    other,
                    None,
                );
                default
            }
            other => {
                self.error(
                    "bool_type",
                    name,
                    "Input should be a valid boolean".to_owned(),
                    other,
                    None,
                );
                default
            }
        }
    }

    /// A required boolean.
    pub(crate) fn required_boolean(&mut self, name: &str) -> Option<bool> {
        if !self.map.contains_key(name) {
            self.missing(name);
            return None;
        }
        let before = self.errors.len();
        let value = self.boolean(name, false);
        (self.errors.len() == before).then_some(value)
    }

    /// An integer in `min..=max`; absent gives `default`; null is an error
    /// unless `nullable`.
    pub(crate) fn integer(
        &mut self,
        name: &str,
        default: Option<i64>,
        min: Option<i64>,
        max: Option<i64>,
    ) -> Option<i64> {
        if self.null_refused(name, "int_type", "Input should be a valid integer") {
            return None;
        }
        self.opt_integer(name, default, min, max)
    }

    /// An integer that may be null (`Optional[int]`).
    pub(crate) fn opt_integer(
        &mut self,
        name: &str,
        default: Option<i64>,
        min: Option<i64>,
        max: Option<i64>,
    ) -> Option<i64> {
        let Some(value) = self.present(name) else {
            return default;
        };
        let parsed = match value {
            Value::Number(n) => match n.as_i64() {
                Some(i) => Ok(i),
                None => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(f as i64),
                    Some(_) => Err((
                        "int_from_float",
                        "Input should be a valid integer, got a number with a fractional part",
                    )),
                    None => Err(("int_type", "Input should be a valid integer")),
                },
            },
            Value::String(s) => s.trim().parse::<i64>().map_err(|_| {
                (
                    "int_parsing",
                    "Input should be a valid integer, unable to parse string as an integer",
                )
            }),
            _ => Err(("int_type", "Input should be a valid integer")),
        };
        let number = match parsed {
            Ok(number) => number,
            Err((kind, message)) => {
                self.error(kind, name, message.to_owned(), value, None);
                return None;
            }
        };
        if let Some(min) = min
            && number < min
        {
            self.error(
                "greater_than_equal",
                name,
                format!("Input should be greater than or equal to {min}"),
                value,
                Some(json!({ "ge": min })),
            );
            return None;
        }
        if let Some(max) = max
            && number > max
        {
            self.error(
                "less_than_equal",
                name,
                format!("Input should be less than or equal to {max}"),
                value,
                Some(json!({ "le": max })),
            );
            return None;
        }
        Some(number)
    }

    /// A number in `min..=max`; absent gives `default`; null is an error.
    pub(crate) fn number(&mut self, name: &str, default: Option<f64>, min: f64, max: f64) -> Option<f64> {
        if self.null_refused(name, "float_type", "Input should be a valid number") {
            return None;
        }
        self.opt_number(name, default, min, max)
    }

    /// A number that may be null (`Optional[float]`).
    pub(crate) fn opt_number(&mut self, name: &str, default: Option<f64>, min: f64, max: f64) -> Option<f64> {
        let Some(value) = self.present(name) else {
            return default;
        };
        let parsed = match value {
            Value::Number(n) => n
                .as_f64()
                .filter(|f| f.is_finite())
                .ok_or(("finite_number", "Input should be a finite number")),
            Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()).ok_or((
                "float_parsing",
                "Input should be a valid number, unable to parse string as a number",
            )),
            _ => Err(("float_type", "Input should be a valid number")),
        };
        let number = match parsed {
            Ok(number) => number,
            Err((kind, message)) => {
                self.error(kind, name, message.to_owned(), value, None);
                return None;
            }
        };
        if number < min {
            self.error(
                "greater_than_equal",
                name,
                format!("Input should be greater than or equal to {min}"),
                value,
                Some(json!({ "ge": min })),
            );
            return None;
        }
        if number > max {
            self.error(
                "less_than_equal",
                name,
                format!("Input should be less than or equal to {max}"),
                value,
                Some(json!({ "le": max })),
            );
            return None;
        }
        Some(number)
    }

    /// A required JSON object.
    pub(crate) fn object(&mut self, name: &str) -> Option<Map<String, Value>> {
        match self.map.get(name) {
            None => {
                self.missing(name);
                None
            }
            Some(Value::Object(map)) => Some(map.clone()),
            Some(other) => {
                self.error(
                    "dict_type",
                    name,
                    "Input should be a valid dictionary".to_owned(),
                    other,
                    None,
                );
                None
            }
        }
    }

    /// An optional JSON object.
    pub(crate) fn opt_object(&mut self, name: &str) -> Option<Map<String, Value>> {
        match self.present(name)? {
            Value::Object(map) => Some(map.clone()),
            other => {
                self.error(
                    "dict_type",
                    name,
                    "Input should be a valid dictionary".to_owned(),
                    other,
                    None,
                );
                None
            }
        }
    }

    /// Whether the field was sent at all (null included).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }

    /// The raw value of a field, if present and not null.
    pub(crate) fn raw(&self, name: &str) -> Option<&'a Value> {
        self.present(name)
    }

    /// Adds an error at a path below this object (e.g. `["username"]`).
    pub(crate) fn error_at(&mut self, path: &[Value], kind: &str, message: &str, input: &Value, ctx: Option<Value>) {
        let mut item = json!({"type": kind, "loc": self.loc(path), "msg": message, "input": input});
        if let Some(ctx) = ctx {
            item["ctx"] = ctx;
        }
        self.errors.push(item);
    }

    /// A list of objects, each checked by `check` with its own fields; absent is empty.
    pub(crate) fn object_list<T>(&mut self, name: &str, mut check: impl FnMut(&mut Fields<'_>) -> Option<T>) -> Vec<T> {
        self.list(name, |fields, item, index| match item {
            Value::Object(map) => {
                let mut inner = Fields {
                    prefix: fields
                        .loc(&[json!(name), json!(index)])
                        .as_array()
                        .cloned()
                        .unwrap_or_default(),
                    lenient: fields.lenient,
                    map,
                    errors: Vec::new(),
                };
                let out = check(&mut inner);
                let ok = inner.errors.is_empty();
                fields.errors.append(&mut inner.errors);
                if ok { out } else { None }
            }
            other => {
                fields.error_at(
                    &[json!(name), json!(index)],
                    "model_type",
                    "Input should be a valid dictionary or instance",
                    other,
                    None,
                );
                None
            }
        })
    }

    /// A list whose items are checked by `check(fields, item, index)`; absent is empty.
    pub(crate) fn list<T>(
        &mut self,
        name: &str,
        mut check: impl FnMut(&mut Self, &Value, usize) -> Option<T>,
    ) -> Vec<T> {
        let Some(value) = self.map.get(name) else {
            return Vec::new();
        };
        let Value::Array(items) = value else {
            self.error(
                "list_type",
                name,
                "Input should be a valid list".to_owned(),
                value,
                None,
            );
            return Vec::new();
        };
        items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| check(self, item, i))
            .collect()
    }

    /// Checks a nested optional object with its own fields.
    pub(crate) fn nested<T>(&mut self, name: &str, check: impl FnOnce(&mut Fields<'_>) -> Option<T>) -> Option<T> {
        let value = self.present(name)?;
        let Value::Object(map) = value else {
            self.error(
                "model_type",
                name,
                "Input should be a valid dictionary or instance".to_owned(),
                value,
                None,
            );
            return None;
        };
        let mut inner = Fields {
            prefix: self.loc(&[json!(name)]).as_array().cloned().unwrap_or_default(),
            lenient: self.lenient,
            map,
            errors: Vec::new(),
        };
        let out = check(&mut inner);
        let ok = inner.errors.is_empty();
        self.errors.append(&mut inner.errors);
        if ok { out } else { None }
    }

    /// Fields of an object found at `path` below `parent` (for unions, whose
    /// errors carry the member's name in their `loc`).
    pub(crate) fn nested_at(parent: &Fields<'_>, path: &[Value], map: &'a Map<String, Value>) -> Self {
        Self {
            prefix: parent.loc(path).as_array().cloned().unwrap_or_default(),
            lenient: parent.lenient,
            map,
            errors: Vec::new(),
        }
    }

    /// The problems found so far.
    pub(crate) fn into_errors(self) -> Vec<Value> {
        self.errors
    }

    /// Adds problems found by another reader.
    pub(crate) fn push_errors(&mut self, errors: Vec<Value>) {
        self.errors.extend(errors);
    }

    /// `Ok` when every field was valid, otherwise the 422 with every problem.
    pub(crate) fn finish(self) -> Outcome<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Failure::Validation(self.errors))
        }
    }
}

/// A query string as a map of its (last) values.
pub(crate) fn query_map(query: Option<&str>) -> Map<String, Value> {
    let mut map = Map::new();
    if let Some(query) = query {
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            map.insert(key.into_owned(), Value::String(value.into_owned()));
        }
    }
    map
}

/// How Pydantic words a UUID that does not parse.
fn uuid_reason(error: &uuid::Error) -> String {
    let text = error.to_string();
    if text.contains("invalid length") {
        format!(
            "invalid length: {}",
            text.split("invalid length: ").nth(1).unwrap_or(&text)
        )
    } else if text.contains("invalid character") {
        "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-]".to_owned()
    } else {
        text
    }
}
