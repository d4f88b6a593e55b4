// Interned strings of one shop, and the open-addressing hash tables the compact event store is
// built from. A shop's events repeat a few user ids, conversation ids, operation types and
// models; storing each distinct string once in a byte arena and a 4-byte index per event costs
// a fraction of a Swift String per field per event (16 bytes inline plus a heap allocation
// above 15 bytes), which is most of what 10M events in memory cost (issue 6).

/// Open addressing with linear probing over 4-byte slots: 0 is empty, `n + 1` names entry `n`.
/// The owner hashes and compares entries; this type only finds slots. Never shrinks, never
/// deletes (a store that forgets entries rebuilds its table). Lookups take the comparison as a
/// closure; the owners' hot insert paths probe `slots` themselves (a closure capturing the
/// owner cost a fifth of replay time in retains and releases).
struct SlotTable: Sendable {
    /// Why 3/4: linear probing stays at a couple of probes per lookup, and one table slot
    /// (4 bytes) per 0.75 entries is well under what a Dictionary of Strings costs.
    static let loadNumerator = 3
    static let loadDenominator = 4
    /// The smallest table: a shop with one event needs no more.
    static let capacityMin = 8

    private(set) var slots: [UInt32] = []
    /// Eight more bits of each filled slot's hash: a probe compares an entry only when its tag
    /// matches, so looking up a new id reads the owner's records about once instead of once per
    /// probe (each a cache miss when replay visits shops in turn).
    private var tags: [UInt8] = []
    private(set) var count = 0

    private static func tag(_ hash: Int) -> UInt8 { UInt8(truncatingIfNeeded: UInt(bitPattern: hash) >> 56) }

    /// Whether one more entry would pass the load limit (then `resize` before inserting).
    var isFull: Bool { (count + 1) * Self.loadDenominator > slots.count * Self.loadNumerator }

    /// Empties the table and gives it room for `entries` entries and the next one.
    mutating func reset(forEntries entries: Int) {
        var capacity = Self.capacityMin
        while (entries + 1) * Self.loadDenominator > capacity * Self.loadNumerator { capacity *= 2 }
        slots = [UInt32](repeating: 0, count: capacity)
        tags = [UInt8](repeating: 0, count: capacity)
        count = 0
    }

    /// The entry whose hash is `hash` and for which `matches` holds, if any.
    func find(hash: Int, _ matches: (Int) -> Bool) -> Int? {
        guard !slots.isEmpty else { return nil }
        let mask = slots.count - 1
        let tag = Self.tag(hash)
        var slot = hash & mask
        while slots[slot] != 0 {
            if tags[slot] == tag {
                let entry = Int(slots[slot] - 1)
                if matches(entry) { return entry }
            }
            slot = (slot + 1) & mask
        }
        return nil
    }

    /// Files `entry` under `hash` in the first empty slot; the caller knows it is absent and
    /// that the table is not full.
    mutating func insert(_ entry: Int, hash: Int) {
        precondition(entry < Int(UInt32.max), "a slot table holds at most \(UInt32.max - 1) entries")
        precondition(!slots.isEmpty && count < slots.count, "insert into a full slot table")
        let mask = slots.count - 1
        var slot = hash & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = UInt32(entry + 1)
        tags[slot] = Self.tag(hash)
        count += 1
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

    /// The index of `string`, storing it first when it is new. `hint` is a likely index (the
    /// same field of the shop's previous event): checked first, it skips hashing and probing
    /// for the operation type, model and user that repeat from event to event.
    mutating func intern(_ string: String, hint: UInt32? = nil) -> UInt32 {
        intern(string.utf8.span, hint: hint)
    }

    /// The index of the string whose UTF-8 bytes are `utf8`, storing it first when it is new.
    mutating func intern(_ utf8: Span<UInt8>, hint: UInt32? = nil) -> UInt32 {
        if let hint, Int(hint) < ends.count, ByteHash.equal(bytes.span, range(Int(hint)), utf8) { return hint }
        let hash = ByteHash.hash(utf8)
        if let found = index.find(hash: hash, { ByteHash.equal(bytes.span, range($0), utf8) }) {
            return UInt32(found)
        }
        let newEntry = ends.count
        for offset in utf8.indices { bytes.append(utf8[offset]) }
        precondition(bytes.count <= Int(UInt32.max), "a shop's string table is limited to 4 GiB")
        ends.append(UInt32(bytes.count))
        if index.isFull {
            index.reset(forEntries: ends.count)
            for entry in 0..<ends.count { index.insert(entry, hash: ByteHash.hash(bytes.span.extracting(range(entry)))) }
        } else {
            index.insert(newEntry, hash: hash)
        }
        return UInt32(newEntry)
    }

    /// The string stored at `index`.
    func string(_ index: UInt32) -> String {
        String(decoding: bytes[range(Int(index))], as: UTF8.self)
    }

    private func range(_ entry: Int) -> Range<Int> {
        (entry == 0 ? 0 : Int(ends[entry - 1]))..<Int(ends[entry])
    }

    /// The hash of a string's UTF-8 bytes (not of its Unicode meaning: the table keeps bytes).
    static func hash(_ string: String) -> Int {
        ByteHash.hash(string.utf8.span)
    }
}

/// A fast hash of bytes for the tables above, seeded per process from Swift's random hashing
/// seed, so a peer cannot choose ids that collide. SipHash (Hasher) over every event id and
/// interned string was a tenth of replay time; this mixes 8 bytes per multiply.
enum ByteHash {
    static let seed: UInt64 = {
        var hasher = Hasher()
        hasher.combine(0x7465_6e67_6174_65 as UInt64)
        return UInt64(bitPattern: Int64(hasher.finalize()))
    }()
    private static let multiplier: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// The hash of `bytes`.
    static func hash(_ bytes: Span<UInt8>) -> Int {
        var state = seed ^ UInt64(bytes.count) &* multiplier
        var index = 0
        let count = bytes.count
        while count - index >= 8 {
            var word: UInt64 = 0
            for offset in 0..<8 { word |= UInt64(bytes[index + offset]) << UInt64(offset * 8) }
            state = mix(state ^ word)
            index += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while index < count {
            tail |= UInt64(bytes[index]) << shift
            shift += 8
            index += 1
        }
        return Int(truncatingIfNeeded: finish(mix(state ^ tail)))
    }

    /// The hash of two words (a packed event id).
    static func hash(_ high: UInt64, _ low: UInt64) -> Int {
        Int(truncatingIfNeeded: finish(mix(mix(seed ^ high) ^ low)))
    }

    private static func mix(_ value: UInt64) -> UInt64 {
        let product = value.multipliedFullWidth(by: multiplier)
        return product.high ^ product.low
    }

    /// MurmurHash3's finaliser: every input bit reaches the low bits the tables mask with.
    private static func finish(_ value: UInt64) -> UInt64 {
        var value = value
        value ^= value >> 33
        value &*= 0xFF51_AFD7_ED55_8CCD
        value ^= value >> 33
        value &*= 0xC4CE_B9FE_1A85_EC53
        value ^= value >> 33
        return value
    }

    /// Whether `arena[range]` holds exactly `bytes`. Both sides as spans of one length, so the
    /// loop checks no bounds per byte.
    static func equal(_ arena: Span<UInt8>, _ range: Range<Int>, _ bytes: Span<UInt8>) -> Bool {
        guard range.count == bytes.count else { return false }
        let stored = arena.extracting(range)
        var differ: UInt8 = 0
        for index in 0..<min(stored.count, bytes.count) { differ |= stored[index] ^ bytes[index] }
        return differ == 0
    }
}
