import ConcordCore
import JWTKit

/// Verifies a connection's token: its signature with a configured key (jwt-kit), then its claims
/// with the core's rules. Synchronous and immutable once loaded, so the loop thread calls it directly.
public final class TokenVerifier: Sendable {
    private let keys: TokenKeys
    public let rules: TokenClaimRules

    /// Loads the keys; throws a `TokenKeyError` that names a key that cannot be used.
    public init(sources: TokenKeySources, rules: TokenClaimRules) throws {
        keys = try TokenKeys.load(sources)
        self.rules = rules
    }

    /// The principal a valid token describes, or `unauthorized` with a sentence saying what is wrong.
    public func verify(_ token: String, now: Timestamp) throws(ProtocolError) -> Principal {
        let parts = try TokenParts.parse(token)
        guard parts.algorithm != "none" else {
            throw ProtocolError(.unauthorized, "unsigned tokens (alg \"none\") are refused")
        }
        let candidates: [any JWTAlgorithm]
        if let kid = parts.keyID, let named = keys.named[kid] {
            candidates = named
        } else if let kid = parts.keyID, keys.unnamed.isEmpty {
            throw ProtocolError(.unauthorized, "no key named \"\(kid.prefix(60))\" is configured")
        } else if parts.keyID == nil {
            // No kid: any configured key of the token's algorithm may have signed it.
            candidates = keys.unnamed + keys.named.values.joined()
        } else {
            candidates = keys.unnamed
        }
        // The header's alg must be the key's own: an RSA public key is never used as an HMAC secret.
        let matching = candidates.filter { $0.name == parts.algorithm }
        guard !matching.isEmpty else {
            throw ProtocolError(.unauthorized, "no configured key verifies \(parts.algorithm.prefix(20)) tokens")
        }
        guard matching.contains(where: { (try? $0.verify(parts.signature, signs: parts.signingInput)) == true }) else {
            throw ProtocolError(.unauthorized, "the token's signature does not verify")
        }
        return try rules.principal(from: parts.claims, now: now)
    }
}
