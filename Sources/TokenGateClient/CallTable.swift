// The calls in flight on one connection, by call id. A connection numbers its calls 1, 2, 3...,
// so the id's low bits spread the calls over the slots with no hashing; Dictionary's SipHash
// cost about 450 instructions per call here (one insert, two lookups, one removal). Open
// addressing with linear probing; removal shifts later entries of the run back (no tombstones).

struct CallTable<Value> {
    private var slots: [(id: UInt64, value: Value)?]
    private(set) var count = 0

    /// Room for `capacity` calls before the first growth (rounded up to a power of two).
    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size *= 2 }
        slots = Array(repeating: nil, count: size)
    }

    var isEmpty: Bool { count == 0 }

    private var mask: Int { slots.count - 1 }

    /// The slot holding `id`, or nil.
    private func slot(of id: UInt64) -> Int? {
        var index = Int(truncatingIfNeeded: id) & mask
        while let entry = slots[index] {
            if entry.id == id { return index }
            index = (index + 1) & mask
        }
        return nil
    }

    subscript(id: UInt64) -> Value? {
        get { slot(of: id).map { slots[$0]!.value } }
        set {
            if let newValue {
                insert(id, newValue)
            } else {
                removeValue(forKey: id)
            }
        }
    }

    /// Changes the value of an entry in place; false when `id` is not in the table.
    @discardableResult
    mutating func update(_ id: UInt64, _ body: (inout Value) -> Void) -> Bool {
        guard let index = slot(of: id) else { return false }
        body(&slots[index]!.value)
        return true
    }

    private mutating func insert(_ id: UInt64, _ value: Value) {
        if let index = slot(of: id) {
            slots[index]!.value = value
            return
        }
        if (count + 1) * 2 > slots.count { grow() }
        var index = Int(truncatingIfNeeded: id) & mask
        while slots[index] != nil { index = (index + 1) & mask }
        slots[index] = (id, value)
        count += 1
    }

    @discardableResult
    mutating func removeValue(forKey id: UInt64) -> Value? {
        guard var hole = slot(of: id) else { return nil }
        let removed = slots[hole]!.value
        slots[hole] = nil
        count -= 1
        // Every entry after the hole in the same run moves back into it unless its home slot
        // lies (cyclically) after the hole, so lookups never meet a gap before their entry.
        var index = (hole + 1) & mask
        while let entry = slots[index] {
            let home = Int(truncatingIfNeeded: entry.id) & mask
            let distanceToHome = (index - home) & mask
            let distanceToHole = (index - hole) & mask
            if distanceToHome >= distanceToHole {
                slots[hole] = entry
                slots[index] = nil
                hole = index
            }
            index = (index + 1) & mask
        }
        return removed
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: nil, count: old.count * 2)
        count = 0
        for case let (id, value)? in old { insert(id, value) }
    }

    /// Every entry, in no particular order.
    var entries: [(id: UInt64, value: Value)] { slots.compactMap { $0 } }

    /// Empties the table, keeping its size.
    mutating func removeAll() {
        for index in slots.indices { slots[index] = nil }
        count = 0
    }
}

extension CallTable: Sendable where Value: Sendable {}
