import Foundation

/// A value several threads read and change under a lock.
public final class Mutexed<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    public init(_ value: T) { stored = value }
    public var value: T { lock.withLock { stored } }
    public func append<E>(_ element: E) where T == [E] { lock.withLock { stored.append(element) } }
    public func update<R>(_ body: (inout T) throws -> R) rethrows -> R { try lock.withLock { try body(&stored) } }
}
