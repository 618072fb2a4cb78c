//! How a plan is written, decided without I/O: whether the modify asserts
//! the version it was planned from (Assertion control), whether the version
//! token is compared-and-swapped or simply renewed, what is read back, and
//! which failures send the caller back to plan again. `write` carries the
//! decision out; the table in the tests below covers every input.

/// Whether the client's If-Match names a version (`*` only asks that the
/// resource exists, which finding it already showed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Concurrency {
    /// No version named: writes commute (membership changes from several
    /// daemons), the token is simply renewed.
    Unconditional,
    /// A version named: it is asserted, the token is compared-and-swapped,
    /// and a failed assertion is a 412.
    IfMatch,
}

impl Concurrency {
    pub(super) fn of(if_match: Option<&str>) -> Concurrency {
        if if_match.is_some_and(|t| t.trim() != "*") {
            Concurrency::IfMatch
        } else {
            Concurrency::Unconditional
        }
    }
}

/// What the caller answers the client with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Answer {
    /// The resource after the write.
    Entry,
    /// 204 No Content: the entry after the write is not needed.
    NoContent,
}

/// Whether the caller can plan again (it has attempts left).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Replan {
    /// When the entry changed or moved before anything was written, the
    /// execution answers `Written::Replan`.
    Allowed,
    /// The last attempt: every failure is an answer.
    Never,
}

/// The version token (a value every write renews) on the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Token {
    /// The map keeps none, or this entry has none yet.
    Absent,
    Present,
}

/// Everything the decision depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Situation {
    pub concurrency: Concurrency,
    pub answer: Answer,
    pub replan: Replan,
    pub token: Token,
    /// The plan or the entry holds the empty-group placeholder: the entry
    /// after the write is needed to see it beside real members.
    pub placeholder_involved: bool,
    /// The plan renames the entry (a modrdn follows the modify).
    pub renames: bool,
    /// The plan sets a password by the Password Modify extended operation.
    pub password_by_extended_operation: bool,
    /// The server offers the Assertion control.
    pub assertion: bool,
    /// The server offers the PostRead control.
    pub post_read: bool,
    /// The entry read has exactly one value of the version attribute.
    pub single_version: bool,
}

/// Which version the modify asserts of its own accord.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Guard {
    /// None beyond the client's If-Match, if any.
    None,
    /// The version this plan was made from: when the modify succeeds nothing
    /// else changed the entry in between, so the entry after it is the one
    /// read plus these changes, and only what the server itself changes
    /// needs reading back.
    VersionRead,
}

/// What is read back after the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadBack {
    /// Nothing (on a large group a PostRead would carry every member back).
    Nothing,
    /// Only the attributes the server maintains, applied to the entry read
    /// (safe under [`Guard::VersionRead`] only).
    ServerChanged,
    /// Every attribute the map reads (PostRead, or a read after the write).
    Whole,
}

/// How the version token is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TokenWrite {
    Untouched,
    /// Replaced by a fresh value.
    Renew,
    /// The old value deleted and a fresh one added in the same modify: the
    /// modify fails as a whole when another write renewed the token since
    /// this request read it.
    CompareAndSwap,
}

/// What a failure of one kind leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnFailure {
    /// Nothing was written: find the entry again and plan again.
    Replan,
    /// Answer the client.
    Answer,
}

/// How to write a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Decision {
    pub guard: Guard,
    pub read: ReadBack,
    pub token: TokenWrite,
    /// A failed assertion (the entry changed since it was read).
    pub changed: OnFailure,
    /// noSuchObject before anything was written (the entry moved).
    pub moved: OnFailure,
}

/// Decides how a plan is written in `s`.
pub(super) fn decide(s: Situation) -> Decision {
    let needs_entry = s.answer == Answer::Entry || s.placeholder_involved;
    // A rename or a password set by extended operation reads the entry anyway.
    let guard = if s.replan == Replan::Allowed
        && needs_entry
        && !s.renames
        && !s.password_by_extended_operation
        && s.assertion
        && s.post_read
        && s.single_version
    {
        Guard::VersionRead
    } else {
        Guard::None
    };
    let read = match (needs_entry, guard) {
        (false, _) => ReadBack::Nothing,
        (true, Guard::VersionRead) => ReadBack::ServerChanged,
        (true, Guard::None) => ReadBack::Whole,
    };
    let token = match (s.token, s.concurrency) {
        (Token::Absent, _) => TokenWrite::Untouched,
        (Token::Present, Concurrency::Unconditional) => TokenWrite::Renew,
        (Token::Present, Concurrency::IfMatch) => TokenWrite::CompareAndSwap,
    };
    // Under If-Match a failed assertion is the client's 412, never a re-plan.
    let changed = match (guard, s.concurrency) {
        (Guard::VersionRead, Concurrency::Unconditional) => OnFailure::Replan,
        _ => OnFailure::Answer,
    };
    let moved = match s.replan {
        Replan::Allowed => OnFailure::Replan,
        Replan::Never => OnFailure::Answer,
    };
    Decision {
        guard,
        read,
        token,
        changed,
        moved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every server and plan condition a guard needs, met.
    fn guardable(
        concurrency: Concurrency,
        answer: Answer,
        replan: Replan,
        token: Token,
    ) -> Situation {
        Situation {
            concurrency,
            answer,
            replan,
            token,
            placeholder_involved: false,
            renames: false,
            password_by_extended_operation: false,
            assertion: true,
            post_read: true,
            single_version: true,
        }
    }

    use Answer::{Entry, NoContent};
    use Concurrency::{IfMatch, Unconditional};
    use Guard::VersionRead;
    use OnFailure::{Answer as Ans, Replan as Re};
    use ReadBack::{Nothing, ServerChanged, Whole};
    use Replan::{Allowed, Never};
    use Token::{Absent, Present};
    use TokenWrite::{CompareAndSwap, Renew, Untouched};

    #[test]
    fn every_mode_on_a_server_that_offers_everything() {
        #[rustfmt::skip]
        let table = [
            // concurrency, answer, replan, token => guard, read, token, changed, moved
            (Unconditional, Entry, Allowed, Absent, VersionRead, ServerChanged, Untouched, Re, Re),
            (Unconditional, Entry, Allowed, Present, VersionRead, ServerChanged, Renew, Re, Re),
            (Unconditional, Entry, Never, Absent, Guard::None, Whole, Untouched, Ans, Ans),
            (Unconditional, Entry, Never, Present, Guard::None, Whole, Renew, Ans, Ans),
            (Unconditional, NoContent, Allowed, Absent, Guard::None, Nothing, Untouched, Ans, Re),
            (Unconditional, NoContent, Allowed, Present, Guard::None, Nothing, Renew, Ans, Re),
            (Unconditional, NoContent, Never, Absent, Guard::None, Nothing, Untouched, Ans, Ans),
            (Unconditional, NoContent, Never, Present, Guard::None, Nothing, Renew, Ans, Ans),
            (IfMatch, Entry, Allowed, Absent, VersionRead, ServerChanged, Untouched, Ans, Re),
            (IfMatch, Entry, Allowed, Present, VersionRead, ServerChanged, CompareAndSwap, Ans, Re),
            (IfMatch, Entry, Never, Absent, Guard::None, Whole, Untouched, Ans, Ans),
            (IfMatch, Entry, Never, Present, Guard::None, Whole, CompareAndSwap, Ans, Ans),
            (IfMatch, NoContent, Allowed, Absent, Guard::None, Nothing, Untouched, Ans, Re),
            (IfMatch, NoContent, Allowed, Present, Guard::None, Nothing, CompareAndSwap, Ans, Re),
            (IfMatch, NoContent, Never, Absent, Guard::None, Nothing, Untouched, Ans, Ans),
            (IfMatch, NoContent, Never, Present, Guard::None, Nothing, CompareAndSwap, Ans, Ans),
        ];
        for (c, a, r, t, guard, read, token, changed, moved) in table {
            let want = Decision {
                guard,
                read,
                token,
                changed,
                moved,
            };
            assert_eq!(
                decide(guardable(c, a, r, t)),
                want,
                "{c:?} {a:?} {r:?} {t:?}"
            );
        }
    }

    /// Makes one condition of the guard unmet.
    type Unmeet = fn(&mut Situation);

    /// Each condition of the guard, alone unmet, leaves the write unguarded
    /// and the whole entry read back.
    #[test]
    fn each_missing_condition_drops_the_guard() {
        let base = guardable(Unconditional, Entry, Allowed, Present);
        let unmet: [(&str, Unmeet); 5] = [
            ("renames", |s| s.renames = true),
            ("password by extended operation", |s| {
                s.password_by_extended_operation = true
            }),
            ("no Assertion control", |s| s.assertion = false),
            ("no PostRead control", |s| s.post_read = false),
            ("not one version value", |s| s.single_version = false),
        ];
        for (name, unmeet) in unmet {
            let mut s = base;
            unmeet(&mut s);
            let d = decide(s);
            assert_eq!(d.guard, Guard::None, "{name}");
            assert_eq!(d.read, Whole, "{name}");
            assert_eq!(d.changed, Ans, "{name}");
            assert_eq!((d.token, d.moved), (Renew, Re), "{name}");
        }
    }

    /// A placeholder in play needs the entry after the write even for a 204.
    #[test]
    fn a_placeholder_reads_the_entry_back() {
        for (replan, guard, read) in [
            (Allowed, VersionRead, ServerChanged),
            (Never, Guard::None, Whole),
        ] {
            let mut s = guardable(Unconditional, NoContent, replan, Present);
            s.placeholder_involved = true;
            let d = decide(s);
            assert_eq!((d.guard, d.read), (guard, read), "{replan:?}");
        }
    }

    /// Over every combination of inputs: the guard only with every condition
    /// met, nothing read back only when nothing is needed, compare-and-swap
    /// exactly under If-Match with a token, and a re-plan never on the last
    /// attempt nor on a failed If-Match.
    #[test]
    fn invariants_hold_for_every_combination() {
        let flags = [false, true];
        let mut seen = 0;
        for c in [Unconditional, IfMatch] {
            for a in [Entry, NoContent] {
                for r in [Allowed, Never] {
                    for t in [Absent, Present] {
                        for bits in 0..(1u32 << 6) {
                            let bit = |i: u32| flags[usize::from(bits & (1 << i) != 0)];
                            let s = Situation {
                                concurrency: c,
                                answer: a,
                                replan: r,
                                token: t,
                                placeholder_involved: bit(0),
                                renames: bit(1),
                                password_by_extended_operation: bit(2),
                                assertion: bit(3),
                                post_read: bit(4),
                                single_version: bit(5),
                            };
                            let d = decide(s);
                            let needs = a == Entry || s.placeholder_involved;
                            let all_met = r == Allowed
                                && needs
                                && !s.renames
                                && !s.password_by_extended_operation
                                && s.assertion
                                && s.post_read
                                && s.single_version;
                            assert_eq!(d.guard == VersionRead, all_met, "{s:?}");
                            assert_eq!(d.read == Nothing, !needs, "{s:?}");
                            assert_eq!(d.read == ServerChanged, all_met, "{s:?}");
                            assert_eq!(
                                d.token == CompareAndSwap,
                                c == IfMatch && t == Present,
                                "{s:?}"
                            );
                            assert_eq!(d.token == Untouched, t == Absent, "{s:?}");
                            assert_eq!(d.changed == Re, all_met && c == Unconditional, "{s:?}");
                            assert_eq!(d.moved == Re, r == Allowed, "{s:?}");
                            seen += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(seen, 1024);
    }
}
