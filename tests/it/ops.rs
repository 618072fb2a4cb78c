//! Operating the daemon: the real binary (serve, check-config, explain),
//! sorting per server capability, root search, metrics and audit lines.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::{ADMIN_PW, Daemon, Server, TOKEN, patch_body, unique};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_scim2ldap")
}

fn config_path(server: Server) -> String {
    format!(
        "{}/config/{}",
        env!("CARGO_MANIFEST_DIR"),
        server.config_file()
    )
}

pub(super) fn command(server: Server, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args)
        .env("SCIM2LDAP_LDAP_URL", server.url())
        .env("SCIM2LDAP_LDAP_BIND_DN", server.bind_dn())
        .env("SCIM2LDAP_LDAP_BIND_PASSWORD", ADMIN_PW)
        .env("SCIM2LDAP_TOKEN", TOKEN);
    c
}

/// The real binary serving `config_text` on a free port, ready.
pub(super) struct Served {
    pub child: std::process::Child,
    pub port: u16,
    pub config: std::path::PathBuf,
    /// Its standard error, line by line, as it comes.
    pub lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// Starts the binary with `config_text` on a free port and waits until it
/// answers; its log is collected in `lines`.
pub(super) async fn serve(server: Server, config_text: &str) -> Served {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let config = tempdir().join("c.toml");
    std::fs::write(&config, config_text).unwrap();
    let mut child = command(server, &["serve", "--config", config.to_str().unwrap()])
        .env("SCIM2LDAP_LISTEN", format!("127.0.0.1:{port}"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(l);
        }
    });
    super::until_ready(port, || format!("{:?}", lines.lock().unwrap())).await;
    Served {
        child,
        port,
        config,
        lines,
    }
}

pub async fn sorting_follows_the_server(server: Server) {
    let d = Daemon::start(server).await;
    let tag = unique("sort");
    for n in ["b", "c", "a"] {
        let mut body = super::entra_user(&format!("{tag}-{n}"));
        body["displayName"] = json!(tag);
        let (s, v) = d.call("POST", "/Users", Some(&body)).await;
        assert_eq!(s, 201, "{v}");
    }
    // An equality filter on an indexed attribute: 389-ds sorts only indexed searches.
    let path = format!(
        "/Users?filter=displayName%20eq%20%22{tag}%22&sortBy=userName&sortOrder=descending&attributes=userName"
    );
    let (s, v) = d.call("GET", &path, None).await;
    // 389-ds offers RFC 2891 sorting; OpenLDAP does with the sssvlv overlay.
    assert_eq!(s, 200, "{v}");
    let names: Vec<&str> = v["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [format!("{tag}-c"), format!("{tag}-b"), format!("{tag}-a")]
    );
}

pub async fn root_search_spans_users_and_groups(server: Server) {
    let d = Daemon::start(server).await;
    let tag = unique("root");
    d.create_user(&format!("{tag}-u")).await;
    d.create_group(&format!("{tag}-g"), &[]).await;
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": format!("userName sw \"{tag}\" or displayName sw \"{tag}\""), "count": 10});
    let (s, v) = d.call("POST", "/.search", Some(&body)).await;
    assert_eq!(s, 200, "{v}");
    let types: Vec<&str> = v["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["meta"]["resourceType"].as_str().unwrap())
        .collect();
    assert!(types.contains(&"User") && types.contains(&"Group"), "{v}");
}

pub async fn check_config_reports_the_server(server: Server) {
    let out = command(server, &["check-config", "--config", &config_path(server)])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("capability: PostRead control"), "{text}");
    assert!(text.lines().last().unwrap_or_default() == "ok", "{text}");
    // A misspelt attribute and object class are named, one line each.
    let dir = tempdir();
    let bad = super::config_text(server)
        .replace("title = \"title\"", "title = \"titel\"")
        .replace(
            "\"inetOrgPerson\", \"organizationalPerson\"",
            "\"inetOrgPersn\", \"organizationalPerson\"",
        );
    let path = dir.join("bad.toml");
    std::fs::write(&path, bad).unwrap();
    let out = command(
        server,
        &["check-config", "--config", path.to_str().unwrap()],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("problem: users.attributes.\"title\"") && l.contains("titel")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("problem: users.object_classes") && l.contains("inetOrgPersn")),
        "{text}"
    );
    // A config file with a typo never reaches the directory.
    std::fs::write(
        &path,
        super::config_text(server).replace("[ldap]", "[ldap]\nurll = \"x\""),
    )
    .unwrap();
    let out = command(
        server,
        &["check-config", "--config", path.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("urll"));
}

pub(super) fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(unique("scim2ldap-it"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `scim2ldap explain PATCH path` with a PATCH body of `ops`; returns its output.
pub(super) fn explain_patch(server: Server, path: &str, ops: Value) -> String {
    let dir = tempdir();
    let body = dir.join("patch.json");
    std::fs::write(&body, patch_body(ops).to_string()).unwrap();
    let out = command(
        server,
        &[
            "explain",
            "--config",
            &config_path(server),
            "PATCH",
            path,
            body.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    text
}

pub async fn explain_never_writes(server: Server) {
    let d = Daemon::start(server).await;
    let u = d.create_user(&unique("explain")).await;
    let id = u["id"].as_str().unwrap();
    let text = explain_patch(
        server,
        &format!("/Users/{id}"),
        json!([{"op": "replace", "path": "title", "value": "Explained"}, {"op": "replace", "path": "userName", "value": "renamed-by-explain"}]),
    );
    assert!(text.contains(&format!("filter=(entryUUID={id})")), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("modify dn=") && l.contains("replace title: [\"Explained\"]")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("modrdn") && l.contains("uid=renamed-by-explain")),
        "{text}"
    );
    let (_, v) = d.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(v["title"], "Engineer", "explain wrote nothing");
    assert_eq!(v["userName"], u["userName"]);
}

pub async fn metrics_count_requests_and_changes(server: Server) {
    let d = Daemon::start(server).await;
    let u = d.create_user(&unique("metrics")).await;
    let (s, _) = d.call("GET", "/Users?count=1", None).await;
    assert_eq!(s, 200);
    // Disabling counts as such, by PATCH or by PUT; enabling is an update.
    let path = format!("/Users/{}", u["id"].as_str().unwrap());
    for active in [false, true] {
        let body = patch_body(json!([{"op": "replace", "path": "active", "value": active}]));
        let (s, v) = d.call("PATCH", &path, Some(&body)).await;
        assert_eq!(s, 200, "{v}");
    }
    let (_, mut whole) = d.call("GET", &path, None).await;
    whole["active"] = json!(false);
    let (s, v) = d.call("PUT", &path, Some(&whole)).await;
    assert_eq!((s, &v["active"]), (200, &json!(false)), "{v}");
    let text = d.metrics().await;
    for (action, n) in [("disabled", 2), ("updated", 1)] {
        let line =
            format!("scim2ldap_provisioned_total{{resource=\"User\",action=\"{action}\"}} {n}\n");
        assert!(text.contains(&line), "{line}{text}");
    }
    assert!(text.contains("scim2ldap_http_requests_total{route=\"/scim/v2/Users\",method=\"POST\",status=\"201\"} 1"), "{text}");
    assert!(text.contains("scim2ldap_http_request_duration_seconds_bucket{route=\"/scim/v2/Users\",method=\"GET\",le=\"+Inf\"} 1"), "{text}");
    assert!(
        text.contains("scim2ldap_provisioned_total{resource=\"User\",action=\"created\"} 1"),
        "{text}"
    );
    assert!(text.contains("scim2ldap_ldap_up 1"), "{text}");
    assert!(
        text.contains("scim2ldap_ldap_operations_total{operation=\"add\",result=\"success\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("scim2ldap_ldap_operation_duration_seconds_count{operation=\"search\"}"),
        "{text}"
    );
}

/// The real binary: JSON logs with request ids and audit lines (never a
/// password), readiness, and a graceful stop on SIGTERM with a request in flight.
pub async fn binary_serves_audits_and_stops(server: Server) {
    let text = super::config_text(server).replace("[server]", "[server]\nlog_format = \"json\"");
    let Served {
        mut child,
        port,
        lines,
        ..
    } = serve(server, &text).await;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut body = super::entra_user(&unique("bin"));
    body["password"] = json!("Very-Secret-Pw-123");
    let r = http
        .post(format!("{base}/scim/v2/Users"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let rid = r
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let created: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    // A request in flight when SIGTERM arrives still gets its answer.
    let slow = {
        let http = http.clone();
        let url = format!("{base}/scim/v2/Users/{id}");
        tokio::spawn(async move {
            let patch = patch_body(json!([{"op": "replace", "path": "title", "value": "last"}]));
            http.patch(url)
                .bearer_auth(TOKEN)
                .header("content-type", "application/scim+json")
                .body(patch.to_string())
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = slow.await.unwrap();
    assert!(
        matches!(status, Ok(200)),
        "in-flight request answered: {status:?}"
    );
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "graceful exit: {exit:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let lines = lines.lock().unwrap().clone();
    let all = lines.join("\n");
    assert!(!all.contains("Very-Secret-Pw-123"), "password in the log");
    assert!(!all.contains(TOKEN), "token in the log");
    let audit: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "audit")
        .collect();
    let create = audit
        .iter()
        .find(|v| v["operation"] == "create")
        .unwrap_or_else(|| panic!("no audit line for the create: {all}"));
    assert_eq!(create["actor"], "env");
    assert!(
        create["dn"]
            .as_str()
            .unwrap()
            .contains(created["userName"].as_str().unwrap())
    );
    assert!(
        lines.iter().any(|l| l.contains(&rid)),
        "request id {rid} in the log"
    );
    assert!(lines.iter().any(|l| l.contains("shutting down")), "{all}");
}

/// A membership-only PATCH (Entra's usual group change) does not read the
/// group's member list: its cost does not grow with the group. `explain`
/// shows the operations against the real directory.
pub async fn membership_patches_do_not_read_the_members(server: Server) {
    let d = Daemon::start(server).await;
    let members: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(
                d.create_user(&unique("gm")).await["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        v
    };
    let newcomer = d.create_user(&unique("gm-new")).await;
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    let g = d.create_group(&unique("Readless"), &refs).await;
    let gid = g["id"].as_str().unwrap();
    let member_attr = super::group_members(&d.config).attribute.clone();
    let explain = |ops: Value| explain_patch(server, &format!("/Groups/{gid}"), ops);
    let reads_members = |text: &str| {
        text.lines().any(|l| {
            l.contains("search")
                && l.contains(&format!("filter=(entryUUID={gid})"))
                && l.to_lowercase()
                    .contains(&format!("\"{}\"", member_attr.to_lowercase()))
        })
    };
    // Add a new member, remove a present one (both Entra forms).
    let text = explain(json!([
        {"op": "Add", "path": "members", "value": [{"value": newcomer["id"]}]},
        {"op": "Remove", "path": format!("members[value eq \"{}\"]", members[0])}
    ]));
    assert!(!reads_members(&text), "the member list was read:\n{text}");
    assert!(
        text.lines().any(|l| l.contains("modify dn=")
            && l.contains(&format!("add {member_attr}"))
            && l.contains(&format!("delete {member_attr}"))),
        "{text}"
    );
    // A replace of all members needs them: planned against the whole group.
    let text =
        explain(json!([{"op": "replace", "path": "members", "value": [{"value": members[1]}]}]));
    assert!(reads_members(&text), "{text}");
}
