//! Synthetic holders and addresses: name, street and town pools, and the rules that turn a
//! person into a line-1 recipient.
//!
//! Names are frequent French surnames and given names combined at random, plus hand-written
//! edge cases (see `requests.rs`); towns and postcodes are real so that the address formatter
//! is exercised on genuine data, but house numbers and streets are combined at random, so no
//! fixture describes a real person or a real household.

use time::Date;

use super::face::Look;
use super::rng::Rng;

/// Line 1 of an address holds at most 38 characters (NF Z10-011).
pub const MAX_LINE: usize = 38;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Civility {
    Monsieur,
    Madame,
}

impl Civility {
    /// The abbreviation La Poste recommends on line 1.
    pub fn abbreviation(self) -> &'static str {
        match self {
            Civility::Monsieur => "M",
            Civility::Madame => "MME",
        }
    }

    /// The presentation hint given to the portrait generator.
    pub fn look(self) -> Look {
        match self {
            Civility::Monsieur => Look::Masculine,
            Civility::Madame => Look::Feminine,
        }
    }
}

/// The holder fields of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub civility: Civility,
    pub surname: String,
    pub given_names: String,
    pub birth_date: Date,
    pub birth_place: String,
    pub licence_number: String,
}

/// The `delivery_address` object of a request, field for field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub recipient: String,
    pub delivery_point: Option<String>,
    pub building: Option<String>,
    pub street: Option<String>,
    pub locality: Option<String>,
    pub postcode: String,
    pub city: String,
    pub cedex: Option<String>,
    pub country: String,
}

impl Address {
    /// A domestic address with only the mandatory parts; callers add the optional lines.
    pub fn domestic(recipient: String, street: Option<&str>, postcode: &str, city: &str) -> Self {
        Address {
            recipient,
            delivery_point: None,
            building: None,
            street: street.map(str::to_string),
            locality: None,
            postcode: postcode.to_string(),
            city: city.to_string(),
            cedex: None,
            country: "FR".to_string(),
        }
    }

    /// An address abroad (no CEDEX; the formatter prints the country name as line 7).
    pub fn abroad(
        recipient: String,
        street: &str,
        postcode: &str,
        city: &str,
        country: &str,
    ) -> Self {
        Address {
            country: country.to_string(),
            ..Address::domestic(recipient, Some(street), postcode, city)
        }
    }
}

/// Characters as the address formatter counts them once a line is set in capitals: `ß`
/// becomes `SS` in capitals, so it counts twice.
pub fn upper_len(s: &str) -> usize {
    s.chars().map(|c| c.to_uppercase().count()).sum()
}

/// Line 1: civility, given names and surname in capitals, shortened the way a clerk would when
/// it does not fit in 38 characters (the formatter never abbreviates line 1): first given name
/// only, then its initial, then the surname alone.
pub fn recipient(civility: Civility, given_names: &str, surname: &str) -> String {
    let civ = civility.abbreviation();
    let first = given_names.split_whitespace().next().unwrap_or("");
    let initial: String = first.chars().take(1).collect();
    let candidates = [
        format!("{civ} {given_names} {surname}"),
        format!("{civ} {first} {surname}"),
        format!("{civ} {initial} {surname}"),
        format!("{civ} {surname}"),
        surname.to_string(),
    ];
    let fallback = surname.to_uppercase();
    candidates
        .into_iter()
        .map(|c| c.to_uppercase())
        .find(|c| upper_len(c) <= MAX_LINE)
        .unwrap_or(fallback)
}

pub const MALE_GIVEN: &[&str] = &[
    "Jean",
    "Pierre",
    "Nicolas",
    "Thomas",
    "Julien",
    "Sébastien",
    "Laurent",
    "Christophe",
    "Mathieu",
    "Stéphane",
    "David",
    "Olivier",
    "Frédéric",
    "Karim",
    "Mohamed",
    "Yannick",
    "Jérôme",
    "Cédric",
    "Franck",
    "Guillaume",
    "Romain",
    "Kévin",
    "Anthony",
    "Mickaël",
    "Hervé",
    "Patrick",
    "Didier",
    "Rachid",
    "Mamadou",
    "Loïc",
    "Benoît",
    "Grégory",
    "Thierry",
    "Pascal",
    "Ludovic",
    "Fabrice",
    "Alexandre",
    "Damien",
    "Yohann",
    "Joël",
    "Bruno",
    "Éric",
    "Gaëtan",
    "Mehdi",
    "Samir",
    "Vincent",
    "Arnaud",
    "Maxime",
    "Quentin",
    "Hugo",
];

pub const FEMALE_GIVEN: &[&str] = &[
    "Marie",
    "Nathalie",
    "Isabelle",
    "Sandrine",
    "Céline",
    "Aurélie",
    "Sophie",
    "Émilie",
    "Julie",
    "Camille",
    "Fatima",
    "Nadia",
    "Virginie",
    "Stéphanie",
    "Laëtitia",
    "Audrey",
    "Élodie",
    "Hélène",
    "Chloé",
    "Manon",
    "Sarah",
    "Inès",
    "Amandine",
    "Maëlle",
    "Karine",
    "Séverine",
    "Valérie",
    "Corinne",
    "Agnès",
    "Noémie",
];

/// Compound given names, written with a hyphen as the civil registry does.
pub const MALE_COMPOUND: &[&str] = &[
    "Jean-Pierre",
    "Jean-Luc",
    "Jean-François",
    "Pierre-Yves",
    "Jean-Marc",
    "Paul-Henri",
    "Jean-Noël",
];

pub const FEMALE_COMPOUND: &[&str] = &[
    "Marie-Claire",
    "Anne-Laure",
    "Marie-Pierre",
    "Anne-Sophie",
    "Marie-José",
];

/// Frequent French surnames, in their usual spelling with accents.
pub const SURNAMES: &[&str] = &[
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Mercier",
    "Blanc",
    "Guérin",
    "Boyer",
    "Garnier",
    "Chevalier",
    "François",
    "Legrand",
    "Gauthier",
    "Perrin",
    "Robin",
    "Clément",
    "Morin",
    "Nicolas",
    "Henry",
    "Roussel",
    "Mathieu",
    "Masson",
    "Marchand",
    "Duval",
    "Denis",
    "Dumont",
    "Lemaire",
    "Noël",
    "Meyer",
    "Dufour",
    "Meunier",
    "Brun",
    "Blanchard",
    "Giraud",
    "Joly",
    "Rivière",
    "Lucas",
    "Brunet",
    "Gaillard",
    "Barbier",
    "Arnaud",
    "Martinez",
    "Gérard",
    "Roche",
    "Renard",
    "Schmitt",
    "Roy",
    "Leroux",
    "Colin",
    "Vidal",
    "Caron",
    "Picard",
    "Roger",
    "Fabre",
    "Aubert",
    "Lemoine",
    "Renaud",
    "Dumas",
    "Lacroix",
    "Olivier",
    "Philippe",
    "Bourgeois",
    "Benoît",
    "Rey",
    "Leclerc",
    "Payet",
    "Rolland",
    "Leclercq",
    "Guillaume",
    "Lecomte",
    "Lopez",
    "Dupuy",
    "Guillot",
    "Hubert",
    "Berger",
    "Carpentier",
    "Sanchez",
    "Dupuis",
    "Moulin",
    "Deschamps",
    "Huet",
    "Vasseur",
    "Perez",
    "Boucher",
    "Fleury",
    "Royer",
    "Klein",
    "Jacquet",
    "Adam",
    "Poirier",
    "Marty",
    "Aubry",
    "Guyot",
    "Carré",
    "Renault",
    "Charpentier",
    "Ménard",
    "Maillard",
    "Baron",
    "Bertin",
    "Bailly",
    "Hervé",
    "Schneider",
    "Fernandez",
    "Collet",
    "Léger",
    "Bouvier",
    "Julien",
    "Prévost",
    "Millet",
    "Perrot",
    "Cousin",
    "Germain",
    "Breton",
    "Besson",
    "Langlois",
    "Rémy",
    "Pelletier",
    "Lévêque",
    "Perrier",
    "Leblanc",
    "Barré",
    "Lebrun",
    "Marchal",
    "Weber",
    "Mallet",
    "Hamon",
    "Boulanger",
    "Jacob",
    "Monnier",
    "Michaud",
    "Rodriguez",
    "Guichard",
    "Gillet",
    "Étienne",
    "Grondin",
    "Poulain",
    "Tessier",
    "Chevallier",
    "Collin",
    "Chauvin",
    "Bouchet",
    "Lemaître",
    "Bénard",
    "Maréchal",
    "Humbert",
    "Reynaud",
    "Antoine",
    "Hoarau",
    "Perret",
    "Barthélemy",
    "Cordier",
    "Pichon",
    "Lejeune",
    "Gilbert",
    "Lamy",
    "Delaunay",
    "Pasquier",
    "Carlier",
    "Laporte",
    "Benali",
    "Haddad",
    "Nguyen",
    "Traoré",
    "Diallo",
    "Ferreira",
    "Rossi",
    "Kowalski",
    "Yilmaz",
];

/// (postcode, town as the post writes it, place of birth as the card writes it).
pub const TOWNS: &[(&str, &str, &str)] = &[
    ("69003", "LYON", "LYON 3E (69)"),
    ("13008", "MARSEILLE", "MARSEILLE 8E (13)"),
    ("31000", "TOULOUSE", "TOULOUSE (31)"),
    ("44000", "NANTES", "NANTES (44)"),
    ("59000", "LILLE", "LILLE (59)"),
    ("33000", "BORDEAUX", "BORDEAUX (33)"),
    ("35000", "RENNES", "RENNES (35)"),
    ("67000", "STRASBOURG", "STRASBOURG (67)"),
    ("21000", "DIJON", "DIJON (21)"),
    ("63000", "CLERMONT-FERRAND", "CLERMONT-FERRAND (63)"),
    ("76600", "LE HAVRE", "LE HAVRE (76)"),
    ("76000", "ROUEN", "ROUEN (76)"),
    ("29200", "BREST", "BREST (29)"),
    ("80000", "AMIENS", "AMIENS (80)"),
    ("87000", "LIMOGES", "LIMOGES (87)"),
    ("37000", "TOURS", "TOURS (37)"),
    ("57000", "METZ", "METZ (57)"),
    ("51100", "REIMS", "REIMS (51)"),
    ("66000", "PERPIGNAN", "PERPIGNAN (66)"),
    ("45000", "ORLEANS", "ORLÉANS (45)"),
    ("38000", "GRENOBLE", "GRENOBLE (38)"),
    ("34000", "MONTPELLIER", "MONTPELLIER (34)"),
    ("06000", "NICE", "NICE (06)"),
    ("42000", "SAINT-ETIENNE", "SAINT-ÉTIENNE (42)"),
    ("49000", "ANGERS", "ANGERS (49)"),
    ("26000", "VALENCE", "VALENCE (26)"),
    ("64000", "PAU", "PAU (64)"),
    ("62000", "ARRAS", "ARRAS (62)"),
    ("10000", "TROYES", "TROYES (10)"),
    ("28000", "CHARTRES", "CHARTRES (28)"),
    ("79000", "NIORT", "NIORT (79)"),
    ("56000", "VANNES", "VANNES (56)"),
    ("68000", "COLMAR", "COLMAR (68)"),
    ("25000", "BESANCON", "BESANÇON (25)"),
    ("74000", "ANNECY", "ANNECY (74)"),
    ("05000", "GAP", "GAP (05)"),
    ("81000", "ALBI", "ALBI (81)"),
    ("71000", "MACON", "MÂCON (71)"),
    ("14000", "CAEN", "CAEN (14)"),
    ("72000", "LE MANS", "LE MANS (72)"),
    ("18000", "BOURGES", "BOURGES (18)"),
    ("86000", "POITIERS", "POITIERS (86)"),
    ("17000", "LA ROCHELLE", "LA ROCHELLE (17)"),
    ("47000", "AGEN", "AGEN (47)"),
    ("30000", "NIMES", "NÎMES (30)"),
    ("84000", "AVIGNON", "AVIGNON (84)"),
    ("83000", "TOULON", "TOULON (83)"),
    ("02100", "SAINT-QUENTIN", "SAINT-QUENTIN (02)"),
    ("95300", "PONTOISE", "PONTOISE (95)"),
    ("91000", "EVRY-COURCOURONNES", "ÉVRY (91)"),
    ("93200", "SAINT-DENIS", "SAINT-DENIS (93)"),
    ("77000", "MELUN", "MELUN (77)"),
    ("60000", "BEAUVAIS", "BEAUVAIS (60)"),
    ("01000", "BOURG-EN-BRESSE", "BOURG-EN-BRESSE (01)"),
    ("75011", "PARIS", "PARIS 11E (75)"),
    ("75019", "PARIS", "PARIS 19E (75)"),
];

/// Places of birth abroad, as the card writes them (town in French, country).
pub const BIRTH_ABROAD: &[&str] = &[
    "CASABLANCA (MAROC)",
    "PORTO (PORTUGAL)",
    "TUNIS (TUNISIE)",
    "DAKAR (SÉNÉGAL)",
    "ALGER (ALGÉRIE)",
    "BRUXELLES (BELGIQUE)",
    "SÉVILLE (ESPAGNE)",
    "NAPLES (ITALIE)",
];

/// Street names in the spelling a person types: accents, hyphens, apostrophes.
pub const STREETS: &[&str] = &[
    "rue des Lilas",
    "avenue Jean Jaurès",
    "rue Victor Hugo",
    "chemin des Vignes",
    "allée des Peupliers",
    "boulevard Gambetta",
    "place de la République",
    "impasse du Moulin",
    "route de Paris",
    "rue Pasteur",
    "rue de la Gare",
    "rue du Général de Gaulle",
    "avenue de la Libération",
    "rue des Écoles",
    "quai de la Saône",
    "rue Jules Ferry",
    "rue du Château",
    "rue de l'Église",
    "chemin de la Croix-Rouge",
    "rue des Acacias",
    "allée des Tilleuls",
    "rue du Stade",
    "rue Émile Zola",
    "avenue des Marronniers",
    "rue Saint-Exupéry",
    "route de Lyon",
    "rue du Moulin à Vent",
    "impasse des Glycines",
    "rue de la Fontaine",
    "cours Lafayette",
];

pub const DELIVERY_POINTS: &[&str] = &[
    "APPARTEMENT 12",
    "ETAGE 3 PORTE GAUCHE",
    "BATIMENT C ESCALIER 2",
    "APPT 41",
    "CHEZ MME LAURENT",
    "Appartement 7, 2e étage",
    "REZ-DE-CHAUSSEE",
];

pub const BUILDINGS: &[&str] = &[
    "RESIDENCE LES PINS",
    "RESIDENCE DU PARC",
    "LES JARDINS DE LA SAONE",
    "IMMEUBLE LE BELVEDERE",
    "Résidence Les Hirondelles",
    "LOTISSEMENT LES CHENES",
];

/// A random given name (sometimes two, or a compound one).
pub fn given_names(rng: &mut Rng, civility: Civility) -> String {
    let (simple, compound) = match civility {
        Civility::Monsieur => (MALE_GIVEN, MALE_COMPOUND),
        Civility::Madame => (FEMALE_GIVEN, FEMALE_COMPOUND),
    };
    match rng.weighted(&[7.0, 1.5, 1.5]) {
        0 => rng.pick(simple).to_string(),
        1 => rng.pick(compound).to_string(),
        _ => {
            let a = rng.pick(simple);
            let mut b = rng.pick(simple);
            if a == b {
                b = rng.pick(compound);
            }
            format!("{a} {b}")
        }
    }
}

/// A driving-licence number consistent with the birth year: the 12-digit file number of the
/// licences issued before September 2013 (`YYMM` of issue, département, sequence), otherwise the
/// current 9-character format (year of issue, two letters, sequence).
pub fn licence_number(rng: &mut Rng, birth_year: i32, old_format: bool) -> String {
    let first_possible = birth_year + 18;
    if old_format && first_possible <= 2012 {
        let year = rng.between(i64::from(first_possible.max(1980)), 2012);
        format!(
            "{:02}{:02}{:02}{:06}",
            year % 100,
            rng.between(1, 12),
            rng.between(1, 95),
            rng.between(1, 999_999)
        )
    } else {
        let year = rng.between(i64::from(first_possible.max(2014)), 2025);
        let letters: String = (0..2)
            .map(|_| char::from(b'A' + rng.below(26) as u8))
            .collect();
        format!("{:02}{letters}{:05}", year % 100, rng.between(1, 99_999))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_shortens_to_38() {
        assert_eq!(
            recipient(Civility::Monsieur, "Jean Pierre", "DUPONT-MARTIN"),
            "M JEAN PIERRE DUPONT-MARTIN"
        );
        assert_eq!(
            recipient(
                Civility::Madame,
                "Marie-Christine Anne-Sophie Geneviève",
                "ROY"
            ),
            "MME MARIE-CHRISTINE ROY"
        );
        let long = "SAINT-AUBIN-MONTAGNAC DE LA VERRIERE";
        assert_eq!(
            recipient(Civility::Monsieur, "Charles", long),
            format!("M {long}")
        );
        assert_eq!(
            upper_len(&recipient(Civility::Monsieur, "Jürgen", "Größmann")),
            18
        );
    }

    #[test]
    fn licence_numbers_have_a_contract_shape() {
        let mut rng = Rng::new(5);
        for i in 0..500 {
            let n = licence_number(&mut rng, 1960 + i % 45, i % 3 == 0);
            let b = n.as_bytes();
            let nine = b.len() == 9
                && b[..2].iter().all(u8::is_ascii_digit)
                && b[2..4].iter().all(u8::is_ascii_uppercase)
                && b[4..].iter().all(u8::is_ascii_digit);
            let twelve = b.len() == 12 && b.iter().all(u8::is_ascii_digit);
            assert!(nine || twelve, "{n}");
        }
    }

    #[test]
    fn pools_are_letters_only_where_names_are() {
        for n in MALE_GIVEN
            .iter()
            .chain(FEMALE_GIVEN)
            .chain(MALE_COMPOUND)
            .chain(FEMALE_COMPOUND)
            .chain(SURNAMES)
        {
            assert!(
                n.chars()
                    .all(|c| c.is_alphabetic() || c == ' ' || c == '-' || c == '\''),
                "{n}"
            );
        }
    }
}
