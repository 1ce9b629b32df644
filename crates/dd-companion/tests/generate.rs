//! `dd-companion completions SHELL` and `man`: generated from the clap
//! definition, non-empty for every shell, naming the real commands.

use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dd-companion"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn completions_for_every_shell_and_man_pages() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let s = String::from_utf8(out.stdout).unwrap();
        assert!(s.len() > 500, "{shell}: {s}");
        for word in ["join", "attach", "forget", "label"] {
            assert!(s.contains(word), "{shell} lacks {word}");
        }
    }
    assert_eq!(run(&["completions", "cmd.exe"]).status.code(), Some(2));
    let page = String::from_utf8(run(&["man"]).stdout).unwrap();
    assert!(page.contains(".TH dd-companion"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert!(out.status.success());
    for p in [
        "dd-companion.1",
        "dd-companion-join.1",
        "dd-companion-attach.1",
    ] {
        let t = std::fs::read_to_string(dir.path().join(p)).unwrap();
        assert!(t.contains(".TH"), "{p}");
    }
}
