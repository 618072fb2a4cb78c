//! SCIM clients other than Entra's default mapping: sorting on both servers,
//! lenient endpoint names, core attributes under the core schema URN,
//! unmapped attributes under each `unmapped` mode, and what Okta-style
//! clients rely on.

use std::process::Command;

use serde_json::{Value, json};

use super::{ADMIN_PW, Daemon, Server, TOKEN, unique};

const CONTACTIFY: &str = "urn:ietf:params:scim:schemas:extension:contactify:2.0:User";

/// The `userName`s of a list response, in order.
fn names(v: &Value) -> Vec<String> {
    v["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no Resources: {v}"))
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_owned())
        .collect()
}

/// sortBy on userName, displayName, meta.lastModified and an extension
/// attribute, both orders, read in pages of two.
pub async fn sort_by_any_mapped_attribute(server: Server) {
    let d = Daemon::start(server).await;
    let tag = unique("srt");
    // (suffix, displayName, externalCompanyId), created in this order, a
    // second apart so that modifyTimestamp orders them too.
    let users = [
        ("c", "yolanda", "Beta"),
        ("A", "Xavier", "delta"),
        ("d", "walter", "alpha"),
        ("b", "Zed", "Charlie"),
    ];
    for (i, (n, display, company)) in users.iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
        let mut body = super::entra_user(&format!("{tag}-{n}"));
        body["displayName"] = json!(display);
        body[CONTACTIFY]["externalCompanyId"] = json!(company);
        let (s, v) = d.call("POST", "/Users", Some(&body)).await;
        assert_eq!(s, 201, "{v}");
    }
    let name = |n: &str| format!("{tag}-{n}");
    let orders: [(&str, [&str; 4]); 4] = [
        ("userName", ["A", "b", "c", "d"]),
        ("displayName", ["d", "A", "c", "b"]),
        ("meta.lastModified", ["c", "A", "d", "b"]),
        (
            "urn:ietf:params:scim:schemas:extension:contactify:2.0:User:externalCompanyId",
            ["d", "c", "b", "A"],
        ),
    ];
    for (sort_by, ascending) in orders {
        for (order, want) in [
            ("ascending", ascending.map(name).to_vec()),
            (
                "descending",
                ascending.map(name).into_iter().rev().collect(),
            ),
        ] {
            let mut got = Vec::new();
            for start in [1, 3] {
                let path = format!(
                    "/Users?filter=userName%20sw%20%22{tag}%22&sortBy={sort_by}&sortOrder={order}&startIndex={start}&count=2&attributes=userName"
                );
                let (s, v) = d.call("GET", &path, None).await;
                assert_eq!(s, 200, "{sort_by} {order}: {v}");
                assert_eq!(v["totalResults"], 4, "{v}");
                got.extend(names(&v));
            }
            assert_eq!(got, want, "{sort_by} {order}");
        }
    }
    // References hold DNs, not the ids the client sees: refused on both.
    let (s, v) = d
        .call(
            "GET",
            "/Users?sortBy=urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            None,
        )
        .await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{v}"
    );
    assert!(v["detail"].as_str().unwrap().contains("manager"), "{v}");
}

/// Where the server cannot order an attribute, sortBy is refused before
/// anything is sent, naming the attribute; search errors never speak of
/// changes.
pub async fn unsortable_attributes_are_named(server: Server) {
    let d = Daemon::start(server).await;
    let (s, v) = d
        .call("GET", "/Users?sortBy=addresses.formatted&count=1", None)
        .await;
    match server {
        // OpenLDAP's sssvlv sorts only by a rule, and postal addresses have none.
        Server::OpenLdap => {
            assert_eq!(
                (s, v["scimType"].as_str()),
                (400, Some("invalidValue")),
                "{v}"
            );
            let detail = v["detail"].as_str().unwrap();
            assert!(
                detail.contains("addresses[type eq \"work\"].formatted")
                    && detail.contains("postalAddress")
                    && detail.contains("cannot order"),
                "{v}"
            );
        }
        // 389-ds orders by the syntax.
        Server::Ds389 => assert_eq!(s, 200, "{v}"),
    }
    let (s, v) = d.call("GET", "/Users?sortBy=meta.version", None).await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{v}"
    );
    assert!(!v["detail"].as_str().unwrap().contains("change"), "{v}");
}

/// Endpoint names in any case and with a trailing slash, for every endpoint
/// and method; ids keep their case; unknown paths stay 404.
pub async fn endpoints_ignore_case_and_a_trailing_slash(server: Server) {
    let d = Daemon::start(server).await;
    let user_name = unique("Route");
    let (s, v) = d
        .call("POST", "/users/", Some(&super::entra_user(&user_name)))
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let filter = format!("?filter=userName%20eq%20%22{user_name}%22");
    for path in [
        format!("/users{filter}"),
        format!("/Users/{filter}"),
        format!("/USERS/{filter}"),
    ] {
        let (s, v) = d.call("GET", &path, None).await;
        assert_eq!(
            (s, v["totalResults"].as_u64()),
            (200, Some(1)),
            "{path}: {v}"
        );
    }
    for path in [
        format!("/users/{id}/"),
        format!("/Users/{id}/"),
        format!("/uSeRs/{id}"),
    ] {
        let (s, v) = d.call("GET", &path, None).await;
        assert_eq!(
            (s, v["id"].as_str()),
            (200, Some(id.as_str())),
            "{path}: {v}"
        );
    }
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": format!("userName eq \"{user_name}\"")});
    for path in [
        "/users/.search",
        "/Users/.SEARCH/",
        "/.Search/",
        "/.search/",
    ] {
        let (s, v) = d.call("POST", path, Some(&search)).await;
        assert_eq!(
            (s, v["totalResults"].as_u64()),
            (200, Some(1)),
            "{path}: {v}"
        );
    }
    let mut put = super::entra_user(&user_name);
    put["title"] = json!("Put through a lower-case path");
    let (s, v) = d.call("PUT", &format!("/users/{id}/"), Some(&put)).await;
    assert_eq!(
        (s, v["title"].as_str()),
        (200, Some("Put through a lower-case path")),
        "{v}"
    );
    let patch = super::patch_body(json!([{"op": "replace", "path": "title", "value": "Patched"}]));
    let (s, v) = d
        .call("PATCH", &format!("/USERS/{id}/"), Some(&patch))
        .await;
    assert_eq!((s, v["title"].as_str()), (200, Some("Patched")), "{v}");
    // Groups, every method.
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": unique("route-g"), "members": [{"value": id}]});
    let (s, v) = d.call("POST", "/groups/", Some(&group)).await;
    assert_eq!(s, 201, "{v}");
    let gid = v["id"].as_str().unwrap().to_owned();
    let (s, v) = d.call("GET", &format!("/groups/{gid}/"), None).await;
    assert_eq!((s, v["id"].as_str()), (200, Some(gid.as_str())), "{v}");
    let (s, v) = d.call("GET", "/GROUPS/?count=1", None).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = d.call("POST", "/groups/.search/", Some(&json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": format!("id eq \"{gid}\"")}))).await;
    assert_eq!((s, v["totalResults"].as_u64()), (200, Some(1)), "{v}");
    let (s, v) = d
        .call(
            "PATCH",
            &format!("/groups/{gid}"),
            Some(&super::patch_body(
                json!([{"op": "remove", "path": "members"}]),
            )),
        )
        .await;
    // A membership-only PATCH answers without the group (as Entra expects).
    assert_eq!(s, 204, "{v}");
    let mut gput = group.clone();
    gput["members"] = json!([]);
    let (s, v) = d.call("PUT", &format!("/Groups/{gid}/"), Some(&gput)).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = d.call("DELETE", &format!("/groups/{gid}/"), None).await;
    assert_eq!(s, 204, "{v}");
    // Discovery.
    for path in [
        "/serviceproviderconfig",
        "/ServiceProviderConfig/",
        "/resourcetypes/",
        "/RESOURCETYPES/User/",
        "/schemas/",
        "/schemas/urn:ietf:params:scim:schemas:core:2.0:User/",
    ] {
        let (s, v) = d.call("GET", path, None).await;
        assert_eq!(s, 200, "{path}: {v}");
    }
    // Nothing unknown becomes known: these stay SCIM 404s.
    for path in [
        "/userz",
        "/user",
        "/Users%2F",
        "/users//",
        &format!("/users/{id}/x"),
        "/Us%65rs",
    ] {
        let (s, v) = d.call("GET", path, None).await;
        assert_eq!(s, 404, "{path}: {v}");
        assert_eq!(v["status"], "404", "{path}: {v}");
    }
    let (s, v) = d.call("DELETE", &format!("/users/{id}/"), None).await;
    assert_eq!(s, 204, "{v}");
    let (s, _) = d.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(s, 404);
}

/// Core attributes sent under the core schema URN, in POST, PUT and PATCH.
pub async fn core_attributes_under_the_core_urn(server: Server) {
    let d = Daemon::start(server).await;
    let core = "urn:ietf:params:scim:schemas:core:2.0:User";
    let user_name = unique("urnform");
    let body = json!({
        "schemas": [core],
        core: {"userName": user_name, "displayName": "Under the URN", "emails": [{"type": "work", "value": format!("{user_name}@example.com")}]},
    });
    let (s, v) = d.call("POST", "/Users", Some(&body)).await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["userName"], json!(user_name), "{v}");
    assert_eq!(v["displayName"], "Under the URN", "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let dn = format!("uid={user_name},ou=people,dc=example,dc=com");
    let e = d.entry(&dn).await.unwrap();
    assert_eq!(
        super::attr(&e, "displayName").as_deref(),
        Some("Under the URN")
    );
    assert_eq!(
        super::attr(&e, "mail"),
        Some(format!("{user_name}@example.com"))
    );
    // PUT in the same form, with the same value also at the top level.
    let put = json!({"schemas": [core], "userName": user_name, core: {"userName": user_name, "displayName": "Put under the URN"}});
    let (s, v) = d.call("PUT", &format!("/Users/{id}"), Some(&put)).await;
    assert_eq!(
        (s, v["displayName"].as_str()),
        (200, Some("Put under the URN")),
        "{v}"
    );
    // PATCH without a path, value under the URN.
    let patch = super::patch_body(
        json!([{"op": "replace", "value": {core: {"displayName": "Patched under the URN"}}}]),
    );
    let (s, v) = d.call("PATCH", &format!("/Users/{id}"), Some(&patch)).await;
    assert_eq!(
        (s, v["displayName"].as_str()),
        (200, Some("Patched under the URN")),
        "{v}"
    );
    // Both ways with different values: refused, named, nothing written.
    let clash = json!({"schemas": [core], "userName": user_name, "displayName": "A", core: {"displayName": "B"}});
    let (s, v) = d.call("PUT", &format!("/Users/{id}"), Some(&clash)).await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{v}"
    );
    assert!(v["detail"].as_str().unwrap().contains("displayName"), "{v}");
    let patch = super::patch_body(
        json!([{"op": "replace", "value": {"displayName": "A", core: {"displayName": "B"}}}]),
    );
    let (s, v) = d.call("PATCH", &format!("/Users/{id}"), Some(&patch)).await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{v}"
    );
    let other = unique("urnclash");
    let (s, v) = d
        .call("POST", "/Users", Some(&json!({"schemas": [core], "userName": other, core: {"userName": format!("{other}-b")}})))
        .await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{v}"
    );
    assert!(v["detail"].as_str().unwrap().contains("userName"), "{v}");
    assert!(d.dns(&format!("(uid={other}*)")).await.is_empty());
    let e = d.entry(&dn).await.unwrap();
    assert_eq!(
        super::attr(&e, "displayName").as_deref(),
        Some("Patched under the URN")
    );
}

/// What Okta-style and generic clients rely on: deactivation by PUT with
/// `active: false`, a password on create, case-insensitive userName
/// filters, SCIM error bodies on 401 and 404.
pub async fn generic_client_basics(server: Server) {
    let d = Daemon::start(server).await;
    let user_name = unique("Okta");
    let mut body = super::entra_user(&user_name);
    body["password"] = json!("Okta-Sup3r-pw!");
    let (s, v) = d.call("POST", "/Users", Some(&body)).await;
    assert_eq!(s, 201, "{v}");
    assert!(v.get("password").is_none(), "never returned: {v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let dn = format!("uid={user_name},ou=people,dc=example,dc=com");
    let bind = |pw: &'static str| {
        let dn = dn.clone();
        async move {
            let (conn, mut l) = ldap3::LdapConnAsync::new(&server.url()).await.unwrap();
            ldap3::drive!(conn);
            l.simple_bind(&dn, pw).await.unwrap().rc
        }
    };
    assert_eq!(
        bind("Okta-Sup3r-pw!").await,
        0,
        "the password set on create binds"
    );
    // userName filters ignore case.
    let (s, v) = d
        .call(
            "GET",
            &format!(
                "/Users?filter=userName%20eq%20%22{}%22",
                user_name.to_uppercase()
            ),
            None,
        )
        .await;
    assert_eq!((s, v["totalResults"].as_u64()), (200, Some(1)), "{v}");
    // Okta deactivates with a PUT of the whole user, active false.
    let mut put = body.clone();
    put.as_object_mut().unwrap().remove("password");
    put["active"] = json!(false);
    let (s, v) = d.call("PUT", &format!("/Users/{id}"), Some(&put)).await;
    assert_eq!((s, v["active"].as_bool()), (200, Some(false)), "{v}");
    let disable = d.config.users.disable[0].clone();
    let e = d.entry(&dn).await.unwrap();
    assert_eq!(
        super::attr(&e, &disable.attribute),
        Some(disable.value.clone())
    );
    assert_ne!(
        bind("Okta-Sup3r-pw!").await,
        0,
        "a deactivated user cannot bind"
    );
    put["active"] = json!(true);
    let (s, v) = d.call("PUT", &format!("/Users/{id}"), Some(&put)).await;
    assert_eq!((s, v["active"].as_bool()), (200, Some(true)), "{v}");
    assert_eq!(bind("Okta-Sup3r-pw!").await, 0, "reactivated");
    // 401 and 404 are SCIM errors.
    let (s, v) = d.call_with("GET", "/Users", None, &[]).await;
    assert_eq!(s, 401);
    assert_eq!(
        v["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{v}"
    );
    assert_eq!(v["status"], "401", "{v}");
    let (s, v) = d
        .call("GET", "/Users/00000000-0000-0000-0000-000000000000", None)
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        v["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{v}"
    );
    assert_eq!(v["status"], "404", "{v}");
}

/// A user as a generic client sends it: Entra's attributes plus some no
/// mapping stores (a nickname, a home e-mail, a second kind of address, an
/// extension the daemon does not know).
fn user_with_unmapped(user_name: &str) -> Value {
    let mut body = super::entra_user(user_name);
    body["nickName"] = json!("Nick");
    body["emails"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "home", "value": format!("{user_name}@home.example")}));
    body["addresses"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "other", "locality": "Elsewhere"}));
    body
}

const HOME: &str = "emails[type eq \"home\"].value";

/// The default: anything unmapped is refused, naming the first path, and
/// nothing is written.
pub async fn unmapped_attributes_are_refused_by_default(server: Server) {
    let d = Daemon::start(server).await;
    let user_name = unique("unmapped-rej");
    let (s, v) = d
        .call("POST", "/Users", Some(&user_with_unmapped(&user_name)))
        .await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{v}"
    );
    // Keys are read in order; the addresses come first.
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .starts_with("addresses[type eq \"other\"].locality is not mapped"),
        "{v}"
    );
    assert!(d.dns(&format!("(uid={user_name})")).await.is_empty());
    let created = d.create_user(&user_name).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/Users/{id}");
    let (s, v) = d
        .call(
            "PATCH",
            &path,
            Some(&super::patch_body(json!([
                {"op": "replace", "path": "title", "value": "Changed"},
                {"op": "replace", "path": "nickName", "value": "Nick"}
            ]))),
        )
        .await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("invalidPath")),
        "{v}"
    );
    assert!(v["detail"].as_str().unwrap().contains("nickName"), "{v}");
    let mut put = super::entra_user(&user_name);
    put["title"] = json!("Changed");
    put["nickName"] = json!("Nick");
    let (s, v) = d.call("PUT", &path, Some(&put)).await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("invalidValue")),
        "{v}"
    );
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .starts_with("nickName is not mapped"),
        "{v}"
    );
    let e = d
        .entry(&format!("uid={user_name},ou=people,dc=example,dc=com"))
        .await
        .unwrap();
    assert_eq!(
        super::attr(&e, "title").as_deref(),
        Some("Engineer"),
        "nothing written"
    );
    let (s, v) = d
        .call("GET", "/Users?filter=nickName%20eq%20%22Nick%22", None)
        .await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("invalidFilter")),
        "{v}"
    );
}

/// The daemon binary with `unmapped = "ignore"` on users and groups, JSON
/// logs; returns the child, its base URL and its log lines.
struct Binary {
    child: std::process::Child,
    base: String,
    config: std::path::PathBuf,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

fn command(server: Server) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_scim2ldap"));
    c.env("SCIM2LDAP_LDAP_URL", server.url())
        .env("SCIM2LDAP_LDAP_BIND_DN", server.bind_dn())
        .env("SCIM2LDAP_LDAP_BIND_PASSWORD", ADMIN_PW)
        .env("SCIM2LDAP_TOKEN", TOKEN);
    c
}

async fn ignoring_binary(server: Server) -> Binary {
    let text = super::config_text(server)
        .replace("[server]", "[server]\nlog_format = \"json\"")
        .replace(
            "[users.attributes]",
            "unmapped = \"ignore\"\n\n[users.attributes]",
        )
        .replace(
            "[groups.attributes]",
            "unmapped = \"ignore\"\n\n[groups.attributes]",
        );
    let super::ops::Served {
        child,
        port,
        config,
        lines,
    } = super::ops::serve(server, &text).await;
    Binary {
        child,
        base: format!("http://127.0.0.1:{port}"),
        config,
        lines,
    }
}

impl Binary {
    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Stops the daemon; returns its log lines as JSON.
    fn stop(mut self) -> Vec<Value> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(std::time::Duration::from_millis(100));
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// `unmapped = "ignore"`: what no mapping stores is left out of POST, PUT
/// and PATCH, the answer shows what was stored, and the paths show in the
/// metrics, the audit lines, one warning each, and `explain`.
pub async fn unmapped_attributes_are_ignored_when_configured(server: Server) {
    let b = ignoring_binary(server).await;
    let user_name = unique("unmapped-ign");
    let (s, v) = b
        .call(
            "POST",
            "/scim/v2/Users",
            Some(&user_with_unmapped(&user_name)),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let emails: Vec<&str> = v["emails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["value"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        [format!("{user_name}@example.com")],
        "the answer shows what was stored"
    );
    assert!(v.get("nickName").is_none(), "{v}");
    assert_eq!(v["addresses"].as_array().map(Vec::len), Some(1), "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let path = format!("/scim/v2/Users/{id}");
    let d = Daemon::start(server).await;
    let dn = format!("uid={user_name},ou=people,dc=example,dc=com");
    let e = d.entry(&dn).await.unwrap();
    assert_eq!(
        super::attrs(&e, "mail"),
        [format!("{user_name}@example.com")]
    );
    assert_eq!(super::attr(&e, "l").as_deref(), Some("Springfield"));
    // PATCH: an unmapped path is a no-op, an unmapped element is left out.
    let (s, v) = b
        .call(
            "PATCH",
            &path,
            Some(&super::patch_body(json!([
                {"op": "replace", "path": "nickName", "value": "Nick"},
                {"op": "add", "path": "emails", "value": [{"type": "home", "value": "h@home.example"}]},
                {"op": "add", "path": HOME, "value": "h@home.example"},
                {"op": "replace", "path": "title", "value": "Patched"}
            ]))),
        )
        .await;
    assert_eq!((s, v["title"].as_str()), (200, Some("Patched")), "{v}");
    let (s, v) = b
        .call(
            "PATCH",
            &path,
            Some(&super::patch_body(
                json!([{"op": "remove", "path": "nickName"}]),
            )),
        )
        .await;
    assert_eq!((s, v["title"].as_str()), (200, Some("Patched")), "{v}");
    // PUT: the same.
    let mut put = user_with_unmapped(&user_name);
    put["title"] = json!("Put");
    let (s, v) = b.call("PUT", &path, Some(&put)).await;
    assert_eq!((s, v["title"].as_str()), (200, Some("Put")), "{v}");
    let e = d.entry(&dn).await.unwrap();
    assert_eq!(
        super::attrs(&e, "mail"),
        [format!("{user_name}@example.com")]
    );
    assert_eq!(super::attr(&e, "title").as_deref(), Some("Put"));
    // Groups too.
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": unique("unmapped-g"), "description": "not stored"});
    let (s, v) = b.call("POST", "/scim/v2/Groups", Some(&group)).await;
    assert_eq!(s, 201, "{v}");
    // Filters on unmapped attributes are still refused: ignoring them would
    // match the wrong users.
    let (s, v) = b
        .call(
            "GET",
            "/scim/v2/Users?filter=nickName%20eq%20%22Nick%22",
            None,
        )
        .await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("invalidFilter")),
        "{v}"
    );
    // The metrics count every ignored path.
    let (s, metrics) = b.call("GET", "/metrics", None).await;
    assert_eq!(s, 200);
    let metrics = metrics.as_str().unwrap();
    for (line, n) in [
        ("resource=\"User\",path=\"nickName\"", 4),
        (
            "resource=\"User\",path=\"emails[type eq \\\"home\\\"].value\"",
            3,
        ),
        (
            "resource=\"User\",path=\"addresses[type eq \\\"other\\\"].locality\"",
            2,
        ),
        ("resource=\"Group\",path=\"description\"", 1),
    ] {
        assert!(
            metrics.contains(&format!("scim2ldap_unmapped_ignored_total{{{line}}} {n}")),
            "{line} {n}:\n{metrics}"
        );
    }
    // explain lists what it would leave out, and writes nothing.
    let body_file = b.config.with_file_name("user.json");
    std::fs::write(
        &body_file,
        user_with_unmapped(&unique("explained")).to_string(),
    )
    .unwrap();
    let out = command(server)
        .args([
            "explain",
            "--config",
            b.config.to_str().unwrap(),
            "POST",
            "/Users",
        ])
        .arg(&body_file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for p in ["nickName", HOME, "addresses[type eq \"other\"].locality"] {
        assert!(
            text.contains(&format!("ignored (User, no mapping stores it): {p}")),
            "{p}: {text}"
        );
    }
    let logs = b.stop();
    let audit = |op: &str| {
        logs.iter()
            .find(|l| {
                l["target"] == "audit"
                    && l["operation"] == op
                    && l["dn"].as_str().is_some_and(|d| d.contains(&user_name))
            })
            .unwrap_or_else(|| panic!("no audit line for {op}: {logs:?}"))
            .clone()
    };
    for op in ["create", "replace"] {
        let ignored = audit(op)["ignored"].as_str().unwrap_or_default().to_owned();
        assert!(
            ignored.contains("nickName") && ignored.contains("home"),
            "{op}: {ignored}"
        );
    }
    let ignored = audit("patch")["ignored"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        ignored.contains("nickName") && ignored.contains("home"),
        "patch: {ignored}"
    );
    let warnings: Vec<&Value> = logs
        .iter()
        .filter(|l| l["level"] == "WARN" && l["path"] == "nickName")
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning per path, not one per request: {warnings:?}"
    );
}

/// A config value other than reject or ignore is a config problem naming the key.
pub async fn unknown_unmapped_mode_is_a_config_problem(server: Server) {
    let text = super::config_text(server).replace(
        "[users.attributes]",
        "unmapped = \"drop\"\n\n[users.attributes]",
    );
    let dir = std::env::temp_dir().join(unique("scim2ldap-it"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("c.toml");
    std::fs::write(&config, text).unwrap();
    let out = command(server)
        .args(["check-config", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("users.unmapped: \"drop\" is not one of \"reject\", \"ignore\""),
        "{text}"
    );
}

/// Runs each listed test once against OpenLDAP and once against 389-ds.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod openldap {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(super::Server::OpenLdap).await }
            )*
        }
        mod ds389 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() { super::$name(super::Server::Ds389).await }
            )*
        }
    };
}

on_both!(
    sort_by_any_mapped_attribute,
    unsortable_attributes_are_named,
    endpoints_ignore_case_and_a_trailing_slash,
    core_attributes_under_the_core_urn,
    generic_client_basics,
    unmapped_attributes_are_refused_by_default,
    unmapped_attributes_are_ignored_when_configured,
    unknown_unmapped_mode_is_a_config_problem,
);
