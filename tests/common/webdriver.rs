//! Headless Chromium driven through `chromedriver` with the W3C WebDriver protocol (JSON over
//! HTTP): enough of it for the console's browser tests.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use super::console::request;

/// The W3C key code of Enter, as a keyboard-wedge scanner sends after each code.
pub const ENTER: &str = "\u{E007}";

/// A running chromedriver (killed on drop).
pub struct Driver {
    child: Child,
    addr: SocketAddr,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `chromedriver` and `chromium` on this machine, or why not.
pub fn available() -> Result<(), String> {
    for bin in ["chromedriver", "chromium"] {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
            .unwrap_or(false);
        if !found {
            return Err(format!(
                "{bin} is not installed (apt-get install chromium chromium-driver)"
            ));
        }
    }
    Ok(())
}

impl Driver {
    pub async fn start() -> Driver {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                let status = request(addr, "GET", "/status", &[], Vec::new()).await;
                if status.body.contains("\"ready\":true") {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Driver {
            child,
            addr,
            _profile: tempfile::tempdir().unwrap(),
        }
    }

    /// A new browser window (its own profile: no cookie shared with another session).
    pub async fn browser(&self) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1000", "--lang=fr-FR", "--hide-scrollbars",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let v = call(self.addr, "POST", "/session", Some(caps)).await;
        let id = v["sessionId"].as_str().expect("a session id").to_string();
        Browser {
            driver: self.addr,
            id,
            _profile: profile,
        }
    }
}

async fn call(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> Value {
    let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
    let page = request(
        addr,
        method,
        path,
        &[("content-type", "application/json")],
        bytes,
    )
    .await;
    let v: Value = serde_json::from_str(&page.body)
        .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {}", page.body));
    assert!(
        page.status == 200,
        "{method} {path}: {} {}",
        page.status,
        v["value"]["message"]
    );
    v["value"].clone()
}

/// One browser window.
pub struct Browser {
    driver: SocketAddr,
    id: String,
    _profile: tempfile::TempDir,
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element(String);

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    fn path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.id)
    }

    pub async fn go(&self, url: &str) {
        call(
            self.driver,
            "POST",
            &self.path("/url"),
            Some(json!({ "url": url })),
        )
        .await;
    }

    pub async fn url(&self) -> String {
        call(self.driver, "GET", &self.path("/url"), None)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    pub async fn title(&self) -> String {
        call(self.driver, "GET", &self.path("/title"), None)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    pub async fn find(&self, css: &str) -> Element {
        let v = call(
            self.driver,
            "POST",
            &self.path("/element"),
            Some(json!({ "using": "css selector", "value": css })),
        )
        .await;
        Element(
            v[ELEMENT_KEY]
                .as_str()
                .unwrap_or_else(|| panic!("no {css}"))
                .to_string(),
        )
    }

    pub async fn count(&self, css: &str) -> usize {
        let v = call(
            self.driver,
            "POST",
            &self.path("/elements"),
            Some(json!({ "using": "css selector", "value": css })),
        )
        .await;
        v.as_array().map(Vec::len).unwrap_or(0)
    }

    pub async fn text(&self, e: &Element) -> String {
        call(
            self.driver,
            "GET",
            &self.path(&format!("/element/{}/text", e.0)),
            None,
        )
        .await
        .as_str()
        .unwrap_or("")
        .to_string()
    }

    pub async fn attribute(&self, e: &Element, name: &str) -> Option<String> {
        call(
            self.driver,
            "GET",
            &self.path(&format!("/element/{}/attribute/{name}", e.0)),
            None,
        )
        .await
        .as_str()
        .map(str::to_string)
    }

    /// Types into an element (focusing it first).
    pub async fn type_into(&self, e: &Element, text: &str) {
        call(
            self.driver,
            "POST",
            &self.path(&format!("/element/{}/value", e.0)),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Key presses sent to whatever has the focus, as a keyboard-wedge scanner types.
    pub async fn keys(&self, text: &str) {
        let mut actions = Vec::new();
        for c in text.chars() {
            actions.push(json!({ "type": "keyDown", "value": c.to_string() }));
            actions.push(json!({ "type": "keyUp", "value": c.to_string() }));
        }
        call(
            self.driver,
            "POST",
            &self.path("/actions"),
            Some(json!({ "actions": [{ "type": "key", "id": "scanner", "actions": actions }] })),
        )
        .await;
    }

    pub async fn click(&self, e: &Element) {
        call(
            self.driver,
            "POST",
            &self.path(&format!("/element/{}/click", e.0)),
            Some(json!({})),
        )
        .await;
    }

    /// Runs a script in the page and returns its value.
    pub async fn script(&self, js: &str) -> Value {
        call(
            self.driver,
            "POST",
            &self.path("/execute/sync"),
            Some(json!({ "script": js, "args": [] })),
        )
        .await
    }

    /// Waits until `js` returns true (10 s at most).
    pub async fn wait_for(&self, js: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.script(js).await == Value::Bool(true) {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting for: {js}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Vec<u8> {
        let v = call(self.driver, "GET", &self.path("/screenshot"), None).await;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or(""))
            .expect("base64 screenshot")
    }

    /// A PNG of the whole page, not only the window: the window is resized to the page.
    pub async fn full_page_screenshot(&self, width: u32) -> Vec<u8> {
        let height = self
            .script("return Math.ceil(document.documentElement.scrollHeight)")
            .await
            .as_u64()
            .unwrap_or(1000)
            .clamp(400, 4000);
        call(
            self.driver,
            "POST",
            &self.path("/window/rect"),
            Some(json!({ "width": width, "height": height + 90 })),
        )
        .await;
        let png = self.screenshot().await;
        call(
            self.driver,
            "POST",
            &self.path("/window/rect"),
            Some(json!({ "width": 1280, "height": 1000 })),
        )
        .await;
        png
    }

    pub async fn close(self) {
        call(self.driver, "DELETE", &self.path(""), None).await;
    }
}
