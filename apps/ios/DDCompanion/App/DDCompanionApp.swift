import SwiftUI

/// The dd companion: joins one desktop-owned session through a pairing link
/// or QR code and shows its terminal. All protocol logic lives in the Rust
/// core (`dd_mobile`); this app only renders state and forwards intents.
@main
struct DDCompanionApp: App {
    @StateObject private var model = AppModel()

    var body: some Scene {
        WindowGroup {
            RootView()
                .environmentObject(model)
                // `dd://pair?...` and universal links land in the join flow.
                .onOpenURL { url in
                    model.handle(url: url)
                }
        }
    }
}
