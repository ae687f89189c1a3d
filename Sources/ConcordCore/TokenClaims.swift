/// The claims Concord reads from a verified token, and the rules they must pass (RFC 7519 section 4).
///
/// ```json
/// {"sub": "alice", "name": "Alice", "info": {"color": "#e33"}, "exp": 1790000000,
///  "caps": {"resources/*": ["subscribe"], "presence/posts/*": ["presence", "typing"]}}
/// ```
public struct TokenClaimRules: Sendable, Equatable {
    /// When set, `aud` (a string or an array of strings) must contain it.
    public var audience: String?
    /// When set, `iss` must equal it.
    public var issuer: String?
    /// Clock skew forgiven on `exp` and `nbf`.
    public var leewaySeconds: Int64 = 5

    public init(audience: String? = nil, issuer: String? = nil, leewaySeconds: Int64 = 5) {
        self.audience = audience
        self.issuer = issuer
        self.leewaySeconds = leewaySeconds
    }

    public static let maxUserBytes = 200
    public static let maxNameBytes = 200
    public static let maxPatterns = 100

    /// The principal the claims describe, or `unauthorized` with the rule they break.
    public func principal(from claims: [String: JSONValue], now: Timestamp) throws(ProtocolError) -> Principal {
        let nowSeconds = now.milliseconds / 1000
        guard let exp = Self.seconds(claims["exp"]) else {
            throw ProtocolError(.unauthorized, "the token needs \"exp\" (expiry, seconds since the epoch)")
        }
        guard nowSeconds < exp + leewaySeconds else {
            throw ProtocolError(.unauthorized, "the token expired at \(Timestamp(milliseconds: exp * 1000).iso8601)")
        }
        if let raw = claims["nbf"], raw != .null {
            guard let nbf = Self.seconds(raw) else { throw ProtocolError(.unauthorized, "the token's \"nbf\" must be a number") }
            guard nowSeconds + leewaySeconds >= nbf else {
                throw ProtocolError(.unauthorized, "the token is not valid before \(Timestamp(milliseconds: nbf * 1000).iso8601)")
            }
        }
        if let audience {
            let listed: [JSONValue]
            switch claims["aud"] {
            case .string?: listed = [claims["aud"]!]
            case .array(let values)?: listed = values
            default: listed = []
            }
            guard listed.contains(.string(audience)) else {
                throw ProtocolError(.unauthorized, "the token's audience (\"aud\") does not include \(audience)")
            }
        }
        if let issuer, claims["iss"] != .string(issuer) {
            throw ProtocolError(.unauthorized, "the token's issuer (\"iss\") is not \(issuer)")
        }
        guard case .string(let user)? = claims["sub"], !user.isEmpty, user.utf8.count <= Self.maxUserBytes,
            !user.hasPrefix("~")
        else {
            throw ProtocolError(.unauthorized, "the token needs \"sub\" (the user id): 1 to \(Self.maxUserBytes) bytes, not starting with \"~\"")
        }
        var name: String?
        switch claims["name"] {
        case nil, .null?: break
        case .string(let s)? where s.utf8.count <= Self.maxNameBytes: name = s.isEmpty ? nil : s
        default: throw ProtocolError(.unauthorized, "the token's \"name\" must be a string of at most \(Self.maxNameBytes) bytes")
        }
        var info: JSONValue?
        switch claims["info"] {
        case nil, .null?: break
        case .object?:
            var writer = JSONWriter()
            writer.value(claims["info"]!)
            guard writer.bytes.count <= ClientCommand.maxPresenceInfoBytes else {
                throw ProtocolError(.unauthorized, "the token's \"info\" is over \(ClientCommand.maxPresenceInfoBytes) bytes")
            }
            info = claims["info"]
        default: throw ProtocolError(.unauthorized, "the token's \"info\" must be an object")
        }
        let grants = try Self.grants(claims["caps"])
        return Principal(
            user: user, name: name, info: info, grants: grants,
            expiresAt: Timestamp(milliseconds: exp * 1000))
    }

    /// The `caps` claim: channel pattern to a list of capability names.
    static func grants(_ raw: JSONValue?) throws(ProtocolError) -> Grants {
        guard let raw, raw != .null else { return Grants() }
        guard case .object(let members) = raw, members.count <= maxPatterns else {
            throw ProtocolError(.unauthorized, "the token's \"caps\" must be an object of at most \(maxPatterns) channel patterns")
        }
        var rules: [Grants.Rule] = []
        for (pattern, list) in members.sorted(by: { $0.key < $1.key }) {
            guard ChannelPattern.isValid(pattern) else {
                throw ProtocolError(.unauthorized, "the token's \"caps\" has an invalid channel pattern: \(pattern.prefix(60))")
            }
            guard case .array(let names) = list else {
                throw ProtocolError(.unauthorized, "the token's \"caps\" must map each pattern to an array of capabilities")
            }
            var capabilities: Capabilities = []
            for name in names {
                guard case .string(let s) = name, let capability = Capabilities(name: s) else {
                    throw ProtocolError(
                        .unauthorized,
                        "the token's \"caps\" names an unknown capability for \(pattern) (known: subscribe, publish, presence, typing, commit, *)")
                }
                capabilities.formUnion(capability)
            }
            rules.append(Grants.Rule(ChannelPattern(pattern), capabilities))
        }
        return Grants(rules)
    }

    /// A NumericDate: whole seconds (a fraction is dropped), within a sane range.
    static func seconds(_ value: JSONValue?) -> Int64? {
        switch value {
        case .int(let i)?: return i >= 0 && i < 1 << 40 ? i : nil
        case .double(let d)?: return d >= 0 && d < Double(1 << 40) ? Int64(d) : nil
        default: return nil
        }
    }
}
