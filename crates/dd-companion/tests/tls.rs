//! An agent behind a real TLS-terminating nginx (a throwaway CA made with
//! openssl): the owner enrolls and works through `https://`, the phone
//! redeems a universal link (`https://…/pair?…`) and attaches, and every
//! TLS failure has its own clear error. Skips (with a message) when nginx
//! or openssl is missing; `.ci/install.d/14-nginx.sh` installs them.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::{json, Agent, Running, World};
use dd_testkit::tls::{free_port, have_openssl, nginx_bin, Nginx, Site, TestCa};

struct Proxied {
    w: World,
    /// The private CA nginx's certificate chains to.
    ca: PathBuf,
    /// Another CA (signs nothing here).
    other_ca: PathBuf,
    /// `https://localhost:PORT`: nginx, forwarding the upgrade.
    base: String,
    /// The port of an nginx site that does not forward the upgrade.
    broken: u16,
    /// nginx's port.
    port: u16,
    _nginx: Nginx,
}

fn setup() -> Option<Proxied> {
    if nginx_bin().is_none() || !have_openssl() {
        eprintln!("SKIP: nginx or openssl not installed (.ci/install.d/14-nginx.sh installs them)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    let ca = TestCa::new(&certs, "ca");
    let other = TestCa::new(&certs, "other-ca");
    let cert = ca.issue("localhost", &["localhost"]);
    let (port, broken) = (free_port(), free_port());
    let base = format!("https://localhost:{port}");
    let agent = Agent::start_listen_on(
        &dir.path().join("state"),
        "127.0.0.1:0",
        &["--public-url", &base, "--link-base", &base],
    );
    let nginx = Nginx::start(
        &dir.path().join("nginx"),
        &agent.listen_addr(),
        &[
            Site {
                port,
                cert: cert.clone(),
                upgrade: true,
            },
            Site {
                port: broken,
                cert,
                upgrade: false,
            },
        ],
    );
    Some(Proxied {
        w: World { dir, agent },
        ca: ca.cert(),
        other_ca: other.cert(),
        base,
        broken,
        port,
        _nginx: nginx,
    })
}

impl Proxied {
    /// `dd-agent enroll-link` for `url`.
    fn enroll_link(&self, url: &str) -> String {
        let out = Command::new(dd_testkit::agent_bin())
            .args(["enroll-link", "--json", "--agent-url", url, "--state-dir"])
            .arg(&self.w.agent.state)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&String::from_utf8_lossy(&out.stdout))["link"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// `dd-client --json ARGS` trusting `ca` (or the system store only).
    fn owner(&self, ca: Option<&PathBuf>, args: &[&str]) -> Output {
        let mut c = self.w.owner();
        c.env_remove("DD_CA_FILE").arg("--json").args(args);
        if let Some(ca) = ca {
            c.env("DD_CA_FILE", ca);
        }
        c.output().unwrap()
    }

    fn owner_ok(&self, args: &[&str]) -> String {
        common::ok(self.owner(Some(&self.ca), args), "dd-client", args)
    }

    /// The error code `dd-client --json` printed, and its message.
    fn owner_err(&self, ca: Option<&PathBuf>, args: &[&str]) -> (String, String) {
        let out = self.owner(ca, args);
        assert!(!out.status.success(), "{args:?} should fail");
        let v = json(&String::from_utf8_lossy(&out.stdout));
        (
            v["error"].as_str().unwrap_or_default().to_owned(),
            v["message"].as_str().unwrap_or_default().to_owned(),
        )
    }
}

#[test]
fn owner_and_companion_work_through_an_https_proxy() {
    let Some(p) = setup() else { return };
    // The enrollment link names the proxy (the agent's --public-url).
    let link = p.w.agent.enroll_link("10m");
    assert!(link.contains("agent=https%3A%2F%2Flocalhost"), "{link}");
    let enrolled = json(&p.owner_ok(&["enroll", &link, "--label", "desk"]));
    assert_eq!(enrolled["agent_url"], p.base.as_str());
    let s = json(&p.owner_ok(&["session", "new", "--detach", "--", "/bin/sh"]))["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The pairing link is the universal-link form, on the proxy's origin.
    let pair = json(&p.owner_ok(&["session", "pair-mobile", &s, "--no-qr"]));
    let link = pair["link"].as_str().unwrap();
    assert!(link.starts_with(&format!("{}/pair?v=1&", p.base)), "{link}");
    assert!(link.contains("#t="), "{link}");

    // Without the private CA the phone refuses the proxy's certificate.
    let out =
        p.w.comp()
            .env_remove("DD_CA_FILE")
            .args(["join", link, "--label", "phone"])
            .output()
            .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not trusted"), "{err}");

    // With it, the universal link is redeemed end to end (the token was
    // not spent by the refused attempt: TLS failed before Noise).
    let joined =
        p.w.comp()
            .env("DD_CA_FILE", &p.ca)
            .args(["--json", "join", link, "--label", "phone"])
            .output()
            .unwrap();
    let joined = json(&common::ok(joined, "dd-companion", &["join"]));
    assert_eq!(joined["session_id"], s.as_str());
    assert_eq!(joined["agent_url"], p.base.as_str());

    // Attach through the proxy: input goes in, output comes back.
    let mut watch = Running::spawn(p.w.comp().env("DD_CA_FILE", &p.ca).args([
        "watch",
        &s,
        "--from",
        "start",
        "--until",
        "tls-42",
        "--timeout",
        "20",
    ]));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let sent =
        p.w.comp()
            .env("DD_CA_FILE", &p.ca)
            .args(["send", &s, "--enter", "--", "echo tls-$((6*7))"])
            .output()
            .unwrap();
    common::ok(sent, "dd-companion", &["send"]);
    assert_eq!(watch.wait_exit(20), 0, "{}", watch.stderr());

    // The owner sees the phone's grant, over the same proxy.
    let grants = json(&p.owner_ok(&["session", "grants", &s]));
    assert_eq!(grants.as_array().map(Vec::len), Some(1), "{grants}");
}

#[test]
fn tls_failures_are_clear_and_distinct() {
    let Some(p) = setup() else { return };
    let good = p.enroll_link(&p.base);

    // No private CA: the system store does not know the test CA.
    let (code, msg) = p.owner_err(None, &["enroll", &good]);
    assert_eq!(code, "tls_bad_certificate", "{msg}");
    assert!(
        msg.contains("not trusted") && msg.contains("--ca-file"),
        "{msg}"
    );

    // The wrong private CA.
    let (code, msg) = p.owner_err(Some(&p.other_ca), &["enroll", &good]);
    assert_eq!(code, "tls_bad_certificate", "{msg}");

    // A certificate for another name (reached by IP; it names localhost).
    let by_ip = p.enroll_link(&format!("https://127.0.0.1:{}", p.port));
    let (code, msg) = p.owner_err(Some(&p.ca), &["enroll", &by_ip]);
    assert_eq!(code, "tls_wrong_host", "{msg}");
    assert!(msg.contains("127.0.0.1"), "{msg}");

    // A proxy that does not pass the WebSocket upgrade on.
    let broken = p.enroll_link(&format!("https://localhost:{}", p.broken));
    let (code, msg) = p.owner_err(Some(&p.ca), &["enroll", &broken]);
    assert_eq!(code, "no_websocket_upgrade", "{msg}");
    assert!(msg.contains("HTTP 4") && msg.contains("Upgrade"), "{msg}");

    // Plain HTTP to the TLS port: nginx answers 400, which is no upgrade.
    let plain = p.enroll_link(&format!("http://localhost:{}", p.port));
    let (code, msg) = p.owner_err(Some(&p.ca), &["enroll", &plain]);
    assert_eq!(code, "no_websocket_upgrade", "{msg}");

    // An unreadable CA file is refused before any connection.
    let missing = p.w.dir.path().join("no-such-ca.pem");
    let (code, msg) = p.owner_err(Some(&missing), &["enroll", &good]);
    assert_eq!(code, "bad_ca_file", "{msg}");

    // TLS is not trust: valid TLS with a wrong pinned agent key fails the
    // Noise handshake.
    let key = dd_proto::keys::encode_key(&p.w.agent.key);
    let forged = good.replace(&key, &dd_proto::keys::encode_key(&[0x11; 32]));
    assert_ne!(forged, good);
    let (code, msg) = p.owner_err(Some(&p.ca), &["enroll", &forged]);
    assert_eq!(code, "handshake_failed", "{msg}");

    // None of that spent the token: the right setup still enrolls.
    let v = json(&p.owner_ok(&["enroll", &good, "--label", "desk"]));
    assert!(v["device_id"].as_str().unwrap().starts_with("d_"), "{v}");
}
