//! Numbers for a new entry (`[users.allocate]`): the searches and writes
//! around the pure arithmetic of [`crate::mapping::allocate`].
//!
//! Round trips per create: *deterministic* one search (an OR of the first
//! candidates inside the base) before the add; *counter* a read and one
//! modify (compare-and-swap: delete the value read, add the next) and one
//! search that the number is free; *server* none (the add writes the magic
//! value, its PostRead brings the number back). A number taken between the
//! search and the add (another instance, a replica) makes the directory's
//! uniqueness check refuse the add; the create allocates again without it.

use std::time::Duration;

use super::errors::{dir_error, search_error};
use super::{Service, new_token};
use crate::directory::{DirError, Directory, Scope, Search, rc};
use crate::error::Error;
use crate::ldap::{Dn, Filter, Mod};
use crate::mapping::AttrMap;
use crate::mapping::allocate::{
    self, Allocation, CounterStep, Probe, Range, Strategy, first_free, parse_number,
};

/// Compare-and-swap attempts on a counter before the create answers 503:
/// each loses only to another allocation that succeeded.
const COUNTER_TRIES: usize = 64;

/// One allocated value of a new entry.
#[derive(Debug, Clone)]
pub struct Chosen {
    /// The LDAP attribute.
    pub attribute: String,
    /// What the add writes: the number, or the server's magic value.
    pub value: String,
    /// The directory replaces the value (strategy `server`): read it back.
    pub by_server: bool,
    /// How the number was found, for `explain` and the debug log.
    pub why: String,
}

/// An exhausted range: 409, naming the attribute, the range and the key.
fn exhausted(a: &Allocation, range: Range) -> Error {
    Error::Conflict(format!(
        "{}: every number in the range {range} is taken ({}); nothing was written; widen the range",
        a.attribute, a.key
    ))
}

/// The first value of `attr` among the attributes of a new entry.
fn first_value<'a>(attrs: &'a [(String, Vec<String>)], attr: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(attr))
        .and_then(|(_, v)| v.first())
        .map(String::as_str)
}

/// A short pause that differs between concurrent allocations, so counter
/// writers that collided do not collide again in step.
fn jitter(attempt: usize) -> Duration {
    let spread = new_token()
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
        % 8;
    Duration::from_millis(spread + attempt.min(8) as u64)
}

impl<D: Directory> Service<D> {
    /// The values of every allocated attribute of a new entry with the
    /// attributes `attrs`, passing over the numbers in `skip` (refused by the
    /// directory's uniqueness check on an earlier attempt). `same` comes
    /// last, from the value its target got.
    pub(super) async fn allocate(
        &self,
        map: &AttrMap,
        attrs: &[(String, Vec<String>)],
        skip: &[u64],
    ) -> Result<Vec<Chosen>, Error> {
        let mut out: Vec<Chosen> = Vec::new();
        for a in &map.allocate {
            let chosen = match &a.strategy {
                Strategy::Deterministic { from, range } => {
                    let source = from
                        .render(|i| first_value(attrs, &map.fields.get(i)?.ldap))
                        .ok_or_else(|| {
                            Error::invalid_value(format!(
                                "{} is derived from a value this resource lacks ({}.from); send it",
                                a.attribute, a.key
                            ))
                        })?;
                    self.deterministic(map, a, &source, *range, skip).await?
                }
                Strategy::Counter {
                    counter,
                    attribute,
                    range,
                } => {
                    self.counter(map, a, counter, attribute, *range, skip)
                        .await?
                }
                Strategy::Server { magic, .. } => Chosen {
                    attribute: a.attribute.clone(),
                    value: magic.clone(),
                    by_server: true,
                    why: format!("the directory replaces the magic value {magic}"),
                },
                Strategy::Same { .. } => continue,
            };
            out.push(chosen);
        }
        for a in &map.allocate {
            if let Strategy::Same { other } = &a.strategy {
                let value = out
                    .iter()
                    .find(|c| c.attribute.eq_ignore_ascii_case(other))
                    .map(|c| c.value.clone())
                    .ok_or_else(|| Error::Internal(format!("{}: {other} got no value", a.key)))?;
                out.push(Chosen {
                    attribute: a.attribute.clone(),
                    value,
                    by_server: false,
                    why: format!("the same as {other}"),
                });
            }
        }
        Ok(out)
    }

    /// Hash of `source` into the range, then the first candidate nobody
    /// holds: one search per batch of candidates (the first batch nearly
    /// always has a free one).
    async fn deterministic(
        &self,
        map: &AttrMap,
        a: &Allocation,
        source: &str,
        range: Range,
        skip: &[u64],
    ) -> Result<Chosen, Error> {
        let mut probe = Probe::new(range, source);
        let first = allocate::first_candidate(range, source);
        let mut passed = 0usize;
        loop {
            let batch = probe.next_batch();
            if batch.is_empty() {
                return Err(exhausted(a, range));
            }
            let taken = self.taken(map, &a.attribute, &batch, None).await?;
            if let Some(n) = first_free(&batch, &taken, skip) {
                passed += batch.iter().take_while(|c| **c != n).count();
                return Ok(Chosen {
                    attribute: a.attribute.clone(),
                    value: n.to_string(),
                    by_server: false,
                    why: format!(
                        "FNV-1a of {source:?} gives {first} in {range}; {passed} candidate(s) before it taken"
                    ),
                });
            }
            passed += batch.len();
        }
    }

    /// Counter: read it, hand out its value by one compare-and-swap modify
    /// (the value read goes, the next comes), then make sure nobody holds
    /// the number (assigned by hand); a lost swap or a held number goes round
    /// again.
    async fn counter(
        &self,
        map: &AttrMap,
        a: &Allocation,
        counter: &Dn,
        attribute: &str,
        range: Range,
        skip: &[u64],
    ) -> Result<Chosen, Error> {
        let what = format!("allocating {} ({})", a.attribute, a.key);
        // Values past the next one the counter skips: a counter kept in the
        // allocated attribute itself is refused (constraintViolation) by a
        // uniqueness check when its next value was assigned by hand.
        let mut past = 0u64;
        let mut before = None;
        for attempt in 0..COUNTER_TRIES {
            let current = self.read_counter(map, a, counter, attribute).await?;
            if before != Some(current) {
                past = 0;
            }
            before = Some(current);
            let n = match allocate::counter_candidates(range, current) {
                CounterStep::Exhausted => return Err(exhausted(a, range)),
                CounterStep::Probe(c) => c.first().copied().unwrap_or(range.min),
            };
            let (old, _) = allocate::counter_swap(current, n);
            let new = (n + 1 + past).to_string();
            let mut mods = Vec::with_capacity(2);
            if let Some(old) = old {
                mods.push(Mod::Delete(attribute.to_owned(), vec![old]));
            }
            mods.push(Mod::Add(attribute.to_owned(), vec![new]));
            match self.dir.modify(&counter.to_string(), mods, &[], None).await {
                Ok(_) => {}
                Err(DirError::Result {
                    rc: rc::CONSTRAINT_VIOLATION,
                    ..
                }) => {
                    // The next value is held (or, for a counter without a
                    // value, another allocation added one first): skip it.
                    past += 1;
                    continue;
                }
                Err(DirError::Result {
                    rc: rc::NO_SUCH_ATTRIBUTE | rc::ATTRIBUTE_OR_VALUE_EXISTS | rc::NO_SUCH_OBJECT,
                    ..
                }) => {
                    // Another allocation advanced it first; or (389-ds, many
                    // writers on the one counter entry) the server could not
                    // lock it in time and answered noSuchObject: the next
                    // read says whether the counter is really gone.
                    tokio::time::sleep(jitter(attempt)).await;
                    continue;
                }
                Err(e) => return Err(dir_error(map, e, &what)),
            }
            if skip.contains(&n)
                || !self
                    .taken(map, &a.attribute, &[n], Some(counter))
                    .await?
                    .is_empty()
            {
                continue;
            }
            return Ok(Chosen {
                attribute: a.attribute.clone(),
                value: n.to_string(),
                by_server: false,
                why: format!("the counter {counter} ({attribute}) held {n}"),
            });
        }
        Err(Error::Unavailable(format!(
            "{what}: the counter {counter} kept changing; try again"
        )))
    }

    /// The first number of `chosen` that another entry under the base holds
    /// too, just after the add of `entry`, for strategies whose candidates
    /// are free only as far as a search can tell ([`Strategy::checked_after_add`]).
    /// A uniqueness check that runs before the write without a lock
    /// (OpenLDAP's `unique` overlay) lets two concurrent adds of one number
    /// both pass; the later one always sees the earlier here, so a create
    /// that finds its number shared gives it up.
    pub(super) async fn shared_number(
        &self,
        map: &AttrMap,
        entry: &crate::ldap::Entry,
        chosen: &[Chosen],
    ) -> Result<Option<u64>, Error> {
        if self.dir.records_only() {
            return Ok(None);
        }
        for c in chosen {
            let checked = map.allocate.iter().any(|a| {
                a.attribute.eq_ignore_ascii_case(&c.attribute) && a.strategy.checked_after_add()
            });
            let Some(n) = parse_number(&c.value).filter(|_| checked && !c.by_server) else {
                continue;
            };
            if !self
                .taken(map, &c.attribute, &[n], Some(&entry.dn))
                .await?
                .is_empty()
            {
                return Ok(Some(n));
            }
        }
        Ok(None)
    }

    /// The counter's value (None: the entry lacks the attribute).
    async fn read_counter(
        &self,
        map: &AttrMap,
        a: &Allocation,
        counter: &Dn,
        attribute: &str,
    ) -> Result<Option<u64>, Error> {
        let s = Search {
            base: counter.to_string(),
            scope: Scope::Base,
            filter: Filter::everything(),
            attrs: vec![attribute.to_owned()],
        };
        let found = match self.dir.search(s).await {
            Err(DirError::Result {
                rc: rc::NO_SUCH_OBJECT,
                ..
            }) => Vec::new(),
            other => other.map_err(|e| search_error(map, e, "reading the counter"))?,
        };
        let Some(entry) = found.into_iter().next() else {
            return Err(Error::Internal(format!(
                "{}.counter: the counter entry {counter} does not exist; create it (see the README)",
                a.key
            )));
        };
        match entry.first(attribute) {
            None => Ok(None),
            Some(v) => parse_number(v).map(Some).ok_or_else(|| {
                Error::Internal(format!(
                    "{}.counter: {attribute} of {counter} is {v:?}, not a number",
                    a.key
                ))
            }),
        }
    }

    /// Which of `numbers` an entry under the map's base already holds in
    /// `attr` (the counter entry itself, carrying the attribute, aside).
    async fn taken(
        &self,
        map: &AttrMap,
        attr: &str,
        numbers: &[u64],
        except: Option<&Dn>,
    ) -> Result<Vec<u64>, Error> {
        let filter = Filter::or(
            numbers
                .iter()
                .map(|n| Filter::Equal(attr.to_owned(), n.to_string()))
                .collect(),
        );
        let s = Search {
            base: map.base.to_string(),
            scope: Scope::Subtree,
            filter,
            attrs: vec![attr.to_owned()],
        };
        let found = self
            .dir
            .search(s)
            .await
            .map_err(|e| search_error(map, e, "looking for free numbers"))?;
        Ok(found
            .iter()
            .filter(|e| except.is_none_or(|c| !e.dn.same_as(c)))
            .flat_map(|e| e.values(attr).iter().filter_map(|v| parse_number(v)))
            .filter(|n| numbers.contains(n))
            .collect())
    }
}
