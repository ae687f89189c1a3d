/// Collects the answers of several callbacks, which may come in any order (or all at once), and
/// hands them over in the order they were asked for once the last has come.
public final class Gather<Value> {
    private var values: [Value?]
    private var remaining: Int
    private let done: ([Value]) -> Void

    /// With `count` 0, `done` runs at once with nothing.
    public init(count: Int, done: @escaping ([Value]) -> Void) {
        values = Array(repeating: nil, count: count)
        remaining = count
        self.done = done
        if count == 0 { done([]) }
    }

    /// The answer at `index`; each index answers once.
    public func arrived(_ value: Value, at index: Int) {
        precondition(values[index] == nil, "answer \(index) arrived twice")
        values[index] = value
        remaining -= 1
        if remaining == 0 { done(values.map { $0! }) }
    }
}
