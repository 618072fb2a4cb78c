//! `PATCH` and `PUT` of users and groups: find the entry, plan against it,
//! write the plan. A write that lost a race (the entry changed or moved
//! between the read and the write) is planned again from the entry as it is
//! now, through the one retry loop; If-Match is checked here and carried
//! into the write as an assertion where the server offers one.

use serde_json::Value;

use super::members::Shortcut;
use super::plan::{Answer, Concurrency, Replan};
use super::retry::{Attempt, Step, Why, retrying};
use super::write::{Write, Written};
use super::{Ctx, Service, Versioned};
use crate::directory::{Directory, Precondition};
use crate::error::Error;
use crate::ldap::{self, Entry, Mod};
use crate::mapping::patch::{Plan, plan_patch, plan_replace};
use crate::mapping::resource;
use crate::mapping::unmapped::Unmapped;
use crate::mapping::{self, AttrMap};
use crate::scim::ResourceKind;
use crate::scim::patch;
use crate::scim::query::Projection;

/// What a PATCH answers.
#[derive(Debug, Clone)]
pub enum Patched {
    /// 200 with the resource.
    Resource(Versioned),
    /// 204 No Content: groups answer so unless the client asked for
    /// attributes, since rendering thousands of members nobody reads costs
    /// searches.
    NoContent,
}

/// The client's If-Match as a tag without `W/` and quotes.
fn parse_etag(tag: &str) -> String {
    let t = tag.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    t.trim_matches('"').to_owned()
}

/// A failed If-Match checked before the write.
fn changed_since_if_match() -> Error {
    Error::PreconditionFailed("the resource changed since the version given in If-Match".to_owned())
}

/// Groups answer a PATCH with 204 unless the client asked for attributes.
fn patch_answer(kind: ResourceKind, projection: Option<&Projection>) -> Answer {
    if kind == ResourceKind::Group && projection.is_none_or(Projection::is_default) {
        Answer::NoContent
    } else {
        Answer::Entry
    }
}

/// What a PATCH or PUT writes besides its plan, the same on every attempt.
struct Rewrite<'a> {
    id: &'a str,
    /// `patch` or `replace`, for the audit line.
    verb: &'static str,
    /// Paths left out under `unmapped = "ignore"`, for the audit line.
    ignored: &'a [String],
    if_match: Option<&'a str>,
    answer: Answer,
    what: &'a str,
    ctx: &'a Ctx,
}

/// One PATCH as every attempt of the retry loop sees it.
struct PatchJob<'a> {
    rewrite: Rewrite<'a>,
    ops: &'a [patch::Operation],
    /// The ids the operations refer to, resolved afresh on each attempt.
    ids: &'a [String],
    projection: Option<&'a Projection>,
}

impl Attempt {
    /// Whether this attempt's write may answer [`Written::Replan`].
    fn replan(self) -> Replan {
        if self.is_last() {
            Replan::Never
        } else {
            Replan::Allowed
        }
    }
}

impl<D: Directory> Service<D> {
    /// `PATCH /{Users|Groups}/{id}`: membership changes a group answers with
    /// 204 take the shortcut; everything else is planned against the entry
    /// and written through the retry loop.
    pub async fn patch(
        &self,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        projection: Option<&Projection>,
        ctx: &Ctx,
    ) -> Result<Patched, Error> {
        let map = self.map(kind)?;
        let (ops, ignored) = self.patch_operations(map, kind, body)?;
        let answer = patch_answer(kind, projection);
        // Ignored paths go through the general path, whose audit line lists them.
        if answer == Answer::NoContent && if_match.is_none() && ignored.is_empty() {
            if let Some(delta) = mapping::patch::member_delta(map, &ops) {
                if self.patch_members(map, id, &delta, ctx).await? == Shortcut::Done {
                    return Ok(Patched::NoContent);
                }
            }
        }
        let ids = mapping::patch::reference_ids(map, &ops);
        let what = format!("update {}", kind.name());
        let job = PatchJob {
            rewrite: Rewrite {
                id,
                verb: "patch",
                ignored: &ignored,
                if_match,
                answer,
                what: &what,
                ctx,
            },
            ops: &ops,
            ids: &ids,
            projection,
        };
        retrying(&what, |attempt| self.patch_attempt(map, &job, attempt)).await
    }

    /// The body's operations, less those `unmapped = "ignore"` leaves out,
    /// and the distinct paths it left out (noted for the log).
    fn patch_operations(
        &self,
        map: &AttrMap,
        kind: ResourceKind,
        body: &Value,
    ) -> Result<(Vec<patch::Operation>, Vec<String>), Error> {
        let mut ignored = Vec::new();
        let ops = match map.unmapped {
            Unmapped::Reject => patch::parse(body)?,
            Unmapped::Ignore => {
                mapping::unmapped::prune_ops(map, patch::parse(body)?, &mut ignored)
            }
        };
        let ignored = mapping::unmapped::distinct(ignored);
        self.note_ignored(kind, &ignored);
        Ok((ops, ignored))
    }

    /// One attempt: read the entry and the referenced ids, plan the
    /// operations against the entry, write the plan, answer.
    async fn patch_attempt(
        &self,
        map: &AttrMap,
        job: &PatchJob<'_>,
        attempt: Attempt,
    ) -> Result<Step<Patched>, Error> {
        let (entry, refs) = tokio::join!(
            self.find(map, job.rewrite.id, map.read_attributes()),
            self.resolve_ids(job.ids)
        );
        let (entry, refs) = (entry?, refs?);
        let plan = plan_patch(map, &entry, job.ops, &refs)?;
        let after = match self
            .write_plan(map, &job.rewrite, entry, plan, attempt)
            .await?
        {
            Step::Done(after) => after,
            Step::Again(why) => return Ok(Step::Again(why)),
        };
        if job.rewrite.answer == Answer::NoContent {
            return Ok(Step::Done(Patched::NoContent));
        }
        let p = job.projection.cloned().unwrap_or_default();
        let v = self
            .render_one(map, &after, &p, job.rewrite.ctx, refs)
            .await?;
        Ok(Step::Done(Patched::Resource(v)))
    }

    /// Checks If-Match and writes a PATCH's or PUT's plan (nothing when it
    /// changes nothing), then audits and counts it; the entry after it. The
    /// entry moved, or a value refused because a concurrent writer changed
    /// the entry meanwhile, asks for another attempt.
    async fn write_plan(
        &self,
        map: &AttrMap,
        r: &Rewrite<'_>,
        entry: Entry,
        plan: Plan,
        attempt: Attempt,
    ) -> Result<Step<Entry>, Error> {
        self.explain_derivations(&plan);
        let pre = self.precondition(map, &entry, r.if_match)?;
        if plan.is_noop() {
            return Ok(Step::Done(entry));
        }
        let changed = plan.changed_attributes();
        let disabled = Self::disables(map, &plan.mods);
        let how = Write {
            pre,
            concurrency: Concurrency::of(r.if_match),
            answer: r.answer,
            replan: attempt.replan(),
            what: r.what,
        };
        match self.execute(map, &entry, plan, how).await {
            Ok(Written::Entry(after)) => {
                let kind = map.kind;
                self.audit_ignoring(r.ctx, r.verb, kind, &after.dn, &changed, r.ignored);
                let outcome = if disabled { "disabled" } else { "updated" };
                self.metrics.provisioned(kind, outcome);
                Ok(Step::Done(after))
            }
            Ok(Written::Replan) => Ok(Step::Again(Why::EntryMoved)),
            Err(Error::BadRequest { .. })
                if !attempt.is_last() && self.lost_race(map, &entry).await =>
            {
                Ok(Step::Again(Why::LostRace))
            }
            Err(e) => Err(self.still_there(map, r.id, e).await),
        }
    }

    /// A write that did not find its entry at its DN, attempts exhausted:
    /// when the entry is still there by id, it moved under the write (389-ds
    /// carrying out queued renames after a stall), so the answer is 503 and
    /// the client tries again — 404 only when the id is really gone.
    async fn still_there(&self, map: &AttrMap, id: &str, e: Error) -> Error {
        match e {
            Error::NotFound(detail) if self.find(map, id, ldap::no_attributes()).await.is_ok() => {
                Error::Unavailable(format!("{detail}; it moved meanwhile, try again"))
            }
            e => e,
        }
    }

    /// Tells `explain` what the plan did with derived values and why.
    fn explain_derivations(&self, plan: &Plan) {
        for d in &plan.derivations {
            self.dir.explain(d.to_string());
        }
    }

    /// Whether a user's modifications set the disabled marker.
    fn disables(map: &AttrMap, mods: &[Mod]) -> bool {
        map.kind == ResourceKind::User
            && map.disable.iter().any(|d| {
                mods.iter().any(|m| matches!(m, Mod::Add(a, v) if a.eq_ignore_ascii_case(&d.attribute) && v.contains(&d.value)))
            })
    }

    /// After a refused write, whether the entry changed meanwhile (a
    /// concurrent writer added or removed the same value): then retry.
    async fn lost_race(&self, map: &AttrMap, before: &Entry) -> bool {
        let Ok(Some(now)) = self.reread(map, &before.dn).await else {
            return false;
        };
        resource::version(map, &now) != resource::version(map, before)
    }

    /// `PUT /{Users|Groups}/{id}`.
    pub async fn replace(
        &self,
        kind: ResourceKind,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        ctx: &Ctx,
    ) -> Result<Versioned, Error> {
        let map = self.map(kind)?;
        let ids = resource::reference_ids(map, body);
        let what = format!("replace {}", kind.name());
        retrying(&what, |attempt| {
            let (ids, what) = (&ids, &what);
            async move {
                let (entry, refs) = tokio::join!(
                    self.find(map, id, map.read_attributes()),
                    self.resolve_ids(ids)
                );
                let (entry, refs) = (entry?, refs?);
                let desired = resource::desired(map, body, &refs)?;
                let ignored = desired.ignored.clone();
                if attempt.is_first() {
                    self.note_ignored(kind, &ignored);
                }
                let plan = plan_replace(map, &entry, desired)?;
                let r = Rewrite {
                    id,
                    verb: "replace",
                    ignored: &ignored,
                    if_match,
                    answer: Answer::Entry,
                    what,
                    ctx,
                };
                let after = match self.write_plan(map, &r, entry, plan, attempt).await? {
                    Step::Done(after) => after,
                    Step::Again(why) => return Ok(Step::Again(why)),
                };
                let v = self
                    .render_one(map, &after, &Projection::default(), ctx, refs)
                    .await?;
                Ok(Step::Done(v))
            }
        })
        .await
    }

    /// The assertion an If-Match asks for. Without the Assertion control the
    /// version read just before the write is compared here; the write itself
    /// then carries no guard.
    pub(super) fn precondition(
        &self,
        map: &AttrMap,
        entry: &Entry,
        if_match: Option<&str>,
    ) -> Result<Option<Precondition>, Error> {
        let Some(tag) = if_match else { return Ok(None) };
        if tag.trim() == "*" {
            return Ok(None);
        }
        let want = parse_etag(tag);
        let current = resource::version(map, entry).map(|v| parse_etag(&v));
        if current.as_deref() != Some(want.as_str()) {
            return Err(changed_since_if_match());
        }
        if !self.dir.capabilities().assertion {
            return Ok(None);
        }
        Ok(Some(Precondition {
            attribute: map.version_attribute.clone(),
            value: want,
        }))
    }
}
