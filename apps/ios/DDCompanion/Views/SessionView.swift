import SwiftUI

/// One session: state pill, terminal, prompt banner, one key bar, Detach,
/// and the scrollback (History).
struct SessionView: View {
    @ObservedObject var controller: SessionController
    @EnvironmentObject private var model: AppModel
    @State private var showingHistory = false

    var body: some View {
        VStack(spacing: 0) {
            HStack {
                StatePill(state: controller.state)
                if controller.readOnly {
                    Text("Read-only")
                        .font(.caption.bold())
                        .foregroundStyle(.secondary)
                        .accessibilityIdentifier("session.readOnly")
                }
                Spacer()
                if let meta = controller.meta {
                    Text("\(meta.cols)×\(meta.rows) · \(meta.status)")
                        .font(.caption)
                        .foregroundStyle(.secondary)
                        .accessibilityIdentifier("session.size")
                }
            }
            .padding(.horizontal)
            .padding(.vertical, 6)

            TerminalHost(controller: controller)

            if let notice = controller.notice {
                Text(notice)
                    .font(.caption)
                    .foregroundStyle(.orange)
                    .padding(4)
                    .accessibilityIdentifier("session.notice")
            }
            if let prompt = controller.prompt {
                PromptBanner(prompt: prompt, readOnly: controller.readOnly) {
                    controller.answer(choice: $0)
                }
            }
            if controller.readOnly {
                Text("You can watch this session; typing is not allowed.")
                    .font(.footnote)
                    .foregroundStyle(.secondary)
                    .padding(8)
                    .accessibilityIdentifier("session.readOnlyNote")
            } else {
                KeyBar { controller.send(text: $0) }
            }
        }
        .navigationTitle(controller.meta?.name ?? controller.sessionId)
        .navigationBarTitleDisplayMode(.inline)
        .toolbar {
            ToolbarItem(placement: .topBarTrailing) {
                Button {
                    showingHistory = true
                } label: {
                    Label("History", systemImage: "clock.arrow.circlepath")
                }
                .accessibilityIdentifier("session.history")
            }
            ToolbarItem(placement: .topBarTrailing) {
                Button(Display.isFinal(controller.state) ? "Close" : "Detach") {
                    controller.leave()
                    model.path.removeAll()
                }
                .accessibilityIdentifier("session.detach")
            }
        }
        .sheet(isPresented: $showingHistory) {
            HistoryView(controller: controller)
        }
        .onAppear {
            model.visibleSession = controller.sessionId
            controller.start()
        }
        .onDisappear {
            if model.visibleSession == controller.sessionId {
                model.visibleSession = nil
            }
            controller.leave()
        }
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

/// The session waits for an answer: the question and one button per choice
/// (none on a read-only grant).
struct PromptBanner: View {
    let prompt: InputNeeded
    let readOnly: Bool
    let choose: (String) -> Void

    var body: some View {
        VStack(alignment: .leading, spacing: 6) {
            Label(prompt.body.isEmpty ? prompt.title : prompt.body, systemImage: "questionmark.bubble")
                .font(.callout.bold())
                .lineLimit(3)
                .accessibilityIdentifier("prompt.text")
            if readOnly {
                Text("Read-only: answer on the desktop.")
                    .font(.caption)
                    .foregroundStyle(.secondary)
            } else if prompt.choices.isEmpty {
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
    }
}

/// The one key bar: quick answers (y, n, 1, 2, 3 + Enter), then the keys a
/// phone keyboard lacks.
struct KeyBar: View {
    let send: (String) -> Void

    static let answers = ["y", "n", "1", "2", "3"]
    static let keys: [(label: String, bytes: String)] = [
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
                ForEach(Self.answers, id: \.self) { answer in
                    Button(answer) { send(answer + "\r") }
                        .buttonStyle(.bordered)
                        .accessibilityIdentifier("answer.\(answer)")
                }
                Divider().frame(height: 24)
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

/// The scrollback, loaded from the transcript by the core in pages: newest
/// at the bottom, "Load earlier" at the top. Kept by the controller, so a
/// snapshot, a reconnect or closing this sheet does not lose it.
struct HistoryView: View {
    @ObservedObject var controller: SessionController
    @Environment(\.dismiss) private var dismiss

    var body: some View {
        NavigationStack {
            ScrollViewReader { reader in
                ScrollView([.vertical, .horizontal]) {
                    LazyVStack(alignment: .leading, spacing: 0) {
                        header(reader)
                        let lines = controller.history?.lines ?? []
                        ForEach(Array(lines.enumerated()), id: \.offset) { index, line in
                            Text(line.isEmpty ? " " : line)
                                .font(.system(size: 12, design: .monospaced))
                                .lineLimit(1)
                                .fixedSize()
                                .id(index)
                        }
                    }
                    .padding(8)
                    .textSelection(.enabled)
                }
                .task {
                    await controller.loadNewerHistory()
                    let count = controller.history?.lines.count ?? 0
                    if count > 0 {
                        reader.scrollTo(count - 1, anchor: .bottom)
                    }
                }
            }
            .navigationTitle("History")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .confirmationAction) {
                    Button("Done") { dismiss() }
                        .accessibilityIdentifier("history.done")
                }
            }
        }
    }

    @ViewBuilder
    private func header(_ reader: ScrollViewProxy) -> some View {
        if let page = controller.history, page.atBeginning {
            Text("Start of the session's history")
                .font(.caption)
                .foregroundStyle(.secondary)
                .accessibilityIdentifier("history.start")
        } else if let page = controller.history, page.atLimit {
            Text("Older history is not loaded on the phone.")
                .font(.caption)
                .foregroundStyle(.secondary)
        } else {
            Button {
                Task {
                    let before = controller.history?.lines.count ?? 0
                    await controller.loadOlderHistory()
                    let after = controller.history?.lines.count ?? 0
                    // Keep the line that was on top where it was.
                    reader.scrollTo(max(after - before, 0), anchor: .top)
                }
            } label: {
                if controller.historyLoading {
                    ProgressView()
                } else {
                    Label("Load earlier", systemImage: "arrow.up.circle")
                }
            }
            .disabled(controller.historyLoading)
            .accessibilityIdentifier("history.loadEarlier")
        }
    }
}
