//! Logging set-up and the metrics registry.
//!
//! Logs go through `tracing`, as text or JSON lines. Metrics are a small
//! in-process registry rendered in the Prometheus text exposition format on
//! `/metrics`; counters are plain maps behind a mutex, touched once per
//! request, which is far below anything that could contend.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::LogFormat;
use crate::scim::ResourceKind;

/// Installs the global subscriber. `RUST_LOG` refines the default `info` level.
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only for a terminal: the journal and log files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Latency buckets in seconds, from a cached read to a slow bulk membership change.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels},le=\"{b}\"}} {}",
                self.counts[i]
            );
        }
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

/// Requests answered on one route with one method.
#[derive(Default)]
struct RouteStats {
    statuses: BTreeMap<u16, u64>,
    latency: Histogram,
}

#[derive(Default)]
struct Registry {
    /// route -> method -> counts by status and latency.
    http: BTreeMap<String, BTreeMap<String, RouteStats>>,
    provisioned: BTreeMap<(&'static str, &'static str), u64>,
    /// operation -> result -> count.
    ldap: BTreeMap<&'static str, BTreeMap<String, u64>>,
    ldap_latency: BTreeMap<&'static str, Histogram>,
    /// Configured LDAP URL (in order) -> connections currently bound through it.
    ldap_urls: Vec<(String, usize)>,
    unmapped: BTreeMap<(&'static str, String), Ignored>,
    /// How a list's page was fetched (`by_offset`, `read_through`) -> entries read.
    listed: BTreeMap<&'static str, u64>,
}

/// One attribute path left out of writes (`unmapped = "ignore"`).
#[derive(Default)]
struct Ignored {
    count: u64,
    /// When the log last warned about it, and the count then.
    warned: Option<(Instant, u64)>,
}

/// How often the log may warn about the same ignored path.
pub const UNMAPPED_WARN_EVERY: Duration = Duration::from_secs(300);
/// Distinct ignored paths kept per resource type; a client sending endless
/// made-up attribute names must not grow the registry (or /metrics) without
/// bound. Paths past the limit are counted under `OTHER_PATHS`.
const MAX_UNMAPPED_PATHS: usize = 200;
/// Longer paths are cut, for the same reason.
const MAX_PATH_CHARS: usize = 200;
const OTHER_PATHS: &str = "(other paths)";

/// A Prometheus label value (backslash, quote and newline escaped).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The metrics of one daemon.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Registry>,
}

impl Metrics {
    /// Records one answered HTTP request.
    pub fn http(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        if let Ok(mut r) = self.inner.lock() {
            // Keys are allocated once per route and method, not per request.
            let methods = match r.http.get_mut(route) {
                Some(m) => m,
                None => r.http.entry(route.to_owned()).or_default(),
            };
            let stats = match methods.get_mut(method) {
                Some(s) => s,
                None => methods.entry(method.to_owned()).or_default(),
            };
            *stats.statuses.entry(status).or_default() += 1;
            stats.latency.observe(elapsed.as_secs_f64());
        }
    }

    /// Records one LDAP operation: its type, result (`success`, a result code,
    /// `unavailable`) and latency.
    pub fn ldap(&self, op: &'static str, result: &str, elapsed: Duration) {
        if let Ok(mut r) = self.inner.lock() {
            let results = r.ldap.entry(op).or_default();
            match results.get_mut(result) {
                Some(n) => *n += 1,
                None => {
                    results.insert(result.to_owned(), 1);
                }
            }
            r.ldap_latency
                .entry(op)
                .or_default()
                .observe(elapsed.as_secs_f64());
        }
    }

    /// Sets how many pooled connections are bound through each configured LDAP
    /// URL, in the configured order (which URL is in use after a failover).
    pub fn ldap_urls(&self, connections: Vec<(String, usize)>) {
        if let Ok(mut r) = self.inner.lock() {
            r.ldap_urls = connections;
        }
    }

    /// Counts the entries one list search read from the directory, by how
    /// its page was fetched: `by_offset` (VLV: the window only) or
    /// `read_through` (every match up to `server.max_list_entries`).
    pub fn listed(&self, paging: &'static str, entries: usize) {
        if let Ok(mut r) = self.inner.lock() {
            *r.listed.entry(paging).or_default() += entries as u64;
        }
    }

    /// Counts a provisioning outcome (`created`, `updated`, `disabled`, `deleted`).
    pub fn provisioned(&self, kind: ResourceKind, action: &'static str) {
        if let Ok(mut r) = self.inner.lock() {
            *r.provisioned.entry((kind.name(), action)).or_default() += 1;
        }
    }

    /// Counts attribute paths left out of a write; returns those the log
    /// should warn about now, each with how often it was left out since the
    /// last warning: the first time, then at most once per
    /// [`UNMAPPED_WARN_EVERY`].
    pub fn unmapped(
        &self,
        kind: ResourceKind,
        paths: &[String],
        now: Instant,
    ) -> Vec<(String, u64)> {
        let Ok(mut r) = self.inner.lock() else {
            return Vec::new();
        };
        let mut due = Vec::new();
        for path in paths {
            let mut key: String = path.chars().take(MAX_PATH_CHARS).collect();
            let known = r.unmapped.contains_key(&(kind.name(), key.clone()));
            let kept = r.unmapped.keys().filter(|(k, _)| *k == kind.name()).count();
            if !known && kept >= MAX_UNMAPPED_PATHS {
                OTHER_PATHS.clone_into(&mut key);
            }
            let e = r.unmapped.entry((kind.name(), key.clone())).or_default();
            e.count += 1;
            let since = e.count - e.warned.map_or(0, |(_, n)| n);
            if e.warned
                .is_none_or(|(t, _)| now.duration_since(t) >= UNMAPPED_WARN_EVERY)
            {
                e.warned = Some((now, e.count));
                due.push((key, since));
            }
        }
        due
    }

    /// Every ignored path so far: (resource type, path, times).
    pub fn unmapped_counts(&self) -> Vec<(&'static str, String, u64)> {
        self.inner
            .lock()
            .map(|r| {
                r.unmapped
                    .iter()
                    .map(|((k, p), i)| (*k, p.clone(), i.count))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The Prometheus text exposition, with the pool gauges given by the caller.
    pub fn render(
        &self,
        pool_size: usize,
        pool_connected: usize,
        pool_in_use: usize,
        ldap_up: bool,
    ) -> String {
        let mut out = String::new();
        let Ok(r) = self.inner.lock() else { return out };
        r.render_http(&mut out);
        r.render_provisioning(&mut out);
        r.render_ldap(&mut out);
        r.render_pool(&mut out, pool_size, pool_connected, pool_in_use, ldap_up);
        out
    }
}

/// Writes the `# HELP` and `# TYPE` lines that open a metric family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// Writes a gauge without labels: its family's lines and its one value.
fn gauge(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    family(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

impl Registry {
    /// HTTP requests answered, by route, method and status, and their latency.
    fn render_http(&self, out: &mut String) {
        family(
            out,
            "scim2ldap_http_requests_total",
            "counter",
            "HTTP requests answered, by route, method and status.",
        );
        let by_route = || {
            self.http
                .iter()
                .flat_map(|(route, m)| m.iter().map(move |(method, s)| (route, method, s)))
        };
        for (route, method, stats) in by_route() {
            for (status, n) in &stats.statuses {
                let _ = writeln!(
                    out,
                    "scim2ldap_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
                );
            }
        }
        family(
            out,
            "scim2ldap_http_request_duration_seconds",
            "histogram",
            "Time to answer HTTP requests.",
        );
        for (route, method, stats) in by_route() {
            stats.latency.render(
                out,
                "scim2ldap_http_request_duration_seconds",
                &format!("route=\"{route}\",method=\"{method}\""),
            );
        }
    }

    /// What provisioning did to the directory: changes made, attribute paths
    /// left out, entries list searches read.
    fn render_provisioning(&self, out: &mut String) {
        family(
            out,
            "scim2ldap_provisioned_total",
            "counter",
            "Directory changes by resource type and action.",
        );
        for ((kind, action), n) in &self.provisioned {
            let _ = writeln!(
                out,
                "scim2ldap_provisioned_total{{resource=\"{kind}\",action=\"{action}\"}} {n}"
            );
        }
        family(
            out,
            "scim2ldap_unmapped_ignored_total",
            "counter",
            "Attribute paths left out of writes because no mapping stores them (unmapped = \"ignore\"), by resource type and path.",
        );
        for ((kind, path), i) in &self.unmapped {
            let _ = writeln!(
                out,
                "scim2ldap_unmapped_ignored_total{{resource=\"{kind}\",path=\"{}\"}} {}",
                label(path),
                i.count
            );
        }
        family(
            out,
            "scim2ldap_list_entries_read_total",
            "counter",
            "Entries list searches read from the directory, by how the page was fetched (by_offset: VLV, the window only; read_through: every match up to server.max_list_entries).",
        );
        for paging in ["by_offset", "read_through"] {
            let n = self.listed.get(paging).copied().unwrap_or_default();
            let _ = writeln!(
                out,
                "scim2ldap_list_entries_read_total{{paging=\"{paging}\"}} {n}"
            );
        }
    }

    /// LDAP operations by type and result, and their latency.
    fn render_ldap(&self, out: &mut String) {
        family(
            out,
            "scim2ldap_ldap_operations_total",
            "counter",
            "LDAP operations by type and result.",
        );
        for (op, result, n) in self
            .ldap
            .iter()
            .flat_map(|(op, m)| m.iter().map(move |(result, n)| (op, result, n)))
        {
            let _ = writeln!(
                out,
                "scim2ldap_ldap_operations_total{{operation=\"{op}\",result=\"{result}\"}} {n}"
            );
        }
        family(
            out,
            "scim2ldap_ldap_operation_duration_seconds",
            "histogram",
            "Time LDAP operations took.",
        );
        for (op, h) in &self.ldap_latency {
            h.render(
                out,
                "scim2ldap_ldap_operation_duration_seconds",
                &format!("operation=\"{op}\""),
            );
        }
    }

    /// The connection pool's gauges (given by the caller) and the connections
    /// bound through each configured URL.
    fn render_pool(
        &self,
        out: &mut String,
        pool_size: usize,
        pool_connected: usize,
        pool_in_use: usize,
        ldap_up: bool,
    ) {
        gauge(
            out,
            "scim2ldap_ldap_pool_size",
            "Configured LDAP connections.",
            pool_size,
        );
        gauge(
            out,
            "scim2ldap_ldap_pool_connected",
            "LDAP connections currently bound.",
            pool_connected,
        );
        family(
            out,
            "scim2ldap_ldap_url_connections",
            "gauge",
            "Pooled LDAP connections bound through each configured URL.",
        );
        for (url, n) in &self.ldap_urls {
            let _ = writeln!(
                out,
                "scim2ldap_ldap_url_connections{{url=\"{}\"}} {n}",
                label(url)
            );
        }
        gauge(
            out,
            "scim2ldap_ldap_operations_in_flight",
            "LDAP operations waiting for an answer.",
            pool_in_use,
        );
        gauge(
            out,
            "scim2ldap_ldap_up",
            "Whether the directory answered the readiness probe.",
            u8::from(ldap_up),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.http("/Users", "GET", 200, Duration::from_millis(3));
        m.http("/Users", "GET", 200, Duration::from_millis(30));
        m.provisioned(ResourceKind::User, "created");
        m.ldap("add", "success", Duration::from_micros(800));
        m.ldap("add", "68", Duration::from_micros(300));
        m.ldap_urls(vec![
            ("ldap://a:389".to_owned(), 1),
            ("ldap://\"b\":389".to_owned(), 2),
        ]);
        let t = m.render(4, 3, 1, true);
        assert!(
            t.contains("scim2ldap_ldap_url_connections{url=\"ldap://a:389\"} 1\nscim2ldap_ldap_url_connections{url=\"ldap://\\\"b\\\":389\"} 2\n"),
            "{t}"
        );
        assert!(
            t.contains("scim2ldap_ldap_operations_total{operation=\"add\",result=\"68\"} 1"),
            "{t}"
        );
        assert!(
            t.contains("scim2ldap_ldap_operation_duration_seconds_count{operation=\"add\"} 2"),
            "{t}"
        );
        assert!(
            t.contains(
                "scim2ldap_http_requests_total{route=\"/Users\",method=\"GET\",status=\"200\"} 2"
            ),
            "{t}"
        );
        assert!(t.contains("scim2ldap_http_request_duration_seconds_bucket{route=\"/Users\",method=\"GET\",le=\"0.005\"} 1"), "{t}");
        assert!(
            t.contains(
                "scim2ldap_http_request_duration_seconds_count{route=\"/Users\",method=\"GET\"} 2"
            ),
            "{t}"
        );
        assert!(t.contains("scim2ldap_provisioned_total{resource=\"User\",action=\"created\"} 1"));
        assert!(t.contains("scim2ldap_ldap_pool_connected 3"));
        assert!(t.contains("scim2ldap_ldap_up 1"));
    }

    #[test]
    fn ignored_paths_are_counted_and_warned_about_now_and_then() {
        let m = Metrics::default();
        let t0 = Instant::now();
        let home = "emails[type eq \"home\"].value".to_owned();
        let fax = "faxNumber".to_owned();
        assert_eq!(
            m.unmapped(ResourceKind::User, &[home.clone(), fax.clone()], t0),
            [(home.clone(), 1), (fax.clone(), 1)]
        );
        // Within the window: counted, not warned about again.
        for _ in 0..3 {
            assert_eq!(
                m.unmapped(
                    ResourceKind::User,
                    std::slice::from_ref(&home),
                    t0 + Duration::from_secs(1)
                ),
                []
            );
        }
        let later = t0 + UNMAPPED_WARN_EVERY;
        assert_eq!(
            m.unmapped(ResourceKind::User, std::slice::from_ref(&home), later),
            [(home.clone(), 4)]
        );
        m.unmapped(ResourceKind::Group, std::slice::from_ref(&fax), later);
        let t = m.render(1, 1, 0, true);
        assert!(
            t.contains("scim2ldap_unmapped_ignored_total{resource=\"User\",path=\"emails[type eq \\\"home\\\"].value\"} 5"),
            "{t}"
        );
        assert!(
            t.contains("scim2ldap_unmapped_ignored_total{resource=\"Group\",path=\"faxNumber\"} 1"),
            "{t}"
        );
        // Made-up names do not grow the registry without bound.
        let many: Vec<String> = (0..500).map(|i| format!("x{i}\nmade-up")).collect();
        m.unmapped(ResourceKind::User, &many, later);
        let users = m
            .unmapped_counts()
            .into_iter()
            .filter(|(k, _, _)| *k == "User")
            .count();
        assert_eq!(users, MAX_UNMAPPED_PATHS + 1);
        let t = m.render(1, 1, 0, true);
        assert!(
            t.contains("path=\"x0\\nmade-up\"} 1"),
            "newline escaped: {t}"
        );
        assert!(t.contains(&format!("path=\"{OTHER_PATHS}\"}} 302")), "{t}");
    }
}
