// Domain rules a decoded message must meet beyond the wire format, in one place: the generated
// decoders (Generated/Wire.generated.swift) call `checkRules()` after copying a message whose
// entry in scripts/gen-swift.py's option table says `rules`. UTF-8, embedded NUL, unknown enum
// numbers and missing required messages are checked by the generated code itself; what is here
// needs the domain's vocabulary (Validation, MonthKey, ...). A rule reports the field it
// refuses, so the error names its path (`month_aggregate.period is invalid: ...`).
//
// Buffer ownership: these run on Swift values only, after protobuf-c's tree was copied.

import TokenGateCore

extension MonthAggregateRecord {
    /// A month's aggregate names its month as "YYYY-MM"; a damaged one is DATA_LOSS at replay,
    /// not a trap later.
    func checkRules() throws(FieldError) {
        _ = try month()
    }

    /// The period as a month.
    func month() throws(FieldError) -> MonthKey {
        do throws(TokenGateError) {
            return try MonthKey(parsing: period)
        } catch {
            throw FieldError(field: "period", problem: .invalid(error.message))
        }
    }
}
