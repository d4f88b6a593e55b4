// The daemon's one way out on a fatal error (a failed fdatasync, an accept loop that stopped, a
// startup failure). Several threads may hit a fatal error at once (every connection whose batch
// was with a failed log); `exit` from several threads runs the atexit handlers and static
// destructors concurrently with the threads still running, which can crash or hang instead of
// exiting. Here the first caller logs and calls `_exit(1)`; any other caller waits for it.
import Glibc
import Synchronization

public enum FatalExit {
    private static let taken = Atomic<Bool>(false)

    /// Logs `message` once and ends the process with status 1, from any thread, at once.
    public static func exit(_ message: String, logger: Logger) -> Never {
        if taken.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged {
            logger.error(message)
            _exit(1)
        }
        // Another thread is exiting; this one waits for the process to end.
        while true { pause() }
    }
}
