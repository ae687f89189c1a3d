import Foundation
import JWTKit

/// Where the keys that sign tokens come from, as `concord serve` is told.
public struct TokenKeySources: Sendable, Equatable {
    /// HS256 shared secrets; several let a secret be rotated (old and new both verify meanwhile).
    public var hmacSecrets: [String] = []
    /// PEM public keys (RSA for RS256, P-256 for ES256).
    public var publicKeyPEMs: [String] = []
    /// JWKS documents (`{"keys": [...]}`); tokens choose a key by `kid`.
    public var jwksDocuments: [String] = []

    public init(hmacSecrets: [String] = [], publicKeyPEMs: [String] = [], jwksDocuments: [String] = []) {
        self.hmacSecrets = hmacSecrets
        self.publicKeyPEMs = publicKeyPEMs
        self.jwksDocuments = jwksDocuments
    }

    public var isEmpty: Bool { hmacSecrets.isEmpty && publicKeyPEMs.isEmpty && jwksDocuments.isEmpty }
}

/// A key that could not be loaded, named so the operator can find it.
public struct TokenKeyError: Error, CustomStringConvertible {
    public var description: String
}

/// The loaded keys: jwt-kit parses PEM and JWK and does the signature arithmetic. Loading goes
/// through jwt-kit's key collection (an actor) once; verifying afterwards is synchronous, so the
/// loop thread checks a token without leaving the loop.
struct TokenKeys: Sendable {
    /// Keys a token must name by `kid` (from JWKS documents).
    var named: [String: [any JWTAlgorithm]] = [:]
    /// Keys tried when a token names none, or names one no JWKS has (secrets and PEM keys).
    var unnamed: [any JWTAlgorithm] = []

    /// The algorithms a JWK without `alg` may serve, by its key type.
    static func candidateAlgorithms(_ type: JWK.KeyType) -> [String] {
        switch type {
        case .rsa: return ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
        case .ecdsa: return ["ES256", "ES384", "ES512"]
        case .octetKeyPair: return ["EdDSA"]
        default: return []
        }
    }

    static func load(_ sources: TokenKeySources) throws -> TokenKeys {
        try blocking { try await loadAsync(sources) }
    }

    private static func loadAsync(_ sources: TokenKeySources) async throws -> TokenKeys {
        var keys = TokenKeys()
        let collection = JWTKeyCollection()
        for (index, secret) in sources.hmacSecrets.enumerated() {
            guard secret.utf8.count >= 32 else {
                throw TokenKeyError(description: "JWT secret \(index + 1) is \(secret.utf8.count) bytes; HS256 secrets need at least 32")
            }
            let kid = JWKIdentifier(string: "concord-secret-\(index)")
            await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256, kid: kid)
            keys.unnamed.append(try await collection.getKey(for: kid))
        }
        for (index, pem) in sources.publicKeyPEMs.enumerated() {
            let kid = JWKIdentifier(string: "concord-pem-\(index)")
            if let ec = try? ES256PublicKey(pem: pem) {
                await collection.add(ecdsa: ec, kid: kid)
            } else if let ec = try? ES384PublicKey(pem: pem) {
                await collection.add(ecdsa: ec, kid: kid)
            } else if let rsa = try? Insecure.RSA.PublicKey(pem: pem) {
                await collection.add(rsa: rsa, digestAlgorithm: .sha256, kid: kid)
            } else {
                throw TokenKeyError(description: "public key \(index + 1) is not a PEM RSA or EC (P-256, P-384) public key")
            }
            keys.unnamed.append(try await collection.getKey(for: kid))
        }
        for (index, document) in sources.jwksDocuments.enumerated() {
            let jwks: JWKS
            do {
                jwks = try JSONDecoder().decode(JWKS.self, from: Data(document.utf8))
            } catch {
                throw TokenKeyError(description: "JWKS \(index + 1) is not a key set: \(error)")
            }
            for jwk in jwks.keys {
                guard let kid = jwk.keyIdentifier else {
                    throw TokenKeyError(description: "JWKS \(index + 1) has a key without \"kid\"")
                }
                try await collection.add(jwk: jwk)
                let algorithms = jwk.algorithm.map { [$0.rawValue] } ?? candidateAlgorithms(jwk.keyType)
                for alg in algorithms {
                    if let key = try? await collection.getKey(for: kid, alg: alg) {
                        keys.named[kid.string, default: []].append(key)
                    }
                }
                if keys.named[kid.string] == nil {
                    throw TokenKeyError(description: "JWKS \(index + 1): key \(kid.string) is not a usable public key")
                }
            }
        }
        return keys
    }

    /// Runs async key loading to completion from a synchronous caller (start-up, a test's server
    /// thread). The work runs on a queue of its own rather than Swift's cooperative pool, which the
    /// caller may be blocking: jwt-kit's key collection is an actor, and its jobs follow the task's
    /// executor preference.
    private static func blocking(_ body: @escaping @Sendable () async throws -> TokenKeys) throws -> TokenKeys {
        final class Box: @unchecked Sendable {
            var result: Result<TokenKeys, any Error>?
            init() {}
        }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Task(executorPreference: KeyLoadingExecutor.shared) {
            do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }
}

/// A serial dispatch queue as a task executor: key loading never waits for the cooperative pool.
final class KeyLoadingExecutor: TaskExecutor, @unchecked Sendable {
    static let shared = KeyLoadingExecutor()
    private let queue = DispatchQueue(label: "concord.token-keys")

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
