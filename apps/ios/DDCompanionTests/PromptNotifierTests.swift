import UserNotifications
import XCTest
@testable import DDCompanion

/// How a notification response maps to an intent.
final class PromptNotifierTests: XCTestCase {
    private let info: [AnyHashable: Any] = [
        PromptNotifier.sessionKey: "s_00ff",
        PromptNotifier.seqKey: "3",
        PromptNotifier.choicesKey: ["Yes", "No"],
    ]

    func testTapOpensTheSession() {
        XCTAssertEqual(
            PromptNotifier.response(userInfo: info, action: UNNotificationDefaultActionIdentifier),
            .open(sessionId: "s_00ff"))
    }

    func testActionsAnswerByLabel() {
        XCTAssertEqual(
            PromptNotifier.response(userInfo: info, action: PromptNotifier.actionPrefix + "1"),
            .answer(sessionId: "s_00ff", seq: 3, choice: "No"))
    }

    func testMalformedResponsesAreIgnored() {
        XCTAssertNil(PromptNotifier.response(userInfo: info, action: PromptNotifier.actionPrefix + "2"))
        XCTAssertNil(PromptNotifier.response(userInfo: info, action: PromptNotifier.actionPrefix + "x"))
        XCTAssertNil(PromptNotifier.response(userInfo: info, action: UNNotificationDismissActionIdentifier))
        XCTAssertNil(PromptNotifier.response(userInfo: [:], action: UNNotificationDefaultActionIdentifier))
        var noSeq = info
        noSeq[PromptNotifier.seqKey] = "three"
        XCTAssertNil(PromptNotifier.response(userInfo: noSeq, action: PromptNotifier.actionPrefix + "0"))
    }

    func testIdentifiersNameSessionAndSeq() {
        XCTAssertEqual(PromptNotifier.identifier(sessionId: "s_1", seq: 7), "dd.prompt.s_1.7")
    }
}
