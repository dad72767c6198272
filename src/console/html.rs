//! HTML built so that nothing a person typed can become markup.
//!
//! [`Markup`] only ever takes `&'static str` as raw HTML (literals in our code); every other
//! value goes through [`Markup::text`], which escapes it. A holder named
//! `<script>alert(1)</script>` is shown as those characters on every page, whatever page
//! forgets what. The `h!` macro keeps pages readable: string literals are markup, `{expr}`
//! is escaped text (any `Display`), `[expr]` is a nested [`Markup`].

use std::fmt::Write;

/// A piece of HTML whose every dynamic part was escaped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Markup(String);

impl Markup {
    pub fn new() -> Markup {
        Markup(String::new())
    }

    /// Trusted markup: a literal of our own.
    pub fn raw(&mut self, html: &'static str) -> &mut Self {
        self.0.push_str(html);
        self
    }

    /// Text, escaped for element content and quoted attribute values.
    pub fn text(&mut self, value: impl std::fmt::Display) -> &mut Self {
        let _ = write!(Escape(&mut self.0), "{value}");
        self
    }

    pub fn push(&mut self, other: Markup) -> &mut Self {
        self.0.push_str(&other.0);
        self
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Escapes what it is given on its way into a string.
struct Escape<'a>(&'a mut String);

impl Write for Escape<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        for c in s.chars() {
            match c {
                '&' => self.0.push_str("&amp;"),
                '<' => self.0.push_str("&lt;"),
                '>' => self.0.push_str("&gt;"),
                '"' => self.0.push_str("&quot;"),
                '\'' => self.0.push_str("&#39;"),
                c => self.0.push(c),
            }
        }
        Ok(())
    }
}

/// Appends to a [`Markup`]: `h!(m; "<td>" {value} "</td>" [nested])`.
macro_rules! h {
    ($m:expr; $($part:tt)*) => {{
        let m: &mut $crate::console::html::Markup = &mut $m;
        $( h!(@part m, $part); )*
    }};
    (@part $m:ident, $lit:literal) => { $m.raw($lit); };
    (@part $m:ident, {$e:expr}) => { $m.text(&$e); };
    (@part $m:ident, [$e:expr]) => { $m.push($e); };
}
pub(crate) use h;

/// A French date and time (UTC, as the bureau's clocks) from Unix milliseconds.
pub fn when(ms: i64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) else {
        return ms.to_string();
    };
    format!(
        "{:02}/{:02}/{} {:02}:{:02}",
        t.day(),
        u8::from(t.month()),
        t.year(),
        t.hour(),
        t.minute()
    )
}

/// A number with the French thousands separator (a narrow no-break space).
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_literals_are_not() {
        let mut m = Markup::new();
        let name = "<script>alert('x')</script> & \"co\"";
        h!(m; "<td title=\"" {name} "\">" {name} "</td>");
        assert_eq!(
            m.as_str(),
            "<td title=\"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;\">\
             &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;co&quot;</td>"
        );
    }

    #[test]
    fn nested_markup_is_kept() {
        let mut inner = Markup::new();
        h!(inner; "<b>" {1 + 1} "</b>");
        let mut outer = Markup::new();
        h!(outer; "<p>" [inner] "</p>");
        assert_eq!(outer.as_str(), "<p><b>2</b></p>");
    }

    #[test]
    fn counts_and_dates_in_french() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000_000), "1\u{202f}000\u{202f}000");
        assert_eq!(count(-12_345), "-12\u{202f}345");
        assert_eq!(when(0), "01/01/1970 00:00");
        assert_eq!(when(1_764_201_600_000), "27/11/2025 00:00");
    }
}
