//! `core.http`: one HTTP request (the `http` feature).
//!
//! Built on `reqwest` with rustls on `ring`: no OpenSSL, and the server's
//! certificate is checked against Mozilla's roots and the system's. One
//! [`Http`] is registered per executor and builds at most one client per
//! configuration that changes the client itself (`verify_tls` ×
//! `follow_redirects`), lazily, so calls share connection pools.
//!
//! Invariants that users rely on:
//!
//! * the response body is read in chunks and reading stops at
//!   `max_response_bytes`: a response, however long, never holds more than
//!   that in memory; `body_truncated` says whether bytes were left unread;
//! * error messages name the method and the URL (its password replaced by
//!   `***`), never a header's value: headers often carry tokens;
//! * a status outside 200–299 fails the task with the whole result attached,
//!   so a transition can still read `result().status_code`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::redirect::Policy;
use reqwest::{Client, Method, Response, Url};
use serde_json::{Map, Value};
use weft_core::engine::json_type_name;

use crate::action::{Action, ActionError, ActionInput, ActionResult};
use crate::fields::{self, ActionInfo, FieldInfo};

const NAME: &str = "core.http";
const DEFAULT_TIMEOUT_SECS: f64 = 30.0;
const DEFAULT_MAX_RESPONSE_BYTES: u64 = 10 << 20;
/// Redirects followed before the request fails.
const MAX_REDIRECTS: usize = 10;
const METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
];

const INPUTS: &[FieldInfo] = &[
    FieldInfo {
        name: "url",
        kind: "string",
        required: true,
        description: "http:// or https:// URL",
    },
    FieldInfo {
        name: "method",
        kind: "string",
        required: false,
        description: "GET (default), HEAD, POST, PUT, PATCH, DELETE, OPTIONS or TRACE",
    },
    FieldInfo {
        name: "headers",
        kind: "map of strings",
        required: false,
        description: "request headers",
    },
    FieldInfo {
        name: "query",
        kind: "map of scalars",
        required: false,
        description: "added to the URL's query string",
    },
    FieldInfo {
        name: "body",
        kind: "string",
        required: false,
        description: "request body, sent as text (not with `json`)",
    },
    FieldInfo {
        name: "json",
        kind: "any",
        required: false,
        description: "request body, sent as JSON (not with `body`)",
    },
    FieldInfo {
        name: "timeout",
        kind: "number",
        required: false,
        description: "seconds for the whole request, body included (default 30)",
    },
    FieldInfo {
        name: "verify_tls",
        kind: "bool",
        required: false,
        description: "check the server's certificate (default true)",
    },
    FieldInfo {
        name: "max_response_bytes",
        kind: "integer",
        required: false,
        description: "response body bytes kept; reading stops there (default 10 MiB)",
    },
    FieldInfo {
        name: "follow_redirects",
        kind: "bool",
        required: false,
        description: "follow up to 10 redirects (default true)",
    },
];

/// `core.http`'s entry in [`crate::builtin_actions`].
pub(crate) const INFO: ActionInfo = ActionInfo {
    name: NAME,
    description:
        "sends an HTTP request; a status outside 200-299 fails the task with the result attached",
    inputs: INPUTS,
    result: r#"{"status_code": number, "headers": {name: string}, "body": string, "body_truncated": bool, "url": string, "json": <body parsed, when the response is JSON>}"#,
};

/// Clients by configuration: index bit 0 is `verify_tls`, bit 1
/// `follow_redirects`. A build error is kept too: it comes from the
/// machine (its certificate store), not from the call.
type Clients = [OnceLock<Result<Client, String>>; 4];

/// The `core.http` action of one executor.
pub(crate) struct Http {
    clients: Arc<Clients>,
}

impl Http {
    pub(crate) fn new() -> Http {
        Http {
            clients: Arc::new(Default::default()),
        }
    }
}

impl Action for Http {
    fn input_fields(&self) -> Option<Vec<weft_core::InputField>> {
        Some(fields::declared(INPUTS))
    }

    fn call(&self, input: ActionInput) -> BoxFuture<'static, ActionResult> {
        let request =
            fields::check(NAME, INPUTS, &input.input).and_then(|()| Request::parse(&input.input));
        let clients = Arc::clone(&self.clients);
        async move { request?.send(&clients).await }.boxed()
    }
}

enum Body {
    None,
    Text(String),
    Json(Value),
}

/// A call's inputs, checked.
struct Request {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Body,
    timeout_secs: f64,
    verify_tls: bool,
    follow_redirects: bool,
    max_response_bytes: usize,
}

/// An optional input; `null` counts as absent, as in the other built-ins.
fn optional<'a>(input: &'a Value, name: &str) -> Option<&'a Value> {
    input.get(name).filter(|v| !v.is_null())
}

fn type_error(field: &str, expected: &str, got: &Value) -> ActionError {
    ActionError::new(format!(
        "{NAME}: input `{field}` must be {expected}, not {}",
        json_type_name(got)
    ))
}

/// A string, number or bool as header or query text.
fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    }
}

fn flag(input: &Value, name: &str, default: bool) -> Result<bool, ActionError> {
    match optional(input, name) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(type_error(name, "true or false", other)),
    }
}

impl Request {
    fn parse(input: &Value) -> Result<Request, ActionError> {
        let raw_url = match input.get("url") {
            Some(Value::String(s)) => s,
            Some(other) => return Err(type_error("url", "a string", other)),
            None => return Err(ActionError::new(format!("{NAME}: missing input `url`"))),
        };
        let mut url = Url::parse(raw_url).map_err(|e| {
            ActionError::new(format!(
                "{NAME}: input `url` is not a valid URL ({e}): `{raw_url}`"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ActionError::new(format!(
                "{NAME}: input `url` must be an http:// or https:// URL, not {}: `{}`",
                url.scheme(),
                shown(&url)
            )));
        }

        let method = match optional(input, "method") {
            None => Method::GET,
            Some(Value::String(s)) => {
                let upper = s.to_ascii_uppercase();
                if !METHODS.contains(&upper.as_str()) {
                    return Err(ActionError::new(format!(
                        "{NAME}: input `method` must be one of {}, not `{s}`",
                        METHODS.join(", ")
                    )));
                }
                Method::from_bytes(upper.as_bytes()).map_err(|_| {
                    ActionError::new(format!("{NAME}: input `method`: `{s}` is not a method"))
                })?
            }
            Some(other) => return Err(type_error("method", "a string", other)),
        };

        let mut headers = HeaderMap::new();
        match optional(input, "headers") {
            None => {}
            Some(Value::Object(map)) => {
                for (name, value) in map {
                    if value.is_null() {
                        continue;
                    }
                    let Some(text) = scalar_text(value) else {
                        return Err(ActionError::new(format!(
                            "{NAME}: header `{name}` must be a string, not {}",
                            json_type_name(value)
                        )));
                    };
                    let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                        ActionError::new(format!(
                            "{NAME}: `{name}` is not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"
                        ))
                    })?;
                    // The value stays out of the message: it may be a token.
                    let value = HeaderValue::from_str(&text).map_err(|_| {
                        ActionError::new(format!(
                            "{NAME}: header `{name}` has a value that cannot be sent (no line breaks or other control characters); the value is not shown"
                        ))
                    })?;
                    headers.append(header, value);
                }
            }
            Some(other) => return Err(type_error("headers", "a map of strings", other)),
        }

        match optional(input, "query") {
            None => {}
            Some(Value::Object(map)) => {
                let mut pairs = Vec::with_capacity(map.len());
                for (name, value) in map {
                    if value.is_null() {
                        continue;
                    }
                    let Some(text) = scalar_text(value) else {
                        return Err(ActionError::new(format!(
                            "{NAME}: `query.{name}` must be a string, number or bool, not {}",
                            json_type_name(value)
                        )));
                    };
                    pairs.push((name, text));
                }
                // Only when there is something to add: an empty
                // `query_pairs_mut` would leave a bare `?` on the URL.
                if !pairs.is_empty() {
                    let mut query = url.query_pairs_mut();
                    for (name, text) in pairs {
                        query.append_pair(name, &text);
                    }
                }
            }
            Some(other) => return Err(type_error("query", "a map of scalars", other)),
        }

        let body = match (optional(input, "body"), optional(input, "json")) {
            (Some(_), Some(_)) => {
                return Err(ActionError::new(format!(
                    "{NAME}: give `body` (text) or `json`, not both"
                )))
            }
            (Some(Value::String(s)), None) => Body::Text(s.clone()),
            (Some(other), None) => {
                return Err(type_error(
                    "body",
                    "a string (use `json` to send a JSON body)",
                    other,
                ))
            }
            (None, Some(v)) => Body::Json(v.clone()),
            (None, None) => Body::None,
        };

        let timeout_secs = match optional(input, "timeout") {
            None => DEFAULT_TIMEOUT_SECS,
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|t| t.is_finite() && *t > 0.0)
                .ok_or_else(|| {
                    ActionError::new(format!(
                        "{NAME}: input `timeout` must be more than 0 seconds, not {n}"
                    ))
                })?,
            Some(other) => return Err(type_error("timeout", "a number of seconds", other)),
        };

        let max_response_bytes = match optional(input, "max_response_bytes") {
            None => DEFAULT_MAX_RESPONSE_BYTES,
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| {
                    // YAML's `1e6` arrives as a float.
                    n.as_f64()
                        .filter(|f| f.is_finite() && *f >= 0.0 && f.fract() == 0.0)
                        .map(|f| f as u64)
                })
                .ok_or_else(|| {
                    ActionError::new(format!(
                        "{NAME}: input `max_response_bytes` must be a whole number, 0 or more, not {n}"
                    ))
                })?,
            Some(other) => {
                return Err(type_error(
                    "max_response_bytes",
                    "a whole number of bytes",
                    other,
                ))
            }
        };

        Ok(Request {
            method,
            url,
            headers,
            body,
            timeout_secs,
            verify_tls: flag(input, "verify_tls", true)?,
            follow_redirects: flag(input, "follow_redirects", true)?,
            max_response_bytes: usize::try_from(max_response_bytes).unwrap_or(usize::MAX),
        })
    }

    async fn send(self, clients: &Clients) -> ActionResult {
        let client = client(clients, self.verify_tls, self.follow_redirects)?;
        let what = format!("{NAME}: {} {}", self.method, shown(&self.url));
        let timeout = Duration::from_secs_f64(self.timeout_secs.min(1e9));
        let has_content_type = self.headers.contains_key(CONTENT_TYPE);
        let mut request = client
            .request(self.method, self.url)
            .headers(self.headers)
            .timeout(timeout);
        request = match self.body {
            Body::None => request,
            Body::Text(text) if has_content_type => request.body(text),
            Body::Text(text) => request
                .header(CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(text),
            Body::Json(value) => request.json(&value),
        };
        let mut response = request
            .send()
            .await
            .map_err(|e| request_error(&what, e, self.timeout_secs))?;

        let status = response.status();
        let mut result = Map::new();
        result.insert("status_code".into(), status.as_u16().into());
        result.insert("headers".into(), headers_json(response.headers()));
        result.insert("url".into(), shown(response.url()).into());
        let is_json = is_json(response.headers());
        let (bytes, truncated) = read_capped(&mut response, self.max_response_bytes)
            .await
            .map_err(|e| request_error(&what, e, self.timeout_secs))?;
        result.insert(
            "body".into(),
            String::from_utf8_lossy(&bytes).into_owned().into(),
        );
        result.insert("body_truncated".into(), truncated.into());
        if is_json && !truncated {
            if let Ok(value) = serde_json::from_slice::<Value>(&bytes) {
                result.insert("json".into(), value);
            }
        }

        if status.is_success() {
            Ok(Value::Object(result))
        } else {
            Err(ActionError::with_result(
                format!("{what} returned {status}"),
                Value::Object(result),
            ))
        }
    }
}

fn client(
    clients: &Clients,
    verify_tls: bool,
    follow_redirects: bool,
) -> Result<Client, ActionError> {
    let slot = &clients[usize::from(verify_tls) | usize::from(follow_redirects) << 1];
    slot.get_or_init(|| {
        let redirects = if follow_redirects {
            Policy::limited(MAX_REDIRECTS)
        } else {
            Policy::none()
        };
        Client::builder()
            .user_agent(concat!("weft/", env!("CARGO_PKG_VERSION")))
            .redirect(redirects)
            .danger_accept_invalid_certs(!verify_tls)
            .build()
            .map_err(|e| chain(&e))
    })
    .clone()
    .map_err(|e| ActionError::new(format!("{NAME}: cannot set up the HTTP client: {e}")))
}

/// Reads the body until its end or until `cap` bytes are kept; `true` when
/// bytes were left unread. The connection is dropped with the response.
async fn read_capped(
    response: &mut Response,
    cap: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut kept = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap - kept.len();
        if chunk.len() > room {
            kept.extend_from_slice(&chunk[..room]);
            return Ok((kept, true));
        }
        kept.extend_from_slice(&chunk);
    }
    Ok((kept, false))
}

/// The URL for messages and results: its password, if any, is `***`.
fn shown(url: &Url) -> String {
    if url.password().is_some() {
        let mut url = url.clone();
        // Only fails for URLs that cannot have a password, and this one has one.
        let _ = url.set_password(Some("***"));
        url.to_string()
    } else {
        url.to_string()
    }
}

/// Names are lowercase (as HTTP/2 and `reqwest` give them); repeated
/// headers are joined with `, `.
fn headers_json(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for name in headers.keys() {
        let joined = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        map.insert(name.as_str().to_owned(), joined.into());
    }
    Value::Object(map)
}

/// `application/json` or any `+json` type (`application/problem+json`).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(content_type) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || mime.ends_with("+json")
}

/// The error and its sources, joined: `reqwest`'s own message is too short
/// to act on ("error sending request").
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

fn request_error(what: &str, e: reqwest::Error, timeout_secs: f64) -> ActionError {
    // reqwest's messages end with the URL in full; ours is shown redacted.
    let e = e.without_url();
    let message = if e.is_timeout() {
        format!("{what}: no complete response within {timeout_secs} s (raise `timeout`)")
    } else if e.is_redirect() {
        format!(
            "{what}: more than {MAX_REDIRECTS} redirects (set `follow_redirects: false` to get the first response)"
        )
    } else if e.is_connect() {
        format!("{what}: cannot connect: {}", chain(&e))
    } else if e.is_body() || e.is_decode() {
        format!("{what}: reading the response failed: {}", chain(&e))
    } else {
        format!("{what}: {}", chain(&e))
    };
    ActionError::new(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_url_is_not_shown() {
        let url = Url::parse("https://ada:s3cret@example.com/x?q=1").expect("valid");
        assert_eq!(shown(&url), "https://ada:***@example.com/x?q=1");
    }

    #[test]
    fn json_content_types_are_recognised() {
        let mut h = HeaderMap::new();
        for (ct, json) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/problem+json", true),
            ("text/plain", false),
            ("text/json-ish", false),
        ] {
            h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).expect("valid"));
            assert_eq!(is_json(&h), json, "{ct}");
        }
        assert!(!is_json(&HeaderMap::new()));
    }
}
