import ConcordCodec
import Testing

@Suite struct WebSocketFrameTests {
    /// The examples of RFC 6455 section 5.7, byte for byte.
    @Test func rfcExamples() {
        #expect(
            WebSocketFrameEncoder.encode(opcode: .text, payload: bytes("Hello"))
                == [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
        #expect(
            WebSocketFrameEncoder.encode(opcode: .text, payload: bytes("Hello"), maskKey: 0x37FA_213D)
                == [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
        #expect(
            WebSocketFrameEncoder.encode(opcode: .text, payload: bytes("Hel"), fin: false)
                == [0x01, 0x03, 0x48, 0x65, 0x6C])
        #expect(
            WebSocketFrameEncoder.encode(opcode: .continuation, payload: bytes("lo"))
                == [0x80, 0x02, 0x6C, 0x6F])
        #expect(
            WebSocketFrameEncoder.encode(opcode: .ping, payload: bytes("Hello"))
                == [0x89, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
        #expect(
            Array(WebSocketFrameEncoder.encode(opcode: .binary, payload: [UInt8](repeating: 0, count: 256)).prefix(4))
                == [0x82, 0x7E, 0x01, 0x00])
        #expect(
            Array(WebSocketFrameEncoder.encode(opcode: .binary, payload: [UInt8](repeating: 0, count: 65_536)).prefix(10))
                == [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0])
        let (events, status) = decode([0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
        #expect(status == .ok)
        #expect(events == [.text(bytes("Hello"))])
    }

    @Test func headerSizes() {
        #expect(WebSocketFrameEncoder.headerSize(payloadCount: 0, masked: false) == 2)
        #expect(WebSocketFrameEncoder.headerSize(payloadCount: 125, masked: false) == 2)
        #expect(WebSocketFrameEncoder.headerSize(payloadCount: 126, masked: false) == 4)
        #expect(WebSocketFrameEncoder.headerSize(payloadCount: 65_535, masked: true) == 8)
        #expect(WebSocketFrameEncoder.headerSize(payloadCount: 65_536, masked: false) == 10)
        #expect(WebSocketFrameEncoder.headerSize(payloadCount: 65_536, masked: true) == 14)
    }

    @Test(arguments: [0, 1, 7, 8, 9, 125, 126, 127, 1000, 65_535, 65_536, 70_001])
    func roundTripsInBothRoles(count: Int) {
        let payload = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let masked = WebSocketFrameEncoder.encode(opcode: .binary, payload: payload, maskKey: 0xDEAD_BEEF)
        let server = decode(masked, maxMessageBytes: 100_000)
        #expect(server.status == .ok)
        #expect(server.events == [.binary(payload)])
        let unmasked = WebSocketFrameEncoder.encode(opcode: .binary, payload: payload)
        let client = decode(unmasked, role: .client, maxMessageBytes: 100_000)
        #expect(client.status == .ok)
        #expect(client.events == [.binary(payload)])
        // Split mid-payload at an odd offset so unmasking resumes at a different key phase.
        if count > 10 {
            let split = decode(masked, maxMessageBytes: 100_000, cuts: [3, masked.count / 2 + 1, masked.count - 3])
            #expect(split.events == [.binary(payload)])
        }
    }

    @Test func writeHeaderMatchesEncode() {
        let payload = [UInt8](repeating: 0x41, count: 300)
        let frame = WebSocketFrameEncoder.encode(opcode: .text, payload: payload, maskKey: 0x0102_0304)
        var header = [UInt8](repeating: 0, count: WebSocketFrameEncoder.maxHeaderSize)
        let written = header.withUnsafeMutableBytes {
            WebSocketFrameEncoder.writeHeader(opcode: .text, payloadCount: 300, maskKey: 0x0102_0304, into: $0)
        }
        #expect(written == 8)
        #expect(Array(header[..<written]) == Array(frame[..<written]))
    }

    @Test func encodesNonContiguousCollections() {
        let frame = WebSocketFrameEncoder.encode(opcode: .text, payload: "abc".utf8.lazy.map { $0 })
        #expect(frame == [0x81, 3, 0x61, 0x62, 0x63])
    }

    @Test func closePayloadFitsAControlFrame() {
        #expect(WebSocketFrameEncoder.closePayload(code: 1000, reason: "") == [0x03, 0xE8])
        #expect(WebSocketFrameEncoder.closePayload(code: 4008, reason: "slow") == [0x0F, 0xA8] + bytes("slow"))
        // 62 two-byte characters: the cut must fall between characters, not inside one.
        let payload = WebSocketFrameEncoder.closePayload(code: 1001, reason: String(repeating: "é", count: 62))
        #expect(payload.count == 124)
        #expect(UTF8Validator.isValid(Array(payload[2...])))
    }

    @Test func fragmentedMessageWithInterleavedPing() {
        let input =
            clientFrame(.text, bytes("Hel"), fin: false)
            + clientFrame(.ping, bytes("p"))
            + clientFrame(.continuation, bytes("lo "), fin: false)
            + clientFrame(.continuation, bytes("wörld"))
        let (events, status) = decode(input)
        #expect(status == .ok)
        #expect(events == [.ping(bytes("p")), .text(bytes("Hello wörld"))])
    }

    @Test func emptyMessagesAndControlFrames() {
        let input =
            clientFrame(.text, []) + clientFrame(.binary, []) + clientFrame(.ping, [])
            + clientFrame(.pong, bytes("x")) + clientFrame(.text, [], fin: false) + clientFrame(.continuation, [])
        let (events, status) = decode(input)
        #expect(status == .ok)
        #expect(events == [.text([]), .binary([]), .ping([]), .pong(bytes("x")), .text([])])
    }

    /// Several frames of every kind, decoded whole, split in two at every byte and byte by byte:
    /// the result must not depend on how reads cut the stream.
    @Test func splittingAtEveryByteBoundaryChangesNothing() {
        let big = (0..<300).map { UInt8(truncatingIfNeeded: $0) }
        let input =
            clientFrame(.text, bytes("héllo"))
            + clientFrame(.binary, big, key: 0x0F0E_0D0C)
            + clientFrame(.text, bytes("frag"), fin: false)
            + clientFrame(.ping, bytes("are you there"))
            + clientFrame(.continuation, bytes("ment€"), fin: false)
            + clientFrame(.continuation, bytes("ed"))
            + clientFrame(.close, WebSocketFrameEncoder.closePayload(code: 1000, reason: "bye"))
        let expected: [WebSocketEvent] = [
            .text(bytes("héllo")), .binary(big), .ping(bytes("are you there")),
            .text(bytes("fragment€ed")), .close(code: 1000, reason: "bye"),
        ]
        let whole = decode(input)
        #expect(whole.status == .ok)
        #expect(whole.events == expected)
        for cut in 0...input.count {
            let split = decode(input, cuts: [cut])
            #expect(split.events == expected, "cut at \(cut)")
            #expect(split.status == .ok)
        }
        let byteByByte = decode(input, cuts: Array(1..<input.count))
        #expect(byteByByte.events == expected)
    }

    @Test func clientRoleReadsUnmaskedServerFrames() {
        let input =
            WebSocketFrameEncoder.encode(opcode: .text, payload: bytes("{\"op\":\"welcome\"}"))
            + WebSocketFrameEncoder.encode(opcode: .ping, payload: [])
        let (events, status) = decode(input, role: .client)
        #expect(status == .ok)
        #expect(events == [.text(bytes("{\"op\":\"welcome\"}")), .ping([])])
    }

    @Test func closeFrames() {
        #expect(decode(clientFrame(.close, [])).events == [.close(code: nil, reason: "")])
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999] {
            let (events, status) = decode(clientFrame(.close, WebSocketFrameEncoder.closePayload(code: code, reason: "ok")))
            #expect(status == .ok)
            #expect(events == [.close(code: code, reason: "ok")])
        }
    }

    @Test func inputAfterCloseIsIgnored() {
        let input =
            clientFrame(.close, WebSocketFrameEncoder.closePayload(code: 1000, reason: ""))
            + clientFrame(.text, bytes("late")) + [0xFF, 0xFF]
        let (events, status) = decode(input)
        #expect(status == .ok)
        #expect(events == [.close(code: 1000, reason: "")])
    }
}
