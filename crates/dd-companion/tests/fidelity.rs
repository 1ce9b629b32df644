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

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{client_bin, companion_bin, json, World};
use dd_testkit::tmux::{captured, Tmux};

const ROWS: u16 = 30;
const COLS: u16 = 100;

/// The suite's tmux server: a config that keeps panes as they are.
fn tmux_server(dir: &Path, env: Vec<(String, String)>) -> Tmux {
    let conf = dir.join("tmux.conf");
    std::fs::write(
        &conf,
        "set -g status off\nset -sg escape-time 0\nset -g default-terminal tmux-256color\n\
         set -g remain-on-exit on\nset -g history-limit 0\nset -g aggressive-resize off\n",
    )
    .unwrap();
    let sock = format!("dd-fid-{}-{}", std::process::id(), rand_suffix());
    Tmux::new(sock, Some(conf), env)
}

/// What the suite asks of a pane.
trait Panes {
    fn pane(&self, name: &str, shell_cmd: &str);
    fn pane_sized(&self, name: &str, size: (u16, u16), shell_cmd: &str);
    fn keys(&self, name: &str, keys: &[&str]);
    fn view(&self, name: &str) -> String;
    fn settled(&self, name: &str) -> String;
}

impl Panes for Tmux {
    /// A detached tmux session `name` of ROWS x COLS running `shell_cmd`.
    fn pane(&self, name: &str, shell_cmd: &str) {
        self.pane_sized(name, (ROWS, COLS), shell_cmd)
    }

    /// A detached tmux session `name` of `size` (rows, cols) running
    /// `shell_cmd`.
    fn pane_sized(&self, name: &str, size: (u16, u16), shell_cmd: &str) {
        let (x, y) = (size.1.to_string(), size.0.to_string());
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

/// The screen of a `Tmux::view` (its state line, then `capture-pane -e`)
/// as cells: the capture fed to our emulator at the pane's size.
fn cells_of(view: &str, size: (u16, u16)) -> (String, (u16, u16), dd_term::Term) {
    let (state, capture) = view.split_once('\n').unwrap_or((view, ""));
    let t = captured(capture, size.0, size.1);
    let cursor = state
        .split_whitespace()
        .nth(1)
        .and_then(|xy| xy.split_once(','))
        .map(|(x, y)| (y.parse().unwrap_or(0), x.parse().unwrap_or(0)))
        .unwrap_or((0, 0));
    // What follows the session in the window: cursor visibility, screen,
    // keypad and mouse modes (the drawing modes are the viewer's own).
    let keep = ["visible", "alt", "keypad", "mouse"];
    let mut modes = String::new();
    let words: Vec<&str> = state.split_whitespace().collect();
    for w in words.windows(2) {
        if keep.contains(&w[0]) {
            modes += &format!("{} {} ", w[0], w[1]);
        }
    }
    (modes, cursor, t)
}

/// The companion's pane of another size shows a window of the owner's:
/// at the offset the cursors give, every cell equal (characters, colours,
/// attributes, line drawing), blank outside the owner's screen, and the
/// same input modes.
fn windowed(owner: &str, osize: (u16, u16), comp: &str, csize: (u16, u16)) -> Result<(), String> {
    let (om, oc, o) = cells_of(owner, osize);
    let (cm, cc, c) = cells_of(comp, csize);
    if om != cm {
        return Err(format!("modes differ: owner {om:?}, companion {cm:?}"));
    }
    let (Some(top), Some(left)) = (oc.0.checked_sub(cc.0), oc.1.checked_sub(cc.1)) else {
        return Err(format!("cursor owner {oc:?}, companion {cc:?}: no window"));
    };
    // What a person sees (the companion's window is drawn from our model,
    // which may blank a cell with the default foreground where tmux keeps
    // the colour of a space a program wrote; invisible either way).
    let key = |cell: &dd_term::Cell| -> String { format!("{:?}", cell.looks()) };
    let blank = key(&dd_term::Cell::blank(dd_term::Color::Default));
    let mut bad = Vec::new();
    for r in 0..csize.0 {
        for col in 0..csize.1 {
            let want = o
                .grid()
                .rows
                .get((top + r) as usize)
                .and_then(|row| row.get((left + col) as usize))
                .map(key)
                .unwrap_or_else(|| blank.clone());
            let got = key(&c.grid().rows[r as usize][col as usize]);
            if want != got {
                bad.push(format!("  ({r},{col}) owner {want:?} companion {got:?}"));
            }
        }
    }
    if bad.is_empty() {
        return Ok(());
    }
    let (ol, cl) = (o.lines(), c.lines());
    let rows: Vec<String> = (0..ol.len().max(cl.len()))
        .map(|i| {
            format!(
                "  {i:2} owner {:?}\n     comp  {:?}",
                ol.get(i).map(String::as_str).unwrap_or(""),
                cl.get(i).map(String::as_str).unwrap_or("")
            )
        })
        .collect();
    Err(format!(
        "{} cells differ in the window at ({top},{left}); cursors owner {oc:?} companion {cc:?}\n{}\n{}",
        bad.len(),
        bad.iter().take(20).cloned().collect::<Vec<_>>().join("\n"),
        rows.join("\n")
    ))
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
    /// The companion's terminal (rows, cols), when not the owner's.
    comp: Option<(u16, u16)>,
}

/// In `Case::after`: the owner's terminal is resized to rows x cols.
const RESIZE: &str = "@resize";

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
        comp: None,
    },
    Case {
        name: "apt progress bar (DECSTBM + HVP)",
        needs: &["tput"],
        before: &[&["sh apt.sh", "Enter"]],
        after: &[&["Enter"]],
        end: &[],
        comp: None,
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
        comp: None,
    },
    Case {
        name: "REP, autowrap off, pending wrap",
        needs: &[],
        before: &[&["sh modes.sh", "Enter"]],
        after: &[&["Enter"]],
        end: &[&["Enter"]],
        comp: None,
    },
    Case {
        name: "pending wrap at the join",
        needs: &[],
        before: &[&["sh modes.sh", "Enter"], &["Enter"]],
        after: &[&["ab", "Enter"]],
        end: &[],
        comp: None,
    },
    Case {
        name: "vim",
        needs: &["vim"],
        before: &[&["vim -u NONE -N -i NONE big.txt", "Enter"], &["50Gzz"]],
        after: &[&["jjddx"], &["Gkk"]],
        end: &[&["Escape", ":q!", "Enter"]],
        comp: None,
    },
    Case {
        name: "htop",
        needs: &["htop"],
        before: &[&["htop -d 600", "Enter"]],
        after: &[&["Down", "Down"]],
        end: &[&["q"]],
        comp: None,
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
        comp: None,
    },
    Case {
        name: "flood beyond the parse budget (state set before it)",
        needs: &["tput", "seq"],
        before: &[&["sh flood.sh", "Enter"]],
        after: &[&["Enter"]],
        end: &[&["Enter"]],
        comp: None,
    },
    Case {
        name: "a smaller companion (80x24 on 100x30): less over ls",
        needs: &["less"],
        before: &[
            &["ls -la /usr/bin | head -40", "Enter"],
            &["less big.txt", "Enter"],
        ],
        after: &[&["q"], &["echo after-less-on-a-smaller-terminal", "Enter"]],
        end: &[],
        comp: Some((24, 80)),
    },
    Case {
        name: "a larger companion (40x120 on 30x100): vim",
        needs: &["vim"],
        before: &[&["vim -u NONE -N -i NONE big.txt", "Enter"], &["50Gzz"]],
        after: &[&["jjddx"], &["Gkk"]],
        end: &[&["Escape", ":q!", "Enter"]],
        comp: Some((40, 120)),
    },
    Case {
        name: "the owner resizes while the companion watches: htop",
        needs: &["htop"],
        before: &[&["htop -d 600", "Enter"]],
        after: &[
            &[RESIZE, "26", "90"],
            &["Down"],
            &[RESIZE, "34", "110"],
            &["Down"],
        ],
        end: &[&["q"]],
        comp: None,
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
    let tmux = tmux_server(&dir, env);
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
    // DD_FIDELITY_ONLY=text runs only the cases whose name contains it.
    let only = std::env::var("DD_FIDELITY_ONLY").unwrap_or_default();
    for (n, case) in CASES.iter().enumerate() {
        if !case.name.contains(only.as_str()) {
            continue;
        }
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
                "cd {dir} && exec {client} session new --name {name} --cwd {dir} -- env PS1='$ ' HISTFILE=/dev/null INNER=$INNER bash --norc --noprofile 2>/dev/null",
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
        let comp_size = case.comp.unwrap_or((ROWS, COLS));
        let mut owner_size = (ROWS, COLS);
        tmux.pane_sized(
            &comp,
            comp_size,
            &format!(
                "exec {} attach {sid} 2>/dev/null",
                companion_bin().display()
            ),
        );
        for stage in ["late join", "live"] {
            if stage == "live" {
                for keys in case.after {
                    if keys.first() == Some(&RESIZE) {
                        let (rows, cols) = (keys[1], keys[2]);
                        tmux.ok(&["resize-window", "-t", &own, "-x", cols, "-y", rows]);
                        owner_size = (rows.parse().unwrap(), cols.parse().unwrap());
                    } else {
                        tmux.keys(&own, keys);
                    }
                    tmux.settled(&own);
                }
            }
            // Both panes settle; a view still moving (a clock) gets a few
            // more tries.
            let mut result = Err(String::new());
            for _ in 0..5 {
                let (a, b) = (tmux.settled(&own), tmux.settled(&comp));
                result = if owner_size == comp_size {
                    if a == b {
                        Ok(())
                    } else {
                        Err(diff(&a, &b))
                    }
                } else {
                    windowed(&a, owner_size, &b, comp_size)
                };
                if result.is_ok() {
                    break;
                }
            }
            if std::env::var_os("DD_FIDELITY_SHOW").is_some() {
                eprintln!("--- owner at {stage}:\n{}", tmux.view(&own));
                eprintln!("--- companion at {stage}:\n{}", tmux.view(&comp));
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
