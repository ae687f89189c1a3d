import CHTTPParser

/// Why a request could not be parsed; the server answers 431, 413 or 400 respectively.
public enum HTTPParseError: Error, Equatable, Sendable {
    case headersTooLarge
    /// More header fields than `maxHeaderCount`.
    case tooManyHeaders
    case bodyTooLarge
    case malformed(String)
}

/// What one `feed` produced.
public enum HTTPParseOutcome: Sendable {
    /// Every byte was consumed and the request is not complete yet.
    case needMore
    /// A complete request; `consumed` counts the bytes of this call that belong to it. The rest is
    /// the next pipelined request or, after an upgrade, the new protocol's first bytes.
    case request(HTTPRequest, consumed: Int)
    case error(HTTPParseError)
}

/// An incremental HTTP/1.1 request parser over Debian's http_parser, returning one request at a time.
///
/// Limits: `maxHeaderBytes` (default 16,384) bounds the request line plus headers including the
/// final blank line, and `maxHeaderCount` (default 100) the number of header fields; `maxBodyBytes` (default 1,048,576) bounds the body, checked against
/// Content-Length as soon as the headers end and against each chunk size for chunked bodies. Chunk
/// framing, extensions and trailers together may add at most `maxHeaderBytes + maxBodyBytes` more
/// bytes, so a body cannot keep the parser busy indefinitely. Trailer fields are read and dropped.
/// After an error the parser keeps returning it until `reset()`.
public final class HTTPRequestParser {
    public let maxHeaderBytes: Int
    public let maxBodyBytes: Int
    public let maxHeaderCount: Int

    // http_parser keeps pointers to neither; they only need stable addresses while it runs.
    private let parser: UnsafeMutablePointer<http_parser>
    private let settings: UnsafeMutablePointer<http_parser_settings>

    // What the callbacks collect for the request in progress.
    fileprivate var url: [UInt8] = []
    fileprivate var fieldName: [UInt8] = []
    fileprivate var fieldValue: [UInt8] = []
    fileprivate var inValue = false
    fileprivate var headers: [(name: String, value: String)] = []
    fileprivate var body: [UInt8] = []
    fileprivate var headersComplete = false
    fileprivate var messageComplete = false
    fileprivate var keepAlive = false
    fileprivate var isUpgrade = false
    /// Set by a callback that fails the parse for a reason http_parser has no code for.
    fileprivate var callbackError: HTTPParseError?

    private var headerBytes = 0
    private var bodyPhaseBytes = 0
    private var failure: HTTPParseError?

    public init(maxHeaderBytes: Int = 16_384, maxBodyBytes: Int = 1_048_576, maxHeaderCount: Int = 100) {
        precondition(maxHeaderBytes > 0 && maxBodyBytes >= 0 && maxHeaderCount > 0, "invalid HTTP limits")
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderCount = maxHeaderCount
        parser = .allocate(capacity: 1)
        settings = .allocate(capacity: 1)
        http_parser_settings_init(settings)
        settings.pointee.on_url = { parser, at, length in
            HTTPRequestParser.owner(parser).url.append(at, length)
        }
        settings.pointee.on_header_field = { parser, at, length in
            let owner = HTTPRequestParser.owner(parser)
            guard !owner.headersComplete else { return 0 }  // a trailer of a chunked body
            if owner.inValue, !owner.finishField() { return 1 }
            return owner.fieldName.append(at, length)
        }
        settings.pointee.on_header_value = { parser, at, length in
            let owner = HTTPRequestParser.owner(parser)
            guard !owner.headersComplete else { return 0 }
            owner.inValue = true
            return owner.fieldValue.append(at, length)
        }
        settings.pointee.on_headers_complete = { parser in
            let owner = HTTPRequestParser.owner(parser)
            // Not 1 or 2 on error: those mean "no body" to http_parser.
            if owner.inValue, !owner.finishField() { return -1 }
            owner.headersComplete = true
            // Stop right here so `feed` can check the header size and Content-Length before any body.
            http_parser_pause(parser, 1)
            return 0
        }
        settings.pointee.on_chunk_header = { parser in
            let owner = HTTPRequestParser.owner(parser)
            guard let parser else { return 1 }
            if parser.pointee.content_length > UInt64(owner.maxBodyBytes - owner.body.count) {
                owner.callbackError = .bodyTooLarge
                return 1
            }
            return 0
        }
        settings.pointee.on_body = { parser, at, length in
            let owner = HTTPRequestParser.owner(parser)
            if length > owner.maxBodyBytes - owner.body.count {
                owner.callbackError = .bodyTooLarge
                return 1
            }
            return owner.body.append(at, length)
        }
        settings.pointee.on_message_complete = { parser in
            let owner = HTTPRequestParser.owner(parser)
            guard let parser else { return 1 }
            owner.messageComplete = true
            owner.keepAlive = http_should_keep_alive(parser) != 0
            owner.isUpgrade = parser.pointee.upgrade != 0
            // One request per `feed`: the caller decides what the following bytes are.
            http_parser_pause(parser, 1)
            return 0
        }
        restart()
    }

    deinit {
        parser.deallocate()
        settings.deallocate()
    }

    /// Forgets any request in progress and any error; the next byte starts a new request.
    public func reset() {
        failure = nil
        restart()
    }

    /// Parses the next bytes of the connection. Returns `.needMore` having consumed all of them,
    /// one complete request with the count of bytes of this call it used, or an error.
    public func feed(_ bytes: UnsafeRawBufferPointer) -> HTTPParseOutcome {
        if let failure { return .error(failure) }
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            return .needMore  // zero bytes would tell http_parser the connection ended
        }
        var offset = 0
        while offset < bytes.count {
            let inHeaders = !headersComplete
            var length = bytes.count - offset
            if inHeaders {
                // Never hand http_parser more header bytes than the budget, so a huge chunk of
                // headers fails at the limit without being parsed further.
                let budget = maxHeaderBytes - headerBytes
                guard budget > 0 else { return fail(.headersTooLarge) }
                length = min(length, budget)
            }
            let start = (base + offset).assumingMemoryBound(to: CChar.self)
            let consumed = http_parser_execute(parser, settings, start, length)
            let errno = parser.pointee.http_errno
            offset += consumed
            if errno == HPE_PAUSED.rawValue {
                http_parser_pause(parser, 0)
                if messageComplete {
                    bodyPhaseBytes += consumed
                    if let error = checkFramingOverhead() { return fail(error) }
                    let request = makeRequest()
                    restart()
                    return .request(request, consumed: offset)
                }
                // Paused at the end of the headers, just before their final LF, which the next
                // execute re-reads to decide what follows.
                headerBytes += consumed + 1
                if let error = checkContentLength() { return fail(error) }
                continue
            }
            if inHeaders {
                headerBytes += consumed
            } else {
                // Checked before any parse error too: the overhead only grows, so the outcome
                // cannot depend on where the reads happened to split the stream.
                bodyPhaseBytes += consumed
                if let error = checkFramingOverhead() { return fail(error) }
            }
            guard errno == HPE_OK.rawValue else { return fail(error(for: errno)) }
            // Out of budget with the headers still open: they are longer than the limit.
            if inHeaders, headerBytes >= maxHeaderBytes { return fail(.headersTooLarge) }
            guard consumed > 0 else { return fail(.malformed("parser made no progress")) }
        }
        return .needMore
    }

    // MARK: Internals

    fileprivate static func owner(_ parser: UnsafeMutablePointer<http_parser>?) -> HTTPRequestParser {
        Unmanaged<HTTPRequestParser>.fromOpaque(parser!.pointee.data).takeUnretainedValue()
    }

    private func restart() {
        http_parser_init(parser, HTTP_REQUEST)
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        url = []
        fieldName = []
        fieldValue = []
        inValue = false
        headers = []
        body = []
        headersComplete = false
        messageComplete = false
        keepAlive = false
        isUpgrade = false
        callbackError = nil
        headerBytes = 0
        bodyPhaseBytes = 0
    }

    /// Stores the header just read; false (and `callbackError`) when its name is not a token.
    fileprivate func finishField() -> Bool {
        // Debian builds http_parser non-strict, which lets spaces into names; RFC 9112 section 5.1
        // says to reject them (a proxy might read "Content-Length : 5" differently).
        guard !fieldName.isEmpty, fieldName.allSatisfy(Self.isTokenByte) else {
            // http_parser's own wording: whether it or this check sees the bad byte first depends
            // on how reads split the stream, and the error should not.
            callbackError = .malformed(String(cString: http_errno_description(HPE_INVALID_HEADER_TOKEN)))
            return false
        }
        guard headers.count < maxHeaderCount else {
            callbackError = .tooManyHeaders
            return false
        }
        var end = fieldValue.count
        while end > 0, fieldValue[end - 1] == UInt8(ascii: " ") || fieldValue[end - 1] == UInt8(ascii: "\t") {
            end -= 1
        }
        headers.append(
            (
                name: String(decoding: fieldName, as: UTF8.self),
                value: String(decoding: fieldValue[..<end], as: UTF8.self)
            ))
        fieldName.removeAll(keepingCapacity: true)
        fieldValue.removeAll(keepingCapacity: true)
        inValue = false
        return true
    }

    /// RFC 9110 section 5.6.2 `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "!"), UInt8(ascii: "#")...UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"),
            UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private func checkContentLength() -> HTTPParseError? {
        guard parser.pointee.flags & UInt32(F_CONTENTLENGTH.rawValue) != 0 else { return nil }
        let length = parser.pointee.content_length
        if length > UInt64(maxBodyBytes) { return .bodyTooLarge }
        body.reserveCapacity(Int(length))
        return nil
    }

    /// Bytes of the body phase that are not body: chunk sizes, extensions, CRLFs, trailers.
    private func checkFramingOverhead() -> HTTPParseError? {
        bodyPhaseBytes - body.count > maxHeaderBytes + maxBodyBytes ? .bodyTooLarge : nil
    }

    private func error(for errno: UInt32) -> HTTPParseError {
        if let callbackError { return callbackError }
        if errno == HPE_HEADER_OVERFLOW.rawValue { return .headersTooLarge }
        return .malformed(String(cString: http_errno_description(http_errno(rawValue: errno))))
    }

    private func fail(_ error: HTTPParseError) -> HTTPParseOutcome {
        failure = error
        return .error(error)
    }

    private func makeRequest() -> HTTPRequest {
        let method = String(cString: http_method_str(http_method(rawValue: parser.pointee.method)))
        return HTTPRequest(
            method: method, target: String(decoding: url, as: UTF8.self), headers: headers,
            body: body, keepAlive: keepAlive, isUpgrade: isUpgrade,
            version: (Int(parser.pointee.http_major), Int(parser.pointee.http_minor)))
    }
}

extension Array where Element == UInt8 {
    /// Appends bytes handed to an http_parser callback; returns the callback's "carry on" (0).
    fileprivate mutating func append(_ at: UnsafePointer<CChar>?, _ length: Int) -> Int32 {
        if let at, length > 0 {
            append(contentsOf: UnsafeRawBufferPointer(start: at, count: length))
        }
        return 0
    }
}
