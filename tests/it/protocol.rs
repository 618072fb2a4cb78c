//! Protocol-level behaviour: authentication, error bodies, discovery, and
//! the promise that nothing outside the configured bases is ever visible.

use serde_json::json;

use super::{Daemon, Server, TOKEN, patch_body, unique};

pub async fn auth_is_required(server: Server) {
    let d = Daemon::start(server).await;
    for (path, method) in [
        ("/Users", "GET"),
        ("/Groups", "GET"),
        ("/Schemas", "GET"),
        ("/ServiceProviderConfig", "GET"),
        ("/Users/x", "DELETE"),
    ] {
        for header in [
            None,
            Some("Bearer"),
            Some("Basic abc"),
            Some("Bearer wrong-but-long-token-000"),
            Some(&format!("Bearer {TOKEN}x")[..]),
        ] {
            let headers: Vec<(&str, &str)> = header
                .map(|h| vec![("authorization", h)])
                .unwrap_or_default();
            let (s, h, v) = d.raw(method, path, None, &headers).await;
            assert_eq!(s, 401, "{method} {path} with {header:?}: {v}");
            assert!(
                h.get("www-authenticate")
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with("Bearer")
            );
            assert_eq!(v["status"], "401");
        }
    }
    let metrics = reqwest::get(d.base.replace("/scim/v2", "/metrics"))
        .await
        .unwrap();
    assert_eq!(
        metrics.status().as_u16(),
        401,
        "metrics need the token unless public_metrics"
    );
    for public in ["/healthz", "/readyz"] {
        let r = reqwest::get(d.base.replace("/scim/v2", public))
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{public}");
    }
}

pub async fn errors_are_scim(server: Server) {
    // A small body limit, so an oversized body still fits the socket buffers
    // and the client reads the 413 instead of a reset.
    let d = Daemon::with_config(
        server,
        &super::config_text(server).replace("[server]", "[server]\nmax_body_bytes = 4096"),
    )
    .await;
    let auth = format!("Bearer {TOKEN}");
    let (s, h, v) = d
        .raw(
            "POST",
            "/Users",
            Some(b"<xml/>".to_vec()),
            &[
                ("authorization", &auth),
                ("content-type", "application/xml"),
            ],
        )
        .await;
    assert_eq!(s, 415, "{v}");
    assert_eq!(h.get("content-type").unwrap(), "application/scim+json");
    assert!(h.get("x-request-id").is_some(), "{v}");
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["detail", "schemas", "status"],
        "{v}"
    );
    let (s, _, v) = d
        .raw(
            "POST",
            "/Users",
            Some(b"{\"a\":1,\"a\":2}".to_vec()),
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("invalidSyntax")),
        "{v}"
    );
    let big = vec![b' '; 8192];
    let (s, _, v) = d
        .raw("POST", "/Users", Some(big), &[("authorization", &auth)])
        .await;
    assert_eq!(s, 413, "{v}");
    let (s, _, v) = d
        .raw(
            "POST",
            "/Users",
            Some(b"{\"x\":\"\xff\"}".to_vec()),
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, v) = d.call("GET", "/Users/not-a-uuid", None).await;
    assert_eq!(s, 404, "{v}");
    let (s, v) = d.call("GET", "/Nope", None).await;
    assert_eq!(s, 404, "{v}");
    let (s, v) = d.call("POST", "/Bulk", Some(&json!({}))).await;
    assert_eq!(s, 501, "{v}");
    let (s, v) = d
        .call(
            "PATCH",
            "/Users/00000000-0000-4000-8000-000000000000",
            Some(&patch_body(
                json!([{"op": "replace", "path": "title", "value": "x"}]),
            )),
        )
        .await;
    assert_eq!(s, 404, "{v}");
    let (s, v) = d
        .call(
            "PATCH",
            "/Users/00000000-0000-4000-8000-000000000000",
            Some(&json!({"Operations": []})),
        )
        .await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("invalidSyntax")),
        "{v}"
    );
    let u = d.create_user(&unique("err")).await;
    let id = u["id"].as_str().unwrap();
    for (path, t) in [
        ("id", "mutability"),
        ("meta.created", "mutability"),
        ("groups", "mutability"),
    ] {
        let (s, v) = d
            .call(
                "PATCH",
                &format!("/Users/{id}"),
                Some(&patch_body(
                    json!([{"op": "replace", "path": path, "value": "x"}]),
                )),
            )
            .await;
        assert_eq!((s, v["scimType"].as_str()), (400, Some(t)), "{path}: {v}");
    }
}

pub async fn discovery(server: Server) {
    let d = Daemon::start(server).await;
    let (s, v) = d.call("GET", "/ServiceProviderConfig", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["patch"]["supported"], true);
    assert_eq!(v["bulk"]["supported"], false);
    assert_eq!(v["etag"]["supported"], true);
    // 389-ds offers RFC 2891 sorting; the test OpenLDAP loads sssvlv.
    assert_eq!(
        v["sort"]["supported"], true,
        "sort follows the rootDSE: {v}"
    );
    let (_, v) = d.call("GET", "/ResourceTypes", None).await;
    assert_eq!(v["totalResults"], 2);
    let (s, v) = d
        .call(
            "GET",
            "/Schemas/urn:ietf:params:scim:schemas:extension:contactify:2.0:User",
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let order = v["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "orderCard")
        .unwrap();
    assert_eq!(order["type"], "boolean");
    assert_eq!(order["mutability"], "immutable");
    // With public_discovery the endpoints answer without a token; others still need it.
    let text = super::config_text(server).replace("[server]", "[server]\npublic_discovery = true");
    let d = Daemon::with_config(server, &text).await;
    let (s, _) = d.call_with("GET", "/Schemas", None, &[]).await;
    assert_eq!(s, 200);
    let (s, _) = d.call_with("GET", "/Users", None, &[]).await;
    assert_eq!(s, 401);
}

pub async fn outside_bases_are_invisible(server: Server) {
    let d = Daemon::start(server).await;
    // scripts/test-servers creates uid=outsider,ou=outside and cn=outsiders,ou=outside.
    let mut l = d.ldap().await;
    let (rs, _) = l
        .search(
            "ou=outside,dc=example,dc=com",
            ldap3::Scope::Subtree,
            "(uid=outsider)",
            vec!["entryUUID"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let outsider = super::attr(
        &ldap3::SearchEntry::construct(
            rs.into_iter()
                .next()
                .expect("the outsider entry scripts/test-servers creates"),
        ),
        "entryUUID",
    )
    .unwrap();
    let (s, _) = d.call("GET", &format!("/Users/{outsider}"), None).await;
    assert_eq!(s, 404);
    let (s, _) = d.call("DELETE", &format!("/Users/{outsider}"), None).await;
    assert_eq!(s, 404);
    let (_, v) = d
        .call("GET", "/Users?filter=userName%20eq%20%22outsider%22", None)
        .await;
    assert_eq!(v["totalResults"], 0, "{v}");
    let (_, v) = d
        .call(
            "GET",
            &format!("/Users?filter=id%20eq%20%22{outsider}%22"),
            None,
        )
        .await;
    assert_eq!(v["totalResults"], 0);
    // An outsider cannot be made a member or a manager.
    let g = d.create_group(&unique("Inside"), &[]).await;
    let (s, v) = d
        .call(
            "PATCH",
            &format!("/Groups/{}", g["id"].as_str().unwrap()),
            Some(&patch_body(
                json!([{"op": "add", "path": "members", "value": [{"value": outsider}]}]),
            )),
        )
        .await;
    assert_eq!(s, 400, "{v}");
    let (s, _) = d
        .call(
            "PATCH",
            &format!("/Users/{outsider}"),
            Some(&patch_body(
                json!([{"op": "replace", "path": "title", "value": "pwned"}]),
            )),
        )
        .await;
    assert_eq!(s, 404);
    assert!(
        d.entry("uid=outsider,ou=outside,dc=example,dc=com")
            .await
            .is_some()
    );
}

/// A users base that does not exist in the directory: a create is a 500 (a
/// configuration error, not a missing resource: the log names the base, the
/// client gets the request id), and nothing is written.
pub async fn create_under_a_missing_base_is_a_server_error(server: Server) {
    let text = super::config_text(server).replacen(
        "base = \"ou=people,dc=example,dc=com\"",
        "base = \"ou=nowhere,dc=example,dc=com\"",
        1,
    );
    assert!(text.contains("ou=nowhere"));
    let d = Daemon::with_config(server, &text).await;
    let name = unique("nobase");
    let (s, v) = d
        .call("POST", "/Users", Some(&super::entra_user(&name)))
        .await;
    assert_eq!(s, 500, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("request id"), "{v}");
    assert!(d.dns(&format!("(uid={name})")).await.is_empty());
}
