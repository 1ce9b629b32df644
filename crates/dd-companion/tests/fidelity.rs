//! Fidelity: the companion sees exactly what the owner sees, cell for cell.
//!
//! Each case runs real programs (bash, less, vim, htop, dialog, nested
//! tmux, apt's progress-bar sequences, floods) in a dd session whose owner
//! view is `dd-client session new` inside a tmux pane: that pane got every
//! byte the program wrote, so tmux's rendering of it is the truth. A second
//! tmux pane of the same size runs `dd-companion attach` (a late join: the
//! agent's snapshot, then the live stream). Both panes are compared with
//! `tmux capture-pane -e` (every cell's character, colours, attributes and
//! line-drawing charset) and tmux's view of the terminal state (cursor,
//! alternate screen, scroll region, cursor/keypad/wrap/origin/insert
//! modes, mouse modes): at the late join, and again after live output.
//!
//! Skips (with a message) when tmux or a program is not installed; CI
//! installs them (`.ci/install.d/15-screen.sh`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{client_bin, companion_bin, json, World};

const ROWS: u16 = 30;
const COLS: u16 = 100;

/// A private tmux server, killed on drop.
struct Tmux {
    sock: String,
    conf: PathBuf,
    env: Vec<(String, String)>,
}

impl Tmux {
    fn new(dir: &Path, env: Vec<(String, String)>) -> Tmux {
        let conf = dir.join("tmux.conf");
        std::fs::write(
            &conf,
            "set -g status off\nset -sg escape-time 0\nset -g default-terminal tmux-256color\n\
             set -g remain-on-exit on\nset -g history-limit 0\nset -g aggressive-resize off\n",
        )
        .unwrap();
        Tmux {
            sock: format!("dd-fid-{}-{}", std::process::id(), rand_suffix()),
            conf,
            env,
        }
    }

    fn cmd(&self, args: &[&str]) -> Output {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.sock, "-f"]).arg(&self.conf).args(args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.env_remove("TMUX");
        c.output().expect("tmux runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd(args);
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A detached tmux session `name` of ROWS x COLS running `shell_cmd`.
    fn pane(&self, name: &str, shell_cmd: &str) {
        let (x, y) = (COLS.to_string(), ROWS.to_string());
        self.ok(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            &x,
            "-y",
            &y,
            shell_cmd,
        ]);
    }

    fn keys(&self, name: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", name];
        args.extend_from_slice(keys);
        self.ok(&args);
    }

    /// Everything tmux knows about the pane that a viewer can see.
    fn view(&self, name: &str) -> String {
        let state = self.ok(&[
            "display-message",
            "-p",
            "-t",
            name,
            "cursor #{cursor_x},#{cursor_y} visible #{cursor_flag} alt #{alternate_on} \
             region #{scroll_region_upper}-#{scroll_region_lower} keypad #{keypad_cursor_flag}/#{keypad_flag} \
             wrap #{wrap_flag} origin #{origin_flag} insert #{insert_flag} \
             mouse #{mouse_standard_flag}#{mouse_button_flag}#{mouse_any_flag}#{mouse_sgr_flag}",
        ]);
        let cells = self.ok(&["capture-pane", "-p", "-e", "-t", name]);
        format!("{state}{cells}")
    }

    /// The view once it has stopped changing.
    fn settled(&self, name: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut last = self.view(name);
        loop {
            std::thread::sleep(Duration::from_millis(300));
            let now = self.view(name);
            if now == last || Instant::now() > deadline {
                return now;
            }
            last = now;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd(&["kill-server"]);
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// How two views differ: the number of differing rows and cells, and the
/// rows side by side.
fn diff(owner: &str, comp: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (owner.lines().collect(), comp.lines().collect());
    let mut rows = 0;
    let mut cells = 0;
    let mut shown = String::new();
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (
            a.get(i).copied().unwrap_or(""),
            b.get(i).copied().unwrap_or(""),
        );
        if x != y {
            rows += 1;
            let (xc, yc): (Vec<char>, Vec<char>) = (x.chars().collect(), y.chars().collect());
            cells += (0..xc.len().max(yc.len()))
                .filter(|&j| xc.get(j) != yc.get(j))
                .count();
            shown += &format!("  row {i}\n    owner: {x:?}\n    comp:  {y:?}\n");
        }
    }
    format!("{rows} rows / ~{cells} characters differ\n{shown}")
}

/// One program, driven through the owner's pane.
struct Case {
    name: &'static str,
    needs: &'static [&'static str],
    /// Keys (tmux send-keys words) typed before the companion joins.
    before: &'static [&'static [&'static str]],
    /// Keys typed after.
    after: &'static [&'static [&'static str]],
    /// Keys that end the program, typed at the end.
    end: &'static [&'static [&'static str]],
}

fn scripts(dir: &Path) {
    let w = |name: &str, body: &str| std::fs::write(dir.join(name), body).unwrap();
    // apt's dpkg progress bar, as apt-pkg/install-progress.cc writes it:
    // the scroll region is all rows but the last; the bar is drawn on the
    // last row with HVP between DECSC/DECRC.
    w(
        "apt.sh",
        r#"rows=$(tput lines)
printf '\n\0337\033[0;%dr\0338\033[1A' $((rows - 1))
bar() { printf '\0337\033[%d;0f\033[42m\033[30mProgress: [%3d%%]\033[49m\033[39m [####......] \0338' "$rows" "$1"; }
for i in $(seq 1 45); do echo "Setting up package-$i (1.0-$i) ..."; bar $((i * 100 / 90)); done
read x
for i in $(seq 46 90); do echo "Setting up package-$i (1.0-$i) ..."; bar $((i * 100 / 90)); done
printf '\0337\033[0;%dr\0338\033[%d;0f\033[K' "$rows" "$rows"
echo apt-done
"#,
    );
    // Character repeat, autowrap off (and on again), a pending wrap.
    w(
        "modes.sh",
        r#"printf 'rep:x\033[20b|\n'
printf '\033[?7l'
printf 'nowrap-%0150d-END\n' 0
read x
printf 'still-nowrap-%0150d-END\n' 0
printf '\033[?7h'
printf 'wrap-%0150d-END\n' 0
printf '%0100d' 0
read x
echo after-pending
"#,
    );
    // A flood far beyond the screen model's budget while a status row,
    // the alternate screen and a scroll region were set once, before it.
    w(
        "flood.sh",
        r#"rows=$(tput lines)
printf '\033[?1049h\033[%d;1H\033[7mSTATUS ROW drawn once\033[0m\033[1;%dr\033[1;1H' "$rows" $((rows - 1))
seq 1 400000
read x
seq 1 5
read x
printf '\033[r\033[?1049l'
"#,
    );
    let mut text = String::new();
    for i in 0..2000 {
        text += &format!("line {i:05} of the less and vim file \x1b\n");
    }
    std::fs::write(dir.join("big.txt"), text.replace('\x1b', "")).unwrap();
}

const CASES: &[Case] = &[
    Case {
        name: "less over ls (alternate screen keeps the primary)",
        needs: &["less"],
        before: &[
            &["ls -la /usr/bin | head -40", "Enter"],
            &["less big.txt", "Enter"],
        ],
        after: &[&["q"], &["echo after-less", "Enter"]],
        end: &[],
    },
    Case {
        name: "apt progress bar (DECSTBM + HVP)",
        needs: &["tput"],
        before: &[&["sh apt.sh", "Enter"]],
        after: &[&["Enter"]],
        end: &[],
    },
    Case {
        name: "dialog (DEC special graphics)",
        needs: &["dialog"],
        before: &[&[
            "LANG=C dialog --title Fidelity --yesno 'Go on with the test?' 12 50",
            "Enter",
        ]],
        after: &[&["Right"], &["Left"]],
        end: &[&["Escape"]],
    },
    Case {
        name: "REP, autowrap off, pending wrap",
        needs: &[],
        before: &[&["sh modes.sh", "Enter"]],
        after: &[&["Enter"]],
        end: &[&["Enter"]],
    },
    Case {
        name: "pending wrap at the join",
        needs: &[],
        before: &[&["sh modes.sh", "Enter"], &["Enter"]],
        after: &[&["ab", "Enter"]],
        end: &[],
    },
    Case {
        name: "vim",
        needs: &["vim"],
        before: &[&["vim -u NONE -N -i NONE big.txt", "Enter"], &["50Gzz"]],
        after: &[&["jjddx"], &["Gkk"]],
        end: &[&["Escape", ":q!", "Enter"]],
    },
    Case {
        name: "htop",
        needs: &["htop"],
        before: &[&["htop -d 600", "Enter"]],
        after: &[&["Down", "Down"]],
        end: &[&["q"]],
    },
    Case {
        name: "nested tmux",
        needs: &["tmux"],
        before: &[
            &["tmux -L $INNER -f /dev/null new-session", "Enter"],
            &["echo inner-$((6*7))", "Enter"],
        ],
        after: &[&["seq 1 50", "Enter"]],
        end: &[&["exit", "Enter"]],
    },
    Case {
        name: "flood beyond the parse budget (state set before it)",
        needs: &["tput", "seq"],
        before: &[&["sh flood.sh", "Enter"]],
        after: &[&["Enter"]],
        end: &[&["Enter"]],
    },
];

#[test]
fn companion_screen_equals_the_owners_at_late_join_and_live() {
    if !have("tmux") {
        eprintln!("SKIP fidelity: tmux is not installed (.ci/install.d/15-screen.sh installs it)");
        return;
    }
    let w = World::new();
    let dir = w.dir.path().to_path_buf();
    scripts(&dir);
    let inner = format!("dd-fid-inner-{}", std::process::id());
    let env = vec![
        (
            "DD_CLIENT_HOME".into(),
            w.owner_home().display().to_string(),
        ),
        (
            "DD_COMPANION_HOME".into(),
            w.companion_home().display().to_string(),
        ),
        ("INNER".into(), inner.clone()),
    ];
    let tmux = Tmux::new(&dir, env);
    // The inner tmux of the nested case runs in the session, outside our
    // server: killed at the end whatever happens.
    struct InnerGuard(String);
    impl Drop for InnerGuard {
        fn drop(&mut self) {
            let _ = Command::new("tmux")
                .args(["-L", &self.0, "kill-server"])
                .output();
        }
    }
    let _inner = InnerGuard(inner);
    // A session that outlives the cases, so the server stays up between them.
    tmux.pane("keep", "sleep 3600");

    let mut failures = Vec::new();
    for (n, case) in CASES.iter().enumerate() {
        if let Some(missing) = case.needs.iter().find(|p| !have(p)) {
            eprintln!(
                "SKIP fidelity case {:?}: {missing} is not installed",
                case.name
            );
            continue;
        }
        let own = format!("own{n}");
        let comp = format!("comp{n}");
        let name = format!("fid{n}");
        // The owner's terminal: creates the session at the pane's size and
        // shows every byte from its start.
        tmux.pane(
            &own,
            &format!(
                "cd {dir} && exec {client} session new --name {name} -- env PS1='$ ' HISTFILE=/dev/null INNER=$INNER bash --norc --noprofile 2>/dev/null",
                dir = dir.display(),
                client = client_bin().display(),
            ),
        );
        let sid = wait_session(&w, &name);
        tmux.settled(&own);
        for keys in case.before {
            tmux.keys(&own, keys);
            tmux.settled(&own);
        }
        w.join(&sid, &[]);
        tmux.pane(
            &comp,
            &format!(
                "exec {} attach {sid} 2>/dev/null",
                companion_bin().display()
            ),
        );
        for stage in ["late join", "live"] {
            if stage == "live" {
                for keys in case.after {
                    tmux.keys(&own, keys);
                    tmux.settled(&own);
                }
            }
            // Both panes settle; a view still moving (a clock) gets a few
            // more tries.
            let mut result = Err(String::new());
            for _ in 0..5 {
                let (a, b) = (tmux.settled(&own), tmux.settled(&comp));
                if a == b {
                    result = Ok(());
                    break;
                }
                result = Err(diff(&a, &b));
            }
            match result {
                Ok(()) => eprintln!("fidelity {:?} at {stage}: identical", case.name),
                Err(d) => {
                    eprintln!("fidelity {:?} at {stage}: DIFFERENT\n{d}", case.name);
                    failures.push(format!(
                        "{} at {stage}: {}",
                        case.name,
                        d.lines().next().unwrap_or("")
                    ));
                }
            }
        }
        for keys in case.end {
            tmux.keys(&own, keys);
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = w.owner().args(["session", "close", &sid]).output();
        tmux.cmd(&["kill-session", "-t", &comp]);
        tmux.cmd(&["kill-session", "-t", &own]);
    }
    assert!(
        failures.is_empty(),
        "cases that differ:\n{}",
        failures.join("\n")
    );
}

/// The id of the session named `name` (once the owner's pane created it).
fn wait_session(w: &World, name: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = w
            .owner()
            .args(["session", "list", "--json"])
            .output()
            .unwrap();
        if out.status.success() {
            let v = json(&String::from_utf8_lossy(&out.stdout));
            let list = v.get("sessions").cloned().unwrap_or(v);
            if let Some(s) = list
                .as_array()
                .into_iter()
                .flatten()
                .find(|s| s["name"] == name && s["status"] == "running")
            {
                return s["id"].as_str().unwrap().to_owned();
            }
        }
        assert!(Instant::now() < deadline, "session {name} never appeared");
        std::thread::sleep(Duration::from_millis(100));
    }
}
