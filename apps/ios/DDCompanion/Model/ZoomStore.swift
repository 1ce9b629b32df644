import Foundation

/// The pinch zoom each session was last read at (UserDefaults: not secret).
/// 1 is "fit the session's width"; the terminal clamps the font anyway.
struct ZoomStore {
    let defaults: UserDefaults
    static let range: ClosedRange<Double> = 0.5...4

    init(defaults: UserDefaults = .standard) {
        self.defaults = defaults
    }

    private static func key(_ sessionId: String) -> String {
        "dd.zoom.\(sessionId)"
    }

    func zoom(for sessionId: String) -> Double {
        let stored = defaults.double(forKey: Self.key(sessionId))
        return stored == 0 ? 1 : min(max(stored, Self.range.lowerBound), Self.range.upperBound)
    }

    func set(_ zoom: Double, for sessionId: String) {
        // setValue(_:forKey:) is `set(_:forKey:)` for a property-list value.
        defaults.setValue(zoom, forKey: Self.key(sessionId))
    }
}
