/// An immutable byte buffer shared by reference: one framed event, written to thousands of sockets
/// without a copy per socket, freed when the last write that needs it completes.
public final class SharedBytes: @unchecked Sendable {
    public let pointer: UnsafeMutableRawPointer
    public let count: Int

    public init(_ bytes: [UInt8]) {
        count = bytes.count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 16)
        bytes.withUnsafeBytes { src in
            if let base = src.baseAddress { pointer.copyMemory(from: base, byteCount: count) }
        }
    }

    /// Builds the buffer in place: `fill` writes exactly `count` bytes.
    public init(count: Int, fill: (UnsafeMutableRawBufferPointer) -> Void) {
        self.count = count
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 16)
        fill(UnsafeMutableRawBufferPointer(start: pointer, count: count))
    }

    deinit { pointer.deallocate() }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }
}
