//! Real kernel networking for tests: three network namespaces joined by
//! veth pairs, phone ⇄ router ⇄ agent, so a test can cut the path
//! silently (blackhole routes in the router: no FIN, no RST, no ICMP, both
//! ends' links stay up), heal it, and move the phone to a new address
//! (roaming). Needs root and `ip` (iproute2); [`Lab::new`] says why not
//! otherwise so the test can skip. Dropping the lab deletes its namespaces,
//! and with them every veth, even when the test panicked.
//!
//! Addresses: phone `10.1.1.2/24` (router `10.1.1.1`), agent `10.1.2.2/24`
//! (router `10.1.2.1`). Each lab's namespaces are its own, so labs running
//! at once do not collide.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The agent's address in a lab.
pub const AGENT_IP: &str = "10.1.2.2";

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Three namespaces: `phone`, `router`, `agent`.
pub struct Lab {
    /// The phone's namespace.
    pub phone: String,
    /// The agent's namespace.
    pub agent: String,
    router: String,
    /// The phone's current address.
    phone_ip: String,
    made: Vec<String>,
}

impl Lab {
    /// Builds the lab, or says why it cannot (not root, no `ip`, no netns).
    pub fn new() -> Result<Lab, String> {
        if !rustix::process::geteuid().is_root() {
            return Err("not root".into());
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let id = format!(
            "{}x{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mut lab = Lab {
            phone: format!("ddp{id}"),
            agent: format!("dda{id}"),
            router: format!("ddr{id}"),
            phone_ip: "10.1.1.2".into(),
            made: Vec::new(),
        };
        lab.build(&id)?;
        Ok(lab)
    }

    fn build(&mut self, id: &str) -> Result<(), String> {
        for ns in [self.phone.clone(), self.router.clone(), self.agent.clone()] {
            ip(&["netns", "add", &ns])?;
            self.made.push(ns.clone());
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        // veth names live briefly in the root namespace: make them unique.
        let (p, pr) = (format!("p{id}"), format!("q{id}"));
        let (a, ar) = (format!("a{id}"), format!("b{id}"));
        for (end, peer, ns, side) in [(&p, &pr, &self.phone, "rp"), (&a, &ar, &self.agent, "ra")] {
            ip(&["link", "add", end, "type", "veth", "peer", "name", peer])?;
            ip(&["link", "set", end, "netns", ns])?;
            ip(&["-n", ns, "link", "set", end, "name", "eth0"])?;
            ip(&["link", "set", peer, "netns", &self.router])?;
            ip(&["-n", &self.router, "link", "set", peer, "name", side])?;
        }
        let (ph, ag, r) = (&self.phone, &self.agent, &self.router);
        ip(&["-n", ph, "addr", "add", "10.1.1.2/24", "dev", "eth0"])?;
        ip(&["-n", ag, "addr", "add", "10.1.2.2/24", "dev", "eth0"])?;
        ip(&["-n", r, "addr", "add", "10.1.1.1/24", "dev", "rp"])?;
        ip(&["-n", r, "addr", "add", "10.1.2.1/24", "dev", "ra"])?;
        for (ns, dev) in [(ph, "eth0"), (ag, "eth0"), (r, "rp"), (r, "ra")] {
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        ip(&["-n", ph, "route", "add", "default", "via", "10.1.1.1"])?;
        ip(&["-n", ag, "route", "add", "default", "via", "10.1.2.1"])?;
        let fwd = Command::new("ip")
            .args(["netns", "exec", r, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
            .status()
            .map_err(|e| format!("sysctl: {e}"))?;
        if !fwd.success() {
            return Err("cannot enable forwarding in the router namespace".into());
        }
        Ok(())
    }

    /// A command run inside namespace `ns`.
    pub fn exec(&self, ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).arg(program);
        c
    }

    /// Cuts the path silently: the router discards everything between
    /// the two sides (blackhole routes, more specific than the connected
    /// ones). Nobody gets a FIN, an RST or an ICMP error.
    pub fn cut(&self) {
        for net in [
            "10.1.1.0/25",
            "10.1.1.128/25",
            "10.1.2.0/25",
            "10.1.2.128/25",
        ] {
            ip(&["-n", &self.router, "route", "add", "blackhole", net]).expect("blackhole");
        }
    }

    /// Restores the path [`cut`](Self::cut) broke.
    pub fn heal(&self) {
        for net in [
            "10.1.1.0/25",
            "10.1.1.128/25",
            "10.1.2.0/25",
            "10.1.2.128/25",
        ] {
            ip(&["-n", &self.router, "route", "del", "blackhole", net]).expect("unblackhole");
        }
    }

    /// Moves the phone to `10.1.1.<host>` (its old address is gone, as
    /// when a phone leaves Wi-Fi for cellular).
    pub fn roam(&mut self, host: u8) {
        let new = format!("10.1.1.{host}");
        let ph = &self.phone;
        let old = format!("{}/24", self.phone_ip);
        // Old first: deleting a primary address also deletes the
        // secondaries of its subnet.
        ip(&["-n", ph, "addr", "del", &old, "dev", "eth0"]).expect("drop old address");
        let add = format!("{new}/24");
        ip(&["-n", ph, "addr", "add", &add, "dev", "eth0"]).expect("new address");
        // Deleting the address took the default route with it.
        let via = ["-n", ph, "route", "replace", "default", "via", "10.1.1.1"];
        ip(&via).expect("default route");
        self.phone_ip = new;
    }

    /// The phone's current address.
    pub fn phone_ip(&self) -> &str {
        &self.phone_ip
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth ends in it, and so the pairs.
        for ns in self.made.drain(..).rev() {
            let _ = ip(&["netns", "del", &ns]);
        }
    }
}
