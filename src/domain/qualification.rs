//! Qualifications (field 9 and code 95): the vehicle groups and categories a holder may drive
//! professionally, and the training that opened them.

use std::fmt;

use time::Date;

use super::violation::{Code, Violation};

/// The two qualification groups of Directive 2003/59/EC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    Goods,
    Passengers,
}

impl Group {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "goods" => Some(Group::Goods),
            "passengers" => Some(Group::Passengers),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Group::Goods => "goods",
            Group::Passengers => "passengers",
        }
    }
}

/// Licence categories printed in field 9, in the order the card lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    C1,
    C1E,
    C,
    CE,
    D1,
    D1E,
    D,
    DE,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::C1,
        Category::C1E,
        Category::C,
        Category::CE,
        Category::D1,
        Category::D1E,
        Category::D,
        Category::DE,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Category::C1 => "C1",
            Category::C1E => "C1E",
            Category::C => "C",
            Category::CE => "CE",
            Category::D1 => "D1",
            Category::D1E => "D1E",
            Category::D => "D",
            Category::DE => "DE",
        }
    }

    pub fn group(self) -> Group {
        match self {
            Category::C1 | Category::C1E | Category::C | Category::CE => Group::Goods,
            _ => Group::Passengers,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The training that opened or renewed the qualification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Training {
    /// Initial qualification, accelerated (FIMO, 140 h).
    Fimo,
    /// Initial qualification, long (280 h).
    Long,
    /// Periodic training (FCO, 35 h every 5 years).
    Fco,
    /// Bridge between goods and passengers (35 h).
    Passerelle,
}

impl Training {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fimo" => Some(Training::Fimo),
            "long" => Some(Training::Long),
            "fco" => Some(Training::Fco),
            "passerelle" => Some(Training::Passerelle),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Training::Fimo => "fimo",
            Training::Long => "long",
            Training::Fco => "fco",
            Training::Passerelle => "passerelle",
        }
    }
}

/// One group's qualification: non-empty, duplicate-free categories of that group only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qualification {
    group: Group,
    categories: Vec<Category>,
    /// The group's most recent qualifying training.
    pub training: Training,
    pub training_end: Date,
    /// The group's code-95 date before this training, as the portal knows it (the previous
    /// card's, or the driving licence's); `None` when the holder had none. An anticipated
    /// FCO keeps this date as the start of its five years (docs/validity.md).
    pub previous_expiry: Option<Date>,
    /// Where the portal listed it (`qualifications[index]`), kept for error paths: the list
    /// is sorted into card order.
    index: usize,
}

impl Qualification {
    /// Checks the categories against the group; `path` is `qualifications[i]`.
    pub fn new(
        group: Group,
        categories: &[Category],
        training: Training,
        training_end: Date,
        path: &str,
    ) -> Result<Self, Vec<Violation>> {
        let mut errors = Vec::new();
        if categories.is_empty() {
            errors.push(Violation::new(
                format!("{path}.categories"),
                Code::NoCategories,
                "at least one category is needed",
            ));
        }
        let mut seen = Vec::new();
        for (i, &c) in categories.iter().enumerate() {
            let p = format!("{path}.categories[{i}]");
            if c.group() != group {
                errors.push(Violation::new(
                    p,
                    Code::CategoryNotInGroup,
                    format!("category {c} is not in the {} group", group.as_str()),
                ));
            } else if seen.contains(&c) {
                errors.push(Violation::new(
                    p,
                    Code::DuplicateCategory,
                    format!("category {c} is listed twice"),
                ));
            } else {
                seen.push(c);
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        seen.sort();
        Ok(Qualification {
            group,
            categories: seen,
            training,
            training_end,
            previous_expiry: None,
            index: 0,
        })
    }

    /// The same qualification with the group's previous code-95 date.
    pub fn with_previous_expiry(mut self, previous: Option<Date>) -> Self {
        self.previous_expiry = previous;
        self
    }

    pub fn group(&self) -> Group {
        self.group
    }

    /// Categories in card order.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }
}

/// One or two qualifications, at most one per group, goods first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qualifications(Vec<Qualification>);

impl Qualifications {
    pub fn new(mut list: Vec<Qualification>, path: &str) -> Result<Self, Violation> {
        if list.is_empty() {
            return Err(Violation::new(
                path,
                Code::NoQualifications,
                "at least one qualification is needed",
            ));
        }
        if list.len() > 2 {
            return Err(Violation::new(
                path,
                Code::TooManyQualifications,
                format!(
                    "{} qualifications given; at most 2 (goods and passengers)",
                    list.len()
                ),
            ));
        }
        if list.len() == 2 && list[0].group == list[1].group {
            return Err(Violation::new(
                format!("{path}[1].group"),
                Code::DuplicateGroup,
                format!("the {} group is given twice", list[1].group.as_str()),
            ));
        }
        for (i, q) in list.iter_mut().enumerate() {
            q.index = i;
        }
        list.sort_by_key(|q| q.group);
        Ok(Qualifications(list))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Qualification> {
        self.0.iter()
    }

    /// Every category in card order (goods then passengers).
    pub fn categories(&self) -> Vec<Category> {
        self.0
            .iter()
            .flat_map(|q| q.categories.iter().copied())
            .collect()
    }

    /// The qualification of `group`, if the request carries that group.
    pub fn of(&self, group: Group) -> Option<&Qualification> {
        self.0.iter().find(|q| q.group == group)
    }

    /// Where the portal listed `group`: the `i` of `qualifications[i]` in error paths.
    pub fn position(&self, group: Group) -> Option<usize> {
        self.of(group).map(|q| q.index)
    }
}

/// A group as a card carries it: its categories and code-95 date (field 10), and how the date
/// was reached. What rendering, the chip, the certificate and the portal's view read; cards
/// stored before per-group dates existed know neither training nor rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardGroup {
    pub group: Group,
    /// In card order, all of this group.
    pub categories: Vec<Category>,
    pub expiry: Date,
    pub training: Option<Training>,
    pub training_end: Option<Date>,
    pub rule: Option<crate::domain::validity::Rule>,
}

impl CardGroup {
    /// Field 10's notation of the group's date, e.g. `95.01.06.2029`.
    pub fn code_95(&self) -> String {
        crate::domain::validity::code_95(self.expiry)
    }

    /// The groups of a card from its qualifications and computed dates, goods first.
    pub fn from_request(
        qualifications: &Qualifications,
        validity: &crate::domain::validity::Validity,
    ) -> Vec<CardGroup> {
        qualifications
            .iter()
            .filter_map(|q| {
                let v = validity.group(q.group)?;
                Some(CardGroup {
                    group: q.group,
                    categories: q.categories.clone(),
                    expiry: v.expiry,
                    training: Some(q.training),
                    training_end: Some(q.training_end),
                    rule: Some(v.rule),
                })
            })
            .collect()
    }

    /// Every category of `groups` with its group's date, in card order: side 2's field 9/10
    /// rows and DG1's category entries.
    pub fn per_category(groups: &[CardGroup]) -> Vec<(Category, Date)> {
        let mut rows: Vec<(Category, Date)> = groups
            .iter()
            .flat_map(|g| g.categories.iter().map(|&c| (c, g.expiry)))
            .collect();
        rows.sort_by_key(|&(c, _)| c);
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn categories_must_belong_to_their_group_and_not_repeat() {
        let d = date!(2026 - 01 - 10);
        let e = Qualification::new(
            Group::Goods,
            &[Category::C, Category::D, Category::C],
            Training::Fco,
            d,
            "q[0]",
        )
        .unwrap_err();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].code, Code::CategoryNotInGroup);
        assert_eq!(e[0].path, "q[0].categories[1]");
        assert_eq!(e[1].code, Code::DuplicateCategory);
        let q = Qualification::new(
            Group::Goods,
            &[Category::CE, Category::C1],
            Training::Fco,
            d,
            "q",
        )
        .unwrap();
        assert_eq!(q.categories(), &[Category::C1, Category::CE]);
    }

    #[test]
    fn at_most_one_qualification_per_group() {
        let d = date!(2026 - 01 - 10);
        let g = Qualification::new(Group::Goods, &[Category::C], Training::Fco, d, "q").unwrap();
        let p = Qualification::new(
            Group::Passengers,
            &[Category::D],
            Training::Fco,
            date!(2026 - 02 - 10),
            "q",
        )
        .unwrap();
        let both = Qualifications::new(vec![p.clone(), g.clone()], "qualifications").unwrap();
        assert_eq!(both.categories(), vec![Category::C, Category::D]);
        assert_eq!(
            both.of(Group::Passengers).map(|q| q.training_end),
            Some(date!(2026 - 02 - 10))
        );
        let e = Qualifications::new(vec![g.clone(), g], "qualifications").unwrap_err();
        assert_eq!(e.code, Code::DuplicateGroup);
        assert_eq!(
            Qualifications::new(vec![], "qualifications")
                .unwrap_err()
                .code,
            Code::NoQualifications
        );
    }
}
