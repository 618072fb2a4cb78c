//! Numbers allocated on create (`uidNumber`, `gidNumber`), with no local
//! store: `[users.allocate]` / `[groups.allocate]` compiled, and the pure
//! arithmetic of every strategy. The service does the searches and writes;
//! everything decided here is a function of its arguments.
//!
//! - *deterministic*: the source (a template, e.g. `{externalId}`) is hashed
//!   with FNV-1a (64 bit) over its UTF-8 bytes; the number is `min + hash mod
//!   (max - min + 1)`. Numbers already taken are skipped by probing the next
//!   ones, wrapping from `max` to `min`. The hash is part of the contract:
//!   the same source gives the same first candidate in every version.
//! - *counter*: an entry holds the next number; it is advanced by one modify
//!   that deletes the value read and adds the new one (compare-and-swap).
//! - *server*: the directory's allocator (389-ds DNA) replaces a magic value.
//! - *same*: the number another allocated attribute got (user-private group).

use std::collections::BTreeMap;

use crate::config::file;
use crate::ldap::Dn;

use super::{Field, Template};

/// The lowest number a range may start at: 0 is root.
pub const MIN_NUMBER: u64 = 1;
/// The highest number a range may end at: `(uid_t) -1` (4294967295) means
/// "no id" to the C library.
pub const MAX_NUMBER: u64 = 4_294_967_294;
/// Candidates probed by the first search of a deterministic allocation: one
/// round trip finds a free number unless the range is nearly full.
pub const FIRST_PROBE: usize = 8;
/// Most candidates in one probe search (later searches grow up to it).
pub const MAX_PROBE: usize = 256;

/// `[min, max]`, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub min: u64,
    pub max: u64,
}

impl Range {
    /// How many numbers the range holds.
    pub fn size(self) -> u64 {
        self.max - self.min + 1
    }

    pub fn contains(self, n: u64) -> bool {
        self.min <= n && n <= self.max
    }
}

impl std::fmt::Display for Range {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}, {}]", self.min, self.max)
    }
}

/// How one attribute's number is found.
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    /// Hash of the rendered source into the range, probing past taken numbers.
    Deterministic { from: Template, range: Range },
    /// A counter entry advanced by compare-and-swap.
    Counter {
        counter: Dn,
        attribute: String,
        range: Range,
    },
    /// The directory replaces `magic` on add and PostRead brings the number.
    Server { magic: String, range: Range },
    /// The number another allocated attribute of the same entry got.
    Same { other: String },
}

impl Strategy {
    /// The configured range (none for `same`).
    pub fn range(&self) -> Option<Range> {
        match self {
            Strategy::Deterministic { range, .. }
            | Strategy::Counter { range, .. }
            | Strategy::Server { range, .. } => Some(*range),
            Strategy::Same { .. } => None,
        }
    }

    /// Whether a create checks, right after its add, that no other entry
    /// holds the number too: the deterministic strategy picks candidates
    /// that a search found free, and concurrent creates may pick the same
    /// one; a directory whose uniqueness check is not atomic (OpenLDAP's
    /// `unique` overlay) lets both adds pass. The counter hands each number
    /// out once, and the server allocates atomically.
    pub fn checked_after_add(&self) -> bool {
        match self {
            Strategy::Deterministic { .. } => true,
            Strategy::Counter { .. } | Strategy::Server { .. } | Strategy::Same { .. } => false,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Strategy::Deterministic { .. } => "deterministic",
            Strategy::Counter { .. } => "counter",
            Strategy::Server { .. } => "server",
            Strategy::Same { .. } => "same",
        }
    }
}

/// One allocated LDAP attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    /// The LDAP attribute as configured (`uidNumber`).
    pub attribute: String,
    /// The config key, for messages (`users.allocate.uidNumber`).
    pub key: String,
    pub strategy: Strategy,
}

/// FNV-1a, 64 bit (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
/// Part of the deterministic strategy's contract: never change it.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The first candidate for `source`: `min + fnv1a64(source) mod size`.
pub fn first_candidate(range: Range, source: &str) -> u64 {
    range.min + fnv1a64(source.as_bytes()) % range.size()
}

/// The candidates of a deterministic allocation in probe order: from the
/// source's first candidate upwards, wrapping from `max` to `min`, each
/// number of the range exactly once. Handed out in batches, one search each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    range: Range,
    start: u64,
    /// How many candidates were handed out already.
    offset: u64,
    /// How many candidates the next batch holds.
    batch: usize,
}

impl Probe {
    pub fn new(range: Range, source: &str) -> Probe {
        Probe {
            range,
            start: first_candidate(range, source),
            offset: 0,
            batch: FIRST_PROBE,
        }
    }

    /// The candidate `i` places after the first.
    fn nth(&self, i: u64) -> u64 {
        self.range.min + (self.start - self.range.min + i) % self.range.size()
    }

    /// The next candidates (empty once every number was handed out). Each
    /// batch is four times the last, up to [`MAX_PROBE`]: a nearly full
    /// range costs few searches, a free one exactly one.
    pub fn next_batch(&mut self) -> Vec<u64> {
        let left = self.range.size() - self.offset;
        let n = left.min(self.batch as u64);
        let out: Vec<u64> = (self.offset..self.offset + n)
            .map(|i| self.nth(i))
            .collect();
        self.offset += n;
        self.batch = (self.batch * 4).min(MAX_PROBE);
        out
    }

    /// Every number of the range was handed out.
    pub fn exhausted(&self) -> bool {
        self.offset >= self.range.size()
    }
}

/// The first of `candidates` neither `taken` nor `skip`ped.
pub fn first_free(candidates: &[u64], taken: &[u64], skip: &[u64]) -> Option<u64> {
    candidates
        .iter()
        .copied()
        .find(|c| !taken.contains(c) && !skip.contains(c))
}

/// What a counter allocation does with the value read from the counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CounterStep {
    /// Probe these numbers (the counter's value and the next ones, inside the
    /// range): the first free one is handed out.
    Probe(Vec<u64>),
    /// The counter is past the range.
    Exhausted,
}

/// The numbers to probe from the counter's current value (`None`: the
/// counter has no value yet, so the range starts at `min`).
pub fn counter_candidates(range: Range, current: Option<u64>) -> CounterStep {
    let from = current.map_or(range.min, |c| c.max(range.min));
    if from > range.max {
        return CounterStep::Exhausted;
    }
    let to = range.max.min(from + FIRST_PROBE as u64 - 1);
    CounterStep::Probe((from..=to).collect())
}

/// The compare-and-swap that hands out `chosen`: the value read goes (or,
/// for a counter without one, nothing goes) and `chosen + 1` comes.
/// Returns (value to delete, value to add).
pub fn counter_swap(current: Option<u64>, chosen: u64) -> (Option<String>, String) {
    (current.map(|c| c.to_string()), (chosen + 1).to_string())
}

/// Reads a number as the directory stores it (an INTEGER, no sign, no
/// leading `+`); anything else is not a number this daemon hands out.
pub fn parse_number(v: &str) -> Option<u64> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Compiles `[sec.allocate]`. `resolve` turns a placeholder into a field
/// index; `taken` says why an LDAP attribute may not be allocated (it is the
/// RDN, mapped, a default, computed or the members).
pub fn compile(
    sec: &str,
    table: &BTreeMap<String, file::Allocate>,
    fields: &[Field],
    resolve: impl Fn(&str, &[Field]) -> Result<usize, String>,
    taken: impl Fn(&str) -> Option<String>,
    p: &mut Vec<String>,
) -> Vec<Allocation> {
    let mut out = Vec::new();
    for (attr, raw) in table {
        let key = format!("{sec}.allocate.{attr}");
        if let Some(why) = taken(attr) {
            p.push(format!(
                "{key}: {attr} {why}; an allocated attribute is written only by the allocation"
            ));
        }
        if let Some(strategy) = strategy(&key, attr, raw, fields, &resolve, p) {
            out.push(Allocation {
                attribute: attr.clone(),
                key,
                strategy,
            });
        }
    }
    for a in &out {
        if let Strategy::Same { other } = &a.strategy {
            let target = out.iter().find(|b| b.attribute.eq_ignore_ascii_case(other));
            match target.map(|b| &b.strategy) {
                None => p.push(format!(
                    "{}.as: {other} is not allocated in [{sec}.allocate]",
                    a.key
                )),
                Some(Strategy::Server { .. }) => p.push(format!(
                    "{}.as: {other} is allocated by the directory, whose number is known only after the add; let the directory allocate {} too (strategy = \"server\")",
                    a.key, a.attribute
                )),
                Some(Strategy::Same { .. }) => p.push(format!(
                    "{}.as: {other} is itself allocated as the same as another; name an attribute with a range",
                    a.key
                )),
                Some(_) => {}
            }
        }
    }
    out
}

/// Checks that need both maps: a counter entry lies inside a configured
/// base (nothing outside them is read or written), and a users' `gidNumber`
/// that is the same as their `uidNumber` (user-private groups) cannot meet
/// a group's allocated `gidNumber`: the ranges must not overlap.
pub fn check_across(users: &super::AttrMap, groups: Option<&super::AttrMap>, p: &mut Vec<String>) {
    let bases: Vec<&Dn> = std::iter::once(&users.base)
        .chain(groups.map(|g| &g.base))
        .collect();
    for a in users
        .allocate
        .iter()
        .chain(groups.iter().flat_map(|g| &g.allocate))
    {
        if let Strategy::Counter { counter, .. } = &a.strategy {
            if !bases.iter().any(|b| counter.is_within(b)) {
                p.push(format!(
                    "{}.counter: {counter} lies outside users.base and groups.base; the daemon reads and writes only inside them",
                    a.key
                ));
            }
        }
    }
    let Some(groups) = groups else { return };
    for ua in &users.allocate {
        let Strategy::Same { other } = &ua.strategy else {
            continue;
        };
        let Some(source) = users
            .allocate
            .iter()
            .find(|b| b.attribute.eq_ignore_ascii_case(other))
            .and_then(|b| b.strategy.range())
        else {
            continue;
        };
        for ga in &groups.allocate {
            let Some(range) = ga.strategy.range() else {
                continue;
            };
            if ga.attribute.eq_ignore_ascii_case(&ua.attribute)
                && range.min <= source.max
                && source.min <= range.max
            {
                p.push(format!(
                    "{}.range: {range} overlaps {} {source}, which users' {} copies ({}); a group could get a user's private group number",
                    ga.key, other, ua.attribute, ua.key
                ));
            }
        }
    }
}

/// The keys each strategy takes (besides `strategy`).
const KEYS: [(&str, &[&str]); 4] = [
    ("deterministic", &["from", "range"]),
    ("counter", &["counter", "counter_attribute", "range"]),
    ("server", &["magic", "range"]),
    ("same", &["as"]),
];

/// One entry's strategy, every problem named by its key.
fn strategy(
    key: &str,
    attr: &str,
    raw: &file::Allocate,
    fields: &[Field],
    resolve: &impl Fn(&str, &[Field]) -> Result<usize, String>,
    p: &mut Vec<String>,
) -> Option<Strategy> {
    let Some((_, allowed)) = KEYS.iter().find(|(s, _)| *s == raw.strategy) else {
        p.push(format!(
            "{key}.strategy: {:?} is not one of deterministic, counter, server, same",
            raw.strategy
        ));
        return None;
    };
    let given = [
        ("from", raw.from.is_some()),
        ("range", raw.range.is_some()),
        ("counter", raw.counter.is_some()),
        ("counter_attribute", raw.counter_attribute.is_some()),
        ("magic", raw.magic.is_some()),
        ("as", raw.same_as.is_some()),
    ];
    let start = p.len();
    for (k, set) in given {
        if set && !allowed.contains(&k) {
            p.push(format!(
                "{key}.{k}: not a key of the {} strategy (it takes {})",
                raw.strategy,
                allowed.join(", ")
            ));
        }
    }
    let range = match &raw.range {
        Some(r) => range(key, r, p),
        None if allowed.contains(&"range") => {
            p.push(required(key, raw, "range"));
            None
        }
        None => None,
    };
    let s = match raw.strategy.as_str() {
        "deterministic" => deterministic(key, raw, fields, resolve, range, p)?,
        "counter" => counter(key, attr, raw, range, p)?,
        "server" => server(key, raw, range, p)?,
        _ => same(key, attr, raw, p)?,
    };
    (p.len() == start).then_some(s)
}

/// A key the strategy needs and the entry lacks.
fn required(key: &str, raw: &file::Allocate, k: &str) -> String {
    format!("{key}.{k}: required by the {} strategy", raw.strategy)
}

/// `deterministic`: the `from` template(s) and the range.
fn deterministic(
    key: &str,
    raw: &file::Allocate,
    fields: &[Field],
    resolve: &impl Fn(&str, &[Field]) -> Result<usize, String>,
    range: Option<Range>,
    p: &mut Vec<String>,
) -> Option<Strategy> {
    let texts: Vec<&str> = match &raw.from {
        Some(file::OneOrMany::One(t)) => vec![t.as_str()],
        Some(file::OneOrMany::Many(v)) => v.iter().map(String::as_str).collect(),
        None => {
            p.push(required(key, raw, "from"));
            return None;
        }
    };
    match Template::parse(texts, |name| resolve(name, fields)) {
        Ok(from) => Some(Strategy::Deterministic {
            from,
            range: range?,
        }),
        Err(e) => {
            p.extend(e.into_iter().map(|e| format!("{key}.from: {e}")));
            None
        }
    }
}

/// `counter`: the counter entry's DN, its attribute and the range.
fn counter(
    key: &str,
    attr: &str,
    raw: &file::Allocate,
    range: Option<Range>,
    p: &mut Vec<String>,
) -> Option<Strategy> {
    let Some(dn) = &raw.counter else {
        p.push(required(key, raw, "counter"));
        return None;
    };
    let counter = match Dn::parse(dn) {
        Ok(d) if !d.is_empty() => d,
        _ => {
            p.push(format!("{key}.counter: {dn:?} is not a DN"));
            return None;
        }
    };
    let attribute = raw.counter_attribute.clone().unwrap_or(attr.to_owned());
    if !super::compile::valid_ldap_name(&attribute) {
        p.push(format!(
            "{key}.counter_attribute: {attribute:?} is not an LDAP attribute name"
        ));
    }
    Some(Strategy::Counter {
        counter,
        attribute,
        range: range?,
    })
}

/// `server`: the magic value, which must not be a number of the range.
fn server(
    key: &str,
    raw: &file::Allocate,
    range: Option<Range>,
    p: &mut Vec<String>,
) -> Option<Strategy> {
    let magic = match raw.magic.as_deref() {
        Some(m) if !m.trim().is_empty() => m.to_owned(),
        Some(_) => {
            p.push(format!("{key}.magic: must not be empty"));
            return None;
        }
        None => {
            p.push(required(key, raw, "magic"));
            return None;
        }
    };
    let range = range?;
    if parse_number(&magic).is_some_and(|m| range.contains(m)) {
        p.push(format!(
            "{key}.magic: {magic} lies inside the range {range}; the directory could not tell it from a number"
        ));
    }
    Some(Strategy::Server { magic, range })
}

/// `same`: another allocated attribute of the entry, not this one.
fn same(key: &str, attr: &str, raw: &file::Allocate, p: &mut Vec<String>) -> Option<Strategy> {
    match &raw.same_as {
        Some(other) if other.eq_ignore_ascii_case(attr) => {
            p.push(format!("{key}.as: {other} is this attribute itself"));
            None
        }
        Some(other) => Some(Strategy::Same {
            other: other.clone(),
        }),
        None => {
            p.push(required(key, raw, "as"));
            None
        }
    }
}

/// `range = [min, max]`: two numbers, `MIN_NUMBER <= min <= max <= MAX_NUMBER`.
fn range(key: &str, r: &[i64], p: &mut Vec<String>) -> Option<Range> {
    let at = format!("{key}.range");
    let [min, max] = r else {
        p.push(format!("{at}: must be [min, max], two numbers"));
        return None;
    };
    let ok = |n: i64| u64::try_from(n).is_ok_and(|n| (MIN_NUMBER..=MAX_NUMBER).contains(&n));
    if !ok(*min) || !ok(*max) {
        p.push(format!(
            "{at}: numbers must lie in [{MIN_NUMBER}, {MAX_NUMBER}] (0 is root, 4294967295 means no id)"
        ));
        return None;
    }
    if min > max {
        p.push(format!("{at}: min {min} is above max {max}"));
        return None;
    }
    Some(Range {
        min: *min as u64,
        max: *max as u64,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn r(min: u64, max: u64) -> Range {
        Range { min, max }
    }

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        // From the FNV reference test suite (draft-eastlake-fnv).
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn the_first_candidate_is_stable_and_inside_the_range() {
        // Pinned: these numbers are what the README promises for ever.
        let range = r(200_000, 299_999);
        let id = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
        let want = 200_000 + fnv1a64(id.as_bytes()) % 100_000;
        assert_eq!(first_candidate(range, id), want);
        assert_eq!(
            first_candidate(range, "a"),
            200_000 + 0xaf63_dc4c_8601_ec8c % 100_000
        );
        for s in ["", "x", "alice", "bob", id, "ÄÖÜ"] {
            assert!(range.contains(first_candidate(range, s)), "{s}");
        }
        assert_ne!(
            first_candidate(range, "alice"),
            first_candidate(range, "bob")
        );
    }

    #[test]
    fn a_range_of_one_number_always_gives_that_number() {
        for s in ["a", "b", "c"] {
            assert_eq!(first_candidate(r(7, 7), s), 7);
        }
    }

    #[test]
    fn the_probe_wraps_from_max_to_min_and_hands_out_each_number_once() {
        let range = r(10, 14);
        // Find a source whose first candidate is 13, so the wrap is visible.
        let source = (0..1000)
            .map(|i| format!("s{i}"))
            .find(|s| first_candidate(range, s) == 13)
            .unwrap();
        let mut p = Probe::new(range, &source);
        assert!(!p.exhausted());
        assert_eq!(p.next_batch(), [13, 14, 10, 11, 12]);
        assert!(p.exhausted());
        assert!(p.next_batch().is_empty());
    }

    #[test]
    fn probe_batches_grow_up_to_the_cap_and_cover_the_range_exactly() {
        let range = r(1, 1000);
        let mut p = Probe::new(range, "someone");
        let mut sizes = Vec::new();
        let mut all = Vec::new();
        while !p.exhausted() {
            let b = p.next_batch();
            sizes.push(b.len());
            all.extend(b);
        }
        assert_eq!(sizes, [8, 32, 128, 256, 256, 256, 64]);
        let first = first_candidate(range, "someone");
        assert_eq!(all[0], first);
        all.sort_unstable();
        assert_eq!(all, (1..=1000).collect::<Vec<_>>());
    }

    #[test]
    fn the_edges_of_the_widest_range_do_not_overflow() {
        let range = r(MIN_NUMBER, MAX_NUMBER);
        assert_eq!(range.size(), MAX_NUMBER);
        let mut p = Probe::new(range, "edge");
        let b = p.next_batch();
        assert_eq!(b.len(), FIRST_PROBE);
        assert!(b.iter().all(|n| range.contains(*n)));
        // The candidate after max is min.
        let at_max = Probe {
            range,
            start: MAX_NUMBER,
            offset: 0,
            batch: 3,
        };
        assert_eq!(at_max.clone().next_batch(), [MAX_NUMBER, 1, 2]);
    }

    #[test]
    fn first_free_skips_taken_and_collided_numbers() {
        assert_eq!(first_free(&[5, 6, 7], &[5], &[]), Some(6));
        assert_eq!(first_free(&[5, 6, 7], &[5], &[6]), Some(7));
        assert_eq!(first_free(&[5, 6, 7], &[5, 6, 7], &[]), None);
        assert_eq!(first_free(&[], &[], &[]), None);
    }

    #[test]
    fn a_tiny_range_forces_collisions_until_it_is_exhausted() {
        // Three numbers, four sources: every source gets a distinct number
        // while any is left, then the range is exhausted.
        let range = r(100, 102);
        let mut taken: Vec<u64> = Vec::new();
        for s in ["u1", "u2", "u3"] {
            let mut p = Probe::new(range, s);
            let mut got = None;
            while got.is_none() && !p.exhausted() {
                got = first_free(&p.next_batch(), &taken, &[]);
            }
            taken.push(got.expect("a number is left"));
        }
        taken.sort_unstable();
        assert_eq!(taken, [100, 101, 102]);
        let mut p = Probe::new(range, "u4");
        assert_eq!(first_free(&p.next_batch(), &taken, &[]), None);
        assert!(p.exhausted());
    }

    #[test]
    fn the_counter_probes_from_its_value_and_stops_past_the_range() {
        let range = r(100, 104);
        assert_eq!(
            counter_candidates(range, None),
            CounterStep::Probe(vec![100, 101, 102, 103, 104])
        );
        assert_eq!(
            counter_candidates(range, Some(50)),
            CounterStep::Probe(vec![100, 101, 102, 103, 104])
        );
        assert_eq!(
            counter_candidates(range, Some(104)),
            CounterStep::Probe(vec![104])
        );
        assert_eq!(counter_candidates(range, Some(105)), CounterStep::Exhausted);
        let wide = r(1, 1000);
        assert_eq!(
            counter_candidates(wide, Some(10)),
            CounterStep::Probe((10..18).collect())
        );
    }

    #[test]
    fn the_counter_swap_deletes_the_value_read_and_adds_the_next() {
        assert_eq!(
            counter_swap(Some(7), 9),
            (Some("7".to_owned()), "10".to_owned())
        );
        assert_eq!(counter_swap(None, 100), (None, "101".to_owned()));
    }

    #[test]
    fn only_plain_decimal_numbers_parse() {
        assert_eq!(parse_number("200001"), Some(200_001));
        for bad in ["", "-1", "+5", " 5", "5x", "99999999999999999999999"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }

    fn compile_one(toml_text: &str) -> (Vec<Allocation>, Vec<String>) {
        let table: BTreeMap<String, file::Allocate> = toml::from_str(toml_text).unwrap();
        let mut p = Vec::new();
        let fields = crate::mapping::tests::openldap().users.fields.clone();
        let resolve = |name: &str, fields: &[Field]| {
            fields
                .iter()
                .position(|f| f.key.eq_ignore_ascii_case(name))
                .ok_or_else(|| "not a mapped SCIM attribute".to_owned())
        };
        let taken = |a: &str| {
            a.eq_ignore_ascii_case("uid")
                .then(|| "is the RDN".to_owned())
        };
        let out = compile("users", &table, &fields, resolve, taken, &mut p);
        (out, p)
    }

    #[test]
    fn only_deterministic_numbers_are_checked_after_the_add() {
        let (a, p) = compile_one(
            r#"
            uidNumber = { strategy = "deterministic", from = "{externalId}", range = [1, 9] }
            gidNumber = { strategy = "same", as = "uidNumber" }
            "#,
        );
        assert!(p.is_empty(), "{p:?}");
        let checked: Vec<(&str, bool)> = a
            .iter()
            .map(|a| (a.attribute.as_str(), a.strategy.checked_after_add()))
            .collect();
        assert_eq!(checked, [("gidNumber", false), ("uidNumber", true)]);
        for text in [
            r#"uidNumber = { strategy = "counter", counter = "cn=n,ou=people,dc=example,dc=com", range = [1, 9] }"#,
            r#"uidNumber = { strategy = "server", magic = "-1", range = [1, 9] }"#,
        ] {
            let (a, p) = compile_one(text);
            assert!(p.is_empty(), "{p:?}");
            assert!(!a[0].strategy.checked_after_add(), "{text}");
        }
    }

    #[test]
    fn every_strategy_compiles() {
        let (a, p) = compile_one(
            r#"
            uidNumber = { strategy = "deterministic", from = ["{externalId}", "{userName}"], range = [200000, 299999] }
            gidNumber = { strategy = "same", as = "uidNumber" }
            "#,
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].attribute, "gidNumber");
        assert_eq!(
            a[0].strategy,
            Strategy::Same {
                other: "uidNumber".into()
            }
        );
        assert_eq!(a[1].strategy.range(), Some(r(200_000, 299_999)));
        let (a, p) = compile_one(
            r#"uidNumber = { strategy = "counter", counter = "cn=next,ou=people,dc=example,dc=com", range = [1000, 1999] }"#,
        );
        assert!(p.is_empty(), "{p:?}");
        assert!(
            matches!(&a[0].strategy, Strategy::Counter { attribute, .. } if attribute == "uidNumber")
        );
        let (a, p) = compile_one(
            r#"uidNumber = { strategy = "server", magic = "-1", range = [1000, 1999] }"#,
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(a[0].strategy.name(), "server");
    }

    /// The example OpenLDAP configuration with `[users.allocate]` and
    /// `[groups.allocate]` tables (TOML text after each header).
    fn config_with(users: &str, groups: &str) -> Result<crate::config::Config, Vec<String>> {
        let text = crate::config::tests::example("openldap.toml")
            .replace(
                "[users.defaults]",
                &format!("[users.allocate]\n{users}\n\n[users.defaults]"),
            )
            .replace(
                "[groups.members]",
                &format!("[groups.allocate]\n{groups}\n\n[groups.members]"),
            );
        crate::config::Config::parse(
            &text,
            &crate::config::tests::Vars(crate::config::tests::SECRETS.to_vec()),
        )
        .map_err(|p| p.0)
    }

    #[test]
    fn a_counter_outside_the_bases_is_refused() {
        let e = config_with(
            r#"uidNumber = { strategy = "counter", counter = "cn=next-uid,dc=example,dc=com", range = [1000, 1999] }"#,
            "",
        )
        .unwrap_err();
        assert!(
            e.iter().any(|l| l.starts_with(
                "users.allocate.uidNumber.counter: cn=next-uid,dc=example,dc=com lies outside"
            )),
            "{e:?}"
        );
        // Inside either base is fine.
        config_with(
            r#"uidNumber = { strategy = "counter", counter = "cn=next-uid,ou=groups,dc=example,dc=com", range = [1000, 1999] }"#,
            "",
        )
        .unwrap();
    }

    #[test]
    fn user_private_groups_and_group_numbers_must_not_overlap() {
        let users = r#"
            uidNumber = { strategy = "deterministic", from = "{externalId}", range = [200000, 299999] }
            gidNumber = { strategy = "same", as = "uidNumber" }"#;
        let e = config_with(
            users,
            r#"gidNumber = { strategy = "deterministic", from = "{externalId}", range = [299999, 399999] }"#,
        )
        .unwrap_err();
        assert!(e.iter().any(|l| l.starts_with("groups.allocate.gidNumber.range: [299999, 399999] overlaps uidNumber [200000, 299999]")), "{e:?}");
        let c = config_with(
            users,
            r#"gidNumber = { strategy = "deterministic", from = "{externalId}", range = [300000, 399999] }"#,
        )
        .unwrap();
        assert_eq!(c.users.allocate.len(), 2);
        assert_eq!(c.groups.as_ref().unwrap().allocate.len(), 1);
    }

    #[test]
    fn a_mapped_allocated_attribute_is_read_only() {
        let c = config_with(
            r#"employeeNumber = { strategy = "deterministic", from = "{userName}", range = [1000, 1999] }"#,
            "",
        )
        .unwrap();
        let f = c
            .users
            .fields
            .iter()
            .find(|f| f.ldap == "employeeNumber")
            .unwrap();
        assert_eq!(f.mutability, crate::scim::schema::Mutability::ReadOnly);
    }

    #[test]
    fn same_cannot_copy_a_number_the_server_allocates() {
        let e = config_with(
            r#"
            uidNumber = { strategy = "server", magic = "-1", range = [1000, 1999] }
            gidNumber = { strategy = "same", as = "uidNumber" }"#,
            "",
        )
        .unwrap_err();
        assert!(
            e.iter().any(|l| l.starts_with(
                "users.allocate.gidNumber.as: uidNumber is allocated by the directory"
            )),
            "{e:?}"
        );
    }

    #[test]
    fn problems_name_the_key() {
        let cases = [
            (
                r#"uidNumber = { strategy = "random", range = [1, 2] }"#,
                "users.allocate.uidNumber.strategy: \"random\" is not one of",
            ),
            (
                r#"uidNumber = { strategy = "deterministic", from = "{externalId}" }"#,
                "users.allocate.uidNumber.range: required by the deterministic strategy",
            ),
            (
                r#"uidNumber = { strategy = "deterministic", from = "{externalId}", range = [5, 4] }"#,
                "users.allocate.uidNumber.range: min 5 is above max 4",
            ),
            (
                r#"uidNumber = { strategy = "deterministic", from = "{externalId}", range = [0, 4] }"#,
                "users.allocate.uidNumber.range: numbers must lie in [1, 4294967294]",
            ),
            (
                r#"uidNumber = { strategy = "deterministic", from = "{externalId}", range = [1, 4294967295] }"#,
                "users.allocate.uidNumber.range: numbers must lie in",
            ),
            (
                r#"uidNumber = { strategy = "deterministic", from = "{externalId}", range = [1] }"#,
                "users.allocate.uidNumber.range: must be [min, max]",
            ),
            (
                r#"uidNumber = { strategy = "deterministic", range = [1, 9] }"#,
                "users.allocate.uidNumber.from: required by the deterministic strategy",
            ),
            (
                r#"uidNumber = { strategy = "deterministic", from = "{nope}", range = [1, 9] }"#,
                "users.allocate.uidNumber.from: placeholder {nope}: ",
            ),
            (
                r#"uidNumber = { strategy = "deterministic", from = "{externalId}", range = [1, 9], magic = "-1" }"#,
                "users.allocate.uidNumber.magic: not a key of the deterministic strategy",
            ),
            (
                r#"uidNumber = { strategy = "counter", range = [1, 9] }"#,
                "users.allocate.uidNumber.counter: required by the counter strategy",
            ),
            (
                r#"uidNumber = { strategy = "counter", counter = "not a dn", range = [1, 9] }"#,
                "users.allocate.uidNumber.counter: \"not a dn\" is not a DN",
            ),
            (
                r#"uidNumber = { strategy = "counter", counter = "cn=n,dc=x", counter_attribute = "no good", range = [1, 9] }"#,
                "users.allocate.uidNumber.counter_attribute: \"no good\" is not an LDAP attribute name",
            ),
            (
                r#"uidNumber = { strategy = "server", range = [1, 9] }"#,
                "users.allocate.uidNumber.magic: required by the server strategy",
            ),
            (
                r#"uidNumber = { strategy = "server", magic = "5", range = [1, 9] }"#,
                "users.allocate.uidNumber.magic: 5 lies inside the range [1, 9]",
            ),
            (
                r#"gidNumber = { strategy = "same" }"#,
                "users.allocate.gidNumber.as: required by the same strategy",
            ),
            (
                r#"gidNumber = { strategy = "same", as = "uidNumber" }"#,
                "users.allocate.gidNumber.as: uidNumber is not allocated in [users.allocate]",
            ),
            (
                r#"gidNumber = { strategy = "same", as = "gidNumber" }"#,
                "users.allocate.gidNumber.as: gidNumber is this attribute itself",
            ),
            (
                r#"uid = { strategy = "server", magic = "-1", range = [1, 9] }"#,
                "users.allocate.uid: uid is the RDN; an allocated attribute",
            ),
        ];
        for (text, want) in cases {
            let (_, p) = compile_one(text);
            assert!(p.iter().any(|l| l.starts_with(want)), "{text}: {p:?}");
        }
        let (_, p) = compile_one(
            r#"
            a = { strategy = "same", as = "b" }
            b = { strategy = "same", as = "a" }
            "#,
        );
        assert!(
            p.iter()
                .any(|l| l.contains("users.allocate.a.as: b is itself allocated as the same")),
            "{p:?}"
        );
    }
}
