//! Issue 13, finding 2 against a real agent: `dd-client enroll` takes its
//! link from stdin, a file or the environment; the argument form warns.

mod common;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use common::{failure, Agent, Client};

#[test]
fn enroll_reads_the_link_from_stdin_a_file_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start_on(&dir.path().join("state"));

    let link = agent.enroll_link("5m");
    let token = link.rsplit('#').next().unwrap().to_owned();
    let c = Client::new();
    let mut child = c
        .cmd()
        .args(["enroll", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains(&token));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(link.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.ok(&["devices"]);

    let c = Client::new();
    let file = dir.path().join("enroll.link");
    std::fs::write(&file, agent.enroll_link("5m")).unwrap();
    let out = c
        .cmd()
        .args(["enroll", "--link-file"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());

    let c = Client::new();
    let out = c
        .cmd()
        .arg("enroll")
        .env("DD_ENROLL_LINK", agent.enroll_link("5m"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());

    let c = Client::new();
    let out = c.run(&["enroll", &agent.enroll_link("5m")]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning: a link on the command line"), "{err}");

    let (code, err) = failure(&Client::new().run(&["enroll"]));
    assert_eq!(code, 2, "{err}");
    let (code, _) = failure(&Client::new().run(&["enroll", "dd://x", "--link-file", "/dev/null"]));
    assert_eq!(code, 2);
}
