import ConcordCore
import Crypto

/// Signs HS256 tokens: what an app's backend does, done by the demo's own backend routes.
public enum TokenSigner {
    public static func hs256(claims: [String: JSONValue], secret: String) -> String {
        var claimsJSON = JSONWriter()
        claimsJSON.value(.object(claims))
        let input = Base64URL.encode(Array(#"{"alg":"HS256","typ":"JWT"}"#.utf8)) + "." + Base64URL.encode(claimsJSON.bytes)
        let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: Array(secret.utf8)))
        return input + "." + Base64URL.encode(Array(mac))
    }
}
