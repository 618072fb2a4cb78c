//! Query parameters of reads: `filter`, `attributes`, `excludedAttributes`,
//! `startIndex`, `count`, `sortBy`, `sortOrder` (RFC 7644 §3.4.2, §3.9), from
//! the URL or a `POST /.search` body (§3.4.3), parsed into typed values.

use serde_json::Value;

use crate::error::{Error, ScimType};
use crate::scim::filter::{Filter, Limits};
use crate::scim::path::AttrPath;

/// Which attributes a response carries (RFC 7644 §3.9).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Projection {
    /// `attributes`: when non-empty, only these (plus `returned: always` ones).
    pub attributes: Vec<AttrPath>,
    /// `excludedAttributes`.
    pub excluded: Vec<AttrPath>,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Ascending,
    Descending,
}

/// A parsed list/search request.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub filter: Option<Filter>,
    pub projection: Projection,
    /// 1-based.
    pub start_index: usize,
    pub count: Option<usize>,
    pub sort_by: Option<AttrPath>,
    pub sort_order: SortOrder,
}

fn paths(list: &str, what: &str) -> Result<Vec<AttrPath>, Error> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            if crate::scim::path::is_schema_urn(s) {
                // A bare schema URN names every attribute of that schema.
                return Ok(AttrPath::simple(s));
            }
            AttrPath::parse(s)
                .map_err(|e| Error::bad(ScimType::InvalidValue, format!("{what}: {s:?} {e}")))
        })
        .collect()
}

impl Projection {
    /// From the comma-separated parameter values.
    pub fn parse(attributes: Option<&str>, excluded: Option<&str>) -> Result<Projection, Error> {
        Ok(Projection {
            attributes: attributes
                .map(|a| paths(a, "attributes"))
                .transpose()?
                .unwrap_or_default(),
            excluded: excluded
                .map(|a| paths(a, "excludedAttributes"))
                .transpose()?
                .unwrap_or_default(),
        })
    }

    /// True when nothing was asked for or excluded.
    pub fn is_default(&self) -> bool {
        self.attributes.is_empty() && self.excluded.is_empty()
    }

    /// Whether the response should carry `schema:attr[.sub]`. `requested_only`
    /// marks attributes that are `returned: request`.
    pub fn wants(&self, schema: &str, attr: &str, sub: Option<&str>, requested_only: bool) -> bool {
        let hit = |p: &AttrPath, exact_sub: bool| {
            p.schema
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case(schema))
                && p.attr.eq_ignore_ascii_case(attr)
                && match (&p.sub, sub) {
                    (None, _) => true,
                    (Some(ps), Some(s)) => ps.eq_ignore_ascii_case(s),
                    (Some(_), None) => !exact_sub,
                }
        };
        // A bare schema URN in the list names every attribute of that schema.
        let urn_hit = |p: &AttrPath| {
            p.sub.is_none()
                && p.filter.is_none()
                && p.schema.is_none()
                && p.attr.eq_ignore_ascii_case(schema)
        };
        if !self.attributes.is_empty() {
            return self.attributes.iter().any(|p| hit(p, false) || urn_hit(p));
        }
        if requested_only {
            return false;
        }
        !self.excluded.iter().any(|p| hit(p, true) || urn_hit(p))
    }
}

/// Raw parameters, as the URL or a .search body gives them.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Params {
    pub filter: Option<String>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
    pub start_index: Option<String>,
    pub count: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
}

impl Params {
    /// From a `POST /.search` body (RFC 7644 §3.4.3), where `attributes` are arrays.
    pub fn from_search_body(body: &Value) -> Result<Params, Error> {
        let obj = body.as_object().ok_or_else(|| {
            Error::bad(
                ScimType::InvalidSyntax,
                "a search request body must be a JSON object",
            )
        })?;
        let schemas_ok = obj
            .get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|a| {
                a.iter().any(|s| {
                    s.as_str().is_some_and(|s| {
                        s.eq_ignore_ascii_case(
                            "urn:ietf:params:scim:api:messages:2.0:SearchRequest",
                        )
                    })
                })
            });
        if !schemas_ok {
            return Err(Error::bad(
                ScimType::InvalidSyntax,
                "schemas must contain urn:ietf:params:scim:api:messages:2.0:SearchRequest",
            ));
        }
        let mut p = Params::default();
        for (k, v) in obj {
            let text = |v: &Value| -> Result<String, Error> {
                match v {
                    Value::String(s) => Ok(s.clone()),
                    Value::Number(n) => Ok(n.to_string()),
                    Value::Array(a) => Ok(a
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")),
                    _ => Err(Error::bad(
                        ScimType::InvalidValue,
                        format!("{k} has the wrong type"),
                    )),
                }
            };
            match k.to_ascii_lowercase().as_str() {
                "schemas" => {}
                "filter" => p.filter = Some(text(v)?),
                "attributes" => p.attributes = Some(text(v)?),
                "excludedattributes" => p.excluded_attributes = Some(text(v)?),
                "startindex" => p.start_index = Some(text(v)?),
                "count" => p.count = Some(text(v)?),
                "sortby" => p.sort_by = Some(text(v)?),
                "sortorder" => p.sort_order = Some(text(v)?),
                _ => {
                    return Err(Error::bad(
                        ScimType::InvalidSyntax,
                        format!("{k} is not a search request attribute"),
                    ));
                }
            }
        }
        Ok(p)
    }

    /// Validates into a [`Query`].
    pub fn parse(&self, limits: Limits) -> Result<Query, Error> {
        let filter = self
            .filter
            .as_deref()
            .filter(|f| !f.trim().is_empty())
            .map(|f| {
                Filter::parse_with(f, limits)
                    .map_err(|e| Error::bad(ScimType::InvalidFilter, format!("filter {e}")))
            })
            .transpose()?;
        let number = |name: &str, v: &Option<String>| -> Result<Option<i64>, Error> {
            v.as_deref()
                .map(|s| {
                    s.trim().parse::<i64>().map_err(|_| {
                        Error::bad(
                            ScimType::InvalidValue,
                            format!("{name} must be an integer, got {s:?}"),
                        )
                    })
                })
                .transpose()
        };
        // RFC 7644 §3.4.2.4: startIndex < 1 is treated as 1, negative count as 0.
        let start_index = number("startIndex", &self.start_index)?.unwrap_or(1).max(1);
        let count = number("count", &self.count)?.map(|c| c.max(0));
        let sort_order = match self.sort_order.as_deref() {
            None => SortOrder::Ascending,
            Some(s) if s.eq_ignore_ascii_case("ascending") => SortOrder::Ascending,
            Some(s) if s.eq_ignore_ascii_case("descending") => SortOrder::Descending,
            Some(s) => {
                return Err(Error::bad(
                    ScimType::InvalidValue,
                    format!("sortOrder must be ascending or descending, got {s:?}"),
                ));
            }
        };
        let sort_by = self
            .sort_by
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                AttrPath::parse(s)
                    .map_err(|e| Error::bad(ScimType::InvalidValue, format!("sortBy {e}")))
            })
            .transpose()?;
        Ok(Query {
            filter,
            projection: Projection::parse(
                self.attributes.as_deref(),
                self.excluded_attributes.as_deref(),
            )?,
            start_index: usize::try_from(start_index).unwrap_or(usize::MAX),
            count: count.map(|c| usize::try_from(c).unwrap_or(usize::MAX)),
            sort_by,
            sort_order,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::scim::schema::{CORE_GROUP, CORE_USER, ENTERPRISE_USER};

    #[test]
    fn projection_rules() {
        let p = Projection::parse(None, Some("members")).unwrap();
        assert!(!p.wants(CORE_GROUP, "members", Some("value"), false));
        assert!(p.wants(CORE_GROUP, "displayName", None, false));
        let p = Projection::parse(Some("userName,name.givenName"), None).unwrap();
        assert!(p.wants(CORE_USER, "userName", None, false));
        assert!(p.wants(CORE_USER, "name", Some("givenName"), false));
        assert!(!p.wants(CORE_USER, "name", Some("familyName"), false));
        assert!(!p.wants(CORE_USER, "title", None, false));
        let p = Projection::parse(Some(&format!("{ENTERPRISE_USER}:department")), None).unwrap();
        assert!(p.wants(ENTERPRISE_USER, "department", None, false));
        assert!(!p.wants(CORE_USER, "department", None, false));
        let p = Projection::parse(Some(ENTERPRISE_USER), None).unwrap();
        assert!(p.wants(ENTERPRISE_USER, "manager", Some("value"), false));
        let p = Projection::default();
        assert!(!p.wants(CORE_USER, "secret", None, true));
        assert!(Projection::parse(Some("a[["), None).is_err());
    }

    #[test]
    fn params_validate() {
        let q = Params {
            filter: Some("userName eq \"a\"".into()),
            start_index: Some("0".into()),
            count: Some("-5".into()),
            ..Default::default()
        }
        .parse(Limits::default())
        .unwrap();
        assert_eq!(q.start_index, 1);
        assert_eq!(q.count, Some(0));
        let e = Params {
            filter: Some("userName eq".into()),
            ..Default::default()
        }
        .parse(Limits::default())
        .unwrap_err();
        assert!(matches!(
            e,
            Error::BadRequest {
                scim_type: ScimType::InvalidFilter,
                ..
            }
        ));
        let e = Params {
            count: Some("ten".into()),
            ..Default::default()
        }
        .parse(Limits::default())
        .unwrap_err();
        assert!(e.to_string().contains("count"));
        let body = serde_json::json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"attributes":["userName","title"],"filter":"title pr","startIndex":2,"count":5});
        let p = Params::from_search_body(&body).unwrap();
        assert_eq!(p.attributes.as_deref(), Some("userName,title"));
        assert_eq!(p.start_index.as_deref(), Some("2"));
        assert!(Params::from_search_body(&serde_json::json!({"filter":"x"})).is_err());
    }
}
