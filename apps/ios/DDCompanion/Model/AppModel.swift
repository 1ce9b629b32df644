import Combine
import SwiftUI
import UIKit

/// The app's single source of truth. Owns the core's `Companion` (behind
/// `CompanionAPI`), forwards the views' intents to it and publishes what
/// they render.
@MainActor
final class AppModel: ObservableObject, PromptResponder {
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
    /// The QR scanner sheet is up.
    @Published var scanning = false
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

    let companion: CompanionAPI
    let notifier: PromptPosting
    private let zoom: ZoomStore
    private var controllers: [String: SessionController] = [:]
    private var backgroundTask: UIBackgroundTaskIdentifier = .invalid

    /// How long a notification answer waits for the agent to be reachable.
    static let answerWaitMs: UInt32 = 20_000

    init(companion: CompanionAPI, notifier: PromptPosting, zoom: ZoomStore = ZoomStore(),
         label: String = Display.defaultLabel())
    {
        self.companion = companion
        self.notifier = notifier
        self.zoom = zoom
        self.label = label
        Task { await refresh() }
    }

    /// The app's model over the real core, Keychain and notifications.
    static func live() -> AppModel {
        AppModel(companion: Companion(store: KeychainStore()), notifier: PromptNotifier.shared)
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
        scanning = false
        setLink(url.absoluteString)
    }

    /// A code from the scanner.
    func scanned(_ code: String) {
        scanning = false
        setLink(code)
    }

    /// Redeems the link and opens the session. The core keeps trying to
    /// reach the agent for a while (the Local Network prompt on first use).
    func join() async {
        guard offer != nil, !joining else { return }
        joining = true
        defer { joining = false }
        do {
            let credential = try await companion.redeem(link: linkText, label: label)
            setLink("")
            await refresh()
            path = [credential.sessionId]
        } catch {
            alert = Display.message(for: error)
        }
    }

    // MARK: Paired sessions

    /// Reloads saved pairings and, best effort, their sessions' status;
    /// returns once every status is in (pull to refresh waits for it).
    func refresh() async {
        do {
            credentials = try companion.listCredentials()
        } catch {
            alert = Display.message(for: error)
            return
        }
        let ids = credentials.map(\.sessionId)
        let companion = self.companion
        let found = await withTaskGroup(of: (String, String).self) { group in
            for id in ids {
                group.addTask {
                    do {
                        return (id, try await companion.sessionMeta(sessionId: id).status)
                    } catch {
                        return (id, Display.status(for: error))
                    }
                }
            }
            var all: [String: String] = [:]
            for await (id, status) in group {
                all[id] = status
            }
            return all
        }
        statuses = found
    }

    /// Revokes this device's grant (best effort if offline) and deletes it.
    func forget(sessionId: String) async {
        if let controller = controllers.removeValue(forKey: sessionId) {
            controller.leave()
        }
        do {
            try await companion.forget(sessionId: sessionId)
        } catch {
            alert = Display.message(for: error)
        }
        await refresh()
    }

    /// The controller that streams one session (one per session id).
    func controller(for sessionId: String) -> SessionController {
        if let existing = controllers[sessionId] {
            return existing
        }
        let readOnly = credentials.first { $0.sessionId == sessionId }?.readOnly ?? false
        let created = SessionController(
            sessionId: sessionId, readOnly: readOnly, companion: companion,
            notifier: notifier, zoom: zoom)
        controllers[sessionId] = created
        return created
    }

    // MARK: Prompts and notifications

    /// Opens the session, or answers its prompt through the core, which
    /// checks `seq` against the prompt waiting now (no attach, so nothing
    /// keeps streaming afterwards).
    func respond(to response: PromptResponse) async {
        switch response {
        case .open(let sessionId):
            path = [sessionId]
        case .answer(let sessionId, let seq, let choice):
            do {
                try await companion.answerPrompt(
                    sessionId: sessionId, seq: seq, choice: choice, waitMs: Self.answerWaitMs)
            } catch {
                let text = Display.answerProblem(error)
                if let controller = controllers[sessionId] {
                    controller.show(notice: text)
                } else {
                    alert = text
                }
            }
        }
    }

    // MARK: Lifecycle

    /// Scene phase changes go to the core; attached sessions keep streaming
    /// for the little while iOS allows in the background, so their prompts
    /// still become notifications.
    func scenePhaseChanged(active: Bool, background: Bool) {
        if active {
            endBackgroundTask()
            companion.appDidBecomeActive()
        } else if background {
            companion.appDidEnterBackground()
            let attached = controllers.values.contains { !Display.isFinal($0.state) }
            guard attached, backgroundTask == .invalid else { return }
            backgroundTask = UIApplication.shared.beginBackgroundTask(withName: "dd.attached") {
                [weak self] in
                MainActor.assumeIsolated { self?.endBackgroundTask() }
            }
        }
    }

    /// The network path changed (NWPathMonitor): the core decides.
    func networkPathChanged() {
        companion.networkPathChanged()
    }

    private func endBackgroundTask() {
        guard backgroundTask != .invalid else { return }
        UIApplication.shared.endBackgroundTask(backgroundTask)
        backgroundTask = .invalid
    }
}
