//! Issue 13, finding 2 against a real agent: `dd-client enroll` takes its
//! link from stdin, a file or the environment; the argument form warns.

mod common;

use common::{failure, Agent, Client};

#[test]
fn enroll_reads_the_link_from_stdin_a_file_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start_on(&dir.path().join("state"));

    let link = agent.enroll_link("5m");
    let token = link.rsplit('#').next().unwrap().to_owned();
    let c = Client::new();
    let out =
        dd_testkit::run_secret_on_stdin(c.cmd().args(["enroll", "-", "--json"]), &token, &link);
    quiet_ok(&out);
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
    quiet_ok(&out);

    let c = Client::new();
    let out = c
        .cmd()
        .arg("enroll")
        .env("DD_ENROLL_LINK", agent.enroll_link("5m"))
        .output()
        .unwrap();
    quiet_ok(&out);

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

/// Asserts success without a word on stderr (no warning).
fn quiet_ok(out: &std::process::Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.is_empty(), "{err}");
}
