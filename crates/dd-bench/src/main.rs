//! `dd-bench`: dd against OpenSSH on this machine. Run it through
//! `scripts/bench.sh`, which starts a throwaway `sshd` and passes its port
//! and key; `dd-bench` starts its own agents (a fresh one per measure).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod agent;
mod echo;
mod fanout;
mod pairing;
mod report;
mod stats;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};

use agent::{create_session, Agent};
use dd_testkit::term::Term;
use report::{Machine, Results};

/// The shell prompt every benchmarked shell uses.
pub const PROMPT: &str = "bench$ ";

#[derive(Parser)]
#[command(name = "dd-bench", about = "dd's benchmark suite against OpenSSH")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the suite and write the report.
    Run(RunArgs),
    /// Print stamped 100-byte lines at RATE bytes/s for SECS after Enter
    /// (the fan-out session's program).
    Gen {
        /// Bytes per second.
        #[arg(long)]
        rate: u64,
        /// Seconds.
        #[arg(long)]
        secs: f64,
    },
    /// Print a free TCP port on 127.0.0.1.
    FreePort,
}

#[derive(Args)]
struct RunArgs {
    /// Fewer samples, smaller files, no 1 GiB late join.
    #[arg(long)]
    quick: bool,
    /// Directory holding dd-agent, dd-client, dd-companion (default: this
    /// binary's directory).
    #[arg(long)]
    bins: Option<PathBuf>,
    /// Port of the throwaway sshd (ssh figures are skipped without it).
    #[arg(long)]
    ssh_port: Option<u16>,
    /// Private key for it.
    #[arg(long)]
    ssh_key: Option<PathBuf>,
    /// User to log in as.
    #[arg(long, default_value = "root")]
    ssh_user: String,
    /// Which measures: echo,fanout,pairing,latejoin,rest.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "echo,fanout,pairing,latejoin,rest"
    )]
    only: Vec<String>,
    /// Markdown report to update (the generated part between markers).
    #[arg(long, default_value = "docs/benchmarks.md")]
    md: PathBuf,
    /// JSON results.
    #[arg(long, default_value = "docs/benchmarks.json")]
    json: PathBuf,
    /// The command line to quote in the report.
    #[arg(long, default_value = "scripts/bench.sh")]
    command: String,
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Gen { rate, secs } => fanout::generate(rate, secs),
        Cmd::FreePort => {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            println!("{}", l.local_addr()?.port());
            Ok(())
        }
        Cmd::Run(a) => run(a),
    }
}

fn sh(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .map(|o| {
            let s = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&s).trim().to_owned()
        })
        .unwrap_or_default()
}

fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_owned();
    let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = mem
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Machine {
        cpu,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        mem_mib: mem_kib / 1024,
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned(),
        openssh: sh("ssh", &["-V"]),
        loadavg: [loadavg(), String::new()],
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// A numeric environment variable, if set and valid.
fn env_num(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}

fn raise_nofile() {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut l = getrlimit(Resource::Nofile);
    if l.current < l.maximum {
        l.current = l.maximum;
        let _ = setrlimit(Resource::Nofile, l);
    }
}

fn run(a: RunArgs) -> Result<()> {
    raise_nofile();
    let exe = std::env::current_exe()?;
    let bins = a
        .bins
        .clone()
        .unwrap_or_else(|| exe.parent().expect("exe dir").to_owned());
    let gen = exe.to_str().context("exe path")?.to_owned();
    let rt = tokio::runtime::Runtime::new()?;
    let want = |m: &str| a.only.iter().any(|o| o == m);
    let q = a.quick;
    let mut r = Results {
        command: a.command.clone(),
        when: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)?,
        quick: q,
        machine: machine(),
        clients: Vec::new(),
        throughput_file_bytes: 0,
        fanout: Vec::new(),
        pairing: None,
        late_join: Vec::new(),
        at_rest: None,
    };
    let tmp = tempfile::tempdir()?;
    if want("echo") {
        let (mut samples, mut size, mut runs) = if q {
            (300, 64 << 20, 1)
        } else {
            (2000, 256 << 20, 3)
        };
        // Profiling knobs (not used by scripts/bench.sh; see also
        // DD_BENCH_REDEEMS below): more or fewer
        // echo samples, another file size, `0` for no throughput runs.
        if let Some(n) = env_num("DD_BENCH_ECHO_SAMPLES") {
            samples = n as usize;
        }
        if let Some(mib) = env_num("DD_BENCH_THROUGHPUT_MIB") {
            size = mib << 20;
            runs = if mib == 0 { 0 } else { runs };
        }
        let file = tmp.path().join("text");
        echo::write_text_file(&file, size)?;
        r.throughput_file_bytes = size;
        let f = file.to_str().context("path")?;
        eprintln!("[1-2] echo latency and throughput");
        let env = [("PS1", PROMPT)];
        let local = Term::spawn("/bin/sh", &[], &env)?;
        r.clients
            .push(echo::measure("local-pty", local, samples, f, runs, None)?);
        if let (Some(port), Some(key)) = (a.ssh_port, &a.ssh_key) {
            let t = ssh_term(port, key, &a.ssh_user)?;
            r.clients
                .push(echo::measure("ssh", t, samples, f, runs, None)?);
        }
        let agent = Agent::start(&bins)?;
        let owner = rt.block_on(agent.owner())?;
        let home = agent.scratch("client");
        agent.enroll_cli(&home)?;
        let sid = rt.block_on(create_session(&owner, &["/bin/sh"]))?;
        let t = Term::spawn(
            bins.join("dd-client").to_str().context("path")?,
            &["session", "attach", &sid],
            &[("DD_CLIENT_HOME", home.to_str().context("path")?)],
        )?;
        r.clients
            .push(echo::measure("dd-client", t, samples, f, runs, None)?);
        // `dd-companion attach` is a live view: its rate is of the bytes
        // the session printed, which the local PTY received in full.
        let live_of = r.clients.first().map(|c| c.throughput_bytes);
        let sid = rt.block_on(create_session(&owner, &["/bin/sh"]))?;
        let link = rt
            .block_on(async { dd_testkit::pair(&owner, &sid, serde_json::json!({})).await })
            .link;
        let chome = agent.scratch("companion");
        agent.join_companion(&chome, &link)?;
        let t = Term::spawn(
            bins.join("dd-companion").to_str().context("path")?,
            &["attach", &sid],
            &[("DD_COMPANION_HOME", chome.to_str().context("path")?)],
        )?;
        r.clients
            .push(echo::measure("dd-companion", t, samples, f, runs, live_of)?);
        let _ = std::fs::remove_file(&file);
    }
    if want("fanout") {
        let (levels, secs): (&[usize], f64) = if q {
            (&[10, 100], 4.0)
        } else {
            (&[10, 100, 1000], 10.0)
        };
        let agent = Agent::start(&bins)?;
        let owner = rt.block_on(agent.owner())?;
        for &n in levels {
            eprintln!("[3] fan-out to {n} companions");
            let l = rt.block_on(fanout::level(&agent, &owner, &gen, n, 1_000_000, secs))?;
            r.fanout.push(l);
        }
    }
    if want("pairing") {
        eprintln!("[4] pairing");
        let agent = Agent::start(&bins)?;
        let owner = rt.block_on(agent.owner())?;
        let (n, mut bulk) = if q { (50, 300) } else { (300, 2000) };
        // Profiling knob: how many concurrent redemptions to time.
        if let Some(b) = env_num("DD_BENCH_REDEEMS") {
            bulk = b as usize;
        }
        r.pairing = Some(rt.block_on(pairing::pairing(&owner, n, bulk))?);
    }
    if want("latejoin") {
        let agent = Agent::start(&bins)?;
        let owner = rt.block_on(agent.owner())?;
        let (sizes, n): (&[u64], usize) = if q {
            (&[1 << 20, 100 << 20], 10)
        } else {
            (&[1 << 20, 100 << 20, 1 << 30], 30)
        };
        for &s in sizes {
            eprintln!("[5] late join at {} MiB of history", s >> 20);
            r.late_join
                .push(rt.block_on(pairing::late_join(&owner, s, n))?);
        }
    }
    if want("rest") {
        eprintln!("[6] cost at rest");
        let agent = Agent::start(&bins)?;
        r.at_rest = Some(rt.block_on(pairing::at_rest(&agent, 100))?);
    }
    r.machine.loadavg[1] = loadavg();
    write_report(&r, &a.md, &a.json)
}

fn ssh_term(port: u16, key: &Path, user: &str) -> Result<Term> {
    let port = port.to_string();
    let key = key.to_str().context("key path")?;
    let dest = format!("{user}@127.0.0.1");
    let remote = format!("env PS1='{PROMPT}' /bin/sh");
    Term::spawn(
        "ssh",
        &[
            "-tt",
            "-p",
            &port,
            "-i",
            key,
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "LogLevel=ERROR",
            &dest,
            &remote,
        ],
        &[],
    )
}

fn write_report(r: &Results, md: &Path, json: &Path) -> Result<()> {
    let doc = std::fs::read_to_string(md).unwrap_or_default();
    let md_text = r.markdown();
    std::fs::write(md, report::splice(&doc, &md_text)).context("write markdown")?;
    std::fs::write(json, serde_json::to_string_pretty(r)? + "\n").context("write json")?;
    println!("{md_text}");
    eprintln!("wrote {} and {}", md.display(), json.display());
    Ok(())
}
