//! Lists and searches: `GET /{Users|Groups}?…`, `POST /{Users|Groups}/.search`
//! and `POST /.search` at the root. The SCIM filter becomes one LDAP filter
//! after the references it names resolve; filters and sorts the directory
//! cannot answer are refused up front (400) rather than answered wrongly.

use super::errors::search_error;
use super::{Ctx, Service};
use crate::directory::{DirError, Directory, Page, Scope, Search, Sort, rc};
use crate::error::{Error, ScimType};
use crate::ldap::{self, Entry, Filter};
use crate::mapping::resource;
use crate::mapping::{self, AttrMap, Refs};
use crate::scim::filter::{self as scim_filter, Limits};
use crate::scim::json::Rendered;
use crate::scim::query::{Params, Query, SortOrder};
use crate::scim::{ListResponse, ResourceKind, list_response};

/// How a filter naming an attribute this resource type does not map is
/// answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unmapped {
    /// 400 invalidFilter: the client asked about something that is not here.
    Refuse,
    /// The condition matches nothing: a root search spans both types, and an
    /// attribute only the other type maps simply selects none of this one.
    MatchesNothing,
}

impl<D: Directory> Service<D> {
    /// `GET /{Users|Groups}?…` and `POST /.search`.
    pub async fn list(
        &self,
        kind: ResourceKind,
        params: &Params,
        ctx: &Ctx,
    ) -> Result<ListResponse<Rendered>, Error> {
        let map = self.map(kind)?;
        let q = params.parse(Limits::default())?;
        let (total, resources) = self.query_with(map, &q, ctx, Unmapped::Refuse).await?;
        Ok(list_response(total, q.start_index, resources))
    }

    /// `POST /.search` at the root: users and groups together.
    pub async fn search_all(
        &self,
        params: &Params,
        ctx: &Ctx,
    ) -> Result<ListResponse<Rendered>, Error> {
        let q = params.parse(Limits::default())?;
        if q.sort_by.is_some() {
            return Err(Error::bad(
                ScimType::InvalidValue,
                "sortBy is not supported across resource types; search /Users or /Groups",
            ));
        }
        let count = self.page_size(&q);
        let mut total = 0;
        let mut resources = Vec::new();
        let mut skip = q.start_index - 1;
        for kind in [ResourceKind::User, ResourceKind::Group] {
            let Some(map) = self.config.map(kind) else {
                continue;
            };
            let take = count.saturating_sub(resources.len());
            let sub = Query {
                start_index: skip + 1,
                count: Some(take),
                ..q.clone()
            };
            let (t, mut r) = self
                .query_with(map, &sub, ctx, Unmapped::MatchesNothing)
                .await?;
            skip = skip.saturating_sub(t);
            total += t;
            resources.append(&mut r);
        }
        Ok(list_response(total, q.start_index, resources))
    }

    fn page_size(&self, q: &Query) -> usize {
        q.count
            .unwrap_or(self.config.server.default_page_size)
            .min(self.config.server.max_page_size)
    }

    /// One resource type's matches: the total and the requested window.
    async fn query_with(
        &self,
        map: &AttrMap,
        q: &Query,
        ctx: &Ctx,
        unmapped: Unmapped,
    ) -> Result<(usize, Vec<Rendered>), Error> {
        let translated = match &q.filter {
            Some(f) => self.translate(map, f, unmapped).await?,
            None => Filter::everything(),
        };
        if translated.is_nothing() {
            // Decided without asking the directory (e.g. an id that cannot exist).
            return Ok((0, Vec::new()));
        }
        let sort = self.sort_of(map, q)?;
        // Entra's match (`userName eq`, `id eq`): an equality on the naming or
        // id attribute selects at most a few entries of this type, so one plain
        // search answers it, without paging or an object class condition.
        let unique_match = matches!(&translated, Filter::Equal(a, _) if a.eq_ignore_ascii_case(&map.rdn) || a.eq_ignore_ascii_case(&map.id_attribute));
        if unique_match && sort.is_none() {
            return self.unique_match(map, q, ctx, translated).await;
        }
        self.windowed(map, q, ctx, translated, sort).await
    }

    /// The SCIM filter as an LDAP filter, after the ids it names resolve and
    /// after checking the directory can evaluate every comparison in it.
    async fn translate(
        &self,
        map: &AttrMap,
        f: &scim_filter::Filter,
        unmapped: Unmapped,
    ) -> Result<Filter, Error> {
        let refs = self
            .resolve_ids(&mapping::filter::reference_ids(map, f))
            .await?;
        self.check_matching_rules(map, f)?;
        match unmapped {
            Unmapped::Refuse => mapping::filter::to_ldap(map, f, &refs),
            Unmapped::MatchesNothing => mapping::filter::to_ldap_lenient(map, f, &refs),
        }
    }

    /// Refuses comparisons the server's schema cannot evaluate: ordering
    /// without an ORDERING rule, equality without an EQUALITY rule.
    fn check_matching_rules(&self, map: &AttrMap, f: &scim_filter::Filter) -> Result<(), Error> {
        let caps = self.dir.capabilities();
        if let Some(ordered) = &caps.ordered_attributes {
            if let Some((path, attr)) = mapping::filter::ordering_attributes(map, f)
                .into_iter()
                .find(|(_, a)| !ordered.contains(&a.to_ascii_lowercase()))
            {
                return Err(Error::bad(
                    ScimType::InvalidFilter,
                    format!(
                        "{path}: LDAP attribute {attr} has no ORDERING rule on this directory, so gt, ge, lt and le cannot be answered"
                    ),
                ));
            }
        }
        let unmatchable = &caps.unmatchable_attributes;
        if let Some((path, attr)) = mapping::filter::equality_attributes(map, f)
            .into_iter()
            .find(|(_, a)| unmatchable.contains(&a.to_ascii_lowercase()))
        {
            return Err(Error::bad(
                ScimType::InvalidFilter,
                format!(
                    "{path}: LDAP attribute {attr} has no EQUALITY rule on this directory, so eq and ne cannot be answered"
                ),
            ));
        }
        Ok(())
    }

    /// The server-side sort `sortBy` asks for (RFC 2891), refused before
    /// anything is sent when the server cannot sort, the path names nothing
    /// sortable, or the directory cannot order its attribute.
    fn sort_of(&self, map: &AttrMap, q: &Query) -> Result<Option<Sort>, Error> {
        let Some(p) = &q.sort_by else {
            return Ok(None);
        };
        let caps = self.dir.capabilities();
        if !caps.server_side_sort {
            return Err(Error::bad(
                ScimType::InvalidValue,
                "sortBy: this directory does not offer server-side sorting (RFC 2891); see sort.supported in /ServiceProviderConfig",
            ));
        }
        let key = mapping::sort::key(map, p)?;
        caps.sort(&key.attribute, q.sort_order == SortOrder::Descending)
            .map(Some)
            .ok_or_else(|| {
                Error::bad(
                    ScimType::InvalidValue,
                    format!(
                        "sortBy: {} is stored in LDAP attribute {}, which this directory cannot order (no ordering rule for its syntax)",
                        key.path, key.attribute
                    ),
                )
            })
    }

    /// A filter selecting at most a few entries: one plain search, windowed
    /// here.
    async fn unique_match(
        &self,
        map: &AttrMap,
        q: &Query,
        ctx: &Ctx,
        filter: Filter,
    ) -> Result<(usize, Vec<Rendered>), Error> {
        let s = Search {
            base: map.base.to_string(),
            scope: Scope::Subtree,
            filter,
            attrs: resource::attributes_for(map, &q.projection),
        };
        let found: Vec<Entry> = self
            .dir
            .search(s)
            .await
            .map_err(|e| search_error(map, e, "search"))?
            .into_iter()
            .filter(|e| e.dn.is_within(&map.base))
            .collect();
        let total = found.len();
        let window: Vec<Entry> = found
            .into_iter()
            .skip(q.start_index - 1)
            .take(self.page_size(q))
            .collect();
        let resources = self
            .render(map, &window, &q.projection, ctx, Refs::default())
            .await?;
        Ok((total, resources))
    }

    /// Any other filter: the directory counts the matches and returns the
    /// window by offset (VLV, sorted by `sortBy` or else by the naming
    /// attribute) where it can; otherwise the matches stream through paged
    /// results, sorted when asked, and past `server.max_list_entries` of them
    /// the answer is 400 tooMany.
    async fn windowed(
        &self,
        map: &AttrMap,
        q: &Query,
        ctx: &Ctx,
        translated: Filter,
        sort: Option<Sort>,
    ) -> Result<(usize, Vec<Rendered>), Error> {
        let take = self.page_size(q);
        // Kept only for the error of a refused sort, which names its indexes.
        let sorted_filter = sort.is_some().then(|| translated.clone());
        let filter = Filter::and(vec![
            Filter::Equal("objectClass".to_owned(), map.object_classes[0].clone()),
            translated,
        ]);
        let s = Search {
            base: map.base.to_string(),
            scope: Scope::Subtree,
            filter,
            // `count=0` asks for the total only: count without fetching attributes.
            attrs: if take == 0 {
                ldap::no_attributes()
            } else {
                resource::attributes_for(map, &q.projection)
            },
        };
        let limit = self.config.server.max_list_entries;
        let page = Page {
            skip: q.start_index - 1,
            take,
            offset_order: sort
                .clone()
                .or_else(|| self.dir.capabilities().sort(&map.rdn, false)),
            sort,
            max_read: limit,
        };
        let w = self
            .dir
            .search_window(s, page)
            .await
            .map_err(|e| match (e, &sorted_filter) {
                (
                    DirError::Result {
                        rc: rc::UNWILLING_TO_PERFORM,
                        text,
                    },
                    Some(f),
                ) => Error::bad(
                    ScimType::InvalidValue,
                    format!(
                        "sortBy: the directory refused to sort this search ({text}); a server sorts only searches its indexes narrow down: {}, or leave sortBy out",
                        index_hint(f)
                    ),
                ),
                (DirError::TooMany { .. }, _) => too_many(map, limit),
                (e, _) => search_error(map, e, "search"),
            })?;
        let entries: Vec<Entry> = w
            .entries
            .into_iter()
            .filter(|e| e.dn.is_within(&map.base))
            .collect();
        let resources = self
            .render(map, &entries, &q.projection, ctx, Refs::default())
            .await?;
        Ok((w.total, resources))
    }
}

/// The answer to a list that would read more than `server.max_list_entries`
/// entries: what the client and the directory's administrator can do.
fn too_many(map: &AttrMap, limit: usize) -> Error {
    Error::bad(
        ScimType::TooMany,
        format!(
            "more than {limit} {}s match and the directory cannot fetch this page by offset (VLV); narrow the request with a filter (e.g. meta.lastModified gt a recent time, or userName sw a prefix), or have the directory's administrator create a VLV index for this search (README: \"Paging, projection, sorting\"); the limit is server.max_list_entries",
            map.kind.name()
        ),
    )
}

/// What a refused sort asks of the directory's indexes: each attribute the
/// filter tests, with the index kind its match needs (`eq` for equality and
/// ranges, `sub` for substrings, `pres` for presence), as an admin would
/// write them (`dsconf … backend index set --attr uid --add-type sub`,
/// OpenLDAP's `index uid sub`). Negated terms are left out (no index answers
/// them), and so is the match-everything filter of an unfiltered list.
fn index_hint(filter: &Filter) -> String {
    fn walk<'f>(f: &'f Filter, out: &mut Vec<(&'f str, &'static str)>) {
        let need = match f {
            Filter::And(parts) | Filter::Or(parts) => {
                parts.iter().for_each(|p| walk(p, out));
                return;
            }
            Filter::Not(_) => return,
            Filter::Present(a) if a.eq_ignore_ascii_case("objectClass") => return,
            Filter::Equal(a, _) | Filter::GreaterOrEqual(a, _) | Filter::LessOrEqual(a, _) => {
                (a.as_str(), "eq")
            }
            Filter::Substring(a, ..) => (a.as_str(), "sub"),
            Filter::Present(a) => (a.as_str(), "pres"),
        };
        if !out
            .iter()
            .any(|(a, k)| a.eq_ignore_ascii_case(need.0) && *k == need.1)
        {
            out.push(need);
        }
    }
    let mut needs = Vec::new();
    walk(filter, &mut needs);
    if needs.is_empty() {
        return "filter on an indexed attribute".to_owned();
    }
    let listed: Vec<String> = needs.iter().map(|(a, k)| format!("{a} ({k})")).collect();
    format!(
        "index {} where it is not; where it is, more entries match than the server looks through (389-ds: nsslapd-idlistscanlimit), so narrow the filter",
        listed.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(a: &str, initial: &str) -> Filter {
        Filter::Substring(a.to_owned(), Some(initial.to_owned()), Vec::new(), None)
    }

    #[test]
    fn a_refused_sort_names_each_attribute_and_index_kind_once() {
        let eq = |a: &str| Filter::Equal(a.to_owned(), "x".to_owned());
        let rows = [
            (sub("uid", "ann"), "uid (sub)"),
            (
                Filter::And(vec![sub("uid", "a"), eq("mail"), sub("uid", "b")]),
                "uid (sub), mail (eq)",
            ),
            (
                Filter::Or(vec![
                    Filter::Present("title".to_owned()),
                    Filter::GreaterOrEqual("modifyTimestamp".to_owned(), "2026".to_owned()),
                    Filter::LessOrEqual("modifyTimestamp".to_owned(), "2027".to_owned()),
                    eq("uid"),
                ]),
                "title (pres), modifyTimestamp (eq), uid (eq)",
            ),
            // No index answers a negation; every entry has an object class.
            (
                Filter::And(vec![
                    Filter::everything(),
                    Filter::Not(Box::new(eq("title"))),
                    sub("cn", "x"),
                ]),
                "cn (sub)",
            ),
        ];
        for (filter, terms) in rows {
            let want = format!(
                "index {terms} where it is not; where it is, more entries match than the server looks through (389-ds: nsslapd-idlistscanlimit), so narrow the filter"
            );
            assert_eq!(index_hint(&filter), want, "{filter:?}");
        }
        for nothing in [Filter::everything(), Filter::Not(Box::new(eq("uid")))] {
            assert_eq!(index_hint(&nothing), "filter on an indexed attribute");
        }
    }
}
