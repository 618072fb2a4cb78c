//! `scim2ldap explain`: a [`Directory`] that performs reads against the real
//! server and records writes without sending them.

use std::sync::Mutex;

use secrecy::SecretString;

use super::{Capabilities, DirError, Directory, Page, Precondition, Search, Window};
use crate::ldap::{Dn, Entry, Mod};

/// Records every operation as one human-readable line.
pub struct DryRun<D> {
    inner: D,
    log: Mutex<Vec<String>>,
}

/// The id a dry-run add reports for the entry it did not create.
pub const DRY_RUN_ID: &str = "00000000-0000-0000-0000-000000000000";

impl<D: Directory> DryRun<D> {
    pub fn new(inner: D) -> DryRun<D> {
        DryRun {
            inner,
            log: Mutex::new(Vec::new()),
        }
    }

    fn note(&self, line: String) {
        if let Ok(mut l) = self.log.lock() {
            l.push(line);
        }
    }

    /// The operations, in order.
    pub fn operations(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn pre(pre: Option<&Precondition>) -> String {
        pre.map(|p| format!(" [assert ({}={})]", p.attribute, p.value))
            .unwrap_or_default()
    }
}

fn mods_text(mods: &[Mod]) -> String {
    mods.iter()
        .map(|m| match m {
            Mod::Add(a, v) => format!("add {a}: {v:?}"),
            Mod::Delete(a, v) if v.is_empty() => format!("delete {a}"),
            Mod::Delete(a, v) => format!("delete {a}: {v:?}"),
            Mod::Replace(a, v) => format!("replace {a}: {v:?}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl<D: Directory> Directory for DryRun<D> {
    fn capabilities(&self) -> &Capabilities {
        self.inner.capabilities()
    }

    fn explain(&self, why: String) {
        self.note(format!("(why) {why}"));
    }

    fn records_only(&self) -> bool {
        true
    }

    async fn search(&self, s: Search) -> Result<Vec<Entry>, DirError> {
        self.note(format!(
            "search base={:?} scope={:?} filter={} attrs={:?}",
            s.base, s.scope, s.filter, s.attrs
        ));
        self.inner.search(s).await
    }

    async fn search_window(&self, s: Search, page: Page) -> Result<Window, DirError> {
        self.note(format!(
            "search (paged) base={:?} scope={:?} filter={} attrs={:?} window={}+{}{}",
            s.base,
            s.scope,
            s.filter,
            s.attrs,
            page.skip,
            page.take,
            page.sort
                .as_ref()
                .map(|s| format!(" sort={s}"))
                .unwrap_or_default()
        ));
        self.inner.search_window(s, page).await
    }

    async fn add(
        &self,
        dn: &str,
        attrs: Vec<(String, Vec<String>)>,
        _read: &[String],
    ) -> Result<Option<Entry>, DirError> {
        let shown: Vec<String> = attrs
            .iter()
            .map(|(k, v)| {
                if k.eq_ignore_ascii_case("userPassword") {
                    format!("{k}: [redacted]")
                } else {
                    format!("{k}: {v:?}")
                }
            })
            .collect();
        self.note(format!("add dn={dn:?} {}", shown.join("; ")));
        let dn = Dn::parse(dn).map_err(|e| DirError::Protocol(e.to_string()))?;
        let mut e = Entry::new(dn, attrs);
        e.attrs
            .insert("entryuuid".to_owned(), vec![DRY_RUN_ID.to_owned()]);
        Ok(Some(e))
    }

    async fn modify(
        &self,
        dn: &str,
        mods: Vec<Mod>,
        _read: &[String],
        pre: Option<&Precondition>,
    ) -> Result<Option<Entry>, DirError> {
        if !mods.is_empty() {
            self.note(format!(
                "modify dn={dn:?}{} {}",
                Self::pre(pre),
                mods_text(&mods)
            ));
        }
        Ok(None)
    }

    async fn rename(
        &self,
        dn: &str,
        new_rdn: &str,
        _read: &[String],
        pre: Option<&Precondition>,
    ) -> Result<Option<Entry>, DirError> {
        self.note(format!(
            "modrdn dn={dn:?}{} newrdn={new_rdn:?} deleteoldrdn=1",
            Self::pre(pre)
        ));
        Ok(None)
    }

    async fn delete(&self, dn: &str, pre: Option<&Precondition>) -> Result<(), DirError> {
        self.note(format!("delete dn={dn:?}{}", Self::pre(pre)));
        Ok(())
    }

    async fn set_password(&self, dn: &str, _password: &SecretString) -> Result<(), DirError> {
        self.note(format!(
            "extended passwordModify user={dn:?} newPassword=[redacted]"
        ));
        Ok(())
    }

    async fn ready(&self) -> bool {
        self.inner.ready().await
    }
}
