//! `scim2ldap explain METHOD PATH [BODY-FILE]`: runs the request through the
//! real router against a directory that performs reads and only records
//! writes, then prints the LDAP operations, what it would leave out
//! (`unmapped = "ignore"`) and the answer.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, header};
use secrecy::ExposeSecret;
use tower::ServiceExt;

use crate::config::Config;
use crate::directory::DryRun;
use crate::http::{AppState, router};
use crate::service::Service;
use crate::telemetry::Metrics;

pub async fn run(
    config: Config,
    method: &str,
    path: &str,
    body_file: Option<&Path>,
) -> Result<ExitCode, ExitCode> {
    let method: Method = method.to_ascii_uppercase().parse().map_err(|_| {
        eprintln!("explain: {method:?} is not an HTTP method");
        ExitCode::from(2)
    })?;
    let body = match body_file {
        Some(f) => std::fs::read(f).map_err(|e| {
            eprintln!("explain: cannot read {}: {e}", f.display());
            ExitCode::from(2)
        })?,
        None => Vec::new(),
    };
    let token = config
        .tokens
        .first()
        .map(|t| t.secret.expose_secret().to_owned())
        .unwrap_or_default();
    let uri = if path.starts_with(&config.server.base_path) && !config.server.base_path.is_empty() {
        path.to_owned()
    } else {
        format!(
            "{}{}",
            config.server.base_path,
            if path.starts_with('/') {
                path.to_owned()
            } else {
                format!("/{path}")
            }
        )
    };
    let pool = super::serve::connect(&config).await?;
    let dry = Arc::new(DryRun::new(pool));
    let config = Arc::new(config);
    let metrics = Arc::new(Metrics::default());
    let service = Service::new(dry.clone(), config, metrics.clone());
    let app = router(Arc::new(AppState::new(service)));
    let req = Request::builder()
        .method(method)
        .uri(&uri)
        .header(header::HOST, "localhost")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/scim+json")
        .body(Body::from(body))
        .map_err(|e| {
            eprintln!("explain: {e}");
            ExitCode::from(2)
        })?;
    let response = app.oneshot(req).await.map_err(|_| ExitCode::FAILURE)?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    for (i, op) in dry.operations().iter().enumerate() {
        println!("{}. {op}", i + 1);
    }
    // unmapped = "ignore": what the request sends that no mapping stores.
    for (kind, path, _) in metrics.unmapped_counts() {
        println!("ignored ({kind}, no mapping stores it): {path}");
    }
    println!("=> HTTP {status}");
    if !bytes.is_empty() {
        println!("{}", String::from_utf8_lossy(&bytes));
    }
    Ok(ExitCode::SUCCESS)
}
