//! Thin handlers: extractors, one service call, wrap the result.
//! The resource handlers take the [`ResourceKind`] first: the routes of each
//! resource type are built by [`resource_routes`], whose closures pass it.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde_json::Value;

use super::extract::{QueryParams, RequestCtx, ScimBody};
use super::{AppState, scim_json};
use crate::directory::Directory;
use crate::error::Error;
use crate::scim::query::{Params, Projection};
use crate::scim::{ListResponse, ResourceKind};
use crate::service::{Patched, Versioned};

type St<D> = State<Arc<AppState<D>>>;

fn with_etag(status: StatusCode, v: Versioned) -> Response {
    let mut r = (status, scim_json(&v.resource)).into_response();
    if let Some(tag) = v
        .etag
        .as_deref()
        .and_then(|t| HeaderValue::from_str(t).ok())
    {
        r.headers_mut().insert(header::ETAG, tag);
    }
    if let Some(loc) = v.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        r.headers_mut().insert(header::LOCATION, loc);
    }
    r
}

fn header(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn projection(p: &Params) -> Result<Projection, Error> {
    Projection::parse(p.attributes.as_deref(), p.excluded_attributes.as_deref())
}

async fn list<D: Directory>(
    kind: ResourceKind,
    State(s): St<D>,
    RequestCtx(ctx): RequestCtx,
    QueryParams(p): QueryParams,
) -> Result<Response, Error> {
    Ok(scim_json(&s.service.list(kind, &p, &ctx).await?))
}

async fn search<D: Directory>(
    kind: ResourceKind,
    State(s): St<D>,
    RequestCtx(ctx): RequestCtx,
    ScimBody(b): ScimBody,
) -> Result<Response, Error> {
    let p = Params::from_search_body(&b)?;
    Ok(scim_json(&s.service.list(kind, &p, &ctx).await?))
}

async fn search_all<D: Directory>(
    State(s): St<D>,
    RequestCtx(ctx): RequestCtx,
    ScimBody(b): ScimBody,
) -> Result<Response, Error> {
    let p = Params::from_search_body(&b)?;
    Ok(scim_json(&s.service.search_all(&p, &ctx).await?))
}

async fn get_one<D: Directory>(
    kind: ResourceKind,
    State(s): St<D>,
    RequestCtx(ctx): RequestCtx,
    Path(id): Path<String>,
    QueryParams(p): QueryParams,
    h: HeaderMap,
) -> Result<Response, Error> {
    let v = s.service.get(kind, &id, &projection(&p)?, &ctx).await?;
    if let (Some(want), Some(have)) = (header(&h, header::IF_NONE_MATCH), v.etag.as_deref()) {
        if want.split(',').any(|t| t.trim() == have || t.trim() == "*") {
            let mut r = StatusCode::NOT_MODIFIED.into_response();
            if let Ok(tag) = HeaderValue::from_str(have) {
                r.headers_mut().insert(header::ETAG, tag);
            }
            return Ok(r);
        }
    }
    Ok(with_etag(StatusCode::OK, v))
}

async fn create<D: Directory>(
    kind: ResourceKind,
    State(s): St<D>,
    RequestCtx(ctx): RequestCtx,
    ScimBody(b): ScimBody,
) -> Result<Response, Error> {
    Ok(with_etag(
        StatusCode::CREATED,
        s.service.create(kind, &b, &ctx).await?,
    ))
}

async fn replace<D: Directory>(
    kind: ResourceKind,
    State(s): St<D>,
    RequestCtx(ctx): RequestCtx,
    Path(id): Path<String>,
    h: HeaderMap,
    ScimBody(b): ScimBody,
) -> Result<Response, Error> {
    let v = s
        .service
        .replace(kind, &id, &b, header(&h, header::IF_MATCH), &ctx)
        .await?;
    Ok(with_etag(StatusCode::OK, v))
}

async fn patch<D: Directory>(
    kind: ResourceKind,
    State(s): St<D>,
    RequestCtx(ctx): RequestCtx,
    Path(id): Path<String>,
    QueryParams(p): QueryParams,
    h: HeaderMap,
    ScimBody(b): ScimBody,
) -> Result<Response, Error> {
    let proj = projection(&p)?;
    match s
        .service
        .patch(
            kind,
            &id,
            &b,
            header(&h, header::IF_MATCH),
            Some(&proj),
            &ctx,
        )
        .await?
    {
        Patched::Resource(v) => Ok(with_etag(StatusCode::OK, v)),
        Patched::NoContent => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn delete<D: Directory>(
    kind: ResourceKind,
    State(s): St<D>,
    RequestCtx(ctx): RequestCtx,
    Path(id): Path<String>,
    h: HeaderMap,
) -> Result<Response, Error> {
    s.service
        .delete(kind, &id, header(&h, header::IF_MATCH), &ctx)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn service_provider_config<D: Directory>(
    State(s): St<D>,
    RequestCtx(ctx): RequestCtx,
) -> Response {
    scim_json(&s.service.service_provider_config(&ctx))
}

fn list_of(resources: Vec<Value>) -> ListResponse<Value> {
    crate::scim::list_response(resources.len(), 1, resources)
}

async fn resource_types<D: Directory>(State(s): St<D>, RequestCtx(ctx): RequestCtx) -> Response {
    scim_json(&list_of(s.service.resource_types(&ctx)))
}

async fn resource_type<D: Directory>(
    State(s): St<D>,
    RequestCtx(ctx): RequestCtx,
    Path(name): Path<String>,
) -> Result<Response, Error> {
    s.service
        .resource_types(&ctx)
        .into_iter()
        .find(|r| {
            r["id"]
                .as_str()
                .is_some_and(|id| id.eq_ignore_ascii_case(&name))
        })
        .map(|r| scim_json(&r))
        .ok_or_else(|| Error::NotFound(format!("resource type {name} not found")))
}

async fn schemas<D: Directory>(State(s): St<D>, RequestCtx(ctx): RequestCtx) -> Response {
    scim_json(&list_of(s.service.schemas(&ctx)))
}

async fn schema<D: Directory>(
    State(s): St<D>,
    RequestCtx(ctx): RequestCtx,
    Path(id): Path<String>,
) -> Result<Response, Error> {
    s.service
        .schemas(&ctx)
        .into_iter()
        .find(|r| {
            r["id"]
                .as_str()
                .is_some_and(|x| x.eq_ignore_ascii_case(&id))
        })
        .map(|r| scim_json(&r))
        .ok_or_else(|| Error::NotFound(format!("schema {id} not found")))
}

async fn not_implemented() -> Error {
    Error::NotImplemented(
        "this SCIM endpoint is not offered (see /ServiceProviderConfig)".to_owned(),
    )
}

pub(super) async fn not_found() -> Error {
    Error::NotFound("no such endpoint".to_owned())
}

async fn method_not_allowed() -> Error {
    Error::MethodNotAllowed("this endpoint does not take that method".to_owned())
}

pub(super) async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

pub(super) async fn readyz<D: Directory>(State(s): St<D>) -> Response {
    if s.service.ready().await {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        Error::Unavailable("the directory does not answer".to_owned()).into_response()
    }
}

pub(super) async fn metrics<D: Directory>(State(s): St<D>) -> Response {
    let up = s.service.ready().await;
    let (size, connected, in_use) = (s.pool_gauges)();
    let mut r = s
        .metrics
        .render(size, connected, in_use, up)
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

/// The SCIM endpoints behind the token.
pub(super) fn scim_routes<D: Directory>(with_discovery: bool) -> Router<Arc<AppState<D>>> {
    let r = resource_routes::<D>(ResourceKind::User)
        .merge(resource_routes::<D>(ResourceKind::Group))
        .route(
            "/.search",
            post(search_all::<D>).fallback(method_not_allowed),
        )
        .route("/Bulk", any(not_implemented))
        .route("/Me", any(not_implemented));
    if with_discovery {
        r.merge(discovery_routes::<D>())
    } else {
        r
    }
}

/// `/{Users|Groups}`, its `.search` and `/{id}` for one resource type: each
/// closure hands its handler the kind, then the request's extractors.
fn resource_routes<D: Directory>(kind: ResourceKind) -> Router<Arc<AppState<D>>> {
    let at = |tail: &str| format!("/{}{tail}", kind.endpoint());
    Router::new()
        .route(
            &at(""),
            get(move |s, c, p| list::<D>(kind, s, c, p))
                .post(move |s, c, b| create::<D>(kind, s, c, b))
                .fallback(method_not_allowed),
        )
        .route(
            &at("/.search"),
            post(move |s, c, b| search::<D>(kind, s, c, b)).fallback(method_not_allowed),
        )
        .route(
            &at("/{id}"),
            get(move |s, c, i, p, h| get_one::<D>(kind, s, c, i, p, h))
                .put(move |s, c, i, h, b| replace::<D>(kind, s, c, i, h, b))
                .patch(move |s, c, i, p, h, b| patch::<D>(kind, s, c, i, p, h, b))
                .delete(move |s, c, i, h| delete::<D>(kind, s, c, i, h))
                .fallback(method_not_allowed),
        )
}

/// Discovery endpoints (also served without a token when configured).
pub(super) fn discovery_routes<D: Directory>() -> Router<Arc<AppState<D>>> {
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config::<D>))
        .route("/ResourceTypes", get(resource_types::<D>))
        .route("/ResourceTypes/{name}", get(resource_type::<D>))
        .route("/Schemas", get(schemas::<D>))
        .route("/Schemas/{id}", get(schema::<D>))
}
