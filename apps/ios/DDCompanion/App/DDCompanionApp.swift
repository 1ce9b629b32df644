import SwiftUI
import UIKit

/// The dd companion: joins one desktop-owned session through a pairing link
/// or QR code and shows its terminal. All protocol logic lives in the Rust
/// core (`dd_mobile`); this app only renders state and forwards intents.
@main
struct DDCompanionApp: App {
    @UIApplicationDelegateAdaptor(AppDelegate.self) private var appDelegate
    @StateObject private var model = AppModel()
    @Environment(\.scenePhase) private var scenePhase

    var body: some Scene {
        WindowGroup {
            RootView()
                .environmentObject(model)
                // `dd://pair?...` and universal links land in the join flow.
                .onOpenURL { url in
                    model.handle(url: url)
                }
        }
        .onChange(of: scenePhase) { _, phase in
            model.sceneChanged(toBackground: phase == .background)
        }
    }
}

/// Installs the notification delegate before launch finishes, so a tap on
/// a prompt notification that launches the app is not lost.
final class AppDelegate: NSObject, UIApplicationDelegate {
    func application(
        _ application: UIApplication,
        didFinishLaunchingWithOptions launchOptions: [UIApplication.LaunchOptionsKey: Any]? = nil
    ) -> Bool {
        PromptNotifier.shared.install()
        return true
    }
}
