import Foundation
import UserNotifications

/// What a notification tap asks the app to do.
enum PromptResponse: Equatable {
    /// Open the session's screen.
    case open(sessionId: String)
    /// Answer prompt `seq` of the session with a choice's label.
    case answer(sessionId: String, seq: UInt64, choice: String)
}

/// What a session posts about its prompts (a fake in unit tests).
protocol PromptPosting: AnyObject {
    func requestAuthorizationIfNeeded()
    func post(_ prompt: InputNeeded)
    func clear(sessionId: String, seq: UInt64)
}

/// Whoever acts on notification responses (the app model).
@MainActor
protocol PromptResponder: AnyObject {
    /// The session whose screen is open (it gets no system banner).
    var visibleSession: String? { get }
    /// Acts on a response; returns once done (an answer was sent or refused).
    func respond(to response: PromptResponse) async
}

/// Local notifications (UNUserNotificationCenter; no remote push) for the
/// prompts of attached sessions. One notification per prompt, identified by
/// session and seq, with a category of its own carrying up to three choices
/// as actions; `userInfo` carries the session id, the seq and the labels.
/// `input_cleared` removes it. Also the center's delegate: a tap opens the
/// session, an action answers through the app model.
final class PromptNotifier: NSObject, UNUserNotificationCenterDelegate, PromptPosting,
    @unchecked Sendable
{
    static let shared = PromptNotifier()

    static let sessionKey = "dd.session"
    static let seqKey = "dd.seq"
    static let choicesKey = "dd.choices"
    static let actionPrefix = "dd.choice."
    /// At most this many choices become notification actions.
    static let maxActions = 3

    private let center = UNUserNotificationCenter.current()
    private let lock = NSLock()
    private var categories: [String: UNNotificationCategory] = [:]
    private var askedForAuthorization = false
    /// Responses that arrived before the app model was connected, each
    /// with the completion handler iOS waits for (main actor only).
    private var queued: [(PromptResponse, () -> Void)] = []
    private weak var responder: PromptResponder?

    /// Becomes the center's delegate; call before launch finishes.
    func install() {
        center.delegate = self
    }

    /// Connects the app model (in `didFinishLaunching`, before any scene:
    /// an action on the lock screen launches the app in the background,
    /// without one). Responses that came first are handled now, each once;
    /// the core checks an answer against the prompt waiting now, so a late
    /// one is refused, never typed into a newer question.
    @MainActor
    func connect(_ newResponder: PromptResponder) {
        responder = newResponder
        let pending = queued
        queued.removeAll()
        for (response, done) in pending {
            Task {
                await newResponder.respond(to: response)
                done()
            }
        }
    }

    static func identifier(sessionId: String, seq: UInt64) -> String {
        "dd.prompt.\(sessionId).\(seq)"
    }

    /// Asks once per launch, at the first attach; the system remembers the
    /// user's answer and does not ask again.
    func requestAuthorizationIfNeeded() {
        lock.lock()
        let first = !askedForAuthorization
        askedForAuthorization = true
        lock.unlock()
        guard first else { return }
        center.requestAuthorization(options: [.alert, .sound, .badge]) { _, _ in }
    }

    /// Posts the prompt now (no trigger) with its first three choices.
    func post(_ prompt: InputNeeded) {
        let id = Self.identifier(sessionId: prompt.sessionId, seq: prompt.seq)
        let shown: [PromptChoice] = Array(prompt.choices.prefix(Self.maxActions))
        let actions = shown.enumerated().map { index, choice in
            // Answering types into a shell: unlock first (Face ID or code),
            // then it runs in the background without opening the app.
            UNNotificationAction(
                identifier: Self.actionPrefix + String(index), title: choice.label,
                options: [.authenticationRequired])
        }
        let category = UNNotificationCategory(
            identifier: id, actions: actions, intentIdentifiers: [], options: [])
        updateCategories { $0[id] = category }

        let content = UNMutableNotificationContent()
        content.title = prompt.title.isEmpty ? "dd" : prompt.title
        content.body = prompt.body.isEmpty ? prompt.prompt : prompt.body
        content.sound = .default
        content.categoryIdentifier = id
        content.threadIdentifier = prompt.sessionId
        content.userInfo = [
            Self.sessionKey: prompt.sessionId,
            Self.seqKey: String(prompt.seq),
            Self.choicesKey: shown.map { $0.label },
        ]
        let request = UNNotificationRequest(identifier: id, content: content, trigger: nil)
        center.add(request) { _ in }
    }

    /// The prompt no longer waits: its notification and category go.
    func clear(sessionId: String, seq: UInt64) {
        let id = Self.identifier(sessionId: sessionId, seq: seq)
        center.removeDeliveredNotifications(withIdentifiers: [id])
        center.removePendingNotificationRequests(withIdentifiers: [id])
        updateCategories { $0[id] = nil }
    }

    private func updateCategories(_ change: (inout [String: UNNotificationCategory]) -> Void) {
        lock.lock()
        change(&categories)
        let all = Set(categories.values)
        lock.unlock()
        center.setNotificationCategories(all)
    }

    /// What a response means, from the notification's `userInfo`.
    static func response(userInfo: [AnyHashable: Any], action: String) -> PromptResponse? {
        guard let sessionId = userInfo[sessionKey] as? String else { return nil }
        guard action.hasPrefix(actionPrefix) else {
            return action == UNNotificationDefaultActionIdentifier ? .open(sessionId: sessionId) : nil
        }
        guard let seq = (userInfo[seqKey] as? String).flatMap({ UInt64($0) }),
            let labels = userInfo[choicesKey] as? [String],
            let index = Int(action.dropFirst(actionPrefix.count)),
            labels.indices.contains(index)
        else { return nil }
        return .answer(sessionId: sessionId, seq: seq, choice: labels[index])
    }

    // MARK: UNUserNotificationCenterDelegate

    /// In the foreground: no system banner for the session on screen (it
    /// shows its own in-app banner); a banner for any other.
    func userNotificationCenter(
        _ center: UNUserNotificationCenter, willPresent notification: UNNotification,
        withCompletionHandler completionHandler: @escaping (UNNotificationPresentationOptions) -> Void
    ) {
        let sessionId = notification.request.content.userInfo[Self.sessionKey] as? String
        DispatchQueue.main.async { [weak self] in
            MainActor.assumeIsolated {
                let onScreen = sessionId != nil && self?.responder?.visibleSession == sessionId
                completionHandler(onScreen ? [] : [.banner, .list, .sound])
            }
        }
    }

    /// A tap opens the session; an action answers the prompt.
    func userNotificationCenter(
        _ center: UNUserNotificationCenter, didReceive response: UNNotificationResponse,
        withCompletionHandler completionHandler: @escaping () -> Void
    ) {
        let parsed = Self.response(
            userInfo: response.notification.request.content.userInfo,
            action: response.actionIdentifier)
        DispatchQueue.main.async { [weak self] in
            MainActor.assumeIsolated {
                guard let self, let parsed else {
                    completionHandler()
                    return
                }
                guard let responder = self.responder else {
                    // Completed once handled, so iOS keeps the app running
                    // until the answer went out.
                    self.queued.append((parsed, completionHandler))
                    return
                }
                Task {
                    await responder.respond(to: parsed)
                    completionHandler()
                }
            }
        }
    }
}
