//! HTTP helpers shared by the fake's route modules: query parsing, Spring pages, answers.

// Handlers answer early with a ready error response; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

use axum::body::Body;
use axum::http::Response;
#[allow(unused_imports)]
use serde_json::Map;
use serde_json::{Value, json};

use super::error_response;

pub(crate) type Resp = Response<Body>;

/// Query parameters, repeatable ones (`sort`) included.
pub(crate) struct Q(Vec<(String, String)>);

impl Q {
    pub(crate) fn new(raw: Option<String>) -> Q {
        Q(
            url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        )
    }
    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    pub(crate) fn all(&self, k: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    /// A required integer parameter, answered like Spring when missing or malformed.
    pub(crate) fn required_i64(&self, k: &str, path: &str) -> Result<i64, Resp> {
        match self.get(k) {
            None => Err(error_response(400, &format!("Required request parameter '{k}' for method parameter type Long is not present"), path)),
            Some(v) => v.parse().map_err(|_| error_response(400, &format!("Failed to convert value of type 'java.lang.String' to required type 'java.lang.Long'; For input string: \"{v}\""), path)),
        }
    }
}

pub(crate) fn ok(v: Value) -> Resp {
    Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(Body::from(without_nulls(v).to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// `v` with every object field whose value is `null` left out. The API description
/// (26.1.1) allows `null` for no field, and a validating proxy holds the fake to it;
/// whether the real server omits such fields or sends `null` is not documented, so the
/// client reads both (its models decode all-`null` objects: the contract tests).
fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

pub(crate) fn empty(status: u16) -> Resp {
    Response::builder()
        .status(status)
        .body(Body::empty())
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

pub(crate) fn to_value<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

pub(crate) fn snake_to_camel(s: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Spring paging and sorting over `items`. Default size 10, at most 1000 per page.
pub(crate) fn page(items: Vec<Value>, q: &Q, snake_sort: bool) -> Value {
    page_sized(items, q, snake_sort, 10)
}

/// [`page`] for an endpoint whose default page size is not Spring's 10.
pub(crate) fn page_sized(
    mut items: Vec<Value>,
    q: &Q,
    snake_sort: bool,
    default_size: usize,
) -> Value {
    for spec in q.all("sort").iter().rev() {
        let (field, dir) = spec.split_once(',').unwrap_or((spec, "asc"));
        let field = if snake_sort {
            snake_to_camel(field)
        } else {
            field.to_owned()
        };
        let desc = dir.eq_ignore_ascii_case("desc");
        items.sort_by(|a, b| {
            let o = cmp_json(&a[&field], &b[&field]);
            if desc { o.reverse() } else { o }
        });
    }
    let size = q
        .get("size")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(default_size)
        .clamp(1, 1000);
    let number = q
        .get("page")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    let total = items.len();
    let content: Vec<Value> = items
        .into_iter()
        .skip(number.saturating_mul(size))
        .take(size)
        .collect();
    let total_pages = total.div_ceil(size);
    json!({
        "content": content,
        "totalElements": total,
        "totalPages": total_pages,
        "number": number,
        "size": size,
        "numberOfElements": content.len(),
        "first": number == 0,
        "last": number + 1 >= total_pages,
        "empty": content.is_empty(),
        "sort": {"sorted": !q.all("sort").is_empty(), "unsorted": q.all("sort").is_empty(), "empty": q.all("sort").is_empty()},
        "pageable": {"pageNumber": number, "pageSize": size, "offset": number * size, "paged": true, "unpaged": false},
    })
}

pub(crate) fn cmp_json(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::String(x), Value::String(y)) => x.to_lowercase().cmp(&y.to_lowercase()),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Null, Value::Null) => std::cmp::Ordering::Equal,
        (Value::Null, _) => std::cmp::Ordering::Less,
        (_, Value::Null) => std::cmp::Ordering::Greater,
        _ => std::cmp::Ordering::Equal,
    }
}

pub(crate) fn not_found(what: &str, id: i64, path: &str) -> Resp {
    error_response(404, &format!("{what} with id {id} not found"), path)
}

/// A launch id that does not exist: Allure TestOps checks access first and answers 403
/// (reported in issue 13 from an independent fake of the real server; the API
/// description lists no 404 for the launch routes either).
pub(crate) fn unknown_launch(_id: i64, path: &str) -> Resp {
    error_response(403, "Access is denied", path)
}

/// Wall-clock epoch milliseconds, for entities the fake creates.
pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A JSON request body, or Spring's 400 for a malformed one.
pub(crate) fn json_body(bytes: &[u8], path: &str) -> Result<Value, Resp> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(error_response(
            400,
            "Required request body is missing",
            path,
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| error_response(400, &format!("JSON parse error: {e}"), path))
}

/// The JSON body of a create request and its `projectId` and non-blank `name`, checked
/// the way the real API checks them (400 with the field's complaint).
pub(crate) fn create_body(bytes: &[u8], path: &str) -> Result<(Value, i64, String), Resp> {
    let b = json_body(bytes, path)?;
    let Some(pid) = b["projectId"].as_i64() else {
        return Err(error_response(400, "projectId: must not be null", path));
    };
    let name = b["name"].as_str().unwrap_or("").trim().to_owned();
    if name.is_empty() {
        return Err(error_response(400, "name: must not be blank", path));
    }
    Ok((b, pid, name))
}

/// The ids a `TestResultTreeSelectionDto` / `TestCaseSelectionDtoV2` selects among `all`.
pub(crate) fn selected(selection: &Value, include_key: &str, all: &[i64]) -> Vec<i64> {
    let include: Vec<i64> = selection[include_key]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    if selection["inverted"].as_bool().unwrap_or(false) {
        all.iter()
            .copied()
            .filter(|id| !include.contains(id))
            .collect()
    } else {
        all.iter()
            .copied()
            .filter(|id| include.contains(id))
            .collect()
    }
}

/// An answer with a status other than 200 and a JSON body.
pub(crate) fn with_status(status: u16, v: Value) -> Resp {
    let mut r = ok(v);
    *r.status_mut() =
        axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK);
    r
}
