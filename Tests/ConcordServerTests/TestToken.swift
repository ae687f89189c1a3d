import ConcordCore
import Crypto
import Foundation

/// HS256 tokens for tests, signed with swift-crypto directly (independently of the server's verifier).
enum TestToken {
    static let secret = "integration-test-secret-of-32-bytes-or-more"

    static func make(
        user: String, caps: [String: [String]] = [:], expiresIn seconds: Int = 60,
        extra: String = "", secret: String = secret
    ) -> String {
        let exp = Int(Date().timeIntervalSince1970) + seconds
        let capsJSON = caps.map { pattern, list in
            "\"\(pattern)\":[" + list.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        }.joined(separator: ",")
        let claims = "{\"sub\":\"\(user)\",\"exp\":\(exp),\"caps\":{\(capsJSON)}\(extra)}"
        let input = Base64URL.encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return input + "." + Base64URL.encode(Array(mac))
    }
}
