//! The workloads, each the same operations on both sides: create, match, update, disable,
//! membership, Entra's initial cycle, the concurrency-1 latency run and the second run
//! (memory flatness); plus the warm-up and the parity check of what both sides store.

use std::collections::BTreeMap;
use std::sync::Arc;

use ldap3::SearchEntry;

use crate::client::{Ctx, PEOPLE, Side};
use crate::measure::{Row, compare, op};

/// The rows of the first run: the workloads, the concurrency-1 run, and the wall time of
/// Entra's initial cycle per side (scim2ldap, direct).
#[derive(Default)]
pub struct FirstRun {
    pub rows: Vec<Row>,
    pub c1_rows: Vec<Row>,
    pub entra_wall: Option<(f64, f64)>,
}

const BOTH: [Side; 2] = [Side::Scim, Side::Direct];

/// Every pooled connection of the daemon and of the direct side in use once.
pub async fn warm_up(ctx: &Arc<Ctx>) {
    let f = op(ctx, |ctx, side, i| async move {
        let user = format!("{}-warm-{i}", ctx.run);
        ctx.match_user(side, &user, 0).await
    });
    let _ = compare(ctx, "warm-up", 200, ctx.opts.concurrency.max(8), &BOTH, f).await;
}

/// The workloads `--only` asks for (all by default), in order.
pub async fn first_run(ctx: &Arc<Ctx>) -> FirstRun {
    let opts = &ctx.opts;
    let c = opts.concurrency;
    let mut out = FirstRun::default();
    if opts.wants("c1") && opts.c1 > 0 {
        let n = opts.c1;
        out.c1_rows
            .push(users(ctx, "create (c=1)", UserStep::Create, ("c", n, 1), &BOTH).await);
        learn_direct_ids(ctx, "c").await;
        out.c1_rows
            .push(users(ctx, "match (c=1)", UserStep::Match, ("c", n, 1), &BOTH).await);
        out.c1_rows
            .push(update_users(ctx, "update (c=1)", "c", n, 1).await);
    }
    if ["create", "match", "update", "disable", "membership"]
        .iter()
        .any(|w| opts.wants(w))
    {
        out.rows
            .push(users(ctx, "create", UserStep::Create, ("u", opts.users, c), &BOTH).await);
        learn_direct_ids(ctx, "u").await;
    }
    if opts.wants("match") {
        out.rows
            .push(users(ctx, "match", UserStep::Match, ("u", opts.users, c), &BOTH).await);
    }
    if opts.wants("update") && opts.update > 0 {
        out.rows
            .push(update_users(ctx, "update (3 attributes)", "u", opts.update, c).await);
    }
    if opts.wants("disable") && opts.disable > 0 {
        out.rows.push(disable_users(ctx).await);
    }
    if opts.wants("membership") && opts.membership > 0 {
        out.rows.push(membership(ctx).await);
    }
    if opts.wants("entra") && opts.entra_users > 0 {
        let (users, groups) = entra_cycle(ctx).await;
        let wall = |side: Side| {
            users.sides[&side].wall.as_secs_f64() + groups.sides[&side].wall.as_secs_f64()
        };
        out.entra_wall = Some((wall(Side::Scim), wall(Side::Direct)));
        out.rows.push(users);
        out.rows.push(groups);
    }
    out
}

/// Run 2, through scim2ldap only: create and match another full set (memory flatness).
pub async fn second_run(ctx: &Arc<Ctx>) -> Option<Vec<Row>> {
    let opts = &ctx.opts;
    if !(opts.run2 && opts.wants("run2")) {
        return None;
    }
    eprintln!("load: second run through scim2ldap only (memory flatness)");
    let c = opts.concurrency;
    Some(vec![
        users(
            ctx,
            "run 2: create",
            UserStep::Create,
            ("v", opts.users, c),
            &[Side::Scim],
        )
        .await,
        users(
            ctx,
            "run 2: match",
            UserStep::Match,
            ("v", opts.users, c),
            &[Side::Scim],
        )
        .await,
    ])
}

/// active=false on the last users of the set, so update and disable touch different entries.
async fn disable_users(ctx: &Arc<Ctx>) -> Row {
    let users = ctx.opts.users;
    let f = op(ctx, move |ctx, side, i| async move {
        let user = ctx.user(side, "u", users - 1 - i);
        match side {
            Side::Scim => ctx.scim_disable(&user).await,
            Side::Direct => ctx.direct_disable(&user).await,
        }
    });
    let (n, c) = (ctx.opts.disable, ctx.opts.concurrency);
    compare(ctx, "disable (active=false)", n, c, &BOTH, f).await
}

/// Members added to empty groups (the groups are made first, not timed).
async fn membership(ctx: &Arc<Ctx>) -> Row {
    let (n, c) = (ctx.opts.membership, ctx.opts.concurrency);
    let f = op(ctx, |ctx, side, i| async move {
        let g = format!("{}-{}-g-{i}", ctx.run, side.tag());
        match side {
            Side::Scim => ctx.scim_create_group(&g).await,
            Side::Direct => ctx.direct_create_group(&g).await,
        }
    });
    let _ = compare(ctx, "membership set-up (groups)", n, c, &BOTH, f).await;
    let users = ctx.opts.users;
    let f = op(ctx, move |ctx, side, i| async move {
        let g = format!("{}-{}-g-{i}", ctx.run, side.tag());
        let members = members_of(&ctx, side, "u", users, i);
        match side {
            Side::Scim => ctx.scim_add_members(&g, &members).await,
            Side::Direct => ctx.direct_add_members(&g, &members).await,
        }
    });
    let name = format!("membership (+{})", ctx.opts.members);
    compare(ctx, &name, n, c, &BOTH, f).await
}

/// Entra's initial cycle: match then create each user, then match, create and fill each group.
async fn entra_cycle(ctx: &Arc<Ctx>) -> (Row, Row) {
    let c = ctx.opts.concurrency;
    let f = op(ctx, |ctx, side, i| async move {
        let user = ctx.user(side, "e", i);
        match side {
            Side::Scim => {
                ctx.scim_match(&user, 0).await?;
                ctx.scim_create(&user).await
            }
            Side::Direct => {
                ctx.direct_match(&user, 0).await?;
                ctx.direct_create(&user).await
            }
        }
    });
    let n = ctx.opts.entra_users;
    let users = compare(ctx, "entra: match→create user", n, c, &BOTH, f).await;
    learn_direct_ids(ctx, "e").await;
    let f = op(ctx, move |ctx, side, i| async move {
        let g = format!("{}-{}-eg-{i}", ctx.run, side.tag());
        let members = members_of(&ctx, side, "e", n, i);
        match side {
            Side::Scim => {
                ctx.scim_match_group(&g, 0).await?;
                ctx.scim_create_group(&g).await?;
                ctx.scim_add_members(&g, &members).await
            }
            Side::Direct => {
                ctx.direct_match_group(&g, 0).await?;
                ctx.direct_create_group(&g).await?;
                // The direct client reads the new group's id as a SCIM client gets it.
                ctx.direct_add_members(&g, &members).await
            }
        }
    });
    let name = format!("entra: group +{}", ctx.opts.members);
    let groups = compare(ctx, &name, ctx.opts.entra_groups, c, &BOTH, f).await;
    (users, groups)
}

/// What a user workload does to each user.
#[derive(Clone, Copy)]
pub enum UserStep {
    Create,
    /// Find it by name (one match), as Entra does before a write.
    Match,
}

/// `step` on `n` users of `set` on `sides` at concurrency `c`, as a measured workload.
pub async fn users(
    ctx: &Arc<Ctx>,
    name: &str,
    step: UserStep,
    (set, n, c): (&'static str, usize, usize),
    sides: &[Side],
) -> Row {
    let f = op(ctx, move |ctx, side, i| async move {
        let user = ctx.user(side, set, i);
        match (step, side) {
            (UserStep::Create, Side::Scim) => ctx.scim_create(&user).await,
            (UserStep::Create, Side::Direct) => ctx.direct_create(&user).await,
            (UserStep::Match, side) => ctx.match_user(side, &user, 1).await,
        }
    });
    compare(ctx, name, n, c, sides, f).await
}

pub async fn update_users(
    ctx: &Arc<Ctx>,
    name: &str,
    set: &'static str,
    n: usize,
    c: usize,
) -> Row {
    let f = op(ctx, move |ctx, side, i| async move {
        let user = ctx.user(side, set, i);
        match side {
            Side::Scim => ctx.scim_update(&user, i).await,
            Side::Direct => ctx.direct_update(&user, i).await,
        }
    });
    compare(ctx, name, n, c, &[Side::Scim, Side::Direct], f).await
}

pub async fn learn_direct_ids(ctx: &Arc<Ctx>, set: &str) {
    let prefix = format!("{}-d-{set}-", ctx.run);
    match ctx.learn_ids(PEOPLE, "uid", &prefix).await {
        Ok(n) => {
            eprintln!("load: read {n} entryUUIDs of the direct side's {set} users (not timed)")
        }
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(1);
        }
    }
}

/// Group `g` of a set gets users `g*members ..` of the user set (wrapping).
pub fn members_of(ctx: &Ctx, side: Side, user_set: &str, users: usize, g: usize) -> Vec<String> {
    let m = ctx.opts.members;
    (0..m)
        .map(|k| ctx.user(side, user_set, (g * m + k) % users))
        .collect()
}

// ---------------------------------------------------------------------------------------------

pub async fn parity(ctx: &Arc<Ctx>) -> String {
    let s = format!("{}-s-parity", ctx.run);
    let d = format!("{}-d-parity", ctx.run);
    if let Err(e) = ctx.scim_create(&s).await {
        return format!("could not create through scim2ldap: {e}");
    }
    if let Err(e) = ctx.direct_create(&d).await {
        return format!("could not create directly: {e}");
    }
    let (Some(a), Some(b)) = (
        ctx.entry(&ctx.user_dn(&s)).await,
        ctx.entry(&ctx.user_dn(&d)).await,
    ) else {
        return "could not read the two entries back".to_owned();
    };
    let norm = |e: &SearchEntry, name: &str| -> BTreeMap<String, Vec<String>> {
        e.attrs
            .iter()
            .map(|(k, v)| {
                let mut v: Vec<String> = v.iter().map(|x| x.replace(name, "NAME")).collect();
                v.sort();
                (k.to_ascii_lowercase(), v)
            })
            .collect()
    };
    let (mut na, nb) = (norm(&a, &s), norm(&b, &d));
    // The daemon's own bookkeeping, which a hand-written client has no use for.
    let token = ctx
        .shape
        .users
        .version_token
        .as_deref()
        .and_then(|t| na.remove(&t.to_ascii_lowercase()).map(|_| t));
    if na == nb {
        match token {
            Some(t) => format!(
                "same {} attributes and values (plus the daemon's version token {t})",
                na.len()
            ),
            None => format!("same {} attributes and values", na.len()),
        }
    } else {
        let mut diff = Vec::new();
        for k in na
            .keys()
            .chain(nb.keys())
            .collect::<std::collections::BTreeSet<_>>()
        {
            if na.get(k) != nb.get(k) {
                diff.push(format!(
                    "{k}: scim {:?} vs direct {:?}",
                    na.get(k),
                    nb.get(k)
                ));
            }
        }
        format!("DIFFERENT: {}", diff.join("; "))
    }
}
