use super::*;

fn lines(s: &str) -> Vec<String> {
    s.lines().map(str::to_owned).collect()
}

fn found(screen: &str) -> Option<Found> {
    analyze(&region(&lines(screen)), false)
}

fn inputs(f: &Found) -> Vec<(String, Vec<u8>)> {
    f.choices
        .iter()
        .map(|c| (c.label.clone(), c.bytes().unwrap()))
        .collect()
}

#[test]
fn yes_no_prompts() {
    for (screen, y, n) in [
        ("$ ./install\nContinue? [y/N] ", &b"y\r"[..], &b"n\r"[..]),
        ("Overwrite? [Y/n]", b"y\r", b"n\r"),
        ("Proceed (y/n)?", b"y\r", b"n\r"),
        ("Delete everything? ( yes / no )", b"yes\r", b"no\r"),
    ] {
        let f = found(screen).unwrap_or_else(|| panic!("{screen:?}"));
        assert_eq!(
            inputs(&f),
            vec![("Yes".into(), y.to_vec()), ("No".into(), n.to_vec())]
        );
    }
    assert_eq!(found("Continue? [y/N]").unwrap().body, "Continue? [y/N]");
}

#[test]
fn claude_code_style_menu() {
    let screen = "\
╭──────────────────────────────────────╮
│ Bash command                         │
│                                      │
│   rm -rf build                       │
│                                      │
│ Do you want to proceed?              │
│ ❯ 1. Yes                             │
│   2. Yes, and don't ask again        │
│   3. No, and tell Claude what to do  │
╰──────────────────────────────────────╯
";
    let r = region(&lines(screen));
    assert_eq!(r[0], "Bash command");
    assert!(r.iter().all(|l| !l.contains('│')), "{r:?}");
    let f = analyze(&r, false).unwrap();
    assert_eq!(f.body, "Do you want to proceed?");
    assert_eq!(
        inputs(&f),
        vec![
            ("Yes".into(), b"\r".to_vec()),
            ("Yes, and don't ask again".into(), b"\x1b[B\r".to_vec()),
            (
                "No, and tell Claude what to do".into(),
                b"\x1b[B\x1b[B\r".to_vec()
            ),
        ]
    );
    // Highlight on the last item, application cursor keys: arrows go up.
    let moved = screen
        .replace("❯ 1. Yes", "  1. Yes")
        .replace("  3. No,", "❯ 3. No,");
    let f = analyze(&region(&lines(&moved)), true).unwrap();
    assert_eq!(f.choices[0].bytes().unwrap(), b"\x1bOA\x1bOA\r");
    assert_eq!(f.choices[2].bytes().unwrap(), b"\r");
    // Moving the highlight is the same prompt.
    assert_eq!(
        fingerprint(&region(&lines(screen))),
        fingerprint(&region(&lines(&moved)))
    );
    assert_ne!(
        fingerprint(&region(&lines(screen))),
        fingerprint(&region(&lines(&screen.replace("rm -rf", "rm -rv"))))
    );
}

#[test]
fn plain_menus() {
    let f = found("Pick a fruit:\n1) apple\n2) pear\n#? ").unwrap();
    assert_eq!(f.body, "Pick a fruit:");
    assert_eq!(
        inputs(&f),
        vec![
            ("apple".into(), b"1\r".to_vec()),
            ("pear".into(), b"2\r".to_vec())
        ]
    );
    // bash's `select`: the question is the line prompt under the items.
    let f = found("1) apple\n2) pear\nPick one: ").unwrap();
    assert_eq!(f.body, "Pick one:");
    let f = found("Apply the patch?\n  1. Yes  2. No").unwrap();
    assert_eq!(f.choices.len(), 2);
    assert_eq!(f.choices[1].bytes().unwrap(), b"2\r");
    let f = found("Proceed?\n❯ 1. Yes\n  2. No\n\nEsc to cancel · Tab to amend").unwrap();
    assert_eq!(f.choices.len(), 2);
    let f = found("What now?\na) apply\nb) skip\nc) quit").unwrap();
    assert_eq!(f.choices[2].label, "quit");
    assert_eq!(f.choices[2].bytes().unwrap(), b"c\r");
}

#[test]
fn press_enter_and_questions() {
    let f = found("Installed.\nPress ENTER to continue").unwrap();
    assert_eq!(inputs(&f), vec![("Continue".into(), b"\r".to_vec())]);
    let f = found("What is your name?").unwrap();
    assert!(f.choices.is_empty());
    assert!(found("[sudo] password for ana:").is_some());
}

#[test]
fn select_lists_without_numbers() {
    // inquirer (npm): the marker on the first item, a hint line below.
    let f = found("? Pick a color\n❯ red\n  green\n  blue\n↑↓ navigate • ⏎ select").unwrap();
    assert_eq!(f.body, "Pick a color");
    assert_eq!(
        inputs(&f),
        vec![
            ("red".into(), b"\r".to_vec()),
            ("green".into(), b"\x1b[B\r".to_vec()),
            ("blue".into(), b"\x1b[B\x1b[B\r".to_vec()),
        ]
    );
    // questionary (PyPI): ` » ` marker, moved to the middle, app cursor keys.
    let screen = "? Pick a fruit (Use arrow keys)\n   apple\n » pear\n   plum";
    let f = analyze(&region(&lines(screen)), true).unwrap();
    assert_eq!(f.body, "Pick a fruit");
    assert_eq!(
        inputs(&f),
        vec![
            ("apple".into(), b"\x1bOA\r".to_vec()),
            ("pear".into(), b"\r".to_vec()),
            ("plum".into(), b"\x1bOB\r".to_vec()),
        ]
    );
    // Moving the cursor is the same prompt.
    assert_eq!(
        fingerprint(&region(&lines(screen))),
        fingerprint(&region(&lines(
            &screen
                .replace(" » pear", "   pear")
                .replace("   plum", " » plum")
        )))
    );
    // A bullet list, or a marker with nothing that asks, is no select.
    assert_eq!(found("Notes:\n* one\n  two"), None);
    assert_eq!(found("> quoted\n  text"), None);
    assert_eq!(found("? Pick\n❯ red\n  green\n$ "), None);
}

#[test]
fn abbreviated_options_and_git_menus() {
    let f =
        found("@@ -1,2 +1,2 @@\n a\n-b\n+c\n(1/1) Stage this hunk [y,n,q,a,d,e,p,?]? ").unwrap();
    assert_eq!(f.body, "(1/1) Stage this hunk [y,n,q,a,d,e,p,?]?");
    let labels: Vec<_> = f.choices.iter().map(|c| c.label.as_str()).collect();
    assert_eq!(labels, ["y", "n", "q", "a", "d", "e", "p"]);
    assert_eq!(f.choices[1].bytes().unwrap(), b"n\r");
    let f = found("Keep it (a/b/c)?").unwrap();
    assert_eq!(f.choices.len(), 3);
    // git clean -i: `1: clean`, several per line, read by `What now>`.
    let f = found(
        "*** Commands ***\n    1: clean                2: filter by pattern    3: select by numbers\n    4: ask each             5: quit                 6: help\nWhat now> ",
    )
    .unwrap();
    assert_eq!(f.choices.len(), 6);
    assert_eq!(
        (f.choices[4].label.as_str(), f.choices[4].bytes().unwrap()),
        ("quit", b"5\r".to_vec())
    );
    // A REPL's `>>>` reads no menu.
    assert_eq!(found("1: a\n2: b\n>>> "), None);
}

#[test]
fn dialog_and_whiptail_buttons() {
    let dialog = "\
┌──────────────────────────────────────┐
│ Delete the cache?                    │
│                                      │
├──────────────────────────────────────┤
│         < Yes >     < No  >          │
└──────────────────────────────────────┘";
    let f = found(dialog).unwrap();
    assert_eq!(f.body, "Delete the cache?");
    assert_eq!(
        inputs(&f),
        vec![("Yes".into(), b"y".to_vec()), ("No".into(), b"n".to_vec())]
    );
    let whiptail = "\
┌──────────────────────────────────────┐
│                                      │
│ Delete the cache?                    │
│                                      │
│        <Yes>           <No>          │
│                                      │
└──────────────────────────────────────┘";
    let f = analyze(&region(&lines(whiptail)), true).unwrap();
    assert_eq!(f.body, "Delete the cache?");
    assert_eq!(
        inputs(&f),
        vec![
            ("Yes".into(), b"\x1bOD\r".to_vec()),
            ("No".into(), b"\x1bOD\x1bOC\r".to_vec())
        ]
    );
    assert_eq!(found("<html>\n<body>"), None);
    assert_eq!(found("a <Yes> b"), None);
}

#[test]
fn fields_offer_their_default() {
    for (screen, default) in [
        ("package name: (demo) ", "demo"),
        ("license: (ISC)", "ISC"),
        ("? Project name (my-app)", "my-app"),
        (
            "Enter file in which to save the key (/root/.ssh/id_ed25519): ",
            "/root/.ssh/id_ed25519",
        ),
        ("Is this OK? (yes) ", "yes"),
    ] {
        let f = found(screen).unwrap_or_else(|| panic!("{screen:?}"));
        assert_eq!(
            inputs(&f),
            vec![(default.into(), b"\r".to_vec())],
            "{screen:?}"
        );
        assert_eq!(f.body, screen.trim());
    }
    for screen in [
        "Email:",
        "Enter your email: ",
        "description: ",
        "? Your name? ann",
    ] {
        let f = found(screen).unwrap_or_else(|| panic!("{screen:?}"));
        assert!(f.choices.is_empty(), "{screen:?}");
    }
    let f = found("Enter passphrase (empty for no passphrase): ").unwrap();
    assert!(f.choices.is_empty(), "a passphrase has no default");
    for screen in [
        "error: could not compile `x`:",
        "warning: unused import:",
        "Running 3 tests:",
        "In [3]:",
        "http://example.com/a:",
        "one two three four five six seven eight nine ten eleven:",
        "$ ls (x)",
    ] {
        assert_eq!(found(screen), None, "{screen:?}");
    }
}

#[test]
fn ordinary_screens_are_not_prompts() {
    for screen in [
        "",
        "\n\n   \n",
        "$ ",
        "$ echo 'Really?'\nReally?\n$ ",
        "Compiling dd v0.1.0\nFinished dev in 3.2s",
        // A numbered list followed by a shell prompt, no question, no marker.
        "$ cat TODO\n1. write code\n2. test it\n$ ",
        // A list whose items are not in sequence.
        "Which?\n2. b\n5. c",
        // A menu far above the end is not the end of the screen.
        "Which?\n1. a\n2. b\nx\ny\nz\nw\n$ ",
        "╭────╮\n│    │\n╰────╯",
        // A menu that was answered: later output follows it.
        "Proceed?\n❯ 1. Yes\n  2. No\nOverwrite? [Y/n] n\nanswers: n",
        "Which?\n1. a\n2. b\nanswered: a",
        "(y/n) was the question\nanswered\n$ ",
    ] {
        assert_eq!(found(screen), None, "{screen:?}");
    }
}

#[test]
fn region_keeps_the_last_lines() {
    let screen: Vec<String> = (1..=30).map(|i| format!("line {i}")).collect();
    let r = region(&screen);
    assert_eq!(r.len(), PROMPT_LINES);
    assert_eq!(r[0], "line 21");
    assert_eq!(r[9], "line 30");
}

#[test]
fn hostile_lines_never_panic() {
    for screen in [
        "\u{3000}\u{3000}1. x\n 2. y?",
        "❯",
        "❯ 99999999999999999999. x",
        "1.",
        "a)",
        "[(y/n",
        "((((]]]]",
        "│││",
        "  \u{2003}a) x\n\u{2003}b) y\nOk?",
    ] {
        let _ = found(screen);
        let _ = fingerprint(&region(&lines(screen)));
    }
}
