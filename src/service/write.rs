//! Executing a plan: the rename, then one modify (so a name already taken
//! is refused before anything is written, and a crash in between leaves a
//! state the client's retry completes), then the password. How it
//! is guarded and what is read back is decided by `plan::decide`; this file
//! carries the decision out and turns the directory's refusals into either
//! an answer or [`Written::Replan`].

use super::errors::{busy, changed_since, dir_error};
use super::plan::{
    self, Answer, Concurrency, Decision, Guard, OnFailure, ReadBack, Replan, TokenWrite,
};
use super::{Service, new_token};
use crate::directory::{DirError, Directory, Precondition, rc};
use crate::error::Error;
use crate::ldap::{self, Dn, Entry, Mod};
use crate::mapping::patch::Plan;
use crate::mapping::{self, AttrMap};

/// How a plan is written.
pub(super) struct Write<'a> {
    /// The client's If-Match, checked atomically by the Assertion control.
    pub pre: Option<Precondition>,
    pub concurrency: Concurrency,
    pub answer: Answer,
    pub replan: Replan,
    /// What the write is, for error messages.
    pub what: &'a str,
}

/// What executing a plan came to.
#[derive(Debug)]
pub(super) enum Written {
    /// The entry after the write.
    Entry(Entry),
    /// The entry changed or moved before anything was written: find it
    /// again and plan again.
    Replan,
}

/// What one directory operation of the execution carries besides its
/// changes.
struct Op<'a> {
    /// Attributes read back with it (PostRead).
    read: &'a [String],
    /// The assertion it carries.
    pre: Option<&'a Precondition>,
    /// What the write is, for error messages.
    what: &'a str,
}

/// How one directory operation of the execution ended.
enum Landed {
    /// Done; the entry after it when it was read back.
    Latest(Option<Entry>),
    Replan,
}

impl<D: Directory> Service<D> {
    /// Executes a plan: the rename, then one modify, then the password.
    /// Each step answers [`Written::Replan`] when nothing was written yet and
    /// the decision allows it.
    pub(super) async fn execute(
        &self,
        map: &AttrMap,
        entry: &Entry,
        plan: Plan,
        how: Write<'_>,
    ) -> Result<Written, Error> {
        let what = how.what;
        let d = self.decide(map, entry, &plan, &how);
        let read = match d.read {
            ReadBack::Nothing => Vec::new(),
            ReadBack::ServerChanged => map.generated_attributes(),
            ReadBack::Whole => map.read_attributes(),
        };
        let mut pre = how.pre;
        if d.guard == Guard::VersionRead && pre.is_none() {
            pre = entry.first(&map.version_attribute).map(|v| Precondition {
                attribute: map.version_attribute.clone(),
                value: v.to_owned(),
            });
        }
        let mods = self.mods_of(map, entry, &plan, d.token);
        let mut latest = None;
        // The rename goes first: when the new name is taken nothing is
        // written yet (a 409, not a half-done change), and a crash after it
        // leaves the entry under its new name with the old values, which the
        // client's retry completes (the name no longer changes; the values do).
        let mut renamed = entry.clone();
        if let Some(new_value) = &plan.rename {
            let rdn = ldap::rdn(&map.rdn, new_value);
            let read_now: &[String] = if mods.is_empty() { &read } else { &[] };
            let op = Op {
                read: read_now,
                pre: pre.as_ref(),
                what,
            };
            match self.rename(map, entry, &plan, &rdn, d.moved, op).await? {
                Landed::Replan => return Ok(Written::Replan),
                Landed::Latest(e) => latest = e,
            }
            renamed.dn = Dn::child(&entry.dn.parent(), &map.rdn, new_value);
            pre = None;
            self.follow_rename(map.kind, &entry.dn, &renamed.dn).await?;
        }
        if !mods.is_empty() {
            // After a rename something is written: a failure is an answer.
            let mut d = d;
            if plan.rename.is_some() {
                (d.moved, d.changed) = (OnFailure::Answer, OnFailure::Answer);
            }
            let op = Op {
                read: &read,
                pre: pre.as_ref(),
                what,
            };
            match self.modify(map, &renamed, mods, &d, op).await? {
                Landed::Replan => return Ok(Written::Replan),
                Landed::Latest(e) => latest = e,
            }
        }
        let dn = renamed.dn;
        self.finish(map, entry, &plan, &dn, latest, d.read).await
    }

    /// After the rename and the modify: the password by extended operation,
    /// then the entry to answer with — the one read back, or read again, or
    /// (nothing wanted) the one read before, after the placeholder check.
    async fn finish(
        &self,
        map: &AttrMap,
        entry: &Entry,
        plan: &Plan,
        dn: &Dn,
        mut latest: Option<Entry>,
        read: ReadBack,
    ) -> Result<Written, Error> {
        if let Some(pw) = &plan.password {
            if map.password == Some(mapping::PasswordMode::Modify) {
                self.dir
                    .set_password(&dn.to_string(), pw)
                    .await
                    .map_err(|e| dir_error(map, e, "set password"))?;
                latest = None;
            }
        }
        let after = match latest {
            Some(e) => e,
            None if read == ReadBack::Nothing => {
                self.check_placeholder_after_add(map, dn, &plan.mods)
                    .await?;
                return Ok(Written::Entry(entry.clone()));
            }
            None => self.reread(map, dn).await?.unwrap_or_else(|| entry.clone()),
        };
        self.drop_stale_placeholder(map, after)
            .await
            .map(Written::Entry)
    }

    /// The situation of this write, and what `plan::decide` makes of it.
    fn decide(&self, map: &AttrMap, entry: &Entry, plan: &Plan, how: &Write<'_>) -> Decision {
        let caps = self.dir.capabilities();
        let token_present = map
            .version_token
            .as_deref()
            .is_some_and(|t| entry.first(t).is_some());
        plan::decide(plan::Situation {
            concurrency: how.concurrency,
            answer: how.answer,
            replan: how.replan,
            token: if token_present {
                plan::Token::Present
            } else {
                plan::Token::Absent
            },
            placeholder_involved: Self::placeholder_involved(map, entry, &plan.mods),
            renames: plan.rename.is_some(),
            password_by_extended_operation: plan.password.is_some()
                && map.password == Some(mapping::PasswordMode::Modify),
            assertion: caps.assertion,
            post_read: caps.post_read,
            single_version: entry.values(&map.version_attribute).len() == 1,
        })
    }

    /// The modifications written: the plan's (value changes the server cannot
    /// match rewritten as replaces), the password when it is an attribute,
    /// and the version token every write renews.
    fn mods_of(&self, map: &AttrMap, entry: &Entry, plan: &Plan, token: TokenWrite) -> Vec<Mod> {
        let mut mods = ldap::replace_unmatchable(
            entry,
            plan.mods.clone(),
            &self.dir.capabilities().unmatchable_attributes,
        );
        if let (Some(pw), Some(mapping::PasswordMode::Attribute)) = (&plan.password, map.password) {
            mods.push(Mod::Replace(
                "userPassword".to_owned(),
                vec![secrecy::ExposeSecret::expose_secret(pw).to_owned()],
            ));
        }
        let current = map
            .version_token
            .as_deref()
            .and_then(|t| entry.first(t).map(|v| (t, v)));
        match (token, current) {
            (TokenWrite::CompareAndSwap, Some((t, current))) => {
                mods.push(Mod::Delete(t.to_owned(), vec![current.to_owned()]));
                mods.push(Mod::Add(t.to_owned(), vec![new_token()]));
            }
            (TokenWrite::Renew, Some((t, _))) => {
                mods.push(Mod::Replace(t.to_owned(), vec![new_token()]));
            }
            _ => {}
        }
        mods
    }

    /// The modify. Guarded, the entry after it is the one read plus these
    /// changes, refreshed with what the server changed.
    async fn modify(
        &self,
        map: &AttrMap,
        entry: &Entry,
        mods: Vec<Mod>,
        d: &Decision,
        op: Op<'_>,
    ) -> Result<Landed, Error> {
        let Op { read, pre, what } = op;
        let guarded = d.guard == Guard::VersionRead;
        let known: Vec<Mod> = if guarded {
            mods.iter()
                .filter(|m| !m.attr().eq_ignore_ascii_case("userPassword"))
                .cloned()
                .collect()
        } else {
            Vec::new()
        };
        let dn = &entry.dn;
        match self.dir.modify(&dn.to_string(), mods, read, pre).await {
            Ok(Some(fresh)) if guarded => {
                let mut after = entry.clone();
                after.apply(&known);
                after.refresh(read, fresh);
                Ok(Landed::Latest(Some(after)))
            }
            Ok(e) => Ok(Landed::Latest(e)),
            // Changed since it was read: plan again from the entry as it is.
            Err(DirError::Result {
                rc: rc::ASSERTION_FAILED,
                ..
            }) if d.changed == OnFailure::Replan => Ok(Landed::Replan),
            // Renamed since it was found by id, nothing written yet: find
            // it again and plan again.
            Err(DirError::Result {
                rc: rc::NO_SUCH_OBJECT,
                ..
            }) if d.moved == OnFailure::Replan => Ok(Landed::Replan),
            Err(DirError::Result {
                rc: rc::NO_SUCH_OBJECT,
                text,
            }) if self.exists(map, dn).await? => Err(busy(what, dn, &text)),
            Err(DirError::Result {
                rc: rc::NO_SUCH_ATTRIBUTE,
                ..
            }) if d.token == TokenWrite::CompareAndSwap => Err(changed_since(what)),
            Err(e) => Err(dir_error(map, e, what)),
        }
    }

    /// The rename (modrdn), before anything else is written. The entry still
    /// there but the rename refused is the server under contention: the
    /// rename is tried again (see [`Service::while_busy`]). The new name
    /// taken is a 409.
    async fn rename(
        &self,
        map: &AttrMap,
        entry: &Entry,
        plan: &Plan,
        rdn: &str,
        moved: OnFailure,
        op: Op<'_>,
    ) -> Result<Landed, Error> {
        let Op { read, pre, what } = op;
        let dn = &entry.dn;
        let dn_text = dn.to_string();
        let answer = self
            .while_busy(map, dn, what, || self.dir.rename(&dn_text, rdn, read, pre))
            .await?;
        match answer {
            Ok(e) => Ok(Landed::Latest(e)),
            // Gone from its DN: moved since it was found.
            Err(DirError::Result {
                rc: rc::NO_SUCH_OBJECT,
                ..
            }) if moved == OnFailure::Replan => Ok(Landed::Replan),
            Err(DirError::Result {
                rc: rc::ENTRY_ALREADY_EXISTS,
                ..
            }) => Err(name_taken(map, entry, plan, what)),
            Err(e) => Err(dir_error(map, e, what)),
        }
    }
}

/// The 409 of a rename onto a name another entry has, naming the values the
/// new name came from (the entry as the plan would leave it).
fn name_taken(map: &AttrMap, entry: &Entry, plan: &Plan, what: &str) -> Error {
    let mut after = entry.clone();
    after.apply(&plan.mods);
    let name = plan.rename.as_deref().unwrap_or_default();
    Error::Conflict(format!(
        "{what}: {}",
        map.name_taken(name, |a| after.first(a))
    ))
}
