//! Extractors whose rejections are SCIM errors: a JSON body of the right media
//! type (`application/scim+json` or `application/json`), query parameters,
//! and the request context (base URL and actor).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde_json::Value;

use crate::directory::Directory;
use crate::error::{Error, ScimType};
use crate::http::AppState;
use crate::http::auth::Actor;
use crate::service::Ctx;

/// Deepest JSON nesting accepted; SCIM resources nest three levels.
const MAX_JSON_DEPTH: usize = 32;

/// A parsed JSON request body.
pub struct ScimBody(pub Value);

fn content_type_ok(headers: &HeaderMap) -> Result<(), Error> {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        // Some clients omit it on small bodies; JSON is the only thing we read.
        return Ok(());
    };
    let ct = ct.to_str().unwrap_or_default().to_ascii_lowercase();
    let essence = ct.split(';').next().unwrap_or_default().trim();
    if essence == "application/scim+json" || essence == "application/json" {
        Ok(())
    } else {
        Err(Error::UnsupportedMediaType(format!(
            "Content-Type {essence:?} is not accepted; send application/scim+json or application/json"
        )))
    }
}

fn depth_ok(bytes: &[u8]) -> bool {
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for &b in bytes {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_JSON_DEPTH {
                    return false;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// Parses a body, refusing duplicate keys (RFC 8259 leaves them undefined;
/// guessing which value the client meant would silently drop the other).
pub fn parse_json(bytes: &[u8]) -> Result<Value, Error> {
    if !depth_ok(bytes) {
        return Err(Error::bad(
            ScimType::InvalidSyntax,
            format!("the JSON body nests deeper than {MAX_JSON_DEPTH} levels"),
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Error::bad(
            ScimType::InvalidSyntax,
            format!("the body is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })?;
    let v: UniqueValue = serde_json::from_str(text).map_err(|e| {
        Error::bad(
            ScimType::InvalidSyntax,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    Ok(v.0)
}

/// A JSON value deserialised with duplicate object keys refused.
struct UniqueValue(Value);

impl<'de> serde::Deserialize<'de> for UniqueValue {
    fn deserialize<De: serde::Deserializer<'de>>(d: De) -> Result<Self, De::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = UniqueValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<UniqueValue, E> {
                Ok(UniqueValue(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<UniqueValue, E> {
                Ok(UniqueValue(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<UniqueValue, E> {
                Ok(UniqueValue(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<UniqueValue, E> {
                Ok(UniqueValue(
                    serde_json::Number::from_f64(v)
                        .map(Value::Number)
                        .unwrap_or(Value::Null),
                ))
            }
            fn visit_str<E>(self, v: &str) -> Result<UniqueValue, E> {
                Ok(UniqueValue(Value::String(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<UniqueValue, E> {
                Ok(UniqueValue(Value::String(v)))
            }
            fn visit_unit<E>(self) -> Result<UniqueValue, E> {
                Ok(UniqueValue(Value::Null))
            }
            fn visit_none<E>(self) -> Result<UniqueValue, E> {
                Ok(UniqueValue(Value::Null))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<UniqueValue, A::Error> {
                let mut out = Vec::new();
                while let Some(UniqueValue(v)) = seq.next_element()? {
                    out.push(v);
                }
                Ok(UniqueValue(Value::Array(out)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<UniqueValue, A::Error> {
                let mut out = serde_json::Map::new();
                while let Some(k) = map.next_key::<String>()? {
                    let UniqueValue(v) = map.next_value()?;
                    // SCIM attribute names are case-insensitive: `userName` and
                    // `UserName` are the same key.
                    if out.keys().any(|x| x.eq_ignore_ascii_case(&k)) {
                        return Err(serde::de::Error::custom(format!("duplicate key {k:?}")));
                    }
                    out.insert(k, v);
                }
                Ok(UniqueValue(Value::Object(out)))
            }
        }
        d.deserialize_any(V)
    }
}

impl<S: Send + Sync> FromRequest<S> for ScimBody {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        content_type_ok(req.headers())?;
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge(0)
            } else {
                Error::bad(
                    ScimType::InvalidSyntax,
                    format!("could not read the body: {e}"),
                )
            }
        })?;
        parse_json(&bytes).map(ScimBody)
    }
}

/// The request context: base URL for locations, and the token's name.
pub struct RequestCtx(pub Ctx);

impl<D: Directory> FromRequestParts<Arc<AppState<D>>> for RequestCtx {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState<D>>,
    ) -> Result<Self, Self::Rejection> {
        let server = &state.service.config.server;
        let base_url = match &server.public_url {
            Some(u) => u.clone(),
            None => {
                let host = parts
                    .headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
                    .unwrap_or("localhost");
                let proto = parts
                    .headers
                    .get("x-forwarded-proto")
                    .and_then(|h| h.to_str().ok())
                    .filter(|p| *p == "https" || *p == "http")
                    .unwrap_or("http");
                format!("{proto}://{host}{}", server.base_path)
            }
        };
        let actor = parts
            .extensions
            .get::<Actor>()
            .map(|a| a.0.clone())
            .unwrap_or_else(|| "anonymous".to_owned());
        Ok(RequestCtx(Ctx { base_url, actor }))
    }
}

/// Query parameters; a malformed query string is a SCIM 400.
pub struct QueryParams(pub crate::scim::query::Params);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<crate::scim::query::Params>::from_request_parts(parts, state)
            .await
            .map(|q| QueryParams(q.0))
            .map_err(|e| Error::bad(ScimType::InvalidValue, format!("query string: {e}")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn json_rules() {
        assert!(parse_json(br#"{"a":1,"b":[1,{"c":null}]}"#).is_ok());
        let e = parse_json(br#"{"userName":"a","userName":"b"}"#).unwrap_err();
        assert!(e.to_string().contains("duplicate key"), "{e}");
        let e = parse_json(br#"{"userName":"a","UserName":"b"}"#).unwrap_err();
        assert!(e.to_string().contains("duplicate key"), "{e}");
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        assert!(
            parse_json(deep.as_bytes())
                .unwrap_err()
                .to_string()
                .contains("deeper")
        );
        assert!(
            parse_json(br#"{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}"#).is_ok(),
            "brackets inside strings do not count"
        );
        assert!(
            parse_json(b"{\"a\":\"\xff\"}")
                .unwrap_err()
                .to_string()
                .contains("UTF-8")
        );
        assert!(
            parse_json(b"{")
                .unwrap_err()
                .to_string()
                .contains("not valid JSON")
        );
    }
}
