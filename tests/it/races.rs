//! Races between daemon instances: the daemon keeps no local state, so two
//! instances writing the same directory at once must still give one winner
//! per name and membership changes that commute.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::task::JoinSet;

use super::{Daemon, Server, attrs, entra_user, patch_body, unique};

/// 50 POSTs of one userName spread over two daemons: one 201, 49 409s, one entry.
pub async fn same_user_name_created_concurrently(server: Server) {
    let daemons = [
        Arc::new(Daemon::start(server).await),
        Arc::new(Daemon::start(server).await),
    ];
    let name = unique("race");
    let mut tasks = JoinSet::new();
    for i in 0..50 {
        let d = daemons[i % 2].clone();
        let body = entra_user(&name);
        tasks.spawn(async move {
            let (s, v) = d.call("POST", "/Users", Some(&body)).await;
            (i, s, v)
        });
    }
    let mut created = Vec::new();
    let mut others = BTreeMap::<u16, usize>::new();
    while let Some(r) = tasks.join_next().await {
        let (i, s, v) = r.unwrap();
        match s {
            201 => created.push((i, v)),
            409 => {
                assert_eq!(v["scimType"], "uniqueness", "request {i}: {v}");
                assert_eq!(v["status"], "409", "request {i}: {v}");
            }
            _ => *others.entry(s).or_default() += 1,
        }
    }
    assert!(others.is_empty(), "statuses other than 201/409: {others:?}");
    assert_eq!(
        created.len(),
        1,
        "exactly one create wins: {:?}",
        created.iter().map(|(i, _)| i).collect::<Vec<_>>()
    );
    let d = &daemons[0];
    let dns = d.dns(&format!("(uid={name})")).await;
    assert_eq!(dns.len(), 1, "{dns:?}");
    assert_eq!(
        dns[0],
        d.config.users.dn_for(&name).to_string().to_lowercase()
    );
    // The winner's id is the entry's entryUUID, and both daemons read it back.
    let id = created[0].1["id"].as_str().unwrap().to_owned();
    let e = d.entry(&dns[0]).await.unwrap();
    assert_eq!(super::attr(&e, "entryUUID").as_deref(), Some(id.as_str()));
    for d in &daemons {
        let (s, v) = d.call("GET", &format!("/Users/{id}"), None).await;
        assert_eq!(
            (s, v["userName"].as_str()),
            (200, Some(name.as_str())),
            "{v}"
        );
    }
}

/// One PATCH a task sends, and what it does to which user (by index).
#[derive(Debug, Clone)]
struct MemberOp {
    body: Value,
    add: Vec<usize>,
    remove: Vec<usize>,
}

fn add_op(ids: &[String], users: &[usize]) -> MemberOp {
    let value: Vec<Value> = users.iter().map(|&u| json!({"value": ids[u]})).collect();
    MemberOp {
        body: patch_body(json!([{"op": "Add", "path": "members", "value": value}])),
        add: users.to_vec(),
        remove: vec![],
    }
}

/// Entra's older form (a value list) and the RFC form (a value filter), in turn.
fn remove_op(ids: &[String], users: &[usize], rfc_form: bool) -> MemberOp {
    let ops: Vec<Value> = if rfc_form {
        users
            .iter()
            .map(|&u| json!({"op": "remove", "path": format!("members[value eq \"{}\"]", ids[u])}))
            .collect()
    } else {
        let value: Vec<Value> = users.iter().map(|&u| json!({"value": ids[u]})).collect();
        vec![json!({"op": "Remove", "path": "members", "value": value})]
    };
    MemberOp {
        body: patch_body(json!(ops)),
        add: vec![],
        remove: users.to_vec(),
    }
}

/// One request that adds some users and removes others.
fn mixed_op(ids: &[String], add: &[usize], remove: &[usize]) -> MemberOp {
    let a: Vec<Value> = add.iter().map(|&u| json!({"value": ids[u]})).collect();
    let r: Vec<Value> = remove.iter().map(|&u| json!({"value": ids[u]})).collect();
    MemberOp {
        body: patch_body(json!([
            {"op": "Add", "path": "members", "value": a},
            {"op": "Remove", "path": "members", "value": r}
        ])),
        add: add.to_vec(),
        remove: remove.to_vec(),
    }
}

/// The group's member values, lower-cased, as LDAP holds them.
async fn member_values(d: &Daemon, group: &str) -> BTreeSet<String> {
    let g = d.config.groups.as_ref().unwrap();
    let attr = g.members.as_ref().unwrap().attribute.clone();
    let e = d
        .entry(&g.dn_for(group).to_string())
        .await
        .expect("group entry");
    attrs(&e, &attr)
        .into_iter()
        .map(|m| m.to_lowercase())
        .collect()
}

/// How many of a daemon's modifies the directory answered noSuchObject (the
/// entry gone from the DN the daemon had found it at), and its metrics.
async fn modifies_missing_their_entry(d: &Daemon) -> (usize, String) {
    let metrics = d.metrics().await;
    let n = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("scim2ldap_ldap_operations_total{operation=\"modify\",result=\"32\"} ")
        })
        .map_or(0, |n| n.trim().parse().unwrap());
    (n, metrics)
}

fn placeholder(d: &Daemon) -> Option<String> {
    super::group_members(&d.config)
        .placeholder
        .as_ref()
        .map(|p| p.to_string().to_lowercase())
}

/// Task sequences over ~40 users, sent concurrently from two daemons:
/// - users 0..8 start as members; two tasks (one per daemon) both remove
///   each of them (overlapping removes): gone iff some remove was acknowledged;
/// - users 8..16 are added by two tasks (one per daemon), in opposite
///   orders (overlapping adds): present iff some add was acknowledged;
/// - users 16..40 belong to six tasks of four users each (disjoint): each
///   task adds its users and later removes some of them, partly in mixed
///   requests; only that task touches them, so replaying its acknowledged
///   operations in order gives their final state.
///
/// The directory's member values must equal that model exactly: no lost add,
/// no resurrected remove, no dangling value (nor the empty-group placeholder
/// next to real members).
pub async fn concurrent_member_patches_commute(server: Server) {
    let daemons = [
        Arc::new(Daemon::start(server).await),
        Arc::new(Daemon::start(server).await),
    ];
    let d = daemons[0].clone();
    let tag = unique("cm");
    const USERS: usize = 40;
    let mut creating = JoinSet::new();
    for i in 0..USERS {
        let d = daemons[i % 2].clone();
        let name = format!("{tag}-{i:02}");
        creating.spawn(async move {
            let u = d.create_user(&name).await;
            (i, u)
        });
    }
    let mut users: Vec<Value> = vec![Value::Null; USERS];
    while let Some(r) = creating.join_next().await {
        let (i, u) = r.unwrap();
        users[i] = u;
    }
    let ids: Vec<String> = users
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    let dns: Vec<String> = users
        .iter()
        .map(|u| {
            d.config
                .users
                .dn_for(u["userName"].as_str().unwrap())
                .to_string()
                .to_lowercase()
        })
        .collect();
    let name = unique("Race Group");
    let pre: Vec<&str> = ids[0..8].iter().map(String::as_str).collect();
    let g = d.create_group(&name, &pre).await;
    let gid = g["id"].as_str().unwrap().to_owned();

    // The task sequences.
    let mut tasks: Vec<Vec<MemberOp>> = vec![
        // Overlapping removes of 0..8, in opposite orders and different forms.
        (0..8).map(|u| remove_op(&ids, &[u], u % 2 == 0)).collect(),
        (0..8)
            .rev()
            .map(|u| remove_op(&ids, &[u], u % 2 == 1))
            .collect(),
        // Overlapping adds of 8..16: singles one way, pairs the other.
        (8..16).map(|u| add_op(&ids, &[u])).collect(),
        (8..16)
            .step_by(2)
            .rev()
            .map(|u| add_op(&ids, &[u, u + 1]))
            .collect(),
    ];
    // Disjoint task-owned users 16..40, four per task.
    for t in 0..6 {
        let own: Vec<usize> = (16 + 4 * t..16 + 4 * t + 4).collect();
        let (a, b, c, e) = (own[0], own[1], own[2], own[3]);
        let seq = match t % 3 {
            // add one by one, remove two
            0 => vec![
                add_op(&ids, &[a]),
                add_op(&ids, &[b]),
                add_op(&ids, &[c]),
                add_op(&ids, &[e]),
                remove_op(&ids, &[a], true),
                remove_op(&ids, &[c], false),
            ],
            // add all at once, remove one, re-add it, remove another
            1 => vec![
                add_op(&ids, &[a, b, c, e]),
                remove_op(&ids, &[b], false),
                add_op(&ids, &[b]),
                remove_op(&ids, &[e], true),
            ],
            // mixed requests: add some while removing earlier ones
            _ => vec![
                add_op(&ids, &[a, b]),
                mixed_op(&ids, &[c], &[a]),
                mixed_op(&ids, &[e], &[b]),
                mixed_op(&ids, &[a], &[c]),
            ],
        };
        tasks.push(seq);
    }

    // Run every task at once; task k goes through daemon k % 2.
    let mut running = JoinSet::new();
    for (k, seq) in tasks.iter().cloned().enumerate() {
        let d = daemons[k % 2].clone();
        let path = format!("/Groups/{gid}");
        running.spawn(async move {
            let mut statuses = Vec::new();
            for op in &seq {
                let (s, v) = d.call("PATCH", &path, Some(&op.body)).await;
                statuses.push((s, v));
            }
            (k, statuses)
        });
    }
    let mut results: Vec<Vec<(u16, Value)>> = vec![Vec::new(); tasks.len()];
    while let Some(r) = running.join_next().await {
        let (k, statuses) = r.unwrap();
        results[k] = statuses;
    }

    // The model: replay acknowledged operations.
    let mut failed = Vec::new();
    let mut present: BTreeSet<usize> = (0..8).collect();
    // Overlapping removes (tasks 0 and 1): gone iff any was acknowledged.
    for k in 0..2 {
        for (op, (s, v)) in tasks[k].iter().zip(&results[k]) {
            if (200..300).contains(s) {
                for u in &op.remove {
                    present.remove(u);
                }
            } else {
                failed.push(format!("task {k} remove {:?}: {s} {v}", op.remove));
            }
        }
    }
    // Overlapping adds (tasks 2 and 3): present iff any was acknowledged.
    for k in 2..4 {
        for (op, (s, v)) in tasks[k].iter().zip(&results[k]) {
            if (200..300).contains(s) {
                present.extend(op.add.iter().copied());
            } else {
                failed.push(format!("task {k} add {:?}: {s} {v}", op.add));
            }
        }
    }
    // Disjoint tasks: their own order.
    for k in 4..tasks.len() {
        for (op, (s, v)) in tasks[k].iter().zip(&results[k]) {
            if (200..300).contains(s) {
                for u in &op.add {
                    present.insert(*u);
                }
                for u in &op.remove {
                    present.remove(u);
                }
            } else {
                failed.push(format!(
                    "task {k} add {:?} remove {:?}: {s} {v}",
                    op.add, op.remove
                ));
            }
        }
    }
    let total: usize = tasks.iter().map(Vec::len).sum();
    eprintln!(
        "{server:?}: {total} member PATCHes, {} not acknowledged",
        failed.len()
    );
    let expected: BTreeSet<String> = present.iter().map(|&u| dns[u].clone()).collect();
    let actual = member_values(&d, &name).await;
    let ph = placeholder(&d);
    let real: BTreeSet<String> = actual
        .iter()
        .filter(|v| Some(*v) != ph.as_ref())
        .cloned()
        .collect();
    // Every problem is collected, so one run shows all of them.
    let mut problems = Vec::new();
    let missing: Vec<&String> = expected.difference(&real).collect();
    let extra: Vec<&String> = real.difference(&expected).collect();
    if !missing.is_empty() || !extra.is_empty() {
        problems.push(format!(
            "members differ from the acknowledged operations: lost {missing:?}, dangling {extra:?}"
        ));
    }
    if let Some(ph) = &ph {
        if actual.contains(ph) != expected.is_empty() {
            problems.push(format!(
                "the placeholder must be there exactly when no real member is: {actual:?}"
            ));
        }
    }
    // Value-level changes commute, so every operation must go through (a
    // lost race is the daemon's to retry, never the client's problem).
    if !failed.is_empty() {
        problems.push(format!(
            "{} of {total} operations refused though they commute: {failed:#?}",
            failed.len()
        ));
    }
    // SCIM shows the same set.
    let (s, v) = d.call("GET", &format!("/Groups/{gid}"), None).await;
    assert_eq!(s, 200, "{v}");
    let shown: BTreeSet<String> = v["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|x| x["value"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default();
    let want_ids: BTreeSet<String> = present.iter().map(|&u| ids[u].clone()).collect();
    if shown != want_ids {
        problems.push(format!("GET shows {shown:?}, expected {want_ids:?}"));
    }

    // Emptying and filling at once: one daemon removes the last member while
    // the other adds a new one. Whatever the order, the group ends with the
    // new member only, and the placeholder (which stands for "no members")
    // must not stay next to it.
    for round in 0..6 {
        let rname = unique("Race Last");
        let (old, new) = (ids[2 * round].clone(), ids[2 * round + 1].clone());
        let g = d.create_group(&rname, &[old.as_str()]).await;
        let path = format!("/Groups/{}", g["id"].as_str().unwrap());
        let (a, b) = (daemons[0].clone(), daemons[1].clone());
        let rm = remove_op(&ids, &[2 * round], round % 2 == 0).body;
        let add = add_op(&ids, &[2 * round + 1]).body;
        let (p1, p2) = (path.clone(), path.clone());
        let (r1, r2) = tokio::join!(
            tokio::spawn(async move { a.call("PATCH", &p1, Some(&rm)).await }),
            tokio::spawn(async move { b.call("PATCH", &p2, Some(&add)).await }),
        );
        let ((s1, v1), (s2, v2)) = (r1.unwrap(), r2.unwrap());
        if (s1, s2) != (204, 204) {
            problems.push(format!("round {round}: remove {s1} {v1}, add {s2} {v2}"));
            continue;
        }
        let actual = member_values(&d, &rname).await;
        let want: BTreeSet<String> = [dns[2 * round + 1].clone()].into();
        if actual != want {
            problems.push(format!(
                "round {round}: removing {old} while adding {new} left {actual:?}, expected {want:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{server:?}: {problems:#?}");
}

/// One instance renames a user every 10 ms while the other changes its title
/// as fast as it can: a write that finds the entry under a name that changes
/// before its modify arrives (the directory answers noSuchObject) finds it
/// again by id instead of answering 404.
pub async fn writes_follow_a_concurrent_rename(server: Server) {
    let a = Arc::new(Daemon::start(server).await);
    let b = Arc::new(Daemon::start(server).await);
    let name = unique("moving");
    let id = a.create_user(&name).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    const RENAMES: usize = 40;
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let renames = {
        let (a, id, name, done) = (a.clone(), id.clone(), name.clone(), done.clone());
        tokio::spawn(async move {
            for r in 0..RENAMES {
                let body = patch_body(
                    json!([{"op": "replace", "path": "userName", "value": format!("{name}-{r}")}]),
                );
                let (s, v) = a.call("PATCH", &format!("/Users/{id}"), Some(&body)).await;
                assert_eq!(s, 200, "rename {r}: {v}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let titles = {
        let (b, id, done) = (b.clone(), id.clone(), done.clone());
        tokio::spawn(async move {
            let mut r = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                r += 1;
                let body = patch_body(
                    json!([{"op": "replace", "path": "title", "value": format!("t{r}")}]),
                );
                let (s, v) = b.call("PATCH", &format!("/Users/{id}"), Some(&body)).await;
                assert_eq!(s, 200, "title {r}: {v}");
            }
            r
        })
    };
    renames.await.unwrap();
    let last = titles.await.unwrap();
    let (s, v) = a.call("GET", &format!("/Users/{id}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(v["userName"], format!("{name}-{}", RENAMES - 1));
    assert_eq!(v["title"], format!("t{last}"));
    assert_eq!(a.dns(&format!("(uid={name}*)")).await.len(), 1);
    // The race did happen: some of b's modifies met a moved entry.
    let (moved, metrics) = modifies_missing_their_entry(&b).await;
    eprintln!(
        "{server:?}: {last} title changes during {RENAMES} renames, {moved} met a moved entry"
    );
    assert!(moved > 0, "no write met a moved entry: {metrics}");
}

/// One instance renames a group over and over while the other deletes its
/// members one by one, the daemon keeping referential integrity: a removal
/// that finds the group gone from the DN its search gave (renamed meanwhile,
/// the directory answers noSuchObject) searches again and removes the member
/// under the group's new name, so no deleted user stays listed. A round
/// whose removals all missed the renames is run again, up to three rounds,
/// so that the race is known to have happened.
/// (Renamed without a pause, a group can move under all three attempts and
/// the delete answers 503; a rename every 5 ms stands for a busy directory.)
pub async fn deletes_follow_a_concurrent_group_rename(server: Server) {
    let text = super::config_text(server).replace(
        "referential_integrity = \"server\"",
        "referential_integrity = \"daemon\"",
    );
    assert!(
        text.contains("referential_integrity = \"daemon\""),
        "{text}"
    );
    let a = Arc::new(Daemon::with_config(server, &text).await);
    let b = Arc::new(Daemon::with_config(server, &text).await);
    let mut moved = 0;
    for round in 1..=3 {
        let resent = delete_members_while_renaming(&a, &b).await;
        moved = modifies_missing_their_entry(&b).await.0;
        eprintln!(
            "{server:?} round {round}: 40 deletes during group renames, {moved} met a moved group so far, {resent} sent again"
        );
        if moved > 0 {
            break;
        }
    }
    // The race did happen: some removals met the group under a new name.
    assert!(moved > 0, "no removal met a moved group in three rounds");
}

/// One round: 40 users in a group that `a` renames every 5 ms while `b`
/// deletes the users; none stays listed. Returns how many deletes were sent
/// again after a 503.
async fn delete_members_while_renaming(a: &Arc<Daemon>, b: &Arc<Daemon>) -> usize {
    let tag = unique("gone");
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(
            b.create_user(&format!("{tag}-{i:02}")).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let name = unique("Moving Group");
    let members: Vec<&str> = ids.iter().map(String::as_str).collect();
    let gid = a.create_group(&name, &members).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let renames = {
        let (a, gid, name, done) = (a.clone(), gid.clone(), name.clone(), done.clone());
        tokio::spawn(async move {
            let mut r = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                r += 1;
                let body = patch_body(
                    json!([{"op": "replace", "path": "displayName", "value": format!("{name}-{r}")}]),
                );
                let (s, v) = a
                    .call("PATCH", &format!("/Groups/{gid}"), Some(&body))
                    .await;
                assert_eq!(s, 204, "rename {r}: {v}");
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            format!("{name}-{r}")
        })
    };
    let mut resent = 0;
    for id in &ids {
        // A 503 (the group moved under every attempt) is sent again, as a
        // SCIM client does; the delete must then succeed.
        let mut answer = b.call("DELETE", &format!("/Users/{id}"), None).await;
        for _ in 0..2 {
            if answer.0 != 503 {
                break;
            }
            resent += 1;
            answer = b.call("DELETE", &format!("/Users/{id}"), None).await;
        }
        assert_eq!(answer.0, 204, "delete {id}: {:?}", answer.1);
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let last = renames.await.unwrap();
    let listed = member_values(a, &last).await;
    let left: Vec<&String> = listed
        .iter()
        .filter(|m| m.contains(&tag.to_lowercase()))
        .collect();
    assert_eq!(left, Vec::<&String>::new(), "deleted users still listed");
    resent
}
