//! SCIM clients other than Entra's default mapping: sorting on both servers,
//! lenient endpoint names, core attributes under the core schema URN,
//! unmapped attributes under each `unmapped` mode, and what Okta-style
//! clients rely on.

use serde_json::{Value, json};

use super::{Daemon, Server, unique};

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
    let disable = d.config.users.disable.clone().unwrap();
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
);
