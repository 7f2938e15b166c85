/* The network device back end: a Linux tap interface. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "monitor/devices.h"

int net_open(struct device *d, char *err, size_t errlen)
{
    if (strlen(d->path) >= IFNAMSIZ) {
        snprintf(err, errlen, "net device '%s': tap name '%s' is too long", d->name, d->path);
        return -1;
    }
    d->fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (d->fd < 0) {
        snprintf(err, errlen, "net device '%s': cannot open /dev/net/tun: %s", d->name,
                strerror(errno));
        return -1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    memcpy(ifr.ifr_name, d->path, strlen(d->path));
    if (ioctl(d->fd, TUNSETIFF, &ifr) < 0) {
        snprintf(err, errlen, "net device '%s': cannot attach to tap '%s': %s", d->name, d->path,
                strerror(errno));
        close(d->fd);
        d->fd = -1;
        return -1;
    }
    /* The guest is told the tap's MTU (as solo5-hvt does), read once here. */
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memset(&ifr, 0, sizeof(ifr));
    memcpy(ifr.ifr_name, d->path, strlen(d->path));
    if (s < 0 || ioctl(s, SIOCGIFMTU, &ifr) < 0) {
        snprintf(err, errlen, "net device '%s': cannot read the MTU of tap '%s': %s", d->name,
                d->path, strerror(errno));
        if (s >= 0)
            close(s);
        close(d->fd);
        d->fd = -1;
        return -1;
    }
    if (ifr.ifr_mtu < 68 || ifr.ifr_mtu > UKVM_NET_MTU_MAX) {
        snprintf(err, errlen, "net device '%s': tap '%s' has MTU %d, outside 68..%d", d->name,
                d->path, ifr.ifr_mtu, UKVM_NET_MTU_MAX);
        if (s >= 0)
            close(s);
        close(d->fd);
        d->fd = -1;
        return -1;
    }
    close(s);
    d->mtu = (uint16_t)ifr.ifr_mtu;
    return 0;
}

long net_read_frame(struct device *d, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = read(d->fd, buf, len);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -1;
    }
}

int net_write_frame(struct device *d, const void *buf, size_t len)
{
    for (;;) {
        ssize_t n = write(d->fd, buf, len);
        if (n >= 0)
            return (size_t)n == len ? 0 : -1;
        if (errno != EINTR)
            return -1;
    }
}
