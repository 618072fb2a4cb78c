//! Lenient endpoint names: SCIM clients write `/users`, `/Users/` or
//! `/serviceproviderconfig`, and Microsoft's guidance for SCIM endpoints is
//! to accept them. The request path is rewritten to the router's spelling
//! before routing, so every route and method gets the same treatment.
//!
//! Only whole endpoint segments that equal a known name case-insensitively
//! are respelled, and at most one trailing slash is dropped (on any path,
//! /healthz and /metrics included): an unknown path
//! never becomes a known one, and ids and schema URNs keep their case.

use axum::extract::Request;
use axum::http::Uri;

/// The endpoints right under the base path, as the router spells them.
const ENDPOINTS: [&str; 8] = [
    "Users",
    "Groups",
    "Schemas",
    "ResourceTypes",
    "ServiceProviderConfig",
    ".search",
    "Bulk",
    "Me",
];

/// The endpoints that take `/.search` after them.
const SEARCHABLE: [&str; 2] = ["Users", "Groups"];

fn respell(segment: &str, names: &[&'static str]) -> Option<&'static str> {
    names
        .iter()
        .copied()
        .find(|n| n.eq_ignore_ascii_case(segment))
}

/// `path` as the router spells it, or None when nothing changes. `base`
/// is the configured base path ("" or "/scim/v2"), matched exactly.
pub fn canonical(path: &str, base: &str) -> Option<String> {
    let trimmed = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    let Some(rest) = trimmed.strip_prefix(base).and_then(|r| r.strip_prefix('/')) else {
        // Not under the base path (/healthz, /metrics): only the slash.
        return (trimmed != path).then(|| trimmed.to_owned());
    };
    let mut segments = rest.split('/');
    let first = segments.next()?;
    let endpoint = respell(first, &ENDPOINTS).unwrap_or(first);
    let mut out = format!("{base}/{endpoint}");
    if let Some(second) = segments.next() {
        out.push('/');
        let search = SEARCHABLE
            .contains(&endpoint)
            .then(|| respell(second, &[".search"]))
            .flatten();
        out.push_str(search.unwrap_or(second));
    }
    for s in segments {
        out.push('/');
        out.push_str(s);
    }
    (out != path).then_some(out)
}

/// Rewrites the request's path to [`canonical`], keeping the query.
pub fn normalise(mut req: Request, base: &str) -> Request {
    let Some(path) = canonical(req.uri().path(), base) else {
        return req;
    };
    let target = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut parts = req.uri().clone().into_parts();
    if let Ok(pq) = target.parse() {
        parts.path_and_query = Some(pq);
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn endpoint_names_are_respelled_and_nothing_else() {
        let base = "/scim/v2";
        let cases: &[(&str, Option<&str>)] = &[
            ("/scim/v2/users", Some("/scim/v2/Users")),
            ("/scim/v2/Users/", Some("/scim/v2/Users")),
            ("/scim/v2/USERS/", Some("/scim/v2/Users")),
            ("/scim/v2/groups/.SEARCH", Some("/scim/v2/Groups/.search")),
            ("/scim/v2/Users/.search/", Some("/scim/v2/Users/.search")),
            ("/scim/v2/.Search", Some("/scim/v2/.search")),
            (
                "/scim/v2/serviceproviderconfig/",
                Some("/scim/v2/ServiceProviderConfig"),
            ),
            (
                "/scim/v2/resourcetypes/User",
                Some("/scim/v2/ResourceTypes/User"),
            ),
            (
                "/scim/v2/schemas/urn:ietf:params:scim:schemas:core:2.0:User/",
                Some("/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"),
            ),
            // Ids keep their case; only the endpoint is respelled.
            ("/scim/v2/users/AbC-0123/", Some("/scim/v2/Users/AbC-0123")),
            // Already canonical: untouched.
            ("/scim/v2/Users", None),
            ("/scim/v2/Users/AbC", None),
            ("/healthz", None),
            ("/healthz/", Some("/healthz")),
            // Outside the base path, or not an endpoint: left for the 404.
            ("/SCIM/v2/users", None),
            ("/scim/v2x/users", None),
            ("/scim/v2x/users/", Some("/scim/v2x/users")),
            ("/scim/v2/userz", None),
            ("/scim/v2/Us%65rs", None),
            ("/scim/v2/user", None),
            // One trailing slash only; an id that is ".search" only under Users/Groups.
            ("/scim/v2/Users//", Some("/scim/v2/Users/")),
            ("/scim/v2/Schemas/.SEARCH", None),
            ("/scim/v2/Users/abc/.SEARCH", None),
            ("/", None),
        ];
        for (path, want) in cases {
            assert_eq!(canonical(path, base).as_deref(), *want, "{path}");
        }
        // An empty base path (SCIM at the root).
        assert_eq!(canonical("/users/", "").as_deref(), Some("/Users"));
        assert_eq!(canonical("/healthz/", "").as_deref(), Some("/healthz"));
        assert_eq!(canonical("/metrics", ""), None);
    }
}
