/// The error codes of protocol v1, shared by WebSocket error frames and HTTP error bodies.
public enum ErrorCode: String, Sendable, CaseIterable {
    case invalidJSON = "invalid_json"
    case invalidFrame = "invalid_frame"
    case unknownOp = "unknown_op"
    case invalidChannel = "invalid_channel"
    case invalidEvent = "invalid_event"
    case duplicateSubscription = "duplicate_subscription"
    case unknownSubscription = "unknown_subscription"
    case tooManySubscriptions = "too_many_subscriptions"
    case notPresent = "not_present"
    case rateLimited = "rate_limited"
    case tooManyConnections = "too_many_connections"
    case anonymous
    case unavailable
    case forbidden
    case unauthorized
    case notFound = "not_found"
    case methodNotAllowed = "method_not_allowed"
    case payloadTooLarge = "payload_too_large"
    case headersTooLarge = "headers_too_large"
    case badRequest = "bad_request"
    case unsupportedMediaType = "unsupported_media_type"
    case `internal`
}

/// A refused command: a code from the protocol and a sentence for the developer reading it.
public struct ProtocolError: Error, Equatable, Sendable {
    public var code: ErrorCode
    public var message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
}
