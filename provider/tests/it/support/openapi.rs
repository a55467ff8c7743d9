//! A small validator of JSON bodies against an OpenAPI 3.1 document (the
//! subset the Tailscale document uses: $ref, type, properties, required,
//! items, enum, format date-time) or 3.0 document (Cloudflare's adds allOf,
//! anyOf, oneOf, nullable, readOnly). Strict: a property the schema does not
//! name is a violation, so a misspelt field cannot pass.

use serde_json::Value;

pub struct OpenApi {
    pub doc: Value,
}

impl OpenApi {
    pub fn load(path: &std::path::Path) -> Self {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let doc: Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
        Self { doc }
    }

    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        let mut v = v;
        while let Some(r) = v.get("$ref").and_then(|r| r.as_str()) {
            let mut target = &self.doc;
            for part in r.trim_start_matches("#/").split('/') {
                target = &target[part];
            }
            v = target;
        }
        v
    }

    /// The operation for `method` on a concrete path under the server base
    /// (`/tailnet/-/keys/k1`), and the template it matched.
    pub fn operation(&self, method: &str, path: &str) -> Option<(String, &Value)> {
        let paths = self.doc.get("paths")?.as_object()?;
        let want: Vec<&str> = path.trim_matches('/').split('/').collect();
        for (template, item) in paths {
            let parts: Vec<&str> = template.trim_matches('/').split('/').collect();
            if parts.len() != want.len() {
                continue;
            }
            let matches = parts
                .iter()
                .zip(&want)
                .all(|(t, w)| (t.starts_with('{') && t.ends_with('}')) || t == w);
            if matches && let Some(op) = item.get(method.to_lowercase()) {
                return Some((template.clone(), op));
            }
        }
        None
    }

    pub fn request_schema<'a>(&'a self, op: &'a Value) -> Option<&'a Value> {
        let body = self.resolve(op.get("requestBody")?);
        body.get("content")?.get("application/json")?.get("schema")
    }

    pub fn response_schema<'a>(&'a self, op: &'a Value, status: u16) -> Option<&'a Value> {
        let responses = op.get("responses")?;
        let response = responses.get(status.to_string())?;
        let response = self.resolve(response);
        response
            .get("content")?
            .get("application/json")?
            .get("schema")
    }

    pub fn schema(&self, name: &str) -> &Value {
        &self.doc["components"]["schemas"][name]
    }

    /// Violations of `schema` by `value` (empty: valid).
    pub fn validate(&self, schema: &Value, value: &Value, at: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.check(schema, value, at, &mut out);
        out
    }

    /// Violations of a request body: like [`validate`](Self::validate),
    /// except that `readOnly` properties are not required (OpenAPI 3.0:
    /// "required" on a readOnly property applies to responses only).
    pub fn validate_request(&self, schema: &Value, value: &Value, at: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.check_in(schema, value, at, true, &mut out);
        out
    }

    /// `allOf` branches merged into one object schema (properties of the
    /// same name combined with `allOf`), so strictness sees every branch's
    /// properties (OpenAPI 3.0 documents such as Cloudflare's).
    fn merged(&self, schema: &Value) -> Value {
        let schema = self.resolve(schema);
        let Some(all) = schema.get("allOf").and_then(|a| a.as_array()) else {
            return schema.clone();
        };
        let mut merged = schema.as_object().cloned().unwrap_or_default();
        merged.remove("allOf");
        let mut props = serde_json::Map::new();
        let mut required: Vec<Value> = merged
            .get("required")
            .and_then(|r| r.as_array())
            .cloned()
            .unwrap_or_default();
        if let Some(own) = merged.get("properties").and_then(|p| p.as_object()) {
            props.extend(own.clone());
        }
        for branch in all {
            let b = self.merged(branch);
            for (k, v) in b
                .get("properties")
                .and_then(|p| p.as_object())
                .into_iter()
                .flatten()
            {
                let combined = match props.remove(k) {
                    Some(prev) => serde_json::json!({ "allOf": [prev, v] }),
                    None => v.clone(),
                };
                props.insert(k.clone(), combined);
            }
            required.extend(
                b.get("required")
                    .and_then(|r| r.as_array())
                    .cloned()
                    .unwrap_or_default(),
            );
            for key in [
                "type",
                "nullable",
                "additionalProperties",
                "anyOf",
                "oneOf",
                "items",
                "enum",
            ] {
                if let Some(v) = b.get(key)
                    && !merged.contains_key(key)
                {
                    merged.insert(key.into(), v.clone());
                }
            }
        }
        if !props.is_empty() {
            merged.insert("properties".into(), Value::Object(props));
        }
        if !required.is_empty() {
            merged.insert("required".into(), Value::Array(required));
        }
        Value::Object(merged)
    }

    /// Whether `schema` (or one of its anyOf/oneOf branches) marks property
    /// `name` readOnly.
    fn read_only(&self, schema: &Value, name: &str) -> bool {
        let schema = self.merged(schema);
        let own = schema
            .get("properties")
            .and_then(|p| p.get(name))
            .map(|s| self.resolve(s))
            .and_then(|s| s.get("readOnly"))
            .and_then(|v| v.as_bool())
            == Some(true);
        own || ["anyOf", "oneOf"].iter().any(|k| {
            schema
                .get(*k)
                .and_then(|a| a.as_array())
                .is_some_and(|bs| bs.iter().any(|b| self.read_only(b, name)))
        })
    }

    fn check(&self, schema: &Value, value: &Value, at: &str, out: &mut Vec<String>) {
        self.check_in(schema, value, at, false, out)
    }

    fn check_in(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        request: bool,
        out: &mut Vec<String>,
    ) {
        let schema = &self.merged(schema);
        if value.is_null() && schema.get("nullable").and_then(|n| n.as_bool()) == Some(true) {
            return;
        }
        for (key, exactly_one) in [("anyOf", false), ("oneOf", true)] {
            let Some(branches) = schema.get(key).and_then(|a| a.as_array()) else {
                continue;
            };
            let mut failures = Vec::new();
            let mut passed = 0;
            for (i, b) in branches.iter().enumerate() {
                let mut sub = Vec::new();
                self.check_in(b, value, at, request, &mut sub);
                if sub.is_empty() {
                    passed += 1;
                } else {
                    failures.push(format!("[{key} {i}] {}", sub.join("; ")));
                }
            }
            if passed == 0 {
                out.push(format!(
                    "{at}: matches none of {key}: {}",
                    failures.join(" | ")
                ));
                return;
            }
            if exactly_one && passed > 1 {
                out.push(format!("{at}: matches {passed} branches of oneOf"));
            }
        }
        if let Some(t) = schema.get("type").and_then(|t| t.as_str()) {
            let ok = match t {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "number" => value.is_number(),
                "integer" => value.is_i64() || value.is_u64(),
                "boolean" => value.is_boolean(),
                _ => true,
            };
            if !ok {
                out.push(format!("{at}: expected {t}, got {value}"));
                return;
            }
        }
        if let Some(values) = schema.get("enum").and_then(|e| e.as_array())
            && !values.contains(value)
        {
            out.push(format!("{at}: {value} is not one of {values:?}"));
        }
        if schema.get("format").and_then(|f| f.as_str()) == Some("date-time")
            && let Some(s) = value.as_str()
            && s.parse::<jiff::Timestamp>().is_err()
        {
            out.push(format!("{at}: {s:?} is not a date-time"));
        }
        if let Some(obj) = value.as_object() {
            let props = schema.get("properties").and_then(|p| p.as_object());
            if let Some(required) = schema.get("required").and_then(|r| r.as_array()) {
                for r in required.iter().filter_map(|r| r.as_str()) {
                    if !(obj.contains_key(r) || (request && self.read_only(schema, r))) {
                        out.push(format!("{at}: required property {r:?} is missing"));
                    }
                }
            }
            for (k, v) in obj {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => self.check_in(s, v, &format!("{at}.{k}"), request, out),
                    None if props.is_some() && schema.get("additionalProperties").is_none() => {
                        out.push(format!("{at}: property {k:?} is not in the schema"))
                    }
                    None => {}
                }
            }
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
            for (i, v) in arr.iter().enumerate() {
                self.check_in(items, v, &format!("{at}[{i}]"), request, out);
            }
        }
    }
}

impl OpenApi {
    /// The request body schema for one content type (`application/hujson`…).
    pub fn request_schema_for<'a>(
        &'a self,
        op: &'a Value,
        content_type: &str,
    ) -> Option<&'a Value> {
        let body = self.resolve(op.get("requestBody")?);
        body.get("content")?.get(content_type)?.get("schema")
    }

    /// The response body schema for one status and content type.
    pub fn response_schema_for<'a>(
        &'a self,
        op: &'a Value,
        status: u16,
        content_type: &str,
    ) -> Option<&'a Value> {
        let response = self.resolve(op.get("responses")?.get(status.to_string())?);
        response.get("content")?.get(content_type)?.get("schema")
    }
}
