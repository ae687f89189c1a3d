import ConcordCodec
import Testing

/// Every protocol violation the decoder rejects, with its close code.
@Suite struct WebSocketDecoderErrorTests {
    private func closeCode(_ input: [UInt8], role: WebSocketDecoder.Role = .server, maxMessageBytes: Int = 65_536) -> UInt16? {
        if case .failed(let code, _) = decode(input, role: role, maxMessageBytes: maxMessageBytes).status { return code }
        return nil
    }

    @Test func unmaskedClientFrame() {
        #expect(closeCode(WebSocketFrameEncoder.encode(opcode: .text, payload: bytes("hi"))) == 1002)
    }

    @Test func maskedServerFrame() {
        #expect(closeCode(clientFrame(.text, bytes("hi")), role: .client) == 1002)
    }

    @Test(arguments: [0x40, 0x20, 0x10, 0x70] as [UInt8])
    func reservedBits(bits: UInt8) {
        #expect(closeCode(rawClientFrame(first: 0x81 | bits, payload: bytes("x"))) == 1002)
    }

    @Test(arguments: [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] as [UInt8])
    func reservedOpcodes(opcode: UInt8) {
        #expect(closeCode(rawClientFrame(first: 0x80 | opcode)) == 1002)
    }

    @Test func fragmentedControlFrame() {
        #expect(closeCode(clientFrame(.ping, bytes("x"), fin: false)) == 1002)
        #expect(closeCode(clientFrame(.close, [], fin: false)) == 1002)
    }

    @Test func controlFrameOver125Bytes() {
        #expect(closeCode(clientFrame(.ping, [UInt8](repeating: 1, count: 126))) == 1002)
        #expect(decode(clientFrame(.ping, [UInt8](repeating: 1, count: 125))).status == .ok)
    }

    @Test func continuationWithoutAMessage() {
        #expect(closeCode(clientFrame(.continuation, bytes("x"))) == 1002)
        // A finished message does not leave one open.
        #expect(closeCode(clientFrame(.text, bytes("a")) + clientFrame(.continuation, bytes("x"))) == 1002)
    }

    @Test func newDataFrameInsideAFragmentedMessage() {
        #expect(closeCode(clientFrame(.text, bytes("a"), fin: false) + clientFrame(.text, bytes("b"))) == 1002)
        #expect(closeCode(clientFrame(.binary, bytes("a"), fin: false) + clientFrame(.binary, bytes("b"))) == 1002)
    }

    @Test func sixtyFourBitLengthWithHighBitSet() {
        let header: [UInt8] = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]
        #expect(closeCode(header) == 1002)
    }

    @Test func messageTooLargeIsRefusedFromTheHeader() {
        // Only the header of a 70,000-byte frame: refused before any payload arrives.
        let frame = clientFrame(.binary, [UInt8](repeating: 0, count: 70_000))
        #expect(closeCode(Array(frame[..<14])) == 1009)
        #expect(closeCode(clientFrame(.text, bytes("12345")), maxMessageBytes: 4) == 1009)
        #expect(decode(clientFrame(.text, bytes("1234")), maxMessageBytes: 4).status == .ok)
        let huge: [UInt8] = [0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4]
        #expect(closeCode(huge) == 1009)
    }

    @Test func messageTooLargeAcrossFragments() {
        let input = clientFrame(.text, bytes("abc"), fin: false) + clientFrame(.continuation, bytes("de"))
        #expect(closeCode(input, maxMessageBytes: 4) == 1009)
        let (events, status) = decode(input, maxMessageBytes: 5)
        #expect(status == .ok)
        #expect(events == [.text(bytes("abcde"))])
    }

    @Test func invalidUTF8Text() {
        #expect(closeCode(clientFrame(.text, [0x61, 0xC0, 0x80])) == 1007)
        #expect(closeCode(clientFrame(.text, [0xED, 0xA0, 0x80])) == 1007)
        // Binary messages are not checked.
        #expect(decode(clientFrame(.binary, [0xC0, 0x80])).status == .ok)
    }

    @Test func truncatedUTF8AtMessageEnd() {
        #expect(closeCode(clientFrame(.text, [0x61, 0xE2, 0x82])) == 1007)
        #expect(closeCode(clientFrame(.text, [0xE2, 0x82], fin: false) + clientFrame(.continuation, [])) == 1007)
        // A sequence split across fragments is fine.
        let (events, status) = decode(clientFrame(.text, [0xE2, 0x82], fin: false) + clientFrame(.continuation, [0xAC]))
        #expect(status == .ok)
        #expect(events == [.text(bytes("€"))])
    }

    @Test func invalidUTF8FailsFastAcrossFragments() {
        // The first fragment is already impossible: fail without waiting for the final one.
        #expect(closeCode(clientFrame(.text, [0x61, 0xF5], fin: false)) == 1007)
        // Also within one frame whose payload has only partly arrived.
        let frame = clientFrame(.text, [0x61, 0xC1, 0x62, 0x63, 0x64, 0x65])
        #expect(closeCode(Array(frame[..<8])) == 1007)
    }

    @Test func closePayloadOfOneByte() {
        #expect(closeCode(clientFrame(.close, [0x03])) == 1002)
    }

    @Test(arguments: [0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 2000, 2999, 5000, 65_535] as [UInt16])
    func invalidCloseCodes(code: UInt16) {
        #expect(closeCode(clientFrame(.close, WebSocketFrameEncoder.closePayload(code: code, reason: ""))) == 1002)
    }

    @Test func closeReasonNotUTF8() {
        #expect(closeCode(clientFrame(.close, [0x03, 0xE8, 0x61, 0xFF])) == 1007)
    }

    @Test func failureSticksAndEarlierEventsSurvive() {
        var decoder = WebSocketDecoder(role: .server)
        var events: [WebSocketEvent] = []
        let input = clientFrame(.text, bytes("ok")) + WebSocketFrameEncoder.encode(opcode: .text, payload: bytes("bad"))
        let status = input.withUnsafeBytes { decoder.decode($0) { events.append($0) } }
        #expect(status == .failed(closeCode: 1002, reason: "client frame is not masked"))
        #expect(events == [.text(bytes("ok"))])
        let again = clientFrame(.text, bytes("later")).withUnsafeBytes { decoder.decode($0) { events.append($0) } }
        #expect(again == status)
        #expect(events.count == 1)
        #expect(decoder.status == status)
    }
}
