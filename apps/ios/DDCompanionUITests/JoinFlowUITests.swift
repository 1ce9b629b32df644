import XCTest

/// Types a real pairing link (minted by the CI workflow against a real
/// agent and passed as DD_TEST_LINK) and reaches the live Session screen.
final class JoinFlowUITests: XCTestCase {
    override func setUpWithError() throws {
        continueAfterFailure = false
    }

    /// The first attach asks for notification permission. The alert is
    /// SpringBoard's, not the app's: tap Allow there when it shows (it does
    /// only on the first run on a simulator). An interruption monitor covers
    /// it appearing later, while the test interacts with the app.
    private func allowNotificationsIfAsked(timeout: TimeInterval) {
        let springboard = XCUIApplication(bundleIdentifier: "com.apple.springboard")
        let allow = springboard.alerts.buttons["Allow"]
        if allow.waitForExistence(timeout: timeout) {
            allow.tap()
        }
    }

    func testJoinWithALinkReachesTheSession() throws {
        guard let link = ProcessInfo.processInfo.environment["DD_TEST_LINK"], !link.isEmpty else {
            throw XCTSkip("DD_TEST_LINK is not set (the CI workflow sets it)")
        }
        let monitor = addUIInterruptionMonitor(withDescription: "Notification permission") { alert in
            let allow = alert.buttons["Allow"]
            guard allow.exists else { return false }
            allow.tap()
            return true
        }
        defer { removeUIInterruptionMonitor(monitor) }
        let app = XCUIApplication()
        app.launch()

        // A vertical-axis TextField may surface as a text field or a text view.
        XCTAssertTrue(app.descendants(matching: .any)["join.link"].waitForExistence(timeout: 20))
        let field = app.textFields["join.link"].exists
            ? app.textFields["join.link"] : app.textViews["join.link"]
        field.tap()
        field.typeText(link)

        let join = app.buttons["join.join"]
        XCTAssertTrue(join.waitForExistence(timeout: 20), "the offer should be shown")
        join.tap()

        let terminal = app.descendants(matching: .any)["session.terminal"]
        XCTAssertTrue(terminal.waitForExistence(timeout: 60), "should reach the Session screen")
        allowNotificationsIfAsked(timeout: 10)

        let state = app.staticTexts["session.state"]
        XCTAssertTrue(state.waitForExistence(timeout: 20))
        let live = NSPredicate(format: "label == %@", "Live")
        expectation(for: live, evaluatedWith: state)
        waitForExpectations(timeout: 60)

        XCTAssertTrue(app.buttons["key.Esc"].exists, "one key bar, the app's")
        app.buttons["answer.y"].tap()
        app.buttons["session.history"].tap()
        XCTAssertTrue(
            app.descendants(matching: .any)["history.loadEarlier"].waitForExistence(timeout: 20)
                || app.staticTexts["history.start"].waitForExistence(timeout: 5),
            "the scrollback sheet loads from the core")
        app.buttons["history.done"].tap()
        app.buttons["session.detach"].tap()
        XCTAssertTrue(field.waitForExistence(timeout: 20))
    }
}
