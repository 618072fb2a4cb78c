//! Hostile input: every attempt gets its exact status, and the directory
//! shows that nothing was written (entries and attributes compared before and
//! after). Tests run in parallel with others on the same servers, so every
//! check is scoped to entries this test made (a unique name prefix).

use ldap3::SearchEntry;
use scim2ldap::config::Config;
use serde_json::{Value, json};

use super::{
    ADMIN_PW, Daemon, Env, Server, TOKEN, attr, attrs, config_text, enc, entra_user, patch_body,
    unique,
};

const CONTACTIFY: &str = "urn:ietf:params:scim:schemas:extension:contactify:2.0:User";

fn auth() -> String {
    format!("Bearer {TOKEN}")
}

/// What a write would change, compared before and after: every user attribute
/// (not the operational ones that reads may touch) plus the modify time and
/// version.
fn snapshot(e: &SearchEntry) -> Vec<(String, Vec<String>)> {
    let mut v: Vec<(String, Vec<String>)> = e
        .attrs
        .iter()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            !matches!(
                k.as_str(),
                // Bookkeeping that changes without a write.
                "pwdlastsuccess" | "authtimestamp" | "lastlogintime" | "numsubordinates"
            )
        })
        .map(|(k, v)| {
            let mut v = v.clone();
            v.sort();
            (k.to_ascii_lowercase(), v)
        })
        .collect();
    v.sort();
    v
}

async fn user_snapshot(d: &Daemon, user: &Value) -> Vec<(String, Vec<String>)> {
    snapshot(&d.entry(&d.user_dn(user)).await.expect("the user entry"))
}

type Snapshot = Vec<(String, Vec<String>)>;

/// A user named `{tag}-u`, a group holding it, and how both look in the
/// directory before the test's requests.
struct Pair {
    u: Value,
    uid: String,
    gid: String,
    group_dn: String,
    before: (Snapshot, Snapshot),
}

impl Pair {
    async fn new(d: &Daemon, tag: &str, group_prefix: &str) -> Pair {
        let u = d.create_user(&format!("{tag}-u")).await;
        let uid = u["id"].as_str().unwrap().to_owned();
        let g = d.create_group(&unique(group_prefix), &[&uid]).await;
        let group_dn = d
            .config
            .groups
            .as_ref()
            .unwrap()
            .dn_for(g["displayName"].as_str().unwrap())
            .to_string();
        let before = Pair::snapshots(d, &u, &group_dn).await;
        Pair {
            u,
            uid,
            gid: g["id"].as_str().unwrap().to_owned(),
            group_dn,
            before,
        }
    }

    async fn snapshots(d: &Daemon, u: &Value, group_dn: &str) -> (Snapshot, Snapshot) {
        (
            user_snapshot(d, u).await,
            snapshot(&d.entry(group_dn).await.expect("the group entry")),
        )
    }
}

/// DNs of users whose uid starts with `tag`, anywhere under the suffix.
async fn tagged(d: &Daemon, tag: &str) -> Vec<String> {
    d.dns(&format!(
        "(uid={}*)",
        scim2ldap::ldap::escape_filter_value(tag)
    ))
    .await
}

/// Filter values that would widen an LDAP filter if pasted unescaped find
/// only literal matches, and a NUL is refused.
pub async fn filter_injection_finds_nothing_extra(server: Server) {
    let d = Daemon::start(server).await;
    let tag = unique("inj");
    let a = d.create_user(&format!("{tag}-a")).await;
    let b = d.create_user(&format!("{tag}-b")).await;
    // A user whose name holds every filter metacharacter, to prove literal matching.
    let odd_name = format!("{tag}-p(x)*\\y");
    let odd = d.create_user(&odd_name).await;
    let before = (
        tagged(&d, &tag).await,
        user_snapshot(&d, &a).await,
        user_snapshot(&d, &b).await,
        user_snapshot(&d, &odd).await,
    );
    assert_eq!(before.0.len(), 3);
    let names = |v: &Value| -> Vec<String> {
        let mut n: Vec<String> = v["Resources"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|r| r["userName"].as_str().unwrap().to_owned())
            .collect();
        n.sort();
        n
    };
    let (an, bn) = (format!("{tag}-a"), format!("{tag}-b"));
    // JSON string literals inside the SCIM filter: `\\` is one backslash.
    let lit = |s: &str| serde_json::to_string(s).unwrap();
    let cases: Vec<(String, Vec<String>)> = vec![
        (
            format!("userName sw {}", lit(&tag)),
            vec![an.clone(), bn.clone(), odd_name.clone()],
        ),
        ("userName eq \"*\"".to_owned(), vec![]),
        (format!("userName eq {}", lit(&format!("{tag}*"))), vec![]),
        (format!("userName eq {}", lit(&format!("{tag}-*"))), vec![]),
        (format!("userName sw {}", lit(&format!("{tag}-*"))), vec![]),
        (
            format!("userName eq {}", lit(&format!("{an})(uid=*"))),
            vec![],
        ),
        (
            format!("userName eq {}", lit(&format!("{an})(|(uid=*"))),
            vec![],
        ),
        (
            format!("userName eq {}", lit(&format!("*)(uid={tag}*))(|(uid=*"))),
            vec![],
        ),
        (
            format!("userName sw {}", lit(&format!("{an})(uid=*"))),
            vec![],
        ),
        (
            format!("userName co {} and userName sw {}", lit("*"), lit(&tag)),
            vec![odd_name.clone()],
        ),
        (
            format!("userName co {} and userName sw {}", lit("("), lit(&tag)),
            vec![odd_name.clone()],
        ),
        (
            format!("userName co {} and userName sw {}", lit(")"), lit(&tag)),
            vec![odd_name.clone()],
        ),
        (
            format!("userName ew {} and userName sw {}", lit("\\y"), lit(&tag)),
            vec![odd_name.clone()],
        ),
        (
            format!("userName eq {}", lit(&odd_name)),
            vec![odd_name.clone()],
        ),
        // The escaped forms an attacker might pre-encode are literal text too.
        (
            format!("userName eq {}", lit(&format!("{tag}-p\\28x\\29\\2a\\5cy"))),
            vec![],
        ),
        (
            format!("userName eq {}", lit(&format!("{tag}-\\2a"))),
            vec![],
        ),
        (format!("userName eq {}", lit(&format!("{an}\\"))), vec![]),
        (
            format!("userName sw {} and title eq {}", lit(&tag), lit("\\")),
            vec![],
        ),
        (
            format!("userName sw {} and title eq {}", lit(&tag), lit("*")),
            vec![],
        ),
        (
            format!("userName sw {} and externalId eq {}", lit(&tag), lit("*")),
            vec![],
        ),
        (
            format!(
                "userName sw {} and emails.value co {}",
                lit(&tag),
                lit("*)(mail=*")
            ),
            vec![],
        ),
        (
            format!("userName sw {} and not (title eq {})", lit(&tag), lit("*")),
            vec![an.clone(), bn.clone(), odd_name.clone()],
        ),
        (
            format!("userName sw {} and id eq {}", lit(&tag), lit("*")),
            vec![],
        ),
    ];
    for (f, want) in &cases {
        let (s, v) = d
            .call("GET", &format!("/Users?filter={}", enc(f)), None)
            .await;
        assert_eq!(s, 200, "{f}: {v}");
        assert_eq!(&names(&v), want, "{f}");
        assert_eq!(
            v["totalResults"].as_u64(),
            Some(want.len() as u64),
            "{f}: {v}"
        );
        // The same through POST /.search bodies.
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": f});
        let (s, v) = d.call("POST", "/Users/.search", Some(&body)).await;
        assert_eq!((s, names(&v)), (200, want.clone()), "/.search {f}: {v}");
    }
    // Groups: displayName is the RDN there.
    for f in [
        "displayName eq \"*\"",
        "displayName eq \"*)(cn=*\"",
        "externalId eq \"*\"",
    ] {
        let (s, v) = d
            .call(
                "GET",
                &format!("/Groups?excludedAttributes=members&filter={}", enc(f)),
                None,
            )
            .await;
        assert_eq!((s, v["totalResults"].as_u64()), (200, Some(0)), "{f}: {v}");
    }
    // A NUL (written as the JSON escape \u0000) cannot be sent to LDAP
    // literally: refused as an invalid filter. A raw NUL is a syntax error.
    for f in [
        format!("userName eq \"{an}\\u0000\""),
        format!("userName eq \"{an}\\u0000)(uid=*\""),
        format!("userName sw \"{tag}\" and title co \"\\u0000\""),
        format!("userName eq \"{an}\u{0}\""),
    ] {
        let (s, v) = d
            .call("GET", &format!("/Users?filter={}", enc(&f)), None)
            .await;
        assert_eq!(
            (s, v["scimType"].as_str()),
            (400, Some("invalidFilter")),
            "{f:?}: {v}"
        );
    }
    // Filter syntax that only means something to LDAP is a SCIM syntax error.
    for f in [
        format!("(uid={an})"),
        format!("userName eq \"{an}\") (uid=*"),
        format!("userName eq \"{an}\" or (|(uid=*))"),
        "*".to_owned(),
        format!("userName eq {an}"),
    ] {
        let (s, v) = d
            .call("GET", &format!("/Users?filter={}", enc(&f)), None)
            .await;
        assert_eq!(
            (s, v["scimType"].as_str()),
            (400, Some("invalidFilter")),
            "{f:?}: {v}"
        );
    }
    let after = (
        tagged(&d, &tag).await,
        user_snapshot(&d, &a).await,
        user_snapshot(&d, &b).await,
        user_snapshot(&d, &odd).await,
    );
    assert_eq!(before, after, "reads changed the directory");
}

/// Ids that are not UUIDs never reach LDAP: 404 for every method, and the
/// entries they might have matched are untouched.
pub async fn ids_that_are_not_uuids_are_not_found(server: Server) {
    let d = Daemon::start(server).await;
    let tag = unique("ids");
    let Pair {
        u,
        uid,
        gid,
        group_dn,
        before,
    } = Pair::new(&d, &tag, "Ids").await;
    let long = "a".repeat(4000);
    let long_uuidish = format!("{uid}{}", "-0".repeat(1000));
    let bad_ids = [
        "*".to_owned(),
        "%2A".to_owned(),
        "%2A%29%28uid%3D%2A".to_owned(),
        "%2A%29%28%7C%28objectClass%3D%2A".to_owned(),
        format!("{uid}%29%28uid%3D%2A"),
        format!("{uid}*"),
        format!("{}*", &uid[..8]),
        format!("{uid}%00"),
        format!("%00{uid}"),
        format!("{uid}%20"),
        format!("%20{uid}"),
        format!("{uid}-0"),
        long.clone(),
        long_uuidish,
        "..%2F..%2Fou%3Doutside".to_owned(),
        "uid%3Doutsider%2Cou%3Doutside%2Cdc%3Dexample%2Cdc%3Dcom".to_owned(),
        "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz".to_owned(),
        "00000000-0000-0000-0000-00000000000%2A".to_owned(),
    ];
    let patch = patch_body(json!([{"op": "replace", "path": "title", "value": "pwned"}]));
    let gpatch = patch_body(json!([{"op": "remove", "path": "members"}]));
    let put = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("{tag}-u"), "title": "pwned"});
    for id in &bad_ids {
        for (method, res, body) in [
            ("GET", "Users", None),
            ("DELETE", "Users", None),
            ("PATCH", "Users", Some(&patch)),
            ("PUT", "Users", Some(&put)),
            ("GET", "Groups", None),
            ("DELETE", "Groups", None),
            ("PATCH", "Groups", Some(&gpatch)),
        ] {
            let (s, v) = d.call(method, &format!("/{res}/{id}"), body).await;
            let shown = if id.len() > 60 {
                &id[..60]
            } else {
                id.as_str()
            };
            assert_eq!(s, 404, "{method} /{res}/{shown}: {v}");
            assert_eq!(v["status"], "404", "{v}");
        }
    }
    // A real id of the other resource type is no id here either.
    for (method, path) in [
        ("GET", format!("/Groups/{uid}")),
        ("DELETE", format!("/Groups/{uid}")),
        ("GET", format!("/Users/{gid}")),
        ("DELETE", format!("/Users/{gid}")),
    ] {
        let (s, v) = d.call(method, &path, None).await;
        assert_eq!(s, 404, "{method} {path}: {v}");
    }
    assert_eq!(
        before,
        Pair::snapshots(&d, &u, &group_dn).await,
        "a refused request changed an entry"
    );
}

/// A NUL can be neither stored nor put in a DN.
pub async fn nul_in_user_name_is_refused(server: Server) {
    let d = Daemon::start(server).await;
    let tag = unique("nul");
    for name in [
        format!("{tag}-a\u{0}b"),
        format!("{tag}-c\u{0}"),
        format!("{tag}-d\u{0},ou=outside,dc=example,dc=com"),
    ] {
        let (s, v) = d.call("POST", "/Users", Some(&entra_user(&name))).await;
        assert_eq!(s, 400, "{name:?}: {v}");
        assert_eq!(v["scimType"], "invalidValue", "{name:?}: {v}");
    }
    // The raw JSON, with the escape exactly as a client sends it.
    let raw = format!(
        "{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"{tag}-e\\u0000\"}}"
    );
    let (s, _, v) = d
        .raw(
            "POST",
            "/Users",
            Some(raw.into_bytes()),
            &[("authorization", &auth())],
        )
        .await;
    assert_eq!(s, 400, "{v}");
    // NUL in other attributes of a create, and in a rename.
    let mut body = entra_user(&format!("{tag}-f"));
    body["title"] = json!("a\u{0}b");
    let (s, v) = d.call("POST", "/Users", Some(&body)).await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{v}"
    );
    assert!(
        tagged(&d, &tag).await.is_empty(),
        "{:?}",
        tagged(&d, &tag).await
    );
    let u = d.create_user(&format!("{tag}-g")).await;
    let before = user_snapshot(&d, &u).await;
    let id = u["id"].as_str().unwrap();
    for op in [
        json!({"op": "replace", "path": "userName", "value": format!("{tag}-h\u{0}")}),
        json!({"op": "replace", "path": "title", "value": "x\u{0}"}),
        json!({"op": "replace", "value": {"displayName": "\u{0}"}}),
    ] {
        let (s, v) = d
            .call(
                "PATCH",
                &format!("/Users/{id}"),
                Some(&patch_body(json!([op.clone()]))),
            )
            .await;
        assert_eq!(
            (s, v["scimType"].as_str()),
            (400, Some("invalidValue")),
            "{op}: {v}"
        );
    }
    assert_eq!(tagged(&d, &tag).await.len(), 1);
    assert_eq!(before, user_snapshot(&d, &u).await);
}

/// PATCH of immutable and read-only attributes: 400 mutability, nothing applied
/// (not even the valid operations sent with it).
pub async fn read_only_attributes_are_refused(server: Server) {
    let d = Daemon::start(server).await;
    let u = d.create_user(&unique("ro")).await;
    let id = u["id"].as_str().unwrap();
    let before = user_snapshot(&d, &u).await;
    let other = "00000000-0000-4000-8000-000000000000";
    let cases = [
        json!({"op": "replace", "path": "id", "value": other}),
        json!({"op": "add", "path": "id", "value": other}),
        json!({"op": "remove", "path": "id"}),
        json!({"op": "replace", "path": "meta.created", "value": "2000-01-01T00:00:00Z"}),
        json!({"op": "replace", "path": "meta.lastModified", "value": "2000-01-01T00:00:00Z"}),
        json!({"op": "replace", "path": "meta.version", "value": "W/\"1\""}),
        json!({"op": "replace", "path": "groups", "value": [{"value": other}]}),
        json!({"op": "add", "path": "groups", "value": [{"value": other}]}),
        json!({"op": "remove", "path": "groups"}),
        json!({"op": "replace", "path": format!("{CONTACTIFY}:orderCard"), "value": false}),
        json!({"op": "replace", "path": format!("{CONTACTIFY}:orderCard"), "value": "False"}),
        json!({"op": "remove", "path": format!("{CONTACTIFY}:orderCard")}),
        json!({"op": "replace", "path": CONTACTIFY, "value": {"orderCard": false}}),
        json!({"op": "replace", "value": {format!("{CONTACTIFY}:orderCard"): false}}),
        json!({"op": "replace", "value": {"id": other}}),
        json!({"op": "replace", "value": {"meta.created": "2000-01-01T00:00:00Z"}}),
    ];
    for op in cases {
        // A valid change first: all or nothing.
        let body =
            patch_body(json!([{"op": "replace", "path": "title", "value": "changed"}, op.clone()]));
        let (s, v) = d.call("PATCH", &format!("/Users/{id}"), Some(&body)).await;
        assert_eq!(
            (s, v["scimType"].as_str()),
            (400, Some("mutability")),
            "{op}: {v}"
        );
    }
    assert_eq!(before, user_snapshot(&d, &u).await, "a refused PATCH wrote");
    let (_, v) = d.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(v["id"], id);
    assert_eq!(v[CONTACTIFY]["orderCard"], true, "{v}");
    assert_eq!(v["meta"]["created"], u["meta"]["created"]);
}

/// `id` and `meta` in a POST body are the server's, not the client's.
pub async fn post_ignores_id_and_meta(server: Server) {
    let d = Daemon::start(server).await;
    let name = unique("idm");
    let forged = "00000000-0000-4000-8000-000000000001";
    let mut body = entra_user(&name);
    body["id"] = json!(forged);
    body["meta"] = json!({
        "resourceType": "User",
        "created": "2000-01-01T00:00:00Z",
        "lastModified": "2000-01-01T00:00:00Z",
        "version": "W/\"forged\"",
        "location": "https://evil.example/scim/v2/Users/x"
    });
    let (s, v) = d.call("POST", "/Users", Some(&body)).await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().unwrap();
    assert_ne!(id, forged);
    let e = d.entry(&d.user_dn(&v)).await.unwrap();
    assert_eq!(attr(&e, "entryUUID").as_deref(), Some(id));
    assert_ne!(v["meta"]["created"], "2000-01-01T00:00:00Z", "{v}");
    assert_ne!(v["meta"]["version"], "W/\"forged\"", "{v}");
    assert_eq!(
        v["meta"]["location"].as_str(),
        Some(d.url(&format!("/Users/{id}")).as_str()),
        "{v}"
    );
    // Nothing under the forged id, and nothing of the forged values stored.
    let (s, _) = d.call("GET", &format!("/Users/{forged}"), None).await;
    assert_eq!(s, 404);
    let flat: Vec<String> = e.attrs.values().flatten().cloned().collect();
    assert!(
        !flat
            .iter()
            .any(|x| x.contains("evil.example") || x.contains("forged") || x == forged),
        "{:?}",
        e.attrs
    );
    // The same for a group.
    let gname = unique("IdmGroup");
    let gbody = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": forged, "displayName": gname, "meta": {"resourceType": "Group", "created": "2000-01-01T00:00:00Z"}});
    let (s, g) = d.call("POST", "/Groups", Some(&gbody)).await;
    assert_eq!(s, 201, "{g}");
    assert_ne!(g["id"], forged);
    let ge = d
        .entry(&d.config.groups.as_ref().unwrap().dn_for(&gname).to_string())
        .await
        .unwrap();
    assert_eq!(attr(&ge, "entryUUID").as_deref(), g["id"].as_str());
    assert_ne!(g["meta"]["created"], "2000-01-01T00:00:00Z");
}

/// A userName that spells a DN lands literally under ou=people.
pub async fn dn_injection_stays_under_people(server: Server) {
    let d = Daemon::start(server).await;
    let people = scim2ldap::ldap::Dn::parse("ou=people,dc=example,dc=com").unwrap();
    let tag = unique("dni");
    for suffix in [
        ",ou=outside,dc=example,dc=com",
        ",ou=groups,dc=example,dc=com",
        "\\,ou=outside,dc=example,dc=com",
        "+uid=outsider,ou=outside,dc=example,dc=com",
        ",cn=config",
    ] {
        let name = format!("{tag}{suffix}");
        let (s, v) = d.call("POST", "/Users", Some(&entra_user(&name))).await;
        assert_eq!(s, 201, "{name}: {v}");
        assert_eq!(v["userName"], name.as_str());
        let id = v["id"].as_str().unwrap();
        let e = d.entry_by_id(id).await;
        super::assert_directly_under_people(&e.dn);
        assert_eq!(
            attrs(&e, "uid"),
            std::slice::from_ref(&name),
            "stored literally"
        );
        // The GET by id and the match by userName give it back unchanged.
        let (_, got) = d.call("GET", &format!("/Users/{id}"), None).await;
        assert_eq!(got["userName"], name.as_str());
        let f = format!("userName eq {}", serde_json::to_string(&name).unwrap());
        let (_, found) = d
            .call("GET", &format!("/Users?filter={}", enc(&f)), None)
            .await;
        assert_eq!(found["totalResults"], 1, "{f}: {found}");
    }
    // Nothing appeared outside ou=people.
    let outside: Vec<String> = tagged(&d, &tag)
        .await
        .into_iter()
        .filter(|dn| {
            !scim2ldap::ldap::Dn::parse(dn)
                .unwrap()
                .parent()
                .same_as(&people)
        })
        .collect();
    assert!(outside.is_empty(), "{outside:?}");
    // Renaming to a DN-shaped name is a literal rename too.
    let u = d.create_user(&format!("{tag}-r")).await;
    let new = format!("{tag}-s,ou=outside,dc=example,dc=com");
    let (s, v) = d
        .call(
            "PATCH",
            &format!("/Users/{}", u["id"].as_str().unwrap()),
            Some(&patch_body(
                json!([{"op": "replace", "path": "userName", "value": new}]),
            )),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let moved = d
        .dns(&format!(
            "(uid={})",
            scim2ldap::ldap::escape_filter_value(&new)
        ))
        .await;
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert!(
        scim2ldap::ldap::Dn::parse(&moved[0])
            .unwrap()
            .parent()
            .same_as(&people),
        "{moved:?}"
    );
}

/// Oversized, deeply nested, badly encoded, mistyped and ambiguous bodies, and
/// oversized filters: refused with their exact status, nothing written.
pub async fn malformed_bodies_write_nothing(server: Server) {
    let small = Daemon::with_config(
        server,
        &config_text(server).replace("[server]", "[server]\nmax_body_bytes = 4096"),
    )
    .await;
    let d = Daemon::start(server).await;
    let tag = unique("mal");
    let existing = d.create_user(&format!("{tag}-existing")).await;
    let eid = existing["id"].as_str().unwrap().to_owned();
    let before = user_snapshot(&d, &existing).await;
    let auth = auth();
    let h = [("authorization", auth.as_str())];

    // 413: a real user body over the limit, for POST, PUT and PATCH.
    let mut big = entra_user(&format!("{tag}-big"));
    big["title"] = json!("x".repeat(6000));
    let big_bytes = big.to_string().into_bytes();
    for (method, path) in [
        ("POST", "/Users".to_owned()),
        ("PUT", format!("/Users/{eid}")),
        ("POST", "/Users/.search".to_owned()),
    ] {
        let (s, _, v) = small.raw(method, &path, Some(big_bytes.clone()), &h).await;
        assert_eq!(s, 413, "{method} {path}: {v}");
        assert_eq!(v["status"], "413", "{v}");
    }
    let big_patch =
        patch_body(json!([{"op": "replace", "path": "title", "value": "y".repeat(6000)}]));
    let (s, _, v) = small
        .raw(
            "PATCH",
            &format!("/Users/{eid}"),
            Some(big_patch.to_string().into_bytes()),
            &h,
        )
        .await;
    assert_eq!(s, 413, "{v}");
    // Just under the limit is fine (the limit is the body, not the user).
    let mut fits = entra_user(&format!("{tag}-fits"));
    let room = 4096 - fits.to_string().len() - 20;
    fits["title"] = json!("z".repeat(room));
    let (s, v) = small.call("POST", "/Users", Some(&fits)).await;
    assert_eq!(s, 201, "{v}");

    // 400: nesting 100 deep, inside a user and as the whole body.
    let deep_array = format!("{}{}", "[".repeat(100), "]".repeat(100));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(100), "}".repeat(100));
    for deep in [&deep_array, &deep_object] {
        let mut body = entra_user(&format!("{tag}-deep")).to_string();
        body.insert_str(1, &format!("\"title\":{deep},"));
        for (method, path) in [
            ("POST", "/Users".to_owned()),
            ("PUT", format!("/Users/{eid}")),
        ] {
            let (s, _, v) = d
                .raw(method, &path, Some(body.clone().into_bytes()), &h)
                .await;
            assert_eq!(
                (s, v["scimType"].as_str()),
                (400, Some("invalidSyntax")),
                "{method}: {v}"
            );
        }
        let (s, _, v) = d
            .raw("POST", "/Users", Some(deep.clone().into_bytes()), &h)
            .await;
        assert_eq!(
            (s, v["scimType"].as_str()),
            (400, Some("invalidSyntax")),
            "{v}"
        );
        let patch = format!(
            "{{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[{{\"op\":\"replace\",\"path\":\"title\",\"value\":{deep}}}]}}"
        );
        let (s, _, v) = d
            .raw(
                "PATCH",
                &format!("/Users/{eid}"),
                Some(patch.into_bytes()),
                &h,
            )
            .await;
        assert_eq!(
            (s, v["scimType"].as_str()),
            (400, Some("invalidSyntax")),
            "{v}"
        );
    }

    // 400 invalidFilter: a filter over 8192 bytes, in the query and in /.search.
    let long_filter = format!("userName eq \"{}\"", "a".repeat(8200));
    let (s, v) = d
        .call("GET", &format!("/Users?filter={}", enc(&long_filter)), None)
        .await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("invalidFilter")),
        "{v}"
    );
    let long_or = std::iter::repeat_n(format!("userName eq \"{tag}\""), 400)
        .collect::<Vec<_>>()
        .join(" or ");
    assert!(long_or.len() > 8192);
    for path in ["/Users/.search", "/Groups/.search", "/.search"] {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": long_or});
        let (s, v) = d.call("POST", path, Some(&body)).await;
        assert_eq!(
            (s, v["scimType"].as_str()),
            (400, Some("invalidFilter")),
            "{path}: {v}"
        );
    }
    let (s, v) = d
        .call(
            "GET",
            &format!("/Groups?filter={}", enc(&long_filter)),
            None,
        )
        .await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("invalidFilter")),
        "{v}"
    );

    // 400: bytes that are not UTF-8, inside a string and outside.
    let good = entra_user(&format!("{tag}-utf")).to_string();
    let mut bad_in_string = good.clone().into_bytes();
    let at = good.find(&format!("{tag}-utf")).unwrap() + tag.len() + 1;
    bad_in_string[at] = 0xff;
    let mut overlong = good.clone().into_bytes();
    overlong.splice(at..at + 1, [0xc0, 0xaf]); // an overlong '/'
    let mut lone_surrogate = good.clone().into_bytes();
    lone_surrogate.splice(at..at + 1, [0xed, 0xa0, 0x80]);
    for bad in [bad_in_string, overlong, lone_surrogate] {
        let (s, _, v) = d.raw("POST", "/Users", Some(bad), &h).await;
        assert_eq!(
            (s, v["scimType"].as_str()),
            (400, Some("invalidSyntax")),
            "{v}"
        );
    }

    // 415: a valid body under a type that is not JSON.
    let body = entra_user(&format!("{tag}-ct")).to_string().into_bytes();
    for ct in [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/scim+jsonx",
        "application/json-patch+json",
    ] {
        let (s, _, v) = d
            .raw(
                "POST",
                "/Users",
                Some(body.clone()),
                &[("authorization", &auth), ("content-type", ct)],
            )
            .await;
        assert_eq!(s, 415, "{ct}: {v}");
        let patch = patch_body(json!([{"op": "replace", "path": "title", "value": "ct"}]));
        let (s, _, v) = d
            .raw(
                "PATCH",
                &format!("/Users/{eid}"),
                Some(patch.to_string().into_bytes()),
                &[("authorization", &auth), ("content-type", ct)],
            )
            .await;
        assert_eq!(s, 415, "PATCH {ct}: {v}");
    }
    // Parameters and case do not matter for the JSON types.
    let mut ok = entra_user(&format!("{tag}-ct-ok"));
    ok["title"] = json!("ok");
    let (s, _, v) = d
        .raw(
            "POST",
            "/Users",
            Some(ok.to_string().into_bytes()),
            &[
                ("authorization", &auth),
                ("content-type", "Application/SCIM+JSON; charset=utf-8"),
            ],
        )
        .await;
    assert_eq!(s, 201, "{v}");

    // 400: the same key twice, at the top and nested, for POST and PATCH.
    let name_a = format!("{tag}-dupa");
    let name_b = format!("{tag}-dupb");
    let dup_top = format!(
        "{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"{name_a}\",\"userName\":\"{name_b}\"}}"
    );
    let dup_nested = format!(
        "{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"{name_a}\",\"name\":{{\"givenName\":\"a\",\"givenName\":\"b\"}}}}"
    );
    let dup_case = format!(
        "{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"{name_a}\",\"UserName\":\"{name_b}\"}}"
    );
    for body in [&dup_top, &dup_nested, &dup_case] {
        let (s, _, v) = d
            .raw("POST", "/Users", Some(body.clone().into_bytes()), &h)
            .await;
        assert_eq!(
            (s, v["scimType"].as_str()),
            (400, Some("invalidSyntax")),
            "{body}: {v}"
        );
    }
    let dup_patch = "{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[{\"op\":\"replace\",\"path\":\"title\",\"value\":\"a\",\"value\":\"b\"}]}";
    let (s, _, v) = d
        .raw(
            "PATCH",
            &format!("/Users/{eid}"),
            Some(dup_patch.as_bytes().to_vec()),
            &h,
        )
        .await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("invalidSyntax")),
        "{v}"
    );

    // Only the two accepted creates exist; the existing user is unchanged.
    let mut want = vec![
        d.config
            .users
            .dn_for(&format!("{tag}-ct-ok"))
            .to_string()
            .to_lowercase(),
        d.config
            .users
            .dn_for(&format!("{tag}-existing"))
            .to_string()
            .to_lowercase(),
        d.config
            .users
            .dn_for(&format!("{tag}-fits"))
            .to_string()
            .to_lowercase(),
    ];
    want.sort();
    assert_eq!(tagged(&d, &tag).await, want);
    assert_eq!(
        before,
        user_snapshot(&d, &existing).await,
        "a refused request wrote"
    );
}

/// A daemon whose tokens come from the config text alone (no
/// SCIM2LDAP_TOKEN, which would replace them), built like
/// [`Daemon::with_config_at`].
async fn daemon_without_env_token(server: Server, text: &str) -> Daemon {
    let env = Env(vec![
        ("SCIM2LDAP_LDAP_URL".into(), server.url()),
        ("SCIM2LDAP_LDAP_BIND_DN".into(), server.bind_dn().into()),
        ("SCIM2LDAP_LDAP_BIND_PASSWORD".into(), ADMIN_PW.into()),
        ("SCIM2LDAP_LISTEN".into(), "127.0.0.1:0".into()),
    ]);
    let config = Config::parse(text, &env).unwrap_or_else(|e| panic!("config: {e}"));
    assert!(
        config.tokens.iter().all(|t| t.name != "env"),
        "the tokens must come from the file"
    );
    Daemon::from_config(server, config).await
}

/// The config with `[auth]` holding exactly the given named tokens.
fn with_tokens(server: Server, tokens: &[(&str, &str)]) -> String {
    let text = config_text(server);
    let old = "[auth]\ntoken_file = \"/etc/scim2ldap/token\"\n";
    assert!(
        text.contains(old),
        "the example config's [auth] section changed"
    );
    let mut auth = String::from("[auth]\n");
    for (name, value) in tokens {
        auth.push_str(&format!(
            "[[auth.tokens]]\nname = \"{name}\"\nvalue = \"{value}\"\n"
        ));
    }
    text.replace(old, &auth)
}

/// Missing, malformed and wrong tokens, and a token retired by rotation: 401,
/// and a write attempted with any of them changes nothing.
pub async fn token_checks(server: Server) {
    const OLD: &str = "old-token-0123456789abcdef";
    const NEW: &str = "new-token-fedcba9876543210";
    let d =
        daemon_without_env_token(server, &with_tokens(server, &[("old", OLD), ("new", NEW)])).await;
    let tag = unique("tok");
    let (old_h, new_h) = (format!("Bearer {OLD}"), format!("Bearer {NEW}"));
    // During rotation both tokens work.
    for h in [&old_h, &new_h] {
        let (s, v) = d
            .call_with("GET", "/Users?count=0", None, &[("authorization", h)])
            .await;
        assert_eq!(s, 200, "{h}: {v}");
    }
    let (s, u) = d
        .call_with(
            "POST",
            "/Users",
            Some(&entra_user(&format!("{tag}-u"))),
            &[("authorization", &old_h)],
        )
        .await;
    assert_eq!(s, 201, "{u}");
    let id = u["id"].as_str().unwrap().to_owned();
    let before = user_snapshot(&d, &u).await;
    // The env token of the other tests is not valid here.
    let env_h = format!("Bearer {TOKEN}");
    let bad: Vec<Option<String>> = vec![
        None,
        Some(String::new()),
        Some("Bearer".into()),
        Some("Bearer ".into()),
        Some(format!("Basic {OLD}")),
        Some(format!("Token {OLD}")),
        Some(OLD.to_owned()),
        Some(format!("Bearer{OLD}")),
        Some(format!("Bearer {OLD}x")),
        Some(format!("Bearer x{OLD}")),
        Some(format!("Bearer {}", &OLD[..OLD.len() - 1])),
        Some(format!("Bearer {}", OLD.to_uppercase())),
        Some(format!("Bearer {OLD} {NEW}")),
        Some(format!("Bearer {OLD},{NEW}")),
        Some(format!("Bearer \"{OLD}\"")),
        Some(env_h.clone()),
        Some("Bearer wrong-token-0123456789abcdef".into()),
        Some(format!("Bearer {}", "a".repeat(4000))),
    ];
    let patch = patch_body(json!([{"op": "replace", "path": "title", "value": "pwned"}]));
    let mut attempts = 0;
    for header in &bad {
        let headers: Vec<(&str, &str)> = header
            .as_deref()
            .map(|h| vec![("authorization", h)])
            .unwrap_or_default();
        for (method, path, body) in [
            ("GET", "/Users".to_owned(), None),
            (
                "POST",
                "/Users".to_owned(),
                Some(entra_user(&format!("{tag}-x"))),
            ),
            ("PATCH", format!("/Users/{id}"), Some(patch.clone())),
            ("DELETE", format!("/Users/{id}"), None),
        ] {
            let (s, h, v) = d
                .raw(
                    method,
                    &path,
                    body.map(|b| b.to_string().into_bytes()),
                    &headers,
                )
                .await;
            assert_eq!(s, 401, "{method} {path} with {header:?}: {v}");
            assert!(
                h.get("www-authenticate")
                    .is_some_and(|w| w.to_str().unwrap().starts_with("Bearer")),
                "{h:?}"
            );
            attempts += 1;
        }
    }
    // A token in the query string or another header is no token.
    for (path, headers) in [
        (format!("/Users?access_token={OLD}"), vec![]),
        ("/Users".to_owned(), vec![("x-api-key", OLD)]),
        (
            "/Users".to_owned(),
            vec![("proxy-authorization", old_h.as_str())],
        ),
        (
            "/Users".to_owned(),
            vec![("cookie", "token=old-token-0123456789abcdef")],
        ),
    ] {
        let (s, _, v) = d.raw("GET", &path, None, &headers).await;
        assert_eq!(s, 401, "{path} {headers:?}: {v}");
    }
    assert!(attempts > 0);
    assert_eq!(
        before,
        user_snapshot(&d, &u).await,
        "an unauthenticated request wrote"
    );
    assert_eq!(tagged(&d, &tag).await.len(), 1);

    // Rotation done: the old token is refused, the new one works.
    let d2 = daemon_without_env_token(server, &with_tokens(server, &[("new", NEW)])).await;
    for (method, path, body) in [
        ("GET", format!("/Users/{id}"), None),
        ("PATCH", format!("/Users/{id}"), Some(&patch)),
        ("DELETE", format!("/Users/{id}"), None),
    ] {
        let (s, v) = d2
            .call_with(method, &path, body, &[("authorization", &old_h)])
            .await;
        assert_eq!(s, 401, "old token after rotation: {method} {path}: {v}");
    }
    assert_eq!(
        before,
        user_snapshot(&d, &u).await,
        "the retired token wrote"
    );
    let (s, v) = d2
        .call_with(
            "GET",
            &format!("/Users/{id}"),
            None,
            &[("authorization", &new_h)],
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = d2
        .call_with(
            "DELETE",
            &format!("/Users/{id}"),
            None,
            &[("authorization", &new_h)],
        )
        .await;
    assert_eq!(s, 204, "{v}");
    assert!(tagged(&d, &tag).await.is_empty());
}

/// Every endpoint and method but /healthz and /readyz answers 401 without a
/// token, before looking at the path's id, the method or the body.
pub async fn every_endpoint_requires_the_token(server: Server) {
    let d = Daemon::start(server).await;
    let tag = unique("ep");
    let Pair {
        u,
        uid,
        gid,
        group_dn,
        before,
    } = Pair::new(&d, &tag, "Ep").await;
    let user_body = entra_user(&format!("{tag}-new"));
    let group_body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": unique("EpNew")});
    let patch = patch_body(json!([{"op": "remove", "path": "members"}]));
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName pr"});
    let methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    let endpoints: Vec<(String, Option<&Value>)> = vec![
        ("/Users".into(), Some(&user_body)),
        ("/Users/.search".into(), Some(&search)),
        (format!("/Users/{uid}"), Some(&patch)),
        ("/Users/00000000-0000-4000-8000-000000000000".into(), None),
        ("/Users/*".into(), None),
        ("/Groups".into(), Some(&group_body)),
        ("/Groups/.search".into(), Some(&search)),
        (format!("/Groups/{gid}"), Some(&patch)),
        ("/.search".into(), Some(&search)),
        ("/Bulk".into(), Some(&search)),
        ("/Me".into(), None),
        ("/ServiceProviderConfig".into(), None),
        ("/ResourceTypes".into(), None),
        ("/ResourceTypes/User".into(), None),
        ("/ResourceTypes/Nope".into(), None),
        ("/Schemas".into(), None),
        (
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User".into(),
            None,
        ),
        ("/Schemas/nope".into(), None),
    ];
    let root = d.base.trim_end_matches("/scim/v2").to_owned();
    for (path, body) in &endpoints {
        for method in methods {
            for header in [None, Some("Bearer wrong-token-0123456789abcdef")] {
                let headers: Vec<(&str, &str)> = header
                    .map(|h| vec![("authorization", h)])
                    .unwrap_or_default();
                let (s, _, v) = d
                    .raw(
                        method,
                        path,
                        body.map(|b| b.to_string().into_bytes()),
                        &headers,
                    )
                    .await;
                assert_eq!(s, 401, "{method} {path} with {header:?}: {v}");
            }
        }
        // With the token the endpoint is there (whatever it answers, not 401).
        let (s, _, v) = d
            .raw("GET", path, None, &[("authorization", &auth())])
            .await;
        assert_ne!(s, 401, "GET {path} with the token: {v}");
    }
    for method in methods {
        let r = d
            .http
            .request(method.parse().unwrap(), format!("{root}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "{method} /metrics");
    }
    for public in ["/healthz", "/readyz"] {
        let r = reqwest::get(format!("{root}{public}")).await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "{public}");
    }
    assert_eq!(
        Pair::snapshots(&d, &u, &group_dn).await,
        before,
        "an unauthenticated request wrote"
    );
    assert_eq!(tagged(&d, &tag).await.len(), 1);
    let (_, v) = d
        .call(
            "GET",
            &format!(
                "/Groups?excludedAttributes=members&filter={}",
                enc("displayName sw \"EpNew\"")
            ),
            None,
        )
        .await;
    let leaked: Vec<&Value> = v["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["displayName"] == group_body["displayName"])
        .collect();
    assert!(leaked.is_empty(), "{leaked:?}");
}

/// dateTime comparison values are checked, never sliced: text with
/// multi-byte characters where the digits should be is an invalid filter,
/// and the daemon goes on serving.
pub async fn datetime_text_with_multibyte_characters_is_refused(server: Server) {
    let d = Daemon::start(server).await;
    let u = d.create_user(&unique("dt")).await;
    let before = user_snapshot(&d, &u).await;
    for value in [
        "2011-05-13T04:42:3é4Z",
        "2011-05-13T0D:42:3ノ4J",
        "2011-05-13T04:42:34é",
        "2é11-05-13T04:42:34Z",
        "2011-05-13T04:4😀:34Z",
    ] {
        for attr in ["meta.lastModified", "meta.created"] {
            let f = format!("{attr} gt \"{value}\"");
            let r = d
                .http
                .get(d.url(&format!("/Users?filter={}", enc(&f))))
                .header("authorization", auth())
                .send()
                .await;
            let r = r.unwrap_or_else(|e| panic!("{f}: no answer ({e})"));
            let status = r.status().as_u16();
            let v: Value =
                serde_json::from_slice(&r.bytes().await.unwrap_or_default()).unwrap_or(Value::Null);
            assert_eq!(
                (status, v["scimType"].as_str()),
                (400, Some("invalidFilter")),
                "{f}: {v}"
            );
        }
    }
    let (s, v) = d
        .call(
            "GET",
            &format!("/Users/{}", u["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(before, user_snapshot(&d, &u).await);
}

/// Every value contains, starts and ends with the empty string: `co ""`,
/// `sw ""` and `ew ""` match what `pr` matches (and must not become the
/// malformed LDAP substring `(attr=**)`).
pub async fn empty_substrings_match_every_value(server: Server) {
    let d = Daemon::start(server).await;
    let tag = unique("empty");
    let a = d.create_user(&format!("{tag}-a")).await;
    let b = d.create_user(&format!("{tag}-b")).await;
    let mut want = vec![
        a["userName"].as_str().unwrap().to_owned(),
        b["userName"].as_str().unwrap().to_owned(),
    ];
    want.sort();
    for op in ["sw", "ew", "co"] {
        for attr in ["userName", "title", "emails.value", "name.familyName"] {
            let f = format!("userName sw \"{tag}\" and {attr} {op} \"\"");
            let (s, v) = d
                .call("GET", &format!("/Users?filter={}", enc(&f)), None)
                .await;
            assert_eq!(s, 200, "{f}: {v}");
            let mut got: Vec<String> = v["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["userName"].as_str().unwrap().to_owned())
                .collect();
            got.sort();
            assert_eq!(got, want, "{f}");
        }
    }
}
