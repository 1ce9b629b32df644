import SwiftUI

/// First screen: join a session, and the sessions already paired.
struct RootView: View {
    @EnvironmentObject private var model: AppModel

    var body: some View {
        NavigationStack(path: $model.path) {
            List {
                JoinSection()
                PairedSection()
            }
            .navigationTitle("Join Session")
            .refreshable { await model.refresh() }
            .navigationDestination(for: String.self) { sessionId in
                SessionView(controller: model.controller(for: sessionId))
            }
        }
        // On the stack (one view), not on a Group or a Section, whose
        // modifiers would apply to each child.
        .sheet(isPresented: $model.scanning) {
            ScannerSheet { code in model.scanned(code) }
        }
        .alert(
            "dd",
            isPresented: Binding(
                get: { model.alert != nil },
                set: { if !$0 { model.alert = nil } }),
            actions: { Button("OK", role: .cancel) {} },
            message: { Text(model.alert ?? "") })
    }
}

/// Saved pairings: agent, session, status, expiry; swipe to forget.
struct PairedSection: View {
    @EnvironmentObject private var model: AppModel

    var body: some View {
        Section("Paired sessions") {
            if model.credentials.isEmpty {
                Text("None yet. Pair from the desktop with `dd-client session pair-mobile`.")
                    .font(.footnote)
                    .foregroundStyle(.secondary)
            }
            ForEach(model.credentials, id: \.sessionId) { credential in
                Button {
                    model.path = [credential.sessionId]
                } label: {
                    VStack(alignment: .leading, spacing: 2) {
                        Text(credential.sessionName.isEmpty ? credential.sessionId : credential.sessionName)
                            .font(.headline)
                        Text(credential.agentUrl)
                            .font(.caption)
                            .foregroundStyle(.secondary)
                        HStack {
                            Text(model.statuses[credential.sessionId] ?? "…")
                            Text(Display.expiry(credential.expiresAt))
                            if credential.readOnly {
                                Text("read-only")
                            }
                        }
                        .font(.caption2)
                        .foregroundStyle(.secondary)
                    }
                }
                .accessibilityIdentifier("paired.\(credential.sessionId)")
                .swipeActions {
                    Button("Forget", role: .destructive) {
                        Task { await model.forget(sessionId: credential.sessionId) }
                    }
                }
            }
        }
    }
}
