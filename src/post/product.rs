//! Postal products and the S10 service indicator of each (docs/post.md, "Products and their
//! service indicators").
//!
//! The first letter of an S10 id says what kind of item it is: `E` is EMS, `L` a tracked
//! letter, `R` a registered letter (`s10::ItemClass`). A piece id is printed on the carrier
//! letter, scanned by the post and listed in the manifest, so an id of the wrong kind (an EMS
//! `E…` id on a domestic lettre suivie) would misname the item to the post. Each product
//! therefore has a kind, and its service indicator must be of that kind: checked when the
//! configuration is read and again when a range is recorded for the product.
//!
//! The second letter is the post's choice and comes with its allotment, so the indicator is
//! configuration (`[post.products."NAME"] service = "LX"`), not code; the built-in defaults
//! only have the right first letter.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::s10::{ItemClass, S10Error, ServiceIndicator};

/// A postal product the bureau posts cards with, and the service indicator of its ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    name: String,
    class: ItemClass,
    service: ServiceIndicator,
}

/// The products known without configuration: (name, kind, default service indicator).
/// `lettre-suivie` is La Poste's tracked letter (`L`), `lettre-recommandee` its registered
/// letter (`R`).
pub const BUILT_IN: [(&str, ItemClass, &str); 2] = [
    ("lettre-suivie", ItemClass::TrackedLetter, "LA"),
    ("lettre-recommandee", ItemClass::RegisteredLetter, "RA"),
];

/// The product cards go out with when nothing else is said.
pub const DEFAULT_PRODUCT: &str = "lettre-suivie";

/// Why a product or its service indicator is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProductError {
    #[error(
        "unknown postal product {name:?}: the products are {known} (add others under [post.products])"
    )]
    Unknown { name: String, known: String },
    #[error(
        "service indicator {service} does not fit product {product}: {product} is {expected} \
         (UPU S10 first letter {letter}), but {service} is {found}"
    )]
    WrongKind {
        product: String,
        service: String,
        expected: &'static str,
        letter: char,
        found: String,
    },
    #[error(
        "product {product} uses service indicator {configured} ([post.products.\"{product}\"] \
         service); a range of {service} would never be used: set service = \"{service}\" first"
    )]
    NotConfigured {
        product: String,
        service: String,
        configured: String,
    },
    #[error("product {product}: {source}")]
    Service {
        product: String,
        #[source]
        source: S10Error,
    },
    #[error(
        "product {product} has no service indicator: set [post.products.\"{product}\"] service \
         (two letters, the first {letter})"
    )]
    MissingService { product: String, letter: char },
    #[error("product {product}: kind {class:?} is not one of {known}")]
    Class {
        product: String,
        class: String,
        known: String,
    },
    #[error("product {product:?} is not a name of lower-case letters, digits and '-'")]
    Name { product: String },
}

impl Product {
    /// A product of kind `class` whose ids carry `service`; refused when the service
    /// indicator's first letter names another kind of item.
    pub fn new(
        name: &str,
        class: ItemClass,
        service: ServiceIndicator,
    ) -> Result<Product, ProductError> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(ProductError::Name {
                product: name.to_string(),
            });
        }
        fits(name, class, service)?;
        Ok(Product {
            name: name.to_string(),
            class,
            service,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn class(&self) -> ItemClass {
        self.class
    }

    pub fn service(&self) -> ServiceIndicator {
        self.service
    }

    /// The service indicator of a range the post allotted for this product: it must be of
    /// the product's kind and be the one the product's ids are taken from (a range of another
    /// indicator would sit unused).
    pub fn range_service(
        &self,
        service: ServiceIndicator,
    ) -> Result<ServiceIndicator, ProductError> {
        fits(&self.name, self.class, service)?;
        if service != self.service {
            return Err(ProductError::NotConfigured {
                product: self.name.clone(),
                service: service.to_string(),
                configured: self.service.to_string(),
            });
        }
        Ok(service)
    }
}

fn fits(name: &str, class: ItemClass, service: ServiceIndicator) -> Result<(), ProductError> {
    if service.class() == Some(class) {
        return Ok(());
    }
    Err(ProductError::WrongKind {
        product: name.to_string(),
        service: service.to_string(),
        expected: class.describe(),
        letter: class.letter(),
        found: service
            .class()
            .map_or(
                "not a kind of item the S10 table names",
                ItemClass::describe,
            )
            .to_string(),
    })
}

/// `[post.products."NAME"]` in the configuration file: `service` overrides a built-in
/// product's indicator; a new product also names its `class` (`tracked_letter`,
/// `registered_letter`, `insured_letter`, `parcel`, …).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProductConfig {
    pub service: Option<String>,
    pub class: Option<String>,
}

/// The products in force: the built-in ones with their configured indicators, and any added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    products: BTreeMap<String, Product>,
}

impl Default for Catalogue {
    fn default() -> Self {
        Catalogue::new(&BTreeMap::new()).unwrap_or_else(|_| Catalogue {
            products: BTreeMap::new(),
        })
    }
}

impl Catalogue {
    /// The built-in products with `configured` applied; every product checked.
    pub fn new(configured: &BTreeMap<String, ProductConfig>) -> Result<Catalogue, ProductError> {
        let mut products = BTreeMap::new();
        for (name, class, service) in BUILT_IN {
            let given = configured.get(name);
            if let Some(c) = given.and_then(|g| g.class.as_deref())
                && ItemClass::parse(c) != Some(class)
            {
                return Err(ProductError::Class {
                    product: name.to_string(),
                    class: c.to_string(),
                    known: format!("{class} (the kind of {name} is fixed)"),
                });
            }
            let service = given.and_then(|g| g.service.as_deref()).unwrap_or(service);
            products.insert(name.to_string(), product(name, class, service)?);
        }
        for (name, given) in configured {
            if products.contains_key(name) {
                continue;
            }
            let known = || {
                ItemClass::ALL
                    .iter()
                    .map(|k| k.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let class_name = given.class.as_deref().ok_or_else(|| ProductError::Class {
                product: name.clone(),
                class: String::new(),
                known: known(),
            })?;
            let class = ItemClass::parse(class_name).ok_or_else(|| ProductError::Class {
                product: name.clone(),
                class: class_name.to_string(),
                known: known(),
            })?;
            let service = given
                .service
                .as_deref()
                .ok_or_else(|| ProductError::MissingService {
                    product: name.clone(),
                    letter: class.letter(),
                })?;
            products.insert(name.clone(), product(name, class, service)?);
        }
        Ok(Catalogue { products })
    }

    /// The product named `name`, or an error listing the known ones.
    pub fn get(&self, name: &str) -> Result<&Product, ProductError> {
        self.products
            .get(name)
            .ok_or_else(|| ProductError::Unknown {
                name: name.to_string(),
                known: self.names().join(", "),
            })
    }

    pub fn names(&self) -> Vec<&str> {
        self.products.keys().map(String::as_str).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Product> {
        self.products.values()
    }
}

fn product(name: &str, class: ItemClass, service: &str) -> Result<Product, ProductError> {
    let service = ServiceIndicator::new(service).map_err(|source| ProductError::Service {
        product: name.to_string(),
        source,
    })?;
    Product::new(name, class, service)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn si(s: &str) -> ServiceIndicator {
        ServiceIndicator::new(s).unwrap()
    }

    fn configured(pairs: &[(&str, Option<&str>, Option<&str>)]) -> BTreeMap<String, ProductConfig> {
        pairs
            .iter()
            .map(|(n, service, class)| {
                (
                    n.to_string(),
                    ProductConfig {
                        service: service.map(str::to_string),
                        class: class.map(str::to_string),
                    },
                )
            })
            .collect()
    }

    #[test]
    fn the_defaults_have_the_first_letter_of_their_kind() {
        let c = Catalogue::default();
        assert_eq!(c.names(), ["lettre-recommandee", "lettre-suivie"]);
        let suivie = c.get("lettre-suivie").unwrap();
        assert_eq!(suivie.class(), ItemClass::TrackedLetter);
        assert!(suivie.service().as_str().starts_with('L'));
        let recommandee = c.get("lettre-recommandee").unwrap();
        assert_eq!(recommandee.class(), ItemClass::RegisteredLetter);
        assert!(recommandee.service().as_str().starts_with('R'));
        assert_eq!(c.get(DEFAULT_PRODUCT).unwrap().name(), DEFAULT_PRODUCT);
    }

    #[test]
    fn an_ems_indicator_on_a_tracked_letter_is_refused_saying_why() {
        let e = Product::new("lettre-suivie", ItemClass::TrackedLetter, si("EE")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "service indicator EE does not fit product lettre-suivie: lettre-suivie is tracked \
             letter post (UPU S10 first letter L), but EE is EMS (international express)"
        );
        let e = Catalogue::new(&configured(&[("lettre-recommandee", Some("LA"), None)]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("registered letter post (UPU S10 first letter R)"),
            "{e}"
        );
        let e = Catalogue::new(&configured(&[("lettre-suivie", Some("AB"), None)]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("AB is not a kind of item the S10 table names"),
            "{e}"
        );
        let e = Catalogue::new(&configured(&[("lettre-suivie", Some("JA"), None)]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("product lettre-suivie: service indicator \"JA\""),
            "{e}"
        );
    }

    #[test]
    fn the_configuration_sets_indicators_and_adds_products() {
        let c = Catalogue::new(&configured(&[
            ("lettre-suivie", Some("LK"), None),
            ("colis", Some("CP"), Some("parcel")),
        ]))
        .unwrap();
        assert_eq!(c.get("lettre-suivie").unwrap().service(), si("LK"));
        assert_eq!(c.get("lettre-recommandee").unwrap().service(), si("RA"));
        assert_eq!(c.get("colis").unwrap().class(), ItemClass::Parcel);
        // A built-in product's kind cannot be changed, a new one must name its kind and
        // indicator, and an unknown name lists the known ones.
        let e = Catalogue::new(&configured(&[("lettre-suivie", None, Some("ems"))])).unwrap_err();
        assert!(
            e.to_string().contains("the kind of lettre-suivie is fixed"),
            "{e}"
        );
        let e = Catalogue::new(&configured(&[("colis", Some("CP"), None)])).unwrap_err();
        assert!(e.to_string().contains("is not one of parcel, ems"), "{e}");
        let e = Catalogue::new(&configured(&[("colis", Some("CP"), Some("box"))])).unwrap_err();
        assert!(e.to_string().contains("kind \"box\""), "{e}");
        let e = Catalogue::new(&configured(&[("colis", None, Some("parcel"))])).unwrap_err();
        assert!(e.to_string().contains("has no service indicator"), "{e}");
        let e = Catalogue::new(&configured(&[("Colis", Some("CP"), Some("parcel"))])).unwrap_err();
        assert!(matches!(e, ProductError::Name { .. }), "{e}");
        let e = c.get("lettre-verte").unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown postal product \"lettre-verte\": the products are colis, lettre-recommandee, \
             lettre-suivie (add others under [post.products])"
        );
    }

    #[test]
    fn a_range_must_fit_its_product_and_be_the_one_it_uses() {
        let c = Catalogue::default();
        let suivie = c.get("lettre-suivie").unwrap();
        assert_eq!(suivie.range_service(si("LA")), Ok(si("LA")));
        let e = suivie.range_service(si("EE")).unwrap_err();
        assert!(matches!(e, ProductError::WrongKind { .. }), "{e}");
        let e = suivie.range_service(si("LB")).unwrap_err();
        assert!(
            e.to_string()
                .contains("a range of LB would never be used: set service = \"LB\" first"),
            "{e}"
        );
        let e = c
            .get("lettre-recommandee")
            .unwrap()
            .range_service(si("LA"))
            .unwrap_err();
        assert!(e.to_string().contains("first letter R"), "{e}");
    }
}
