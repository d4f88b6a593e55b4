// A few lines of C for what Swift's Glibc module does not show: SO_PEERCRED's struct ucred.
#ifndef CTOKENGATESYS_H
#define CTOKENGATESYS_H
#include <sys/types.h>

/// Reads the peer's credentials of a connected Unix socket. Returns 0, or -1 with errno set.
int tokengate_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid);

/// Returns freed heap memory to the kernel (glibc malloc_trim(0)). Returns 1 when some was.
int tokengate_release_free_memory(void);

#endif
