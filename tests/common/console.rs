//! A console client for the tests: one cookie jar (the session), forms posted as a browser
//! posts them, every answer with its status, headers and body.

use std::net::SocketAddr;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

pub const PASSWORD: &str = "motdepasse-long-1";
pub const SESSION: &str = "__Host-cqcfab-session";
pub const LOGIN: &str = "__Host-cqcfab-login";

/// One answer.
#[derive(Debug)]
pub struct Page {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: String,
    /// The body's bytes as sent (a PDF is not text).
    pub raw: Vec<u8>,
}

impl Page {
    pub fn location(&self) -> Option<&str> {
        self.headers.get("location").and_then(|v| v.to_str().ok())
    }

    /// A form's answer: redirected back with a success notice (`true`) or a refusal
    /// (`false`); panics on anything else.
    pub fn went_well(&self) -> bool {
        match self.location() {
            Some(l) if l.contains("?ok=") => true,
            Some(l) if l.contains("?err=") => false,
            _ => panic!(
                "not a form's answer: {} {:?} {}",
                self.status,
                self.location(),
                self.body
            ),
        }
    }

    /// The value a `Set-Cookie` gives cookie `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                let (k, rest) = c.split_once('=')?;
                (k == name).then(|| rest.split(';').next().unwrap_or("").to_string())
            })
    }

    /// The value of the hidden input `name` (the first one).
    pub fn hidden(&self, name: &str) -> Option<String> {
        let needle = format!("name=\"{name}\" value=\"");
        let at = self.body.find(&needle)? + needle.len();
        Some(self.body[at..].split('"').next()?.to_string())
    }
}

/// Sends one request; `cookies` as a `Cookie` header value.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Page {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", format!("localhost:{}", addr.port()));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    Page {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        raw: bytes.to_vec(),
    }
}

/// Form-encodes pairs.
pub fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    serde_urlencoded::to_string(pairs).unwrap().into_bytes()
}

/// A signed-in person's browser.
pub struct Console {
    pub addr: SocketAddr,
    pub session: String,
}

impl Console {
    /// Signs `username` in through the form, as a browser does.
    pub async fn login(addr: SocketAddr, username: &str) -> Console {
        Self::try_login(addr, username, PASSWORD, None)
            .await
            .unwrap_or_else(|p| panic!("{username} could not sign in: {} {}", p.status, p.body))
    }

    /// The sign-in; `planted` is a session cookie the browser already carried.
    pub async fn try_login(
        addr: SocketAddr,
        username: &str,
        password: &str,
        planted: Option<&str>,
    ) -> Result<Console, Page> {
        let form_page = request(addr, "GET", "/console/login", &[], Vec::new()).await;
        assert_eq!(form_page.status, 200);
        let token = form_page.set_cookie(LOGIN).expect("login cookie");
        assert_eq!(form_page.hidden("token").as_deref(), Some(token.as_str()));
        let mut cookie = format!("{LOGIN}={token}");
        if let Some(p) = planted {
            cookie.push_str(&format!("; {SESSION}={p}"));
        }
        let answer = request(
            addr,
            "POST",
            "/console/login",
            &[
                ("cookie", &cookie),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            form(&[
                ("token", &token),
                ("next", "/console"),
                ("username", username),
                ("password", password),
            ]),
        )
        .await;
        match (answer.status, answer.set_cookie(SESSION)) {
            (303, Some(session)) if !session.is_empty() => Ok(Console { addr, session }),
            _ => Err(answer),
        }
    }

    fn cookie(&self) -> String {
        format!("{SESSION}={}", self.session)
    }

    pub async fn get(&self, path: &str) -> Page {
        request(
            self.addr,
            "GET",
            path,
            &[("cookie", &self.cookie())],
            Vec::new(),
        )
        .await
    }

    /// The CSRF token the pages give this session.
    pub async fn csrf(&self) -> String {
        let page = self.get("/console/cards").await;
        page.hidden("csrf").expect("a csrf field on the page")
    }

    /// Posts a form with this session's CSRF token.
    pub async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> Page {
        let csrf = self.csrf().await;
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(pairs);
        self.post_raw(path, &all, &[]).await
    }

    /// Posts exactly these fields and extra headers.
    pub async fn post_raw(
        &self,
        path: &str,
        pairs: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> Page {
        let cookie = self.cookie();
        let mut headers = vec![
            ("cookie", cookie.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ];
        headers.extend_from_slice(extra);
        request(self.addr, "POST", path, &headers, form(pairs)).await
    }
}

/// Adds a user with the test password.
pub async fn add_user(
    store: &cqcfab::store::Store,
    username: &str,
    role: cqcfab::domain::role::Role,
) {
    store
        .add_user(
            username,
            &format!("{username} (test)"),
            role,
            PASSWORD,
            "test",
        )
        .await
        .unwrap();
}
