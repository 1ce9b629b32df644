import Foundation

// The Rust objects the app uses, behind protocols of the app's own, so
// `AppModel` and `SessionController` run in unit tests against fakes. The
// real objects conform in the extensions below; each method is a direct
// call into the core (no logic here).

/// What the app asks of the core's `Companion`.
protocol CompanionAPI: AnyObject, Sendable {
    func redeem(link: String, label: String) async throws -> Credential
    func listCredentials() throws -> [Credential]
    func forget(sessionId: String) async throws
    func sessionMeta(sessionId: String) async throws -> SessionMeta
    /// Answers prompt `seq` without attaching; refused when another waits.
    func answerPrompt(sessionId: String, seq: UInt64, choice: String, waitMs: UInt32) async throws
    /// Attaches at the current screen.
    func openAttach(sessionId: String, listener: SessionListener) async throws -> AttachAPI
    /// The session's scrollback, loaded in pages by the core.
    func openHistory(sessionId: String) throws -> HistoryAPI
    /// Lifecycle: the core decides what to do (reconnect, pause, resume).
    func appDidBecomeActive()
    func appDidEnterBackground()
    func networkPathChanged()
}

/// What the app asks of a live attach (`AttachHandle`).
protocol AttachAPI: AnyObject, Sendable {
    func sendInput(data: Data) async throws
    func answer(choice: String) async throws
    func detach() async
}

/// What the app asks of a session's scrollback (`History`).
protocol HistoryAPI: AnyObject, Sendable {
    func loadOlder(maxBytes: UInt32) async throws -> HistoryPage
    func loadNewer() async throws -> HistoryPage
}

extension Companion: CompanionAPI {
    func openAttach(sessionId: String, listener: SessionListener) async throws -> AttachAPI {
        try await attach(sessionId: sessionId, resume: .screen, listener: listener)
    }

    func openHistory(sessionId: String) throws -> HistoryAPI {
        try history(sessionId: sessionId)
    }
}

extension AttachHandle: AttachAPI {}

extension History: HistoryAPI {}
