import XCTest
@testable import DDCompanion

/// `parseLink(url:)` is the Rust core's parser; these pin its Swift face.
final class LinkParsingTests: XCTestCase {
    /// 32 bytes of 0x11, base64url (not a low-order point, unlike zeros).
    private let agentKey = "ERERERERERERERERERERERERERERERERERERERERERE"
    /// 16 bytes 00..0f, canonical base64url: the last character's unused
    /// low bits are zero ("B" × 22 is not, and the core rejects it).
    private let validToken = "AAECAwQFBgcICQoLDA0ODw"

    private func link(
        exp: Int64 = Int64(Date().timeIntervalSince1970) + 600,
        session: String? = "s_00ff",
        readOnly: Bool = false,
        key: String? = nil,
        token: String? = nil
    ) -> String {
        var components = URLComponents()
        components.scheme = "dd"
        components.host = "pair"
        var items = [
            URLQueryItem(name: "v", value: "1"),
            URLQueryItem(name: "agent", value: "http://127.0.0.1:7777"),
            URLQueryItem(name: "key", value: key ?? agentKey),
            URLQueryItem(name: "exp", value: String(exp)),
        ]
        if let session {
            items.append(URLQueryItem(name: "s", value: session))
        }
        if readOnly {
            items.append(URLQueryItem(name: "ro", value: "1"))
        }
        components.queryItems = items
        components.fragment = "t=\(token ?? validToken)"
        return components.string!
    }

    func testParsesAPairingLink() throws {
        let exp = Int64(Date().timeIntervalSince1970) + 600
        let offer = try parseLink(url: link(exp: exp, readOnly: true))
        XCTAssertEqual(offer.agentUrl, "http://127.0.0.1:7777")
        XCTAssertEqual(offer.sessionId, "s_00ff")
        XCTAssertEqual(offer.expiresAt, exp)
        XCTAssertTrue(offer.readOnly)
    }

    func testSessionHintIsOptional() throws {
        let offer = try parseLink(url: link(session: nil))
        XCTAssertNil(offer.sessionId)
        XCTAssertFalse(offer.readOnly)
    }

    func testRejectsWhatIsNotADdLink() {
        XCTAssertThrowsError(try parseLink(url: "https://example.com/")) { error in
            guard case MobileError.NotDdLink = error else {
                return XCTFail("unexpected \(error)")
            }
        }
        XCTAssertThrowsError(try parseLink(url: "not a url at all"))
    }

    func testRejectsAnExpiredLink() {
        let past = Int64(Date().timeIntervalSince1970) - 60
        XCTAssertThrowsError(try parseLink(url: link(exp: past))) { error in
            guard case MobileError.LinkExpired = error else {
                return XCTFail("unexpected \(error)")
            }
        }
    }

    func testRejectsABadKey() {
        XCTAssertThrowsError(try parseLink(url: link(key: "short"))) { error in
            guard case MobileError.InvalidLink = error else {
                return XCTFail("unexpected \(error)")
            }
        }
    }

    func testRejectsANonCanonicalToken() {
        // Same length, but "x" leaves non-zero bits after the 16th byte.
        let sloppy = "AAECAwQFBgcICQoLDA0ODx"
        XCTAssertThrowsError(try parseLink(url: link(token: sloppy))) { error in
            guard case MobileError.InvalidLink = error else {
                return XCTFail("unexpected \(error)")
            }
        }
        XCTAssertThrowsError(try parseLink(url: link(token: String(repeating: "B", count: 22))))
        XCTAssertNoThrow(try parseLink(url: link()))
    }

    func testErrorsReadAsSentences() {
        XCTAssertEqual(Display.message(for: MobileError.NotDdLink), "That is not a dd link.")
        XCTAssertTrue(
            Display.message(for: MobileError.Denied(code: "revoked", message: "gone"))
                .contains("revoked"))
    }
}
