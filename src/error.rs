//! The one error type. Every failure a request can meet is a variant shaped by
//! its HTTP outcome, rendered as a SCIM error body (RFC 7644 §3.12) through
//! [`scim_json`], the SCIM JSON response the HTTP layer uses for every answer.
//!
//! `IntoResponse` is one exhaustive `match`, so a new variant forces a decision
//! about its status. A 5xx body carries a correlation id and nothing internal;
//! the cause travels to the log through a response extension.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The media type of SCIM messages (RFC 7644 §8.1).
pub const SCIM_JSON: &str = "application/scim+json";

/// A JSON body with the SCIM media type: every SCIM answer, errors and
/// resources alike, is rendered here.
pub fn scim_json(v: &impl serde::Serialize) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(axum::body::Body::from(body));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
    r
}

/// `scimType` values (RFC 7644 §3.12, table 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// Every way a request can fail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// 400: the request is wrong; `detail` says what to fix.
    #[error("{detail}")]
    BadRequest { scim_type: ScimType, detail: String },
    /// 401: no valid bearer token.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// 403: the directory refused the bind DN the operation.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such resource (or outside the configured bases).
    #[error("{0}")]
    NotFound(String),
    /// 405: the endpoint does not take this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: the resource already exists.
    #[error("{0}")]
    Conflict(String),
    /// 412: `If-Match` no longer matches.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 413: body over the configured limit.
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 415: not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429: too many requests in flight.
    #[error("too many requests in flight; retry later")]
    TooManyRequests,
    /// 501: a SCIM feature the daemon does not offer (e.g. /Bulk).
    #[error("{0}")]
    NotImplemented(String),
    /// 503: the directory is unreachable, busy or too slow; retry.
    #[error("directory unavailable: {0}")]
    Unavailable(String),
    /// 500: a bug or an unexpected directory answer; the detail is logged only.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The cause of a 5xx, carried to the logging middleware.
#[derive(Debug, Clone)]
pub struct LoggedCause(pub String);

/// The request id, added by the HTTP layer so error bodies can carry it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Seconds a client should wait before retrying a 429 or 503.
pub const RETRY_AFTER_SECONDS: u64 = 2;

impl Error {
    pub fn bad(scim_type: ScimType, detail: impl Into<String>) -> Error {
        Error::BadRequest {
            scim_type,
            detail: detail.into(),
        }
    }

    pub fn invalid_value(detail: impl Into<String>) -> Error {
        Error::bad(ScimType::InvalidValue, detail)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Error::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The SCIM error body (RFC 7644 §3.12 members only). The request id
    /// travels in the `X-Request-Id` header; a 5xx also quotes it in `detail`
    /// so a client's report can be matched with the log.
    pub fn body(&self, request_id: Option<&str>) -> serde_json::Value {
        let (scim_type, detail) = match self {
            Error::BadRequest { scim_type, detail } => (Some(scim_type.as_str()), detail.clone()),
            Error::Conflict(d) => (Some(ScimType::Uniqueness.as_str()), d.clone()),
            Error::Internal(_) => (
                None,
                format!(
                    "internal error; quote request id {} to the operator",
                    request_id.unwrap_or("-")
                ),
            ),
            Error::Unauthorized
            | Error::Forbidden(_)
            | Error::NotFound(_)
            | Error::MethodNotAllowed(_)
            | Error::PreconditionFailed(_)
            | Error::PayloadTooLarge(_)
            | Error::UnsupportedMediaType(_)
            | Error::TooManyRequests
            | Error::NotImplemented(_)
            | Error::Unavailable(_) => (None, self.to_string()),
        };
        let mut body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": self.status().as_u16().to_string(),
            "detail": detail,
        });
        if let Some(t) = scim_type {
            body["scimType"] = json!(t);
        }
        body
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        // The request id is filled in by the HTTP middleware, which rewrites the
        // body when it knows the id; here the error renders without one.
        let mut response = (status, scim_json(&self.body(None))).into_response();
        let headers = response.headers_mut();
        match &self {
            Error::Unauthorized => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"scim2ldap\""),
                );
            }
            Error::TooManyRequests | Error::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
            }
            Error::BadRequest { .. }
            | Error::Forbidden(_)
            | Error::NotFound(_)
            | Error::MethodNotAllowed(_)
            | Error::Conflict(_)
            | Error::PreconditionFailed(_)
            | Error::PayloadTooLarge(_)
            | Error::UnsupportedMediaType(_)
            | Error::NotImplemented(_)
            | Error::Internal(_) => {}
        }
        response.extensions_mut().insert(self);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_follow_rfc7644() {
        let e = Error::bad(ScimType::InvalidFilter, "at position 3: bad");
        let b = e.body(Some("r1"));
        assert_eq!(b["status"], "400");
        assert_eq!(b["scimType"], "invalidFilter");
        assert_eq!(b["detail"], "at position 3: bad");
        assert!(b.get("requestId").is_none(), "only RFC 7644 §3.12 members");
        assert_eq!(
            Error::Conflict("x".into()).body(None)["scimType"],
            "uniqueness"
        );
        let internal = Error::Internal("ldap said secret things".into()).body(Some("abc"));
        assert!(
            !internal["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("secret")
        );
        assert!(
            internal["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("abc")
        );
        assert_eq!(
            Error::Unavailable("down".into()).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
