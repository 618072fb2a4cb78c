//! The direct side: the same work with ldap3, the fewest round trips a hand-written client
//! needs (or, with --mirror, exactly the daemon's requests), with the daemon's entries and
//! attribute lists taken from its configuration (`shape`).

use std::collections::HashSet;

use ldap3::{Mod, Scope, SearchEntry};

use crate::client::{Ctx, GROUPS, OpResult, PEOPLE, entra_user, group_body};

impl Ctx {
    pub async fn search(
        &self,
        base: &str,
        filter: &str,
        attrs: Vec<String>,
    ) -> Result<Vec<SearchEntry>, String> {
        let (rs, _) = self
            .handle()
            .search(base, Scope::Subtree, filter, attrs)
            .await
            .map_err(|e| format!("search {filter}: {e}"))?
            .success()
            .map_err(|e| format!("search {filter}: {e}"))?;
        Ok(rs.into_iter().map(SearchEntry::construct).collect())
    }

    /// The DN of the entry with this entryUUID (the id a SCIM client holds).
    pub async fn dn_of(&self, base: &str, id: &str) -> Result<String, String> {
        let found = self
            .search(base, &format!("(entryUUID={id})"), vec!["1.1".to_owned()])
            .await?;
        found
            .into_iter()
            .next()
            .map(|e| e.dn)
            .ok_or_else(|| format!("no entry with entryUUID {id}"))
    }

    /// The controls the daemon sends with a write (PostRead of what it renders).
    pub fn write_controls(&self, read: &[String]) -> Vec<ldap3::controls::RawControl> {
        if self.opts.mirror && self.post_read {
            vec![ldap3::controls::PostRead::new(read.to_vec())]
        } else {
            Vec::new()
        }
    }

    /// --mirror on a server without PostRead: the daemon reads the entry back. Returns the
    /// entry's entryUUID when it was read.
    pub async fn read_back(&self, dn: &str, read: &[String]) -> Result<Option<String>, String> {
        if !self.opts.mirror || self.post_read {
            return Ok(None);
        }
        let (rs, _) = self
            .handle()
            .search(dn, Scope::Base, "(objectClass=*)", read.to_vec())
            .await
            .map_err(|e| format!("read back {dn}: {e}"))?
            .success()
            .map_err(|e| format!("read back {dn}: {e}"))?;
        Ok(rs
            .into_iter()
            .map(SearchEntry::construct)
            .next()
            .and_then(|e| e.attrs.get("entryUUID").and_then(|v| v.first().cloned())))
    }

    pub async fn direct_create(&self, name: &str) -> OpResult {
        let dn = self.user_dn(name);
        let controls = self.write_controls(&self.shape.user_read);
        self.handle()
            .with_controls(controls)
            .add(&dn, self.shape.user_entry(&entra_user(name)))
            .await
            .map_err(|e| format!("add {dn}: {e}"))?
            .success()
            .map_err(|e| format!("add {dn}: {e}"))?;
        self.read_back(&dn, &self.shape.user_read).await.map(|_| ())
    }

    /// A search as the daemon's list sends it (--mirror): objectClass conjunct, paged results.
    pub async fn paged_search(
        &self,
        base: &str,
        filter: &str,
        attrs: Vec<String>,
    ) -> Result<usize, String> {
        let paged = ldap3::controls::PagedResults {
            size: 500,
            cookie: Vec::new(),
        };
        let (rs, _) = self
            .handle()
            .with_controls(paged)
            .search(base, Scope::Subtree, filter, attrs)
            .await
            .map_err(|e| format!("search {filter}: {e}"))?
            .success()
            .map_err(|e| format!("search {filter}: {e}"))?;
        Ok(rs.into_iter().map(SearchEntry::construct).count())
    }

    pub async fn direct_match(&self, name: &str, want: usize) -> OpResult {
        if self.opts.mirror {
            let filter = format!("(&(objectClass=inetOrgPerson)(uid={name}))");
            let n = self
                .paged_search(PEOPLE, &filter, self.shape.user_read.clone())
                .await?;
            if n != want {
                return Err(format!("match {name}: {n} entries, wanted {want}"));
            }
            return Ok(());
        }
        let found = self
            .search(
                PEOPLE,
                &format!("(uid={name})"),
                self.shape.user_read.clone(),
            )
            .await?;
        if found.len() != want {
            return Err(format!(
                "match {name}: {} entries, wanted {want}",
                found.len()
            ));
        }
        Ok(())
    }

    /// The entry to change: its DN only, or (--mirror) the whole entry as the daemon reads it.
    pub async fn find_user(&self, name: &str) -> Result<String, String> {
        let id = self.id(name)?;
        if !self.opts.mirror {
            return self.dn_of(PEOPLE, &id).await;
        }
        let found = self
            .search(
                PEOPLE,
                &format!("(entryUUID={id})"),
                self.shape.user_read.clone(),
            )
            .await?;
        found
            .into_iter()
            .next()
            .map(|e| e.dn)
            .ok_or_else(|| format!("no entry with entryUUID {id}"))
    }

    /// A modify, with the daemon's PostRead under --mirror.
    pub async fn modify_as_daemon(
        &self,
        dn: &str,
        mods: Vec<Mod<String>>,
        read: &[String],
    ) -> OpResult {
        let controls = self.write_controls(read);
        self.handle()
            .with_controls(controls)
            .modify(dn, mods)
            .await
            .map_err(|e| format!("modify {dn}: {e}"))?
            .success()
            .map_err(|e| format!("modify {dn}: {e}"))?;
        self.read_back(dn, read).await.map(|_| ())
    }

    pub async fn direct_update(&self, name: &str, i: usize) -> OpResult {
        let dn = self.find_user(name).await?;
        let one = |v: String| HashSet::from([v]);
        self.modify_as_daemon(
            &dn,
            vec![
                Mod::Replace("displayName".to_owned(), one(format!("Updated User {i}"))),
                Mod::Replace("title".to_owned(), one(format!("Lead {i}"))),
                Mod::Replace("departmentNumber".to_owned(), one(format!("Dept {i}"))),
            ],
            &self.shape.user_read,
        )
        .await
    }

    pub async fn direct_disable(&self, name: &str) -> OpResult {
        let dn = self.find_user(name).await?;
        let (attr, value) = self.shape.disable();
        self.modify_as_daemon(
            &dn,
            vec![Mod::Add(attr.to_owned(), HashSet::from([value.to_owned()]))],
            &self.shape.user_read,
        )
        .await
    }

    pub async fn direct_create_group(&self, name: &str) -> OpResult {
        let dn = format!("cn={name},{GROUPS}");
        let attrs = self.shape.group_entry(&group_body(name));
        let controls = self.write_controls(&self.shape.group_read);
        let res = self
            .handle()
            .with_controls(controls)
            .add(&dn, attrs)
            .await
            .map_err(|e| format!("add {dn}: {e}"))?
            .success()
            .map_err(|e| format!("add {dn}: {e}"))?;
        if self.opts.mirror {
            // --mirror finds the group by id, as the daemon does: the id comes back with the
            // write (PostRead) or from the read-back.
            let from_control = res.ctrls.iter().find_map(|c| {
                (c.1.ctype == "1.3.6.1.1.13.2")
                    .then(|| c.1.parse::<ldap3::controls::PostReadResp>())
                    .and_then(|r| r.attrs.get("entryUUID").and_then(|v| v.first().cloned()))
            });
            let id = match from_control {
                Some(id) => Some(id),
                None => self.read_back(&dn, &self.shape.group_read).await?,
            };
            let id = id.ok_or_else(|| format!("no entryUUID for {dn}"))?;
            self.set_id(name.to_owned(), id);
        }
        Ok(())
    }

    /// One search resolving the members' ids to DNs, one modify adding them (and dropping the
    /// placeholder, as the daemon does for a group that had none).
    pub async fn direct_add_members(&self, group: &str, members: &[String]) -> OpResult {
        let mut filter = String::from("(|");
        for m in members {
            filter.push_str(&format!("(entryUUID={})", self.id(m)?));
        }
        filter.push(')');
        let found = if self.opts.mirror {
            // The daemon: the group (with its members) and the ids, concurrently; the ids
            // searched under the bases' common ancestor.
            let group_filter = format!("(entryUUID={})", self.id(group)?);
            let (g, found) = tokio::join!(
                self.search(GROUPS, &group_filter, self.shape.group_read.clone()),
                self.search(
                    "dc=example,dc=com",
                    &filter,
                    ["entryUUID", "uid", "displayName", "cn"]
                        .iter()
                        .map(|s| (*s).to_owned())
                        .collect()
                )
            );
            g?;
            found?
        } else {
            self.search(PEOPLE, &filter, vec!["1.1".to_owned()]).await?
        };
        if found.len() != members.len() {
            return Err(format!(
                "members of {group}: {} of {} found",
                found.len(),
                members.len()
            ));
        }
        let dns: HashSet<String> = found.into_iter().map(|e| e.dn).collect();
        let (member, placeholder) = self.shape.member_attribute();
        self.modify_as_daemon(
            &format!("cn={group},{GROUPS}"),
            vec![
                Mod::Delete(member.clone(), HashSet::from([placeholder])),
                Mod::Add(member, dns),
            ],
            &self.shape.group_read,
        )
        .await
    }

    pub async fn direct_match_group(&self, name: &str, want: usize) -> OpResult {
        let attrs = self.shape.group_read_no_members.clone();
        let n = if self.opts.mirror {
            let filter = format!("(&(objectClass=groupOfNames)(cn={name}))");
            self.paged_search(GROUPS, &filter, attrs).await?
        } else {
            self.search(GROUPS, &format!("(cn={name})"), attrs)
                .await?
                .len()
        };
        if n != want {
            return Err(format!("match group {name}: {n} entries"));
        }
        Ok(())
    }

    /// Reads the entryUUIDs of the direct side's users (or groups) of a set: the ids a SCIM
    /// client gets back from its creates. Not timed.
    pub async fn learn_ids(&self, base: &str, attr: &str, prefix: &str) -> Result<usize, String> {
        let found = self
            .search(
                base,
                &format!("({attr}={prefix}*)"),
                vec![attr.to_owned(), "entryUUID".to_owned()],
            )
            .await?;
        let n = found.len();
        let mut ids = self.ids.lock().unwrap();
        for e in found {
            let name = e.attrs.get(attr).and_then(|v| v.first()).cloned();
            let id = e.attrs.get("entryUUID").and_then(|v| v.first()).cloned();
            if let (Some(name), Some(id)) = (name, id) {
                ids.insert(name, id);
            }
        }
        Ok(n)
    }

    pub async fn entry(&self, dn: &str) -> Option<SearchEntry> {
        let (rs, _) = self
            .handle()
            .search(dn, Scope::Base, "(objectClass=*)", vec!["*"])
            .await
            .ok()?
            .success()
            .ok()?;
        rs.into_iter().next().map(SearchEntry::construct)
    }
}
