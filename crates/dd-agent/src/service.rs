//! `dd-agent service install | uninstall | status | print`: keep the agent
//! running across logins and reboots under the user's service manager.
//!
//! On Linux that is a systemd **user** unit
//! (`$XDG_CONFIG_HOME/systemd/user/dd-agent.service`); on macOS a launchd
//! agent (`~/Library/LaunchAgents/dev.dd.agent.plist`). Both run
//! `dd-agent serve` with the state dir and listen address given at install
//! time, restart it when it fails, and stop only the gateway process
//! (`KillMode=process`, launchd's `AbandonProcessGroup`): the session host
//! the gateway started keeps every session running, and the next gateway
//! adopts them, so restarting or upgrading the service never ends a
//! session.
//!
//! `install` writes the file and, when the user's manager answers, enables
//! and starts it; otherwise it prints exactly what to run. This module is
//! part of the binary only (main.rs calls [`run`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

/// The systemd unit's name.
pub const UNIT_NAME: &str = "dd-agent.service";
/// The launchd job's label.
pub const LAUNCHD_LABEL: &str = "dev.dd.agent";

/// `dd-agent service ...`
#[derive(Debug, Subcommand)]
pub enum ServiceCmd {
    /// Write the service (systemd user unit, or launchd agent on macOS)
    /// running `dd-agent serve` with these flags, then enable and start it
    /// when the user's service manager answers (otherwise print what to
    /// run). Running it again replaces the file and restarts the gateway,
    /// which never ends a session.
    Install(InstallArgs),
    /// Stop and disable the service and remove its file. Sessions keep
    /// running in the session host until they end (`dd-agent
    /// stop-sessions` ends them).
    Uninstall,
    /// Whether the service is installed, enabled and running, what it
    /// runs, and whether the agent answers.
    Status {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print the service file `install` would write, without writing it.
    Print {
        /// The service flavour (default: this OS's).
        #[arg(long, value_enum)]
        platform: Option<Platform>,
        #[command(flatten)]
        args: InstallArgs,
    },
}

/// What the service runs.
#[derive(Debug, Clone, Args)]
pub struct InstallArgs {
    /// Address the agent listens on. The default lets a phone on the LAN
    /// in, as `dd-client up` does; 127.0.0.1:7777 keeps it to this machine.
    #[arg(long, default_value = "0.0.0.0:7777")]
    pub listen: SocketAddr,
    /// State directory (agent key, database, transcripts).
    #[arg(long, env = "DD_AGENT_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// The URL phones use to reach this agent (passed to `serve`).
    #[arg(long)]
    pub public_url: Option<String>,
    /// Only write the file; print the commands that enable and start it.
    #[arg(long)]
    pub no_enable: bool,
}

/// A service manager flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Platform {
    /// A systemd user unit (Linux).
    Systemd,
    /// A launchd agent (macOS).
    Launchd,
}

impl Platform {
    fn here() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::Launchd
        } else {
            Platform::Systemd
        }
    }

    fn name(self) -> &'static str {
        match self {
            Platform::Systemd => "systemd",
            Platform::Launchd => "launchd",
        }
    }
}

/// Everything a service file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The `dd-agent` executable (absolute).
    pub exe: PathBuf,
    /// The state dir (absolute).
    pub state_dir: PathBuf,
    /// The listen address.
    pub listen: SocketAddr,
    /// `--public-url`, if any.
    pub public_url: Option<String>,
}

impl Spec {
    /// The `serve` command line, program first.
    pub fn argv(&self) -> Vec<String> {
        let mut v = vec![
            self.exe.to_string_lossy().into_owned(),
            "serve".into(),
            "--listen".into(),
            self.listen.to_string(),
            "--state-dir".into(),
            self.state_dir.to_string_lossy().into_owned(),
        ];
        if let Some(u) = &self.public_url {
            v.push("--public-url".into());
            v.push(u.clone());
        }
        v
    }
}

/// One `ExecStart=` word: plain when safe, else double-quoted with `\` and
/// `"` escaped; `%` (specifiers) doubled, `$` (variables) doubled.
pub fn systemd_word(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:=+,@[]".contains(c));
    let body = s.replace('%', "%%").replace('$', "$$");
    if safe {
        return body;
    }
    let mut out = String::from("\"");
    for c in body.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Splits an `ExecStart=` value written by [`systemd_word`] back into words.
pub fn systemd_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return words;
        };
        let mut w = String::new();
        if first == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some('n') => w.push('\n'),
                        Some(c) => w.push(c),
                        None => {}
                    },
                    c => w.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                w.push(c);
                chars.next();
            }
        }
        words.push(w.replace("%%", "%").replace("$$", "$"));
    }
}

/// The systemd user unit.
pub fn systemd_unit(spec: &Spec) -> String {
    let exec: Vec<String> = spec.argv().iter().map(|w| systemd_word(w)).collect();
    format!(
        "# Written by `dd-agent service install`; `dd-agent service uninstall` removes it.\n\
         [Unit]\n\
         Description=dd agent: terminal sessions for dd-client and paired phones\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={}\n\
         Restart=on-failure\n\
         RestartSec=2s\n\
         # Stopping or restarting signals the gateway only: the session host it\n\
         # started keeps every session running and the next gateway adopts them.\n\
         KillMode=process\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
        exec.join(" ")
    )
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The launchd agent plist.
pub fn launchd_plist(spec: &Spec) -> String {
    let args: String = spec
        .argv()
        .iter()
        .map(|a| format!("    <string>{}</string>\n", xml(a)))
        .collect();
    let log = xml(&spec.state_dir.join("agent.log").to_string_lossy());
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <!-- Written by `dd-agent service install`; `dd-agent service uninstall` removes it. -->\n\
         <plist version=\"1.0\">\n\
         <dict>\n\
         \x20 <key>Label</key>\n\
         \x20 <string>{LAUNCHD_LABEL}</string>\n\
         \x20 <key>ProgramArguments</key>\n\
         \x20 <array>\n\
         {args}\
         \x20 </array>\n\
         \x20 <key>RunAtLoad</key>\n\
         \x20 <true/>\n\
         \x20 <!-- Restart when it fails, not after a clean stop. -->\n\
         \x20 <key>KeepAlive</key>\n\
         \x20 <dict>\n\
         \x20   <key>SuccessfulExit</key>\n\
         \x20   <false/>\n\
         \x20 </dict>\n\
         \x20 <!-- Stopping signals the gateway only: the session host keeps the sessions. -->\n\
         \x20 <key>AbandonProcessGroup</key>\n\
         \x20 <true/>\n\
         \x20 <key>StandardOutPath</key>\n\
         \x20 <string>{log}</string>\n\
         \x20 <key>StandardErrorPath</key>\n\
         \x20 <string>{log}</string>\n\
         </dict>\n\
         </plist>\n"
    )
}

fn home() -> Result<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .context("HOME is not set")
}

/// Where the service file goes.
fn unit_path(platform: Platform) -> Result<PathBuf> {
    Ok(match platform {
        Platform::Systemd => {
            let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
                Some(x) => PathBuf::from(x),
                None => home()?.join(".config"),
            };
            base.join("systemd/user").join(UNIT_NAME)
        }
        Platform::Launchd => home()?
            .join("Library/LaunchAgents")
            .join(format!("{LAUNCHD_LABEL}.plist")),
    })
}

fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_owned())
    } else {
        Ok(std::env::current_dir()?.join(p))
    }
}

fn spec_of(args: &InstallArgs, default_state: PathBuf) -> Result<Spec> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let exe = exe.canonicalize().unwrap_or(exe);
    Ok(Spec {
        exe,
        state_dir: absolute(args.state_dir.as_deref().unwrap_or(&default_state))?,
        listen: args.listen,
        public_url: args.public_url.clone(),
    })
}

/// Runs a command quietly; `Some(stdout)` when it exits 0.
fn quiet(prog: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Runs a command, failing with its stderr.
fn loud(prog: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {prog}"))?;
    if !out.status.success() {
        bail!(
            "`{prog} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Whether the user's service manager answers.
fn manager_reachable(platform: Platform) -> bool {
    match platform {
        Platform::Systemd => quiet("systemctl", &["--user", "show-environment"]).is_some(),
        Platform::Launchd => quiet("launchctl", &["print", &launchd_domain()]).is_some(),
    }
}

fn launchd_domain() -> String {
    format!("gui/{}", rustix::process::getuid().as_raw())
}

fn user_name() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| rustix::process::getuid().as_raw().to_string())
}

/// Linger state (systemd): `Some(true)` when the user manager runs
/// without a login session.
fn linger() -> Option<bool> {
    quiet(
        "loginctl",
        &["show-user", &user_name(), "--property=Linger", "--value"],
    )
    .map(|v| v == "yes")
}

const LINGER_NOTE: &str = "On a server nobody logs in to, keep the user manager (and this agent) running without a login session and start it at boot:\n  loginctl enable-linger \"$USER\"";

const SESSIONS_NOTE: &str = "Restarting or stopping the service stops only the gateway: sessions keep running in the session host and the next gateway adopts them (`dd-agent stop-sessions` ends them).";

fn install(args: InstallArgs, default_state: PathBuf) -> Result<()> {
    let platform = Platform::here();
    let spec = spec_of(&args, default_state)?;
    let path = unit_path(platform)?;
    let text = match platform {
        Platform::Systemd => systemd_unit(&spec),
        Platform::Launchd => launchd_plist(&spec),
    };
    let old = std::fs::read_to_string(&path).ok();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, &text).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("write {}", path.display()))?;
    let changed = old.as_deref() != Some(text.as_str());
    println!(
        "{} {} (dd-agent serve --listen {} --state-dir {})",
        if old.is_none() {
            "wrote"
        } else if changed {
            "updated"
        } else {
            "unchanged:"
        },
        path.display(),
        spec.listen,
        spec.state_dir.display()
    );
    let steps: Vec<Vec<String>> = match platform {
        Platform::Systemd => {
            let mut s = vec![
                vec!["systemctl", "--user", "daemon-reload"],
                vec!["systemctl", "--user", "enable", "--now", UNIT_NAME],
            ];
            if changed && old.is_some() {
                s.push(vec!["systemctl", "--user", "restart", UNIT_NAME]);
            }
            s.into_iter()
                .map(|v| v.into_iter().map(String::from).collect())
                .collect()
        }
        Platform::Launchd => {
            let domain = launchd_domain();
            let mut s = Vec::new();
            if old.is_some() {
                s.push(vec![
                    "launchctl".into(),
                    "bootout".into(),
                    format!("{domain}/{LAUNCHD_LABEL}"),
                ]);
            }
            s.push(vec![
                "launchctl".into(),
                "bootstrap".into(),
                domain,
                path.to_string_lossy().into_owned(),
            ]);
            s
        }
    };
    if !args.no_enable && manager_reachable(platform) {
        for (i, step) in steps.iter().enumerate() {
            let words: Vec<&str> = step[1..].iter().map(String::as_str).collect();
            let r = loud(&step[0], &words);
            // bootout of a job that is not loaded fails; that is fine.
            if platform == Platform::Launchd && i == 0 && steps.len() > 1 {
                continue;
            }
            r?;
        }
        println!("enabled and started {}", service_name(platform));
    } else {
        if !args.no_enable {
            println!(
                "the user's service manager ({}) does not answer here (no user session?)",
                platform.name()
            );
        }
        println!("to enable and start it, run:");
        for step in &steps {
            println!("  {}", step.join(" "));
        }
    }
    println!("{SESSIONS_NOTE}");
    if platform == Platform::Systemd && linger() != Some(true) {
        println!("{LINGER_NOTE}");
    }
    Ok(())
}

fn service_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Systemd => UNIT_NAME,
        Platform::Launchd => LAUNCHD_LABEL,
    }
}

fn uninstall() -> Result<()> {
    let platform = Platform::here();
    let path = unit_path(platform)?;
    if !path.exists() {
        println!("not installed ({} does not exist)", path.display());
        return Ok(());
    }
    let reachable = manager_reachable(platform);
    let mut manual = Vec::new();
    match platform {
        Platform::Systemd => {
            if reachable {
                loud("systemctl", &["--user", "disable", "--now", UNIT_NAME])?;
            } else {
                manual.push(format!("systemctl --user disable --now {UNIT_NAME}"));
            }
        }
        Platform::Launchd => {
            let target = format!("{}/{LAUNCHD_LABEL}", launchd_domain());
            if reachable {
                let _ = loud("launchctl", &["bootout", &target]);
            } else {
                manual.push(format!("launchctl bootout {target}"));
            }
        }
    }
    std::fs::remove_file(&path).with_context(|| format!("remove {}", path.display()))?;
    if platform == Platform::Systemd {
        if reachable {
            loud("systemctl", &["--user", "daemon-reload"])?;
        } else {
            manual.push("systemctl --user daemon-reload".into());
        }
    }
    println!("removed {}", path.display());
    if !manual.is_empty() {
        println!("the user's service manager does not answer here; if it runs elsewhere, run:");
        for m in manual {
            println!("  {m}");
        }
    }
    println!("Sessions keep running in the session host until they end; `dd-agent stop-sessions --state-dir DIR` ends them.");
    Ok(())
}

/// What an installed service file runs, read back from it.
fn read_spec(platform: Platform, text: &str) -> Option<Spec> {
    let argv: Vec<String> = match platform {
        Platform::Systemd => {
            let line = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("ExecStart="))?;
            systemd_words(line)
        }
        Platform::Launchd => {
            let arr = text.split("<array>").nth(1)?.split("</array>").next()?;
            arr.split("<string>")
                .skip(1)
                .filter_map(|s| s.split("</string>").next())
                .map(|s| {
                    s.replace("&lt;", "<")
                        .replace("&gt;", ">")
                        .replace("&quot;", "\"")
                        .replace("&amp;", "&")
                })
                .collect()
        }
    };
    let after = |flag: &str| {
        argv.iter()
            .position(|a| a == flag)
            .and_then(|i| argv.get(i + 1))
            .cloned()
    };
    Some(Spec {
        exe: PathBuf::from(argv.first()?),
        state_dir: PathBuf::from(after("--state-dir")?),
        listen: after("--listen")?.parse().ok()?,
        public_url: after("--public-url"),
    })
}

/// `GET /health` on `addr` with std (no runtime): the agent's version when
/// it answers as a dd agent.
fn health(addr: SocketAddr) -> Result<dd_proto::methods::Health> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        s,
        "GET {} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n",
        dd_proto::HEALTH_PATH
    )?;
    let mut buf = Vec::new();
    s.take(64 * 1024).read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let (head, body) = text.split_once("\r\n\r\n").context("not HTTP")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        bail!("{}", head.lines().next().unwrap_or_default());
    }
    Ok(serde_json::from_str(body.trim())?)
}

fn connectable(mut a: SocketAddr) -> SocketAddr {
    if a.ip().is_unspecified() {
        a.set_ip(if a.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    a
}

fn status(json_out: bool) -> Result<()> {
    let platform = Platform::here();
    let path = unit_path(platform)?;
    let text = std::fs::read_to_string(&path).ok();
    let spec = text.as_deref().and_then(|t| read_spec(platform, t));
    let reachable = manager_reachable(platform);
    let (enabled, active) = match (platform, reachable) {
        (Platform::Systemd, true) => (
            Some(systemctl_value(&["is-enabled", UNIT_NAME]).unwrap_or_else(|| "unknown".into())),
            Some(systemctl_value(&["is-active", UNIT_NAME]).unwrap_or_else(|| "unknown".into())),
        ),
        (Platform::Launchd, true) => {
            let loaded = quiet(
                "launchctl",
                &["print", &format!("{}/{LAUNCHD_LABEL}", launchd_domain())],
            );
            (
                Some(
                    if loaded.is_some() {
                        "loaded"
                    } else {
                        "not-loaded"
                    }
                    .into(),
                ),
                loaded.map(|t| {
                    if t.contains("state = running") {
                        "active".to_owned()
                    } else {
                        "inactive".to_owned()
                    }
                }),
            )
        }
        _ => (None, None),
    };
    let probe = spec.as_ref().map(|s| {
        let addr = connectable(s.listen);
        (addr, health(addr))
    });
    let linger = (platform == Platform::Systemd).then(linger).flatten();
    if json_out {
        let agent = probe.as_ref().map(|(addr, h)| match h {
            Ok(h) => json!({"address": addr.to_string(), "answers": true,
                "version": h.agent_version, "agent_key": h.agent_key}),
            Err(e) => json!({"address": addr.to_string(), "answers": false,
                "error": e.to_string()}),
        });
        println!(
            "{}",
            json!({
                "platform": platform.name(),
                "unit_path": path,
                "installed": text.is_some(),
                "exec": spec.as_ref().map(|s| s.exe.clone()),
                "listen": spec.as_ref().map(|s| s.listen.to_string()),
                "state_dir": spec.as_ref().map(|s| s.state_dir.clone()),
                "public_url": spec.as_ref().and_then(|s| s.public_url.clone()),
                "manager_reachable": reachable,
                "enabled": enabled,
                "active": active,
                "linger": linger,
                "agent": agent,
            })
        );
        return Ok(());
    }
    match &spec {
        None if text.is_some() => println!(
            "{}: installed, but its command line is not one this tool wrote",
            path.display()
        ),
        None => {
            println!(
                "not installed ({} does not exist); `dd-agent service install` writes it",
                path.display()
            );
            return Ok(());
        }
        Some(s) => println!(
            "installed: {}\n  runs: {} serve --listen {} --state-dir {}",
            path.display(),
            s.exe.display(),
            s.listen,
            s.state_dir.display()
        ),
    }
    match (&enabled, &active) {
        (Some(e), Some(a)) => println!("  enabled: {e}; active: {a}"),
        _ => println!(
            "  the user's service manager ({}) does not answer here",
            platform.name()
        ),
    }
    if let Some((addr, h)) = &probe {
        match h {
            Ok(h) => println!("  agent answers on {addr} (version {})", h.agent_version),
            Err(e) => println!("  no agent answers on {addr}: {e}"),
        }
    }
    if linger == Some(false) {
        println!("  linger is off: {LINGER_NOTE}");
    }
    Ok(())
}

fn systemctl_value(args: &[&str]) -> Option<String> {
    // is-enabled / is-active print the state and exit non-zero for most
    // states; the printed word is what matters.
    let out = Command::new("systemctl")
        .arg("--user")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!s.is_empty()).then_some(s)
}

/// Runs `dd-agent service ...`; `default_state` is `serve`'s default.
pub fn run(cmd: ServiceCmd, default_state: PathBuf) -> Result<()> {
    match cmd {
        ServiceCmd::Install(a) => install(a, default_state),
        ServiceCmd::Uninstall => uninstall(),
        ServiceCmd::Status { json } => status(json),
        ServiceCmd::Print { platform, args } => {
            let spec = spec_of(&args, default_state)?;
            match platform.unwrap_or_else(Platform::here) {
                Platform::Systemd => print!("{}", systemd_unit(&spec)),
                Platform::Launchd => print!("{}", launchd_plist(&spec)),
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(state: &str) -> Spec {
        Spec {
            exe: "/opt/dd/bin/dd-agent".into(),
            state_dir: state.into(),
            listen: "0.0.0.0:7777".parse().unwrap(),
            public_url: None,
        }
    }

    #[test]
    fn systemd_unit_runs_serve_restarts_and_keeps_sessions() {
        let u = systemd_unit(&spec("/home/ana/.local/state/dd/agent"));
        assert!(u.contains(
            "\nExecStart=/opt/dd/bin/dd-agent serve --listen 0.0.0.0:7777 --state-dir /home/ana/.local/state/dd/agent\n"
        ), "{u}");
        assert!(u.contains("\nRestart=on-failure\n"));
        assert!(u.contains("\nKillMode=process\n"));
        assert!(u.contains("\nWantedBy=default.target\n"));
        assert_eq!(
            read_spec(Platform::Systemd, &u),
            Some(spec("/home/ana/.local/state/dd/agent"))
        );
    }

    #[test]
    fn awkward_paths_are_quoted_and_read_back() {
        for odd in [
            "/tmp/a b",
            "/tmp/100%",
            "/tmp/$HOME",
            "/tmp/q\"uote",
            "/tmp/back\\slash",
        ] {
            let w = systemd_word(odd);
            assert!(!w.contains("$H") || w.contains("$$"), "{w}");
            assert_eq!(systemd_words(&w), vec![odd.to_owned()], "{odd} -> {w}");
            let s = spec(odd);
            assert_eq!(
                read_spec(Platform::Systemd, &systemd_unit(&s)),
                Some(s.clone())
            );
            assert_eq!(read_spec(Platform::Launchd, &launchd_plist(&s)), Some(s));
        }
        assert_eq!(systemd_word("/plain/path"), "/plain/path");
        assert_eq!(systemd_word("/tmp/100%"), "\"/tmp/100%%\"");
    }

    #[test]
    fn launchd_plist_is_a_keepalive_agent_that_abandons_the_host() {
        let mut s = spec("/Users/ana/Library/dd <agent>");
        s.public_url = Some("https://dd.example.com/?a=1&b=2".into());
        let p = launchd_plist(&s);
        assert!(p.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE plist"));
        assert!(
            p.contains("<key>Label</key>\n  <string>dev.dd.agent</string>"),
            "{p}"
        );
        assert!(p.contains("<string>/opt/dd/bin/dd-agent</string>\n    <string>serve</string>"));
        assert!(
            p.contains("<string>/Users/ana/Library/dd &lt;agent&gt;</string>"),
            "{p}"
        );
        assert!(p.contains("<string>https://dd.example.com/?a=1&amp;b=2</string>"));
        assert!(p.contains("<key>SuccessfulExit</key>\n    <false/>"));
        assert!(p.contains("<key>AbandonProcessGroup</key>\n  <true/>"));
        assert!(p.contains("<key>RunAtLoad</key>\n  <true/>"));
        assert!(p.trim_end().ends_with("</plist>"));
        // Balanced tags.
        for t in ["dict", "array", "plist"] {
            assert_eq!(
                p.matches(&format!("<{t}")).count(),
                p.matches(&format!("</{t}>")).count(),
                "{t}"
            );
        }
        assert_eq!(read_spec(Platform::Launchd, &p), Some(s));
    }

    #[test]
    fn foreign_units_are_not_misread() {
        assert_eq!(
            read_spec(Platform::Systemd, "[Service]\nExecStart=/bin/true\n"),
            None
        );
        assert_eq!(read_spec(Platform::Systemd, ""), None);
        assert_eq!(read_spec(Platform::Launchd, "<plist></plist>"), None);
    }
}
