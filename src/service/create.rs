//! `POST /{Users|Groups}`: one add whose PostRead brings back only what the
//! server generates, then the password when it is set by extended operation
//! (undoing the add if that fails, so nothing is left half-written).

use super::errors::dir_error;
use super::retry::{Step, Why, retrying};
use super::{Ctx, Service, Versioned, new_token};
use crate::directory::{DirError, Directory, rc};
use crate::error::Error;
use crate::ldap::{Dn, Entry};
use crate::mapping::patch::{NewEntry, plan_create};
use crate::mapping::resource;
use crate::mapping::{self, AttrMap};
use crate::scim::ResourceKind;
use crate::scim::query::Projection;

impl<D: Directory> Service<D> {
    /// `POST /{Users|Groups}`.
    pub async fn create(
        &self,
        kind: ResourceKind,
        body: &serde_json::Value,
        ctx: &Ctx,
    ) -> Result<Versioned, Error> {
        let map = self.map(kind)?;
        let refs = self
            .resolve_ids(&resource::reference_ids(map, body))
            .await?;
        let desired = resource::desired(map, body, &refs)?;
        let ignored = desired.ignored.clone();
        self.note_ignored(kind, &ignored);
        let mut new = plan_create(map, desired)?;
        let password = new.password.take();
        if let (Some(pw), Some(mapping::PasswordMode::Attribute)) = (&password, map.password) {
            new.attrs.push((
                "userPassword".to_owned(),
                vec![secrecy::ExposeSecret::expose_secret(pw).to_owned()],
            ));
        }
        if let Some(t) = &map.version_token {
            new.attrs.push((t.clone(), vec![new_token()]));
        }
        let attr_names: Vec<String> = new.attrs.iter().map(|(k, _)| k.clone()).collect();
        let what = format!("create {}", kind.name());
        let read_back = self
            .add(map, &new.dn, &new.attrs, &attr_names, &what)
            .await
            .map_err(|e| name_taken(map, &new, e, &what))?;
        // The entry is rendered from the values written plus what only the
        // server knows (id, timestamps, version, memberOf, anything a server
        // plugin fills in).
        let generated_values = read_back
            .attrs
            .into_iter()
            .filter(|(k, _)| !attr_names.iter().any(|w| w.eq_ignore_ascii_case(k)));
        let written = new
            .attrs
            .into_iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("userPassword"));
        let mut entry = Entry::new(read_back.dn, written.chain(generated_values));
        if let (Some(pw), Some(mapping::PasswordMode::Modify)) = (&password, map.password) {
            let dn = new.dn.to_string();
            if let Err(e) = self.dir.set_password(&dn, pw).await {
                // Leave nothing half-written: the entry goes again.
                if let Err(undo) = self.dir.delete(&dn, None).await {
                    tracing::error!(dn = %dn, error = %undo, "could not remove the entry after its password failed");
                }
                return Err(dir_error(map, e, "set password"));
            }
            if let Some(e) = self.reread(map, &new.dn).await? {
                entry = e;
            }
        }
        self.audit_ignoring(ctx, "create", kind, &new.dn, &attr_names, &ignored);
        self.metrics.provisioned(kind, "created");
        self.render_one(map, &entry, &Projection::default(), ctx, refs)
            .await
    }

    /// The add, answered with what the server generated (PostRead asks for
    /// the attributes not written). The parent missing, or (389-ds under
    /// contention) not lockable in time, is tried again while the base is
    /// there.
    async fn add(
        &self,
        map: &AttrMap,
        dn: &Dn,
        attrs: &[(String, Vec<String>)],
        attr_names: &[String],
        what: &str,
    ) -> Result<Entry, Error> {
        let generated: Vec<String> = map
            .read_attributes()
            .into_iter()
            .filter(|a| !attr_names.iter().any(|w| w.eq_ignore_ascii_case(a)))
            .collect();
        let dn = dn.to_string();
        retrying(what, |attempt| {
            let (dn, generated) = (&dn, &generated);
            async move {
                match self.dir.add(dn, attrs.to_vec(), generated).await {
                    Err(DirError::Result {
                        rc: rc::NO_SUCH_OBJECT,
                        text,
                    }) => {
                        if !self.base_exists(map).await? {
                            return Err(Error::Internal(format!(
                                "{what}: the base {} does not exist in the directory",
                                map.base
                            )));
                        }
                        if attempt.is_last() {
                            return Err(Error::Unavailable(format!(
                                "{what}: the directory could not add under {} just now ({text})",
                                map.base
                            )));
                        }
                        Ok(Step::Again(Why::ServerBusy))
                    }
                    other => other
                        .map_err(|e| dir_error(map, e, what))?
                        .map(Step::Done)
                        .ok_or_else(|| {
                            Error::Internal("the directory returned no entry after add".to_owned())
                        }),
                }
            }
        })
        .await
    }
}

/// A 409 from the add is the entry's name taken: for a computed name, say
/// which values gave it (two `userName`s may give one login).
fn name_taken(map: &AttrMap, new: &NewEntry, e: Error, what: &str) -> Error {
    let (Error::Conflict(_), Some(name)) = (&e, new.dn.rdn_value(&map.rdn)) else {
        return e;
    };
    if map.naming_template().is_none() {
        return e;
    }
    let value = |attr: &str| {
        new.attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(attr))
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    };
    Error::Conflict(format!("{what}: {}", map.name_taken(name, value)))
}
