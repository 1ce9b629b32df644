import SwiftUI
import UIKit

/// The dd companion: joins one desktop-owned session through a pairing link
/// or QR code and shows its terminal. All protocol logic lives in the Rust
/// core (`dd_mobile`); this app only renders state and forwards intents.
@main
struct DDCompanionApp: App {
    @UIApplicationDelegateAdaptor(AppDelegate.self) private var appDelegate
    @Environment(\.scenePhase) private var scenePhase

    var body: some Scene {
        WindowGroup {
            RootView()
                .environmentObject(appDelegate.model)
                // `dd://pair?...` and universal links land in the join flow.
                .onOpenURL { url in
                    appDelegate.model.handle(url: url)
                }
        }
        .onChange(of: scenePhase) { _, phase in
            appDelegate.model.scenePhaseChanged(
                active: phase == .active, background: phase == .background)
        }
    }
}

/// Owns the app model and installs the notification delegate before launch
/// finishes, so an action on a prompt notification that launches the app
/// (in the background, without any scene) is handled, not lost.
@MainActor
final class AppDelegate: NSObject, UIApplicationDelegate {
    private(set) lazy var model = AppModel.live()
    private let network = NetworkWatcher()

    func application(
        _ application: UIApplication,
        didFinishLaunchingWithOptions launchOptions: [UIApplication.LaunchOptionsKey: Any]? = nil
    ) -> Bool {
        PromptNotifier.shared.install()
        let model = self.model
        PromptNotifier.shared.connect(model)
        network.start { model.networkPathChanged() }
        return true
    }
}
