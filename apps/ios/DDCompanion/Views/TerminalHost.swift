import SwiftTerm
import SwiftUI
import UIKit

/// SwiftTerm's `TerminalView` in a scroll view, sized to the session's own
/// rows × cols (the phone only displays; it never resizes the PTY). The font
/// is fitted to the width; pinch zooms it, and the scroll view pans.
struct TerminalHost: UIViewRepresentable {
    let controller: SessionController

    func makeCoordinator() -> Coordinator {
        Coordinator(controller: controller)
    }

    func makeUIView(context: Context) -> UIScrollView {
        let coordinator = context.coordinator
        let scroll = UIScrollView()
        scroll.backgroundColor = .black
        scroll.addSubview(coordinator.terminal)
        let pinch = UIPinchGestureRecognizer(
            target: coordinator, action: #selector(Coordinator.pinch(_:)))
        scroll.addGestureRecognizer(pinch)
        coordinator.scroll = scroll
        controller.install(sink: coordinator)
        return scroll
    }

    func updateUIView(_ scroll: UIScrollView, context: Context) {
        context.coordinator.layout()
    }

    static func dismantleUIView(_ scroll: UIScrollView, coordinator: Coordinator) {
        coordinator.controller.uninstall(sink: coordinator)
    }

    @MainActor
    final class Coordinator: NSObject, TerminalViewDelegate, TerminalSink {
        let controller: SessionController
        let terminal: TerminalView
        weak var scroll: UIScrollView?
        private var zoom: CGFloat = 1

        init(controller: SessionController) {
            self.controller = controller
            terminal = TerminalView(frame: CGRect(x: 0, y: 0, width: 320, height: 240))
            super.init()
            terminal.terminalDelegate = self
        }

        /// Fits the font so `cols` columns fill the width (times the pinch
        /// zoom) and sizes the view to exactly `rows` × `cols` cells.
        func layout() {
            guard let scroll, scroll.bounds.width > 0 else { return }
            let cols = max(controller.cols, 2)
            let rows = max(controller.rows, 1)
            let probe = UIFont.monospacedSystemFont(ofSize: 100, weight: .regular)
            let advance = ("W" as NSString).size(withAttributes: [.font: probe]).width / 100
            let fitted = scroll.bounds.width / (CGFloat(cols) * advance)
            let size = min(max((fitted * zoom).rounded(.down), 4), 48)
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
        }

        @objc func pinch(_ gesture: UIPinchGestureRecognizer) {
            guard gesture.state == .changed || gesture.state == .ended else { return }
            zoom = min(max(zoom * gesture.scale, 0.5), 4)
            gesture.scale = 1
            layout()
        }

        // MARK: TerminalSink

        func repaint(rows: Int, cols: Int, data: Data) {
            layout()
            // RIS: full reset, then the snapshot repaints the screen.
            terminal.feed(text: "\u{1b}c")
            terminal.feed(byteArray: [UInt8](data)[...])
        }

        func feed(_ data: Data) {
            terminal.feed(byteArray: [UInt8](data)[...])
        }

        // MARK: TerminalViewDelegate (called by UIKit on the main thread)

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
