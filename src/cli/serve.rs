//! `scim2ldap serve`: connect, listen, answer, and stop gracefully.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::directory::pool::LdapPool;
use crate::directory::{DirError, Directory};
use crate::http::{AppState, router};
use crate::service::Service;
use crate::telemetry::{self, Metrics};
use std::future::IntoFuture;

/// How long in-flight requests may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Connects to the directory, waiting out an outage at start-up (a bind that
/// is refused is fatal: retrying will not fix credentials).
pub async fn connect(config: &Config) -> Result<LdapPool, ExitCode> {
    let mut delay = Duration::from_millis(250);
    loop {
        match LdapPool::connect(&config.ldap).await {
            Ok(pool) => return Ok(pool),
            Err(DirError::Unavailable(e)) => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "directory not reachable yet");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot use the directory");
                eprintln!("scim2ldap: {e}");
                return Err(ExitCode::FAILURE);
            }
        }
    }
}

/// Registers the SIGTERM and SIGINT (Ctrl-C) handlers now and returns the wait
/// for either. Registering before readiness is announced matters: a stop sent
/// right after `READY=1` must meet the handler, not the default action that
/// kills the process without a graceful stop.
fn shutdown_signal() -> impl Future<Output = ()> {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    let term = signal(SignalKind::terminate()).ok();
    let int = signal(SignalKind::interrupt()).ok();
    async fn recv(s: Option<Signal>) {
        match s {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    async move {
        tokio::select! {
            () = recv(term) => {},
            () = recv(int) => {},
        }
        tracing::info!("shutting down: no new connections, finishing requests in flight");
    }
}

/// Serves plain HTTP until `shutdown`, then lets requests in flight finish
/// for at most [`SHUTDOWN_GRACE`].
async fn serve_plain(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    // SIGHUP reloads certificates; without TLS there is nothing to reload, but
    // the signal must not stop the daemon (`systemctl reload`).
    if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                tracing::info!("SIGHUP: nothing to reload without TLS");
            }
        });
    }
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let grace = async move {
        let _ = stop_rx.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        r = server.into_future() => r.map_err(|e| e.to_string()),
        () = grace => {
            tracing::warn!(grace_s = SHUTDOWN_GRACE.as_secs(), "requests still in flight after the grace period; stopping anyway");
            Ok(())
        }
    }
}

/// Runs the daemon until SIGTERM or Ctrl-C.
pub async fn run(config: Config) -> Result<ExitCode, ExitCode> {
    telemetry::init(config.server.log_format);
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    let config = Arc::new(config);
    let pool = connect(&config).await?;
    for line in pool.capabilities().describe() {
        tracing::info!("{line}");
    }
    let metrics = Arc::new(Metrics::default());
    let pool = Arc::new(pool.with_metrics(metrics.clone()));
    let gauges_pool = pool.clone();
    let size = config.ldap.pool_size;
    let service = Service::new(pool, config.clone(), metrics);
    let mut state = AppState::new(service);
    state.pool_gauges =
        Box::new(move || (size, gauges_pool.connected_hint(), gauges_pool.in_use()));
    let app = router(Arc::new(state));
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .map_err(|e| {
            eprintln!("scim2ldap: cannot listen on {}: {e}", config.server.listen);
            ExitCode::FAILURE
        })?;
    // Check the certificate before announcing readiness.
    if let Some(tls) = &config.server.tls {
        if let Err(e) = crate::http::tls::server_config(tls) {
            eprintln!("scim2ldap: {e}");
            return Err(ExitCode::FAILURE);
        }
    }
    let scheme = if config.server.tls.is_some() {
        "https"
    } else {
        "http"
    };
    tracing::info!(listen = %config.server.listen, scheme, base_path = %config.server.base_path, "scim2ldap ready");
    let signalled = shutdown_signal();
    notify("READY=1");
    let shutdown = async {
        signalled.await;
        notify("STOPPING=1");
    };
    let result = match config.server.tls.clone() {
        Some(tls) => crate::http::tls::serve(listener, app, tls, shutdown, SHUTDOWN_GRACE).await,
        None => serve_plain(listener, app, shutdown).await,
    };
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            Err(ExitCode::FAILURE)
        }
    }
}

/// Tells systemd about a state change (`Type=notify`, sd_notify(3)): one
/// datagram to `$NOTIFY_SOCKET`, a path or an abstract name starting with '@'.
fn notify(state: &str) {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let target = target.to_string_lossy().into_owned();
    let addr = match target.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
        None => SocketAddr::from_pathname(&target),
    };
    let sent = addr
        .and_then(|a| UnixDatagram::unbound().and_then(|s| s.send_to_addr(state.as_bytes(), &a)));
    if let Err(e) = sent {
        tracing::warn!(error = %e, "could not notify systemd");
    }
}
