import Foundation

/// Where terminal bytes go: the terminal view installs itself here.
@MainActor
protocol TerminalSink: AnyObject {
    /// Resize the local (display-only) terminal, clear it and repaint.
    func repaint(rows: Int, cols: Int, data: Data)
    /// Feed more output.
    func feed(_ data: Data)
}

/// One attached session: its connection state, metadata and stream.
@MainActor
final class SessionController: ObservableObject {
    let sessionId: String
    @Published private(set) var state: ConnectionState = .connecting
    @Published private(set) var meta: SessionMeta?
    @Published private(set) var notice: String?
    /// The session's own terminal size; the phone never resizes the PTY.
    @Published private(set) var rows = 24
    @Published private(set) var cols = 80
    /// The prompt the session waits on (shown as an in-app banner).
    @Published private(set) var prompt: InputNeeded?

    private let companion: Companion
    private let notifier: PromptNotifier
    private var handle: AttachHandle?
    /// An answer chosen on a notification before this controller was
    /// attached: sent once that prompt arrives.
    private var pendingAnswer: (seq: UInt64, choice: String)?
    private var attaching = false
    private weak var sink: TerminalSink?
    /// Output that arrived before the terminal view existed.
    private var backlog = Data()

    init(sessionId: String, companion: Companion, notifier: PromptNotifier) {
        self.sessionId = sessionId
        self.companion = companion
        self.notifier = notifier
    }

    /// Attaches (again) unless already attached.
    func start() {
        guard handle == nil, !attaching else { return }
        attaching = true
        state = .connecting
        notice = nil
        notifier.requestAuthorizationIfNeeded()
        let listener = ListenerBridge(controller: self)
        Task {
            defer { attaching = false }
            do {
                handle = try await companion.attach(
                    sessionId: sessionId, resume: .screen, listener: listener)
                flushPendingAnswer()
            } catch {
                pendingAnswer = nil
                state = .failed(message: Display.message(for: error))
            }
        }
    }

    /// Ends the stream; the core reports `.detached`.
    func detach() {
        guard let current = handle else { return }
        handle = nil
        Task { await current.detach() }
    }

    /// Sends keystrokes or an answer. Refusals arrive as notices.
    func send(_ data: Data) {
        guard let current = handle else { return }
        Task {
            do {
                try await current.sendInput(data: data)
            } catch {
                notice = Display.message(for: error)
            }
        }
    }

    /// Sends text as UTF-8.
    func send(text: String) {
        send(Data(text.utf8))
    }

    /// Answers the waiting prompt with a choice's label (in-app banner).
    func answer(choice: String) {
        guard let current = handle, prompt != nil else { return }
        Task {
            do {
                try await current.answer(choice: choice)
            } catch {
                notice = Display.message(for: error)
            }
        }
    }

    /// Answers prompt `seq` from a notification action: at once when it is
    /// the one waiting, else after attaching (for up to ten seconds).
    func answer(choice: String, seq: UInt64) async {
        if let current = handle {
            guard prompt?.seq == seq else {
                notice = "That question no longer waits for an answer."
                return
            }
            do {
                try await current.answer(choice: choice)
            } catch {
                notice = Display.message(for: error)
            }
            return
        }
        pendingAnswer = (seq, choice)
        start()
        for _ in 0..<100 where pendingAnswer != nil {
            try? await Task.sleep(nanoseconds: 100_000_000)
        }
        if pendingAnswer != nil {
            pendingAnswer = nil
            notice = "That question no longer waits for an answer."
        }
    }

    private func flushPendingAnswer() {
        guard let pending = pendingAnswer, let current = handle, let waiting = prompt else {
            return
        }
        pendingAnswer = nil
        guard waiting.seq == pending.seq else {
            notice = "That question no longer waits for an answer."
            return
        }
        Task {
            do {
                try await current.answer(choice: pending.choice)
            } catch {
                notice = Display.message(for: error)
            }
        }
    }

    func install(sink newSink: TerminalSink) {
        sink = newSink
        newSink.repaint(rows: rows, cols: cols, data: backlog)
        backlog = Data()
    }

    func uninstall(sink oldSink: TerminalSink) {
        if sink === oldSink {
            sink = nil
        }
    }

    // MARK: From the core (already on the main actor)

    func snapshot(rows newRows: Int, cols newCols: Int, data: Data) {
        rows = max(newRows, 1)
        cols = max(newCols, 1)
        if let sink {
            sink.repaint(rows: rows, cols: cols, data: data)
        } else {
            backlog = data
        }
    }

    func output(_ data: Data) {
        if let sink {
            sink.feed(data)
        } else {
            backlog.append(data)
        }
    }

    func update(meta newMeta: SessionMeta) {
        meta = newMeta
        if newMeta.rows > 0 && newMeta.cols > 0 {
            rows = Int(newMeta.rows)
            cols = Int(newMeta.cols)
        }
    }

    func update(state newState: ConnectionState) {
        state = newState
        if Display.isFinal(newState) {
            handle = nil
        }
    }

    func show(notice text: String) {
        notice = text
    }

    func inputNeeded(_ newPrompt: InputNeeded) {
        prompt = newPrompt
        if pendingAnswer?.seq == newPrompt.seq {
            flushPendingAnswer()
        } else {
            notifier.post(newPrompt)
        }
    }

    func inputCleared(seq: UInt64) {
        if prompt?.seq == seq {
            prompt = nil
        }
        notifier.clear(sessionId: sessionId, seq: seq)
    }
}

/// The core's `SessionListener`. Called on a Rust thread; every call hops to
/// the main queue in order (FIFO), so bytes reach the terminal in order.
final class ListenerBridge: SessionListener, @unchecked Sendable {
    private weak var controller: SessionController?

    init(controller: SessionController) {
        self.controller = controller
    }

    private func onMain(_ body: @escaping @MainActor (SessionController) -> Void) {
        DispatchQueue.main.async { [weak self] in
            MainActor.assumeIsolated {
                guard let controller = self?.controller else { return }
                body(controller)
            }
        }
    }

    func onSnapshot(offset: UInt64, rows: UInt16, cols: UInt16, data: Data) {
        onMain { $0.snapshot(rows: Int(rows), cols: Int(cols), data: data) }
    }

    func onOutput(offset: UInt64, data: Data) {
        onMain { $0.output(data) }
    }

    func onMeta(meta: SessionMeta) {
        onMain { $0.update(meta: meta) }
    }

    func onState(state: ConnectionState) {
        onMain { $0.update(state: state) }
    }

    func onNotice(code: String, message: String) {
        onMain { $0.show(notice: message) }
    }

    func onInputNeeded(prompt: InputNeeded) {
        onMain { $0.inputNeeded(prompt) }
    }

    func onInputCleared(seq: UInt64) {
        onMain { $0.inputCleared(seq: seq) }
    }
}
