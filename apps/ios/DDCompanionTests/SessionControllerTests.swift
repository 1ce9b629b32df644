import XCTest
@testable import DDCompanion

/// `SessionController` against a fake core: it renders and forwards, and
/// never leaves a stream running that nobody looks at.
@MainActor
final class SessionControllerTests: XCTestCase {
    private var core: FakeCompanion!
    private var notifier: FakeNotifier!
    private var defaults: UserDefaults!

    override func setUp() async throws {
        core = FakeCompanion()
        notifier = FakeNotifier()
        defaults = scratchDefaults()
    }

    private func controller(_ sessionId: String = "s_1", readOnly: Bool = false) -> SessionController {
        SessionController(
            sessionId: sessionId, readOnly: readOnly, companion: core, notifier: notifier,
            zoom: ZoomStore(defaults: defaults))
    }

    /// A controller whose attach has started and not finished yet.
    private func controllerStillConnecting() async -> SessionController {
        core.holdAttach.update { $0 = true }
        let c = controller()
        c.start()
        await eventually("attach in flight") { self.core.isHoldingAttach }
        return c
    }

    func testStartAttachesOnceAndForwardsTheUsersKeys() async {
        let c = controller()
        c.start()
        c.start()
        await eventually("attached") { self.core.attaches.get().count == 1 }
        XCTAssertEqual(core.attachCalls.get(), 1)
        XCTAssertEqual(notifier.asked, 1)
        c.send(text: "ls\r")
        let attach = core.attaches.get()[0]
        await eventually("keys sent") { attach.sent.get() == [Data("ls\r".utf8)] }
        c.leave()
        await eventually("detached") { attach.detached.get() == 1 }
    }

    func testLeavingWhileConnectingEndsTheLateStream() async {
        let c = await controllerStillConnecting()
        c.leave()
        core.releaseAttach()
        await eventually("late stream detached") {
            self.core.attaches.get().first?.detached.get() == 1
        }
        // Nothing is sent on it afterwards.
        c.send(text: "x")
        try? await Task.sleep(nanoseconds: 50_000_000)
        XCTAssertEqual(core.attaches.get()[0].sent.get(), [])
    }

    func testComingBackWhileConnectingKeepsTheStream() async {
        let c = await controllerStillConnecting()
        c.leave()
        c.start()
        core.releaseAttach()
        await eventually("attached") { self.core.attaches.get().count == 1 }
        c.send(text: "y")
        let attach = core.attaches.get()[0]
        await eventually("sent") { attach.sent.get().count == 1 }
        XCTAssertEqual(attach.detached.get(), 0)
        XCTAssertEqual(core.attachCalls.get(), 1)
    }

    func testReadOnlySendsNothing() async {
        let c = controller(readOnly: true)
        c.start()
        await eventually("attached") { self.core.attaches.get().count == 1 }
        c.inputNeeded(prompt(1))
        c.send(text: "rm -rf /\r")
        c.answer(choice: "Yes")
        try? await Task.sleep(nanoseconds: 50_000_000)
        let attach = core.attaches.get()[0]
        XCTAssertEqual(attach.sent.get(), [])
        XCTAssertEqual(attach.answers.get(), [])
    }

    func testBannerAnswerGoesThroughTheCore() async {
        let c = controller()
        c.start()
        await eventually("attached") { self.core.attaches.get().count == 1 }
        c.answer(choice: "Yes")  // nothing waits: nothing sent
        c.inputNeeded(prompt(4))
        XCTAssertEqual(notifier.posted, [4])
        c.answer(choice: "Yes")
        let attach = core.attaches.get()[0]
        await eventually("answered") { attach.answers.get() == ["Yes"] }
        c.inputCleared(seq: 3)
        XCTAssertNotNil(c.prompt, "another prompt's clear leaves this one")
        c.inputCleared(seq: 4)
        XCTAssertNil(c.prompt)
        XCTAssertEqual(notifier.cleared, [3, 4])
    }

    func testOutputBeforeTheViewIsReplayedAndASizeChangeRelaysOut() {
        let c = controller()
        c.snapshot(rows: 30, cols: 100, data: Data("screen".utf8))
        c.output(Data("+more".utf8))
        let sink = FakeSink()
        c.install(sink: sink)
        XCTAssertEqual(sink.repaints.count, 1)
        XCTAssertEqual(sink.repaints[0].rows, 30)
        XCTAssertEqual(sink.repaints[0].cols, 100)
        XCTAssertEqual(sink.repaints[0].data, Data("screen+more".utf8))
        c.output(Data("live".utf8))
        XCTAssertEqual(sink.fed, Data("live".utf8))

        c.update(meta: FakeCompanion.meta("s_1", rows: 30, cols: 100))
        XCTAssertTrue(sink.sizes.isEmpty, "same size: no re-layout")
        c.update(meta: FakeCompanion.meta("s_1", rows: 40, cols: 120))
        XCTAssertEqual(sink.sizes.map { [$0.rows, $0.cols] }, [[40, 120]])
        XCTAssertEqual([c.rows, c.cols], [40, 120])
        c.uninstall(sink: sink)
        c.output(Data("later".utf8))
        XCTAssertEqual(sink.fed, Data("live".utf8))
    }

    func testHistoryIsKeptAcrossSnapshotsAndAttaches() async {
        let c = controller()
        await c.loadOlderHistory()
        XCTAssertEqual(c.history?.lines, ["b"])
        await c.loadOlderHistory()
        XCTAssertEqual(c.history?.lines, ["a", "b"])
        XCTAssertEqual(c.history?.atBeginning, true)
        c.snapshot(rows: 24, cols: 80, data: Data("new screen".utf8))
        c.start()
        await eventually("attached") { self.core.attaches.get().count == 1 }
        XCTAssertEqual(c.history?.lines, ["a", "b"])
        await c.loadNewerHistory()
        XCTAssertEqual(c.history?.lines, ["a", "b", "c"])
        XCTAssertEqual(core.history.olderCalls.get(), 2)
        XCTAssertEqual(core.history.newerCalls.get(), 1)
    }

    func testZoomIsRememberedPerSession() {
        let first = controller("s_1")
        XCTAssertEqual(first.zoom, 1)
        first.zoom = 2.5
        XCTAssertEqual(controller("s_1").zoom, 2.5)
        XCTAssertEqual(controller("s_2").zoom, 1)
        defaults.set(99.0, forKey: "dd.zoom.s_3")
        XCTAssertEqual(controller("s_3").zoom, ZoomStore.range.upperBound)
    }

    func testFinalStateDropsTheStream() async {
        let c = controller()
        c.start()
        await eventually("attached") { self.core.attaches.get().count == 1 }
        c.update(state: .revoked)
        c.send(text: "x")
        try? await Task.sleep(nanoseconds: 50_000_000)
        XCTAssertEqual(core.attaches.get()[0].sent.get(), [])
        // A later start attaches again.
        c.start()
        await eventually("attached again") { self.core.attaches.get().count == 2 }
    }

    func testTheFontFitsTheWidthWithAFloor() {
        // 80 columns of 0.6 pt per point across 480 pt: 10 pt.
        XCTAssertEqual(
            TerminalHost.fontSize(width: 480, cols: 80, zoom: 1, advancePerPoint: 0.6), 10)
        XCTAssertEqual(
            TerminalHost.fontSize(width: 480, cols: 80, zoom: 2, advancePerPoint: 0.6), 20)
        // 200 columns on a phone: the floor, and the view pans.
        XCTAssertEqual(
            TerminalHost.fontSize(width: 390, cols: 200, zoom: 1, advancePerPoint: 0.6),
            TerminalHost.minimumFontSize)
        XCTAssertEqual(
            TerminalHost.fontSize(width: 2000, cols: 10, zoom: 4, advancePerPoint: 0.6),
            TerminalHost.maximumFontSize)
    }
}
