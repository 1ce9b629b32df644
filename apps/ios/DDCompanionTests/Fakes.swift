import Foundation
import XCTest
@testable import DDCompanion

/// A lock-guarded value: fakes are called from the core's async contexts.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    func get() -> Value {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    func update<R>(_ change: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return change(&value)
    }
}

struct FakeError: Error {}

/// Stands in for `AttachHandle`.
final class FakeAttach: AttachAPI, @unchecked Sendable {
    let sent = Locked<[Data]>([])
    let answers = Locked<[String]>([])
    let detached = Locked(0)

    func sendInput(data: Data) async throws {
        sent.update { $0.append(data) }
    }

    func answer(choice: String) async throws {
        answers.update { $0.append(choice) }
    }

    func detach() async {
        detached.update { $0 += 1 }
    }
}

/// Stands in for `History`: pages of numbered lines, older first.
final class FakeHistory: HistoryAPI, @unchecked Sendable {
    let olderCalls = Locked(0)
    let newerCalls = Locked(0)

    private func page(lines: [String], atBeginning: Bool) -> HistoryPage {
        HistoryPage(
            start: atBeginning ? 0 : 100, end: 200, added: 100, atBeginning: atBeginning,
            atLimit: false, lines: lines, cols: 80)
    }

    func loadOlder(maxBytes: UInt32) async throws -> HistoryPage {
        let n = olderCalls.update { n -> Int in
            n += 1
            return n
        }
        return page(lines: n == 1 ? ["b"] : ["a", "b"], atBeginning: n > 1)
    }

    func loadNewer() async throws -> HistoryPage {
        newerCalls.update { $0 += 1 }
        return page(lines: ["a", "b", "c"], atBeginning: true)
    }
}

/// Stands in for the core's `Companion`.
final class FakeCompanion: CompanionAPI, @unchecked Sendable {
    let attaches = Locked<[FakeAttach]>([])
    let attachCalls = Locked(0)
    /// When set, `openAttach` waits until `releaseAttach()`.
    let holdAttach = Locked(false)
    private let held = Locked<CheckedContinuation<Void, Never>?>(nil)
    let answered = Locked<[(String, UInt64, String)]>([])
    var answerError: Error?
    let lifecycle = Locked<[String]>([])
    var credentials: [Credential] = []
    var statuses: [String: String] = [:]
    var redeemError: Error?
    let history = FakeHistory()

    func redeem(link: String, label: String) async throws -> Credential {
        if let redeemError { throw redeemError }
        let credential = Self.credential("s_new", label: label)
        credentials.append(credential)
        return credential
    }

    func listCredentials() throws -> [Credential] {
        credentials
    }

    func forget(sessionId: String) async throws {
        credentials.removeAll { $0.sessionId == sessionId }
    }

    func sessionMeta(sessionId: String) async throws -> SessionMeta {
        guard let status = statuses[sessionId] else { throw MobileError.Network(message: "down") }
        return Self.meta(sessionId, status: status)
    }

    func answerPrompt(sessionId: String, seq: UInt64, choice: String, waitMs: UInt32) async throws {
        answered.update { $0.append((sessionId, seq, choice)) }
        if let answerError { throw answerError }
    }

    var isHoldingAttach: Bool { held.get() != nil }

    func releaseAttach() {
        let continuation = held.update { c -> CheckedContinuation<Void, Never>? in
            defer { c = nil }
            return c
        }
        continuation?.resume()
    }

    func openAttach(sessionId: String, listener: SessionListener) async throws -> AttachAPI {
        attachCalls.update { $0 += 1 }
        if holdAttach.get() {
            await withCheckedContinuation { continuation in
                held.update { $0 = continuation }
            }
        }
        let attach = FakeAttach()
        attaches.update { $0.append(attach) }
        return attach
    }

    func openHistory(sessionId: String) throws -> HistoryAPI {
        history
    }

    func appDidBecomeActive() { lifecycle.update { $0.append("active") } }
    func appDidEnterBackground() { lifecycle.update { $0.append("background") } }
    func networkPathChanged() { lifecycle.update { $0.append("network") } }

    static func credential(_ sessionId: String, label: String = "t", readOnly: Bool = false)
        -> Credential
    {
        Credential(
            sessionId: sessionId, grantId: "g_1", agentUrl: "http://127.0.0.1:7777",
            agentKey: "k", readOnly: readOnly, ops: [], expiresAt: 2_000_000_000, label: label,
            sessionName: "sh", createdAt: 1)
    }

    static func meta(_ sessionId: String, status: String = "running", rows: UInt16 = 24,
                     cols: UInt16 = 80) -> SessionMeta
    {
        SessionMeta(
            id: sessionId, name: "sh", status: status, exitCode: nil, rows: rows, cols: cols,
            title: "", endOffset: 0, waiting: nil)
    }
}

/// Records what a session posts.
final class FakeNotifier: PromptPosting {
    var asked = 0
    var posted: [UInt64] = []
    var cleared: [UInt64] = []

    func requestAuthorizationIfNeeded() { asked += 1 }
    func post(_ prompt: InputNeeded) { posted.append(prompt.seq) }
    func clear(sessionId: String, seq: UInt64) { cleared.append(seq) }
}

/// Records what reaches the terminal view.
@MainActor
final class FakeSink: TerminalSink {
    var repaints: [(rows: Int, cols: Int, data: Data)] = []
    var fed = Data()
    var sizes: [(rows: Int, cols: Int)] = []

    func repaint(rows: Int, cols: Int, data: Data) { repaints.append((rows, cols, data)) }
    func feed(_ data: Data) { fed.append(data) }
    func sizeChanged(rows: Int, cols: Int) { sizes.append((rows, cols)) }
}

/// Waits (briefly) until `condition` holds on the main actor.
@MainActor
func eventually(
    _ what: String, timeout: TimeInterval = 2, _ condition: @MainActor () -> Bool,
    file: StaticString = #filePath, line: UInt = #line
) async {
    let deadline = Date().addingTimeInterval(timeout)
    while !condition() {
        if Date() > deadline {
            XCTFail("timed out waiting for \(what)", file: file, line: line)
            return
        }
        try? await Task.sleep(nanoseconds: 10_000_000)
    }
}

func prompt(_ seq: UInt64, session: String = "s_1") -> InputNeeded {
    InputNeeded(
        sessionId: session, seq: seq, title: "sh", body: "Continue? [y/N]",
        prompt: "Continue? [y/N]",
        choices: [PromptChoice(label: "Yes", input: Data("y\r".utf8))], at: 1,
        source: "heuristic")
}

/// A fresh, empty UserDefaults suite per test.
func scratchDefaults() -> UserDefaults {
    let name = "dd.tests.\(UUID().uuidString)"
    let defaults = UserDefaults(suiteName: name)!
    defaults.removePersistentDomain(forName: name)
    return defaults
}
