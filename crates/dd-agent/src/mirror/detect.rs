//! Input-needed detection for one session: the state machine that turns
//! signals, quiet periods and the screen into `input_needed` and
//! `input_cleared` events.
//!
//! * An explicit signal (BEL, OSC 9/777/99, an agent hook's OSC 6464)
//!   raises an event at once, unless the prompt waiting now came from the
//!   same signal with the same text, or it is a bell or notification within
//!   [`OWNER_ECHO`] of input (the owner's own: Tab completion, vim's Esc).
//!   A hook's `cleared` clears the waiting prompt.
//! * A signal raised before its question was drawn is replaced at the first
//!   quiet point once the screen shows the question and its choices.
//! * When output has been quiet for the quiet period and no input arrived
//!   since the last output, the screen is examined ([`super::heuristic`]);
//!   a question or menu raises an event, unless it is the prompt raised
//!   last (same lines, highlight ignored).
//! * A waiting prompt is cleared when input arrives (terminal reports such
//!   as cursor-position replies and focus events do not count), when the
//!   screen's last lines change after it settled, or when the session ends.
//!   An event "settles" at the first quiet point after it was raised, so a
//!   program that rings the bell and then draws its question is not
//!   cleared by its own drawing; a change counts once it is still there at
//!   the next quiet point, or has lasted a whole period while output kept
//!   flowing (so a redraw passing through other states clears nothing).
//!
//! Events are logged with the transcript offset they were raised at, so
//! each stream delivers them after the output that caused them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use dd_proto::methods::{InputNeeded, PromptSource, DEFAULT_PROMPT_QUIET_MS};
use tokio::time::Instant;

use super::heuristic::{analyze, fingerprint, region};
use super::screen::Screen;
use super::signals::Signal;
use crate::util::now_secs;

/// Events kept for subscribers that are behind.
const LOG_LEN: usize = 32;

/// A bell or notification this soon after input is the owner's own
/// (a Tab completion that found nothing, vim's Esc in normal mode, which
/// rings up to `timeoutlen`, 1 s by default, after the key): it raises
/// nothing. Hook signals are exact and always count.
pub(crate) const OWNER_ECHO: Duration = Duration::from_millis(1500);

/// How long output must pause before a signal's event settles (and is
/// replaced if the screen now shows its question): shorter than the quiet
/// period, since the signal already said that the program waits.
pub(crate) const SIGNAL_SETTLE: Duration = Duration::from_millis(300);

/// How long output must pause before a prompt *with choices* (yes/no,
/// menus, select lists, buttons, options, fields with a default) is raised:
/// these patterns are precise enough not to need the full quiet period,
/// which only bare questions and fields wait for.
pub(crate) const CHOICES_QUIET: Duration = Duration::from_millis(300);

/// A signal's event that carried no choices is still replaced (rather than
/// cleared) when the screen shows a question this soon after the signal:
/// the program rang, then took a moment to draw its question.
pub(crate) const LATE_DRAW: Duration = Duration::from_secs(3);

/// The agent-wide detection settings, shared by every session and changed
/// at runtime by `agent.config.set`.
#[derive(Debug)]
pub struct PromptSettings {
    quiet_ms: AtomicU64,
    heuristic: AtomicBool,
}

impl Default for PromptSettings {
    fn default() -> Self {
        PromptSettings::new(DEFAULT_PROMPT_QUIET_MS, true)
    }
}

impl PromptSettings {
    /// Settings with this quiet period (ms; 0 turns the heuristic off).
    pub fn new(quiet_ms: u64, heuristic: bool) -> PromptSettings {
        PromptSettings {
            quiet_ms: AtomicU64::new(quiet_ms),
            heuristic: AtomicBool::new(heuristic),
        }
    }

    /// Changes the settings; running sessions use them from their next
    /// output on.
    pub fn set(&self, quiet_ms: u64, heuristic: bool) {
        self.quiet_ms.store(quiet_ms, Ordering::Relaxed);
        self.heuristic.store(heuristic, Ordering::Relaxed);
    }

    /// The heuristic's quiet period, or `None` when it is off.
    pub fn quiet(&self) -> Option<Duration> {
        let ms = self.quiet_ms.load(Ordering::Relaxed);
        (self.heuristic.load(Ordering::Relaxed) && ms > 0).then(|| Duration::from_millis(ms))
    }

    /// How long after the last output the screen is examined: the quiet
    /// period, or the default one (to settle explicit events) when off.
    fn period(&self) -> Duration {
        self.quiet()
            .unwrap_or(Duration::from_millis(DEFAULT_PROMPT_QUIET_MS))
    }
}

/// One logged event.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PromptEvent {
    /// A prompt waits.
    Needed(InputNeeded),
    /// The prompt with this seq no longer waits.
    Cleared(u64),
}

struct Waiting {
    event: InputNeeded,
    /// The signal's own title and body ("" for the heuristic and BEL).
    origin: (String, String),
    /// The prompt's fingerprint once settled; a lasting change clears it.
    reference: Option<String>,
    /// Since when the screen differs from `reference` while output flows.
    moved_since: Option<Instant>,
    /// When it was raised.
    raised_at: Instant,
}

/// A session's detection state (inside its state lock).
pub(crate) struct Prompts {
    seq: u64,
    waiting: Option<Waiting>,
    last_fingerprint: Option<String>,
    log: VecDeque<(u64, u64, PromptEvent)>,
    gen: u64,
    last_output: Instant,
    last_input: Option<Instant>,
    input_since_output: bool,
    /// The early check (prompts with choices) ran since the last output.
    early_checked: bool,
    check_pending: bool,
}

/// What an event needs to know about its session.
pub(crate) struct Ctx<'a> {
    pub(crate) session: &'a str,
    pub(crate) title: &'a str,
    pub(crate) screen: &'a Screen,
    pub(crate) offset: u64,
}

impl Prompts {
    pub(crate) fn new() -> Prompts {
        Prompts {
            seq: 0,
            waiting: None,
            last_fingerprint: None,
            log: VecDeque::new(),
            gen: 0,
            last_output: Instant::now(),
            last_input: None,
            input_since_output: false,
            early_checked: false,
            check_pending: false,
        }
    }

    /// The prompt waiting now.
    pub(crate) fn waiting(&self) -> Option<&InputNeeded> {
        self.waiting.as_ref().map(|w| &w.event)
    }

    /// The generation of the latest event (a new stream starts here).
    pub(crate) fn gen(&self) -> u64 {
        self.gen
    }

    /// The first event after generation `seen`, if it was raised at or
    /// before transcript offset `upto`, with its generation.
    pub(crate) fn next_event(&self, seen: u64, upto: u64) -> Option<(u64, PromptEvent)> {
        let (gen, offset, ev) = self.log.iter().find(|(g, _, _)| *g > seen)?;
        (*offset <= upto).then(|| (*gen, ev.clone()))
    }

    fn push(&mut self, offset: u64, ev: PromptEvent) {
        self.gen += 1;
        self.log.push_back((self.gen, offset, ev));
        while self.log.len() > LOG_LEN {
            self.log.pop_front();
        }
    }

    /// Clears the waiting prompt, if any. True if there was one.
    pub(crate) fn clear(&mut self, offset: u64) -> bool {
        match self.waiting.take() {
            Some(w) => {
                self.push(offset, PromptEvent::Cleared(w.event.seq));
                true
            }
            None => false,
        }
    }

    fn raise(&mut self, ctx: &Ctx<'_>, source: PromptSource, title: String, body: String) {
        self.clear(ctx.offset);
        let lines = region(&ctx.screen.lines());
        let found = analyze(&lines, ctx.screen.application_cursor());
        let fp = fingerprint(&lines);
        self.seq += 1;
        let origin = (title.clone(), body.clone());
        let headline = if title.is_empty() {
            ctx.title.to_owned()
        } else {
            title
        };
        let body = match (body.is_empty(), &found) {
            (false, _) => body,
            (true, Some(f)) => f.body.clone(),
            (true, None) => lines.last().cloned().unwrap_or_default(),
        };
        let event = InputNeeded {
            session: ctx.session.to_owned(),
            seq: self.seq,
            title: headline,
            body,
            prompt: lines.join("\n"),
            choices: found.map(|f| f.choices).unwrap_or_default(),
            at: now_secs(),
            source,
        };
        let settled = (source == PromptSource::Heuristic).then(|| fp.clone());
        self.last_fingerprint = Some(fp);
        self.push(ctx.offset, PromptEvent::Needed(event.clone()));
        self.waiting = Some(Waiting {
            event,
            origin,
            reference: settled,
            moved_since: None,
            raised_at: Instant::now(),
        });
    }

    /// New output was published (the screen already has it). Returns true
    /// when an event was logged.
    ///
    /// A settled prompt whose lines now differ is cleared once they have
    /// differed for a whole period while output kept flowing (or at the
    /// next quiet point, see [`Prompts::on_quiet`]), so a redraw that
    /// passes through other states does not clear it.
    pub(crate) fn on_output(
        &mut self,
        ctx: &Ctx<'_>,
        signals: Vec<Signal>,
        settings: &PromptSettings,
    ) -> bool {
        let before = self.gen;
        let now = Instant::now();
        self.last_output = now;
        self.input_since_output = false;
        self.check_pending = true;
        self.early_checked = false;
        let mut moved = false;
        if let Some(w) = self.waiting.as_mut() {
            if let Some(r) = &w.reference {
                if *r == fingerprint(&region(&ctx.screen.lines())) {
                    w.moved_since = None;
                } else {
                    let since = *w.moved_since.get_or_insert(now);
                    moved = now.duration_since(since) >= settings.period();
                }
            }
        }
        if moved {
            self.clear(ctx.offset);
        }
        let owners = self
            .last_input
            .is_some_and(|t| now.duration_since(t) < OWNER_ECHO);
        for s in signals {
            let (title, body) = match &s {
                Signal::HookCleared => {
                    self.clear(ctx.offset);
                    continue;
                }
                Signal::Hook { title, body } => (title.clone(), body.clone()),
                _ if owners => continue,
                Signal::Bel => (String::new(), String::new()),
                Signal::Notify { title, body, .. } => (title.clone(), body.clone()),
            };
            let duplicate = self.waiting.as_ref().is_some_and(|w| {
                w.event.source == s.source() && w.origin == (title.clone(), body.clone())
            });
            if !duplicate {
                self.raise(ctx, s.source(), title, body);
            }
        }
        self.gen != before
    }

    /// Input was written to the PTY. Returns true when an event was logged.
    pub(crate) fn on_input(&mut self, data: &[u8], offset: u64) -> bool {
        if data.is_empty() || is_terminal_report(data) {
            return false;
        }
        self.input_since_output = true;
        self.last_input = Some(Instant::now());
        self.clear(offset)
    }

    /// When the screen should next be examined, if it should.
    pub(crate) fn deadline(&self, settings: &PromptSettings) -> Option<Instant> {
        let unsettled = self.waiting.as_ref().is_some_and(|w| w.reference.is_none());
        let wait = if unsettled {
            SIGNAL_SETTLE
        } else if !self.early_checked {
            CHOICES_QUIET
        } else {
            settings.period()
        };
        self.check_pending
            .then(|| self.last_output + wait.min(settings.period()))
    }

    /// True once output has been quiet for the whole period (else the
    /// check due is the early one).
    pub(crate) fn quiet_for_period(&self, settings: &PromptSettings) -> bool {
        self.last_output.elapsed() >= settings.period()
    }

    /// Output has paused: settle the waiting event or clear it if the
    /// screen moved on, then run the heuristic. `full`: quiet for the whole
    /// period; otherwise this is the early check, which settles signals
    /// and raises only prompts with choices. Returns true when an event
    /// was logged.
    pub(crate) fn on_quiet(
        &mut self,
        ctx: &Ctx<'_>,
        settings: &PromptSettings,
        full: bool,
    ) -> bool {
        let before = self.gen;
        if full {
            self.check_pending = false;
        } else {
            self.early_checked = true;
        }
        let lines = region(&ctx.screen.lines());
        let fp = fingerprint(&lines);
        if let Some(w) = self.waiting.as_mut() {
            match &w.reference {
                None => {
                    // A signal sent before its question was drawn: now the
                    // screen shows it, replace the event with one that
                    // carries the question and its choices.
                    let found = analyze(&lines, ctx.screen.application_cursor());
                    let better = found.is_some_and(|f| {
                        f.choices != w.event.choices
                            || (w.event.body.is_empty() && !f.body.is_empty())
                    });
                    if better {
                        let (source, (title, body)) = (w.event.source, w.origin.clone());
                        self.raise(ctx, source, title, body);
                    }
                    if let Some(w) = self.waiting.as_mut() {
                        w.reference = Some(fp);
                    }
                    return self.gen != before;
                }
                Some(r) if *r == fp => {
                    w.moved_since = None;
                    return false;
                }
                Some(_) => {
                    let late = w.event.source != PromptSource::Heuristic
                        && w.event.choices.is_empty()
                        && w.raised_at.elapsed() < LATE_DRAW;
                    let found = late
                        .then(|| analyze(&lines, ctx.screen.application_cursor()))
                        .flatten();
                    if found.is_some_and(|f| !f.choices.is_empty()) {
                        let (source, (title, body)) = (w.event.source, w.origin.clone());
                        self.raise(ctx, source, title, body);
                        if let Some(w) = self.waiting.as_mut() {
                            w.reference = Some(fp);
                        }
                        return true;
                    }
                    // A change counts at a full quiet point only.
                    if !full {
                        return false;
                    }
                    self.clear(ctx.offset);
                }
            }
        }
        let eligible = settings.quiet().is_some()
            && !self.input_since_output
            && self.last_fingerprint.as_deref() != Some(fp.as_str())
            && analyze(&lines, false).is_some_and(|f| full || !f.choices.is_empty());
        if eligible {
            self.raise(ctx, PromptSource::Heuristic, String::new(), String::new());
        }
        self.gen != before
    }
}

/// True when `d` is only replies a terminal sends by itself (cursor
/// position and device attribute reports, focus in/out, OSC and DCS
/// replies): not the user answering.
pub(crate) fn is_terminal_report(d: &[u8]) -> bool {
    let mut i = 0;
    while i < d.len() {
        if d[i] != 0x1b {
            return false;
        }
        match d.get(i + 1) {
            Some(b'[') => {
                let mut j = i + 2;
                while j < d.len() && (0x20..=0x3f).contains(&d[j]) {
                    j += 1;
                }
                match d.get(j) {
                    Some(b'R' | b'c' | b'I' | b'O' | b'n' | b't' | b'y') => i = j + 1,
                    _ => return false,
                }
            }
            Some(b']' | b'P') => {
                let rest = &d[i + 2..];
                let bel = rest.iter().position(|&b| b == 0x07).map(|p| p + 1);
                let st = rest.windows(2).position(|w| w == b"\x1b\\").map(|p| p + 2);
                let end = match (bel, st) {
                    (Some(a), Some(b)) => a.min(b),
                    (Some(a), None) | (None, Some(a)) => a,
                    (None, None) => return false,
                };
                i += 2 + end;
            }
            _ => return false,
        }
    }
    !d.is_empty()
}

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
