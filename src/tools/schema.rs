//! The JSON schemas of tool arguments and answers, generated once and kept compact.

use std::sync::Arc;

use rmcp::model::JsonObject;
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

/// Schemas travel in every `tools/list`, so they carry no bytes that change nothing for
/// the client: no `$schema` URI, no titles, no integer formats. Optional inputs and
/// outputs are plain types: absence, not `null`, is how a value is left out (answers lose
/// their null fields in [`drop_nulls`]), so no schema needs a type list or a null
/// alternative. "minimum: 0" of unsigned inputs goes (descriptions state the real
/// ranges). Output schemas are read by machines only: they lose descriptions and
/// `required` (a field may be absent; the types are still checked). Input descriptions
/// stay.
///
/// The schema is generated here rather than by rmcp's `schema_for_*` helpers: those keep
/// every schema they make in thread-local caches for the life of the thread, and
/// our compacted copies came on top: about 1.5 MiB of heap for 53 tools, the largest
/// single part of a fresh process's memory. Settings are rmcp's (JSON Schema 2020-12;
/// the serialize contract for outputs).
pub(super) fn schema_of<T: JsonSchema>(settings: SchemaSettings, output: bool) -> Arc<JsonObject> {
    fn strip(v: &mut Value, output: bool) {
        match v {
            Value::Object(m) => {
                m.remove("$schema");
                m.remove("title");
                if output {
                    m.remove("description");
                    m.remove("required");
                } else if m.get("minimum").and_then(Value::as_i64) == Some(0) {
                    m.remove("minimum");
                }
                if m.get("format")
                    .and_then(Value::as_str)
                    .is_some_and(|f| f.starts_with("int") || f.starts_with("uint") || f == "double")
                {
                    m.remove("format");
                }
                if !output {
                    not_null(m);
                }
                for (k, child) in m.iter_mut() {
                    if k == "properties" || k == "$defs" {
                        // Keys here are names, not keywords: only their values are schemas.
                        if let Value::Object(props) = child {
                            for p in props.values_mut() {
                                // An absent field, never a null one: see `drop_nulls`.
                                if let (true, Value::Object(pm)) = (k == "properties", &mut *p) {
                                    not_null(pm);
                                }
                                strip(p, output);
                            }
                        }
                    } else {
                        strip(child, output);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| strip(x, output)),
            _ => {}
        }
    }
    /// `type: [T, "null"]` → `type: T`, `anyOf: [X, {type: null}]` → X, and no `null` in an
    /// `enum`: the form every
    /// client reads, where JSON Schema's type lists are less portable (OpenAPI 3.0 and
    /// Gemini's function declarations have neither).
    fn not_null(m: &mut JsonObject) {
        if let Some(Value::Array(types)) = m.get("type") {
            let kept: Vec<Value> = types
                .iter()
                .filter(|t| t.as_str() != Some("null"))
                .cloned()
                .collect();
            if kept.len() == 1 {
                m.insert("type".into(), kept[0].clone());
            }
        }
        if let Some(Value::Array(values)) = m.get_mut("enum") {
            values.retain(|v| !v.is_null());
        }
        if let Some(Value::Array(any)) = m.get("anyOf") {
            let kept: Vec<Value> = any
                .iter()
                .filter(|x| x.get("type").and_then(Value::as_str) != Some("null"))
                .cloned()
                .collect();
            if let [Value::Object(only)] = kept.as_slice() {
                let only = only.clone();
                m.remove("anyOf");
                m.extend(only);
            }
        }
    }
    let mut v = settings
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    strip(&mut v, output);
    match v {
        Value::Object(m) => Arc::new(m),
        // Only a unit-like type gives a boolean root; the invariants test holds every
        // tool's root to `type: object`, so this never reaches a client.
        _ => Arc::new(JsonObject::new()),
    }
}

/// Removes every object field whose value is `null`, at any depth: an answer leaves out
/// what it does not know, as its schema (see [`schema_of`]) says. Array items stay where
/// they are, so positions keep their meaning.
pub fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}
