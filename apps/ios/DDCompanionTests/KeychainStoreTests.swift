import XCTest
@testable import DDCompanion

/// Round trips through the real Keychain, in a service of its own.
final class KeychainStoreTests: XCTestCase {
    private var store: KeychainStore!

    override func setUpWithError() throws {
        store = KeychainStore(service: "dev.dd.companion.tests.\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        for key in try store.list(prefix: "") {
            try store.delete(key: key)
        }
    }

    func testMissingKeyReadsAsNil() throws {
        XCTAssertNil(try store.get(key: "cred/none"))
        XCTAssertEqual(try store.list(prefix: "cred/"), [])
    }

    func testSetGetOverwrite() throws {
        try store.set(key: "cred/a", value: Data("one".utf8))
        XCTAssertEqual(try store.get(key: "cred/a"), Data("one".utf8))
        try store.set(key: "cred/a", value: Data("two".utf8))
        XCTAssertEqual(try store.get(key: "cred/a"), Data("two".utf8))
    }

    func testListFiltersByPrefixAndDeleteRemoves() throws {
        try store.set(key: "cred/b", value: Data([1]))
        try store.set(key: "cred/a", value: Data([2]))
        try store.set(key: "other/x", value: Data([3]))
        XCTAssertEqual(try store.list(prefix: "cred/"), ["cred/a", "cred/b"])
        try store.delete(key: "cred/a")
        XCTAssertNil(try store.get(key: "cred/a"))
        XCTAssertEqual(try store.list(prefix: "cred/"), ["cred/b"])
        // Deleting what is not there is not an error.
        try store.delete(key: "cred/a")
    }

    func testServicesAreIsolated() throws {
        let other = KeychainStore(service: "dev.dd.companion.tests.\(UUID().uuidString)")
        try store.set(key: "cred/a", value: Data([1]))
        XCTAssertNil(try other.get(key: "cred/a"))
        XCTAssertEqual(try other.list(prefix: ""), [])
    }
}
