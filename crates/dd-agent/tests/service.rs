//! `dd-agent service`: the unit it writes (checked by systemd's own
//! verifier when installed), install without a reachable user manager,
//! status (as text and JSON) before and while an agent runs, uninstall;
//! and completions and man pages for every shell.

use std::path::Path;
use std::process::{Command, Output};

use dd_testkit::{agent_bin, AgentProc};

/// `dd-agent ARGS` with HOME and XDG dirs inside `home`, and no way to
/// reach a real user manager (an empty runtime dir, no session bus): the
/// test never touches the machine's own services.
fn agent(home: &Path, args: &[&str]) -> Output {
    let rt = home.join("run");
    std::fs::create_dir_all(&rt).unwrap();
    Command::new(agent_bin())
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_RUNTIME_DIR", &rt)
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env_remove("DD_AGENT_STATE_DIR")
        .output()
        .unwrap()
}

fn ok(home: &Path, args: &[&str]) -> String {
    let out = agent(home, args);
    assert!(
        out.status.success(),
        "dd-agent {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn status(home: &Path) -> serde_json::Value {
    serde_json::from_str(ok(home, &["service", "status", "--json"]).trim()).unwrap()
}

#[test]
fn install_status_uninstall_without_a_user_manager() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let state = h.join("state dir");
    let unit = h.join("config/systemd/user/dd-agent.service");

    let st = status(h);
    assert_eq!(st["installed"], false, "{st}");
    assert_eq!(st["platform"], "systemd");
    assert_eq!(st["manager_reachable"], false, "{st}");
    assert!(ok(h, &["service", "status"]).contains("not installed"));

    // Bind a free port for the agent to use later.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let install = |extra: &[&str]| {
        let mut args = vec!["service", "install", "--listen", &listen, "--state-dir"];
        args.push(state.to_str().unwrap());
        args.extend_from_slice(extra);
        ok(h, &args)
    };
    let out = install(&[]);
    // No manager here: it says so and prints exactly what to run.
    assert!(out.contains("does not answer"), "{out}");
    assert!(out.contains("  systemctl --user daemon-reload\n"), "{out}");
    assert!(
        out.contains("  systemctl --user enable --now dd-agent.service\n"),
        "{out}"
    );
    assert!(out.contains("loginctl enable-linger"), "{out}");
    assert!(out.contains("sessions keep running"), "{out}");
    let text = std::fs::read_to_string(&unit).unwrap();
    let exe = agent_bin().canonicalize().unwrap();
    assert!(
        text.contains(&format!(
            "ExecStart={} serve --listen {listen} --state-dir \"{}\"\n",
            exe.display(),
            state.display()
        )),
        "{text}"
    );
    assert!(text.contains("Restart=on-failure\n"));
    assert!(text.contains("KillMode=process\n"));

    let st = status(h);
    assert_eq!(st["installed"], true, "{st}");
    assert_eq!(st["listen"], listen.as_str());
    assert_eq!(st["state_dir"], state.to_str().unwrap());
    assert_eq!(st["exec"], exe.to_str().unwrap());
    assert_eq!(st["enabled"], serde_json::Value::Null);
    assert_eq!(st["agent"]["answers"], false, "{st}");

    // The agent the unit describes runs: status sees it answer.
    let mut a = AgentProc::start_listen_on(&state, &listen, &[]);
    let st = status(h);
    assert_eq!(st["agent"]["answers"], true, "{st}");
    assert_eq!(st["agent"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(st["agent"]["agent_key"], a.key_b64().as_str());
    let text_status = ok(h, &["service", "status"]);
    assert!(text_status.contains("agent answers on"), "{text_status}");
    a.stop();

    // Installing again with the same flags leaves the file as it is.
    let again = install(&["--no-enable"]);
    assert!(again.starts_with("unchanged:"), "{again}");
    assert!(!again.contains("does not answer"), "{again}");

    let out = ok(h, &["service", "uninstall"]);
    assert!(out.contains("removed"), "{out}");
    assert!(out.contains("systemctl --user disable --now dd-agent.service"));
    assert!(!unit.exists());
    assert_eq!(status(h)["installed"], false);
    assert!(ok(h, &["service", "uninstall"]).contains("not installed"));
}

#[test]
fn bad_install_flags_are_refused() {
    let home = tempfile::tempdir().unwrap();
    let out = agent(home.path(), &["service", "install", "--listen", "nowhere"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen"));
    assert!(!home.path().join("config/systemd").exists());
}

#[test]
fn systemd_verifies_the_unit() {
    let Ok(v) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!(
            "SKIP: systemd-analyze is not installed (.ci/install.d/18-systemd.sh installs it)"
        );
        return;
    };
    assert!(v.status.success());
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let unit_text = ok(
        h,
        &[
            "service",
            "print",
            "--platform",
            "systemd",
            "--listen",
            "0.0.0.0:7777",
            "--state-dir",
            h.join("st 100%").to_str().unwrap(),
        ],
    );
    let path = h.join("dd-agent.service");
    let rt = h.join("run");
    std::fs::create_dir_all(&rt).unwrap();
    let verify = |text: &str| {
        std::fs::write(&path, text).unwrap();
        Command::new("systemd-analyze")
            .args(["--user", "verify"])
            .arg(&path)
            .env("XDG_RUNTIME_DIR", &rt)
            .output()
            .unwrap()
    };
    let out = verify(&unit_text);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}\n{unit_text}");
    // Warnings (unknown keys, bad values) come without a failing status.
    assert!(
        err.trim().is_empty(),
        "systemd-analyze complained: {err}\n{unit_text}"
    );

    // And the verifier does catch a broken unit, so the pass means something.
    let out = verify(&unit_text.replace("Restart=on-failure", "Restart=sometimes"));
    assert!(
        !String::from_utf8_lossy(&out.stderr).trim().is_empty(),
        "the verifier accepted Restart=sometimes"
    );
}

#[test]
fn completions_and_man_pages() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let s = ok(h, &["completions", shell]);
        assert!(s.len() > 500, "{shell}: {s}");
        assert!(s.contains("enroll-link"), "{shell}");
        assert!(s.contains("state-dir"), "{shell}");
    }
    let out = agent(h, &["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    let page = ok(h, &["man"]);
    assert!(
        page.starts_with(".ie") || page.contains(".TH dd-agent"),
        "{page}"
    );
    assert!(page.contains("service"));
    let dir = h.join("man1");
    ok(h, &["man", "--dir", dir.to_str().unwrap()]);
    for p in [
        "dd-agent.1",
        "dd-agent-serve.1",
        "dd-agent-service.1",
        "dd-agent-service-install.1",
    ] {
        let t = std::fs::read_to_string(dir.join(p)).unwrap();
        assert!(t.contains(".TH"), "{p}");
    }
    let serve = std::fs::read_to_string(dir.join("dd-agent-serve.1")).unwrap();
    assert!(serve.contains("listen"), "{serve}");
}
