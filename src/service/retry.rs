//! The one loop for every write that may lose a race. Create, patch, replace,
//! delete and rename each describe one attempt as a closure; [`retrying`]
//! runs it at most [`RACE_RETRIES`] times, pausing between attempts as the
//! reason for trying again demands.
//!
//! Each attempt finds the entry by id again, so an entry that is really gone
//! answers 404 on the next attempt. The attempt itself decides what its last
//! try answers (it knows through [`Attempt::is_last`]): a 503 with
//! Retry-After when the server stayed busy, the directory's own error
//! otherwise.

use std::future::Future;
use std::time::Duration;

use super::Service;
use super::errors::busy;
use crate::directory::{DirError, Directory, rc};
use crate::error::Error;
use crate::ldap::Dn;
use crate::mapping::AttrMap;

/// Attempts of a write that lost a race: a value added or removed meanwhile,
/// or the entry moved between finding it by id and writing it (renamed by
/// another writer, or by an earlier attempt of the same request that the
/// directory carried out after it had timed out), or a server too busy to
/// take the write.
pub(super) const RACE_RETRIES: usize = 3;

/// Why an attempt asks to be tried again; each reason has its pause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Why {
    /// A concurrent writer changed the entry and the write was refused for
    /// it (a value added or removed meanwhile): plan again at once.
    LostRace,
    /// The entry moved (renamed) between finding it and writing it, or the
    /// version it was planned from changed: a short pause, growing per
    /// attempt, lets the rename finish before the entry is found again.
    EntryMoved,
    /// The server refused the write under contention (see `busy`): long
    /// enough for the writes ahead of it to finish.
    ServerBusy,
    /// A number allocated for a new entry was taken meanwhile (the
    /// directory's uniqueness check refused the add): allocate again at once.
    NumberTaken,
}

impl Why {
    /// The pause before attempt `attempt + 1`.
    pub(super) fn pause(self, attempt: usize) -> Duration {
        let per_attempt = match self {
            Why::LostRace | Why::NumberTaken => 0,
            Why::EntryMoved => 2,
            Why::ServerBusy => 20,
        };
        Duration::from_millis(per_attempt * attempt as u64)
    }
}

/// Which attempt this is, counted from 1, and how many there may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Attempt(usize, usize);

impl Attempt {
    /// The first try: what is said once per request is said here.
    pub(super) fn is_first(self) -> bool {
        self.0 == 1
    }

    /// No attempt follows this one: it must answer rather than ask again.
    pub(super) fn is_last(self) -> bool {
        self.0 >= self.1
    }
}

/// What an attempt came to.
#[derive(Debug)]
pub(super) enum Step<T> {
    /// Finished: the answer.
    Done(T),
    /// Try again, for this reason.
    Again(Why),
}

/// Runs `attempt` until it is done, at most [`RACE_RETRIES`] times. An
/// attempt asking again on its last try (which callers avoid by checking
/// [`Attempt::is_last`]) is answered 503, retryable by the client.
pub(super) async fn retrying<T, F, Fut>(what: &str, attempt: F) -> Result<T, Error>
where
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<Step<T>, Error>>,
{
    retrying_up_to(RACE_RETRIES, what, attempt).await
}

/// [`retrying`] with another number of attempts (at least one).
pub(super) async fn retrying_up_to<T, F, Fut>(
    attempts: usize,
    what: &str,
    mut attempt: F,
) -> Result<T, Error>
where
    F: FnMut(Attempt) -> Fut,
    Fut: Future<Output = Result<Step<T>, Error>>,
{
    let mut n = 0;
    loop {
        n += 1;
        match attempt(Attempt(n, attempts)).await? {
            Step::Done(t) => return Ok(t),
            Step::Again(_) if Attempt(n, attempts).is_last() => {
                return Err(Error::Unavailable(format!(
                    "{what}: the entry kept changing; try again"
                )));
            }
            Step::Again(why) => {
                let pause = why.pause(n);
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
}

impl<D: Directory> Service<D> {
    /// A write to an entry that is there (found a moment ago, or just added)
    /// beside the request's own write: the empty-group placeholder, a member
    /// removed or renamed, an entry added and sent away again. 389-ds
    /// refuses a write with noSuchObject when it cannot lock the entry in
    /// time under concurrent writes (see `busy`); while the entry is there,
    /// `write` is tried again after the server-busy pause, and answered 503
    /// if the server stays busy. Any other answer, noSuchObject for an entry
    /// really gone included, is the directory's, for the caller to judge.
    pub(super) async fn while_busy<T, F, Fut>(
        &self,
        map: &AttrMap,
        dn: &Dn,
        what: &str,
        mut write: F,
    ) -> Result<Result<T, DirError>, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, DirError>>,
    {
        retrying(what, |attempt| {
            let written = write();
            async move {
                match written.await {
                    Err(DirError::Result {
                        rc: rc::NO_SUCH_OBJECT,
                        text,
                    }) if self.exists(map, dn).await? => {
                        if attempt.is_last() {
                            Err(busy(what, dn, &text))
                        } else {
                            Ok(Step::Again(Why::ServerBusy))
                        }
                    }
                    answer => Ok(Step::Done(answer)),
                }
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_grow_per_attempt_as_each_reason_wants() {
        let ms = |why: Why, n| why.pause(n).as_millis();
        assert_eq!([1, 2, 3].map(|n| ms(Why::LostRace, n)), [0, 0, 0]);
        assert_eq!([1, 2, 3].map(|n| ms(Why::EntryMoved, n)), [2, 4, 6]);
        assert_eq!([1, 2, 3].map(|n| ms(Why::ServerBusy, n)), [20, 40, 60]);
        assert_eq!([1, 2, 3].map(|n| ms(Why::NumberTaken, n)), [0, 0, 0]);
    }

    #[test]
    fn only_the_third_attempt_is_the_last() {
        assert_eq!(
            [1, 2, 3].map(|n| Attempt(n, RACE_RETRIES).is_last()),
            [false, false, true]
        );
    }

    #[tokio::test]
    async fn attempts_stop_at_done_or_after_the_last() {
        let mut seen = Vec::new();
        let r = retrying("t", |a| {
            seen.push(a.0);
            async move {
                Ok(if a.0 == 2 {
                    Step::Done(a.0)
                } else {
                    Step::Again(Why::LostRace)
                })
            }
        })
        .await;
        assert!(matches!(r, Ok(2)), "{r:?}");
        assert_eq!(seen, [1, 2]);
        let r: Result<(), Error> =
            retrying("t", |_| async { Ok(Step::Again(Why::LostRace)) }).await;
        assert!(matches!(r, Err(Error::Unavailable(_))), "{r:?}");
    }
}
