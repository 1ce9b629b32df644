//! Issue 13, findings 1 and 2 against a real agent: pairing links are taken
//! off the command line, and pairing output is not drawn into a watched
//! session (nor shown for a shell without a warning).

mod common;

use std::time::Instant;

use common::{failure, json, World};

fn link(w: &World, s: &str, extra: &[&str]) -> String {
    w.pair(s, extra)["link"].as_str().unwrap().to_owned()
}

/// The token part of a link (after `#`).
fn token(link: &str) -> &str {
    link.rsplit('#').next().unwrap()
}

#[test]
fn join_reads_the_link_from_stdin_a_file_or_the_environment() {
    let w = World::new();
    let s = w.shell();

    // stdin: while the command waits for the link, its arguments hold none.
    let l = link(&w, &s, &[]);
    let out = dd_testkit::run_secret_on_stdin(
        w.comp().args(["join", "-", "--json"]),
        token(&l),
        &format!("{l}\n"),
    );
    quiet_ok(&out);
    assert_eq!(
        json(&String::from_utf8_lossy(&out.stdout))["session_id"],
        s.as_str()
    );

    // A file.
    let l = link(&w, &s, &[]);
    let file = w.dir.path().join("link.txt");
    std::fs::write(&file, format!("{l}\n")).unwrap();
    let home = w.dir.path().join("c2");
    let out = w
        .comp_in(&home)
        .args(["join", "--json", "--link-file"])
        .arg(&file)
        .output()
        .unwrap();
    quiet_ok(&out);

    // The environment.
    let l = link(&w, &s, &[]);
    let home = w.dir.path().join("c3");
    let out = w
        .comp_in(&home)
        .args(["join", "--json"])
        .env("DD_PAIR_LINK", &l)
        .output()
        .unwrap();
    quiet_ok(&out);

    // The argument still works, and warns.
    let l = link(&w, &s, &[]);
    let home = w.dir.path().join("c4");
    let out = w
        .comp_in(&home)
        .args(["join", &l, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning: a link on the command line"), "{err}");
    assert!(err.contains("DD_PAIR_LINK"), "{err}");

    // Nothing anywhere: a usage error naming the ways.
    let (code, err) = failure(
        &w.comp_in(&w.dir.path().join("c5"))
            .arg("join")
            .output()
            .unwrap(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--link-file"), "{err}");

    // --help recommends them.
    let help = w.comp().args(["join", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("join -") && help.contains("DD_PAIR_LINK"),
        "{help}"
    );
}

#[test]
fn pair_mobile_warns_for_interactive_shells_only() {
    let w = World::new();
    let sh = w.shell();
    let out = w
        .owner()
        .args(["session", "pair-mobile", &sh, "--json", "--no-qr"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("runs a shell") && err.contains("enroll-link"),
        "{err}"
    );

    let out = w
        .owner()
        .args([
            "session",
            "pair-mobile",
            &sh,
            "--json",
            "--no-qr",
            "--read-only",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("runs a shell"));

    let cat = json(&w.owner_ok(&["session", "new", "--detach", "--json", "--", "cat"]))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = w
        .owner()
        .args(["session", "pair-mobile", &cat, "--json", "--no-qr"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("runs a shell"));
}

/// The finding's variant: an owner runs `pair-mobile OTHER` inside a
/// session a read-only companion watches. The watcher must not see a link.
#[test]
fn pair_mobile_inside_a_watched_session_shows_no_link() {
    let w = World::new();
    let watched = w.shell();
    let other = w.shell();
    w.join(&watched, &["--read-only"]);

    let client = dd_testkit::workspace_bin("dd-client", "dd-client");
    let cmd = format!(
        "DD_CLIENT_HOME='{}' '{}' session pair-mobile {other} --no-qr; echo pair-exit-$?",
        w.owner_home().display(),
        client.display()
    );
    w.owner_ok(&["session", "send", &watched, "--enter", "--", &cmd]);
    // The watcher reads the session's whole output up to the exit status.
    let out = w.comp_ok(&[
        "watch",
        &watched,
        "--from",
        "start",
        "--until",
        "pair-exit-1",
        "--timeout",
        "30",
    ]);
    assert!(out.contains("inside_session"), "{out}");
    assert!(!out.contains("dd://pair"), "{out}");
    // No token was minted for OTHER.
    let audit = w.owner_ok(&[
        "audit",
        "--json",
        "--session",
        &other,
        "--action",
        "token_minted",
    ]);
    assert_eq!(json(&audit).as_array().unwrap().len(), 0, "{audit}");

    // With the explicit flag (nobody else watches), it is shown.
    let start = Instant::now();
    let out = w
        .owner()
        .env("DD_SESSION_ID", &watched)
        .args([
            "session",
            "pair-mobile",
            &other,
            "--json",
            "--no-qr",
            "--in-session",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", start.elapsed());
    assert!(String::from_utf8_lossy(&out.stdout).contains("dd://pair"));
    // `up` refuses the same way.
    let (code, err) = failure(
        &w.owner()
            .env("DD_SESSION_ID", &watched)
            .args(["up", "--no-attach"])
            .output()
            .unwrap(),
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("inside_session"), "{err}");
}

/// Asserts success without a word on stderr (no warning).
fn quiet_ok(out: &std::process::Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.is_empty(), "{err}");
}
