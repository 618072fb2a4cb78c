//! Group membership beyond the plan: the membership-only PATCH written
//! without reading the group, the empty-group placeholder (a group whose
//! object class needs a member holds a placeholder DN while it has none, and
//! never beside real members, whatever concurrent writers do), and the
//! removal of a deleted entry from every group when the daemon keeps
//! referential integrity, and member values following a renamed user
//! (`memberUid`, which no server's referential-integrity plugin covers, and
//! member DNs when the daemon keeps referential integrity).

use super::errors::{dir_error, search_error};
use super::retry::{Step, Why, retrying};
use super::{Ctx, Service, new_token};
use crate::directory::{DirError, Directory, Scope, Search, rc};
use crate::error::Error;
use crate::ldap::{self, Dn, Entry, Filter, Mod};
use crate::mapping::patch::{MemberDelta, member_mods};
use crate::mapping::{AttrMap, MemberValue, Members, Refs, managed};
use crate::scim::ResourceKind;

/// Which membership changes a write made, for the placeholder checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MemberChange {
    /// Values of the membership attribute added.
    Added,
    /// Values of the membership attribute deleted.
    Removed,
}

/// A member value's change in every group that lists it.
#[derive(Debug, Clone, Copy)]
enum MemberMove<'a> {
    /// The member was deleted: its value goes (the last member of a group
    /// that must keep one is swapped for the placeholder).
    Remove(&'a str),
    /// The member was renamed: the old value makes way for the new.
    Rename { old: &'a str, new: &'a str },
}

impl MemberMove<'_> {
    /// The value the groups to change list now.
    fn listed(&self) -> &str {
        match self {
            MemberMove::Remove(value) => value,
            MemberMove::Rename { old, .. } => old,
        }
    }
}

/// What the membership-only PATCH came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shortcut {
    /// Written (or nothing to write): answer 204.
    Done,
    /// The directory refused a value (already a member, not a member, the
    /// last member of a group that must keep one) or the group moved: plan
    /// against the whole group, which makes those cases no-ops or swaps in
    /// the placeholder.
    NeedsPlan,
}

/// The membership attribute and the empty-group placeholder of a map that
/// has one.
fn placeholder_of(map: &AttrMap) -> Option<(String, Dn)> {
    let m = map.members.as_ref()?;
    let ph = m.placeholder.as_ref()?;
    Some((m.attribute.clone(), ph.clone()))
}

/// The membership attribute and placeholder of a map that has one, when
/// `mods` made the `change` to that attribute.
fn placeholder_touched(map: &AttrMap, mods: &[Mod], change: MemberChange) -> Option<(String, Dn)> {
    let (attr, ph) = placeholder_of(map)?;
    mods.iter()
        .any(|m| match (m, change) {
            (Mod::Add(a, _), MemberChange::Added) | (Mod::Delete(a, _), MemberChange::Removed) => {
                a.eq_ignore_ascii_case(&attr)
            }
            _ => false,
        })
        .then_some((attr, ph))
}

/// A placeholder write after the request's own write refused: a group gone
/// from its DN was renamed meanwhile (the request found it by id a moment
/// ago), so the client is asked to try again (503) rather than told the
/// group is gone; the retry plans against the group where it now is.
fn group_error(map: &AttrMap, e: DirError, what: &str) -> Error {
    match e {
        DirError::Result {
            rc: rc::NO_SUCH_OBJECT,
            ..
        } => Error::Unavailable(format!("{what}: the group moved meanwhile; try again")),
        e => dir_error(map, e, what),
    }
}

/// The member value a user or group renamed from `old` to `new` had and now
/// has in its groups, when the daemon moves it: a user's `memberUid` value
/// always; a member DN (a user's, or a nested group's) when the daemon keeps
/// referential integrity (OpenLDAP's refint rewrites DNs in a background
/// thread, on each server of a replicated pair for itself and never
/// replicated, so a peer could keep the old DN). None when the value does
/// not change or the server moves it.
fn renamed_member(
    m: &Members,
    kind: ResourceKind,
    user_rdn: &str,
    old: &Dn,
    new: &Dn,
) -> Option<(String, String)> {
    let (from, to) = match m.value {
        MemberValue::RdnValue if kind == ResourceKind::User => (
            old.rdn_value(user_rdn)?.to_owned(),
            new.rdn_value(user_rdn)?.to_owned(),
        ),
        // `memberUid` values name users only.
        MemberValue::RdnValue => return None,
        MemberValue::Dn if m.daemon_cleans_up => (old.to_string(), new.to_string()),
        MemberValue::Dn => return None,
    };
    (from != to).then_some((from, to))
}

impl<D: Directory> Service<D> {
    /// A modify of a group found a moment ago, beside the request's own
    /// write, tried again while the server is too busy to lock it (see
    /// [`Service::while_busy`]).
    async fn modify_group(
        &self,
        map: &AttrMap,
        dn: &Dn,
        mods: Vec<Mod>,
        read: &[String],
        what: &str,
    ) -> Result<Result<Option<Entry>, DirError>, Error> {
        let dn_text = dn.to_string();
        self.while_busy(map, dn, what, || {
            self.dir.modify(&dn_text, mods.clone(), read, None)
        })
        .await
    }

    /// Whether the plan's `mods` or the entry hold the empty-group
    /// placeholder.
    pub(super) fn placeholder_involved(map: &AttrMap, entry: &Entry, mods: &[Mod]) -> bool {
        let Some((attr, ph)) = placeholder_of(map) else {
            return false;
        };
        let ph = ph.to_string().to_ascii_lowercase();
        let in_mods = mods.iter().any(|m| match m {
            Mod::Add(_, v) | Mod::Delete(_, v) | Mod::Replace(_, v) => {
                v.iter().any(|x| x.to_ascii_lowercase() == ph)
            }
        });
        let in_entry = entry
            .values(&attr)
            .iter()
            .any(|x| x.to_ascii_lowercase() == ph);
        in_mods || in_entry
    }

    /// A membership-only group PATCH answered 204 (Entra's usual one): one
    /// modify written without reading the group's members, so its cost does
    /// not grow with the group.
    pub(super) async fn patch_members(
        &self,
        map: &AttrMap,
        id: &str,
        delta: &MemberDelta,
        ctx: &Ctx,
    ) -> Result<Shortcut, Error> {
        let Some(m) = map.members.as_ref() else {
            return Ok(Shortcut::NeedsPlan);
        };
        let attrs = map
            .managed()
            .iter()
            .filter(|a| managed::identifies(a.role))
            .map(|a| a.ldap.to_owned())
            .collect();
        let ids = delta.ids();
        let (entry, refs) = tokio::join!(self.find(map, id, attrs), self.resolve_ids(&ids));
        let (entry, refs): (Entry, Refs) = (entry?, refs?);
        let mut mods = member_mods(map, delta, &refs)?;
        if mods.is_empty() {
            // Only ids to remove that name nothing: no member to remove.
            return Ok(Shortcut::Done);
        }
        if let Some(t) = map
            .version_token
            .as_ref()
            .filter(|t| entry.first(t).is_some())
        {
            mods.push(Mod::Replace(t.clone(), vec![new_token()]));
        }
        match self
            .dir
            .modify(&entry.dn.to_string(), mods.clone(), &[], None)
            .await
        {
            Ok(_) => {}
            Err(DirError::Result {
                rc:
                    rc::ATTRIBUTE_OR_VALUE_EXISTS
                    | rc::NO_SUCH_ATTRIBUTE
                    | rc::OBJECT_CLASS_VIOLATION
                    | rc::NO_SUCH_OBJECT,
                ..
            }) => return Ok(Shortcut::NeedsPlan),
            Err(e) => return Err(dir_error(map, e, "update Group")),
        }
        self.check_placeholder_after_add(map, &entry.dn, &mods)
            .await?;
        self.placeholder_if_empty(map, &entry.dn, &mods).await?;
        self.audit(
            ctx,
            "patch",
            map.kind,
            &entry.dn,
            std::slice::from_ref(&m.attribute),
        );
        self.metrics.provisioned(map.kind, "updated");
        Ok(Shortcut::Done)
    }

    /// Without reading the group back: after adding members, one cheap base
    /// search (no values returned) tells whether a concurrent removal left the
    /// placeholder in; if so it goes.
    pub(super) async fn check_placeholder_after_add(
        &self,
        map: &AttrMap,
        dn: &Dn,
        mods: &[Mod],
    ) -> Result<(), Error> {
        let Some((attr, ph)) = placeholder_touched(map, mods, MemberChange::Added) else {
            return Ok(());
        };
        let probe = Filter::Equal(attr.clone(), ph.to_string());
        if !self
            .hits(map, dn, probe, "checking the placeholder")
            .await?
        {
            return Ok(());
        }
        self.remove_placeholder(map, dn, attr, &ph).await
    }

    /// After removing members without reading the group: a server that lets
    /// a group lose its last member (389-ds, whose groupOfNames does not
    /// require one) leaves it empty; the placeholder then goes in, as a full
    /// plan would have put it. One cheap search, only after removals.
    async fn placeholder_if_empty(
        &self,
        map: &AttrMap,
        dn: &Dn,
        mods: &[Mod],
    ) -> Result<(), Error> {
        let Some((attr, ph)) = placeholder_touched(map, mods, MemberChange::Removed) else {
            return Ok(());
        };
        let probe = Filter::Present(attr.clone());
        if self.hits(map, dn, probe, "checking for members").await? {
            return Ok(());
        }
        let what = "adding the empty-group placeholder";
        let add = vec![Mod::Add(attr.clone(), vec![ph.to_string()])];
        match self.modify_group(map, dn, add, &[], what).await? {
            Ok(_) => {}
            // The placeholder is in already.
            Err(DirError::Result {
                rc: rc::ATTRIBUTE_OR_VALUE_EXISTS,
                ..
            }) => return Ok(()),
            Err(e) => return Err(group_error(map, e, what)),
        }
        // A member added between the probe and the placeholder saw no
        // placeholder to remove: whoever adds the placeholder checks after
        // it, as whoever adds a member does. The group was empty a moment
        // ago, so its member list is short.
        let now = Search {
            base: dn.to_string(),
            scope: Scope::Base,
            filter: Filter::everything(),
            attrs: vec![attr.clone()],
        };
        let values: Vec<String> = self
            .dir
            .search(now)
            .await
            .map_err(|e| search_error(map, e, "checking for members"))?
            .into_iter()
            .next()
            .map(|e| e.values(&attr).to_vec())
            .unwrap_or_default();
        if values
            .iter()
            .all(|v| Dn::parse(v).is_ok_and(|d| d.same_as(&ph)))
        {
            return Ok(());
        }
        self.remove_placeholder(map, dn, attr, &ph).await
    }

    /// Removes the empty-group placeholder from `dn`; gone already, or the
    /// last value again after another removal, is no error.
    async fn remove_placeholder(
        &self,
        map: &AttrMap,
        dn: &Dn,
        attr: String,
        ph: &Dn,
    ) -> Result<(), Error> {
        let what = "removing the empty-group placeholder";
        let del = vec![Mod::Delete(attr, vec![ph.to_string()])];
        match self.modify_group(map, dn, del, &[], what).await? {
            Ok(_)
            | Err(DirError::Result {
                rc: rc::NO_SUCH_ATTRIBUTE | rc::OBJECT_CLASS_VIOLATION,
                ..
            }) => Ok(()),
            Err(e) => Err(group_error(map, e, what)),
        }
    }

    /// A concurrent writer may have added a member while this request put the
    /// placeholder in (or the other way round): whoever sees both afterwards
    /// removes the placeholder, so it never stands beside real members.
    pub(super) async fn drop_stale_placeholder(
        &self,
        map: &AttrMap,
        after: Entry,
    ) -> Result<Entry, Error> {
        let Some((attr, ph)) = placeholder_of(map) else {
            return Ok(after);
        };
        let values = after.values(&attr);
        let stale: Vec<String> = values
            .iter()
            .filter(|v| Dn::parse(v).is_ok_and(|d| d.same_as(&ph)))
            .cloned()
            .collect();
        if stale.is_empty() || stale.len() == values.len() {
            return Ok(after);
        }
        let what = "removing the empty-group placeholder";
        let del = vec![Mod::Delete(attr, stale)];
        match self
            .modify_group(map, &after.dn, del, &map.read_attributes(), what)
            .await?
        {
            Ok(Some(e)) => Ok(e),
            Ok(None) => Ok(self.reread(map, &after.dn).await?.unwrap_or(after)),
            // Someone else removed it first.
            Err(DirError::Result {
                rc: rc::NO_SUCH_ATTRIBUTE,
                ..
            }) => Ok(self.reread(map, &after.dn).await?.unwrap_or(after)),
            Err(e) => Err(group_error(map, e, what)),
        }
    }

    /// Removes a deleted entry from every group that lists it, when the
    /// daemon keeps referential integrity. The last member of a group that
    /// must keep one is swapped for the placeholder.
    pub(super) async fn remove_memberships(&self, entry: &Entry) -> Result<(), Error> {
        let Some(g) = self.config.groups.as_ref() else {
            return Ok(());
        };
        let Some(m) = g.members.as_ref().filter(|m| m.daemon_cleans_up) else {
            return Ok(());
        };
        let Some(value) = Self::member_value(m, &self.config.users.rdn, entry) else {
            return Ok(());
        };
        self.move_member(g, m, MemberMove::Remove(&value), "removing membership")
            .await
    }

    /// Carries `change` out in every group under the groups' base that lists
    /// its member value, one modify per group. A group renamed between the
    /// search and its modify is gone from the DN found: the search runs
    /// again and finds it under its new name (a group really deleted is not
    /// found again).
    async fn move_member(
        &self,
        g: &AttrMap,
        m: &Members,
        change: MemberMove<'_>,
        what: &str,
    ) -> Result<(), Error> {
        retrying(what, |attempt| async move {
            let s = Search {
                base: g.base.to_string(),
                scope: Scope::Subtree,
                filter: Filter::Equal(m.attribute.clone(), change.listed().to_owned()),
                attrs: ldap::no_attributes(),
            };
            let groups = self
                .dir
                .search(s)
                .await
                .map_err(|e| search_error(g, e, "finding the groups of a member"))?;
            let mut moved = false;
            for group in groups {
                moved |= !self.change_group(g, m, &group.dn, change, what).await?;
            }
            match (moved, attempt.is_last()) {
                (false, _) => Ok(Step::Done(())),
                (true, false) => Ok(Step::Again(Why::EntryMoved)),
                (true, true) => Err(Error::Unavailable(format!(
                    "{what}: the groups listing the member kept moving; try again"
                ))),
            }
        })
        .await
    }

    /// Carries `change` out in the group at `dn`. False when no group is at
    /// `dn` any more (deleted, or renamed meanwhile).
    async fn change_group(
        &self,
        g: &AttrMap,
        m: &Members,
        dn: &Dn,
        change: MemberMove<'_>,
        what: &str,
    ) -> Result<bool, Error> {
        let attr = || m.attribute.clone();
        let answer = match change {
            MemberMove::Remove(value) => {
                let del = vec![Mod::Delete(attr(), vec![value.to_owned()])];
                match self.modify_group(g, dn, del, &[], what).await? {
                    // The last member: groupOfNames needs one, so the
                    // placeholder takes its place.
                    Err(DirError::Result {
                        rc: rc::OBJECT_CLASS_VIOLATION,
                        ..
                    }) if m.placeholder.is_some() => {
                        let ph = m
                            .placeholder
                            .as_ref()
                            .map(Dn::to_string)
                            .unwrap_or_default();
                        let swap = vec![
                            Mod::Add(attr(), vec![ph]),
                            Mod::Delete(attr(), vec![value.to_owned()]),
                        ];
                        self.modify_group(g, dn, swap, &[], what).await?
                    }
                    answer => answer,
                }
            }
            MemberMove::Rename { old, new } => {
                let swap = vec![
                    Mod::Delete(attr(), vec![old.to_owned()]),
                    Mod::Add(attr(), vec![new.to_owned()]),
                ];
                match self.modify_group(g, dn, swap, &[], what).await? {
                    // The new value is there already: only the old one goes.
                    Err(DirError::Result {
                        rc: rc::ATTRIBUTE_OR_VALUE_EXISTS,
                        ..
                    }) => {
                        let only_old = vec![Mod::Delete(attr(), vec![old.to_owned()])];
                        self.modify_group(g, dn, only_old, &[], what).await?
                    }
                    answer => answer,
                }
            }
        };
        match answer {
            // Done, or done by another writer (or the server's refint) meanwhile.
            Ok(_)
            | Err(DirError::Result {
                rc: rc::NO_SUCH_ATTRIBUTE,
                ..
            }) => Ok(true),
            Err(DirError::Result {
                rc: rc::NO_SUCH_OBJECT,
                ..
            }) => Ok(false),
            Err(e) => Err(dir_error(g, e, what)),
        }
    }

    /// After a user's or group's rename from `old` to `new` (DNs): every
    /// group under the groups' base that lists its old member value lists the
    /// new one instead (see [`renamed_member`] for when the daemon does this),
    /// one modify per group (delete the old value, add the new). A racing
    /// writer may have removed the member (the old value is gone: nothing
    /// to follow) or added the new value (only the old one goes); so may the
    /// server's refint, which then finds nothing left to do.
    pub(super) async fn follow_rename(
        &self,
        kind: ResourceKind,
        old: &Dn,
        new: &Dn,
    ) -> Result<(), Error> {
        let Some(g) = self.config.groups.as_ref() else {
            return Ok(());
        };
        let Some((m, (old, new))) = g.members.as_ref().and_then(|m| {
            renamed_member(m, kind, &self.config.users.rdn, old, new).map(|values| (m, values))
        }) else {
            return Ok(());
        };
        let change = MemberMove::Rename {
            old: &old,
            new: &new,
        };
        let moved = self
            .move_member(g, m, change, "renaming a member in its groups")
            .await;
        if moved.is_err() {
            tracing::error!(
                old,
                new,
                "groups may still list a renamed member by its old name"
            );
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn members(value: MemberValue, daemon_cleans_up: bool) -> Members {
        Members {
            attribute: "member".to_owned(),
            value,
            placeholder: None,
            daemon_cleans_up,
        }
    }

    fn dn(s: &str) -> Dn {
        Dn::parse(s).unwrap()
    }

    #[test]
    fn renamed_members_move_when_the_daemon_moves_them() {
        let user = (
            dn("uid=ann,ou=people,dc=example,dc=com"),
            dn("uid=ann.lee,ou=people,dc=example,dc=com"),
        );
        let group = (
            dn("cn=Sales,ou=groups,dc=example,dc=com"),
            dn("cn=Sales EMEA,ou=groups,dc=example,dc=com"),
        );
        let dns = |(o, n): &(Dn, Dn)| Some((o.to_string(), n.to_string()));
        let uids = Some(("ann".to_owned(), "ann.lee".to_owned()));
        // (member values, the daemon keeps referential integrity, who was renamed, what moves)
        let rows = [
            // A user's memberUid value moves whoever keeps integrity.
            (
                MemberValue::RdnValue,
                false,
                ResourceKind::User,
                &user,
                uids.clone(),
            ),
            (MemberValue::RdnValue, true, ResourceKind::User, &user, uids),
            // Member DNs move when the daemon keeps integrity, for users and
            // nested groups alike; otherwise the server's plugin moves them.
            (MemberValue::Dn, true, ResourceKind::User, &user, dns(&user)),
            (MemberValue::Dn, false, ResourceKind::User, &user, None),
            (
                MemberValue::Dn,
                true,
                ResourceKind::Group,
                &group,
                dns(&group),
            ),
            (MemberValue::Dn, false, ResourceKind::Group, &group, None),
            // A group is never a memberUid value.
            (
                MemberValue::RdnValue,
                true,
                ResourceKind::Group,
                &group,
                None,
            ),
        ];
        for (value, cleans_up, kind, (old, new), want) in rows {
            let row = format!("{value:?} {cleans_up} {kind:?}");
            let m = members(value, cleans_up);
            assert_eq!(renamed_member(&m, kind, "uid", old, new), want, "{row}");
        }
    }

    #[test]
    fn nothing_moves_when_the_value_stays() {
        let old = dn("uid=ann,ou=people,dc=example,dc=com");
        for m in [
            members(MemberValue::RdnValue, true),
            members(MemberValue::Dn, true),
        ] {
            assert_eq!(
                renamed_member(&m, ResourceKind::User, "uid", &old, &old.clone()),
                None
            );
        }
        // A user whose RDN is not the users' naming attribute has no memberUid value.
        let cn = dn("cn=Ann,ou=people,dc=example,dc=com");
        let m = members(MemberValue::RdnValue, true);
        assert_eq!(
            renamed_member(&m, ResourceKind::User, "uid", &cn, &old),
            None
        );
    }
}
