import Foundation
import Security

/// The core's `SecureStore`, backed by Keychain generic-password items:
/// service `dev.dd.companion`, account = key, readable after first unlock,
/// never synced or migrated to another device. Nothing secret ever goes to
/// UserDefaults or files.
final class KeychainStore: SecureStore, @unchecked Sendable {
    /// The Keychain service all items live under.
    let service: String

    init(service: String = "dev.dd.companion") {
        self.service = service
    }

    private func itemQuery(_ key: String) -> [String: Any] {
        [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecAttrAccount as String: key,
        ]
    }

    private func failure(_ action: String, _ status: OSStatus) -> StoreError {
        let text = SecCopyErrorMessageString(status, nil) as String? ?? "OSStatus \(status)"
        return StoreError.Failed(message: "Keychain \(action) failed: \(text)")
    }

    func get(key: String) throws -> Data? {
        var query = itemQuery(key)
        query[kSecReturnData as String] = true
        query[kSecMatchLimit as String] = kSecMatchLimitOne
        var result: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &result)
        switch status {
        case errSecSuccess:
            guard let data = result as? Data else {
                throw failure("read", errSecInternalError)
            }
            return data
        case errSecItemNotFound:
            return nil
        default:
            throw failure("read", status)
        }
    }

    func set(key: String, value: Data) throws {
        let query = itemQuery(key)
        let attributes: [String: Any] = [
            kSecValueData as String: value,
            kSecAttrAccessible as String: kSecAttrAccessibleAfterFirstUnlockThisDeviceOnly,
        ]
        var status = SecItemUpdate(query as CFDictionary, attributes as CFDictionary)
        if status == errSecItemNotFound {
            let item = query.merging(attributes) { _, new in new }
            status = SecItemAdd(item as CFDictionary, nil)
        }
        guard status == errSecSuccess else {
            throw failure("write", status)
        }
    }

    func delete(key: String) throws {
        let status = SecItemDelete(itemQuery(key) as CFDictionary)
        guard status == errSecSuccess || status == errSecItemNotFound else {
            throw failure("delete", status)
        }
    }

    func list(prefix: String) throws -> [String] {
        let query: [String: Any] = [
            kSecClass as String: kSecClassGenericPassword,
            kSecAttrService as String: service,
            kSecMatchLimit as String: kSecMatchLimitAll,
            kSecReturnAttributes as String: true,
        ]
        var result: CFTypeRef?
        let status = SecItemCopyMatching(query as CFDictionary, &result)
        switch status {
        case errSecSuccess:
            let items = result as? [[String: Any]] ?? []
            let accounts = items.compactMap { $0[kSecAttrAccount as String] as? String }
            return accounts.filter { $0.hasPrefix(prefix) }.sorted()
        case errSecItemNotFound:
            return []
        default:
            throw failure("list", status)
        }
    }
}
