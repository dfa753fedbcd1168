//! `http-request`: one request, sent by weft's own `core.http`.
//!
//! StackStorm's parameters map onto `core.http`'s input: `url`, `method`
//! (GET, or POST when there is a `body`), `headers`, `params` (the query),
//! `body`, `timeout` (60 s), `verify_ssl_cert`, `allow_redirects` (off, as
//! under StackStorm), `cookies` (a `Cookie` header) and
//! `username`/`password` (basic authentication). A proxy, host allow and
//! deny lists, file uploads and `auth` are refused. The result is
//! StackStorm's `{status_code, body, parsed, headers}`: the body parsed
//! when the response says `application/json`; a status outside 200–206
//! fails the task with the result attached.

use serde_json::{json, Map, Value};
use weft_runtime::{ActionInput, ActionResult};

use super::{failed, Call};

pub(super) async fn run(call: Call<'_>) -> ActionResult {
    call.refuse_unsupported(&[
        "http_proxy",
        "https_proxy",
        "url_hosts_blacklist",
        "url_hosts_whitelist",
        "auth",
        "file_name",
        "file_content",
        "file_content_type",
        "file_path",
    ])?;
    let Some(url) = call.str("url") else {
        return Err(call.error("parameter `url` has no value"));
    };
    let mut input = Map::new();
    input.insert("url".into(), json!(url));

    let mut headers = Map::new();
    match call.get("headers") {
        None => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                if !v.is_null() {
                    headers.insert(k.clone(), json!(crate::pyrepr::str_of(v)));
                }
            }
        }
        Some(other) => {
            return Err(call.error(format!(
                "`headers` must be a map, not {}",
                weft_core::engine::json_type_name(other)
            )))
        }
    }
    if let Some(Value::Object(cookies)) = call.get("cookies") {
        let line = cookies
            .iter()
            .map(|(k, v)| format!("{k}={}", crate::pyrepr::str_of(v)))
            .collect::<Vec<_>>()
            .join("; ");
        if !line.is_empty() {
            headers.insert("Cookie".into(), json!(line));
        }
    }
    if call.get("username").is_some() || call.get("password").is_some() {
        let user = call.str("username").unwrap_or("");
        let password = call.str("password").unwrap_or("");
        headers.insert(
            "Authorization".into(),
            json!(format!(
                "Basic {}",
                base64(format!("{user}:{password}").as_bytes())
            )),
        );
    }
    headers.insert(
        "X-Stanley-Action".into(),
        json!(call.action.meta.name.clone()),
    );

    let body = call.get("body").cloned();
    let method = match call.str("method") {
        Some(m) => m.to_owned(),
        None if body.is_some() => "POST".to_owned(),
        None => "GET".to_owned(),
    };
    input.insert("method".into(), json!(method));
    match body {
        None => {}
        Some(Value::String(s)) => {
            input.insert("body".into(), json!(s));
        }
        Some(other) => {
            input.insert("json".into(), other);
        }
    }
    match call.get("params") {
        None => {}
        Some(Value::Object(q)) => {
            input.insert("query".into(), Value::Object(q.clone()));
        }
        Some(other) => {
            return Err(call.error(format!(
                "`params` must be a map, not {}",
                weft_core::engine::json_type_name(other)
            )))
        }
    }
    input.insert("headers".into(), Value::Object(headers));
    input.insert("timeout".into(), json!(call.timeout(60).as_secs_f64()));
    input.insert(
        "verify_tls".into(),
        json!(call
            .get("verify_ssl_cert")
            .and_then(Value::as_bool)
            .unwrap_or(true)),
    );
    input.insert(
        "follow_redirects".into(),
        json!(call.flag("allow_redirects")),
    );

    let Some(http) = weft_runtime::builtin_action("core.http") else {
        return Err(call.error("weft's core.http is not in this build"));
    };
    let attempt = ActionInput {
        input: Value::Object(input),
        ..call.input.clone()
    };
    let (result, error) = match http.call(attempt).await {
        Ok(r) => (r, None),
        Err(e) => match e.result().cloned() {
            Some(r) => (r, Some(e)),
            None => return Err(call.error(e.message())),
        },
    };
    let shaped = shape(&result);
    let status = shaped["status_code"].as_u64().unwrap_or(0);
    if (200..=206).contains(&status) {
        Ok(shaped)
    } else {
        let why = match &error {
            Some(e) => e.message().to_owned(),
            None => format!("{method} {url} returned {status}"),
        };
        Err(failed(call.message(why), shaped))
    }
}

/// `core.http`'s result in StackStorm's shape.
fn shape(result: &Value) -> Value {
    let headers = result.get("headers").cloned().unwrap_or(json!({}));
    let json_type = headers
        .as_object()
        .and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        })
        .and_then(|(_, v)| v.as_str())
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false);
    let text = result.get("body").and_then(Value::as_str).unwrap_or("");
    let (body, parsed) = match (json_type, serde_json::from_str::<Value>(text)) {
        (true, Ok(v)) => (v, true),
        _ => (json!(text), false),
    };
    json!({
        "status_code": result.get("status_code").cloned().unwrap_or(Value::Null),
        "body": body,
        "parsed": parsed,
        "headers": headers,
    })
}

/// Standard base64, for a basic-authentication header.
fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_standard() {
        assert_eq!(base64(b"ada:pw"), "YWRhOnB3");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b""), "");
    }
}
