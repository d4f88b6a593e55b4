// Interned strings of one shop, and the open-addressing hash tables the compact event store is
// built from. A shop's events repeat a few user ids, conversation ids, operation types and
// models; storing each distinct string once in a byte arena and a 4-byte index per event costs
// a fraction of a Swift String per field per event (16 bytes inline plus a heap allocation
// above 15 bytes), which is most of what 10M events in memory cost (issue 6).

/// Open addressing with linear probing over 4-byte slots: 0 is empty, `n + 1` names entry `n`.
/// The owner hashes and compares entries; this type only finds slots. Never shrinks, never
/// deletes (a store that forgets entries rebuilds its table).
struct SlotTable: Sendable {
    /// Why 3/4: linear probing stays at a couple of probes per lookup, and one table slot
    /// (4 bytes) per 0.75 entries is well under what a Dictionary of Strings costs.
    static let loadNumerator = 3
    static let loadDenominator = 4
    /// The smallest table: a shop with one event needs no more.
    static let capacityMin = 8

    private(set) var slots: [UInt32] = []
    private(set) var count = 0

    /// The slot to look at first for `hash`, and the mask to step with.
    private func start(_ hash: Int) -> (Int, Int) {
        let mask = slots.count - 1
        return (hash & mask, mask)
    }

    /// The entry whose hash is `hash` and for which `matches` holds, if any.
    func find(hash: Int, _ matches: (Int) -> Bool) -> Int? {
        guard !slots.isEmpty else { return nil }
        var (slot, mask) = start(hash)
        while slots[slot] != 0 {
            let entry = Int(slots[slot] - 1)
            if matches(entry) { return entry }
            slot = (slot + 1) & mask
        }
        return nil
    }

    /// Finds the entry like `find`; when there is none, records `newEntry` under `hash` and
    /// returns nil. `rehash` gives the hash of an existing entry when the table grows.
    mutating func findOrInsert(
        hash: Int, newEntry: Int, rehash: (Int) -> Int, _ matches: (Int) -> Bool
    ) -> Int? {
        precondition(newEntry < Int(UInt32.max), "a slot table holds at most \(UInt32.max - 1) entries")
        if (count + 1) * Self.loadDenominator > slots.count * Self.loadNumerator { grow(rehash) }
        var (slot, mask) = start(hash)
        while slots[slot] != 0 {
            let entry = Int(slots[slot] - 1)
            if matches(entry) { return entry }
            slot = (slot + 1) & mask
        }
        slots[slot] = UInt32(newEntry + 1)
        count += 1
        return nil
    }

    /// Doubles the table and places every entry again.
    private mutating func grow(_ rehash: (Int) -> Int) {
        let old = slots
        slots = [UInt32](repeating: 0, count: max(Self.capacityMin, old.count * 2))
        let mask = slots.count - 1
        for value in old where value != 0 {
            var slot = rehash(Int(value - 1)) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = value
        }
    }
}

/// The distinct strings of one shop's events, each stored once as UTF-8 in one byte arena and
/// named by a 4-byte index. `string(intern(s)) == s` for every string, the empty one included.
struct StringTable: Sendable {
    private var bytes: [UInt8] = []
    /// End offset in `bytes` of each entry; an entry starts where the previous one ends.
    private var ends: [UInt32] = []
    private var index = SlotTable()

    /// Distinct strings stored.
    var count: Int { ends.count }

    /// The index of `string`, storing it first when it is new.
    mutating func intern(_ string: String) -> UInt32 {
        let newEntry = ends.count
        // The table is moved out while it changes, so the closures may read the entries (and
        // the table's storage stays uniquely referenced: no copy).
        var table = index
        index = SlotTable()
        let found = table.findOrInsert(
            hash: Self.hash(string), newEntry: newEntry, rehash: { Self.hash(self.string(UInt32($0))) },
            { self.entryEquals($0, string) })
        index = table
        if let found { return UInt32(found) }
        bytes.append(contentsOf: string.utf8)
        precondition(bytes.count <= Int(UInt32.max), "a shop's string table is limited to 4 GiB")
        ends.append(UInt32(bytes.count))
        return UInt32(newEntry)
    }

    /// The string stored at `index`.
    func string(_ index: UInt32) -> String {
        String(decoding: bytes[range(Int(index))], as: UTF8.self)
    }

    private func range(_ entry: Int) -> Range<Int> {
        (entry == 0 ? 0 : Int(ends[entry - 1]))..<Int(ends[entry])
    }

    private func entryEquals(_ entry: Int, _ string: String) -> Bool {
        let range = range(entry)
        return range.count == string.utf8.count && bytes[range].elementsEqual(string.utf8)
    }

    /// The process-seeded hash Dictionary uses, so a peer cannot choose colliding strings.
    static func hash(_ string: String) -> Int {
        var hasher = Hasher()
        hasher.combine(string)
        return hasher.finalize()
    }
}
