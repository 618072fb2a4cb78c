//! Lists paged by offset (VLV + server-side sort) and, where a page cannot
//! be fetched so, bounded by `server.max_list_entries`.

use serde_json::Value;

use super::{Daemon, Server, admin_ldap, config_text, enc, unique};

/// Adds `n` users under ou=people straight through LDAP, named
/// `{tag}-{i:03}`, in an order that is not their sorted one.
async fn add_users(server: Server, tag: &str, n: usize) -> Vec<String> {
    add_users_at(server, &server.url(), tag, n).await
}

/// [`add_users`] on the server at `url`; returns the names, sorted.
async fn add_users_at(server: Server, url: &str, tag: &str, n: usize) -> Vec<String> {
    let mut ldap = admin_ldap(server, url).await;
    let mut names = Vec::new();
    for i in (0..n).rev() {
        let uid = format!("{tag}-{i:03}");
        let dn = format!("uid={uid},ou=people,dc=example,dc=com");
        let oc: std::collections::HashSet<&str> = ["inetOrgPerson"].into();
        ldap.add(
            &dn,
            vec![
                ("objectClass", oc),
                ("uid", [uid.as_str()].into()),
                ("cn", [uid.as_str()].into()),
                ("sn", ["Paging"].into()),
            ],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
        names.push(uid);
    }
    let _ = ldap.unbind().await;
    names.sort();
    names
}

fn names(v: &Value) -> Vec<String> {
    v["Resources"]
        .as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_owned())
        .collect()
}

async fn metric(d: &Daemon, paging: &str) -> u64 {
    let metrics = d.metrics().await;
    let key = format!("scim2ldap_list_entries_read_total{{paging=\"{paging}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .unwrap_or_else(|| panic!("no {key} in {metrics}"))
        .parse()
        .unwrap()
}

fn with_server(text: &str, lines: &str) -> String {
    text.replacen("[server]\n", &format!("[server]\n{lines}\n"), 1)
}

/// Walking every page by offset gives every user exactly once, in order,
/// with the right total on each page; pages past the end are empty.
pub async fn pages_by_offset_walk_every_user_once(server: Server) {
    let tag = unique("pg");
    let want = add_users(server, &tag, 23).await;
    // A limit of 0 would refuse any list read through: every page here must
    // come by offset.
    let d = Daemon::with_config(
        server,
        &with_server(&config_text(server), "max_list_entries = 0"),
    )
    .await;
    let f = enc(&format!("userName sw \"{tag}\""));
    for sort in ["", "&sortBy=userName"] {
        let mut seen = Vec::new();
        let mut start = 1;
        while start <= 30 {
            let (s, v) = d
                .call(
                    "GET",
                    &format!(
                        "/Users?filter={f}{sort}&startIndex={start}&count=5&attributes=userName"
                    ),
                    None,
                )
                .await;
            assert_eq!(s, 200, "{sort} page {start}: {v}");
            assert_eq!(v["totalResults"], 23, "{sort} page {start}: {v}");
            assert_eq!(v["startIndex"], start, "{v}");
            let page = names(&v);
            assert_eq!(v["itemsPerPage"], page.len(), "{v}");
            let expected = want.len().saturating_sub(start - 1).min(5);
            assert_eq!(page.len(), expected, "{sort} page {start}: {v}");
            seen.extend(page);
            start += 5;
        }
        assert_eq!(seen, want, "sort {sort:?}: every user once, in order");
    }
    // Descending, from the middle.
    let (s, v) = d
        .call(
            "GET",
            &format!("/Users?filter={f}&sortBy=userName&sortOrder=descending&startIndex=3&count=2&attributes=userName"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(names(&v), [want[20].clone(), want[19].clone()], "{v}");
    // Past the end, and just at it.
    for (start, len) in [(23, 1), (24, 0), (1000, 0)] {
        let (s, v) = d
            .call(
                "GET",
                &format!("/Users?filter={f}&startIndex={start}&count=5"),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["totalResults"], 23, "{v}");
        assert_eq!(names(&v).len(), len, "startIndex {start}: {v}");
    }
    assert_eq!(metric(&d, "read_through").await, 0, "nothing read through");
}

/// `count=0` answers the total without reading entries: a limit of 0 would
/// trip on the first entry read through, and the daemon's own count of
/// entries read stays at zero.
pub async fn count_zero_reads_no_entries(server: Server) {
    let tag = unique("pc");
    add_users(server, &tag, 12).await;
    let d = Daemon::with_config(
        server,
        &with_server(&config_text(server), "max_list_entries = 0"),
    )
    .await;
    let f = enc(&format!("userName sw \"{tag}\""));
    let (s, v) = d
        .call("GET", &format!("/Users?filter={f}&count=0"), None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["totalResults"], 12, "{v}");
    assert!(names(&v).is_empty(), "{v}");
    assert_eq!(metric(&d, "by_offset").await, 0);
    assert_eq!(metric(&d, "read_through").await, 0);
    let (s, v) = d.call("GET", "/Users?count=0", None).await;
    assert_eq!(s, 200, "{v}");
    assert!(v["totalResults"].as_u64().unwrap() >= 12, "{v}");
    assert_eq!(metric(&d, "by_offset").await, 0);
    // A page reads its window only.
    let (s, v) = d
        .call(
            "GET",
            &format!("/Users?filter={f}&startIndex=4&count=3"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(metric(&d, "by_offset").await, 3);
}

/// Where pages cannot be fetched by offset (`ldap.vlv = "off"` here, as on a
/// server without VLV), `server.max_list_entries` bounds what one list
/// reads: at the limit it answers, past it 400 tooMany says how to narrow.
pub async fn look_through_limit_answers_too_many(server: Server) {
    let tag = unique("pl");
    let want = add_users(server, &tag, 8).await;
    let text = with_server(&config_text(server), "max_list_entries = 8").replacen(
        "[ldap]\n",
        "[ldap]\nvlv = \"off\"\n",
        1,
    );
    let d = Daemon::with_config(server, &text).await;
    let f = enc(&format!("userName sw \"{tag}\""));
    let (s, v) = d
        .call(
            "GET",
            &format!("/Users?filter={f}&sortBy=userName&startIndex=3&count=2"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["totalResults"], 8, "{v}");
    assert_eq!(names(&v), want[2..4], "{v}");
    assert_eq!(metric(&d, "by_offset").await, 0, "VLV is off");
    let (s, v) = d
        .call("GET", &format!("/Users?filter={f}&count=0"), None)
        .await;
    assert_eq!((s, v["totalResults"].as_u64()), (200, Some(8)), "{v}");
    // One more match is one too many.
    add_users(server, &format!("{tag}-x"), 1).await;
    for q in [format!("filter={f}&count=2"), format!("filter={f}&count=0")] {
        let (s, v) = d.call("GET", &format!("/Users?{q}"), None).await;
        assert_eq!(s, 400, "{q}: {v}");
        assert_eq!(v["scimType"], "tooMany", "{v}");
        let detail = v["detail"].as_str().unwrap();
        for want in [
            "more than 8 Users match",
            "filter",
            "VLV index",
            "server.max_list_entries",
        ] {
            assert!(detail.contains(want), "{want:?} in {detail}");
        }
    }
}

/// `vlvUses` of each VLV index under 389-ds's userRoot, by name.
async fn vlv_uses(ldap: &mut ldap3::Ldap) -> std::collections::BTreeMap<String, u64> {
    let (rs, _) = ldap
        .search(
            "cn=userRoot,cn=ldbm database,cn=plugins,cn=config",
            ldap3::Scope::Subtree,
            "(objectClass=vlvIndex)",
            vec!["cn", "vlvUses"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    rs.into_iter()
        .map(ldap3::SearchEntry::construct)
        .map(|e| {
            let first = |a: &str| e.attrs.get(a).and_then(|v| v.first()).cloned();
            let uses = first("vlvUses").and_then(|v| v.parse().ok()).unwrap_or(0);
            (first("cn").unwrap_or_default(), uses)
        })
        .collect()
}

/// The README's `dsconf` commands (run by the harness's `ds389_vlv_indexes`)
/// give 389-ds an index that serves the daemon's unfiltered lists: on a
/// directory of its own, the indexes are created while no user exists, users
/// are added, and once 389-ds has enabled the index every page of a walk
/// (and `count=0`) is read from it — its `vlvUses` grows by one per request —
/// with every user once, in order.
pub async fn vlv_index_serves_unfiltered_lists() {
    let dir = super::faults::PrivateServer::of(Server::Ds389);
    let port = dir.url.rsplit(':').next().unwrap().trim_end_matches('/');
    ldap_servers_sh(&format!("ds389_vlv_indexes {port}"));
    let want = add_users_at(Server::Ds389, &dir.url, "vlv", 23).await;
    let mut ldap = admin_ldap(Server::Ds389, &dir.url).await;
    let before = vlv_uses(&mut ldap).await;
    let key = "scim2ldap-users-by-uid".to_owned();
    assert!(before.contains_key(&key), "no users' index: {before:?}");
    let d = super::faults::on_private(&dir).await;
    // 389-ds 2.3 looks again at a disabled index about once a minute: a new
    // one serves searches from then on (sorted in memory until then).
    let created = std::time::Instant::now();
    loop {
        let (s, v) = d.call("GET", "/Users?count=1", None).await;
        assert_eq!(s, 200, "{v}");
        if vlv_uses(&mut ldap).await.get(&key) > before.get(&key) {
            break;
        }
        assert!(
            created.elapsed() < std::time::Duration::from_secs(150),
            "the users' VLV index never served a list"
        );
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
    let before = vlv_uses(&mut ldap).await;
    let mut requests = 0;
    let (s, v) = d.call("GET", "/Users?count=0", None).await;
    requests += 1;
    assert_eq!((s, &v["totalResults"]), (200, &23.into()), "{v}");
    let mut seen = Vec::new();
    for start in (1..=25).step_by(7) {
        let (s, v) = d
            .call(
                "GET",
                &format!("/Users?startIndex={start}&count=7&attributes=userName"),
                None,
            )
            .await;
        requests += 1;
        assert_eq!(s, 200, "page {start}: {v}");
        assert_eq!(v["totalResults"], 23, "page {start}: {v}");
        seen.extend(names(&v));
    }
    assert_eq!(seen, want, "every user once, in uid order");
    let after = vlv_uses(&mut ldap).await;
    assert_eq!(
        after[&key] - before[&key],
        requests,
        "every list request read from the users' index: before {before:?}, after {after:?}"
    );
    assert_eq!(metric(&d, "read_through").await, 0, "nothing read through");
    let _ = ldap.unbind().await;
}

/// Runs a `scripts/lib/ldap-servers.sh` function, which must succeed.
fn ldap_servers_sh(call: &str) {
    super::sh(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
        &format!(". scripts/lib/ldap-servers.sh && {call}"),
    );
}

/// 389-ds sorts only the searches its indexes answer. Once a filter's
/// candidates pass `nsslapd-idlistscanlimit` (4,000 by default; 100, the
/// least it takes, on this directory of its own, so 112 users stand for a
/// large directory), a
/// sorted `userName sw` list read through (no VLV) is refused: 400
/// `invalidValue` naming sortBy and the index it needs (by offset, VLV sorts
/// in memory). With the substring index on `uid` the README gives, both
/// answer sorted.
pub async fn sorted_substring_lists_need_a_substring_index() {
    let dir = super::faults::PrivateServer::of(Server::Ds389);
    let port = dir.url.rsplit(':').next().unwrap().trim_end_matches('/');
    let mut ldap = admin_ldap(Server::Ds389, &dir.url).await;
    let limit = ldap3::Mod::Replace("nsslapd-idlistscanlimit", ["100"].into());
    ldap.modify(
        "cn=config,cn=ldbm database,cn=plugins,cn=config",
        vec![limit],
    )
    .await
    .unwrap()
    .success()
    .unwrap();
    let _ = ldap.unbind().await;
    let tag = unique("sub");
    add_users_at(Server::Ds389, &dir.url, &unique("bulk"), 100).await;
    let want = add_users_at(Server::Ds389, &dir.url, &tag, 12).await;
    let by_offset = super::faults::on_private(&dir).await;
    let text = config_text(Server::Ds389).replacen("[ldap]\n", "[ldap]\nvlv = \"off\"\n", 1);
    let read_through = Daemon::with_config_at(Server::Ds389, &text, &dir.url).await;
    let f = enc(&format!("userName sw \"{tag}\""));
    let list = format!("/Users?filter={f}&sortBy=userName&startIndex=3&count=4");
    // VLV sorts every candidate in memory, index or not.
    let (s, v) = by_offset.call("GET", &list, None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(names(&v), want[2..6], "{v}");
    let (s, v) = read_through.call("GET", &list, None).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["scimType"], "invalidValue", "{v}");
    let detail = v["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("sortBy: the directory refused to sort")
            && detail.contains("index uid (sub)"),
        "{detail}"
    );
    ldap_servers_sh(&format!("ds389_substring_index {port} uid"));
    for d in [&by_offset, &read_through] {
        let (s, v) = d.call("GET", &list, None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["totalResults"], 12, "{v}");
        assert_eq!(names(&v), want[2..6], "{v}");
    }
}
