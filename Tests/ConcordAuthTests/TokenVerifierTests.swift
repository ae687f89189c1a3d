import ConcordAuth
import ConcordCore
import Foundation
import JWTKit
import Testing

/// Tokens signed by jwt-kit with real keys, verified by Concord's verifier.
@Suite("Token verification")
struct TokenVerifierTests {
    struct Claims: JWTPayload {
        var sub: String
        var exp: Int64
        var caps: [String: [String]]?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    static let secret = "a-shared-secret-of-at-least-32-bytes!!"
    let now = Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))

    func claims(_ user: String = "alice", expiresIn seconds: Int64 = 60) -> Claims {
        Claims(sub: user, exp: now.milliseconds / 1000 + seconds, caps: ["resources/*": ["subscribe"]])
    }

    func sign(_ claims: Claims, hmac secret: String = secret, kid: String? = nil) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        var header = JWTHeader()
        if let kid { header.kid = kid }
        return try await keys.sign(claims, header: header)
    }

    func refusal(_ verifier: TokenVerifier, _ token: String) -> String? {
        do { _ = try verifier.verify(token, now: now); return nil } catch { return error.message }
    }

    @Test func hs256() async throws {
        let verifier = try TokenVerifier(sources: .init(hmacSecrets: [Self.secret]), rules: .init())
        let principal = try verifier.verify(try await sign(claims()), now: now)
        #expect(principal.user == "alice")
        #expect(principal.grants.allows(.subscribe, on: "resources/posts"))
        #expect(refusal(verifier, try await sign(claims(), hmac: Self.secret + "x"))?.contains("signature") == true)
        #expect(refusal(verifier, try await sign(claims(expiresIn: -60)))?.contains("expired") == true)
    }

    @Test func severalSecretsLetOneBeRotated() async throws {
        let next = "the-next-shared-secret-of-32-bytes-or-more"
        let verifier = try TokenVerifier(sources: .init(hmacSecrets: [Self.secret, next]), rules: .init())
        #expect(refusal(verifier, try await sign(claims(), hmac: Self.secret)) == nil)
        #expect(refusal(verifier, try await sign(claims(), hmac: next)) == nil)
    }

    @Test func shortSecretsAreRefusedAtStart() {
        #expect(throws: TokenKeyError.self) { try TokenVerifier(sources: .init(hmacSecrets: ["short"]), rules: .init()) }
    }

    @Test func es256WithAPEMPublicKey() async throws {
        let key = ES256PrivateKey()
        let verifier = try TokenVerifier(sources: .init(publicKeyPEMs: [key.publicKey.pemRepresentation]), rules: .init())
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: key)
        #expect(try verifier.verify(try await keys.sign(claims()), now: now).user == "alice")
        // Another key's signature does not verify.
        let other = JWTKeyCollection()
        await other.add(ecdsa: ES256PrivateKey())
        #expect(refusal(verifier, try await other.sign(claims()))?.contains("signature") == true)
        // An HS256 token is not checked against an EC key at all.
        #expect(refusal(verifier, try await sign(claims()))?.contains("no configured key verifies HS256") == true)
    }

    @Test func rs256WithAPEMPublicKey() async throws {
        let key = try Insecure.RSA.PrivateKey(backing: .init(keySize: .bits2048))
        let pem = key.publicKey.pemRepresentation
        let verifier = try TokenVerifier(sources: .init(publicKeyPEMs: [pem]), rules: .init())
        let keys = JWTKeyCollection()
        await keys.add(rsa: key, digestAlgorithm: .sha256)
        #expect(try verifier.verify(try await keys.sign(claims("bob")), now: now).user == "bob")

        // Algorithm confusion: an HS256 token "signed" with the public key's PEM as the secret.
        let forged = try await sign(claims("mallory"), hmac: pem)
        #expect(refusal(verifier, forged) != nil)
    }

    @Test func jwksKeysAreChosenByKid() async throws {
        let first = ES256PrivateKey(), second = ES256PrivateKey()
        func jwk(_ key: ES256PrivateKey, _ kid: String) -> String {
            let p = key.publicKey.parameters!
            return #"{"kty":"EC","crv":"P-256","kid":"\#(kid)","x":"\#(p.x)","y":"\#(p.y)"}"#
        }
        let jwks = #"{"keys":[\#(jwk(first, "one")),\#(jwk(second, "two"))]}"#
        let verifier = try TokenVerifier(sources: .init(jwksDocuments: [jwks]), rules: .init())
        let signer = JWTKeyCollection()
        await signer.add(ecdsa: first, kid: "one")
        await signer.add(ecdsa: second, kid: "two")
        #expect(refusal(verifier, try await signer.sign(claims(), kid: "one")) == nil)
        #expect(refusal(verifier, try await signer.sign(claims(), kid: "two")) == nil)

        // Signed by "one" but claiming to be "two".
        let mislabelled = JWTKeyCollection()
        await mislabelled.add(ecdsa: first, kid: "two")
        #expect(refusal(verifier, try await mislabelled.sign(claims(), kid: "two"))?.contains("signature") == true)
        let unknown = JWTKeyCollection()
        await unknown.add(ecdsa: first, kid: "three")
        #expect(refusal(verifier, try await unknown.sign(claims(), kid: "three"))?.contains("no key named") == true)
    }

    @Test func unsignedTokensAreRefused() throws {
        let verifier = try TokenVerifier(sources: .init(hmacSecrets: [Self.secret]), rules: .init())
        let header = Base64URL.encode(Array(#"{"alg":"none"}"#.utf8))
        let body = Base64URL.encode(Array("{\"sub\":\"alice\",\"exp\":\(now.milliseconds / 1000 + 60)}".utf8))
        #expect(refusal(verifier, header + "." + body + ".")?.contains("none") == true)
    }

    @Test func unusableKeysAreNamedAtStart() {
        #expect(throws: TokenKeyError.self) { try TokenVerifier(sources: .init(publicKeyPEMs: ["not a key"]), rules: .init()) }
        #expect(throws: TokenKeyError.self) { try TokenVerifier(sources: .init(jwksDocuments: [#"{"keys":[{"kty":"EC"}]}"#]), rules: .init()) }
    }
}
