//! Entra's group cycle and the membership models against real servers.

use std::time::Instant;

use serde_json::{Value, json};

use super::{Daemon, Server, attrs, config_text, enc, group_model, patch_body, unique};

fn gq(filter: &str) -> String {
    format!("/Groups?excludedAttributes=members&filter={}", enc(filter))
}

fn group_dn(d: &Daemon, name: &str) -> String {
    d.config.groups.as_ref().unwrap().dn_for(name).to_string()
}

fn user_dn(d: &Daemon, u: &Value) -> String {
    d.user_dn(u).to_lowercase()
}

async fn members(d: &Daemon, group: &str) -> Vec<String> {
    let attr = super::group_members(&d.config).attribute.clone();
    let e = d.entry(&group_dn(d, group)).await.expect("group entry");
    attrs(&e, &attr)
        .into_iter()
        .map(|m| m.to_lowercase())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn placeholder(d: &Daemon) -> String {
    super::group_members(&d.config)
        .placeholder
        .as_ref()
        .unwrap()
        .to_string()
        .to_lowercase()
}

pub async fn entra_group_cycle(server: Server) {
    let d = Daemon::start(server).await;
    let (u1, u2, u3) = (
        d.create_user(&unique("gm1")).await,
        d.create_user(&unique("gm2")).await,
        d.create_user(&unique("gm3")).await,
    );
    let ids: Vec<&str> = [&u1, &u2, &u3]
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    let name = unique("Sales");
    // create without members
    let g = d.create_group(&name, &[]).await;
    let gid = g["id"].as_str().unwrap().to_owned();
    assert_eq!(g["displayName"], name.as_str());
    assert!(g.get("members").is_none(), "{g}");
    assert_eq!(
        members(&d, &name).await,
        [placeholder(&d)],
        "empty group holds only the placeholder"
    );
    // find by displayName, without members
    let (s, v) = d
        .call("GET", &gq(&format!("displayName eq \"{name}\"")), None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["totalResults"], 1);
    assert_eq!(v["Resources"][0]["id"], gid.as_str());
    assert!(v["Resources"][0].get("members").is_none());
    let ext = g["externalId"].as_str().unwrap();
    let (_, v) = d
        .call("GET", &gq(&format!("externalId eq \"{ext}\"")), None)
        .await;
    assert_eq!(v["Resources"][0]["id"], gid.as_str(), "{v}");
    let (s, v) = d
        .call(
            "GET",
            &format!("/Groups/{gid}?excludedAttributes=members"),
            None,
        )
        .await;
    assert_eq!((s, v.get("members").is_none()), (200, true), "{v}");
    // add members (Entra form)
    let add = patch_body(
        json!([{"op": "Add", "path": "members", "value": ids.iter().map(|i| json!({"$ref": null, "value": i})).collect::<Vec<_>>()}]),
    );
    let (s, v) = d.call("PATCH", &format!("/Groups/{gid}"), Some(&add)).await;
    assert_eq!(s, 204, "{v}");
    assert_eq!(
        members(&d, &name).await,
        sorted(vec![user_dn(&d, &u1), user_dn(&d, &u2), user_dn(&d, &u3)])
    );
    // adding again is no error and changes nothing
    let (s, _) = d.call("PATCH", &format!("/Groups/{gid}"), Some(&add)).await;
    assert_eq!(s, 204);
    // read with members: value, $ref, display, type
    let (s, v) = d.call("GET", &format!("/Groups/{gid}"), None).await;
    assert_eq!(s, 200);
    let m = v["members"].as_array().unwrap();
    assert_eq!(m.len(), 3, "{v}");
    for x in m {
        assert!(ids.contains(&x["value"].as_str().unwrap()));
        assert_eq!(x["type"], "User");
        assert!(x["$ref"].as_str().unwrap().contains("/Users/"));
        assert_eq!(x["display"], "Test User");
    }
    // the user sees the group
    let (_, v) = d.call("GET", &format!("/Users/{}", ids[0]), None).await;
    assert_eq!(v["groups"][0]["value"], gid.as_str(), "{v}");
    // remove, older form
    let rm = patch_body(
        json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": ids[0]}]}]),
    );
    let (s, _) = d.call("PATCH", &format!("/Groups/{gid}"), Some(&rm)).await;
    assert_eq!(s, 204);
    assert_eq!(
        members(&d, &name).await,
        sorted(vec![user_dn(&d, &u2), user_dn(&d, &u3)])
    );
    // remove, RFC form; removing an absent member is no error
    for _ in 0..2 {
        let rm = patch_body(
            json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[1])}]),
        );
        let (s, v) = d.call("PATCH", &format!("/Groups/{gid}"), Some(&rm)).await;
        assert_eq!(s, 204, "{v}");
    }
    assert_eq!(members(&d, &name).await, vec![user_dn(&d, &u3)]);
    // replace the whole list
    let rep = patch_body(
        json!([{"op": "replace", "path": "members", "value": [{"value": ids[0]}, {"value": ids[1]}]}]),
    );
    let (s, _) = d.call("PATCH", &format!("/Groups/{gid}"), Some(&rep)).await;
    assert_eq!(s, 204);
    assert_eq!(
        members(&d, &name).await,
        sorted(vec![user_dn(&d, &u1), user_dn(&d, &u2)])
    );
    // rename
    let renamed = unique("Sales EMEA");
    let (s, v) = d
        .call(
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(&patch_body(
                json!([{"op": "Replace", "path": "displayName", "value": renamed}]),
            )),
        )
        .await;
    assert_eq!(s, 204, "{v}");
    assert!(d.entry(&group_dn(&d, &name)).await.is_none());
    assert_eq!(members(&d, &renamed).await.len(), 2);
    let (_, v) = d
        .call(
            "GET",
            &format!("/Groups/{gid}?attributes=displayName"),
            None,
        )
        .await;
    assert_eq!(v["displayName"], renamed.as_str());
    // PATCH with attributes= answers 200 with the resource
    let (s, v) = d
        .call(
            "PATCH",
            &format!("/Groups/{gid}?attributes=displayName"),
            Some(&patch_body(
                json!([{"op": "add", "path": "members", "value": [{"value": ids[2]}]}]),
            )),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["displayName"], renamed.as_str());
    // delete
    let (s, _) = d.call("DELETE", &format!("/Groups/{gid}"), None).await;
    assert_eq!(s, 204);
    assert!(d.entry(&group_dn(&d, &renamed)).await.is_none());
    let (s, _) = d.call("GET", &format!("/Groups/{gid}"), None).await;
    assert_eq!(s, 404);
}

pub async fn empty_groups_use_the_placeholder(server: Server) {
    let d = Daemon::start(server).await;
    let u = d.create_user(&unique("e1")).await;
    let id = u["id"].as_str().unwrap();
    let name = unique("Empty");
    let g = d.create_group(&name, &[id]).await;
    assert_eq!(g["members"].as_array().unwrap().len(), 1, "{g}");
    assert_eq!(members(&d, &name).await, [user_dn(&d, &u)]);
    let gid = g["id"].as_str().unwrap();
    let (s, _) = d
        .call(
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(&patch_body(json!([{"op": "remove", "path": "members"}]))),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(members(&d, &name).await, [placeholder(&d)]);
    let (_, v) = d.call("GET", &format!("/Groups/{gid}"), None).await;
    assert!(
        v.get("members").is_none(),
        "the placeholder is never shown: {v}"
    );
    let (s, _) = d
        .call(
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(&patch_body(
                json!([{"op": "add", "path": "members", "value": [{"value": id}]}]),
            )),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(
        members(&d, &name).await,
        [user_dn(&d, &u)],
        "the placeholder goes when a member comes"
    );
    // Entra's removal of the last member (written without reading the group):
    // the placeholder comes back, whether or not the server requires a member.
    let (s, _) = d
        .call(
            "PATCH",
            &format!("/Groups/{gid}"),
            Some(&patch_body(
                json!([{"op": "Remove", "path": format!("members[value eq \"{id}\"]")}]),
            )),
        )
        .await;
    assert_eq!(s, 204);
    assert_eq!(members(&d, &name).await, [placeholder(&d)]);
}

pub async fn unknown_member_writes_nothing(server: Server) {
    let d = Daemon::start(server).await;
    let u = d.create_user(&unique("um")).await;
    let name = unique("Unknown");
    let g = d.create_group(&name, &[u["id"].as_str().unwrap()]).await;
    let gid = g["id"].as_str().unwrap();
    let ghost = "0badc0de-0000-4000-8000-000000000000";
    let (s, v) = d
        .call("PATCH", &format!("/Groups/{gid}"), Some(&patch_body(json!([{"op": "Add", "path": "members", "value": [{"value": ghost}]}, {"op": "replace", "path": "displayName", "value": "never"}]))))
        .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["scimType"], "invalidValue");
    assert!(v["detail"].as_str().unwrap().contains(ghost), "{v}");
    assert_eq!(members(&d, &name).await, [user_dn(&d, &u)]);
    let (s, v) = d.call("POST", "/Groups", Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": unique("never"), "members": [{"value": ghost}]}))).await;
    assert_eq!(s, 400, "{v}");
}

pub async fn nested_group_member(server: Server) {
    let d = Daemon::start(server).await;
    let inner = d.create_group(&unique("Inner"), &[]).await;
    let outer_name = unique("Outer");
    let outer = d
        .create_group(&outer_name, &[inner["id"].as_str().unwrap()])
        .await;
    let m = &outer["members"][0];
    assert_eq!(m["value"], inner["id"]);
    assert_eq!(m["type"], "Group");
    assert!(m["$ref"].as_str().unwrap().contains("/Groups/"));
    assert_eq!(
        members(&d, &outer_name).await,
        [group_dn(&d, inner["displayName"].as_str().unwrap()).to_lowercase()]
    );
    let (_, v) = d
        .call(
            "GET",
            &format!(
                "/Groups?filter=members.value%20eq%20%22{}%22",
                inner["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(v["totalResults"], 1, "{v}");
    assert_eq!(v["Resources"][0]["id"], outer["id"]);
}

pub async fn user_deletion_cleans_memberships(server: Server) {
    let d = Daemon::start(server).await;
    let (a, b) = (
        d.create_user(&unique("del-a")).await,
        d.create_user(&unique("del-b")).await,
    );
    let (g1, g2) = (unique("DelOne"), unique("DelTwo"));
    d.create_group(&g1, &[a["id"].as_str().unwrap(), b["id"].as_str().unwrap()])
        .await;
    d.create_group(&g2, &[a["id"].as_str().unwrap()]).await;
    let (s, _) = d
        .call(
            "DELETE",
            &format!("/Users/{}", a["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, 204);
    // The server's referential integrity (or the daemon) removed the DN everywhere.
    let dangling = d.dns(&format!("(member={})", user_dn(&d, &a))).await;
    assert!(dangling.is_empty(), "dangling member DN in {dangling:?}");
    assert_eq!(members(&d, &g1).await, [user_dn(&d, &b)]);
    let left = members(&d, &g2).await;
    assert!(left.is_empty() || left == [placeholder(&d)], "{left:?}");
}

pub async fn thousand_members_in_one_patch(server: Server) {
    // 389-ds's MemberOf plugin updates every member inside the modify: give it time.
    let d = Daemon::with_config(
        server,
        &config_text(server).replace("[ldap]", "[ldap]\ntimeout_seconds = 60"),
    )
    .await;
    let mut l = d.ldap().await;
    let tag = unique("bulk");
    // Create 1,000 users directly (fast), then add them all in one PATCH.
    let mut ids = Vec::new();
    for i in 0..1000 {
        let dn = format!("uid={tag}-{i},ou=people,dc=example,dc=com");
        let uid = format!("{tag}-{i}");
        let attrs = vec![
            ("objectClass", ["inetOrgPerson"].into_iter().collect()),
            (
                "uid",
                [uid.as_str()]
                    .into_iter()
                    .collect::<std::collections::HashSet<&str>>(),
            ),
            ("cn", ["x"].into_iter().collect()),
            ("sn", ["x"].into_iter().collect()),
        ];
        l.add(&dn, attrs).await.unwrap().success().unwrap();
    }
    let (rs, _) = l
        .search(
            "ou=people,dc=example,dc=com",
            ldap3::Scope::OneLevel,
            &format!("(uid={tag}-*)"),
            vec!["entryUUID"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    for e in rs {
        ids.push(super::attr(&ldap3::SearchEntry::construct(e), "entryUUID").unwrap());
    }
    assert_eq!(ids.len(), 1000);
    let name = unique("Big");
    let g = d.create_group(&name, &[]).await;
    let gid = g["id"].as_str().unwrap();
    let body = patch_body(
        json!([{"op": "Add", "path": "members", "value": ids.iter().map(|i| json!({"value": i})).collect::<Vec<_>>()}]),
    );
    let started = Instant::now();
    let (s, v) = d
        .call("PATCH", &format!("/Groups/{gid}"), Some(&body))
        .await;
    let took = started.elapsed();
    assert_eq!(s, 204, "{v}");
    assert_eq!(members(&d, &name).await.len(), 1000);
    // OpenLDAP's memberof overlay is quick; 389-ds's MemberOf plugin alone
    // takes about 2.3 s for the same single modify here, so only OpenLDAP is timed.
    if server == Server::OpenLdap {
        assert!(took.as_millis() < 1000, "1,000-member PATCH took {took:?}");
    }
    eprintln!("{server:?}: 1,000-member PATCH answered in {took:?}");
    // Reading it resolves every member without a search per member.
    let started = Instant::now();
    let (s, v) = d.call("GET", &format!("/Groups/{gid}"), None).await;
    eprintln!(
        "{server:?}: reading a 1,000-member group took {:?}",
        started.elapsed()
    );
    assert_eq!(s, 200);
    assert_eq!(v["members"].as_array().unwrap().len(), 1000);
}

pub async fn member_uid_model(server: Server) {
    let text = super::member_uid_groups(&config_text(server), "posixgroups");
    ensure_ou(server, "posixgroups").await;
    let text = text.replace(
        "[groups.attributes]",
        "[groups.defaults]\ngidNumber = \"1000\"\n[groups.attributes]",
    );
    assert!(text.contains("[\"posixGroup\""), "the config changed shape");
    let d = Daemon::with_config(server, &text).await;
    let u = d.create_user(&unique("pu")).await;
    let name = unique("Posix");
    let g = d.create_group(&name, &[u["id"].as_str().unwrap()]).await;
    let e = d.entry(&group_dn(&d, &name)).await.unwrap();
    assert_eq!(
        attrs(&e, "memberUid"),
        [u["userName"].as_str().unwrap().to_owned()]
    );
    assert_eq!(g["members"][0]["value"], u["id"]);
    let (_, v) = d
        .call(
            "GET",
            &format!("/Users/{}", u["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(
        v["groups"][0]["value"], g["id"],
        "groups found by searching memberUid: {v}"
    );
    // Deleting the user: the daemon removes the memberUid value.
    let (s, _) = d
        .call(
            "DELETE",
            &format!("/Users/{}", u["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let e = d.entry(&group_dn(&d, &name)).await.unwrap();
    assert!(attrs(&e, "memberUid").is_empty());
    // The harness keeps gidNumber unique among posixGroup entries: the group
    // with the fixed gidNumber goes, so a later run can create it again.
    let (s, _) = d
        .call(
            "DELETE",
            &format!("/Groups/{}", g["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, 204);
}

pub async fn unique_member_model(server: Server) {
    let text = group_model(
        &config_text(server),
        "groupOfUniqueNames",
        "uniqueMember",
        "uniquegroups",
    );
    ensure_ou(server, "uniquegroups").await;
    assert!(
        text.contains("[\"groupOfUniqueNames\""),
        "the config changed shape"
    );
    let d = Daemon::with_config(server, &text).await;
    let (a, b) = (
        d.create_user(&unique("ua")).await,
        d.create_user(&unique("ub")).await,
    );
    let name = unique("Unique");
    let g = d
        .create_group(
            &name,
            &[a["id"].as_str().unwrap(), b["id"].as_str().unwrap()],
        )
        .await;
    let e = d.entry(&group_dn(&d, &name)).await.unwrap();
    assert_eq!(
        sorted(
            attrs(&e, "uniqueMember")
                .into_iter()
                .map(|x| x.to_lowercase())
                .collect()
        ),
        sorted(vec![user_dn(&d, &a), user_dn(&d, &b)])
    );
    let (_, v) = d
        .call(
            "GET",
            &format!("/Users/{}", a["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(v["groups"][0]["value"], g["id"], "{v}");
    let (s, _) = d
        .call(
            "DELETE",
            &format!("/Users/{}", a["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let e = d.entry(&group_dn(&d, &name)).await.unwrap();
    assert_eq!(
        attrs(&e, "uniqueMember")
            .into_iter()
            .map(|x| x.to_lowercase())
            .collect::<Vec<_>>(),
        [user_dn(&d, &b)]
    );
    let (s, _) = d
        .call(
            "DELETE",
            &format!("/Users/{}", b["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, 204);
    let e = d.entry(&group_dn(&d, &name)).await.unwrap();
    let left: Vec<String> = attrs(&e, "uniqueMember")
        .into_iter()
        .map(|x| x.to_lowercase())
        .collect();
    // The daemon swaps in the placeholder; a server-side integrity plugin that
    // got there first may leave the list empty instead.
    assert!(left == [placeholder(&d)] || left.is_empty(), "{left:?}");
}

async fn ensure_ou(server: Server, ou: &str) {
    let (conn, mut l) = ldap3::LdapConnAsync::new(&server.url()).await.unwrap();
    ldap3::drive!(conn);
    l.simple_bind(server.bind_dn(), super::ADMIN_PW)
        .await
        .unwrap();
    let attrs = vec![
        ("objectClass", ["organizationalUnit"].into_iter().collect()),
        ("ou", [ou].into_iter().collect()),
    ];
    let r = l
        .add(&format!("ou={ou},dc=example,dc=com"), attrs)
        .await
        .unwrap();
    assert!(r.rc == 0 || r.rc == 68, "{r:?}");
}
