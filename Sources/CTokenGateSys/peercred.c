// SO_PEERCRED needs _GNU_SOURCE for struct ucred, which Swift's Glibc module does not expose.
#define _GNU_SOURCE
#include <sys/socket.h>
#include "CTokenGateSys.h"

int tokengate_peer_credentials(int fd, pid_t *pid, uid_t *uid, gid_t *gid) {
    struct ucred cred;
    socklen_t len = sizeof(cred);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -1;
    *pid = cred.pid;
    *uid = cred.uid;
    *gid = cred.gid;
    return 0;
}
