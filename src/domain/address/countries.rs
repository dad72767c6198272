//! Destination countries: ISO 3166-1 alpha-2 code to the name printed on the last line.
//!
//! The UPU asks for the destination country on the last line, in the language of the country
//! of posting, so a card posted in France reads ALLEMAGNE, not DEUTSCHLAND. The names are the
//! usual French short names in capitals without accents or punctuation (the country line is
//! below line 4, where NF Z10-011 allows neither), each at most 38 characters.
//!
//! The list covers every officially assigned ISO 3166-1 alpha-2 code, plus XK (Kosovo, a
//! user-assigned code the EU and the UPU use), except FR itself and the French overseas
//! territories that have French postcodes: those are domestic addresses ([`OVERSEAS`]).

/// A destination abroad and the name printed on line 7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    pub code: &'static str,
    pub name: &'static str,
}

/// A French overseas territory with its own ISO code but a French 5-digit postcode. La Poste
/// carries mail there as domestic mail and reads the postcode alone, so the address gets no
/// country line; the postcode must be the territory's, or the ISO code and the postcode
/// contradict each other and we cannot tell which one is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Territory {
    pub code: &'static str,
    /// Name for messages (not printed).
    pub name: &'static str,
    /// Every postcode of the territory starts with this.
    pub prefix: &'static str,
}

const fn c(code: &'static str, name: &'static str) -> Country {
    Country { code, name }
}

const fn t(code: &'static str, name: &'static str, prefix: &'static str) -> Territory {
    Territory { code, name, prefix }
}

/// French overseas territories addressed as domestic mail.
pub static OVERSEAS: &[Territory] = &[
    t("BL", "Saint-Barthelemy", "97133"),
    t("GF", "French Guiana", "973"),
    t("GP", "Guadeloupe", "971"),
    t("MF", "Saint-Martin", "97150"),
    t("MQ", "Martinique", "972"),
    t("NC", "New Caledonia", "988"),
    t("PF", "French Polynesia", "987"),
    t("PM", "Saint-Pierre-et-Miquelon", "975"),
    t("RE", "La Reunion", "974"),
    t("WF", "Wallis and Futuna", "986"),
    t("YT", "Mayotte", "976"),
];

/// Destinations abroad, sorted by code (binary search).
pub static COUNTRIES: &[Country] = &[
    c("AD", "ANDORRE"),
    c("AE", "EMIRATS ARABES UNIS"),
    c("AF", "AFGHANISTAN"),
    c("AG", "ANTIGUA ET BARBUDA"),
    c("AI", "ANGUILLA"),
    c("AL", "ALBANIE"),
    c("AM", "ARMENIE"),
    c("AO", "ANGOLA"),
    c("AQ", "ANTARCTIQUE"),
    c("AR", "ARGENTINE"),
    c("AS", "SAMOA AMERICAINES"),
    c("AT", "AUTRICHE"),
    c("AU", "AUSTRALIE"),
    c("AW", "ARUBA"),
    c("AX", "ILES ALAND"),
    c("AZ", "AZERBAIDJAN"),
    c("BA", "BOSNIE HERZEGOVINE"),
    c("BB", "BARBADE"),
    c("BD", "BANGLADESH"),
    c("BE", "BELGIQUE"),
    c("BF", "BURKINA FASO"),
    c("BG", "BULGARIE"),
    c("BH", "BAHREIN"),
    c("BI", "BURUNDI"),
    c("BJ", "BENIN"),
    c("BM", "BERMUDES"),
    c("BN", "BRUNEI"),
    c("BO", "BOLIVIE"),
    c("BQ", "BONAIRE SAINT EUSTACHE ET SABA"),
    c("BR", "BRESIL"),
    c("BS", "BAHAMAS"),
    c("BT", "BHOUTAN"),
    c("BV", "ILE BOUVET"),
    c("BW", "BOTSWANA"),
    c("BY", "BELARUS"),
    c("BZ", "BELIZE"),
    c("CA", "CANADA"),
    c("CC", "ILES COCOS"),
    c("CD", "REPUBLIQUE DEMOCRATIQUE DU CONGO"),
    c("CF", "REPUBLIQUE CENTRAFRICAINE"),
    c("CG", "CONGO"),
    c("CH", "SUISSE"),
    c("CI", "COTE D IVOIRE"),
    c("CK", "ILES COOK"),
    c("CL", "CHILI"),
    c("CM", "CAMEROUN"),
    c("CN", "CHINE"),
    c("CO", "COLOMBIE"),
    c("CR", "COSTA RICA"),
    c("CU", "CUBA"),
    c("CV", "CAP VERT"),
    c("CW", "CURACAO"),
    c("CX", "ILE CHRISTMAS"),
    c("CY", "CHYPRE"),
    c("CZ", "TCHEQUIE"),
    c("DE", "ALLEMAGNE"),
    c("DJ", "DJIBOUTI"),
    c("DK", "DANEMARK"),
    c("DM", "DOMINIQUE"),
    c("DO", "REPUBLIQUE DOMINICAINE"),
    c("DZ", "ALGERIE"),
    c("EC", "EQUATEUR"),
    c("EE", "ESTONIE"),
    c("EG", "EGYPTE"),
    c("EH", "SAHARA OCCIDENTAL"),
    c("ER", "ERYTHREE"),
    c("ES", "ESPAGNE"),
    c("ET", "ETHIOPIE"),
    c("FI", "FINLANDE"),
    c("FJ", "FIDJI"),
    c("FK", "ILES FALKLAND"),
    c("FM", "MICRONESIE"),
    c("FO", "ILES FEROE"),
    c("GA", "GABON"),
    c("GB", "ROYAUME UNI"),
    c("GD", "GRENADE"),
    c("GE", "GEORGIE"),
    c("GG", "GUERNESEY"),
    c("GH", "GHANA"),
    c("GI", "GIBRALTAR"),
    c("GL", "GROENLAND"),
    c("GM", "GAMBIE"),
    c("GN", "GUINEE"),
    c("GQ", "GUINEE EQUATORIALE"),
    c("GR", "GRECE"),
    c("GS", "ILES GEORGIE DU SUD ET SANDWICH DU SUD"),
    c("GT", "GUATEMALA"),
    c("GU", "GUAM"),
    c("GW", "GUINEE BISSAU"),
    c("GY", "GUYANA"),
    c("HK", "HONG KONG"),
    c("HM", "ILES HEARD ET MACDONALD"),
    c("HN", "HONDURAS"),
    c("HR", "CROATIE"),
    c("HT", "HAITI"),
    c("HU", "HONGRIE"),
    c("ID", "INDONESIE"),
    c("IE", "IRLANDE"),
    c("IL", "ISRAEL"),
    c("IM", "ILE DE MAN"),
    c("IN", "INDE"),
    c("IO", "TERRITOIRE BRITANNIQUE OCEAN INDIEN"),
    c("IQ", "IRAK"),
    c("IR", "IRAN"),
    c("IS", "ISLANDE"),
    c("IT", "ITALIE"),
    c("JE", "JERSEY"),
    c("JM", "JAMAIQUE"),
    c("JO", "JORDANIE"),
    c("JP", "JAPON"),
    c("KE", "KENYA"),
    c("KG", "KIRGHIZISTAN"),
    c("KH", "CAMBODGE"),
    c("KI", "KIRIBATI"),
    c("KM", "COMORES"),
    c("KN", "SAINT KITTS ET NEVIS"),
    c("KP", "COREE DU NORD"),
    c("KR", "COREE DU SUD"),
    c("KW", "KOWEIT"),
    c("KY", "ILES CAIMANS"),
    c("KZ", "KAZAKHSTAN"),
    c("LA", "LAOS"),
    c("LB", "LIBAN"),
    c("LC", "SAINTE LUCIE"),
    c("LI", "LIECHTENSTEIN"),
    c("LK", "SRI LANKA"),
    c("LR", "LIBERIA"),
    c("LS", "LESOTHO"),
    c("LT", "LITUANIE"),
    c("LU", "LUXEMBOURG"),
    c("LV", "LETTONIE"),
    c("LY", "LIBYE"),
    c("MA", "MAROC"),
    c("MC", "MONACO"),
    c("MD", "MOLDAVIE"),
    c("ME", "MONTENEGRO"),
    c("MG", "MADAGASCAR"),
    c("MH", "ILES MARSHALL"),
    c("MK", "MACEDOINE DU NORD"),
    c("ML", "MALI"),
    c("MM", "MYANMAR"),
    c("MN", "MONGOLIE"),
    c("MO", "MACAO"),
    c("MP", "ILES MARIANNES DU NORD"),
    c("MR", "MAURITANIE"),
    c("MS", "MONTSERRAT"),
    c("MT", "MALTE"),
    c("MU", "MAURICE"),
    c("MV", "MALDIVES"),
    c("MW", "MALAWI"),
    c("MX", "MEXIQUE"),
    c("MY", "MALAISIE"),
    c("MZ", "MOZAMBIQUE"),
    c("NA", "NAMIBIE"),
    c("NE", "NIGER"),
    c("NF", "ILE NORFOLK"),
    c("NG", "NIGERIA"),
    c("NI", "NICARAGUA"),
    c("NL", "PAYS BAS"),
    c("NO", "NORVEGE"),
    c("NP", "NEPAL"),
    c("NR", "NAURU"),
    c("NU", "NIUE"),
    c("NZ", "NOUVELLE ZELANDE"),
    c("OM", "OMAN"),
    c("PA", "PANAMA"),
    c("PE", "PEROU"),
    c("PG", "PAPOUASIE NOUVELLE GUINEE"),
    c("PH", "PHILIPPINES"),
    c("PK", "PAKISTAN"),
    c("PL", "POLOGNE"),
    c("PN", "ILES PITCAIRN"),
    c("PR", "PORTO RICO"),
    c("PS", "PALESTINE"),
    c("PT", "PORTUGAL"),
    c("PW", "PALAOS"),
    c("PY", "PARAGUAY"),
    c("QA", "QATAR"),
    c("RO", "ROUMANIE"),
    c("RS", "SERBIE"),
    c("RU", "RUSSIE"),
    c("RW", "RWANDA"),
    c("SA", "ARABIE SAOUDITE"),
    c("SB", "ILES SALOMON"),
    c("SC", "SEYCHELLES"),
    c("SD", "SOUDAN"),
    c("SE", "SUEDE"),
    c("SG", "SINGAPOUR"),
    c("SH", "SAINTE HELENE"),
    c("SI", "SLOVENIE"),
    c("SJ", "SVALBARD ET JAN MAYEN"),
    c("SK", "SLOVAQUIE"),
    c("SL", "SIERRA LEONE"),
    c("SM", "SAINT MARIN"),
    c("SN", "SENEGAL"),
    c("SO", "SOMALIE"),
    c("SR", "SURINAME"),
    c("SS", "SOUDAN DU SUD"),
    c("ST", "SAO TOME ET PRINCIPE"),
    c("SV", "EL SALVADOR"),
    c("SX", "SINT MAARTEN"),
    c("SY", "SYRIE"),
    c("SZ", "ESWATINI"),
    c("TC", "ILES TURQUES ET CAIQUES"),
    c("TD", "TCHAD"),
    c("TF", "TERRES AUSTRALES FRANCAISES"),
    c("TG", "TOGO"),
    c("TH", "THAILANDE"),
    c("TJ", "TADJIKISTAN"),
    c("TK", "TOKELAU"),
    c("TL", "TIMOR ORIENTAL"),
    c("TM", "TURKMENISTAN"),
    c("TN", "TUNISIE"),
    c("TO", "TONGA"),
    c("TR", "TURQUIE"),
    c("TT", "TRINITE ET TOBAGO"),
    c("TV", "TUVALU"),
    c("TW", "TAIWAN"),
    c("TZ", "TANZANIE"),
    c("UA", "UKRAINE"),
    c("UG", "OUGANDA"),
    c("UM", "ILES MINEURES ELOIGNEES ETATS UNIS"),
    c("US", "ETATS UNIS"),
    c("UY", "URUGUAY"),
    c("UZ", "OUZBEKISTAN"),
    c("VA", "VATICAN"),
    c("VC", "SAINT VINCENT ET LES GRENADINES"),
    c("VE", "VENEZUELA"),
    c("VG", "ILES VIERGES BRITANNIQUES"),
    c("VI", "ILES VIERGES DES ETATS UNIS"),
    c("VN", "VIET NAM"),
    c("VU", "VANUATU"),
    c("WS", "SAMOA"),
    c("XK", "KOSOVO"),
    c("YE", "YEMEN"),
    c("ZA", "AFRIQUE DU SUD"),
    c("ZM", "ZAMBIE"),
    c("ZW", "ZIMBABWE"),
];

/// The destination abroad with this exact code (capitals), if we address mail there.
pub fn abroad(code: &str) -> Option<&'static Country> {
    COUNTRIES
        .binary_search_by(|country| country.code.cmp(code))
        .ok()
        .and_then(|i| COUNTRIES.get(i))
}

/// The French overseas territory with this exact code (capitals), if it is one.
pub fn overseas(code: &str) -> Option<&'static Territory> {
    OVERSEAS.iter().find(|territory| territory.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_unique_and_two_capitals() {
        for pair in COUNTRIES.windows(2) {
            assert!(pair[0].code < pair[1].code, "{pair:?} out of order");
        }
        for country in COUNTRIES {
            assert_eq!(country.code.len(), 2);
            assert!(country.code.chars().all(|c| c.is_ascii_uppercase()));
            assert_eq!(abroad(country.code), Some(country));
        }
    }

    #[test]
    fn names_fit_a_line_in_capitals_without_accents_or_punctuation() {
        for country in COUNTRIES {
            let name = country.name;
            assert!(
                !name.is_empty() && name.len() <= super::super::MAX_LINE,
                "{name}"
            );
            assert!(
                name.chars().all(|c| c.is_ascii_uppercase() || c == ' '),
                "{name}"
            );
            assert!(!name.starts_with(' ') && !name.ends_with(' ') && !name.contains("  "));
        }
    }

    #[test]
    fn france_and_its_postcoded_territories_are_not_abroad() {
        assert_eq!(abroad("FR"), None);
        for territory in OVERSEAS {
            assert_eq!(abroad(territory.code), None, "{territory:?}");
            assert_eq!(overseas(territory.code), Some(territory));
            assert!(territory.prefix.starts_with("97") || territory.prefix.starts_with("98"));
        }
    }

    #[test]
    fn covers_the_eu_the_eea_the_neighbours_and_the_usual_destinations() {
        let eu = [
            "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "DE", "GR", "HU", "IE", "IT",
            "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
        ];
        let eea_and_neighbours = [
            "IS", "LI", "NO", "CH", "GB", "AD", "MC", "SM", "VA", "MA", "DZ", "TN", "TR", "US",
            "CA",
        ];
        for code in eu.iter().chain(&eea_and_neighbours) {
            assert!(abroad(code).is_some(), "{code} missing");
        }
        assert!(COUNTRIES.len() >= 230);
        let names = [
            ("DE", "ALLEMAGNE"),
            ("BE", "BELGIQUE"),
            ("ES", "ESPAGNE"),
            ("IT", "ITALIE"),
            ("PL", "POLOGNE"),
            ("RO", "ROUMANIE"),
            ("HU", "HONGRIE"),
            ("GB", "ROYAUME UNI"),
            ("CH", "SUISSE"),
        ];
        for (code, name) in names {
            assert_eq!(abroad(code).map(|c| c.name), Some(name));
        }
    }

    #[test]
    fn lookups_are_exact() {
        assert_eq!(abroad("de"), None);
        assert_eq!(abroad("DEU"), None);
        assert_eq!(abroad(""), None);
        assert_eq!(overseas("gp"), None);
    }
}
