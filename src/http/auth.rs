//! Bearer-token authentication (RFC 6750).
//!
//! Every configured token is compared with the presented one, always all of
//! them and each in constant time (`subtle`), so the time taken does not depend
//! on how many leading bytes match nor on which token matched. The name of the
//! matching token (never the token) travels on as the request's actor.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

use crate::config::Token;
use crate::directory::Directory;
use crate::error::Error;

/// The name of the token that authenticated a request.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

/// The accepted tokens.
pub struct Tokens {
    tokens: Vec<Token>,
}

impl Tokens {
    pub fn new(tokens: &[Token]) -> Tokens {
        Tokens {
            tokens: tokens.to_vec(),
        }
    }

    /// The name of the token equal to `presented`, if any.
    pub fn check(&self, presented: &[u8]) -> Option<String> {
        let mut found: Option<String> = None;
        for t in &self.tokens {
            // Compare every token (no early exit) so timing reveals nothing about which matched.
            let eq: bool = t.secret.expose_secret().as_bytes().ct_eq(presented).into();
            if eq && found.is_none() {
                found = Some(t.name.clone());
            }
        }
        found
    }
}

/// Extracts the token from `Authorization: Bearer <token>`.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty()).then_some(token)
}

/// Middleware: refuses requests without a valid token with 401.
pub async fn require_token<D: Directory>(
    State(state): State<Arc<super::AppState<D>>>,
    mut req: Request,
    next: Next,
) -> Response {
    // Checked where it lies in the request: the presented token is not copied.
    let actor = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
        .and_then(|p| state.tokens.check(p.as_bytes()));
    match actor {
        Some(name) => {
            req.extensions_mut().insert(Actor(name));
            next.run(req).await
        }
        None => Error::Unauthorized.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn tokens_and_rotation() {
        let t = Tokens::new(&[
            Token {
                name: "old".into(),
                secret: SecretString::from("old-token-0123456789".to_owned()),
            },
            Token {
                name: "new".into(),
                secret: SecretString::from("new-token-0123456789".to_owned()),
            },
        ]);
        assert_eq!(t.check(b"old-token-0123456789").as_deref(), Some("old"));
        assert_eq!(t.check(b"new-token-0123456789").as_deref(), Some("new"));
        assert_eq!(t.check(b"new-token-012345678"), None);
        assert_eq!(t.check(b"new-token-01234567890"), None);
        assert_eq!(t.check(b""), None);
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer   abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
