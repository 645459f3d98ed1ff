build2/obj/relay/udp.o: relay/udp.c relay/relay_int.h common/buf.h \
 common/hist.h common/hostport.h relay/lineproto.h common/precision.h \
 relay/relay.h wal/wal.h /usr/share/include/llhttp/llhttp.h \
 relay/stream.h common/err.h common/log.h common/xalloc.h
relay/relay_int.h:
common/buf.h:
common/hist.h:
common/hostport.h:
relay/lineproto.h:
common/precision.h:
relay/relay.h:
wal/wal.h:
/usr/share/include/llhttp/llhttp.h:
relay/stream.h:
common/err.h:
common/log.h:
common/xalloc.h:
