import SwiftUI
import UIKit

/// How core values are shown to people. Pure functions, easy to test.
enum Display {
    /// The connection-state pill's text and colour.
    static func state(_ state: ConnectionState) -> (text: String, color: Color) {
        switch state {
        case .connecting:
            return ("Connecting", .orange)
        case .live:
            return ("Live", .green)
        case .reconnecting(let attempt, let retryInMs):
            let seconds = Double(retryInMs) / 1000
            return ("Reconnecting (attempt \(attempt), \(String(format: "%.1f", seconds)) s)", .orange)
        case .revoked:
            return ("Revoked", .red)
        case .expired:
            return ("Expired", .red)
        case .sessionEnded(let exitCode):
            let code = exitCode.map { "code \($0)" } ?? "no exit code"
            return ("Session ended (\(code))", .gray)
        case .detached:
            return ("Detached", .gray)
        case .failed(let message):
            return ("Failed: \(message)", .red)
        }
    }

    /// True when the core will not reconnect any more.
    static func isFinal(_ state: ConnectionState) -> Bool {
        switch state {
        case .connecting, .live, .reconnecting:
            return false
        case .revoked, .expired, .sessionEnded, .detached, .failed:
            return true
        }
    }

    /// A sentence for any error the core (or the Keychain) throws.
    static func message(for error: Error) -> String {
        guard let error = error as? MobileError else {
            return error.localizedDescription
        }
        switch error {
        case .NotDdLink:
            return "That is not a dd link."
        case .LinkExpired:
            return "This pairing link has expired. Ask for a new one on the desktop."
        case .InvalidLink(let reason):
            return "This link is not valid: \(reason)."
        case .Denied(let code, let message):
            return "The agent refused (\(code)): \(message)"
        case .Agent(let code, let message):
            return "Agent error (\(code)): \(message)"
        case .Network(let message):
            return "Cannot reach the agent: \(message)"
        case .Handshake(let message):
            return "Secure handshake failed: \(message)"
        case .Storage(let message):
            return "Keychain error: \(message)"
        case .NotFound(let sessionId):
            return "No saved pairing for session \(sessionId)."
        }
    }

    /// The status shown for a session whose metadata could not be loaded.
    static func status(for error: Error) -> String {
        if case MobileError.Denied(let code, _) = error {
            return code == "revoked" ? "revoked" : "denied (\(code))"
        }
        if case MobileError.Network = error {
            return "unreachable"
        }
        return "unknown"
    }

    /// Why a notification answer was not sent, as a sentence.
    static func answerProblem(_ error: Error) -> String {
        if case MobileError.Agent(let code, _) = error,
            code == "stale_prompt" || code == "not_waiting"
        {
            return "That question no longer waits for an answer; nothing was sent."
        }
        return message(for: error)
    }

    /// A default device label the desktop can tell apart: since iOS 16
    /// `UIDevice.name` is only "iPhone" or "iPad", so add when it paired.
    @MainActor
    static func defaultLabel(model: String = UIDevice.current.model, now: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return "\(model) (dd, \(formatter.string(from: now)))"
    }

    /// "in 4 min" / "expired 2 h ago" for a Unix time.
    static func expiry(_ unixSeconds: Int64) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(unixSeconds))
        let relative = RelativeDateTimeFormatter().localizedString(for: date, relativeTo: Date())
        return date < Date() ? "expired \(relative)" : "expires \(relative)"
    }
}
