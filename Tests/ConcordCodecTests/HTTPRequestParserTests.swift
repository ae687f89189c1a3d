import ConcordCodec
import Testing

@Suite struct HTTPRequestParserTests {
    @Test func simpleGet() throws {
        let text = "GET /v1/ws?user=alice HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"
        let outcome = HTTPRequestParser().feed(text)
        let request = try #require(outcome.request)
        #expect(outcome.consumed == text.utf8.count)
        #expect(request.method == "GET")
        #expect(request.target == "/v1/ws?user=alice")
        #expect(request.path == "/v1/ws")
        #expect(request.query == ["user": "alice"])
        #expect(request.version == (1, 1))
        #expect(request.keepAlive)
        #expect(!request.isUpgrade)
        #expect(request.body.isEmpty)
        #expect(request.headers.map(\.name) == ["Host", "Accept"])
    }

    @Test func headersAreCaseInsensitiveAndRepeatedOnesJoin() throws {
        let text = "GET / HTTP/1.1\r\nHOST: a\r\nX-Thing: one  \r\nx-thing: two\r\nConnection: keep-alive, Upgrade\r\nEmpty:\r\n\r\n"
        let request = try #require(HTTPRequestParser().feed(text).request)
        #expect(request.header("host") == "a")
        #expect(request.header("Host") == "a")
        #expect(request.header("X-THING") == "one, two")
        #expect(request.header("empty") == "")
        #expect(request.header("missing") == nil)
        #expect(request.headerContainsToken("connection", "upgrade"))
        #expect(request.headerContainsToken("Connection", "KEEP-ALIVE"))
        #expect(!request.headerContainsToken("Connection", "close"))
    }

    @Test func queryIsPercentDecoded() throws {
        let target = "/p?a=1&b=two%20words&c=x+y&d&e=%zz&a=2&%C3%A9=%E2%82%AC&&f=%41%4a#frag"
        let request = try #require(HTTPRequestParser().feed("GET \(target) HTTP/1.1\r\nHost: h\r\n\r\n").request)
        #expect(request.path == "/p")
        #expect(request.query == ["a": "1", "b": "two words", "c": "x y", "d": "", "e": "%zz", "é": "€", "f": "AJ"])
    }

    @Test func absoluteFormTarget() throws {
        let request = try #require(HTTPRequestParser().feed("GET http://h:1/x/y?q=1 HTTP/1.1\r\nHost: h\r\n\r\n").request)
        #expect(request.path == "/x/y")
        #expect(request.query == ["q": "1"])
    }

    @Test func postWithContentLength() throws {
        let text = "POST /v1/publish HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world"
        let outcome = HTTPRequestParser().feed(text)
        let request = try #require(outcome.request)
        #expect(request.method == "POST")
        #expect(request.body == bytes("hello world"))
        #expect(outcome.consumed == text.utf8.count)
    }

    @Test func chunkedBody() throws {
        let text = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
        let outcome = HTTPRequestParser().feed(text)
        let request = try #require(outcome.request)
        #expect(request.body == bytes("hello world"))
        #expect(outcome.consumed == text.utf8.count)
        #expect(request.header("Trailer") == nil)
    }

    @Test func byteByByteFeeding() throws {
        let text = "POST /a?b=c HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX: y\r\n\r\nabc"
        let parser = HTTPRequestParser()
        let all = bytes(text)
        for byte in all.dropLast() {
            #expect(parser.feed([byte]).isNeedMore)
        }
        let outcome = parser.feed([all.last!])
        let request = try #require(outcome.request)
        #expect(outcome.consumed == 1)
        #expect(request.target == "/a?b=c")
        #expect(request.header("x") == "y")
        #expect(request.body == bytes("abc"))
    }

    @Test func pipelinedRequests() throws {
        let first = "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
        let second = "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
        let all = bytes(first + second)
        let parser = HTTPRequestParser()
        let one = parser.feed(all)
        #expect(one.request?.path == "/one")
        #expect(one.consumed == first.utf8.count)
        let two = parser.feed(Array(all[first.utf8.count...]))
        #expect(two.request?.path == "/two")
        #expect(two.request?.body == bytes("hi"))
        #expect(two.request?.keepAlive == false)
        #expect(two.consumed == second.utf8.count)
    }

    @Test func pipelinedRequestsSplitAtEveryByte() {
        let all = bytes("GET /one HTTP/1.1\r\nHost: h\r\n\r\nPOST /two HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /three HTTP/1.1\r\n\r\n")
        for cut in 0...all.count {
            let parser = HTTPRequestParser()
            var paths: [String] = []
            for piece in [Array(all[..<cut]), Array(all[cut...])] {
                var rest = piece
                while !rest.isEmpty {
                    let outcome = parser.feed(rest)
                    guard let consumed = outcome.consumed else {
                        #expect(outcome.isNeedMore)
                        break
                    }
                    paths.append(outcome.request!.path)
                    rest.removeFirst(consumed)
                }
            }
            #expect(paths == ["/one", "/two", "/three"], "cut at \(cut)")
        }
    }

    @Test func upgradeLeavesTheFollowingBytes() throws {
        let head =
            "GET /v1/ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        let frame = clientFrame(.text, bytes("hi"))
        let outcome = HTTPRequestParser().feed(bytes(head) + frame)
        let request = try #require(outcome.request)
        #expect(request.isUpgrade)
        #expect(outcome.consumed == head.utf8.count)
    }

    @Test func keepAliveFollowsVersionAndConnection() {
        #expect(HTTPRequestParser().feed("GET / HTTP/1.1\r\nConnection: close\r\n\r\n").request?.keepAlive == false)
        #expect(HTTPRequestParser().feed("GET / HTTP/1.0\r\n\r\n").request?.keepAlive == false)
        #expect(HTTPRequestParser().feed("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").request?.keepAlive == true)
        #expect(HTTPRequestParser().feed("GET / HTTP/1.0\r\n\r\n").request?.version.minor == 0)
    }

    @Test func emptyFeedNeedsMore() {
        #expect(HTTPRequestParser().feed([UInt8]()).isNeedMore)
    }

    // MARK: Errors

    @Test func headerNamesMayUseEveryTokenCharacter() {
        let name = "!#$%&'*+-.^_`|~09azAZ"
        #expect(HTTPRequestParser().feed("GET / HTTP/1.1\r\n\(name): v\r\n\r\n").request?.header(name) == "v")
    }

    @Test func headersTooLarge() {
        let parser = HTTPRequestParser(maxHeaderBytes: 100)
        let text = "GET / HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 200))\r\n\r\n"
        #expect(parser.feed(text).error == .headersTooLarge)
        // Also when the headers arrive in small pieces.
        let pieces = HTTPRequestParser(maxHeaderBytes: 100)
        var last: HTTPParseOutcome = .needMore
        for byte in bytes(text) where last.isNeedMore { last = pieces.feed([byte]) }
        #expect(last.error == .headersTooLarge)
    }

    @Test func headerCountIsLimited() {
        let fields = (0..<5).map { "X-\($0): v\r\n" }.joined()
        #expect(HTTPRequestParser(maxHeaderCount: 5).feed("GET / HTTP/1.1\r\n\(fields)\r\n").request != nil)
        let more = fields + "X-5: v\r\n"
        #expect(HTTPRequestParser(maxHeaderCount: 5).feed("GET / HTTP/1.1\r\n\(more)\r\n").error == .tooManyHeaders)
        // Byte by byte, the same outcome.
        let pieces = HTTPRequestParser(maxHeaderCount: 5)
        var last: HTTPParseOutcome = .needMore
        for byte in bytes("GET / HTTP/1.1\r\n\(more)\r\n") where last.isNeedMore { last = pieces.feed([byte]) }
        #expect(last.error == .tooManyHeaders)
    }

    @Test func headersExactlyAtTheLimitPass() {
        let text = "GET / HTTP/1.1\r\nX: abc\r\n\r\n"
        let count = text.utf8.count
        #expect(HTTPRequestParser(maxHeaderBytes: count).feed(text).request != nil)
        #expect(HTTPRequestParser(maxHeaderBytes: count - 1).feed(text).error == .headersTooLarge)
    }

    @Test func bodyTooLargeIsKnownFromContentLength() {
        let parser = HTTPRequestParser(maxBodyBytes: 10)
        // Only the headers: the limit is enforced before any body byte arrives.
        #expect(parser.feed("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n").error == .bodyTooLarge)
        #expect(HTTPRequestParser(maxBodyBytes: 10).feed("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789").request != nil)
    }

    @Test func chunkedBodyTooLarge() {
        let parser = HTTPRequestParser(maxBodyBytes: 10)
        #expect(parser.feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n").isNeedMore)
        #expect(parser.feed("5\r\n").error == .bodyTooLarge)
        let huge = HTTPRequestParser(maxBodyBytes: 10)
        #expect(huge.feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n").error == .bodyTooLarge)
    }

    @Test func endlessChunkExtensionIsBounded() {
        let parser = HTTPRequestParser(maxHeaderBytes: 100, maxBodyBytes: 100)
        #expect(parser.feed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;").isNeedMore)
        let filler = String(repeating: "x", count: 150)
        #expect(parser.feed(filler).isNeedMore)
        #expect(parser.feed(filler).error == .bodyTooLarge)
    }

    @Test func malformedRequestLine() {
        #expect(isMalformed(HTTPRequestParser().feed("GARBAGE\r\n\r\n")))
        #expect(isMalformed(HTTPRequestParser().feed("GET / HTTP/x.1\r\n\r\n")))
        #expect(isMalformed(HTTPRequestParser().feed("GET /a b HTTP/1.1\r\n\r\n")))
    }

    @Test func badHeader() {
        #expect(isMalformed(HTTPRequestParser().feed("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n")))
        #expect(isMalformed(HTTPRequestParser().feed("GET / HTTP/1.1\r\nHost: h\r\nLast : x\r\n\r\n")))
        #expect(isMalformed(HTTPRequestParser().feed("GET / HTTP/1.1\r\nBad\u{01}Header: x\r\n\r\n")))
        #expect(isMalformed(HTTPRequestParser().feed("GET / HTTP/1.1\r\nNoColon\r\n\r\n")))
        #expect(isMalformed(HTTPRequestParser().feed("GET / HTTP/1.1\r\n: empty name\r\n\r\n")))
        #expect(isMalformed(HTTPRequestParser().feed("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n")))
        #expect(isMalformed(HTTPRequestParser().feed("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")))
    }

    @Test func errorsStickUntilReset() {
        let parser = HTTPRequestParser()
        #expect(isMalformed(parser.feed("NOPE\r\n")))
        #expect(isMalformed(parser.feed("GET / HTTP/1.1\r\n\r\n")))
        parser.reset()
        #expect(parser.feed("GET / HTTP/1.1\r\n\r\n").request != nil)
    }

    private func isMalformed(_ outcome: HTTPParseOutcome) -> Bool {
        if case .malformed = outcome.error { return true }
        return false
    }

    @Test func bearerTokenAndMediaType() {
        func request(_ headers: String) -> HTTPRequest {
            HTTPRequestParser().feed("GET / HTTP/1.1\r\n\(headers)\r\n").request!
        }
        #expect(request("Authorization: Bearer abc\r\n").bearerToken == "abc")
        #expect(request("authorization: bEaReR   abc  \r\n").bearerToken == "abc")
        #expect(request("Authorization: Basic abc\r\n").bearerToken == nil)
        #expect(request("Authorization: Bearer \r\n").bearerToken == nil)
        #expect(request("X: y\r\n").bearerToken == nil)
        #expect(request("Content-Type: application/json\r\n").hasMediaType("application/json"))
        #expect(request("Content-Type: Application/JSON; charset=utf-8\r\n").hasMediaType("application/json"))
        #expect(!request("Content-Type: application/jsonx\r\n").hasMediaType("application/json"))
        #expect(!request("Content-Type: text/plain\r\n").hasMediaType("application/json"))
        #expect(!request("X: y\r\n").hasMediaType("application/json"))
    }
}
