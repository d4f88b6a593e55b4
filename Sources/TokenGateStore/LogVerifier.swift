// The offline check behind `tokengate wal verify`: walks a log directory read-only with the
// same scanner recovery uses and reports how many records verify, their sequence range, and
// the first problem with its file and byte offset. It never modifies anything.

/// Offline verification of a write-ahead log directory.
public enum LogVerifier {
    /// Checks every segment of `directory`. A torn last record, which startup truncates by
    /// itself, and a sequence jump between segments, which is harmless when a snapshot covers
    /// it, are warnings; anything else is the report's `problem`.
    public static func verify(
        directory: String, fileSystem: any FileSystem, recordBytesMax: Int = StoreLimits.defaultRecordBytesMax
    ) -> VerifyReport {
        var report = VerifyReport()
        let segments: [Segment]
        do throws(SystemError) {
            segments = try fileSystem.list(directory)
                .compactMap { LogFormat.parseSegmentName($0).map(Segment.init(firstSequence:)) }
                .sorted { $0.firstSequence < $1.firstSequence }
        } catch {
            report.problem = error.description
            return report
        }
        var next: UInt64?
        for (index, segment) in segments.enumerated() {
            if let next, segment.firstSequence != next {
                guard segment.firstSequence > next else {
                    report.problem =
                        "\(segment.name) at byte 0: starts at sequence \(segment.firstSequence) "
                        + "but the previous segment ends at \(next - 1)"
                    return report
                }
                report.warnings.append(
                    "sequence jumps from \(next - 1) to \(segment.firstSequence) at \(segment.name); "
                        + "harmless only if a snapshot covers the missing records")
            }
            let bytes: [UInt8]
            do throws(SystemError) {
                bytes = try fileSystem.readAll(Snapshot.join(directory, segment.name))
            } catch {
                report.problem = error.description
                return report
            }
            let scan = LogFormat.scan(bytes, firstSequence: segment.firstSequence, recordBytesMax: recordBytesMax) {
                sequence, _ in
                report.records += 1
                if report.firstSequence == nil { report.firstSequence = sequence }
                report.lastSequence = sequence
            }
            next = segment.firstSequence + UInt64(scan.records)
            guard let problem = scan.problem else { continue }
            let location = "\(segment.name) at byte \(problem.offset): \(problem.reason)"
            if index == segments.count - 1 && problem.couldBeTorn {
                report.warnings.append("torn last record: \(location); startup truncates it")
            } else {
                report.problem = location
            }
            return report
        }
        return report
    }
}
