//! `POST /{Users|Groups}`: one add whose PostRead brings back only what the
//! server generates, then the password when it is set by extended operation
//! (undoing the add if that fails, so nothing is left half-written).

use super::allocate::Chosen;
use super::errors::dir_error;
use super::retry::{Attempt, RACE_RETRIES, Step, Why, retrying_up_to};
use super::{Ctx, Service, Versioned, new_token};
use crate::directory::{DirError, Directory, rc};
use crate::error::Error;
use crate::ldap::{Dn, Entry};
use crate::mapping::allocate::parse_number;
use crate::mapping::patch::plan_create;
use crate::mapping::resource;
use crate::mapping::{self, AttrMap};
use crate::scim::ResourceKind;
use crate::scim::query::Projection;

/// Whether a constraintViolation is the directory's uniqueness check
/// refusing a number this daemon allocated: OpenLDAP's unique overlay and
/// 389-ds's attribute uniqueness plugin both name the attribute.
fn names_allocated(text: &str, chosen: &[Chosen]) -> bool {
    let text = text.to_ascii_lowercase();
    chosen
        .iter()
        .any(|c| !c.by_server && text.contains(&c.attribute.to_ascii_lowercase()))
}

/// Attempts of a create whose allocated numbers the directory may refuse
/// as taken (each attempt passes over the numbers refused before).
const ALLOCATE_ATTEMPTS: usize = 6;

/// One create's add, carried from attempt to attempt: what to add, and the
/// numbers refused as taken so far.
struct Adding<'a> {
    map: &'a AttrMap,
    dn: &'a Dn,
    attrs: &'a [(String, Vec<String>)],
    what: &'a str,
    refused: std::sync::Mutex<Vec<u64>>,
}

impl Adding<'_> {
    /// Numbers the next attempts pass over.
    fn refuse(&self, numbers: impl IntoIterator<Item = u64>) {
        if let Ok(mut r) = self.refused.lock() {
            r.extend(numbers);
        }
    }
}

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
        let what = format!("create {}", kind.name());
        let (read_back, chosen) = self.add_allocating(map, &new.dn, &new.attrs, &what).await?;
        for c in &chosen {
            tracing::debug!(dn = %new.dn, attribute = %c.attribute, value = %c.value, why = %c.why, "allocated");
            self.dir.explain(format!(
                "allocated {} = {}: {}",
                c.attribute, c.value, c.why
            ));
        }
        // Numbers the directory allocated come back with what it generated.
        new.attrs.extend(
            chosen
                .into_iter()
                .filter(|c| !c.by_server)
                .map(|c| (c.attribute, vec![c.value])),
        );
        let attr_names: Vec<String> = new.attrs.iter().map(|(k, _)| k.clone()).collect();
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
                if let Err(undo) = self.undo_add(map, &new.dn).await {
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
        let mut v = self
            .render_one(map, &entry, &Projection::default(), ctx, refs)
            .await?;
        let id = entry.first(&map.id_attribute).unwrap_or_default();
        v.location = Some(resource::location(&ctx.base_url, kind, id));
        Ok(v)
    }

    /// The add with the numbers of `[users.allocate]`, answered with what
    /// the server generated (PostRead asks for the attributes not written,
    /// and for numbers the server allocates). A number taken meanwhile
    /// (the directory's uniqueness check refused it) is allocated again
    /// without it; the parent missing, or (389-ds under contention) not
    /// lockable in time, is tried again while the base is there.
    async fn add_allocating(
        &self,
        map: &AttrMap,
        dn: &Dn,
        attrs: &[(String, Vec<String>)],
        what: &str,
    ) -> Result<(Entry, Vec<Chosen>), Error> {
        let adding = Adding {
            map,
            dn,
            attrs,
            what,
            refused: std::sync::Mutex::new(Vec::new()),
        };
        let attempts = if map.allocate.is_empty() {
            RACE_RETRIES
        } else {
            ALLOCATE_ATTEMPTS
        };
        retrying_up_to(attempts, what, |attempt| self.add_once(&adding, attempt)).await
    }

    /// One attempt of [`Service::add_allocating`]: allocate (passing over
    /// the numbers refused so far), add, and tell what came of it.
    async fn add_once(
        &self,
        a: &Adding<'_>,
        attempt: Attempt,
    ) -> Result<Step<(Entry, Vec<Chosen>)>, Error> {
        let (map, what) = (a.map, a.what);
        let skip = a.refused.lock().map(|v| v.clone()).unwrap_or_default();
        let chosen = self.allocate(map, a.attrs, &skip).await?;
        let mut all = a.attrs.to_vec();
        all.extend(
            chosen
                .iter()
                .map(|c| (c.attribute.clone(), vec![c.value.clone()])),
        );
        let generated: Vec<String> = map
            .read_attributes()
            .into_iter()
            .filter(|attr| !all.iter().any(|(w, _)| w.eq_ignore_ascii_case(attr)))
            .chain(
                chosen
                    .iter()
                    .filter(|c| c.by_server)
                    .map(|c| c.attribute.clone()),
            )
            .collect();
        let dn = a.dn.to_string();
        match self.dir.add(&dn, all, &generated).await {
            Err(DirError::Result {
                rc: rc::CONSTRAINT_VIOLATION,
                text,
            }) if names_allocated(&text, &chosen) => {
                if attempt.is_last() {
                    return Err(Error::Unavailable(format!(
                        "{what}: the numbers allocated kept being taken by other writers ({text}); try again"
                    )));
                }
                tracing::debug!(dn = %dn, error = %text, "an allocated number was taken meanwhile; allocating again");
                a.refuse(
                    chosen
                        .iter()
                        .filter_map(|c| (!c.by_server).then(|| parse_number(&c.value)).flatten()),
                );
                Ok(Step::Again(Why::NumberTaken))
            }
            Err(DirError::Result {
                rc: rc::NO_SUCH_OBJECT,
                text,
            }) => self.parent_missing(map, what, attempt, &text).await,
            other => {
                let entry = other
                    .map_err(|e| {
                        let exists = matches!(
                            &e,
                            DirError::Result {
                                rc: rc::ENTRY_ALREADY_EXISTS,
                                ..
                            }
                        );
                        let e = dir_error(map, e, what);
                        if exists {
                            name_taken(map, a.dn, a.attrs, e, what)
                        } else {
                            e
                        }
                    })?
                    .ok_or_else(|| {
                        Error::Internal("the directory returned no entry after add".to_owned())
                    })?;
                self.keep_unless_shared(a, &dn, entry, chosen, attempt)
                    .await
            }
        }
    }

    /// The add found no parent: an error when the base is gone, otherwise
    /// (389-ds could not lock the parent in time) another attempt.
    async fn parent_missing<T>(
        &self,
        map: &AttrMap,
        what: &str,
        attempt: Attempt,
        text: &str,
    ) -> Result<Step<T>, Error> {
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

    /// The entry just added, kept when its numbers are its own: numbers
    /// the server was to allocate must have come back, and a number another
    /// create took at the same moment sends this entry away again and the
    /// create allocates once more without that number.
    async fn keep_unless_shared(
        &self,
        a: &Adding<'_>,
        dn: &str,
        entry: Entry,
        chosen: Vec<Chosen>,
        attempt: Attempt,
    ) -> Result<Step<(Entry, Vec<Chosen>)>, Error> {
        let (map, what) = (a.map, a.what);
        self.server_allocated(map, &entry, &chosen).await?;
        let Some(n) = self.shared_number(map, &entry, &chosen).await? else {
            return Ok(Step::Done((entry, chosen)));
        };
        if let Err(undo) = self.undo_add(map, &entry.dn).await {
            tracing::error!(dn = %dn, error = %undo, "could not remove the entry whose number another entry took at the same moment");
            // Not retryable: the entry stays until someone removes it.
            return Err(Error::Internal(format!(
                "{what}: {dn} got a number another entry took at the same moment and could not be removed again ({undo}); remove it, then create again"
            )));
        }
        if attempt.is_last() {
            return Err(Error::Unavailable(format!(
                "{what}: the numbers allocated kept being taken by other writers; try again"
            )));
        }
        tracing::debug!(dn = %dn, number = n, "an allocated number was taken at the same moment; allocating again");
        a.refuse([n]);
        Ok(Step::Again(Why::NumberTaken))
    }

    /// Removes an entry this request added, so that nothing is left
    /// half-written; tried again while the server is too busy to lock it
    /// (see [`Service::while_busy`]), and gone already is no error.
    async fn undo_add(&self, map: &AttrMap, dn: &Dn) -> Result<(), Error> {
        let what = "removing the entry just added";
        let dn_text = dn.to_string();
        match self
            .while_busy(map, dn, what, || self.dir.delete(&dn_text, None))
            .await?
        {
            Ok(())
            | Err(DirError::Result {
                rc: rc::NO_SUCH_OBJECT,
                ..
            }) => Ok(()),
            Err(e) => Err(dir_error(map, e, what)),
        }
    }

    /// Every number the server was to allocate came back as a number; an
    /// entry still holding the magic value (no allocator configured for it)
    /// is removed again.
    async fn server_allocated(
        &self,
        map: &AttrMap,
        entry: &Entry,
        chosen: &[Chosen],
    ) -> Result<(), Error> {
        if self.dir.records_only() {
            return Ok(());
        }
        for c in chosen.iter().filter(|c| c.by_server) {
            let got = entry.first(&c.attribute);
            if got.is_some_and(|v| v != c.value && parse_number(v).is_some()) {
                continue;
            }
            let dn = entry.dn.to_string();
            if let Err(undo) = self.undo_add(map, &entry.dn).await {
                tracing::error!(dn = %dn, error = %undo, "could not remove the entry after its number was not allocated");
            }
            return Err(Error::Internal(format!(
                "{} of {}: the directory did not replace the magic value {} with a number (is its allocator, e.g. 389-ds DNA, configured for {} under {}?); nothing was kept",
                c.attribute, dn, c.value, c.attribute, map.base
            )));
        }
        Ok(())
    }
}

/// A 409 from the add is the entry's name taken: for a computed name, say
/// which values gave it (two `userName`s may give one login).
fn name_taken(
    map: &AttrMap,
    dn: &Dn,
    attrs: &[(String, Vec<String>)],
    e: Error,
    what: &str,
) -> Error {
    let (Error::Conflict(_), Some(name)) = (&e, dn.rdn_value(&map.rdn)) else {
        return e;
    };
    if map.naming_template().is_none() {
        return e;
    }
    let value = |attr: &str| {
        attrs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(attr))
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    };
    Error::Conflict(format!("{what}: {}", map.name_taken(name, value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(attribute: &str, by_server: bool) -> Chosen {
        Chosen {
            attribute: attribute.to_owned(),
            value: "200001".to_owned(),
            by_server,
            why: String::new(),
        }
    }

    #[test]
    fn only_a_refusal_naming_an_allocated_number_is_allocated_again() {
        let c = [chosen("uidNumber", false), chosen("gidNumber", true)];
        // OpenLDAP's unique overlay and 389-ds's attribute uniqueness plugin.
        assert!(names_allocated(
            "non-unique attributes found with (&(objectClass=posixAccount)(|(uidNumber=4242)))",
            &c
        ));
        assert!(names_allocated(
            "Another entry with the same attribute value already exists (attribute: \"uidNumber \")",
            &c
        ));
        // Another constraint, or only the server-allocated attribute named.
        assert!(!names_allocated("value too long for mail", &c));
        assert!(!names_allocated("attribute: \"gidNumber\"", &c));
    }
}
