import AVFoundation
import SwiftUI
import UIKit

/// The QR scanner sheet. Without a camera (simulator, many Macs) or without
/// permission it says so and points to paste instead.
struct ScannerSheet: View {
    let onCode: (String) -> Void
    @Environment(\.dismiss) private var dismiss
    @State private var problem: String?

    var body: some View {
        NavigationStack {
            ZStack {
                Color.black.ignoresSafeArea()
                if let problem {
                    VStack(spacing: 12) {
                        Image(systemName: "camera.fill")
                            .font(.largeTitle)
                        Text(problem)
                            .multilineTextAlignment(.center)
                            .accessibilityIdentifier("scanner.problem")
                        Text("Paste the link instead, or open it with the dd:// URL.")
                            .font(.footnote)
                    }
                    .foregroundStyle(.white)
                    .padding()
                } else {
                    QRScannerView(
                        onCode: onCode,
                        onProblem: { problem = $0 })
                        .ignoresSafeArea()
                }
            }
            .navigationTitle("Scan pairing QR")
            .navigationBarTitleDisplayMode(.inline)
            .toolbar {
                ToolbarItem(placement: .cancellationAction) {
                    Button("Cancel") { dismiss() }
                }
            }
        }
    }
}

/// `AVCaptureSession` + `AVCaptureMetadataOutput` (`.qr`) in SwiftUI.
struct QRScannerView: UIViewControllerRepresentable {
    let onCode: (String) -> Void
    let onProblem: (String) -> Void

    func makeUIViewController(context: Context) -> ScannerViewController {
        let controller = ScannerViewController()
        controller.onCode = onCode
        controller.onProblemNow = onProblem
        return controller
    }

    func updateUIViewController(_ controller: ScannerViewController, context: Context) {}
}

/// Runs the capture session and reports the first QR code once.
final class ScannerViewController: UIViewController, AVCaptureMetadataOutputObjectsDelegate {
    var onCode: ((String) -> Void)?
    var onProblemNow: ((String) -> Void)?

    /// `viewDidLoad` runs while SwiftUI makes this controller (a view
    /// update): a problem found then changes the sheet's state only on the
    /// next main-queue turn, after the update.
    func onProblem(_ text: String) {
        DispatchQueue.main.async { [weak self] in
            self?.onProblemNow?(text)
        }
    }
    private let session = AVCaptureSession()
    private var previewLayer: AVCaptureVideoPreviewLayer?
    private var reported = false

    override func viewDidLoad() {
        super.viewDidLoad()
        view.backgroundColor = .black
        switch AVCaptureDevice.authorizationStatus(for: .video) {
        case .authorized:
            configure()
        case .notDetermined:
            AVCaptureDevice.requestAccess(for: .video) { granted in
                DispatchQueue.main.async { [weak self] in
                    if granted {
                        self?.configure()
                    } else {
                        self?.onProblem("Camera access was declined.")
                    }
                }
            }
        default:
            onProblem("Camera access is off for dd. Turn it on in Settings to scan.")
        }
    }

    private func configure() {
        guard let device = AVCaptureDevice.default(for: .video),
            let input = try? AVCaptureDeviceInput(device: device),
            session.canAddInput(input)
        else {
            onProblem("No camera is available on this device.")
            return
        }
        session.addInput(input)
        let output = AVCaptureMetadataOutput()
        guard session.canAddOutput(output) else {
            onProblem("This camera cannot read QR codes.")
            return
        }
        session.addOutput(output)
        guard output.availableMetadataObjectTypes.contains(.qr) else {
            onProblem("This camera cannot read QR codes.")
            return
        }
        output.setMetadataObjectsDelegate(self, queue: .main)
        output.metadataObjectTypes = [.qr]

        let layer = AVCaptureVideoPreviewLayer(session: session)
        layer.videoGravity = .resizeAspectFill
        layer.frame = view.layer.bounds
        view.layer.addSublayer(layer)
        previewLayer = layer

        let running = session
        DispatchQueue.global(qos: .userInitiated).async {
            running.startRunning()
        }
    }

    override func viewDidLayoutSubviews() {
        super.viewDidLayoutSubviews()
        previewLayer?.frame = view.layer.bounds
    }

    override func viewWillDisappear(_ animated: Bool) {
        super.viewWillDisappear(animated)
        let running = session
        DispatchQueue.global(qos: .userInitiated).async {
            running.stopRunning()
        }
    }

    nonisolated func metadataOutput(
        _ output: AVCaptureMetadataOutput,
        didOutput metadataObjects: [AVMetadataObject],
        from connection: AVCaptureConnection
    ) {
        let codes = metadataObjects.compactMap {
            ($0 as? AVMetadataMachineReadableCodeObject)?.stringValue
        }
        guard let code = codes.first else { return }
        // The delegate queue is the main queue.
        MainActor.assumeIsolated {
            guard !reported else { return }
            reported = true
            onCode?(code)
        }
    }
}
