//! Entra's user cycle and user-side behaviour against real servers.

use serde_json::{Value, json};

use super::{
    Daemon, Server, assert_directly_under_people, attr, attrs, enc, entra_user, patch_body, unique,
};

fn q(filter: &str) -> String {
    format!("/Users?filter={}", enc(filter))
}

pub async fn entra_test_connection(server: Server) {
    let d = Daemon::start(server).await;
    // Entra's "Test connection": a random userName, 200 with zero results.
    let (s, v) = d
        .call(
            "GET",
            &q("userName eq \"7a9b2c1d-0f3e-4d5a-9b8c-1e2f3a4b5c6d\""),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["totalResults"], 0);
    assert_eq!(v["Resources"], json!([]));
    assert_eq!(
        v["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    // A wrong token is 401.
    let (s, _) = d
        .call_with(
            "GET",
            &q("userName eq \"x\""),
            None,
            &[("authorization", "Bearer wrong-token-0123456789")],
        )
        .await;
    assert_eq!(s, 401);
}

pub async fn entra_user_cycle(server: Server) {
    let d = Daemon::start(server).await;
    let name = unique("alice");
    // match: not there yet
    let (s, v) = d
        .call("GET", &q(&format!("userName eq \"{name}\"")), None)
        .await;
    assert_eq!((s, v["totalResults"].as_u64()), (200, Some(0)));
    // create
    let created = d.create_user(&name).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(!id.is_empty());
    assert_eq!(created["userName"], name.as_str());
    assert_eq!(created["active"], true);
    assert_eq!(created["meta"]["resourceType"], "User");
    assert!(
        created["meta"]["location"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/Users/{id}"))
    );
    assert!(created["meta"]["created"].as_str().unwrap().ends_with('Z'));
    assert!(created["meta"]["version"].as_str().is_some());
    assert!(created.get("password").is_none());
    // every mapped attribute is in the entry
    let dn = d.user_dn(&created);
    let e = d.entry(&dn).await.expect("entry written");
    for (a, v) in [
        ("uid", name.as_str()),
        ("displayName", "Test User"),
        ("title", "Engineer"),
        ("mail", &format!("{name}@example.com")),
        ("givenName", "givenName"),
        ("sn", "familyName"),
        ("cn", "givenName familyName"),
        ("street", "1 Main St"),
        ("l", "Springfield"),
        ("postalCode", "12345"),
        ("scimCountry", "US"),
        ("telephoneNumber", "+1 555 0100"),
        ("mobile", "+1 555 0101"),
        ("scimRole", "Admin"),
        ("employeeNumber", "701984"),
        ("departmentNumber", "Tour Operations"),
        ("scimOrderCard", "TRUE"),
        ("scimDeliverCardToHeadquarters", "FALSE"),
        ("scimContactifyUid", "CX-1"),
        ("scimExternalCompanyId", "acme"),
    ] {
        assert_eq!(attr(&e, a).as_deref(), Some(v), "{a} in {dn}");
    }
    assert_eq!(attr(&e, "entryUUID").as_deref(), Some(id.as_str()));
    // match by userName and by externalId
    let (s, v) = d
        .call("GET", &q(&format!("userName eq \"{name}\"")), None)
        .await;
    assert_eq!((s, v["totalResults"].as_u64()), (200, Some(1)), "{v}");
    assert_eq!(v["Resources"][0]["id"], id.as_str());
    let ext = created["externalId"].as_str().unwrap();
    let (_, v) = d
        .call("GET", &q(&format!("externalId eq \"{ext}\"")), None)
        .await;
    assert_eq!(v["Resources"][0]["id"], id.as_str(), "{v}");
    // read
    let (s, v) = d.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(v["emails"][0]["value"], format!("{name}@example.com"));
    assert_eq!(
        v["urn:ietf:params:scim:schemas:extension:contactify:2.0:User"]["orderCard"],
        true
    );
    // rename (userName change = modrdn)
    let renamed = unique("alice-renamed");
    let (s, v) = d
        .call(
            "PATCH",
            &format!("/Users/{id}"),
            Some(&patch_body(
                json!([{"op": "Replace", "path": "userName", "value": renamed}]),
            )),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["userName"], renamed.as_str());
    assert_eq!(v["id"], id.as_str(), "id survives the rename");
    assert!(d.entry(&dn).await.is_none(), "old DN gone");
    let new_dn = dn.replace(&name, &renamed);
    assert!(d.entry(&new_dn).await.is_some(), "new DN there");
    // disable (older Entra form) and enable
    let (s, v) = d
        .call(
            "PATCH",
            &format!("/Users/{id}"),
            Some(&patch_body(
                json!([{"op": "Replace", "path": "active", "value": "False"}]),
            )),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["active"], false);
    let e = d.entry(&new_dn).await.unwrap();
    let disable = d.config.users.disable[0].clone();
    assert!(
        attrs(&e, &disable.attribute)
            .iter()
            .any(|x| x.eq_ignore_ascii_case(&disable.value)),
        "{:?}",
        e.attrs
    );
    let (_, v) = d
        .call(
            "GET",
            &q(&format!("userName eq \"{renamed}\" and active eq false")),
            None,
        )
        .await;
    assert_eq!(v["totalResults"], 1, "{v}");
    let (s, v) = d
        .call(
            "PATCH",
            &format!("/Users/{id}"),
            Some(&patch_body(
                json!([{"op": "replace", "path": "active", "value": true}]),
            )),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["active"], true);
    let e = d.entry(&new_dn).await.unwrap();
    assert!(attrs(&e, &disable.attribute).is_empty());
    // delete, then 404
    let (s, _) = d.call("DELETE", &format!("/Users/{id}"), None).await;
    assert_eq!(s, 204);
    assert!(d.entry(&new_dn).await.is_none());
    let (s, v) = d.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["status"], "404");
    let (s, _) = d.call("DELETE", &format!("/Users/{id}"), None).await;
    assert_eq!(s, 404);
}

pub async fn update_each_mapped_attribute(server: Server) {
    let d = Daemon::start(server).await;
    let name = unique("upd");
    let u = d.create_user(&name).await;
    let id = u["id"].as_str().unwrap();
    let dn = d.user_dn(&u);
    // A create answers with the resource as a read returns it (rendered from
    // the values written plus what the server generated).
    let (_, read) = d.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(u, read, "the POST answer differs from a read");
    let cases: Vec<(Value, &str, Option<&str>)> = vec![
        (
            json!({"op": "Replace", "path": "displayName", "value": "New Display"}),
            "displayName",
            Some("New Display"),
        ),
        (
            json!({"op": "Replace", "path": "title", "value": "Boss"}),
            "title",
            Some("Boss"),
        ),
        (
            json!({"op": "Replace", "path": "preferredLanguage", "value": "de-DE"}),
            "preferredLanguage",
            Some("de-DE"),
        ),
        (
            json!({"op": "Replace", "path": "name.givenName", "value": "Ada"}),
            "givenName",
            Some("Ada"),
        ),
        (
            json!({"op": "Replace", "path": "name.familyName", "value": "Lovelace"}),
            "sn",
            Some("Lovelace"),
        ),
        (
            json!({"op": "Replace", "path": "name.formatted", "value": "Ada Lovelace"}),
            "cn",
            Some("Ada Lovelace"),
        ),
        (
            json!({"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "ada@example.org"}),
            "mail",
            Some("ada@example.org"),
        ),
        (
            json!({"op": "Replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "2 Side St"}),
            "street",
            Some("2 Side St"),
        ),
        (
            json!({"op": "Replace", "path": "addresses[type eq \"work\"].locality", "value": "Shelbyville"}),
            "l",
            Some("Shelbyville"),
        ),
        (
            json!({"op": "Add", "path": "addresses[type eq \"work\"].region", "value": "IL"}),
            "st",
            Some("IL"),
        ),
        (
            json!({"op": "Replace", "path": "addresses[type eq \"work\"].postalCode", "value": "54321"}),
            "postalCode",
            Some("54321"),
        ),
        (
            json!({"op": "Replace", "path": "addresses[type eq \"work\"].country", "value": "DE"}),
            "scimCountry",
            Some("DE"),
        ),
        (
            json!({"op": "Replace", "path": "phoneNumbers[type eq \"work\"].value", "value": "+49 30 1"}),
            "telephoneNumber",
            Some("+49 30 1"),
        ),
        (
            json!({"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+49 170 1"}),
            "mobile",
            Some("+49 170 1"),
        ),
        (
            json!({"op": "Add", "path": "phoneNumbers[type eq \"fax\"].value", "value": "+49 30 2"}),
            "facsimileTelephoneNumber",
            Some("+49 30 2"),
        ),
        // facsimileTelephoneNumber has no EQUALITY rule on OpenLDAP: a changed
        // value must replace the attribute, not delete one value.
        (
            json!({"op": "Replace", "path": "phoneNumbers[type eq \"fax\"].value", "value": "+49 30 3"}),
            "facsimileTelephoneNumber",
            Some("+49 30 3"),
        ),
        (
            json!({"op": "Replace", "path": "roles[primary eq \"True\"].value", "value": "Reader"}),
            "scimRole",
            Some("Reader"),
        ),
        (
            json!({"op": "Replace", "path": "externalId", "value": "ext-new"}),
            "scimExternalId",
            Some("ext-new"),
        ),
        (
            json!({"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "42"}),
            "employeeNumber",
            Some("42"),
        ),
        (
            json!({"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"}),
            "departmentNumber",
            Some("R&D"),
        ),
        (
            json!({"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:contactify:2.0:User:uid", "value": "CX-2"}),
            "scimContactifyUid",
            Some("CX-2"),
        ),
        (
            json!({"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:contactify:2.0:User:externalCompanyId", "value": "globex"}),
            "scimExternalCompanyId",
            Some("globex"),
        ),
        (
            json!({"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:contactify:2.0:User:deliverCardToHeadquarters", "value": "True"}),
            "scimDeliverCardToHeadquarters",
            Some("TRUE"),
        ),
        (json!({"op": "Remove", "path": "title"}), "title", None),
        (
            json!({"op": "Remove", "path": "phoneNumbers[type eq \"fax\"].value"}),
            "facsimileTelephoneNumber",
            None,
        ),
        // no-path form with dotted and URN keys
        (
            json!({"op": "Replace", "value": {"displayName": "Via NoPath", "name.givenName": "Grace", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "43"}}),
            "displayName",
            Some("Via NoPath"),
        ),
    ];
    for (op, ldap_attr, want) in cases {
        let (s, v) = d
            .call(
                "PATCH",
                &format!("/Users/{id}"),
                Some(&patch_body(json!([op.clone()]))),
            )
            .await;
        assert_eq!(s, 200, "{op}: {v}");
        let e = d.entry(&dn).await.unwrap();
        assert_eq!(attr(&e, ldap_attr).as_deref(), want, "{op}");
        // The answer is the resource as a read returns it, version included
        // (on OpenLDAP the daemon reads back only what the server changed).
        let (s, read) = d.call("GET", &format!("/Users/{id}"), None).await;
        assert_eq!(s, 200);
        assert_eq!(v, read, "{op}: the PATCH answer differs from a read");
    }
    for active in ["False", "True"] {
        let op = json!([{"op": "Replace", "path": "active", "value": active}]);
        let (s, v) = d
            .call("PATCH", &format!("/Users/{id}"), Some(&patch_body(op)))
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["active"], active == "True");
        let (_, read) = d.call("GET", &format!("/Users/{id}"), None).await;
        assert_eq!(
            v, read,
            "active {active}: the PATCH answer differs from a read"
        );
    }
    let e = d.entry(&dn).await.unwrap();
    assert_eq!(attr(&e, "givenName").as_deref(), Some("Grace"));
    assert_eq!(attr(&e, "employeeNumber").as_deref(), Some("43"));
    // immutable orderCard
    let (s, v) = d.call("PATCH", &format!("/Users/{id}"), Some(&patch_body(json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:contactify:2.0:User:orderCard", "value": false}])))).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["scimType"], "mutability");
    // several ops, one request, all applied
    let (s, v) = d
        .call(
            "PATCH",
            &format!("/Users/{id}"),
            Some(&patch_body(json!([
                {"op": "replace", "path": "title", "value": "A"},
                {"op": "add", "path": "phoneNumbers[type eq \"fax\"].value", "value": "+1"},
                {"op": "remove", "path": "addresses[type eq \"work\"].region"}
            ]))),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let e = d.entry(&dn).await.unwrap();
    assert_eq!(attr(&e, "title").as_deref(), Some("A"));
    assert_eq!(attr(&e, "facsimileTelephoneNumber").as_deref(), Some("+1"));
    assert_eq!(attr(&e, "st"), None);
}

pub async fn duplicate_user_name_conflicts(server: Server) {
    let d = Daemon::start(server).await;
    let name = unique("dup");
    d.create_user(&name).await;
    let (s, v) = d.call("POST", "/Users", Some(&entra_user(&name))).await;
    assert_eq!(s, 409, "{v}");
    assert_eq!(v["scimType"], "uniqueness");
    assert!(v["detail"].as_str().unwrap().contains("userName"), "{v}");
}

pub async fn rejected_requests_change_nothing(server: Server) {
    let d = Daemon::start(server).await;
    let name = unique("rej");
    let u = d.create_user(&name).await;
    let id = u["id"].as_str().unwrap();
    let dn = d.user_dn(&u);
    let before = d.entry(&dn).await.unwrap();
    // A valid change followed by an invalid one: nothing is applied.
    let bad = patch_body(json!([
        {"op": "replace", "path": "title", "value": "Changed"},
        {"op": "replace", "path": "nickName", "value": "nick"}
    ]));
    let (s, v) = d.call("PATCH", &format!("/Users/{id}"), Some(&bad)).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["scimType"], "invalidPath");
    assert!(v["detail"].as_str().unwrap().contains("nickName"), "{v}");
    // A value the directory refuses (a manager id that does not exist).
    let bad = patch_body(json!([
        {"op": "replace", "path": "title", "value": "Changed"},
        {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "12345678-1234-1234-1234-123456789012"}
    ]));
    let (s, v) = d.call("PATCH", &format!("/Users/{id}"), Some(&bad)).await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["scimType"], "invalidValue");
    // Unmapped attribute on create: 400, and no entry.
    let mut body = entra_user(&unique("rej2"));
    body["nickName"] = json!("nick");
    let (s, v) = d.call("POST", "/Users", Some(&body)).await;
    assert_eq!(s, 400, "{v}");
    assert!(v["detail"].as_str().unwrap().contains("nickName"));
    assert!(
        d.dns(&format!("(uid={})", body["userName"].as_str().unwrap()))
            .await
            .is_empty()
    );
    // Bad JSON and wrong schema.
    let (s, _, v) = d
        .raw(
            "POST",
            "/Users",
            Some(b"{\"userName\": ".to_vec()),
            &[("authorization", &format!("Bearer {}", super::TOKEN))],
        )
        .await;
    assert_eq!(
        (s, v["scimType"].as_str()),
        (400, Some("invalidSyntax")),
        "{v}"
    );
    let mut body = entra_user(&unique("rej3"));
    body["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:Group"]);
    let (s, v) = d.call("POST", "/Users", Some(&body)).await;
    assert_eq!(s, 400, "{v}");
    let after = d.entry(&dn).await.unwrap();
    assert_eq!(attrs(&before, "title"), attrs(&after, "title"));
    assert_eq!(
        attrs(&before, "modifyTimestamp"),
        attrs(&after, "modifyTimestamp")
    );
}

pub async fn manager_reference(server: Server) {
    let d = Daemon::start(server).await;
    let boss = d.create_user(&unique("boss")).await;
    let emp = d.create_user(&unique("emp")).await;
    let (boss_id, emp_id) = (boss["id"].as_str().unwrap(), emp["id"].as_str().unwrap());
    for value in [json!(boss_id), json!({"value": boss_id})] {
        let (s, v) = d
            .call("PATCH", &format!("/Users/{emp_id}"), Some(&patch_body(json!([{"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": value}]))))
            .await;
        assert_eq!(s, 200, "{v}");
        let m = &v["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["manager"];
        assert_eq!(m["value"], boss_id, "{v}");
        assert!(m["$ref"].as_str().unwrap().ends_with(boss_id));
    }
    let e = d.entry(&d.user_dn(&emp)).await.unwrap();
    assert_eq!(
        attr(&e, "manager").unwrap().to_lowercase(),
        d.user_dn(&boss).to_lowercase()
    );
    let (s, v) = d
        .call("PATCH", &format!("/Users/{emp_id}"), Some(&patch_body(json!([{"op": "Remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]))))
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v.get("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
            .and_then(|x| x.get("manager"))
            .is_none(),
        "{v}"
    );
}

pub async fn password_is_hashed_by_the_server(server: Server) {
    let d = Daemon::start(server).await;
    let mut body = entra_user(&unique("pw"));
    body["password"] = json!("Sup3r-Secret-pw!");
    let (s, v) = d.call("POST", "/Users", Some(&body)).await;
    assert_eq!(s, 201, "{v}");
    assert!(v.get("password").is_none());
    let dn = d.user_dn(&v);
    let e = d.entry(&dn).await.unwrap();
    let stored = attr(&e, "userPassword").expect("a password is stored");
    assert!(
        stored.starts_with('{'),
        "stored hashed, not clear: {stored}"
    );
    // The password works for a bind.
    let (conn, mut ldap) = ldap3::LdapConnAsync::new(&server.url()).await.unwrap();
    ldap3::drive!(conn);
    assert_eq!(
        ldap.simple_bind(&dn, "Sup3r-Secret-pw!").await.unwrap().rc,
        0
    );
    assert_eq!(ldap.simple_bind(&dn, "wrong").await.unwrap().rc, 49);
    // Disabled: the bind is refused.
    let id = v["id"].as_str().unwrap();
    let (s, _) = d
        .call(
            "PATCH",
            &format!("/Users/{id}"),
            Some(&patch_body(
                json!([{"op": "replace", "path": "active", "value": false}]),
            )),
        )
        .await;
    assert_eq!(s, 200);
    assert_ne!(
        ldap.simple_bind(&dn, "Sup3r-Secret-pw!").await.unwrap().rc,
        0,
        "a disabled account cannot log in"
    );
}

pub async fn put_replaces(server: Server) {
    let d = Daemon::start(server).await;
    let name = unique("put");
    let u = d.create_user(&name).await;
    let id = u["id"].as_str().unwrap();
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "name": {"givenName": "Only", "familyName": "Name"}, "title": "CTO", "active": true});
    let (s, v) = d.call("PUT", &format!("/Users/{id}"), Some(&body)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["title"], "CTO");
    assert!(v.get("emails").is_none(), "{v}");
    let e = d.entry(&d.user_dn(&u)).await.unwrap();
    assert_eq!(attr(&e, "mail"), None);
    assert_eq!(
        attr(&e, "cn").as_deref(),
        Some("Only Name"),
        "cn recomputed from the default template"
    );
    assert_eq!(
        attr(&e, "scimOrderCard").as_deref(),
        Some("TRUE"),
        "immutable kept"
    );
}

pub async fn hostile_names_stay_under_the_base(server: Server) {
    let d = Daemon::start(server).await;
    let spaced = [format!(" l {}", unique("h")), format!("{} m ", unique("h"))];
    let mut names: Vec<String> = [
        "a,ou=admins",
        "b+cn=x",
        "c\"q\"",
        "d\\e",
        "<f>",
        "g;h",
        "i=j",
    ]
    .iter()
    .map(|raw| format!("{}{raw}", unique("h")))
    .collect();
    names.push(format!("#k{}", unique("h")));
    // White space at either end is refused: LDAP matching ignores it, so it
    // would name the same account on one server and a second one on another.
    for name in &spaced {
        let (s, v) = d.call("POST", "/Users", Some(&entra_user(name))).await;
        assert_eq!(
            (s, v["scimType"].as_str()),
            (400, Some("invalidValue")),
            "{name:?}: {v}"
        );
        let detail = v["detail"].as_str().unwrap();
        assert!(
            detail.contains("userName must not begin or end with white space"),
            "{v}"
        );
        let (_, found) = d
            .call(
                "GET",
                &q(&format!("userName eq {}", json!(name.trim()))),
                None,
            )
            .await;
        assert_eq!(found["totalResults"].as_u64(), Some(0), "{name:?}: {found}");
    }
    for name in &names {
        // Every other name is taken as sent: RFC 4514 escaping keeps it one
        // RDN value.
        let (s, v) = d.call("POST", "/Users", Some(&entra_user(name))).await;
        assert_eq!(s, 201, "{name:?}: {v}");
        let id = v["id"].as_str().unwrap();
        let (_, got) = d.call("GET", &format!("/Users/{id}"), None).await;
        assert_eq!(got["userName"].as_str(), Some(name.as_str()), "{name:?}");
        // It is found by its literal name...
        let (s, found) = d
            .call("GET", &q(&format!("userName eq {}", json!(name))), None)
            .await;
        assert_eq!(
            (s, found["totalResults"].as_u64()),
            (200, Some(1)),
            "{name:?}: {found}"
        );
        assert_eq!(found["Resources"][0]["id"], id, "{name:?}");
        // ...and lives directly under ou=people.
        let e = d.entry_by_id(id).await;
        assert_eq!(attr(&e, "uid").as_deref(), Some(name.as_str()), "{name:?}");
        assert_directly_under_people(&e.dn);
    }
}

pub async fn filters_push_down(server: Server) {
    let d = Daemon::start(server).await;
    let tag = unique("flt");
    let a = d.create_user(&format!("{tag}-a")).await;
    let b = d.create_user(&format!("{tag}-b")).await;
    let (s, _) = d
        .call(
            "PATCH",
            &format!("/Users/{}", b["id"].as_str().unwrap()),
            Some(&patch_body(
                json!([{"op": "replace", "path": "title", "value": "Chief"}]),
            )),
        )
        .await;
    assert_eq!(s, 200);
    let ids = |v: &Value| -> Vec<String> {
        let mut x: Vec<String> = v["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["userName"].as_str().unwrap().to_owned())
            .collect();
        x.sort();
        x
    };
    let an = a["userName"].as_str().unwrap().to_owned();
    let bn = b["userName"].as_str().unwrap().to_owned();
    let cases: Vec<(String, Vec<String>)> = vec![
        (
            format!("userName sw \"{tag}\""),
            vec![an.clone(), bn.clone()],
        ),
        (
            format!("userName sw \"{tag}\" and title eq \"Chief\""),
            vec![bn.clone()],
        ),
        (
            format!("userName sw \"{tag}\" and not (title eq \"Chief\")"),
            vec![an.clone()],
        ),
        (
            format!("userName eq \"{an}\" or userName eq \"{bn}\""),
            vec![an.clone(), bn.clone()],
        ),
        (
            format!("emails.value eq \"{an}@example.com\""),
            vec![an.clone()],
        ),
        (
            format!("emails[type eq \"work\" and value co \"{tag}-b\"]"),
            vec![bn.clone()],
        ),
        (format!("userName ew \"{tag}-a\""), vec![an.clone()]),
        (
            format!("userName sw \"{tag}\" and title ne \"Chief\""),
            vec![an.clone()],
        ),
        (
            format!("userName sw \"{tag}\" and meta.lastModified lt \"2000-01-01T00:00:00Z\""),
            vec![],
        ),
        (
            format!(
                "userName sw \"{tag}\" and meta.lastModified gt \"2000-01-01T00:00:00Z\" and meta.created le \"2999-01-01T00:00:00Z\""
            ),
            vec![an.clone(), bn.clone()],
        ),
        (
            format!(
                "(userName eq \"{an}\" or userName eq \"{bn}\") and not (emails.value co \"-a@\")"
            ),
            vec![bn.clone()],
        ),
        (
            format!("userName co \"{tag}\" and title sw \"Ch\""),
            vec![bn.clone()],
        ),
        (
            format!("userName co \"{tag}\" and title pr"),
            vec![an.clone(), bn.clone()],
        ),
        (
            format!("id eq \"{}\"", a["id"].as_str().unwrap()),
            vec![an.clone()],
        ),
        (format!("USERNAME EQ \"{an}\""), vec![an.clone()]),
        (
            format!("userName sw \"{tag}\" and meta.created ge \"2000-01-01T00:00:00Z\""),
            vec![an.clone(), bn.clone()],
        ),
        ("userName eq \"*)(uid=*\"".to_owned(), vec![]),
        (
            format!(
                "userName sw \"{tag}\" and urn:ietf:params:scim:schemas:extension:contactify:2.0:User:orderCard eq true"
            ),
            vec![an.clone(), bn.clone()],
        ),
    ];
    for (f, want) in cases {
        let (s, v) = d.call("GET", &q(&f), None).await;
        assert_eq!(s, 200, "{f}: {v}");
        assert_eq!(ids(&v), want, "{f}");
        assert_eq!(
            v["totalResults"].as_u64().unwrap() as usize,
            want.len(),
            "{f}"
        );
    }
    // Ordering needs an ORDERING rule in the directory's schema: refused
    // clearly where the attribute has none, answered where it has one.
    let (s, v) = d
        .call(
            "GET",
            &q(&format!("userName sw \"{tag}\" and userName gt \"{an}\"")),
            None,
        )
        .await;
    match s {
        400 => {
            assert_eq!(v["scimType"], "invalidFilter");
            assert!(v["detail"].as_str().unwrap().contains("ORDERING"), "{v}");
        }
        200 => assert_eq!(ids(&v), std::slice::from_ref(&bn), "{v}"),
        other => panic!("{other}: {v}"),
    }
    // eq needs a way to match: OpenLDAP's core schema gives
    // facsimileTelephoneNumber no EQUALITY rule, so the filter would silently
    // match nothing there and is refused, naming the attribute; 389-ds falls
    // back on the attribute's syntax and answers it.
    let (s, v) = d
        .call(
            "GET",
            &q(&format!(
                "userName sw \"{tag}\" and phoneNumbers[type eq \"fax\"].value eq \"+1 0\""
            )),
            None,
        )
        .await;
    match server {
        Server::OpenLdap => {
            assert_eq!((s, &v["scimType"]), (400, &json!("invalidFilter")), "{v}");
            let detail = v["detail"].as_str().unwrap();
            assert!(
                detail.contains("EQUALITY") && detail.contains("facsimileTelephoneNumber"),
                "{v}"
            );
        }
        Server::Ds389 => assert_eq!(s, 200, "{v}"),
    }
    for bad in [
        "userName eq",
        "nickName eq \"x\"",
        "userName eq \"a\" and (",
        "title gt true",
    ] {
        let (s, v) = d.call("GET", &q(bad), None).await;
        assert_eq!(s, 400, "{bad}: {v}");
        assert_eq!(v["scimType"], "invalidFilter", "{bad}");
    }
}

pub async fn paging_and_projection(server: Server) {
    let d = Daemon::start(server).await;
    let tag = unique("page");
    for i in 0..5 {
        d.create_user(&format!("{tag}-{i}")).await;
    }
    let f = q(&format!("userName sw \"{tag}\""));
    let (_, v) = d
        .call("GET", &format!("{f}&startIndex=2&count=2"), None)
        .await;
    assert_eq!(v["totalResults"], 5, "{v}");
    assert_eq!(v["startIndex"], 2);
    assert_eq!(v["itemsPerPage"], 2);
    assert_eq!(v["Resources"].as_array().unwrap().len(), 2);
    let (_, v) = d.call("GET", &format!("{f}&count=0"), None).await;
    assert_eq!(v["totalResults"], 5);
    assert_eq!(v["Resources"].as_array().unwrap().len(), 0);
    let (_, v) = d
        .call("GET", &format!("{f}&startIndex=5&count=10"), None)
        .await;
    assert_eq!(v["Resources"].as_array().unwrap().len(), 1);
    let (_, v) = d
        .call("GET", &format!("{f}&attributes=userName"), None)
        .await;
    let r = &v["Resources"][0];
    let mut keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["id", "schemas", "userName"], "{r}");
    let (_, v) = d
        .call("GET", &format!("{f}&excludedAttributes=emails,name"), None)
        .await;
    let r = &v["Resources"][0];
    assert!(
        r.get("emails").is_none() && r.get("name").is_none() && r.get("title").is_some(),
        "{r}"
    );
    // POST /.search
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": format!("userName sw \"{tag}\""), "attributes": ["userName"], "startIndex": 1, "count": 3});
    let (s, v) = d.call("POST", "/Users/.search", Some(&body)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["totalResults"], 5);
    assert_eq!(v["Resources"].as_array().unwrap().len(), 3);
}

pub async fn etags_and_preconditions(server: Server) {
    let d = Daemon::start(server).await;
    let auth = format!("Bearer {}", super::TOKEN);
    // A create answers with the new resource's URL (Location) and version (ETag).
    let body = super::entra_user(&unique("etag")).to_string().into_bytes();
    let (s, h, u) = d
        .raw("POST", "/Users", Some(body), &[("authorization", &auth)])
        .await;
    assert_eq!(s, 201, "{u}");
    let header = |h: &reqwest::header::HeaderMap, name: &str| {
        h.get(name).map(|v| v.to_str().unwrap().to_owned())
    };
    let id = u["id"].as_str().unwrap();
    assert_eq!(
        header(&h, "location"),
        Some(format!("{}/Users/{id}", d.url("").trim_end_matches('/')))
    );
    assert_eq!(
        header(&h, "location").as_deref(),
        u["meta"]["location"].as_str()
    );
    assert_eq!(header(&h, "etag").as_deref(), u["meta"]["version"].as_str());
    let (s, h, v) = d
        .raw(
            "GET",
            &format!("/Users/{id}"),
            None,
            &[("authorization", &auth)],
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(header(&h, "location"), None, "only a create says Location");
    let etag = h.get("etag").unwrap().to_str().unwrap().to_owned();
    assert_eq!(v["meta"]["version"], etag.as_str());
    let (s, _, _) = d
        .raw(
            "GET",
            &format!("/Users/{id}"),
            None,
            &[("authorization", &auth), ("if-none-match", &etag)],
        )
        .await;
    assert_eq!(s, 304);
    let body = patch_body(json!([{"op": "replace", "path": "title", "value": "v2"}]))
        .to_string()
        .into_bytes();
    let (s, h2, _) = d
        .raw(
            "PATCH",
            &format!("/Users/{id}"),
            Some(body.clone()),
            &[("authorization", &auth), ("if-match", &etag)],
        )
        .await;
    assert_eq!(s, 200);
    let etag2 = h2.get("etag").unwrap().to_str().unwrap().to_owned();
    assert_ne!(etag, etag2, "a write changes the version");
    // The old version is stale now.
    let body = patch_body(json!([{"op": "replace", "path": "title", "value": "v3"}]))
        .to_string()
        .into_bytes();
    let (s, _, v) = d
        .raw(
            "PATCH",
            &format!("/Users/{id}"),
            Some(body),
            &[("authorization", &auth), ("if-match", &etag)],
        )
        .await;
    assert_eq!(s, 412, "{v}");
    let e = d.entry(&d.user_dn(&u)).await.unwrap();
    assert_eq!(attr(&e, "title").as_deref(), Some("v2"));
    // Concurrent writers holding the same version: exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (http, url, auth, etag) = (
            d.http.clone(),
            d.url(&format!("/Users/{id}")),
            auth.clone(),
            etag2.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let body = patch_body(
                json!([{"op": "replace", "path": "title", "value": format!("racer-{i}")}]),
            )
            .to_string();
            http.patch(url)
                .header("authorization", auth)
                .header("if-match", etag)
                .header("content-type", "application/scim+json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 412),
        "{statuses:?}"
    );
    // `If-Match: *` only asks that the resource exists: concurrent writers
    // sending it all succeed, each change applied.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (http, url, auth) = (d.http.clone(), d.url(&format!("/Users/{id}")), auth.clone());
        tasks.push(tokio::spawn(async move {
            let body = patch_body(json!([
                {"op": "add", "path": "phoneNumbers[type eq \"fax\"].value", "value": format!("+1 {i}")},
                {"op": "replace", "path": "title", "value": format!("star-{i}")}
            ]))
            .to_string();
            let r = http
                .patch(url)
                .header("authorization", auth)
                .header("if-match", "*")
                .header("content-type", "application/scim+json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert!(statuses.iter().all(|(s, _)| *s == 200), "{statuses:?}");
    let (_, h3, _) = d
        .raw(
            "GET",
            &format!("/Users/{id}"),
            None,
            &[("authorization", &auth)],
        )
        .await;
    let etag2 = h3.get("etag").unwrap().to_str().unwrap().to_owned();
    let (s, _, _) = d
        .raw(
            "DELETE",
            &format!("/Users/{id}"),
            None,
            &[("authorization", &auth), ("if-match", &etag)],
        )
        .await;
    assert_eq!(s, 412);
    let (s, _, _) = d
        .raw(
            "DELETE",
            &format!("/Users/{id}"),
            None,
            &[("authorization", &auth), ("if-match", &etag2)],
        )
        .await;
    assert_eq!(s, 204);
}
