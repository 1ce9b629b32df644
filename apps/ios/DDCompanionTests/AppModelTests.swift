import XCTest
@testable import DDCompanion

/// `AppModel` against a fake core.
@MainActor
final class AppModelTests: XCTestCase {
    private var core: FakeCompanion!
    private var model: AppModel!

    override func setUp() async throws {
        core = FakeCompanion()
        core.credentials = [FakeCompanion.credential("s_up"), FakeCompanion.credential("s_down")]
        core.statuses = ["s_up": "running"]
        model = AppModel(
            companion: core, notifier: FakeNotifier(), zoom: ZoomStore(defaults: scratchDefaults()),
            label: "test phone")
    }

    func testRefreshReturnsOnceEveryStatusIsIn() async {
        await model.refresh()
        XCTAssertEqual(model.credentials.map(\.sessionId), ["s_up", "s_down"])
        XCTAssertEqual(model.statuses, ["s_up": "running", "s_down": "unreachable"])
    }

    func testJoinOpensTheSessionOrSaysWhyNot() async {
        // Without a parsed offer nothing is redeemed.
        await model.join()
        XCTAssertTrue(model.path.isEmpty)
        XCTAssertNil(model.alert)

        model.setLink("not a link")
        XCTAssertNil(model.offer)
        XCTAssertNotNil(model.linkError)

        // A real link, parsed by the core; the fake redeems it.
        let exp = Int64(Date().timeIntervalSince1970) + 600
        let link = "dd://pair?v=1&agent=http%3A%2F%2F127.0.0.1%3A7777"
            + "&key=ERERERERERERERERERERERERERERERERERERERERERE&exp=\(exp)&s=s_new"
            + "#t=AAECAwQFBgcICQoLDA0ODw"
        core.redeemError = MobileError.Denied(code: "token_used", message: "used")
        model.setLink(link)
        XCTAssertNotNil(model.offer)
        await model.join()
        XCTAssertTrue(model.path.isEmpty)
        XCTAssertEqual(model.alert, "The agent refused (token_used): used")
        XCTAssertEqual(model.linkText, link, "a refused link stays to retry or fix")

        core.redeemError = nil
        model.alert = nil
        await model.join()
        XCTAssertEqual(model.path, ["s_new"])
        XCTAssertEqual(model.linkText, "")
        XCTAssertEqual(core.credentials.last?.label, "test phone")
        XCTAssertTrue(model.credentials.contains { $0.sessionId == "s_new" })
    }

    func testAnswerFromANotificationGoesThroughTheCoreOnce() async {
        await model.respond(to: .answer(sessionId: "s_up", seq: 7, choice: "Yes"))
        let answered = core.answered.get()
        XCTAssertEqual(answered.count, 1)
        XCTAssertEqual(answered.first?.0, "s_up")
        XCTAssertEqual(answered.first?.1, 7)
        XCTAssertEqual(answered.first?.2, "Yes")
        // No attach was opened for it: nothing keeps streaming afterwards.
        XCTAssertEqual(core.attachCalls.get(), 0)
        XCTAssertNil(model.alert)
    }

    func testAStaleAnswerIsReportedNotRetried() async {
        core.answerError = MobileError.Agent(code: "stale_prompt", message: "question 7 no longer waits")
        await model.respond(to: .answer(sessionId: "s_up", seq: 7, choice: "Yes"))
        XCTAssertEqual(core.answered.get().count, 1)
        XCTAssertEqual(model.alert, "That question no longer waits for an answer; nothing was sent.")
        // With the session on screen the notice goes there instead.
        model.alert = nil
        let controller = model.controller(for: "s_up")
        await model.respond(to: .answer(sessionId: "s_up", seq: 8, choice: "Yes"))
        XCTAssertNil(model.alert)
        XCTAssertEqual(controller.notice, "That question no longer waits for an answer; nothing was sent.")
    }

    func testATapOpensTheSession() async {
        await model.respond(to: .open(sessionId: "s_up"))
        XCTAssertEqual(model.path, ["s_up"])
    }

    func testLifecycleGoesToTheCore() {
        model.scenePhaseChanged(active: true, background: false)
        model.scenePhaseChanged(active: false, background: false)
        model.scenePhaseChanged(active: false, background: true)
        model.networkPathChanged()
        XCTAssertEqual(core.lifecycle.get(), ["active", "background", "network"])
    }

    func testControllersAreOnePerSessionAndKnowReadOnly() async {
        core.credentials.append(FakeCompanion.credential("s_ro", readOnly: true))
        await model.refresh()
        XCTAssertTrue(model.controller(for: "s_up") === model.controller(for: "s_up"))
        XCTAssertFalse(model.controller(for: "s_up").readOnly)
        XCTAssertTrue(model.controller(for: "s_ro").readOnly)
    }

    func testForgetEndsTheStreamAndRefreshes() async {
        let controller = model.controller(for: "s_up")
        controller.start()
        await eventually("attached") { self.core.attaches.get().count == 1 }
        await model.forget(sessionId: "s_up")
        await eventually("detached") { self.core.attaches.get()[0].detached.get() == 1 }
        XCTAssertEqual(model.credentials.map(\.sessionId), ["s_down"])
    }

    func testTheDefaultLabelIsDistinguishable() {
        let date = Date(timeIntervalSince1970: 1_764_000_000)
        let label = Display.defaultLabel(model: "iPhone", now: date)
        XCTAssertTrue(label.hasPrefix("iPhone (dd, "), label)
        XCTAssertNotEqual(label, "iPhone")
        XCTAssertNotEqual(label, Display.defaultLabel(model: "iPhone", now: date.addingTimeInterval(60)))
    }

    func testAnOpenedLinkGoesBackToTheJoinFlow() {
        model.path = ["s_up"]
        model.scanning = true
        model.handle(url: URL(string: "dd://pair?v=1")!)
        XCTAssertTrue(model.path.isEmpty)
        XCTAssertFalse(model.scanning)
        XCTAssertEqual(model.linkText, "dd://pair?v=1")
    }
}
