import SwiftUI

/// One session: terminal, state pill, answer buttons, key bar, Detach.
struct SessionView: View {
    @ObservedObject var controller: SessionController
    @EnvironmentObject private var model: AppModel

    var body: some View {
        VStack(spacing: 0) {
            HStack {
                StatePill(state: controller.state)
                Spacer()
                if let meta = controller.meta {
                    Text("\(meta.cols)×\(meta.rows) · \(meta.status)")
                        .font(.caption)
                        .foregroundStyle(.secondary)
                }
            }
            .padding(.horizontal)
            .padding(.vertical, 6)

            TerminalHost(controller: controller)
                .accessibilityIdentifier("session.terminal")

            if let notice = controller.notice {
                Text(notice)
                    .font(.caption)
                    .foregroundStyle(.orange)
                    .padding(4)
                    .accessibilityIdentifier("session.notice")
            }
            if let prompt = controller.prompt {
                PromptBanner(prompt: prompt) { controller.answer(choice: $0) }
            }
            QuickAnswers { controller.send(text: $0) }
            KeyBar { controller.send(text: $0) }
        }
        .navigationTitle(controller.meta?.name ?? controller.sessionId)
        .navigationBarTitleDisplayMode(.inline)
        .toolbar {
            ToolbarItem(placement: .primaryAction) {
                Button(Display.isFinal(controller.state) ? "Close" : "Detach") {
                    controller.detach()
                    model.path.removeAll()
                }
                .accessibilityIdentifier("session.detach")
            }
        }
        .onAppear {
            model.visibleSession = controller.sessionId
            controller.start()
        }
        .onDisappear {
            if model.visibleSession == controller.sessionId {
                model.visibleSession = nil
            }
            controller.detach()
        }
        .accessibilityIdentifier("session.view")
    }
}

/// The connection-state pill.
struct StatePill: View {
    let state: ConnectionState

    var body: some View {
        let shown = Display.state(state)
        Text(shown.text)
            .font(.caption.bold())
            .lineLimit(1)
            .padding(.horizontal, 10)
            .padding(.vertical, 4)
            .background(shown.color.opacity(0.2), in: Capsule())
            .foregroundStyle(shown.color)
            .accessibilityIdentifier("session.state")
            .accessibilityValue(shown.text)
    }
}

/// The session waits for an answer: the question and one button per choice.
struct PromptBanner: View {
    let prompt: InputNeeded
    let choose: (String) -> Void

    var body: some View {
        VStack(alignment: .leading, spacing: 6) {
            Label(prompt.body.isEmpty ? prompt.title : prompt.body, systemImage: "questionmark.bubble")
                .font(.callout.bold())
                .lineLimit(3)
                .accessibilityIdentifier("prompt.text")
            if prompt.choices.isEmpty {
                Text("Type your answer.")
                    .font(.caption)
                    .foregroundStyle(.secondary)
            } else {
                ScrollView(.horizontal, showsIndicators: false) {
                    HStack {
                        ForEach(Array(prompt.choices.enumerated()), id: \.offset) { index, choice in
                            Button(choice.label) { choose(choice.label) }
                                .buttonStyle(.borderedProminent)
                                .accessibilityIdentifier("prompt.choice.\(index + 1)")
                        }
                    }
                }
            }
        }
        .padding(10)
        .frame(maxWidth: .infinity, alignment: .leading)
        .background(Color.yellow.opacity(0.15), in: RoundedRectangle(cornerRadius: 10))
        .padding(.horizontal, 8)
        .padding(.top, 6)
        .accessibilityIdentifier("prompt.banner")
    }
}

/// y / n / 1 / 2 / 3, each followed by Enter.
struct QuickAnswers: View {
    let send: (String) -> Void

    var body: some View {
        HStack {
            ForEach(["y", "n", "1", "2", "3"], id: \.self) { answer in
                Button(answer) { send(answer + "\r") }
                    .buttonStyle(.bordered)
                    .accessibilityIdentifier("answer.\(answer)")
            }
        }
        .padding(.top, 6)
    }
}

/// Keys a phone keyboard lacks.
struct KeyBar: View {
    let send: (String) -> Void

    private static let keys: [(label: String, bytes: String)] = [
        ("Esc", "\u{1b}"),
        ("Tab", "\t"),
        ("^C", "\u{03}"),
        ("^D", "\u{04}"),
        ("↑", "\u{1b}[A"),
        ("↓", "\u{1b}[B"),
        ("←", "\u{1b}[D"),
        ("→", "\u{1b}[C"),
        ("⏎", "\r"),
    ]

    var body: some View {
        ScrollView(.horizontal, showsIndicators: false) {
            HStack(spacing: 6) {
                ForEach(Self.keys, id: \.label) { key in
                    Button(key.label) { send(key.bytes) }
                        .buttonStyle(.bordered)
                        .font(.system(.body, design: .monospaced))
                        .accessibilityIdentifier("key.\(key.label)")
                }
            }
            .padding(8)
        }
    }
}
