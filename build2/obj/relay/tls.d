build2/obj/relay/tls.o: relay/tls.c relay/tls.h relay/relay.h \
 common/hist.h common/buf.h wal/wal.h common/err.h common/xalloc.h
relay/tls.h:
relay/relay.h:
common/hist.h:
common/buf.h:
wal/wal.h:
common/err.h:
common/xalloc.h:
