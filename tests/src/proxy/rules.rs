//! Fault rules: which operations, which kind of fault, and when.
//!
//! The kinds are the two sides of the server (DESIGN.md, "Faults: two sides of the
//! server"): **before** it (the server never sees the request) and **after** it acted (the
//! work is done, the client learns nothing or only part of the answer).

use std::time::Duration;

use liberator_engine::store::Firing;
pub use liberator_engine::store::{Op, When};

/// What the proxy does to a request a rule picked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// (a) Before the server: answers `503 SlowDown` itself.
    SlowDown,
    /// (a) Before the server: answers `500 InternalError` itself.
    InternalError,
    /// (a) Before the server: resets the client connection after reading the request.
    Reset,
    /// (b) After the server acted: forwards the request, lets the server finish, then resets
    /// the client connection without sending a byte of the reply.
    LostReply,
    /// (c) After the server acted: forwards, sends the status line, the headers and half of
    /// the body (half of the head when there is no body), then resets.
    ResetMidBody,
    /// (d) After the server acted: forwards, lets the server finish, then holds the client
    /// connection open without a byte for this long (longer than the client's attempt
    /// timeout) and closes it.
    Stall(Duration),
}

impl Kind {
    /// Whether the server saw the request (the "after" side).
    pub fn server_acted(self) -> bool {
        matches!(self, Kind::LostReply | Kind::ResetMidBody | Kind::Stall(_))
    }

    /// The name stats and tables print.
    pub fn name(self) -> &'static str {
        match self {
            Kind::SlowDown => "503 SlowDown",
            Kind::InternalError => "500 InternalError",
            Kind::Reset => "reset before",
            Kind::LostReply => "reply lost",
            Kind::ResetMidBody => "reset mid-body",
            Kind::Stall(_) => "stall",
        }
    }

    /// The short label of the fault-model item: (a) … (d).
    pub fn label(self) -> &'static str {
        match self {
            Kind::SlowDown | Kind::InternalError | Kind::Reset => "(a)",
            Kind::LostReply => "(b)",
            Kind::ResetMidBody => "(c)",
            Kind::Stall(_) => "(d)",
        }
    }
}

/// One rule: the operations it applies to (empty = every classified operation), the kind
/// of fault, and when it fires. `When::Nth(n)` and `When::FirstN(n)` count the calls this
/// rule matches, 1-based: with one operation in `ops`, the Nth call of that operation.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub ops: Vec<Op>,
    pub kind: Kind,
    pub when: When,
}

impl Rule {
    pub fn new(ops: &[Op], kind: Kind, when: When) -> Self {
        Rule {
            ops: ops.to_vec(),
            kind,
            when,
        }
    }

    /// A short description for tables: `(b) reply lost 10 % on all ops`.
    pub fn describe(&self) -> String {
        format!("{} on {}", self.what(), self.on())
    }

    /// Kind and when: `(b) reply lost 10 %`.
    fn what(&self) -> String {
        let when = match self.when {
            When::Rate(p) => format!("{} %", p * 100.0),
            When::Nth(n) => format!("call #{n}"),
            When::FirstN(u64::MAX) => "every call".to_string(),
            When::FirstN(n) => format!("first {n}"),
        };
        let kind = match self.kind {
            Kind::Stall(d) => format!("stall {} s", d.as_secs_f64()),
            k => k.name().to_string(),
        };
        format!("{} {kind} {when}", self.kind.label())
    }

    /// The operations: `all ops`, or their names.
    fn on(&self) -> String {
        if self.ops.is_empty() {
            return "all ops".to_string();
        }
        self.ops
            .iter()
            .map(|op| super::ops::op_name(Some(*op)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A mix of rules for a table: rules on the same operations one after the other are joined
/// (`(a) 503 SlowDown 4 % + (b) reply lost 10 % on all ops`), groups by `; `; no rules is
/// `none`.
pub fn describe_all(rules: &[Rule]) -> String {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for rule in rules {
        match groups.last_mut() {
            Some((on, whats)) if *on == rule.on() => whats.push(rule.what()),
            _ => groups.push((rule.on(), vec![rule.what()])),
        }
    }
    if groups.is_empty() {
        return "none".into();
    }
    groups
        .iter()
        .map(|(on, whats)| format!("{} on {on}", whats.join(" + ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Picks the rule that fires for each call, as the engine's fault wrapper does
/// ([`Firing`]: every matching rule counts the call, the first that fires wins, rates from
/// one seeded generator).
#[derive(Debug)]
pub(super) struct Decider {
    rules: Vec<Rule>,
    firing: Firing,
}

impl Decider {
    pub fn new(rules: Vec<Rule>, seed: u64) -> Self {
        Decider {
            rules,
            firing: Firing::new(seed),
        }
    }

    /// The kind of fault for this call of `op`, if a rule fires.
    pub fn decide(&self, op: Op) -> Option<Kind> {
        let covers = |r: &Rule| r.ops.is_empty() || r.ops.contains(&op);
        self.firing
            .first(self.rules.iter().map(|r| (covers(r), r.when)))
            .map(|i| self.rules[i].kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_counts_the_rules_own_operations_and_first_n_a_burst() {
        let d = Decider::new(
            vec![
                Rule::new(&[Op::CompleteMultipart], Kind::LostReply, When::Nth(2)),
                Rule::new(&[Op::Head], Kind::SlowDown, When::FirstN(2)),
            ],
            1,
        );
        let got: Vec<_> = [
            Op::CompleteMultipart,
            Op::Head,
            Op::List,
            Op::CompleteMultipart,
            Op::Head,
            Op::Head,
            Op::CompleteMultipart,
        ]
        .into_iter()
        .map(|op| d.decide(op))
        .collect();
        assert_eq!(
            got,
            vec![
                None,
                Some(Kind::SlowDown),
                None,
                Some(Kind::LostReply),
                Some(Kind::SlowDown),
                None,
                None
            ]
        );
    }

    #[test]
    fn mixes_read_as_kind_rate_and_operations() {
        let rules = [
            Rule::new(&[], Kind::SlowDown, When::Rate(0.04)),
            Rule::new(&[], Kind::LostReply, When::Rate(0.1)),
            Rule::new(
                &[Op::GetRange],
                Kind::Stall(Duration::from_secs(4)),
                When::Nth(2),
            ),
        ];
        assert_eq!(
            describe_all(&rules),
            "(a) 503 SlowDown 4 % + (b) reply lost 10 % on all ops; (d) stall 4 s call #2 on GetObject (range)"
        );
        assert_eq!(describe_all(&[]), "none");
    }

    #[test]
    fn rates_are_seeded() {
        let draw = |seed| {
            let d = Decider::new(vec![Rule::new(&[], Kind::Reset, When::Rate(0.3))], seed);
            (0..200)
                .map(|_| d.decide(Op::Get).is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(5), draw(5));
        let fired = draw(5).iter().filter(|f| **f).count();
        assert!((30..90).contains(&fired), "{fired}");
    }
}
