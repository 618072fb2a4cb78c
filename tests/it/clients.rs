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
    unsortable_attributes_are_named
);
