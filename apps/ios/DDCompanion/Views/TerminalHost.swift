import SwiftTerm
import SwiftUI
import UIKit

/// SwiftTerm's `TerminalView` in a scroll view, sized to the session's own
/// rows × cols (the phone only displays; it never resizes the PTY). The font
/// fits the session's width, never below a readable floor (then the scroll
/// view pans); pinch zooms it and the zoom is remembered per session. Any
/// change of the space (rotation, split view, the keyboard) or of the
/// session's size lays it out again; with the keyboard up the cursor row
/// stays visible.
struct TerminalHost: UIViewRepresentable {
    let controller: SessionController

    /// The smallest font the fit goes down to (points).
    static let minimumFontSize: CGFloat = 9
    static let maximumFontSize: CGFloat = 40

    func makeCoordinator() -> Coordinator {
        Coordinator(controller: controller)
    }

    func makeUIView(context: Context) -> LayoutReportingScrollView {
        let coordinator = context.coordinator
        let scroll = LayoutReportingScrollView()
        scroll.backgroundColor = .black
        scroll.accessibilityIdentifier = "session.terminal"
        scroll.addSubview(coordinator.terminal)
        let pinch = UIPinchGestureRecognizer(
            target: coordinator, action: #selector(Coordinator.pinch(_:)))
        scroll.addGestureRecognizer(pinch)
        scroll.onSizeChange = { [weak coordinator] in coordinator?.layout() }
        coordinator.scroll = scroll
        controller.install(sink: coordinator)
        return scroll
    }

    func updateUIView(_ scroll: LayoutReportingScrollView, context: Context) {
        context.coordinator.layout()
    }

    static func dismantleUIView(_ scroll: LayoutReportingScrollView, coordinator: Coordinator) {
        coordinator.controller.uninstall(sink: coordinator)
    }

    /// The font size for `cols` columns across `width` at `zoom`, clamped.
    static func fontSize(width: CGFloat, cols: Int, zoom: CGFloat, advancePerPoint: CGFloat)
        -> CGFloat
    {
        guard width > 0, cols > 0, advancePerPoint > 0 else { return minimumFontSize }
        let fitted = width / (CGFloat(cols) * advancePerPoint)
        let size = ((fitted * zoom) * 2).rounded(.down) / 2
        return min(max(size, minimumFontSize), maximumFontSize)
    }

    @MainActor
    final class Coordinator: NSObject, TerminalViewDelegate, TerminalSink {
        let controller: SessionController
        let terminal: ViewerTerminalView
        weak var scroll: UIScrollView?
        private var pinchStart: Double?

        init(controller: SessionController) {
            let view = ViewerTerminalView(frame: CGRect(x: 0, y: 0, width: 320, height: 240))
            view.typingAllowed = !controller.readOnly
            // One key bar: the app's (SwiftUI, above the keyboard), not
            // SwiftTerm's TerminalAccessory too.
            view.inputAccessoryView = nil
            // The outer scroll view pans; the emulator's own scrollback is
            // wiped by every snapshot, the core's History is the scrollback.
            view.isScrollEnabled = false
            self.controller = controller
            terminal = view
            super.init()
            terminal.terminalDelegate = self
        }

        /// Fits the font and sizes the view to exactly `rows` × `cols` cells.
        func layout() {
            guard let scroll, scroll.bounds.width > 0 else { return }
            let cols = max(controller.cols, 2)
            let rows = max(controller.rows, 1)
            let probe = UIFont.monospacedSystemFont(ofSize: 100, weight: .regular)
            let advance = ("W" as NSString).size(withAttributes: [.font: probe]).width / 100
            let size = TerminalHost.fontSize(
                width: scroll.bounds.width, cols: cols, zoom: CGFloat(controller.zoom),
                advancePerPoint: advance)
            if terminal.font.pointSize != size {
                terminal.font = UIFont.monospacedSystemFont(ofSize: size, weight: .regular)
            }
            let font = terminal.font
            let cellWidth = ("W" as NSString).size(withAttributes: [.font: font]).width
            let cellHeight = ceil(font.ascender - font.descender + font.leading)
            let frame = CGRect(
                x: 0, y: 0,
                width: ceil(cellWidth * CGFloat(cols)) + 1,
                height: ceil(cellHeight * CGFloat(rows)) + 1)
            if terminal.frame != frame {
                terminal.frame = frame
            }
            scroll.contentSize = frame.size
            let engine = terminal.getTerminal()
            if engine.cols != cols || engine.rows != rows {
                engine.resize(cols: cols, rows: rows)
            }
            keepCursorVisible(cellHeight: cellHeight)
        }

        /// With the keyboard up, scrolls so the cursor row is on screen.
        private func keepCursorVisible(cellHeight: CGFloat? = nil) {
            guard let scroll, terminal.isFirstResponder else { return }
            let font = terminal.font
            let height = cellHeight ?? ceil(font.ascender - font.descender + font.leading)
            let row = terminal.getTerminal().getCursorLocation().y
            let rect = CGRect(
                x: scroll.contentOffset.x, y: CGFloat(row) * height, width: 1, height: height)
            scroll.scrollRectToVisible(rect.insetBy(dx: 0, dy: -height / 2), animated: false)
        }

        @objc func pinch(_ gesture: UIPinchGestureRecognizer) {
            switch gesture.state {
            case .began:
                pinchStart = controller.zoom
            case .changed, .ended:
                let start = pinchStart ?? controller.zoom
                let zoomed = start * Double(gesture.scale)
                controller.zoom = min(max(zoomed, ZoomStore.range.lowerBound), ZoomStore.range.upperBound)
                layout()
                if gesture.state == .ended {
                    pinchStart = nil
                }
            default:
                pinchStart = nil
            }
        }

        // MARK: TerminalSink

        func repaint(rows: Int, cols: Int, data: Data) {
            layout()
            // RIS: full reset, then the snapshot repaints the screen.
            terminal.feed(text: "\u{1b}c")
            terminal.feed(byteArray: [UInt8](data)[...])
            keepCursorVisible()
        }

        func feed(_ data: Data) {
            terminal.feed(byteArray: [UInt8](data)[...])
            keepCursorVisible()
        }

        func sizeChanged(rows: Int, cols: Int) {
            layout()
        }

        // MARK: TerminalViewDelegate (called by UIKit on the main thread)

        /// Only the user's own keys arrive here: the emulator's automatic
        /// replies are dropped by `ViewerTerminalView`.
        nonisolated func send(source: TerminalView, data: ArraySlice<UInt8>) {
            let bytes = Data(data)
            MainActor.assumeIsolated {
                controller.send(bytes)
            }
        }

        nonisolated func sizeChanged(source: TerminalView, newCols: Int, newRows: Int) {
            // Display only: the PTY keeps the owner's size.
        }

        nonisolated func setTerminalTitle(source: TerminalView, title: String) {}

        nonisolated func hostCurrentDirectoryUpdate(source: TerminalView, directory: String?) {}

        nonisolated func scrolled(source: TerminalView, position: Double) {}

        nonisolated func requestOpenLink(source: TerminalView, link: String, params: [String: String]) {
            guard let url = URL(string: link), url.scheme == "https" || url.scheme == "http" else {
                return
            }
            DispatchQueue.main.async {
                UIApplication.shared.open(url)
            }
        }

        nonisolated func bell(source: TerminalView) {}

        nonisolated func clipboardCopy(source: TerminalView, content: Data) {
            let text = String(decoding: content, as: UTF8.self)
            DispatchQueue.main.async {
                UIPasteboard.general.string = text
            }
        }

        nonisolated func iTermContent(source: TerminalView, content: ArraySlice<UInt8>) {}

        nonisolated func rangeChanged(source: TerminalView, startY: Int, endY: Int) {}
    }
}

/// A scroll view that reports when its size changes (rotation, split view,
/// Stage Manager, the keyboard); `layoutSubviews` also runs on every scroll,
/// so only a new size is reported.
final class LayoutReportingScrollView: UIScrollView {
    var onSizeChange: (@MainActor () -> Void)?
    private var laidOutSize: CGSize = .zero

    override func layoutSubviews() {
        super.layoutSubviews()
        guard bounds.size != laidOutSize else { return }
        laidOutSize = bounds.size
        onSizeChange?()
    }
}

/// The session's terminal as the phone shows it. The emulator answers
/// queries in the output (device attributes, cursor position, colours) by
/// calling `send(source: Terminal, ...)`; those replies belong to whoever
/// owns the PTY, never to a viewer, so they are dropped here. The user's
/// keys (and paste) go through `send(data:)` to the delegate as before.
final class ViewerTerminalView: TerminalView {
    /// False on a read-only grant: the keyboard never comes up.
    var typingAllowed = true

    override func send(source: Terminal, data: ArraySlice<UInt8>) {}

    override var canBecomeFirstResponder: Bool {
        typingAllowed
    }
}
