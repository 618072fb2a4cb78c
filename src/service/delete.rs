//! `DELETE /{Users|Groups}/{id}`: memberships first (when the daemon owns
//! referential integrity), then the entry, so an interrupted delete is
//! completed by the client's retry and never leaves a dangling member.

use super::errors::{busy, dir_error};
use super::retry::{Step, Why, retrying};
use super::{Ctx, Service};
use crate::directory::{DirError, Directory, rc};
use crate::error::Error;
use crate::scim::ResourceKind;

impl<D: Directory> Service<D> {
    /// `DELETE /{Users|Groups}/{id}`.
    pub async fn delete(
        &self,
        kind: ResourceKind,
        id: &str,
        if_match: Option<&str>,
        ctx: &Ctx,
    ) -> Result<(), Error> {
        let map = self.map(kind)?;
        let attrs = vec![
            map.id_attribute.clone(),
            map.version_attribute.clone(),
            map.rdn.clone(),
        ];
        let what = format!("delete {}", kind.name());
        let entry = retrying(&what, |attempt| {
            let (attrs, what) = (&attrs, &what);
            async move {
                let entry = self.find(map, id, attrs.clone()).await?;
                let pre = self.precondition(map, &entry, if_match)?;
                self.remove_memberships(&entry).await?;
                match self.dir.delete(&entry.dn.to_string(), pre.as_ref()).await {
                    Ok(()) => Ok(Step::Done(entry)),
                    // Moved since it was found, or not lockable just now: find it again.
                    Err(DirError::Result {
                        rc: rc::NO_SUCH_OBJECT,
                        ..
                    }) if !attempt.is_last() => Ok(Step::Again(Why::EntryMoved)),
                    Err(DirError::Result {
                        rc: rc::NO_SUCH_OBJECT,
                        text,
                    }) if self.exists(map, &entry.dn).await? => Err(busy(what, &entry.dn, &text)),
                    Err(e) => Err(dir_error(map, e, what)),
                }
            }
        })
        .await?;
        self.audit(ctx, "delete", kind, &entry.dn, &[]);
        self.metrics.provisioned(kind, "deleted");
        Ok(())
    }
}
