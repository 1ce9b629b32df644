import SwiftUI

/// Scan or paste a pairing link, preview the offer, label, Join.
struct JoinSection: View {
    @EnvironmentObject private var model: AppModel

    var body: some View {
        linkSection
        if let offer = model.offer {
            offerSection(offer)
        }
    }

    private var linkSection: some View {
        Section("Pairing link") {
            TextField(
                "dd://pair?…",
                text: Binding(get: { model.linkText }, set: { model.setLink($0) }),
                axis: .vertical
            )
            .textInputAutocapitalization(.never)
            .autocorrectionDisabled()
            .lineLimit(1...4)
            .font(.system(.footnote, design: .monospaced))
            .accessibilityIdentifier("join.link")

            HStack {
                PasteButton(payloadType: String.self) { strings in
                    let text = strings.first ?? ""
                    Task { @MainActor in model.setLink(text) }
                }
                .accessibilityIdentifier("join.paste")
                Spacer()
                Button {
                    model.scanning = true
                } label: {
                    Label("Scan QR", systemImage: "qrcode.viewfinder")
                }
                .buttonStyle(.bordered)
                .accessibilityIdentifier("join.scan")
            }

            if let error = model.linkError {
                Text(error)
                    .foregroundStyle(.red)
                    .accessibilityIdentifier("join.error")
            }
        }
    }

    private func offerSection(_ offer: PairingOffer) -> some View {
        Section("Offer") {
            LabeledContent("Agent", value: offer.agentUrl)
                .accessibilityIdentifier("join.offer.agent")
            LabeledContent("Session", value: offer.sessionId ?? "(named by the agent)")
            LabeledContent("Link", value: Display.expiry(offer.expiresAt))
            LabeledContent("Access", value: offer.readOnly ? "read-only" : "read and type")
            TextField("Label for this device", text: $model.label)
                .accessibilityIdentifier("join.label")
            Button {
                Task { await model.join() }
            } label: {
                if model.joining {
                    ProgressView()
                } else {
                    Text("Join")
                        .bold()
                }
            }
            .disabled(model.joining)
            .accessibilityIdentifier("join.join")
            if model.joining {
                Text("If iOS asks to find devices on your local network, choose Allow: dd keeps trying to reach the agent meanwhile.")
                    .font(.footnote)
                    .foregroundStyle(.secondary)
                    .accessibilityIdentifier("join.localNetworkHint")
            }
        }
    }
}
