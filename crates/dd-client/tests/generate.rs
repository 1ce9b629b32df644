//! `dd-client completions SHELL` and `man`: generated from the clap
//! definition, non-empty for every shell, naming the real commands, and a
//! page per command (nested ones too).

mod common;

use common::Client;

#[test]
fn completions_for_every_shell_and_man_pages() {
    let c = Client::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let s = c.ok(&["completions", shell]);
        assert!(s.len() > 1000, "{shell}: {s}");
        for word in ["pair-mobile", "doctor", "down", "session", "no-attach"] {
            assert!(s.contains(word), "{shell} lacks {word}");
        }
    }
    let out = c.run(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values"));
    let page = c.ok(&["man"]);
    assert!(page.contains(".TH dd-client"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    c.ok(&["man", "--dir", dir.path().to_str().unwrap()]);
    for p in [
        "dd-client.1",
        "dd-client-up.1",
        "dd-client-down.1",
        "dd-client-doctor.1",
        "dd-client-session-pair-mobile.1",
    ] {
        let t = std::fs::read_to_string(dir.path().join(p)).unwrap();
        assert!(t.contains(".TH"), "{p}");
    }
    let up = std::fs::read_to_string(dir.path().join("dd-client-up.1")).unwrap();
    assert!(up.contains("countdown"), "{up}");
}
