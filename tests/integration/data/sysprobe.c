/* Calls the system calls named on its command line and prints "NAME ok" or "NAME <errno name>" for
 * each: the busybox image has no applet for them. Built static by test_least_privilege.py. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long probe(const char *name) {
    if (!strcmp(name, "keyctl")) /* KEYCTL_GET_KEYRING_ID of the session keyring, creating none */
        return syscall(SYS_keyctl, 0, -3, 0);
    if (!strcmp(name, "add_key"))
        return syscall(SYS_add_key, "user", "probe", "x", 1, -3);
    if (!strcmp(name, "request_key"))
        return syscall(SYS_request_key, "user", "probe-missing", NULL, 0);
    if (!strcmp(name, "open_by_handle_at")) {
        unsigned char handle[16] = {8, 0, 0, 0, 1, 0, 0, 0};
        return syscall(SYS_open_by_handle_at, AT_FDCWD, handle, O_RDONLY);
    }
    if (!strcmp(name, "kexec_load"))
        return syscall(SYS_kexec_load, 0, 0, NULL, 0);
    if (!strcmp(name, "getpid"))
        return syscall(SYS_getpid);
    errno = ENOSYS;
    return -1;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        long r = probe(argv[i]);
        if (r >= 0)
            printf("%s ok\n", argv[i]);
        else
            printf("%s %s\n", argv[i], errno == EPERM ? "EPERM" : strerror(errno));
    }
    return 0;
}
