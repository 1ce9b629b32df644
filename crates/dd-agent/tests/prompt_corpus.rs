//! The prompt corpus: real prompt programs (bash, Python, rm, ssh-keygen,
//! git, dialog, whiptail, npm, inquirer from npm, questionary from PyPI),
//! stand-ins for Claude Code and Codex that call `dd-client hook` exactly
//! as those agents document, and programs that do not wait for anyone
//! (top, htop, watch, tail -f, a spinner, idle REPLs, vim, less, man, bells
//! the owner caused). Each runs in a real session of one real agent.
//!
//! Per prompt case it asserts the event (source, text, choices), that
//! answering each offered choice reaches the program (one fresh session per
//! choice), and that the event clears; per non-prompt, that no event comes.
//! At the end it prints precision, recall and the median delays (from the
//! program's last output to the event) to stderr.
//!
//! Programs installed by `.ci/install.d/16-prompts.sh`; a case whose
//! program is missing is skipped with a message. `DD_CORPUS_QUIET_MS` runs
//! the agent with another quiet period (to measure the trade-off curve),
//! `DD_CORPUS_ONLY=name,...` runs some cases.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dd_client_core::{AttachStream, Connection, StreamItem};
use dd_proto::keys::encode_bytes;
use dd_proto::message::Event;
use dd_proto::methods::{self as m, InputNeeded, PromptSource, Resume};
use dd_testkit::{owner, AgentProc};
use serde_json::json;

/// Sessions running at once.
const PARALLEL: usize = 6;

/// A need met by the agent, not the machine: its screen model draws DEC
/// line-drawing characters (`ESC ( 0`, ncurses' boxes in the C locale).
/// Without it a case still runs, but a miss is reported as known.
const DEC_GRAPHICS: &str = "screen:dec-graphics";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    /// An agent hook through `dd-client hook`.
    Hook,
    /// A BEL or OSC notification.
    Signal,
    /// Only the screen tells.
    Screen,
}

/// What a prompt case must raise.
#[derive(Clone)]
struct Expect {
    group: Group,
    source: PromptSource,
    /// A part of the event's body.
    body: &'static str,
    /// Offered choices and what the program prints once it got each.
    choices: Vec<(&'static str, &'static str)>,
    /// With no choices: text the phone types (Enter added) and what the
    /// program then prints. `None`: the event clears by itself.
    typed: Option<(&'static str, &'static str)>,
}

#[derive(Clone)]
struct Case {
    name: &'static str,
    /// `sh -c` script, run in a fresh temporary directory.
    script: String,
    /// Programs (or `py:module`, `node:inquirer`) the case needs.
    needs: &'static [&'static str],
    expect: Option<Expect>,
    /// Non-prompts: owner keystrokes, each after the given delay.
    keys: Vec<(u64, &'static [u8])>,
}

fn prompt(
    name: &'static str,
    needs: &'static [&'static str],
    script: impl Into<String>,
    expect: Expect,
) -> Case {
    Case {
        name,
        script: script.into(),
        needs,
        expect: Some(expect),
        keys: Vec::new(),
    }
}

fn none(
    name: &'static str,
    needs: &'static [&'static str],
    script: impl Into<String>,
    keys: Vec<(u64, &'static [u8])>,
) -> Case {
    Case {
        name,
        script: script.into(),
        needs,
        expect: None,
        keys,
    }
}

fn screen(
    body: &'static str,
    choices: Vec<(&'static str, &'static str)>,
    typed: Option<(&'static str, &'static str)>,
) -> Expect {
    Expect {
        group: Group::Screen,
        source: PromptSource::Heuristic,
        body,
        choices,
        typed,
    }
}

/// Every case. `dir` holds the helper scripts, `client` is dd-client.
fn corpus(dir: &Path, client: &Path) -> Vec<Case> {
    let d = dir.display();
    let hook = format!("{} hook", client.display());
    let py = |f: &str| format!("python3 {d}/{f}");
    let yes_no = |body| screen(body, vec![("Yes", "got y"), ("No", "got n")], None);
    let git_repo = "git init -q . && git config user.email a@b && git config user.name a && \
                    printf 'a\\nb\\n' > f && git add f && git commit -qm i && printf 'a\\nc\\n' > f";
    let staged = "; echo \"staged=[$(git diff --cached --name-only | tr '\\n' ,)]\"";
    let apt = r"printf 'Reading package lists... Done\nBuilding dependency tree... Done\nThe following NEW packages will be installed:\n  htop\n0 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.\nNeed to get 152 kB of archives.\nAfter this operation, 387 kB of additional disk space will be used.\n'; printf 'Do you want to continue? [Y/n] '; read a; echo got $a";
    let pip = r"printf 'Found existing installation: requests 2.31.0\nUninstalling requests-2.31.0:\n  Would remove:\n    /usr/lib/python3/dist-packages/requests-2.31.0.dist-info/*\n    /usr/lib/python3/dist-packages/requests/*\n'; printf 'Proceed (Y/n)? '; read a; echo got $a";
    let box_menu =
        r"printf 'Pick a fruit:\n1) apple\n2) pear\n3) plum\n'; printf '#? '; read a; echo got $a";
    let mut cases = vec![
        // ---- screen only -------------------------------------------------
        prompt("bash read [y/N]", &["bash"], "bash -c 'read -p \"Continue? [y/N] \" a; echo got $a'", yes_no("Continue? [y/N]")),
        prompt("bash read field", &["bash"], "bash -c 'read -p \"Name: \" a; echo got $a'", screen("Name:", vec![], Some(("ann", "got ann")))),
        prompt("bash select", &["bash"], "bash -c 'PS3=\"Pick one: \"; select f in apple pear; do echo got $f; break; done'", screen("Pick one:", vec![("apple", "got apple"), ("pear", "got pear")], None)),
        prompt("sh numbered menu", &[], box_menu, screen("Pick a fruit:", vec![("apple", "got 1"), ("pear", "got 2"), ("plum", "got 3")], None)),
        prompt("lettered menu", &[], r"printf 'What now?\na) apply\nb) skip\nc) quit\nChoice: '; read a; echo got $a", screen("What now?", vec![("apply", "got a"), ("skip", "got b"), ("quit", "got c")], None)),
        prompt("press enter", &["bash"], "bash -c 'read -p \"Installed. Press ENTER to continue\"; echo got enter'", screen("Press ENTER", vec![("Continue", "got enter")], None)),
        prompt("python input", &["python3"], "python3 -c 'print(\"got\", input(\"Email: \"))'", screen("Email:", vec![], Some(("a@b.c", "got a@b.c")))),
        prompt("python getpass", &["python3"], "python3 -c 'import getpass; print(\"got\", len(getpass.getpass()))'", screen("Password:", vec![], Some(("secret", "got 6")))),
        prompt("rm -i", &["rm"], "touch x && rm -i x; [ -e x ] && echo got kept || echo got removed", screen("rm: remove regular empty file 'x'?", vec![], Some(("y", "got removed")))),
        // Its default is the user's real ~/.ssh/id_ed25519 (from the passwd
        // entry, not $HOME): offered, checked, but answered by typing a path.
        prompt("ssh-keygen file", &["ssh-keygen"], "ssh-keygen -q -t ed25519", screen("Enter file in which to save the key", vec![("$HOME/.ssh/id_ed25519", "")], Some(("./k", "passphrase")))),
        prompt("ssh-keygen passphrase", &["ssh-keygen"], "ssh-keygen -q -t ed25519 -f ./k", screen("Enter passphrase", vec![], Some(("", "same passphrase")))),
        prompt("apt-get", &[], apt, screen("Do you want to continue? [Y/n]", vec![("Yes", "got y"), ("No", "got n")], None)),
        prompt("pip uninstall", &[], pip, screen("Proceed (Y/n)?", vec![("Yes", "got y"), ("No", "got n")], None)),
        prompt("inquirer select", &["node", "node:inquirer"], format!("node {d}/inquirer_select.mjs"), screen("Pick a color", vec![("red", "got red"), ("green", "got green"), ("blue", "got blue")], None)),
        prompt("inquirer input", &["node", "node:inquirer"], format!("node {d}/inquirer_input.mjs"), screen("? Project name (my-app)", vec![("my-app", "got my-app")], None)),
        prompt("questionary select", &["python3", "py:questionary"], py("questionary_select.py"), screen("Pick a fruit", vec![("apple", "got apple"), ("pear", "got pear"), ("plum", "got plum")], None)),
        prompt("questionary text", &["python3", "py:questionary"], py("questionary_text.py"), screen("What is your name?", vec![], Some(("ann", "got ann")))),
        prompt("git add -p", &["git"], format!("{git_repo} && GIT_EDITOR=true git add -p{staged}"), screen("Stage this hunk [y,n,q,a,d,e,p,?]?", vec![
            ("y", "staged=[f,]"), ("n", "staged=[]"), ("q", "staged=[]"), ("a", "staged=[f,]"),
            ("d", "staged=[]"), ("e", "staged=[f,]"), ("p", "Stage this hunk"),
        ], None)),
        prompt("git clean -i", &["git"], format!("{git_repo} && touch x.tmp y.tmp && git clean -i"), screen("Would remove the following items:", vec![
            ("clean", "Removing x.tmp"), ("filter by pattern", "Input ignore patterns"), ("select by numbers", "Select items to delete"),
            ("ask each", "Remove x.tmp"), ("quit", "Bye."), ("help", "clean               - start cleaning"),
        ], None)),
        prompt("dialog yesno", &["dialog", DEC_GRAPHICS], "dialog --yesno 'Delete the cache?' 8 40; clear; echo got $?", screen("Delete the cache?", vec![("Yes", "got 0"), ("No", "got 1")], None)),
        prompt("whiptail yesno", &["whiptail"], "whiptail --yesno 'Delete the cache?' 8 40; echo got $?", screen("Delete the cache?", vec![("Yes", "got 0"), ("No", "got 1")], None)),
        prompt("npm init", &["npm"], "mkdir demo && cd demo && npm init", screen("package name: (demo)", vec![("demo", "version: (1.0.0)")], None)),
        prompt("claude-style menu", &["python3"], format!("{} menu :", py("fake_claude.py")), screen("Do you want to proceed?", vec![
            ("Yes", "chose: Yes"), ("Yes, and don't ask again", "chose: Yes, and don't"), ("No, and tell Claude what to do", "chose: No,"),
        ], None)),
        // ---- explicit signals --------------------------------------------
        prompt("bel then question", &[], r"printf 'Tests passed.\n\a'; sleep 0.3; printf 'Deploy now? [y/N] '; read a; echo got $a", Expect {
            group: Group::Signal, source: PromptSource::Bel, body: "Deploy now? [y/N]", choices: vec![("Yes", "got y"), ("No", "got n")], typed: None,
        }),
        prompt("osc 9", &[], r"printf 'Apply the migration? [y/N] \033]9;Migration ready\007'; read a; echo got $a", Expect {
            group: Group::Signal, source: PromptSource::Osc9, body: "Migration ready", choices: vec![("Yes", "got y"), ("No", "got n")], typed: None,
        }),
        prompt("osc 777", &[], r"printf '\033]777;notify;Build;Done, 3 warnings\033\\'; read a; echo got $a", Expect {
            group: Group::Signal, source: PromptSource::Osc777, body: "Done, 3 warnings", choices: vec![], typed: Some(("ok", "got ok")),
        }),
        // ---- agent hooks ---------------------------------------------------
        prompt("claude hook permission", &["python3"], format!("{} permission '{hook} claude'", py("fake_claude.py")), Expect {
            group: Group::Hook, source: PromptSource::Hook, body: "Claude needs your permission to use Bash",
            choices: vec![("Yes", "chose: Yes"), ("Yes, and don't ask again", "chose: Yes, and don't"), ("No, and tell Claude what to do", "chose: No,")], typed: None,
        }),
        prompt("claude hook before menu", &["python3"], format!("{} early '{hook} claude'", py("fake_claude.py")), Expect {
            group: Group::Hook, source: PromptSource::Hook, body: "Claude needs your permission to use Bash",
            choices: vec![("Yes", "chose: Yes"), ("Yes, and don't ask again", "chose: Yes, and don't"), ("No, and tell Claude what to do", "chose: No,")], typed: None,
        }),
        prompt("claude hook stop", &["python3"], format!("{} stop '{hook} claude'", py("fake_claude.py")), Expect {
            group: Group::Hook, source: PromptSource::Hook, body: "Claude Code finished and waits for you", choices: vec![], typed: Some(("run the tests", "prompt: run the tests")),
        }),
        prompt("codex notify", &["python3"], format!("{} {hook} codex", py("fake_codex.py")), Expect {
            group: Group::Hook, source: PromptSource::Hook, body: "Done. Shall I run the tests as well", choices: vec![], typed: Some(("yes", "prompt: yes")),
        }),
        prompt("generic hook cleared by hook", &[], format!("echo deploying; {hook} needed --title Deploy 'Deploy paused: check staging'; sleep 2; {hook} cleared; echo moved-on"), Expect {
            group: Group::Hook, source: PromptSource::Hook, body: "Deploy paused: check staging", choices: vec![], typed: None,
        }),
    ];
    let quiet_checks = vec![
        none("compile that pauses", &[], "printf '   Compiling serde v1.0.200\\n   Compiling tokio v1.38.0\\n   Building [=======>       ] 120/245: tokio, hyper\\n'; sleep 5; echo '    Finished dev'", vec![]),
        none("curl progress", &["curl"], "head -c 3000000 /dev/zero > big && curl --limit-rate 1M -o /dev/null file://$PWD/big", vec![]),
        none("spinner", &["bash"], "bash -c 's=\"|/-\\\\\"; for i in $(seq 60); do printf \"\\r%s Resolving dependencies...\" \"${s:i%4:1}\"; sleep 0.08; done; echo'", vec![]),
        none("tail -f", &["tail"], "printf '2026-12-01T10:00:01 INFO listening on :8080\\n2026-12-01T10:00:02 INFO GET /health 200\\n' > log && timeout 5 tail -f log", vec![]),
        none("htop", &["htop"], "timeout 5 htop", vec![]),
        none("top", &["top"], "timeout 5 top -d 1", vec![]),
        none("watch", &["watch"], "timeout 5 watch -n 1 date", vec![]),
        none("idle python REPL", &["python3"], "python3 -q", vec![]),
        none("idle vim", &["vim"], "printf 'hello\\n' > f.txt && vim -u NONE -N f.txt", vec![]),
        none("less", &["less"], "seq 1 500 > n.txt && less n.txt", vec![]),
        none("man", &["man"], "MANPAGER=less man ls", vec![]),
        none("compiler hints", &[], "printf 'error[E0308]: mismatched types\\n --> src/main.rs:2:18\\n  |\\n2 |     let x: i32 = \"a\";\\n  |            ---   ^^^ expected `i32`, found `&str`\\n  |\\nhelp: consider removing the quotes:\\n\\nerror: could not compile `demo` (bin \"demo\") due to 1 previous error\\n'", vec![]),
        // Output that pauses (0.2 to 1.0 s) after a line that looks like a
        // field or a question: the quiet period's precision trade-off.
        none("status lines that pause", &[], "for p in 0.2 0.4 0.6 0.8 1.0; do printf \"Node $p status: \"; sleep $p; echo up; done", vec![]),
        none("log questions that pause", &[], "for p in 0.2 0.4 0.6 0.8 1.0; do echo \"retry after $p s: is the replica in sync?\"; sleep $p; done; echo synced", vec![]),
        none("idle shell prompt", &["bash"], "PS1='$ ' bash --norc -i", vec![]),
        none("bell: bash Tab completion", &["bash"], "PS1='$ ' bash --norc -i", vec![(800, b"zzq"), (200, b"\t"), (300, b"\t")]),
        none("bell: vim Esc", &["vim"], "vim -u NONE -N", vec![(1200, b"\x1b"), (400, b"\x1b")]),
    ];
    cases.extend(quiet_checks);
    cases
}

/// Does this machine have what the case needs?
fn missing(needs: &[&str]) -> Option<String> {
    for n in needs {
        let ok = if *n == DEC_GRAPHICS {
            true
        } else if let Some(module) = n.strip_prefix("py:") {
            std::process::Command::new("python3")
                .args(["-c", &format!("import {module}")])
                .output()
                .is_ok_and(|o| o.status.success())
        } else if let Some(pkg) = n.strip_prefix("node:") {
            node_dir().join("node_modules").join(pkg).is_dir()
        } else {
            std::process::Command::new("sh")
                .args(["-c", &format!("command -v {n}")])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !ok {
            return Some((*n).to_owned());
        }
    }
    None
}

fn node_dir() -> PathBuf {
    std::env::var_os("DD_CORPUS_NODE")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/tmp/dd-prompt-corpus".into())
}

/// What one session of a case saw.
#[derive(Debug, Default)]
struct Run {
    /// Every `input_needed`, with the time since the last output.
    needed: Vec<(InputNeeded, Duration)>,
    /// Cleared seqs.
    cleared: Vec<u64>,
    /// Problems found.
    errors: Vec<String>,
}

/// Reads the attach stream until `stop` says so or `limit` passes.
struct Watch {
    stream: AttachStream,
    out: Vec<u8>,
    last_output: Instant,
    run: Run,
    /// Output length at the last `input_needed`.
    out_at_event: usize,
}

impl Watch {
    /// Next item within `limit`; false when the time is up or the stream ended.
    async fn step(&mut self, limit: Instant) -> bool {
        match tokio::time::timeout_at(limit.into(), self.stream.next()).await {
            Ok(Some(StreamItem::Output { data, .. })) => {
                self.out.extend_from_slice(&data);
                self.last_output = Instant::now();
                true
            }
            Ok(Some(StreamItem::Event(Event::InputNeeded { prompt }))) => {
                self.run.needed.push((prompt, self.last_output.elapsed()));
                self.out_at_event = self.out.len();
                true
            }
            Ok(Some(StreamItem::Event(Event::InputCleared { seq }))) => {
                self.run.cleared.push(seq);
                true
            }
            Ok(Some(StreamItem::Event(Event::End { .. }))) | Ok(None) => false,
            Ok(Some(StreamItem::Disconnected(why))) => {
                self.run.errors.push(format!("disconnected: {why}"));
                false
            }
            Ok(Some(_)) => true,
            Err(_) => false,
        }
    }

    /// Watches until `pred` holds (true) or `secs` pass (false).
    async fn until(&mut self, secs: f64, mut pred: impl FnMut(&Watch) -> bool) -> bool {
        let limit = Instant::now() + Duration::from_secs_f64(secs);
        loop {
            if pred(self) {
                return true;
            }
            if !self.step(limit).await {
                return pred(self);
            }
        }
    }

    /// Lets events settle: returns once nothing came for `quiet`.
    async fn settle(&mut self, quiet: Duration, max: f64) {
        let end = Instant::now() + Duration::from_secs_f64(max);
        loop {
            let n = (self.run.needed.len(), self.run.cleared.len());
            let limit = (Instant::now() + quiet).min(end);
            while self.step(limit).await {
                if (self.run.needed.len(), self.run.cleared.len()) != n {
                    break;
                }
            }
            if (self.run.needed.len(), self.run.cleared.len()) == n || Instant::now() >= end {
                return;
            }
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out).into_owned()
    }
}

async fn start(own: &Connection, case: &Case, root: &Path, n: usize) -> (String, Watch) {
    let dir = root.join(format!(
        "{}-{n}",
        case.name.replace([' ', '/', ',', ':'], "_")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let v = own
        .call(
            m::SESSION_CREATE,
            // The pause lets the stream open before the program draws (events
            // raised before a stream opens are only in its `waiting`).
            json!({"command": ["/bin/sh", "-c", format!("sleep 0.5; {}; sleep 30", case.script)],
                   "cwd": dir, "env": {"DD_CORPUS_NODE": node_dir()}}),
        )
        .await
        .expect("session.create");
    let id = v["id"].as_str().expect("id").to_owned();
    let stream = own
        .attach(&id, Resume::Offset { offset: 0 })
        .await
        .expect("attach");
    (
        id,
        Watch {
            stream,
            out: Vec::new(),
            last_output: Instant::now(),
            run: Run::default(),
            out_at_event: 0,
        },
    )
}

async fn input(own: &Connection, id: &str, bytes: &[u8]) {
    own.call(
        m::SESSION_INPUT,
        json!({"session": id, "data": encode_bytes(bytes)}),
    )
    .await
    .expect("session.input");
}

async fn close(own: &Connection, id: &str) {
    let _ = own.call(m::SESSION_CLOSE, json!({ "session": id })).await;
}

/// The outcome of one case.
#[derive(Debug)]
struct Outcome {
    name: &'static str,
    group: Option<Group>,
    /// Events raised (first session), and how many were right.
    events: usize,
    right: usize,
    delay: Option<Duration>,
    /// What the (last) event said: body and choice labels.
    said: String,
    errors: Vec<String>,
}

/// Runs a prompt case once per answer (choice, typed text, or none).
async fn run_prompt(
    own: &Connection,
    case: &Case,
    ex: &Expect,
    root: &Path,
    quiet: Duration,
) -> Outcome {
    let mut answers: Vec<Option<usize>> = (0..ex.choices.len()).map(Some).collect();
    if answers.is_empty() {
        answers.push(None);
    }
    let mut out = Outcome {
        name: case.name,
        group: Some(ex.group),
        events: 0,
        right: 0,
        delay: None,
        said: String::new(),
        errors: Vec::new(),
    };
    let wait = quiet.as_secs_f64() + 15.0;
    for (n, answer) in answers.into_iter().enumerate() {
        let (id, mut w) = start(own, case, root, n).await;
        let mut errs = Vec::new();
        if !w.until(wait, |w| !w.run.needed.is_empty()).await {
            errs.push(format!("no event; screen ends {:?}", tail(&w.text())));
        } else {
            // A replacement (an early signal updated) comes within a period.
            w.settle(quiet + Duration::from_millis(600), wait).await;
            let (p, _) = w.run.needed.last().cloned().unwrap();
            let first_delay = w.run.needed[0].1;
            let replaced = w.run.needed.len() - 1;
            // Each replaced event cleared first (a prompt that clears by
            // itself may already have cleared too).
            let proper = w.run.cleared.len() >= replaced
                && w.run.needed[..replaced]
                    .iter()
                    .zip(&w.run.cleared)
                    .all(|((p, _), c)| p.seq == *c);
            if !proper {
                errs.push(format!(
                    "{} events, cleared {:?}",
                    w.run.needed.len(),
                    w.run.cleared
                ));
            }
            if p.source != ex.source {
                errs.push(format!("source {:?}, want {:?}", p.source, ex.source));
            }
            let in_prompt = ex.group == Group::Screen && p.prompt.contains(ex.body);
            if !(p.body.contains(ex.body) || in_prompt) {
                errs.push(format!("body {:?}, want {:?}", p.body, ex.body));
            }
            let labels: Vec<String> = p.choices.iter().map(|c| c.label.clone()).collect();
            let want: Vec<String> = ex
                .choices
                .iter()
                .map(|(l, _)| l.replace("$HOME", &std::env::var("HOME").unwrap_or_default()))
                .collect();
            if labels != want {
                errs.push(format!("choices {labels:?}, want {want:?}"));
            }
            if n == 0 {
                out.said = format!("{:?} {labels:?}", p.body);
                out.events = w.run.needed.len() - replaced;
                out.right = usize::from(errs.is_empty());
                // For a replaced event the delay is the one with the
                // question, counted from the program's last output.
                out.delay = Some(if replaced > 0 {
                    w.run.needed[replaced].1
                } else {
                    first_delay
                });
            }
            let (bytes, expect_out) = match (answer, ex.typed) {
                // A choice with side effects outside the test: typed instead.
                (Some(i), Some((text, expect))) if ex.choices[i].1.is_empty() => {
                    (Some(format!("{text}\r").into_bytes()), Some(expect))
                }
                (Some(i), _) => (
                    p.choices.get(i).and_then(|c| c.bytes()),
                    Some(ex.choices[i].1),
                ),
                (None, Some((text, expect))) => {
                    (Some(format!("{text}\r").into_bytes()), Some(expect))
                }
                (None, None) => (None, None),
            };
            let before = w.out.len();
            if let Some(b) = bytes {
                input(own, &id, &b).await;
            }
            let seq = p.seq;
            if !w.until(10.0, |w| w.run.cleared.contains(&seq)).await {
                errs.push(format!("event #{seq} not cleared"));
            }
            if let Some(want) = expect_out {
                let ok = w
                    .until(10.0, |w| {
                        String::from_utf8_lossy(&w.out[before..]).contains(want)
                    })
                    .await;
                if !ok {
                    errs.push(format!(
                        "answer {:?}: program did not print {want:?}; got {:?}",
                        answer.map(|i| ex.choices[i].0),
                        tail(&String::from_utf8_lossy(&w.out[before..]))
                    ));
                }
            }
        }
        close(own, &id).await;
        out.errors
            .extend(errs.into_iter().map(|e| format!("[{n}] {e}")));
        if n == 0 && !out.errors.is_empty() && ex.choices.len() > 3 {
            break; // no point answering every item of a menu not found
        }
    }
    out
}

/// Runs a non-prompt: owner keys, then watches for events.
async fn run_none(own: &Connection, case: &Case, root: &Path, quiet: Duration) -> Outcome {
    let (id, mut w) = start(own, case, root, 0).await;
    // Let it start and draw.
    w.until(1.5, |_| false).await;
    for (after, keys) in &case.keys {
        w.until(*after as f64 / 1000.0, |_| false).await;
        input(own, &id, keys).await;
    }
    w.until(quiet.as_secs_f64() + 3.0, |_| false).await;
    close(own, &id).await;
    let errors = w
        .run
        .needed
        .iter()
        .map(|(p, _)| {
            format!(
                "false alarm: {:?} {:?} {:?}",
                p.source,
                p.body,
                p.choices.iter().map(|c| &c.label).collect::<Vec<_>>()
            )
        })
        .collect();
    Outcome {
        name: case.name,
        group: None,
        events: w.run.needed.len(),
        right: 0,
        delay: None,
        said: String::new(),
        errors,
    }
}

/// Does the agent's screen model draw DEC line-drawing characters? A
/// session prints `ESC ( 0 l q k ESC ( B`; the screen snapshot shows `┌─┐`
/// or the letters.
async fn dec_graphics(own: &Connection) -> bool {
    let v = own
        .call(
            m::SESSION_CREATE,
            json!({"command": ["/bin/sh", "-c", "printf '\\033(0lqk\\033(B\\n'; sleep 30"]}),
        )
        .await
        .expect("session.create");
    let id = v["id"].as_str().expect("id").to_owned();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut s = own.attach(&id, Resume::Screen).await.expect("attach");
    let mut found = false;
    if let Ok(Some(StreamItem::Snapshot { data, .. })) =
        tokio::time::timeout(Duration::from_secs(10), s.next()).await
    {
        found = String::from_utf8_lossy(&data).contains("┌─┐");
    }
    close(own, &id).await;
    found
}

fn tail(s: &str) -> String {
    let s: Vec<char> = s.chars().collect();
    s[s.len().saturating_sub(160)..].iter().collect()
}

fn median(mut v: Vec<Duration>) -> Option<Duration> {
    v.sort();
    (!v.is_empty()).then(|| v[v.len() / 2])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_corpus() {
    let quiet_ms: Option<u64> = std::env::var("DD_CORPUS_QUIET_MS")
        .ok()
        .and_then(|v| v.parse().ok());
    let agent = match quiet_ms {
        Some(ms) => AgentProc::start_with(&["--prompt-quiet", &format!("{ms}ms")]),
        None => AgentProc::start(),
    };
    let quiet = Duration::from_millis(quiet_ms.unwrap_or(m::DEFAULT_PROMPT_QUIET_MS));
    let (own, _) = owner(&agent).await;
    let client = dd_testkit::workspace_bin("dd-client", "dd-client");
    let root = tempfile::tempdir().unwrap();
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let only: Option<Vec<String>> = std::env::var("DD_CORPUS_ONLY")
        .ok()
        .map(|v| v.split(',').map(str::to_owned).collect());
    let mut err = std::io::stderr();
    let mut cases = Vec::new();
    for case in corpus(&scripts, &client) {
        if only
            .as_ref()
            .is_some_and(|o| !o.iter().any(|n| n == case.name))
        {
            continue;
        }
        match missing(case.needs) {
            Some(what) => {
                let _ = writeln!(err, "corpus: SKIPPED {:?}: {what} is not installed (.ci/install.d/16-prompts.sh installs it)", case.name);
            }
            None => cases.push(case),
        }
    }
    let started = Instant::now();
    let gate = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut tasks = Vec::new();
    for case in cases {
        let (own, gate, root) = (own.clone(), Arc::clone(&gate), root.path().to_owned());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            match &case.expect {
                Some(ex) => run_prompt(&own, &case, ex, &root, quiet).await,
                None => run_none(&own, &case, &root, quiet).await,
            }
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.expect("case task"));
    }
    let dec = dec_graphics(&own).await;
    let known: Vec<&str> = corpus(&scripts, &client)
        .iter()
        .filter(|c| !dec && c.needs.contains(&DEC_GRAPHICS))
        .map(|c| c.name)
        .collect();
    // The table.
    let _ = writeln!(err, "\ncorpus (quiet period {} ms):", quiet.as_millis());
    let _ = writeln!(
        err,
        "{:<32} {:<8} {:>6} {:>9}  result",
        "case", "group", "events", "delay"
    );
    let (mut prompts, mut found, mut events, mut right) = (0, 0, 0, 0);
    let mut delays: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut failed = Vec::new();
    for o in &outcomes {
        events += o.events;
        right += o.right;
        if o.group.is_some() {
            prompts += 1;
            if o.right == 1 && o.errors.is_empty() {
                found += 1;
            }
        }
        let group = match o.group {
            Some(Group::Hook) => "hook",
            Some(Group::Signal) => "signal",
            Some(Group::Screen) => "screen",
            None => "none",
        };
        if let Some(d) = o.delay {
            let key = if o.group == Some(Group::Screen) {
                "screen"
            } else {
                "hook/signal"
            };
            delays.entry(key).or_default().push(d);
        }
        let result = if o.errors.is_empty() {
            format!("ok {}", o.said)
        } else {
            o.errors.join("; ")
        };
        let delay = o
            .delay
            .map(|d| format!("{} ms", d.as_millis()))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            err,
            "{:<32} {:<8} {:>6} {:>9}  {result}",
            o.name, group, o.events, delay
        );
        if !o.errors.is_empty() {
            if known.contains(&o.name) {
                let _ = writeln!(err, "{:<32} known miss: this agent's screen model does not draw DEC line-drawing characters", "");
            } else {
                failed.push(o.name);
            }
        }
    }
    let pct = |a: usize, b: usize| {
        if b == 0 {
            100.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    let (recall, precision) = (pct(found, prompts), pct(right, events));
    let _ = writeln!(
        err,
        "recall {found}/{prompts} ({recall:.0} %), precision {right}/{events} ({precision:.0} %)"
    );
    for (k, v) in delays {
        let med = median(v).unwrap_or_default();
        let _ = writeln!(err, "median delay, {k}: {} ms", med.as_millis());
    }
    let _ = writeln!(err, "corpus took {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        failed.is_empty(),
        "cases that failed: {failed:?} (see the table on stderr)"
    );
}
