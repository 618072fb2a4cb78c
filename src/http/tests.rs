//! The router driven in-process (`router(state).oneshot(request)`), for
//! everything the HTTP layer decides before the directory is asked: media
//! types, body limits, JSON syntax and nesting, authentication, routing,
//! health and readiness. The directory behind it is a real ldap3 pool pointed
//! at a closed loopback port — the daemon's state while the directory is down,
//! not a mock — so a request that did reach the directory would answer 503,
//! and a test expecting anything else proves the layer answered on its own.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use serde_json::Value;
use tower::ServiceExt;

use super::{AppState, SCIM_JSON, router};
use crate::config::Config;
use crate::config::tests::{SECRETS, Vars, example};
use crate::directory::pool::LdapPool;
use crate::service::Service;
use crate::telemetry::Metrics;

/// The token the shipped configuration gets in these tests.
const TOKEN: &str = SECRETS[0].1;

/// A loopback URL on which nothing listens.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("ldap://127.0.0.1:{port}")
}

/// The shipped OpenLDAP configuration, `[server]` extended with `server`
/// lines, its directory unreachable.
fn config(server: &str) -> Config {
    let text = example("openldap.toml").replace("[server]", &format!("[server]\n{server}"));
    let url = closed_port_url();
    let mut vars = SECRETS.to_vec();
    vars.push(("SCIM2LDAP_LDAP_URL", Box::leak(url.into_boxed_str())));
    Config::parse(&text, &Vars(vars)).unwrap()
}

fn daemon(server: &str) -> Router {
    let config = Arc::new(config(server));
    let pool = LdapPool::unconnected(&config.ldap).unwrap();
    let service = Service::new(pool, config, Arc::new(Metrics::default()));
    router(Arc::new(AppState::new(service)))
}

/// What came back: status, headers, and the body as JSON (a string when it
/// is not JSON, Null when empty).
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(&name)
            .map_or("", |v| v.to_str().unwrap_or_default())
    }

    /// Asserts a SCIM error (RFC 7644 §3.12) with this status and scimType.
    fn assert_scim_error(&self, status: u16, scim_type: Option<&str>) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(
            self.header(header::CONTENT_TYPE),
            SCIM_JSON,
            "{}",
            self.body
        );
        assert_eq!(
            self.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{}",
            self.body
        );
        assert_eq!(self.body["status"], status.to_string(), "{}", self.body);
        assert_eq!(self.body["scimType"].as_str(), scim_type, "{}", self.body);
        assert!(self.body["detail"].is_string(), "{}", self.body);
        assert!(!self.header("x-request-id".parse().unwrap()).is_empty());
    }

    fn detail(&self) -> &str {
        self.body["detail"].as_str().unwrap_or_default()
    }
}

/// A request builder with the token and the SCIM media type set.
fn scim(method: &str, uri: &str) -> axum::http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, SCIM_JSON)
}

async fn send(app: &Router, req: Request<Body>) -> Answer {
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let bytes = to_bytes(r.into_body(), usize::MAX).await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// A user body the HTTP layer accepts; only the directory can answer it.
fn user(user_name: &str) -> String {
    format!(
        r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"{user_name}"}}"#
    )
}

async fn post_users(app: &Router, content_type: Option<&str>, body: impl Into<Body>) -> Answer {
    let mut req = Request::builder()
        .method("POST")
        .uri("/scim/v2/Users")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"));
    if let Some(ct) = content_type {
        req = req.header(header::CONTENT_TYPE, ct);
    }
    send(app, req.body(body.into()).unwrap()).await
}

#[tokio::test]
async fn media_types() {
    let app = daemon("");
    // Accepted types get past the extractor and reach the directory, which is
    // down: 503 proves the body was taken.
    for ct in [
        Some("application/scim+json"),
        Some("application/json"),
        Some("Application/SCIM+JSON; charset=utf-8"),
        Some("application/json;charset=UTF-8"),
        None,
    ] {
        let a = post_users(&app, ct, user("a")).await;
        a.assert_scim_error(503, None);
        assert!(!a.header(header::RETRY_AFTER).is_empty(), "{ct:?}");
    }
    for ct in [
        "application/xml",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/scim+jsonx",
        "",
    ] {
        let a = post_users(&app, Some(ct), user("a")).await;
        a.assert_scim_error(415, None);
        assert!(
            a.detail().contains("application/scim+json"),
            "{ct}: {}",
            a.body
        );
    }
}

#[tokio::test]
async fn body_size_limit() {
    let app = daemon("max_body_bytes = 1024");
    let fits = user(&"a".repeat(950));
    assert!(fits.len() <= 1024);
    post_users(&app, Some(SCIM_JSON), fits)
        .await
        .assert_scim_error(503, None);
    let too_big = user(&"a".repeat(1024));
    post_users(&app, Some(SCIM_JSON), too_big)
        .await
        .assert_scim_error(413, None);
    // The limit holds for every body-taking endpoint, not only POST /Users.
    for (method, uri) in [
        ("PATCH", "/scim/v2/Users/x"),
        ("PUT", "/scim/v2/Groups/x"),
        ("POST", "/scim/v2/.search"),
    ] {
        let a = send(
            &app,
            scim(method, uri)
                .body(Body::from(vec![b' '; 2048]))
                .unwrap(),
        )
        .await;
        a.assert_scim_error(413, None);
    }
}

#[tokio::test]
async fn malformed_json_is_a_scim_error() {
    let app = daemon("");
    for (body, says) in [
        (&b"{"[..], "not valid JSON"),
        (b"", "not valid JSON"),
        (b"<xml/>", "not valid JSON"),
        (b"{\"userName\":\"a\",}", "not valid JSON"),
        (b"{\"x\":\"\xff\"}", "UTF-8"),
        (b"{\"userName\":\"a\",\"userName\":\"b\"}", "duplicate key"),
        (b"{\"userName\":\"a\",\"USERNAME\":\"b\"}", "duplicate key"),
    ] {
        let a = post_users(&app, Some(SCIM_JSON), body.to_vec()).await;
        a.assert_scim_error(400, Some("invalidSyntax"));
        assert!(
            a.detail().contains(says),
            "{}: {}",
            String::from_utf8_lossy(body),
            a.body
        );
    }
}

#[tokio::test]
async fn json_nesting_depth() {
    let app = daemon("");
    let nested = |n: usize| {
        user(&format!(
            r#"a","x":{}1{},"y":""#,
            "[".repeat(n),
            "]".repeat(n)
        ))
    };
    // 32 levels in all (the object plus 31 arrays) are parsed: the refusal
    // comes from the mapping, which saw the attribute...
    let a = post_users(&app, Some(SCIM_JSON), nested(31)).await;
    a.assert_scim_error(400, Some("invalidValue"));
    assert!(a.detail().starts_with("x is not mapped"), "{}", a.body);
    // ...33 are not, and the refusal names the limit.
    let a = post_users(&app, Some(SCIM_JSON), nested(32)).await;
    a.assert_scim_error(400, Some("invalidSyntax"));
    assert!(a.detail().contains("deeper than 32"), "{}", a.body);
    // Brackets inside strings are text, not nesting.
    let text = user(&"[".repeat(100));
    post_users(&app, Some(SCIM_JSON), text)
        .await
        .assert_scim_error(503, None);
}

#[tokio::test]
async fn authentication() {
    let app = daemon("");
    let wrong = [
        None,
        Some(String::new()),
        Some("Bearer".to_owned()),
        Some("Bearer ".to_owned()),
        Some(format!("Basic {TOKEN}")),
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])),
        Some(format!("Bearer {}", TOKEN.to_uppercase())),
        Some("Bearer wrong-but-as-long-as-the-token".to_owned()),
    ];
    for (method, uri) in [
        ("GET", "/scim/v2/Users"),
        ("POST", "/scim/v2/Users"),
        ("GET", "/scim/v2/Groups/x"),
        ("DELETE", "/scim/v2/Users/x"),
        ("GET", "/scim/v2/Schemas"),
        ("GET", "/scim/v2/ServiceProviderConfig"),
        ("POST", "/scim/v2/Bulk"),
        ("GET", "/metrics"),
    ] {
        for auth in &wrong {
            let mut req = Request::builder().method(method).uri(uri);
            if let Some(a) = auth {
                req = req.header(header::AUTHORIZATION, a);
            }
            let a = send(&app, req.body(Body::from("{}")).unwrap()).await;
            a.assert_scim_error(401, None);
            assert_eq!(
                a.header(header::WWW_AUTHENTICATE),
                "Bearer realm=\"scim2ldap\"",
                "{method} {uri} {auth:?}"
            );
            assert!(
                !a.body.to_string().contains(TOKEN),
                "the token is never echoed: {}",
                a.body
            );
        }
    }
    // The right token, with the scheme in any case and spaces around, is let
    // through: discovery answers without the directory.
    for auth in [
        format!("Bearer {TOKEN}"),
        format!("bearer {TOKEN}"),
        format!("BEARER   {TOKEN} "),
    ] {
        let req = Request::builder()
            .uri("/scim/v2/ServiceProviderConfig")
            .header(header::AUTHORIZATION, auth.as_str())
            .body(Body::empty())
            .unwrap();
        let a = send(&app, req).await;
        assert_eq!(a.status, StatusCode::OK, "{auth}: {}", a.body);
        assert_eq!(a.body["patch"]["supported"], true, "{}", a.body);
    }
}

#[tokio::test]
async fn routing() {
    let app = daemon("");
    for uri in ["/scim/v2/ResourceTypes/Nope", "/scim/v2/Schemas/urn:nope"] {
        let a = send(&app, scim("GET", uri).body(Body::empty()).unwrap()).await;
        a.assert_scim_error(404, None);
    }
    // An unknown path is a 404, token or not: there is nothing to protect.
    for uri in [
        "/scim/v2/Nope",
        "/scim/v2/Users/x/y",
        "/scim/v2/userz",
        "/scim/v2/Users//",
        "/Users",
        "/",
        "/scim/v3/Users",
    ] {
        let a = send(&app, scim("GET", uri).body(Body::empty()).unwrap()).await;
        a.assert_scim_error(404, None);
        let plain = Request::builder().uri(uri).body(Body::empty()).unwrap();
        send(&app, plain).await.assert_scim_error(404, None);
    }
    // Endpoint names in any case, with a trailing slash: routed (the
    // directory is unreachable here, so a routed list answers 503).
    for uri in ["/scim/v2/users", "/scim/v2/USERS/", "/scim/v2/groups/"] {
        let a = send(&app, scim("GET", uri).body(Body::empty()).unwrap()).await;
        a.assert_scim_error(503, None);
    }
    for uri in [
        "/scim/v2/serviceproviderconfig/",
        "/scim/v2/resourcetypes/user",
    ] {
        let a = send(&app, scim("GET", uri).body(Body::empty()).unwrap()).await;
        assert_eq!(a.status, StatusCode::OK, "{uri}: {}", a.body);
    }
    for (method, uri) in [
        ("DELETE", "/scim/v2/users/"),
        ("DELETE", "/scim/v2/Users"),
        ("PUT", "/scim/v2/Groups"),
        ("POST", "/scim/v2/Users/x"),
        ("GET", "/scim/v2/Users/.search"),
        ("GET", "/scim/v2/.search"),
    ] {
        let a = send(&app, scim(method, uri).body(Body::empty()).unwrap()).await;
        a.assert_scim_error(405, None);
    }
    for (method, uri) in [("POST", "/scim/v2/Bulk"), ("GET", "/scim/v2/Me")] {
        let a = send(&app, scim(method, uri).body(Body::from("{}")).unwrap()).await;
        a.assert_scim_error(501, None);
    }
}

#[tokio::test]
async fn discovery_needs_no_directory() {
    let app = daemon("");
    let get = |uri: &str| scim("GET", uri).body(Body::empty()).unwrap();
    let a = send(&app, get("/scim/v2/ResourceTypes")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(a.header(header::CONTENT_TYPE), SCIM_JSON);
    assert_eq!(a.body["totalResults"], 2, "{}", a.body);
    let a = send(&app, get("/scim/v2/ResourceTypes/user")).await;
    assert_eq!(
        a.status,
        StatusCode::OK,
        "ids match case-insensitively: {}",
        a.body
    );
    assert_eq!(a.body["endpoint"], "/Users", "{}", a.body);
    let a = send(
        &app,
        get("/scim/v2/Schemas/urn:ietf:params:scim:schemas:extension:contactify:2.0:User"),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // The public URL of a resource follows the Host and X-Forwarded-Proto the
    // request came with.
    let req = scim("GET", "/scim/v2/ResourceTypes/Group")
        .header(header::HOST, "scim.example.com")
        .header("x-forwarded-proto", "https")
        .body(Body::empty())
        .unwrap();
    let a = send(&app, req).await;
    assert_eq!(
        a.body["meta"]["location"], "https://scim.example.com/scim/v2/ResourceTypes/Group",
        "{}",
        a.body
    );
    // public_discovery serves discovery without a token, and nothing else.
    let open = daemon("public_discovery = true");
    let plain = |uri: &str| Request::builder().uri(uri).body(Body::empty()).unwrap();
    assert_eq!(
        send(&open, plain("/scim/v2/Schemas")).await.status,
        StatusCode::OK
    );
    send(&open, plain("/scim/v2/Users"))
        .await
        .assert_scim_error(401, None);
}

#[tokio::test]
async fn health_readiness_and_metrics_with_the_directory_down() {
    let app = daemon("");
    let plain = |uri: &str| Request::builder().uri(uri).body(Body::empty()).unwrap();
    // Alive: the process answers whatever the directory does.
    let a = send(&app, plain("/healthz")).await;
    assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, Some("ok\n")));
    // Not ready: the directory does not answer; a SCIM error with Retry-After.
    let a = send(&app, plain("/readyz")).await;
    a.assert_scim_error(503, None);
    let retry: u64 = a.header(header::RETRY_AFTER).parse().unwrap();
    assert!(retry > 0, "{}", a.body);
    assert!(a.detail().contains("directory"), "{}", a.body);
    // A read is a 503 too, never a 404 or a 500.
    let a = send(
        &app,
        scim("GET", "/scim/v2/Users/00000000-0000-4000-8000-000000000000")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    a.assert_scim_error(503, None);
    // Metrics need the token (no public_metrics) and report the directory down.
    let a = send(&app, scim("GET", "/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.header(header::CONTENT_TYPE).starts_with("text/plain"));
    let text = a.body.as_str().unwrap();
    assert!(text.contains("scim2ldap_ldap_up 0"), "{text}");
    let open = daemon("public_metrics = true");
    let a = send(&open, plain("/metrics")).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
}

#[tokio::test]
async fn request_ids() {
    let app = daemon("");
    let with_id = |id: &str| {
        Request::builder()
            .uri("/scim/v2/Nope")
            .header("x-request-id", id)
            .body(Body::empty())
            .unwrap()
    };
    // A well-formed id from the client is kept.
    let a = send(&app, with_id("abc-123_X")).await;
    assert_eq!(a.header("x-request-id".parse().unwrap()), "abc-123_X");
    // Anything else is replaced by one of ours.
    for bad in ["a b", "a/b", &"x".repeat(65)] {
        let a = send(&app, with_id(bad)).await;
        let id = a.header("x-request-id".parse().unwrap()).to_owned();
        assert!(!id.is_empty() && id != bad, "{bad:?} -> {id:?}");
    }
}
