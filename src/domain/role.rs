//! Who may do what (docs/users.md): one role per person, and the permissions each role has.
//! Four-eyes steps need the permission *and* a second person; the store checks the latter.

/// A console user's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Runs production: watches the day, batches, hand-over to the post.
    Operator,
    /// Scans returned mail.
    Mailroom,
    /// Analyses quality returns.
    Quality,
    /// Approves what needs a second person; sees everything.
    Supervisor,
    /// Manages users and tokens; no production approvals (separation of duties).
    Admin,
}

/// What a person may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// The dashboard, cards, batches (read).
    ViewProduction,
    /// Close batches, hand them over, print letters.
    RunProduction,
    /// Record returned mail.
    ScanReturns,
    /// Open quality cases, record findings, give verdicts, ask for fee waivers.
    AnalyseQuality,
    /// Request a destruction (the first pair of eyes).
    RequestDestruction,
    /// Second pair of eyes: destructions, fee waivers, manual corrections, stock adjustments.
    Approve,
    /// Add and disable users, rotate tokens.
    ManageUsers,
    /// The audit trail and the dead-letter view.
    ViewAudit,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Operator,
        Role::Mailroom,
        Role::Quality,
        Role::Supervisor,
        Role::Admin,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Mailroom => "mailroom",
            Role::Quality => "quality",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The permission table (docs/users.md has the same table).
    pub fn may(self, p: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Operator => matches!(
                p,
                P::ViewProduction | P::RunProduction | P::RequestDestruction
            ),
            Role::Mailroom => matches!(p, P::ViewProduction | P::ScanReturns),
            Role::Quality => matches!(
                p,
                P::ViewProduction | P::AnalyseQuality | P::RequestDestruction
            ),
            Role::Supervisor => !matches!(p, P::ManageUsers),
            Role::Admin => matches!(p, P::ManageUsers | P::ViewAudit | P::ViewProduction),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission as P;

    #[test]
    fn the_permission_table() {
        let all = [
            P::ViewProduction,
            P::RunProduction,
            P::ScanReturns,
            P::AnalyseQuality,
            P::RequestDestruction,
            P::Approve,
            P::ManageUsers,
            P::ViewAudit,
        ];
        #[rustfmt::skip]
        let table: [(Role, [bool; 8]); 5] = [
            //                 view   run    scan   qual   reqD   appr   users  audit
            (Role::Operator,   [true, true,  false, false, true,  false, false, false]),
            (Role::Mailroom,   [true, false, true,  false, false, false, false, false]),
            (Role::Quality,    [true, false, false, true,  true,  false, false, false]),
            (Role::Supervisor, [true, true,  true,  true,  true,  true,  false, true ]),
            (Role::Admin,      [true, false, false, false, false, false, true,  true ]),
        ];
        for (role, row) in table {
            for (p, want) in all.iter().zip(row) {
                assert_eq!(role.may(*p), want, "{role:?} {p:?}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
