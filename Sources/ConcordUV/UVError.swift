import CLibUV

/// A libuv error code with libuv's own description.
public struct UVError: Error, CustomStringConvertible, Equatable, Sendable {
    public let code: Int32

    public init(_ code: Int32) { self.code = code }

    public var name: String { String(cString: uv_err_name(code)) }
    public var description: String { "\(name): \(String(cString: uv_strerror(code)))" }

    public static let endOfFile = UVError(Int32(UV_EOF.rawValue))
    public static let cancelled = UVError(Int32(UV_ECANCELED.rawValue))

    static func check(_ result: Int32) throws(UVError) {
        if result < 0 { throw UVError(result) }
    }
}
