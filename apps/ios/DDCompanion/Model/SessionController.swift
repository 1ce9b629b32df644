import Combine
import Foundation

/// Where terminal bytes go: the terminal view installs itself here.
@MainActor
protocol TerminalSink: AnyObject {
    /// Resize the local (display-only) terminal, clear it and repaint.
    func repaint(rows: Int, cols: Int, data: Data)
    /// Feed more output.
    func feed(_ data: Data)
    /// The session's size changed (a resize on the desktop): lay out again.
    func sizeChanged(rows: Int, cols: Int)
}

/// One session on screen: its connection state, metadata, stream, prompt
/// and scrollback. Holds no protocol logic: every decision is the core's.
@MainActor
final class SessionController: ObservableObject {
    let sessionId: String
    /// A read-only grant: no typing controls, nothing is sent.
    let readOnly: Bool
    @Published private(set) var state: ConnectionState = .connecting
    @Published private(set) var meta: SessionMeta?
    @Published private(set) var notice: String?
    /// The session's own terminal size; the phone never resizes the PTY.
    @Published private(set) var rows = 24
    @Published private(set) var cols = 80
    /// The prompt the session waits on (shown as an in-app banner).
    @Published private(set) var prompt: InputNeeded?
    /// The scrollback loaded so far (kept across snapshots and attaches).
    @Published private(set) var history: HistoryPage?
    @Published private(set) var historyLoading = false
    /// The pinch zoom over the width-fitted font, remembered per session.
    @Published var zoom: Double {
        didSet { zoomStore.set(zoom, for: sessionId) }
    }

    /// Bytes per scrollback page.
    static let historyPageBytes: UInt32 = 64 * 1024

    private let companion: CompanionAPI
    private let notifier: PromptPosting
    private let zoomStore: ZoomStore
    private var handle: AttachAPI?
    /// The screen wants a stream (between `start` and `leave`).
    private var wanted = false
    private var attaching = false
    private var historySource: HistoryAPI?
    private weak var sink: TerminalSink?
    /// Output that arrived before the terminal view existed.
    private var backlog = Data()

    init(
        sessionId: String, readOnly: Bool, companion: CompanionAPI, notifier: PromptPosting,
        zoom: ZoomStore
    ) {
        self.sessionId = sessionId
        self.readOnly = readOnly
        self.companion = companion
        self.notifier = notifier
        self.zoomStore = zoom
        self.zoom = zoom.zoom(for: sessionId)
    }

    /// Attaches (again) unless attached or attaching.
    func start() {
        wanted = true
        guard handle == nil, !attaching else { return }
        attaching = true
        state = .connecting
        notice = nil
        notifier.requestAuthorizationIfNeeded()
        let listener = ListenerBridge(controller: self)
        Task {
            defer { attaching = false }
            do {
                let opened = try await companion.openAttach(sessionId: sessionId, listener: listener)
                if wanted {
                    handle = opened
                } else {
                    // The screen was left while connecting: end this stream.
                    await opened.detach()
                }
            } catch {
                state = .failed(message: Display.message(for: error))
            }
        }
    }

    /// The screen goes away (or Detach): ends the stream, also one still
    /// connecting. The core reports `.detached`.
    func leave() {
        wanted = false
        guard let current = handle else { return }
        handle = nil
        Task { await current.detach() }
    }

    /// Sends the user's keystrokes. Refusals arrive as notices.
    func send(_ data: Data) {
        guard !readOnly, let current = handle else { return }
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
        guard !readOnly, let current = handle, prompt != nil else { return }
        Task {
            do {
                try await current.answer(choice: choice)
            } catch {
                notice = Display.message(for: error)
            }
        }
    }

    // MARK: Scrollback (loaded by the core, independent of the stream)

    /// Loads the page before what is loaded (the first: before now).
    func loadOlderHistory() async {
        await loadHistory { try await $0.loadOlder(maxBytes: Self.historyPageBytes) }
    }

    /// Brings the scrollback up to now (when it is shown again).
    func loadNewerHistory() async {
        guard history != nil else {
            await loadOlderHistory()
            return
        }
        await loadHistory { try await $0.loadNewer() }
    }

    private func loadHistory(_ load: (HistoryAPI) async throws -> HistoryPage) async {
        guard !historyLoading else { return }
        historyLoading = true
        defer { historyLoading = false }
        do {
            if historySource == nil {
                historySource = try companion.openHistory(sessionId: sessionId)
            }
            if let source = historySource {
                history = try await load(source)
            }
        } catch {
            notice = Display.message(for: error)
        }
    }

    // MARK: The terminal view

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
        guard newMeta.rows > 0, newMeta.cols > 0 else { return }
        let (newRows, newCols) = (Int(newMeta.rows), Int(newMeta.cols))
        guard newRows != rows || newCols != cols else { return }
        rows = newRows
        cols = newCols
        sink?.sizeChanged(rows: newRows, cols: newCols)
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
        notifier.post(newPrompt)
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
