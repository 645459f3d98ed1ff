/* Listen addresses: "IPV4:PORT" or "[IPV6]:PORT". Pure; any thread. */
#ifndef IWR_HOSTPORT_H
#define IWR_HOSTPORT_H

#include <stddef.h>

/* Parse 's': port 0..65535 (0: the kernel picks); hosts must be IP addresses, nothing is
 * resolved. 'host' gets the address without brackets (may be NULL, with host_cap 0, to only
 * check); 'port' may be NULL. 0, or IWR_EPARSE with *why (when 'why' is not NULL) set to a
 * static phrase that completes "ADDR ...", e.g. "has a bad port; use 0 to 65535". */
int hostport_parse(const char *s, char *host, size_t host_cap, int *port, const char **why);

#endif
