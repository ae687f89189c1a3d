// libFuzzer target: what the server does with a connection token before any key is involved.
// Splitting, base64url, the header and claims JSON and the claims rules never crash; a token the
// parser accepts re-encodes to parts that parse to the same thing; accepted claims obey the rules.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let now = Timestamp(milliseconds: 1_800_000_000_000)

    // The bytes as a whole token.
    let token = String(decoding: bytes, as: UTF8.self)
    if let parts = try? TokenParts.parse(token) {
        let dots = token.utf8.filter { $0 == UInt8(ascii: ".") }.count
        precondition(dots == 2, "accepted a token without exactly three parts")
        precondition(parts.signingInput.count < token.utf8.count, "signing input covers the signature")
        check(claims: parts.claims, now: now)
    }

    // The bytes as a claims document inside a well-formed token, so the rules see every shape.
    let header = Base64URL.encode(Array(#"{"alg":"HS256"}"#.utf8))
    let wrapped = header + "." + Base64URL.encode(bytes) + "." + Base64URL.encode([1, 2, 3])
    if let parts = try? TokenParts.parse(wrapped) {
        precondition(parts.algorithm == "HS256" && parts.signature == [1, 2, 3], "the frame of a token changed")
        check(claims: parts.claims, now: now)
    }

    // Base64url is strict: what decodes re-encodes to the same text.
    if let decoded = Base64URL.decode(bytes) {
        precondition(Array(Base64URL.encode(decoded).utf8) == bytes, "base64url has two spellings of \(decoded)")
    }
    return 0
}

private func check(claims: [String: JSONValue], now: Timestamp) {
    for rules in [TokenClaimRules(), TokenClaimRules(audience: "concord", issuer: "https://app.example")] {
        guard let principal = try? rules.principal(from: claims, now: now) else { continue }
        guard let user = principal.user else { preconditionFailure("a token principal without a user") }
        precondition(!user.isEmpty && user.utf8.count <= TokenClaimRules.maxUserBytes && !user.hasPrefix("~"), "bad user accepted")
        precondition(principal.expiresAt! > Timestamp(milliseconds: now.milliseconds - 6_000), "expired token accepted")
        precondition(principal.grants.rules.allSatisfy { ChannelPattern.isValid($0.pattern.text) }, "bad pattern accepted")
        // Personal channels stay personal whatever the grants.
        precondition(
            (try? principal.authorize(.subscribe, on: "notifications/user/~nobody", serverGrants: .everything)) == nil,
            "another user's notifications were allowed")
        precondition(
            (try? principal.authorize(.subscribe, on: "notifications/user/" + user, serverGrants: Grants())) != nil,
            "the user's own notifications were refused")
    }
}
