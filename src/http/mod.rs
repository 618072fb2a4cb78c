//! The HTTP front end: routes, thin handlers (extract, one service call,
//! wrap), and the middleware every request passes — request id, access log,
//! metrics, concurrency limit, timeout, and bearer-token authentication.

pub mod auth;
pub mod extract;
mod handlers;
pub mod path;
pub mod tls;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::directory::Directory;
use crate::error::{Error, RequestId};
use crate::service::Service;
use crate::telemetry::Metrics;

pub use crate::error::{SCIM_JSON, scim_json};

/// Everything a handler can reach.
pub struct AppState<D> {
    pub service: Service<D>,
    pub tokens: auth::Tokens,
    pub limiter: Semaphore,
    pub metrics: Arc<Metrics>,
    /// Pool gauges for /metrics: (size, connected, in use); filled by the caller.
    pub pool_gauges: Box<dyn Fn() -> (usize, usize, usize) + Send + Sync>,
}

impl<D: Directory> AppState<D> {
    pub fn new(service: Service<D>) -> AppState<D> {
        let config = service.config.clone();
        let metrics = service.metrics.clone();
        AppState {
            tokens: auth::Tokens::new(&config.tokens),
            limiter: Semaphore::new(config.server.max_concurrent_requests),
            metrics,
            service,
            pool_gauges: Box::new(|| (0, 0, 0)),
        }
    }

    fn config(&self) -> &Config {
        &self.service.config
    }
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

fn new_request_id() -> String {
    // Process start time plus a counter: unique per process, sortable, and no
    // randomness source needed.
    static START: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let start = START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
            ^ u64::from(std::process::id()) << 32
    });
    format!(
        "{:x}-{:x}",
        start,
        REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Builds the router for a configured service.
pub fn router<D: Directory>(state: Arc<AppState<D>>) -> Router {
    let base = state.config().server.base_path.clone();
    let scim = handlers::scim_routes::<D>(!state.config().server.public_discovery);
    let public = Router::new()
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(handlers::readyz::<D>));
    let metrics = Router::new().route("/metrics", get(handlers::metrics::<D>));
    let protected = if base.is_empty() {
        scim
    } else {
        Router::new().nest(&base, scim)
    };
    let protected = protected.merge(if state.config().server.public_metrics {
        Router::new()
    } else {
        metrics.clone()
    });
    let protected = protected.layer(middleware::from_fn_with_state(
        state.clone(),
        auth::require_token::<D>,
    ));
    let mut app = Router::new().merge(public).merge(protected);
    if state.config().server.public_metrics {
        app = app.merge(metrics);
    }
    if state.config().server.public_discovery {
        let disc = handlers::discovery_routes::<D>();
        app = app.merge(if base.is_empty() {
            disc
        } else {
            Router::new().nest(&base, disc)
        });
    }
    let app = app
        .fallback(handlers::not_found)
        .layer(DefaultBodyLimit::max(state.config().server.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), envelope::<D>))
        .with_state(state);
    // Endpoint names are respelled before routing; an outer router with
    // only a fallback keeps `router` returning a `Router`.
    Router::new().fallback_service(tower::ServiceExt::map_request(app, move |req| {
        path::normalise(req, &base)
    }))
}

/// Per-request envelope: request id, concurrency limit, timeout, error bodies
/// with the request id, access log and metrics.
async fn envelope<D: Directory>(
    State(state): State<Arc<AppState<D>>>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let span = tracing::info_span!("request", request_id = %id, method = %method, path = %req.uri().path());
    let response = limited(&state, req, next, &span).await;
    let mut response = match response.extensions().get::<Error>().cloned() {
        Some(err) => error_answer(&err, &response, &span, &id),
        None => response,
    };
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    let status = response.status();
    let elapsed = started.elapsed();
    state.metrics.http(
        route.as_ref().map_or("unmatched", MatchedPath::as_str),
        method.as_str(),
        status.as_u16(),
        elapsed,
    );
    let _g = span.enter();
    tracing::info!(
        status = status.as_u16(),
        elapsed_ms = elapsed.as_secs_f64() * 1000.0,
        "answered"
    );
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"scim2ldap\""),
        );
    }
    response
}

/// The client's `X-Request-Id` when it is a short token, else a new one.
fn request_id(req: &Request) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(new_request_id)
}

/// The request run within the concurrency limit and the request timeout,
/// inside its span.
async fn limited<D: Directory>(
    state: &AppState<D>,
    req: Request,
    next: Next,
    span: &tracing::Span,
) -> Response {
    let Ok(_permit) = state.limiter.try_acquire() else {
        return Error::TooManyRequests.into_response();
    };
    let timeout = state.config().server.request_timeout;
    match tokio::time::timeout(
        timeout,
        tracing::Instrument::instrument(next.run(req), span.clone()),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Error::Unavailable(format!(
            "the request took longer than {}s",
            timeout.as_secs()
        ))
        .into_response(),
    }
}

/// A failed request's answer: the error logged at its level, its SCIM body
/// carrying the request id, and the headers the handler set kept.
fn error_answer(err: &Error, response: &Response, span: &tracing::Span, id: &str) -> Response {
    let _g = span.enter();
    match err {
        Error::Internal(cause) => tracing::error!(error = %cause, "request failed"),
        Error::Unavailable(cause) => {
            tracing::warn!(error = %cause, "directory unavailable")
        }
        other => {
            tracing::info!(status = other.status().as_u16(), detail = %other, "request refused")
        }
    }
    let mut r = (err.status(), scim_json(&err.body(Some(id)))).into_response();
    for (k, v) in response.headers() {
        if k != header::CONTENT_LENGTH && k != header::CONTENT_TYPE {
            r.headers_mut().insert(k.clone(), v.clone());
        }
    }
    r
}
