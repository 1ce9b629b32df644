import SwiftUI
import UIKit

/// The app's single source of truth. Owns the Rust `Companion`, forwards the
/// views' intents to it and publishes what they render.
@MainActor
final class AppModel: ObservableObject {
    /// The link being joined (typed, pasted, scanned or opened).
    @Published private(set) var linkText = ""
    /// The parsed offer for `linkText`, when it parses.
    @Published private(set) var offer: PairingOffer?
    /// Why `linkText` does not parse.
    @Published private(set) var linkError: String?
    /// The label this device gives itself on the agent.
    @Published var label: String
    /// A redemption is in flight.
    @Published private(set) var joining = false
    /// Navigation: the session ids on screen (at most one).
    @Published var path: [String] = []
    /// Saved pairings.
    @Published private(set) var credentials: [Credential] = []
    /// Best-effort session status per session id.
    @Published private(set) var statuses: [String: String] = [:]
    /// An error to show in an alert.
    @Published var alert: String?
    /// The session whose screen is open (it gets an in-app banner, not a
    /// system one, while in the foreground).
    var visibleSession: String?

    let companion: Companion
    let notifier: PromptNotifier
    private var controllers: [String: SessionController] = [:]
    private var backgroundTask: UIBackgroundTaskIdentifier = .invalid

    init(store: SecureStore = KeychainStore(), notifier: PromptNotifier = .shared) {
        companion = Companion(store: store)
        self.notifier = notifier
        label = UIDevice.current.name
        notifier.connect(model: self)
        refresh()
    }

    // MARK: Join

    /// Sets the link from any source and previews it.
    func setLink(_ text: String) {
        linkText = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !linkText.isEmpty else {
            offer = nil
            linkError = nil
            return
        }
        do {
            offer = try parseLink(url: linkText)
            linkError = nil
        } catch {
            offer = nil
            linkError = Display.message(for: error)
        }
    }

    /// A `dd://` or universal link opened from outside: back to the join flow.
    func handle(url: URL) {
        path.removeAll()
        setLink(url.absoluteString)
    }

    /// Redeems the link and opens the session.
    func join() async {
        guard offer != nil, !joining else { return }
        joining = true
        defer { joining = false }
        do {
            let credential = try await companion.redeem(link: linkText, label: label)
            setLink("")
            refresh()
            path = [credential.sessionId]
        } catch {
            alert = Display.message(for: error)
        }
    }

    // MARK: Paired sessions

    /// Reloads saved pairings and, best effort, their sessions' status.
    func refresh() {
        do {
            credentials = try companion.listCredentials()
        } catch {
            alert = Display.message(for: error)
            return
        }
        for credential in credentials {
            let id = credential.sessionId
            Task { await loadStatus(id) }
        }
    }

    private func loadStatus(_ sessionId: String) async {
        do {
            let meta = try await companion.sessionMeta(sessionId: sessionId)
            statuses[sessionId] = meta.status
        } catch {
            statuses[sessionId] = "unreachable"
        }
    }

    /// Revokes this device's grant (best effort if offline) and deletes it.
    func forget(sessionId: String) async {
        controllers[sessionId]?.detach()
        controllers[sessionId] = nil
        do {
            try await companion.forget(sessionId: sessionId)
        } catch {
            alert = Display.message(for: error)
        }
        statuses[sessionId] = nil
        refresh()
    }

    /// The controller that streams one session (one per session id).
    func controller(for sessionId: String) -> SessionController {
        if let existing = controllers[sessionId] {
            return existing
        }
        let created = SessionController(
            sessionId: sessionId, companion: companion, notifier: notifier)
        controllers[sessionId] = created
        return created
    }

    // MARK: Prompts and notifications

    /// A notification tap (or one queued from before launch finished).
    func handle(response: PromptResponse) {
        Task { await respond(to: response) }
    }

    /// Opens the session, or answers its prompt (attaching first when the
    /// app was not attached any more).
    func respond(to response: PromptResponse) async {
        switch response {
        case .open(let sessionId):
            path = [sessionId]
        case .answer(let sessionId, let seq, let choice):
            await controller(for: sessionId).answer(choice: choice, seq: seq)
        }
    }

    /// Keeps attached sessions streaming for the little while iOS allows in
    /// the background, so their prompts still become notifications.
    func sceneChanged(toBackground background: Bool) {
        if background {
            let attached = controllers.values.contains { !Display.isFinal($0.state) }
            guard attached, backgroundTask == .invalid else { return }
            backgroundTask = UIApplication.shared.beginBackgroundTask(withName: "dd.attached") {
                [weak self] in
                MainActor.assumeIsolated { self?.endBackgroundTask() }
            }
        } else {
            endBackgroundTask()
        }
    }

    private func endBackgroundTask() {
        guard backgroundTask != .invalid else { return }
        UIApplication.shared.endBackgroundTask(backgroundTask)
        backgroundTask = .invalid
    }
}
