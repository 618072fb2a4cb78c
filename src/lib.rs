//! scim2ldap lets Microsoft Entra ID — and any SCIM 2.0 client — provision
//! users and groups into an existing LDAP directory (OpenLDAP or 389 Directory
//! Server). Every SCIM operation becomes LDAP search/add/modify/modrdn/delete
//! through attribute maps written in TOML. The daemon keeps no local store:
//! all state lives in the directory, so instances are stateless and scale out.
//!
//! # Layout
//!
//! - [`cli`]: the command line — `serve`, `check-config`, `explain`.
//! - [`config`]: the TOML file as written (`file`), validated into [`config::Config`]
//!   with every problem reported at once; secrets (`secret`).
//! - [`http`]: routes, thin handlers, extractors with SCIM rejections,
//!   bearer-token auth, the per-request envelope (request id, limits, logs, metrics),
//!   endpoint names respelled before routing (`path`).
//! - [`service`]: the only code that sequences directory calls, one file per
//!   job, each an `impl Service` block:
//!   - `mod.rs`: `Service`, `Ctx`, `Versioned`, readiness, base checks, re-reads;
//!   - `read.rs`: `GET` of one resource, entries rendered as resources;
//!   - `query.rs`: lists and searches (filter checks, sorting, paging);
//!   - `refs.rs`: id ↔ DN resolution of referenced users and groups, batched;
//!   - `create.rs`, `update.rs` (PATCH, PUT, If-Match), `delete.rs`: one per verb;
//!   - `write.rs`: executing a plan (modify, rename, password, read-back);
//!   - `plan.rs`: the pure decision of guard, token swap and read-back;
//!   - `members.rs`: membership-only PATCH, empty-group placeholder, clean-up;
//!   - `retry.rs`: the one loop for writes that lose a race, with its pauses;
//!   - `errors.rs`: directory failures as SCIM errors;
//!   - `discovery.rs`: `/Schemas`, `/ResourceTypes`, `/ServiceProviderConfig`.
//! - [`scim`]: SCIM vocabulary, pure: resource types, attribute paths,
//!   filters, PATCH operations (Entra quirks normalised there), core attributes
//!   under the core schema URN (`core`), query parameters, schemas and the
//!   JSON shapes of discovery documents; the borrowing JSON tree a resource is
//!   rendered from and serialised once (`json`), and the ListResponse.
//! - [`mapping`]: the pure core — attribute maps compiled in named steps
//!   (`compile`); the one list of LDAP attributes a map manages (`managed`);
//!   resource ↔ entry (`resource`); PATCH/PUT/POST → one LDAP modify plan
//!   (`patch`); SCIM filter → LDAP filter (`filter`); `sortBy` → the LDAP
//!   attribute sorted by (`sort`); what no mapping stores, refused or left out
//!   (`unmapped`); the template language of defaults and computed attributes
//!   (`template`); the discovery documents reduced to what is mapped (`discovery`).
//! - [`ldap`]: LDAP vocabulary as plain data (DN, filter, entry, modification)
//!   and the crate's only RFC 4514/4515 escaping.
//! - [`directory`]: the only code that talks to LDAP — the `Directory` trait,
//!   the pooled ldap3 adapter, the dry run behind `explain`, the subschema reader.
//! - [`error`]: the one error type and the SCIM JSON response every answer,
//!   error or not, is rendered with.
//! - [`telemetry`]: logging set-up and the metrics registry.

pub mod cli;
pub mod config;
pub mod directory;
pub mod error;
pub mod http;
pub mod ldap;
pub mod mapping;
pub mod scim;
pub mod service;
pub mod telemetry;
