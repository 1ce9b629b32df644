import Foundation
import Network

/// Tells the core when the network path changes (Wi-Fi ↔ cellular, lost,
/// back). The core decides whether to reconnect; the app only reports.
final class NetworkWatcher: @unchecked Sendable {
    private let monitor = NWPathMonitor()
    private let queue = DispatchQueue(label: "dev.dd.companion.network")
    private var started = false
    private var last: NWPath.Status?

    /// Starts watching; `changed` runs on the main actor after each change
    /// (not for the first path, which is where the app starts).
    func start(_ changed: @escaping @MainActor () -> Void) {
        guard !started else { return }
        started = true
        monitor.pathUpdateHandler = { [weak self] path in
            guard let self else { return }
            let first = self.last == nil
            self.last = path.status
            guard !first else { return }
            DispatchQueue.main.async {
                MainActor.assumeIsolated { changed() }
            }
        }
        monitor.start(queue: queue)
    }

    deinit {
        monitor.cancel()
    }
}
