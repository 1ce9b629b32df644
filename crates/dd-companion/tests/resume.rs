//! dd-mobile's reconnect and resume, through a TCP proxy the test can cut:
//! after a network drop the attach comes back by itself and continues from
//! the last offset delivered, with nothing lost and nothing repeated.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::World;
use dd_mobile::{Companion, ConnectionState, FileStore, ResumeFrom, SessionListener, SessionMeta};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP forwarder to the agent whose connections can be cut.
struct Proxy {
    port: u16,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    refuse: Arc<AtomicBool>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let refuse = Arc::new(AtomicBool::new(false));
        let (c, r) = (conns.clone(), refuse.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = l.accept().await {
                if r.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut out) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
                c.lock().unwrap().push(task);
            }
        });
        Proxy {
            port,
            conns,
            refuse,
        }
    }

    /// Drops every open connection.
    fn cut(&self) {
        for t in self.conns.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

#[derive(Default)]
struct Seen {
    output: Vec<u8>,
    /// (offset, len) of every on_output.
    chunks: Vec<(u64, usize)>,
    states: Vec<ConnectionState>,
}

struct Collect(Mutex<Seen>);

impl SessionListener for Collect {
    fn on_snapshot(&self, _: u64, _: u16, _: u16, _: Vec<u8>) {
        panic!("no snapshot expected when resuming by offset");
    }
    fn on_output(&self, offset: u64, data: Vec<u8>) {
        let mut s = self.0.lock().unwrap();
        s.chunks.push((offset, data.len()));
        s.output.extend_from_slice(&data);
    }
    fn on_meta(&self, _: SessionMeta) {}
    fn on_state(&self, state: ConnectionState) {
        self.0.lock().unwrap().states.push(state);
    }
    fn on_notice(&self, _: String, _: String) {}
    fn on_input_needed(&self, _: dd_mobile::InputNeeded) {}
    fn on_input_cleared(&self, _: u64) {}
}

impl Collect {
    async fn wait(&self, what: &str, pred: impl Fn(&Seen) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !pred(&self.0.lock().unwrap()) {
            let s = self.0.lock().unwrap();
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: states {:?}, output {:?}",
                s.states,
                String::from_utf8_lossy(&s.output)
            );
            drop(s);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn contains(s: &Seen, text: &str) -> bool {
    String::from_utf8_lossy(&s.output).contains(text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_drop_reconnects_and_resumes_without_loss_or_repeat() {
    let w = World::new();
    let s = w.shell();
    let agent_addr = w.agent.url.trim_start_matches("http://").to_owned();
    let proxy = Proxy::start(agent_addr).await;
    let link = w.pair(&s, &[])["link"].as_str().unwrap().to_owned();
    let mut parsed = dd_proto::Link::parse(&link).unwrap();
    parsed.agent_url = format!("http://127.0.0.1:{}", proxy.port);
    let link = parsed.render(None);

    let store = Arc::new(FileStore::open(w.companion_home()).unwrap());
    let comp = Companion::new(store);
    let cred = comp.redeem(link, "resume-test".into()).await.unwrap();
    assert_eq!(cred.session_id, s);

    let seen = Arc::new(Collect(Mutex::new(Seen::default())));
    let handle = comp
        .attach(s.clone(), ResumeFrom::Start, seen.clone())
        .await
        .unwrap();
    w.owner_ok(&["session", "send", &s, "--enter", "--", "echo one-$((1+1))"]);
    seen.wait("one-2", |x| contains(x, "one-2")).await;

    // Cut the network; output produced meanwhile must arrive after the
    // reconnect, exactly once.
    proxy.refuse.store(true, Ordering::SeqCst);
    proxy.cut();
    seen.wait("Reconnecting", |x| {
        x.states
            .iter()
            .any(|st| matches!(st, ConnectionState::Reconnecting { .. }))
    })
    .await;
    w.owner_ok(&["session", "send", &s, "--enter", "--", "echo two-$((2+2))"]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!contains(&seen.0.lock().unwrap(), "two-4"));
    proxy.refuse.store(false, Ordering::SeqCst);
    seen.wait("two-4", |x| contains(x, "two-4")).await;
    // And it still takes input after the reconnect.
    handle
        .send_input(b"echo three-$((3*3))\r".to_vec())
        .await
        .unwrap();
    seen.wait("three-9", |x| contains(x, "three-9")).await;

    {
        let x = seen.0.lock().unwrap();
        // Contiguous from 0: no gap, no repeat.
        let mut next = 0u64;
        for &(offset, len) in &x.chunks {
            assert_eq!(offset, next, "chunks {:?}", x.chunks);
            next += len as u64;
        }
        assert_eq!(handle.last_offset(), next);
        let text = String::from_utf8_lossy(&x.output);
        assert_eq!(text.matches("one-2").count(), 1, "{text}");
        assert_eq!(text.matches("two-4").count(), 1, "{text}");
        let lives = x
            .states
            .iter()
            .filter(|st| **st == ConnectionState::Live)
            .count();
        assert_eq!(lives, 2, "{:?}", x.states);
        let attempts: Vec<u32> = x
            .states
            .iter()
            .filter_map(|st| match st {
                ConnectionState::Reconnecting { attempt, .. } => Some(*attempt),
                _ => None,
            })
            .collect();
        assert!(
            attempts.len() >= 2,
            "refused retries back off: {attempts:?}"
        );
        assert_eq!(attempts, (1..=attempts.len() as u32).collect::<Vec<_>>());
    }

    handle.detach().await;
    assert_eq!(
        seen.0.lock().unwrap().states.last(),
        Some(&ConnectionState::Detached)
    );
}
