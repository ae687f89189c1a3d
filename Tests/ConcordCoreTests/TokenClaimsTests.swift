import Testing
@testable import ConcordCore

@Suite("Token parts and claims")
struct TokenClaimsTests {
    let now = Timestamp(milliseconds: 1_800_000_000_000)
    var nowSeconds: Int64 { now.milliseconds / 1000 }

    func token(_ header: String, _ claims: String, signature: [UInt8] = [1, 2, 3]) -> String {
        Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.utf8)) + "." + Base64URL.encode(signature)
    }

    func claims(_ text: String) -> [String: JSONValue] {
        JSONParsing.object(from: Array(text.utf8))!
    }

    func refusal(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let error as ProtocolError {
            return error.code == .unauthorized ? error.message : "wrong code \(error.code)"
        } catch {
            return "unexpected \(error)"
        }
    }

    // MARK: Base64url

    @Test func base64URLRoundTripsEveryLength() {
        for length in 0..<70 {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(Base64URL.decode(Array(text.utf8)) == bytes, "length \(length)")
        }
    }

    @Test func base64URLIsStrict() {
        #expect(Base64URL.decode(Array("QQ==".utf8)) == nil, "padding")
        #expect(Base64URL.decode(Array("Q".utf8)) == nil, "a lone character")
        #expect(Base64URL.decode(Array("QR".utf8)) == nil, "non-zero trailing bits")
        #expect(Base64URL.decode(Array("a+b/".utf8)) == nil, "base64, not base64url")
        #expect(Base64URL.decode(Array("QQ".utf8)) == [0x41])
    }

    // MARK: Parts

    @Test func splitsAndDecodesACompactToken() throws {
        let text = token(#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#, #"{"sub":"alice"}"#)
        let parts = try TokenParts.parse(text)
        #expect(parts.algorithm == "HS256")
        #expect(parts.keyID == "k1")
        #expect(parts.claims["sub"] == .string("alice"))
        #expect(parts.signature == [1, 2, 3])
        #expect(String(decoding: parts.signingInput, as: UTF8.self) == String(text[..<text.lastIndex(of: ".")!]))
    }

    @Test func malformedTokensAreRefusedWithASentence() {
        let good = #"{"sub":"a"}"#
        let cases: [(String, String)] = [
            ("empty", ""),
            ("two parts", "abc.def"),
            ("four parts", token(#"{"alg":"HS256"}"#, good) + ".x"),
            ("not base64url", "a*b.c.d"),
            ("header not JSON", Base64URL.encode(Array("nope".utf8)) + "." + Base64URL.encode(Array(good.utf8)) + ".AQ"),
            ("claims an array", token(#"{"alg":"HS256"}"#, "[1]")),
            ("no alg", token(#"{"typ":"JWT"}"#, good)),
            ("kid a number", token(#"{"alg":"HS256","kid":7}"#, good)),
            ("crit", token(#"{"alg":"HS256","crit":["exp"]}"#, good)),
            ("too long", String(repeating: "a", count: TokenParts.maxBytes + 1)),
        ]
        for (name, text) in cases {
            let message = refusal { _ = try TokenParts.parse(text) }
            #expect(message != nil && message!.hasPrefix("the token") == true, "\(name): \(message ?? "accepted")")
        }
    }

    // MARK: Claims

    @Test func readsUserNameInfoExpiryAndCapabilities() throws {
        let principal = try TokenClaimRules().principal(
            from: claims(
                """
                {"sub":"alice","name":"Alice","info":{"color":"#e33"},"exp":\(nowSeconds + 60),
                 "caps":{"resources/*":["subscribe"],"presence/posts/*":["presence","typing"],"chat/room":["*"]}}
                """), now: now)
        #expect(principal.user == "alice")
        #expect(principal.name == "Alice")
        #expect(principal.info == .object(["color": .string("#e33")]))
        #expect(principal.expiresAt == Timestamp(milliseconds: (nowSeconds + 60) * 1000))
        #expect(principal.grants.allows(.subscribe, on: "resources/posts"))
        #expect(!principal.grants.allows(.publish, on: "resources/posts"))
        #expect(principal.grants.allows([.presence, .typing], on: "presence/posts/1"))
        #expect(principal.grants.allows(.all, on: "chat/room"))
        #expect(!principal.grants.allows(.subscribe, on: "chat/room2"))
    }

    @Test func expiryNotBeforeAudienceAndIssuerAreChecked() {
        let rules = TokenClaimRules(audience: "concord", issuer: "https://app.example", leewaySeconds: 5)
        let base = #""sub":"a","aud":"concord","iss":"https://app.example""#
        #expect(refusal { _ = try rules.principal(from: claims("{\(base),\"exp\":\(nowSeconds + 10)}"), now: now) } == nil)
        #expect(refusal { _ = try rules.principal(from: claims("{\(base),\"exp\":\(nowSeconds - 4)}"), now: now) } == nil, "within the leeway")
        #expect(refusal { _ = try rules.principal(from: claims("{\(base),\"exp\":\(nowSeconds - 6)}"), now: now) }?.contains("expired") == true)
        #expect(refusal { _ = try rules.principal(from: claims("{\(base)}"), now: now) }?.contains("\"exp\"") == true)
        #expect(refusal { _ = try rules.principal(from: claims("{\(base),\"exp\":\"tomorrow\"}"), now: now) } != nil)
        #expect(
            refusal { _ = try rules.principal(from: claims("{\(base),\"exp\":\(nowSeconds + 60),\"nbf\":\(nowSeconds + 30)}"), now: now) }?.contains(
                "not valid before") == true)
        #expect(
            refusal {
                _ = try rules.principal(from: claims(#"{"sub":"a","aud":["x","concord"],"iss":"https://app.example","exp":"# + "\(nowSeconds + 60)}"), now: now)
            } == nil, "aud as an array")
        #expect(
            refusal {
                _ = try rules.principal(from: claims(#"{"sub":"a","aud":"other","iss":"https://app.example","exp":"# + "\(nowSeconds + 60)}"), now: now)
            }?.contains("audience") == true)
        #expect(
            refusal {
                _ = try rules.principal(from: claims(#"{"sub":"a","aud":"concord","iss":"https://evil.example","exp":"# + "\(nowSeconds + 60)}"), now: now)
            }?.contains("issuer") == true)
    }

    @Test func userNameInfoAndCapsMustBeWellFormed() {
        let exp = "\"exp\":\(nowSeconds + 60)"
        let bad = [
            "{\(exp)}",
            "{\"sub\":\"\",\(exp)}",
            "{\"sub\":\"~floor\",\(exp)}",
            "{\"sub\":\"\(String(repeating: "u", count: 201))\",\(exp)}",
            "{\"sub\":7,\(exp)}",
            "{\"sub\":\"a\",\"name\":5,\(exp)}",
            "{\"sub\":\"a\",\"info\":[1],\(exp)}",
            "{\"sub\":\"a\",\"info\":{\"x\":\"\(String(repeating: "i", count: 2100))\"},\(exp)}",
            "{\"sub\":\"a\",\"caps\":[\"subscribe\"],\(exp)}",
            "{\"sub\":\"a\",\"caps\":{\"a b\":[\"subscribe\"]},\(exp)}",
            "{\"sub\":\"a\",\"caps\":{\"a/*/b\":[\"subscribe\"]},\(exp)}",
            "{\"sub\":\"a\",\"caps\":{\"a/*\":\"subscribe\"},\(exp)}",
            "{\"sub\":\"a\",\"caps\":{\"a/*\":[\"read\"]},\(exp)}",
        ]
        for text in bad {
            #expect(refusal { _ = try TokenClaimRules().principal(from: claims(text), now: now) } != nil, "\(text.prefix(80))")
        }
    }

    @Test func noCapsMeansNoGrants() throws {
        let principal = try TokenClaimRules().principal(from: claims("{\"sub\":\"a\",\"exp\":\(nowSeconds + 60)}"), now: now)
        #expect(principal.grants.rules.isEmpty)
    }
}
